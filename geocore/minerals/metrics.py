"""Segmentation metrics as the LumenStone paper and its library define them.

Per-class IoU is accumulated over the whole test set (sum of intersections
over sum of unions), mean IoU is taken over the classes present (in the truth
or the prediction), pixel accuracy over all labelled pixels; pixels labelled
255 (ignore) are left out.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .classes import IGNORE, BY_CODE


class ConfusionMatrix:
    """Pixel counts ``m[true, predicted]`` over class codes ``codes``.

    Examples
    --------
    >>> cm = ConfusionMatrix([0, 1])
    >>> cm.update(np.array([[0, 1], [1, 1]]), np.array([[0, 1], [0, 1]]))
    >>> round(cm.pixel_accuracy(), 2), [round(v, 3) for v in cm.iou().values()]
    (0.75, [0.5, 0.667])
    """

    def __init__(self, codes: Sequence[int]) -> None:
        self.codes = [int(c) for c in codes]
        self.index = np.full(256, -1, np.int64)
        self.index[self.codes] = np.arange(len(self.codes))
        self.matrix = np.zeros((len(self.codes), len(self.codes)), np.int64)

    def update(self, truth: np.ndarray, pred: np.ndarray) -> None:
        """Add one image: ``truth`` and ``pred`` hold class codes (255 in truth: ignored)."""
        t = self.index[np.asarray(truth, np.uint8).ravel()]
        p = self.index[np.asarray(pred, np.uint8).ravel()]
        ok = (np.asarray(truth).ravel() != IGNORE) & (t >= 0) & (p >= 0)
        n = len(self.codes)
        self.matrix += np.bincount(t[ok] * n + p[ok], minlength=n * n).reshape(n, n)

    def iou(self) -> dict:
        """IoU per present class code (sum of intersections / sum of unions)."""
        m = self.matrix
        inter = np.diag(m).astype(float)
        union = m.sum(0) + m.sum(1) - np.diag(m)
        return {c: float(inter[i] / union[i]) for i, c in enumerate(self.codes) if union[i] > 0}

    def mean_iou(self) -> float:
        v = list(self.iou().values())
        return float(np.mean(v)) if v else float("nan")

    def pixel_accuracy(self) -> float:
        total = self.matrix.sum()
        return float(np.trace(self.matrix) / total) if total else float("nan")

    def as_dict(self) -> dict:
        """Metrics for printing and for model cards."""
        return {
            "mean_iou": self.mean_iou(),
            "pixel_accuracy": self.pixel_accuracy(),
            "iou": {BY_CODE[c].label: v for c, v in self.iou().items()},
            "confusion_codes": self.codes,
            "confusion_matrix": self.matrix.tolist(),
        }
