"""Pixel and axis metrics of lineament maps against a known truth."""

from __future__ import annotations

import numpy as np
from scipy import ndimage


def pixel_metrics(pred: np.ndarray, truth: np.ndarray) -> dict:
    """Pixel accuracy, and IoU / F1 / precision / recall of the lineament class.

    Parameters
    ----------
    pred, truth : ndarray of bool
        Predicted and true lineament cells (same shape).

    Returns
    -------
    dict with counts (``tp``, ``fp``, ``fn``, ``tn``) and the scores; counts
    make it possible to sum over many grids before dividing.
    """
    pred = np.asarray(pred, bool)
    truth = np.asarray(truth, bool)
    tp = int(np.sum(pred & truth))
    fp = int(np.sum(pred & ~truth))
    fn = int(np.sum(~pred & truth))
    tn = int(pred.size - tp - fp - fn)
    return scores_from_counts(dict(tp=tp, fp=fp, fn=fn, tn=tn))


def scores_from_counts(c: dict) -> dict:
    tp, fp, fn, tn = c["tp"], c["fp"], c["fn"], c["tn"]
    total = tp + fp + fn + tn
    out = dict(c)
    out["pixel_accuracy"] = (tp + tn) / total if total else float("nan")
    out["iou"] = tp / (tp + fp + fn) if tp + fp + fn else float("nan")
    out["f1"] = 2 * tp / (2 * tp + fp + fn) if 2 * tp + fp + fn else float("nan")
    out["precision"] = tp / (tp + fp) if tp + fp else float("nan")
    out["recall"] = tp / (tp + fn) if tp + fn else float("nan")
    return out


def rasterize_axes(axes_pixels, shape) -> np.ndarray:
    """Burn line segments given in (col, row) pixel coordinates into a bool grid.

    Cell centres are at half-integer coordinates (a segment from (0.5, 0.5) to
    (3.5, 0.5) covers the first four cells of row 0).
    """
    from skimage.draw import line

    rows, cols = shape
    out = np.zeros(shape, dtype=bool)
    for seg in axes_pixels:
        seg = np.asarray(seg, dtype=float)
        for (c0, r0), (c1, r1) in zip(seg[:-1], seg[1:]):
            n = int(np.ceil(max(abs(c1 - c0), abs(r1 - r0)))) + 1
            cc = np.linspace(c0, c1, n) - 0.5
            rr = np.linspace(r0, r1, n) - 0.5
            inside = (cc > -0.5) & (cc < cols - 0.5) & (rr > -0.5) & (rr < rows - 0.5)
            if not inside.any():
                continue
            ci, ri = np.round(cc[inside]).astype(int), np.round(rr[inside]).astype(int)
            for a in range(len(ci) - 1):
                r_, c_ = line(ri[a], ci[a], ri[a + 1], ci[a + 1])
                out[r_, c_] = True
            out[ri[-1], ci[-1]] = True
    return out


def axis_agreement(pred_axes: np.ndarray, true_axes: np.ndarray, tolerance: float = 2.0) -> dict:
    """Length shares of axes that lie near the other set.

    Parameters
    ----------
    pred_axes, true_axes : ndarray of bool
        One-cell-wide axis rasters (a skeleton of the prediction; the burnt true
        axes).
    tolerance : float
        Distance in cells.

    Returns
    -------
    dict
        ``axis_recall``: share of true-axis cells within ``tolerance`` of a
        predicted axis; ``axis_precision``: share of predicted-axis cells within
        ``tolerance`` of a true axis; and the counts behind both, so that sums
        over many grids can be formed.
    """
    pred_axes = np.asarray(pred_axes, bool)
    true_axes = np.asarray(true_axes, bool)
    d_to_pred = ndimage.distance_transform_edt(~pred_axes) if pred_axes.any() else np.full(pred_axes.shape, np.inf)
    d_to_true = ndimage.distance_transform_edt(~true_axes) if true_axes.any() else np.full(true_axes.shape, np.inf)
    true_hit = int(np.sum(true_axes & (d_to_pred <= tolerance)))
    pred_hit = int(np.sum(pred_axes & (d_to_true <= tolerance)))
    n_true, n_pred = int(true_axes.sum()), int(pred_axes.sum())
    return dict(
        true_hit=true_hit, n_true=n_true, pred_hit=pred_hit, n_pred=n_pred,
        axis_recall=true_hit / n_true if n_true else float("nan"),
        axis_precision=pred_hit / n_pred if n_pred else float("nan"),
    )
