"""Small synthetic polished sections with known masks, and simulated scribbles.

Used by the tests and the measurements of the microscopy tools: grains of
ore minerals (Voronoi cells with irregular, warped boundaries) in a dark
non-ore matrix, with realistic reflected-light colours, per-grain brightness
variation, noise, scratches and pits.

Why not :func:`geocore.minerals.synthetic.synthesize_section`: that one makes
*training data* for segmentation models, so each section draws a random
subset of minerals and a random white balance, exposure and vignetting, and
its pits are labelled non-ore. The microscopy tests need a *controlled
fixture* instead: every listed class is present (colour correction and
scribble annotation need all of them), a class always has the same colour
in every section (colour correction is checked against a reference section
of the same colours; alignment builds crossed-polar views from those
colours), the grain count is set exactly, and noise, scratches and pits are
explicit parameters that leave the mask unchanged. Both share the colour
table (:data:`MINERAL_RGB` is :data:`geocore.minerals.synthetic.COLOURS`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np

from ..minerals.synthetic import COLOURS

#: Reflected-light colours (sRGB 0..255) of the LumenStone classes: the same
#: table as the mineral section generator, :data:`geocore.minerals.synthetic.COLOURS`.
MINERAL_RGB = COLOURS


@dataclass
class Section:
    """A synthetic section: RGB photo (uint8, rows x cols x 3) and its class mask."""

    rgb: np.ndarray
    mask: np.ndarray


def _smooth_noise(rng, shape, scale: float) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    field = gaussian_filter(rng.standard_normal(shape), scale, mode="wrap")
    return field / (field.std() + 1e-12)


def synthetic_section(shape: tuple[int, int] = (256, 256), *, classes: Sequence[int] = (0, 1, 2, 6, 8),
                      n_grains: int = 40, matrix_share: float = 0.4, noise: float = 5.0,
                      scratches: int = 3, pits: int = 15, seed: int = 0) -> Section:
    """Make a synthetic reflected-light section with its true class mask.

    Parameters
    ----------
    shape : (rows, cols)
    classes : sequence of int
        LumenStone codes that may occur; code 0 (non-ore matrix) is used for
        about ``matrix_share`` of the grains when listed.
    n_grains : int
        Number of Voronoi grains.
    noise : float
        Standard deviation of pixel noise in grey levels.
    scratches, pits : int
        Numbers of polishing scratches (thin dark lines) and pits (small dark
        discs); they do not change the mask.
    seed : int

    Returns
    -------
    Section
    """
    from scipy.spatial import cKDTree
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    rows, cols = shape
    ore = [c for c in classes if c != 0] or [0]
    seeds = rng.uniform([0, 0], [rows, cols], size=(n_grains, 2))
    grain_class = np.where((rng.random(n_grains) < matrix_share) & (0 in classes), 0,
                           rng.choice(ore, size=n_grains))
    # every listed class appears at least once
    for i, c in enumerate(classes):
        if i < n_grains:
            grain_class[i] = c
    scale = max(rows, cols) / 12.0
    yy, xx = np.mgrid[0:rows, 0:cols].astype(np.float64)
    amp = 0.35 * np.sqrt(rows * cols / n_grains)
    wy = yy + amp * _smooth_noise(rng, shape, scale / 2)
    wx = xx + amp * _smooth_noise(rng, shape, scale / 2)
    _, nearest = cKDTree(seeds).query(np.column_stack([wy.ravel(), wx.ravel()]))
    grain = nearest.reshape(shape)
    mask = grain_class[grain].astype(np.uint8)

    base = np.array([MINERAL_RGB[int(c)] for c in range(15)], dtype=np.float64)
    brightness = 1.0 + 0.04 * rng.standard_normal(n_grains)
    rgb = base[mask] * brightness[grain][..., None]
    rgb *= (1.0 + 0.03 * _smooth_noise(rng, shape, scale))[..., None]  # uneven polish
    rgb = gaussian_filter(rgb, sigma=(0.8, 0.8, 0))  # optics blur the boundaries
    rgb += noise * rng.standard_normal(rgb.shape)
    for _ in range(scratches):
        r0, c0 = rng.uniform(0, rows), rng.uniform(0, cols)
        angle = rng.uniform(0, np.pi)
        t = np.linspace(-max(shape), max(shape), 4 * max(shape))
        rr = np.round(r0 + t * np.sin(angle)).astype(int)
        cc = np.round(c0 + t * np.cos(angle)).astype(int)
        ok = (rr >= 0) & (rr < rows) & (cc >= 0) & (cc < cols)
        rgb[rr[ok], cc[ok]] *= 0.6
    for _ in range(pits):
        r0, c0, rad = rng.uniform(0, rows), rng.uniform(0, cols), rng.uniform(1.0, 2.5)
        rgb[(yy - r0) ** 2 + (xx - c0) ** 2 < rad ** 2] = 20.0
    return Section(np.clip(rgb + 0.5, 0, 255).astype(np.uint8), mask)


def simulate_strokes(mask: np.ndarray, share: float, *, seed: int = 0, step: float = 2.0,
                     max_steps: int = 40, margin: int = 3, ignore: Optional[int] = 255) -> list:
    """Scribbles a geologist might draw: short random-walk lines inside grains.

    Strokes are added one by one, each inside a single true class (kept
    ``margin`` pixels from its boundary), until their one-pixel-wide rasters
    cover ``share`` of the image.

    Parameters
    ----------
    mask : ndarray of uint8
        True class mask.
    share : float
        Wanted share of scribbled pixels (0..1), e.g. 0.01.

    Returns
    -------
    list of (code, shapely LineString in pixel coordinates (col, row))
        Pixel centres are at half-integers.
    """
    from scipy.ndimage import binary_erosion
    from shapely.geometry import LineString

    rng = np.random.default_rng(seed)
    rows, cols = mask.shape
    codes = [int(c) for c in np.unique(mask) if c != ignore]
    interior = {c: binary_erosion(mask == c, iterations=margin) for c in codes}
    candidates = {c: np.argwhere(v) for c, v in interior.items() if v.any()}
    from rasterio.features import rasterize
    from rasterio.transform import from_origin

    covered = np.zeros(mask.shape, bool)
    target = share * mask.size
    strokes = []
    order = list(candidates)
    k = 0
    while covered.sum() < target and order and k < 100000:
        c = order[k % len(order)]
        k += 1
        row, col = candidates[c][rng.integers(len(candidates[c]))].astype(float)
        pts = [(col + 0.5, row + 0.5)]
        angle = rng.uniform(0, 2 * np.pi)
        for _ in range(rng.integers(max_steps // 2, max_steps)):
            angle += rng.normal(0, 0.4)
            nrow, ncol = row + step * np.sin(angle), col + step * np.cos(angle)
            irow, icol = int(nrow), int(ncol)
            if not (0 <= irow < rows and 0 <= icol < cols) or not interior[c][irow, icol]:
                break
            row, col = nrow, ncol
            pts.append((col + 0.5, row + 0.5))
        if len(pts) >= 2:
            line = LineString(pts)
            strokes.append((c, line))
            # count the pixels the stroke raster will touch, in a window around the stroke
            c0, r0, c1, r1 = (int(v) for v in line.bounds)
            c0, r0 = max(c0 - 1, 0), max(r0 - 1, 0)
            c1, r1 = min(c1 + 2, cols), min(r1 + 2, rows)
            burnt = rasterize([(line, 1)], out_shape=(r1 - r0, c1 - c0), all_touched=True, dtype="uint8",
                              transform=from_origin(c0, r0, 1, -1))
            covered[r0:r1, c0:c1] |= burnt > 0
    return strokes
