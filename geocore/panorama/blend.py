"""Exposure compensation and blending of placed tiles, one strip of rows at a time.

Gain compensation (Brown & Lowe, 2007): one gain per tile, the same for every
band so that colours keep their balance, minimising the squared difference of
the mean grey level of every overlap after gain plus a weak pull of each gain
towards 1 (so that the mosaic keeps the camera's exposure).

Blending:

- ``feather`` (default): every tile is weighted by the product of its pixels'
  distances to the tile's left/right and top/bottom edges; the weights fall to
  0 at the edges, so an exposure step or a fraction of a pixel of misalignment
  turns into a smooth ramp across the whole overlap (no visible seam). The
  result is a convex combination of the tiles' own values: nothing is invented.
- ``nearest``: each output pixel is taken from the one tile whose centre is
  most inward (the largest weight), an implicit seam along the middle of every
  overlap; the original pixel values are kept, useful before segmentation.

Sub-pixel positions are honoured by resampling each tile region with
``interpolation`` (``cubic``, ``linear``, or ``nearest`` = integer placement
that keeps pixel values).
"""

from __future__ import annotations

import math
from typing import Callable, Iterator, Optional, Sequence, Tuple

import numpy as np

from .params import BLENDS, INTERPOLATIONS  # noqa: F401 (the choices live with the other stitching options)
from .register import PairResult


def gain_compensation(n: int, pairs: Sequence[PairResult], max_value: float, *, sigma_n: float = 2.0 / 255.0,
                      sigma_g: float = 0.1) -> np.ndarray:
    """Per-tile gains that equalise the overlaps' mean grey level.

    Parameters
    ----------
    n : int
        Number of tiles.
    pairs : sequence of PairResult
        Used pairs with ``mean_a``, ``mean_b`` (grey level of the overlap in
        each tile, data units) and ``overlap_px``.
    max_value : float
        Largest value of the data type (normalises the means to 0..1).
    sigma_n, sigma_g : float
        Standard deviations of the intensity error (0..1 units) and of the gain.

    Returns
    -------
    ndarray ``(n,)``
        Multiplicative gain per tile (1: unchanged).
    """
    a = np.zeros((n, n))
    b = np.zeros(n)
    for p in pairs:
        if not (p.used and np.isfinite(p.mean_a) and np.isfinite(p.mean_b)):
            continue
        w = float(p.overlap_px)
        ma, mb = p.mean_a / max_value, p.mean_b / max_value
        # d/dg of N[(ga ma - gb mb)^2 / sn^2]
        a[p.a, p.a] += w * ma * ma / sigma_n ** 2
        a[p.b, p.b] += w * mb * mb / sigma_n ** 2
        a[p.a, p.b] -= w * ma * mb / sigma_n ** 2
        a[p.b, p.a] -= w * ma * mb / sigma_n ** 2
        a[p.a, p.a] += w / sigma_g ** 2
        a[p.b, p.b] += w / sigma_g ** 2
        b[p.a] += w / sigma_g ** 2
        b[p.b] += w / sigma_g ** 2
    # tiles without used pairs keep gain 1
    lone = np.diag(a) == 0
    a[lone, lone] = 1.0
    b[lone] = 1.0
    return np.linalg.solve(a, b)


def edge_ramp(coord: np.ndarray, size: int) -> np.ndarray:
    """Distance (px) of tile coordinate ``coord`` to the nearer edge of ``[-0.5, size - 0.5]``, 0 outside."""
    return np.clip(np.minimum(coord + 0.5, size - 0.5 - coord), 0.0, None).astype(np.float32)


def as_transforms(positions: np.ndarray) -> np.ndarray:
    """``(n, 2, 3)`` affine maps tile pixel ``(v, u, 1)`` -> panorama ``(y, x)``; positions ``(n, 2)`` are translations."""
    pos = np.asarray(positions, dtype=float)
    if pos.ndim == 3:
        return pos.copy()
    out = np.zeros((len(pos), 2, 3))
    out[:, 0, 0] = out[:, 1, 1] = 1.0
    out[:, :, 2] = pos
    return out


def tile_corners(transform: np.ndarray, shape: Tuple[int, int]) -> np.ndarray:
    """Panorama ``(y, x)`` of the 4 outer corners of a tile (pixel edges at -0.5 and size - 0.5)."""
    h, w = shape
    c = np.array([[-0.5, -0.5, 1], [-0.5, w - 0.5, 1], [h - 0.5, -0.5, 1], [h - 0.5, w - 0.5, 1]])
    return c @ transform.T


def panorama_frame(positions: np.ndarray, shape: Tuple[int, int]) -> Tuple[np.ndarray, Tuple[int, int]]:
    """Shift positions (``(n, 2)``) or transforms (``(n, 2, 3)``) so the panorama starts at pixel (0, 0).

    Returns them in the same form and the panorama's ``(rows, cols)``: every
    pixel centre that some tile covers is inside, with pixel centres at integers.
    """
    pos = np.asarray(positions, dtype=float)
    tr = as_transforms(pos)
    corners = np.concatenate([tile_corners(t, shape) for t in tr])
    origin = np.floor(corners.min(axis=0) + 1.0)
    tr[:, :, 2] -= origin
    rows, cols = (np.floor(corners.max(axis=0) - origin) + 1).astype(int)
    out = tr if pos.ndim == 3 else tr[:, :, 2]
    return out, (int(rows), int(cols))


def composite_strips(positions: np.ndarray, shape: Tuple[int, int], out_shape: Tuple[int, int], bands: int,
                     dtype: str, read_rows: Callable[[int, int, int], np.ndarray], *, gains: Optional[np.ndarray] = None,
                     blend: str = "feather", interpolation: str = "cubic", strip_rows: int = 128,
                     ) -> Iterator[Tuple[int, np.ndarray, np.ndarray]]:
    """Yield ``(row0, data, valid)`` strips of the blended panorama, top to bottom.

    Parameters
    ----------
    positions : ndarray ``(n, 2)`` or ``(n, 2, 3)``
        Tile top-left ``(y, x)`` in panorama pixels (pixel centres at integers),
        or affine maps of tile pixel ``(v, u, 1)`` to panorama ``(y, x)``.
    shape : (int, int)
        Tile ``(height, width)``.
    out_shape : (int, int)
        Panorama ``(rows, cols)``.
    bands : int
    dtype : str
        Output data type (the tiles').
    read_rows : callable
        ``read_rows(i, r0, r1)`` -> rows ``r0:r1`` of corrected tile ``i``,
        ``(r1 - r0, w, bands)``; only the rows a strip needs are asked for, so
        memory is bounded by the strip, not by the tiles.
    gains : ndarray ``(n,)``, optional
    blend : {"feather", "nearest"}
    interpolation : {"cubic", "linear", "nearest"}
    strip_rows : int

    Yields
    ------
    row0 : int
        First panorama row of the strip.
    data : ndarray ``(rows, cols, bands)`` of ``dtype``
    valid : ndarray of bool ``(rows, cols)``
        False where no tile covers the panorama.
    """
    import cv2

    flags = {"cubic": cv2.INTER_CUBIC, "linear": cv2.INTER_LINEAR, "nearest": cv2.INTER_NEAREST}[interpolation]
    tr = as_transforms(positions)
    if interpolation == "nearest":
        tr[:, :, 2] = np.round(tr[:, :, 2])
    n = len(tr)
    rows, cols = out_shape
    gains = np.ones(n) if gains is None else np.asarray(gains, dtype=float)
    top = float(np.iinfo(dtype).max)
    maps = _inverse_maps(tr, shape)
    for y0 in range(0, rows, strip_rows):
        y1 = min(rows, y0 + strip_rows)
        acc = np.zeros((y1 - y0, cols, bands), dtype=np.float32)
        best = np.zeros((y1 - y0, cols), dtype=np.float32)
        for i in range(n):
            win = _tile_window(maps, i, y0, y1, cols, shape)
            if win is None:
                continue
            region = _warp_region(read_rows, i, win, maps[0][i], flags, gains[i])
            _blend_into(acc, best, region, win["weight"], (slice(win["oy0"] - y0, win["oy1"] - y0),
                                                           slice(win["ox0"], win["ox1"])), blend)
        valid = best > 0
        if blend != "nearest":
            np.divide(acc, best[..., None], out=acc, where=valid[..., None])
        out = np.clip(np.rint(acc), 0, top).astype(dtype)
        yield y0, out, valid


def _inverse_maps(tr: np.ndarray, shape: Tuple[int, int]) -> tuple:
    """Per tile: the inverse map panorama ``(y, x, 1)`` -> tile ``(v, u)``, whether it is a pure
    translation (which takes a separable fast path) and the tile's corners in the panorama."""
    inverse = []
    for t in tr:
        lin_inv = np.linalg.inv(t[:, :2])
        inverse.append(np.hstack([lin_inv, -(lin_inv @ t[:, 2])[:, None]]))
    pure = [bool(np.allclose(t[:, :2], np.eye(2), atol=1e-12)) for t in tr]
    boxes = [tile_corners(t, shape) for t in tr]
    return inverse, pure, boxes


def _tile_window(maps: tuple, i: int, y0: int, y1: int, cols: int, shape: Tuple[int, int]) -> Optional[dict]:
    """Where tile ``i`` lands in panorama rows ``[y0, y1)``: the panorama window, its feather
    weight and the tile rows/columns to read; None when the tile adds nothing there."""
    inverse, pure, boxes = maps
    h, w = shape
    lo, hi = boxes[i].min(axis=0), boxes[i].max(axis=0)
    oy0, oy1 = max(y0, math.ceil(lo[0])), min(y1, math.floor(hi[0]) + 1)
    ox0, ox1 = max(0, math.ceil(lo[1])), min(cols, math.floor(hi[1]) + 1)
    if oy1 <= oy0 or ox1 <= ox0:
        return None
    b = inverse[i]
    ys, xs = np.arange(oy0, oy1, dtype=np.float64), np.arange(ox0, ox1, dtype=np.float64)
    if pure[i]:
        vy, ux = ys + b[0, 2], xs + b[1, 2]
        weight = np.outer(edge_ramp(vy, h), edge_ramp(ux, w))
        vr, ur = (vy[0], vy[-1]), (ux[0], ux[-1])
    else:
        v = b[0, 0] * ys[:, None] + b[0, 1] * xs[None, :] + b[0, 2]
        u = b[1, 0] * ys[:, None] + b[1, 1] * xs[None, :] + b[1, 2]
        weight = edge_ramp(v, h) * edge_ramp(u, w)
        vr, ur = (v.min(), v.max()), (u.min(), u.max())
    if not weight.any():
        return None
    sy0, sy1 = max(0, int(math.floor(vr[0])) - 2), min(h, int(math.ceil(vr[1])) + 3)
    sx0, sx1 = max(0, int(math.floor(ur[0])) - 2), min(w, int(math.ceil(ur[1])) + 3)
    if sy1 <= sy0 or sx1 <= sx0:
        return None
    return dict(oy0=oy0, oy1=oy1, ox0=ox0, ox1=ox1, sy0=sy0, sy1=sy1, sx0=sx0, sx1=sx1, weight=weight)


def _warp_region(read_rows, i: int, win: dict, b: np.ndarray, flags: int, gain: float) -> np.ndarray:
    """Tile ``i`` resampled onto its panorama window (float32, ``(rows, cols, bands)``), times its gain."""
    import cv2

    oy0, oy1, ox0, ox1, sy0, sx0 = (win[k] for k in ("oy0", "oy1", "ox0", "ox1", "sy0", "sx0"))
    src = read_rows(i, sy0, win["sy1"])[:, sx0:win["sx1"]]
    # destination (x', y') of the region -> source (u - sx0, v - sy0), OpenCV's (x, y) order
    m = np.array([[b[1, 1], b[1, 0], b[1, 1] * ox0 + b[1, 0] * oy0 + b[1, 2] - sx0],
                  [b[0, 1], b[0, 0], b[0, 1] * ox0 + b[0, 0] * oy0 + b[0, 2] - sy0]])
    region = cv2.warpAffine(src, m, (ox1 - ox0, oy1 - oy0), flags=flags | cv2.WARP_INVERSE_MAP,
                            borderMode=cv2.BORDER_REPLICATE)
    if region.ndim == 2:
        region = region[..., None]
    region = region.astype(np.float32)
    if gain != 1.0:
        region *= np.float32(gain)
    return region


def _blend_into(acc: np.ndarray, best: np.ndarray, region: np.ndarray, weight: np.ndarray, dst: tuple,
                blend: str) -> None:
    """Add a warped region to the strip: weighted sum (feather) or the highest weight wins (nearest)."""
    if blend == "nearest":
        take = weight > best[dst]
        acc[dst][take] = region[take]
        best[dst] = np.where(take, weight, best[dst])
    else:
        acc[dst] += region * weight[..., None]
        best[dst] += weight
