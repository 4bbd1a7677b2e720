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
from collections import OrderedDict
from typing import Callable, Iterator, Optional, Sequence, Tuple

import numpy as np

from .register import PairResult

INTERPOLATIONS = ("cubic", "linear", "nearest")
BLENDS = ("feather", "nearest")


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


def panorama_frame(positions: np.ndarray, shape: Tuple[int, int]) -> Tuple[np.ndarray, Tuple[int, int]]:
    """Shift positions so the panorama starts at pixel (0, 0); return them and ``(rows, cols)``."""
    pos = np.asarray(positions, dtype=float)
    # a tile covers [p - 0.5, p + size - 0.5]; pixel centres are at integers
    origin = np.floor(pos.min(axis=0) + 0.5)
    pos = pos - origin
    h, w = shape
    rows = int(math.floor(pos[:, 0].max() + h - 0.5)) + 1
    cols = int(math.floor(pos[:, 1].max() + w - 0.5)) + 1
    return pos, (rows, cols)


class TileCache:
    """Corrected tiles in their own data type, loaded when first needed and
    dropped once the strips have passed below them."""

    def __init__(self, loader: Callable[[int], np.ndarray]) -> None:
        self.loader = loader
        self.tiles: "OrderedDict[int, np.ndarray]" = OrderedDict()
        self.peak = 0

    def get(self, i: int) -> np.ndarray:
        if i not in self.tiles:
            self.tiles[i] = self.loader(i)
            self.peak = max(self.peak, len(self.tiles))
        return self.tiles[i]

    def keep_only(self, wanted) -> None:
        for i in [k for k in self.tiles if k not in wanted]:
            del self.tiles[i]


def composite_strips(positions: np.ndarray, shape: Tuple[int, int], out_shape: Tuple[int, int], bands: int,
                     dtype: str, loader: Callable[[int], np.ndarray], *, gains: Optional[np.ndarray] = None,
                     blend: str = "feather", interpolation: str = "cubic", strip_rows: int = 256,
                     ) -> Iterator[Tuple[int, np.ndarray, np.ndarray]]:
    """Yield ``(row0, data, valid)`` strips of the blended panorama, top to bottom.

    Parameters
    ----------
    positions : ndarray ``(n, 2)``
        Tile top-left ``(y, x)`` in panorama pixels (pixel centres at integers).
    shape : (int, int)
        Tile ``(height, width)``.
    out_shape : (int, int)
        Panorama ``(rows, cols)``.
    bands : int
    dtype : str
        Output data type (the tiles').
    loader : callable
        ``loader(i)`` -> corrected tile ``(h, w, bands)``.
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
    pos = np.asarray(positions, dtype=float)
    if interpolation == "nearest":
        pos = np.round(pos)
    n = len(pos)
    h, w = shape
    rows, cols = out_shape
    gains = np.ones(n) if gains is None else np.asarray(gains, dtype=float)
    top = float(np.iinfo(dtype).max)
    cache = TileCache(loader)
    for y0 in range(0, rows, strip_rows):
        y1 = min(rows, y0 + strip_rows)
        acc = np.zeros((y1 - y0, cols, bands), dtype=np.float32)
        best = np.zeros((y1 - y0, cols), dtype=np.float32)
        wanted = set()
        for i in range(n):
            ty, tx = pos[i]
            oy0, oy1 = max(y0, math.ceil(ty - 0.5)), min(y1, math.floor(ty + h - 0.5) + 1)
            ox0, ox1 = max(0, math.ceil(tx - 0.5)), min(cols, math.floor(tx + w - 0.5) + 1)
            if oy1 <= oy0 or ox1 <= ox0:
                continue
            wanted.add(i)
            vy = np.arange(oy0, oy1) - ty
            ux = np.arange(ox0, ox1) - tx
            weight = np.outer(edge_ramp(vy, h), edge_ramp(ux, w))
            tile = cache.get(i)
            sy0, sy1 = max(0, int(math.floor(vy[0])) - 2), min(h, int(math.ceil(vy[-1])) + 3)
            sx0, sx1 = max(0, int(math.floor(ux[0])) - 2), min(w, int(math.ceil(ux[-1])) + 3)
            src = tile[sy0:sy1, sx0:sx1]
            m = np.array([[1.0, 0.0, ox0 - tx - sx0], [0.0, 1.0, oy0 - ty - sy0]])
            region = cv2.warpAffine(src, m, (ox1 - ox0, oy1 - oy0), flags=flags | cv2.WARP_INVERSE_MAP,
                                    borderMode=cv2.BORDER_REPLICATE)
            if region.ndim == 2:
                region = region[..., None]
            region = region.astype(np.float32)
            if gains[i] != 1.0:
                region *= np.float32(gains[i])
            dst = (slice(oy0 - y0, oy1 - y0), slice(ox0, ox1))
            if blend == "nearest":
                take = weight > best[dst]
                acc[dst][take] = region[take]
                best[dst] = np.where(take, weight, best[dst])
            else:
                acc[dst] += region * weight[..., None]
                best[dst] += weight
        cache.keep_only(wanted)
        valid = best > 0
        if blend != "nearest":
            np.divide(acc, best[..., None], out=acc, where=valid[..., None])
        out = np.clip(np.rint(acc), 0, top).astype(dtype)
        yield y0, out, valid
