"""Test helper (not a test module, not library API): a stand-in probabilistic segmentation model.

Used by the uncertainty tests (here and in ``tests/qgis``) and ``bench/bench_microscopy.py``,
which need a model whose mistakes look like a real one's without training a network.
"""

from __future__ import annotations

import numpy as np


class ColourClassifier:
    """A stand-in probabilistic segmentation model for tests and measurements.

    One Gaussian per class in RGB (full covariance) fitted on labelled pixels
    of a (lightly smoothed) photo; :meth:`__call__` returns the posterior class
    probabilities of every pixel, (C, rows, cols), for the classes 0..C-1.
    Its mistakes are those of a real model in miniature: similar-coloured
    minerals, grain boundaries, scratches and pits.
    """

    def __init__(self, n_classes: int = 15, smooth: float = 1.0, temperature: float = 1.0) -> None:
        self.n_classes = n_classes
        self.smooth = smooth
        self.temperature = temperature
        self.means: dict = {}
        self.inv: dict = {}
        self.logdet: dict = {}

    def _prep(self, rgb: np.ndarray) -> np.ndarray:
        from scipy.ndimage import gaussian_filter

        img = rgb.astype(np.float64)
        if self.smooth > 0:
            img = gaussian_filter(img, sigma=(self.smooth, self.smooth, 0))
        return img.reshape(-1, 3)

    def fit(self, rgb: np.ndarray, mask: np.ndarray) -> "ColourClassifier":
        x = self._prep(rgb)
        y = mask.ravel()
        for c in np.unique(y):
            if c >= self.n_classes:
                continue
            xs = x[y == c]
            cov = np.cov(xs.T) + 4.0 * np.eye(3)
            self.means[int(c)] = xs.mean(axis=0)
            self.inv[int(c)] = np.linalg.inv(cov)
            self.logdet[int(c)] = np.linalg.slogdet(cov)[1]
        return self

    def __call__(self, rgb: np.ndarray) -> np.ndarray:
        x = self._prep(rgb)
        logp = np.full((self.n_classes, x.shape[0]), -np.inf)
        for c, mu in self.means.items():
            d = x - mu
            logp[c] = -0.5 * (np.einsum("ni,ij,nj->n", d, self.inv[c], d) + self.logdet[c])
        logp /= self.temperature
        logp -= logp.max(axis=0, keepdims=True)
        p = np.exp(logp)
        p /= p.sum(axis=0, keepdims=True)
        return p.reshape((self.n_classes,) + rgb.shape[:2]).astype(np.float32)
