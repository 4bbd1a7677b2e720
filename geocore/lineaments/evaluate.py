"""The paper's validation protocol: fresh synthetic grids, pixel and axis metrics.

``geocore lineaments evaluate`` draws ``n_grids`` new 192 x 192 grids with
6-10 dykes each (seeds never used in training), predicts them, and reports
pixel accuracy, IoU and F1 of the lineament class, and axis agreement: the
share of true-axis length within 2 cells of a predicted axis (recall) and of
predicted-axis length within 2 cells of a true axis (precision). Counts are
summed over all grids before dividing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import numpy as np

from ..magnetics.synthetic import SurveyConfig, synthesize_sample
from ..models.network import load_model, resolve_device
from ..models.normalize import normalize
from ..progress import Progress
from .metrics import axis_agreement, rasterize_axes, scores_from_counts


def predict_array(model, card, field: np.ndarray, device: str = "cpu") -> np.ndarray:
    """Probability map of a grid no larger than memory, in one forward pass.

    The grid is normalised as the card says and reflect-padded to a multiple
    of 32; use :func:`geocore.inference.predict_raster` for rasters of any size.
    """
    import torch

    x = normalize(field, card.normalization)
    rows, cols = field.shape
    pr, pc = (-rows) % 32, (-cols) % 32
    if pr or pc:
        x = np.pad(x, ((0, 0), (0, pr), (0, pc)), mode="reflect")
    with torch.inference_mode():
        logits = model(torch.from_numpy(x[None]).to(device))
    prob = torch.sigmoid(logits)[0, 0].cpu().numpy()[:rows, :cols]
    return prob


def predicted_axes(prob: np.ndarray, threshold: float = 0.5, min_size: int = 5) -> np.ndarray:
    """One-cell-wide axes of a probability map: threshold, then skeleton.

    Skeleton pieces smaller than ``min_size`` cells are dropped.
    """
    from skimage.morphology import remove_small_objects, skeletonize

    skel = skeletonize(prob > threshold)
    if min_size > 1 and skel.any():
        skel = remove_small_objects(skel, max_size=min_size - 1, connectivity=2)
    return skel


def evaluate_model(model_path: Optional[Path] = None, *, n_grids: int = 100, min_dykes: int = 6,
                   max_dykes: int = 10, seed: int = 90210, preset: str = "paper", threshold: float = 0.5,
                   tolerance: float = 2.0, size: Optional[int] = None, cell_size: float = 50.0,
                   device: str = "auto", progress=None, cancel=None) -> dict:
    """Score a model on fresh synthetic grids (the paper's validation protocol).

    Parameters
    ----------
    model_path : path or None
        Model file; None uses the shipped model.
    n_grids : int
        Number of grids (paper: 100).
    min_dykes, max_dykes : int
        Dykes per grid (paper's validation set: 6 to 10).
    seed : int
        Seed of the validation grids; grid ``i`` uses ``(seed, i)``.
    preset : str
        ``"paper"`` or ``"realistic"`` generator.
    threshold : float
        Probability above which a cell is called a lineament.
    tolerance : float
        Axis agreement distance in cells.
    size : int or None
        Grid edge in cells (default: the model's tile size).

    Returns
    -------
    dict
        ``pixel_accuracy``, ``iou``, ``f1``, ``precision``, ``recall`` (pixels),
        ``axis_recall``, ``axis_precision`` and the number of grids.
    """
    if model_path is None:
        from .detect import default_model_path

        model_path = default_model_path()
    dev = resolve_device(device)
    model, card = load_model(model_path, device=dev)
    size = size or card.tile_size
    cfg = SurveyConfig.from_preset(preset).with_dykes(min_dykes, max_dykes)
    prog = Progress.wrap(progress, cancel)
    pix = dict(tp=0, fp=0, fn=0, tn=0)
    ax = dict(true_hit=0, n_true=0, pred_hit=0, n_pred=0)
    for i in range(n_grids):
        s = synthesize_sample(np.random.default_rng([seed, i]), size, size, cell_size, cfg)
        prob = predict_array(model, card, s.field, dev)
        pred = prob > threshold
        truth = s.mask.astype(bool)
        pix["tp"] += int(np.sum(pred & truth))
        pix["fp"] += int(np.sum(pred & ~truth))
        pix["fn"] += int(np.sum(~pred & truth))
        pix["tn"] += int(np.sum(~pred & ~truth))
        a = axis_agreement(predicted_axes(prob, threshold), rasterize_axes(s.axes_pixels(), prob.shape), tolerance)
        for k in ax:
            ax[k] += a[k]
        prog.update((i + 1) / n_grids)
    out = scores_from_counts(pix)
    out = {k: out[k] for k in ("pixel_accuracy", "iou", "f1", "precision", "recall")}
    out["axis_recall"] = ax["true_hit"] / ax["n_true"] if ax["n_true"] else float("nan")
    out["axis_precision"] = ax["pred_hit"] / ax["n_pred"] if ax["n_pred"] else float("nan")
    out["grids"] = n_grids
    out["preset"] = preset
    out["dykes"] = f"{min_dykes}-{max_dykes}"
    out["threshold"] = threshold
    out["tolerance_cells"] = tolerance
    return out
