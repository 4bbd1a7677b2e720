"""Fine-tune a lineament model on a real survey where an interpreter drew lines.

An interpreter draws lineaments over part of a survey; the model learns from
them and detects over the rest. Expert maps are incomplete (an unmapped dyke
is not a non-dyke), so the labels are built with that in mind:

* cells within ``positive_cells`` of an expert line are positives (weight 1);
* cells between that and ``negative_cells`` are ignored (the line's exact
  position is uncertain by a cell or two);
* cells farther than ``negative_cells`` from every line, inside the
  interpreted area, are *uncertain negatives* with the small weight
  ``negative_weight``;
* cells outside the interpreted area (``area`` polygons; default the whole
  grid) and nodata cells carry no weight at all.

Lines are thin, so positives are a few per cent of the weighted cells: their
weight is raised until positives and uncertain negatives weigh alike in total
(at most ``max_positive_weight`` times), or the model learns to say "no line"
everywhere.

Synthetic samples of the ``survey`` preset are mixed into every batch
(``synthetic_share``) so the model does not forget what a dyke is elsewhere.
Real samples are random crops of the normalised grid with the 8 rotations
and reflections (a rotated survey is another possible survey: the synthetic
training data has random declinations).
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import GeocoreError
from ..progress import Progress


@dataclass
class FinetuneConfig:
    """A fine-tuning run (lengths in grid cells).

    Attributes
    ----------
    out : Path
        Model file to write (``.safetensors``; the card goes beside it).
    init : Path or None
        Model to start from (None: the shipped one).
    steps : int
        Optimiser steps.
    batch_size : int
        Samples per step (real and synthetic together).
    crop : int
        Edge of the training crops, cells (multiple of 32).
    lr : float
        Adam learning rate (cosine decay to 5 %).
    synthetic_share : float
        Share of each batch made of synthetic samples, in [0, 1).
    synthetic_samples : int
        Synthetic samples generated for the run.
    positive_cells, negative_cells : float
        Distances from the expert lines (cells) within which a cell is a
        positive, and beyond which it is an uncertain negative.
    negative_weight : float
        Loss weight of the uncertain negatives, in (0, 1].
    max_positive_weight : float
        Largest factor on the positives' weight (class balance).
    seed : int
    device : str
    max_minutes : float or None
    """

    out: Path = Path("finetuned.safetensors")
    init: Optional[Path] = None
    steps: int = 300
    batch_size: int = 8
    crop: int = 96
    lr: float = 1e-4
    synthetic_share: float = 0.5
    synthetic_samples: int = 200
    positive_cells: float = 1.0
    negative_cells: float = 4.0
    negative_weight: float = 0.2
    max_positive_weight: float = 20.0
    seed: int = 0
    device: str = "auto"
    max_minutes: Optional[float] = None

    def check(self) -> None:
        """Raise GeocoreError naming the option that cannot work."""
        if self.steps < 1 or self.batch_size < 1:
            raise GeocoreError("steps and batch size must be at least 1")
        if self.crop < 32 or self.crop % 32:
            raise GeocoreError(f"crop {self.crop} must be a multiple of 32 (the U-Net halves it 5 times)")
        if not (np.isfinite(self.lr) and self.lr > 0):
            raise GeocoreError(f"learning rate {self.lr} must be positive, e.g. 1e-4")
        if not 0.0 <= self.synthetic_share < 1.0:
            raise GeocoreError(f"synthetic share {self.synthetic_share} must be in [0, 1) (real samples are needed)")
        if self.synthetic_share > 0 and self.synthetic_samples < 1:
            raise GeocoreError("a synthetic share needs at least one synthetic sample")
        if not (0 < self.positive_cells < self.negative_cells):
            raise GeocoreError(f"distances must satisfy 0 < positive ({self.positive_cells}) < negative "
                               f"({self.negative_cells}) cells")
        if not 0.0 < self.negative_weight <= 1.0:
            raise GeocoreError(f"negative weight {self.negative_weight} must be in (0, 1]")
        if self.max_minutes is not None and not self.max_minutes > 0:
            raise GeocoreError(f"time limit {self.max_minutes} must be positive minutes")
        out = Path(self.out)
        if out.is_dir():
            raise GeocoreError(f"output model '{out}' is a folder; give a .safetensors file path")


def label_rasters(grid, expert, area=None, *, positive_cells: float = 1.0, negative_cells: float = 4.0,
                  negative_weight: float = 0.2) -> tuple[np.ndarray, np.ndarray]:
    """Targets and loss weights on the grid's cells from expert lines.

    Parameters
    ----------
    grid : geocore.grids.Grid
    expert : GeoDataFrame
        Expert lines (reprojected to the grid's CRS here).
    area : GeoDataFrame or None
        Polygons where the interpretation was done (None: the whole grid).
    positive_cells, negative_cells, negative_weight : float
        See the module notes.

    Returns
    -------
    target, weight : ndarray (rows, cols), float32
    """
    from rasterio.features import rasterize
    from scipy import ndimage

    rows, cols = grid.shape
    lines = expert.to_crs(grid.crs) if grid.crs is not None and expert.crs is not None else expert
    geoms = [g for g in lines.geometry if g is not None and not g.is_empty]
    if not geoms:
        raise GeocoreError("the expert layer has no lines over the grid; draw lines or pick another layer")
    # densify so that every cell a line passes through is burnt in (all_touched)
    burnt = rasterize([(g, 1) for g in geoms], out_shape=(rows, cols), transform=grid.transform,
                      all_touched=True, dtype="uint8")
    if not burnt.any():
        raise GeocoreError("no expert line crosses the grid; check that both are in the same area and CRS")
    dist = ndimage.distance_transform_edt(burnt == 0)
    target = (dist <= positive_cells).astype(np.float32)
    weight = np.where(dist <= positive_cells, 1.0, np.where(dist > negative_cells, negative_weight, 0.0))
    if area is not None:
        polys = area.to_crs(grid.crs) if grid.crs is not None and area.crs is not None else area
        inside = rasterize([(g, 1) for g in polys.geometry if g is not None and not g.is_empty],
                           out_shape=(rows, cols), transform=grid.transform, dtype="uint8")
        if not inside.any():
            raise GeocoreError("the interpreted-area polygons do not cover the grid; check their CRS and extent")
        weight = np.where(inside > 0, weight, 0.0)
    weight = np.where(np.isfinite(grid.data), weight, 0.0).astype(np.float32)
    if not (weight * target).any():
        raise GeocoreError("no expert line lies inside the interpreted area; widen the area or add lines")
    return target, weight


def _crop_real(rng, x: np.ndarray, t: np.ndarray, w: np.ndarray, crop: int):
    """A random crop (padded where the grid is smaller, unweighted there), biased to hold labelled cells.

    The field is padded as tiled inference pads it (:func:`geocore.inference.tiled.pad_continued`).
    """
    from ..inference.tiled import pad_continued

    rows, cols = x.shape
    pr, pc = max(0, crop - rows), max(0, crop - cols)
    if pr or pc:
        pad = ((pr // 2, pr - pr // 2), (pc // 2, pc - pc // 2))
        x = pad_continued(x, pad)
        t = np.pad(t, pad, mode="reflect")
        w = np.pad(w, pad, mode="constant")
        rows, cols = x.shape
    for _ in range(20):
        r0, c0 = int(rng.integers(0, rows - crop + 1)), int(rng.integers(0, cols - crop + 1))
        ww = w[r0:r0 + crop, c0:c0 + crop]
        if ww.mean() > 0.05:
            break
    return x[r0:r0 + crop, c0:c0 + crop], t[r0:r0 + crop, c0:c0 + crop], w[r0:r0 + crop, c0:c0 + crop]


def _detect_scale(grid, card) -> float:
    """The resolution ``detect --scales auto`` runs ``card``'s model at on this grid."""
    from .scale import array_bandwidth, choose_scale

    return choose_scale(lambda m: array_bandwidth(grid.data, measure=m), card)[0]


def _at_scale(grid, scale: float):
    """``grid`` averaged to cells ``1 / scale`` times larger, or interpolated to cells ``scale`` times
    smaller (itself at scale 1), as detect does it."""
    if scale == 1.0:
        return grid
    from rasterio.enums import Resampling
    from rasterio.warp import reproject

    from ..grids.io import Grid

    from .scale import coarse_shape, refine_rows, refined_shape

    rows, cols = grid.shape
    if scale > 1.0:
        h, w = refined_shape(rows, cols, scale)
        fine = refine_rows(lambda r0, r1: grid.data[r0:r1], rows, cols, scale, 0, h)
        return Grid(data=fine, transform=grid.transform * grid.transform.scale(cols / w, rows / h), crs=grid.crs,
                    units=grid.units, source=grid.source)
    h, w = coarse_shape(rows, cols, scale)
    transform = grid.transform * grid.transform.scale(cols / w, rows / h)
    coarse = np.full((h, w), np.nan, np.float32)
    reproject(grid.data.astype(np.float32), coarse, src_transform=grid.transform, dst_transform=transform,
              src_crs=grid.crs, dst_crs=grid.crs, src_nodata=np.nan, dst_nodata=np.nan,
              resampling=Resampling.average)
    return Grid(data=coarse, transform=transform, crs=grid.crs, units=grid.units, source=grid.source)


def finetune_model(grid_path: str | os.PathLike, expert_path: str | os.PathLike, config: FinetuneConfig, *,
                   area_path: Optional[str | os.PathLike] = None, band: Optional[int] = None,
                   progress=None, cancel=None, log=None) -> Path:
    """Fine-tune a lineament model on a grid and an expert's lines; write the model and its card.

    Parameters
    ----------
    grid_path : path
        Total-field grid (any format :func:`geocore.grids.read_grid` reads), projected CRS.
    expert_path : path
        The interpreter's lines (any OGR vector, any CRS).
    config : FinetuneConfig
    area_path : path or None
        Polygons of the interpreted area (lines are taken as complete only
        there); default the whole grid.
    band : int or None
    progress, cancel : callables or Progress
    log : callable or None
        Receives a line every 10 % of the steps.

    Returns
    -------
    Path
        The ``.safetensors`` file (card beside it).
    """
    import torch

    from ..files import check_not_input, read_vector
    from ..grids.io import read_grid
    from ..models import load_model, resolve_device, save_model
    from ..models.normalize import normalize
    from ..models.training import model_file, out_of_time
    from ..raster.fill import fill_nearest
    from .dataset import dihedral, generate_arrays
    from .detect import check_projected, default_model_path
    from ..magnetics.synthetic import SurveyConfig

    config.check()
    prog = Progress.wrap(progress, cancel)
    log = log or (lambda s: None)
    out = model_file(config.out)
    init = Path(config.init) if config.init else default_model_path()
    check_not_input([out, out.with_suffix(".json")],
                    [p for p in (grid_path, expert_path, area_path, init, init.with_suffix(".json")) if p])
    grid = read_grid(grid_path, band=band)
    check_projected(grid.crs, grid_path)
    device = resolve_device(config.device)
    model, card = load_model(init, device=device)
    if card.task != "lineaments" or int(card.in_channels) != 1:
        raise GeocoreError(f"model '{init}' is not a one-band lineament model; give a geocore lineament model")
    scale = _detect_scale(grid, card)
    grid = _at_scale(grid, scale)  # taught at the resolution detect will run it at
    expert = read_vector(expert_path, "expert lines")
    area = read_vector(area_path, "interpreted area") if area_path is not None else None
    target, weight = label_rasters(grid, expert, area, positive_cells=config.positive_cells,
                                   negative_cells=config.negative_cells, negative_weight=config.negative_weight)
    pos, neg = float((weight * target).sum()), float((weight * (1 - target)).sum())
    balance = float(np.clip(neg / max(pos, 1e-9), 1.0, config.max_positive_weight))
    weight = np.where(target > 0, weight * balance, weight).astype(np.float32)
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    # as detect sees it: normalised over the cells with data, nodata given the nearest value
    x_real = fill_nearest(normalize(grid.data.astype(np.float32), card.normalization),
                          ~np.isfinite(grid.data))[0].astype(np.float32)
    prog.update(0.05)
    n_syn_batch = int(round(config.batch_size * config.synthetic_share))
    xs = ys = None
    survey = SurveyConfig.from_preset("survey")
    if n_syn_batch:
        xs, ys = generate_arrays(config.synthetic_samples, seed=config.seed + 1000, size=card.tile_size,
                                 cell_size=50.0, config=survey, normalization=card.normalization,
                                 progress=prog.sub(0.05, 0.25))
    prog.check()
    model.train()
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    crop = config.crop
    t0 = time.time()
    losses = []
    steps_done = 0
    for step in range(config.steps):
        prog.check()
        for g in opt.param_groups:
            g["lr"] = config.lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * step / config.steps)))
        bx, bt, bw = [], [], []
        for _ in range(config.batch_size - n_syn_batch):
            x, t, w = _crop_real(rng, x_real, target, weight, crop)
            bx.append(x), bt.append(t), bw.append(w)
        for _ in range(n_syn_batch):
            i = int(rng.integers(0, len(xs)))
            r0, c0 = rng.integers(0, card.tile_size - crop + 1, size=2)
            bx.append(xs[i, r0:r0 + crop, c0:c0 + crop].astype(np.float32))
            bt.append(ys[i, r0:r0 + crop, c0:c0 + crop].astype(np.float32))
            bw.append(np.ones((crop, crop), np.float32))
        ks = rng.integers(0, 8, size=len(bx))
        bx = [dihedral(x, t, int(k)) for x, t, k in zip(bx, bt, ks)]
        bw = [dihedral(w, w, int(k))[0] for w, k in zip(bw, ks)]
        x = torch.from_numpy(np.ascontiguousarray(np.stack([p[0] for p in bx]))[:, None]).to(device)
        t = torch.from_numpy(np.ascontiguousarray(np.stack([p[1] for p in bx]))[:, None]).to(device)
        w = torch.from_numpy(np.ascontiguousarray(np.stack(bw))[:, None]).to(device)
        opt.zero_grad(set_to_none=True)
        logits = model(x)
        loss = (torch.nn.functional.binary_cross_entropy_with_logits(logits, t, reduction="none") * w).sum()
        loss = loss / w.sum().clamp(min=1.0)
        loss.backward()
        opt.step()
        losses.append(float(loss.item()))
        steps_done = step + 1
        prog.sub(0.25, 0.97).update(steps_done / config.steps)
        if steps_done % max(1, config.steps // 10) == 0:
            log(f"step {steps_done}/{config.steps}: loss {np.mean(losses[-max(1, config.steps // 10):]):.4f}")
        if out_of_time(t0, config.max_minutes):
            log(f"stopped after {config.max_minutes} minutes")
            break
    model.eval()
    references = {k: (card.training or {}).get(k) for k in ("resolved_bandwidth", "anomaly_wavenumber")}
    parent = {"file": init.name, "name": card.name,
              **{k: (card.training or {}).get(k) for k in ("command", "seed", "data") if (card.training or {}).get(k)}}
    card = dataclasses.replace(card, name=f"{card.name}-finetuned")
    card.training = dict(
        finetuned_on=dict(grid=Path(grid_path).name, expert=Path(expert_path).name,
                          area=Path(area_path).name if area_path else "whole grid",
                          expert_lines=int(len(expert)), cell_size_m=float(grid.spacing[1]),
                          scale=scale,
                          positive_cells=config.positive_cells, negative_cells=config.negative_cells,
                          negative_weight=config.negative_weight, positive_weight=round(balance, 3)),
        synthetic=dict(preset="survey", samples=config.synthetic_samples if n_syn_batch else 0,
                       share=config.synthetic_share),
        optimizer=dict(name="Adam", lr=config.lr, schedule="cosine", steps_planned=config.steps,
                       steps_run=steps_done, batch_size=config.batch_size, crop=crop,
                       loss="weighted binary cross-entropy"),
        seed=config.seed, device=device, minutes=round((time.time() - t0) / 60, 2),
        final_loss=float(np.mean(losses[-max(1, len(losses) // 10):])) if losses else None,
        parent=parent,
    )
    # detect --scales auto then picks the scale it was taught at
    card.training.update({k: v for k, v in references.items() if v})
    prog.check()
    path = save_model(model.cpu(), card, out)
    prog.update(1.0)
    return path


def holdout_scores(grid_path, expert_path, area_path, model_paths: dict, *, tolerance: float = 500.0,
                   band: Optional[int] = None, device: str = "auto") -> dict:
    """Scores outside the interpreted area: how a model does where it was not taught.

    Each model detects over the whole grid; detected and expert lines are
    clipped to the part of the grid outside ``area_path`` and compared there
    (chance baselines inside the bounding box of that part).

    Parameters
    ----------
    grid_path, expert_path, area_path : path
    model_paths : dict of str -> path
        Label -> model file (e.g. ``{"before": shipped, "after": finetuned}``).
    tolerance : float
        Metres.

    Returns
    -------
    dict of str -> dict
        Label -> recall, precision, f1, lift_shifted, detected_km, expert_km.
    """
    import tempfile

    import shapely

    from ..files import read_vector
    from ..grids.io import read_grid
    from .compare import CompareParams, compare_lines
    from ..inference import TileParams
    from .detect import detect_lineaments

    grid = read_grid(grid_path, band=band)
    area = read_vector(area_path, "interpreted area").to_crs(grid.crs)
    outside = shapely.box(*grid.bounds).difference(shapely.union_all(area.geometry.values))
    if outside.is_empty:
        raise GeocoreError("the interpreted area covers the whole grid: nothing is left to score")
    expert = read_vector(expert_path, "expert lines").to_crs(grid.crs)
    expert_out = expert.set_geometry(expert.geometry.intersection(outside))
    expert_out = expert_out[~expert_out.geometry.is_empty & (expert_out.length > 0)]
    if expert_out.empty:
        raise GeocoreError("no expert line lies outside the interpreted area; nothing to score there")
    scores = {}
    for label, model in model_paths.items():
        with tempfile.TemporaryDirectory(prefix="geocore_holdout_") as tmp:
            res = detect_lineaments(grid_path, probability_path=Path(tmp) / "p.tif",
                                    lines_paths=[Path(tmp) / "l.gpkg"], model_path=model, band=band,
                                    tiles=TileParams(device=device))
        det = res.gdf.set_geometry(res.gdf.geometry.intersection(outside))
        det = det[~det.geometry.is_empty & (det.length > 0)]
        if det.empty:
            scores[label] = dict(recall=0.0, precision=0.0, f1=0.0, lift_shifted=float("nan"), detected_km=0.0,
                                 expert_km=float(expert_out.length.sum()) / 1000)
            continue
        cmp = compare_lines(det.explode(ignore_index=True), expert_out.explode(ignore_index=True),
                            CompareParams(tolerance=tolerance), grid_crs=grid.crs, grid_bounds=tuple(outside.bounds))
        s = cmp.scores
        scores[label] = dict(recall=s.recall, precision=s.precision, f1=s.f1, lift_shifted=cmp.lift("shifted"),
                             detected_km=s.detected_length / 1000, expert_km=s.expert_length / 1000)
    return scores


def score_finetuned(grid_path, expert_path, area_path, model_path, *, init=None, tolerance: float = 500.0,
                    band: Optional[int] = None, device: str = "auto") -> dict:
    """Held-out scores of the parent and the fine-tuned model, recorded in the model's card.

    :func:`holdout_scores` with ``{"before": init (or the shipped model), "after": model_path}``;
    the scores go into the card beside ``model_path`` under
    ``metrics.held_out_outside_area`` (written atomically).

    Returns
    -------
    dict of str -> dict
        ``"before"`` and ``"after"`` scores.
    """
    import json

    from ..files import atomic_output
    from .detect import default_model_path

    model_path = Path(model_path)
    scores = holdout_scores(grid_path, expert_path, area_path,
                            {"before": init or default_model_path(), "after": model_path},
                            tolerance=tolerance, band=band, device=device)
    card_path = model_path.with_suffix(".json")
    card = json.loads(card_path.read_text(encoding="utf-8"))
    card.setdefault("metrics", {})["held_out_outside_area"] = dict(tolerance_m=float(tolerance), **scores)
    with atomic_output(card_path) as tmp:
        Path(tmp).write_text(json.dumps(card, indent=2) + "\n", encoding="utf-8")
    return scores
