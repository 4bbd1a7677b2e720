"""Corrections applied to every tile before matching and blending.

- Flat-field: divides by a smoothed photograph of a mirror or an empty field
  (vignetting and uneven illumination), keeping the mean brightness.
- Lens distortion: Brown-Conrady model (radial k1, k2, k3; tangential p1, p2),
  undone with OpenCV's ``undistort`` maps.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from ..errors import GeocoreError


@dataclass(frozen=True)
class Distortion:
    """Brown-Conrady lens distortion in OpenCV's convention.

    Coordinates are normalised by the focal length ``f`` (pixels) around the
    principal point (the image centre unless given): ``x_d = x (1 + k1 r^2 +
    k2 r^4 + k3 r^6) + 2 p1 x y + p2 (r^2 + 2 x^2)`` and likewise for y.

    Attributes
    ----------
    k1, k2, k3 : float
        Radial coefficients (negative: barrel distortion).
    p1, p2 : float
        Tangential coefficients.
    focal_px : float or None
        Focal length in pixels; None uses the tile diagonal / 2, so that ``r = 1``
        at the corners.
    """

    k1: float = 0.0
    k2: float = 0.0
    p1: float = 0.0
    p2: float = 0.0
    k3: float = 0.0
    focal_px: Optional[float] = None

    @classmethod
    def from_sequence(cls, values: Sequence[float]) -> "Distortion":
        """From ``k1 [k2 [p1 [p2 [k3]]]]`` (OpenCV order)."""
        vals = [float(v) for v in values]
        if not 1 <= len(vals) <= 5:
            msg = "give 1 to 5 distortion coefficients: k1 [k2 [p1 [p2 [k3]]]]"
            raise GeocoreError(msg)
        return cls(*vals)

    @property
    def is_identity(self) -> bool:
        return not any((self.k1, self.k2, self.p1, self.p2, self.k3))


class Corrections:
    """Flat-field and distortion correction for tiles of one size.

    Parameters
    ----------
    shape : (int, int)
        ``(height, width)`` of the tiles.
    bands : int
        Bands of the tiles.
    dtype : str
        Data type of the tiles (output keeps it).
    flat_field : path-like, optional
        Photograph of a mirror or of an empty field with the same optics. It is
        smoothed with a Gaussian of ``flat_sigma`` pixels (dust and texture are
        not illumination) and normalised to a mean of 1 per band.
    flat_sigma : float
        Smoothing of the reference, in pixels (0: none).
    distortion : Distortion, optional
    """

    def __init__(self, shape, bands: int, dtype: str, *, flat_field: Optional[str | os.PathLike] = None,
                 flat_sigma: float = 25.0, distortion: Optional[Distortion] = None) -> None:
        self.shape = tuple(shape)
        self.bands = bands
        self.dtype = np.dtype(dtype)
        self.gain: Optional[np.ndarray] = None
        self.maps = None
        if flat_field is not None:
            self.gain = flat_field_gain(flat_field, self.shape, bands, sigma=flat_sigma)
        if distortion is not None and not distortion.is_identity:
            self.maps = undistort_maps(self.shape, distortion)

    @property
    def active(self) -> bool:
        return self.gain is not None or self.maps is not None

    def apply(self, img: np.ndarray) -> np.ndarray:
        """Correct one ``(rows, cols, bands)`` tile; returns the same data type."""
        if not self.active:
            return img
        import cv2

        out = img
        if self.gain is not None:
            top = np.iinfo(self.dtype).max
            out = np.clip(img.astype(np.float32) * self.gain + 0.5, 0, top).astype(self.dtype)
        if self.maps is not None:
            out = cv2.remap(out, self.maps[0], self.maps[1], interpolation=cv2.INTER_CUBIC,
                            borderMode=cv2.BORDER_REFLECT)
            if out.ndim == 2:
                out = out[..., None]
        return out


def flat_field_gain(path: str | os.PathLike, shape, bands: int, *, sigma: float = 25.0) -> np.ndarray:
    """Multiplicative gain ``mean(flat) / flat`` from a reference photograph.

    Parameters
    ----------
    path : path-like
        The reference image (same size as the tiles).
    shape : (int, int)
        Tile ``(height, width)``.
    bands : int
        Tile bands; a grey reference is used for every band, an RGB reference
        with grey tiles is averaged.
    sigma : float
        Gaussian smoothing of the reference, pixels.

    Returns
    -------
    ndarray, float32, ``(height, width, bands)``
    """
    import cv2

    from .tiles import read_tile

    if not Path(path).is_file():
        raise GeocoreError(f"flat-field reference '{path}' does not exist; check the path")
    ref = read_tile(path)
    if ref.shape[:2] != tuple(shape):
        msg = (f"flat-field reference is {ref.shape[1]} x {ref.shape[0]} px but the tiles are {shape[1]} x {shape[0]} px; "
               "give a reference photographed with the same camera setting")
        raise GeocoreError(msg)
    ref = ref.astype(np.float32)
    if bands == 1 and ref.shape[2] > 1:
        ref = ref.mean(axis=2, keepdims=True)
    elif ref.shape[2] == 1 and bands > 1:
        ref = np.repeat(ref, bands, axis=2)
    if sigma > 0:
        ref = cv2.GaussianBlur(ref, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)
        if ref.ndim == 2:
            ref = ref[..., None]
    mean = ref.reshape(-1, ref.shape[2]).mean(axis=0)
    if np.any(ref <= 0.01 * mean):
        msg = "flat-field reference has black areas (values near 0); photograph a bright mirror or empty field"
        raise GeocoreError(msg)
    return (mean / ref).astype(np.float32)


def undistort_maps(shape, distortion: Distortion):
    """OpenCV remap tables that undo ``distortion`` for tiles of ``shape``."""
    import cv2

    h, w = shape
    f = distortion.focal_px or float(np.hypot(h, w) / 2.0)
    camera = np.array([[f, 0, (w - 1) / 2.0], [0, f, (h - 1) / 2.0], [0, 0, 1]], dtype=np.float64)
    coeffs = np.array([distortion.k1, distortion.k2, distortion.p1, distortion.p2, distortion.k3], dtype=np.float64)
    return cv2.initUndistortRectifyMap(camera, coeffs, None, camera, (w, h), cv2.CV_32FC1)


def undistort_points(points_yx: np.ndarray, shape, distortion: Distortion) -> np.ndarray:
    """Undistorted pixel positions ``(y, x)`` of distorted tile pixels ``points_yx`` (``(n, 2)``)."""
    import cv2

    h, w = shape
    f = distortion.focal_px or float(np.hypot(h, w) / 2.0)
    camera = np.array([[f, 0, (w - 1) / 2.0], [0, f, (h - 1) / 2.0], [0, 0, 1]], dtype=np.float64)
    coeffs = np.array([distortion.k1, distortion.k2, distortion.p1, distortion.p2, distortion.k3], dtype=np.float64)
    pts = np.ascontiguousarray(np.asarray(points_yx, dtype=np.float64)[:, ::-1]).reshape(-1, 1, 2)
    out = cv2.undistortPoints(pts, camera, coeffs, P=camera,
                              criteria=(cv2.TERM_CRITERIA_COUNT | cv2.TERM_CRITERIA_EPS, 50, 1e-9))
    return out.reshape(-1, 2)[:, ::-1]


def pair_spread(pairs, shape, distortion: Distortion) -> float:
    """RMS spread (px) of the local shifts within each overlap after undoing ``distortion``.

    Under a pure translation every point of an overlap moves by the same shift;
    radial distortion bends the shifts along the overlap (the two tiles see the
    overlap near opposite edges). ``pairs`` carry ``extra["points"]``:
    ``(ya, xa, yb, xb)`` in distorted pixel coordinates.
    """
    sq, n = 0.0, 0
    for p in pairs:
        pts = np.asarray(p.extra.get("points") or [], dtype=float)
        if len(pts) < 3:
            continue
        pa = undistort_points(pts[:, :2], shape, distortion)
        pb = undistort_points(pts[:, 2:], shape, distortion)
        s = pa - pb
        sq += float(((s - s.mean(axis=0)) ** 2).sum())
        n += len(s)
    return float(np.sqrt(sq / n)) if n else float("nan")


def estimate_radial_distortion(pairs, shape, *, k1_range: float = 0.3, focal_px: Optional[float] = None):
    """Radial coefficient ``k1`` that makes every overlap move as one piece.

    Minimises :func:`pair_spread` over ``k1`` in ``[-k1_range, k1_range]`` (a
    coarse scan, then golden-section refinement); ``k2``, ``k3`` and the
    tangential terms are left at 0.

    Returns
    -------
    k1 : float
    spread_before, spread_after : float
        Spread of the local shifts (px) with ``k1 = 0`` and with the estimate.
    """
    def cost(k1: float) -> float:
        return pair_spread(pairs, shape, Distortion(k1=k1, focal_px=focal_px))

    before = cost(0.0)
    if not np.isfinite(before):
        msg = "too few overlaps with texture along their length to estimate lens distortion; give the coefficients"
        raise GeocoreError(msg)
    grid = np.linspace(-k1_range, k1_range, 25)
    values = [cost(k) for k in grid]
    i = int(np.argmin(values))
    lo, hi = grid[max(0, i - 1)], grid[min(len(grid) - 1, i + 1)]
    g = (np.sqrt(5) - 1) / 2
    a, b = hi - g * (hi - lo), lo + g * (hi - lo)
    fa, fb = cost(a), cost(b)
    for _ in range(30):
        if fa < fb:
            hi, b, fb = b, a, fa
            a = hi - g * (hi - lo)
            fa = cost(a)
        else:
            lo, a, fa = a, b, fb
            b = lo + g * (hi - lo)
            fb = cost(b)
    k1 = (lo + hi) / 2
    return float(k1), before, cost(k1)
