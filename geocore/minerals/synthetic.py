"""Synthetic reflected-light photographs of polished sections with known masks.

A section is a dark non-ore matrix (silicates, resin) holding ore grains:
blob-shaped aggregates cut into irregular Voronoi grains of several minerals,
small inclusions, and euhedral (square) crystals of the hard minerals. Each
mineral has a reflected-light colour (plane-polarised light, white-balanced
photomicrograph) with per-grain variation; the picture gets a mottled
texture, polishing scratches, pits (dark holes, labelled non-ore), uneven
illumination (vignetting), slight blur and noise.

These are stand-ins with a known answer for tests and for a demo model; real
sections vary far more (see ``docs/minerals.md``).

:mod:`geocore.microscopy.synthetic` has a second, simpler generator on
purpose: a controlled test fixture (every listed class present, fixed
colours from :data:`COLOURS`, no random photometry, exact grain count)
for colour correction, alignment and annotation, where the random white
balance, exposure and mineral subsets drawn here for training would blur
the known answer.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Optional, Sequence

import numpy as np
from scipy import ndimage

from ..errors import GeocoreError
from ..files import all_or_nothing
from ..progress import Progress
from .classes import CODES, S1, S2, mineral

#: Classes of the demo model: LumenStone S1 + S2 (nine minerals and non-ore).
DEMO_CODES = tuple(sorted(set(S1) | set(S2)))

#: Mean sRGB colour of each class in a white-balanced reflected-light photograph.
COLOURS = {
    0: (48, 50, 54),      # non-ore: silicates and resin, dark grey
    1: (214, 188, 92),    # chalcopyrite: brass yellow
    2: (212, 214, 218),   # galena: bright white
    3: (128, 122, 116),   # magnetite: grey with a brown tint
    4: (182, 124, 102),   # bornite: pinkish brown
    5: (196, 174, 142),   # pyrrhotite: cream-brown
    6: (230, 220, 172),   # pyrite: pale yellow-white
    7: (214, 204, 160),   # pentlandite: light cream
    8: (112, 112, 114),   # sphalerite: grey
    9: (228, 228, 226),   # arsenopyrite: white
    10: (170, 172, 182),  # hematite: bluish white-grey
    11: (150, 156, 150),  # tennantite: grey-green
    12: (72, 96, 176),    # covellite: blue
    13: (222, 222, 188),  # marcasite: yellowish white
    14: (244, 204, 64),   # native gold: golden yellow
}

#: Minerals that often form euhedral (square) crystals.
EUHEDRAL = (6, 9, 13, 3)


@dataclass
class Section:
    """A synthetic polished section.

    Attributes
    ----------
    image : ndarray of uint8, shape (rows, cols, 3)
        RGB photograph.
    mask : ndarray of uint8, shape (rows, cols)
        Class code of each pixel (LumenStone codes).
    """

    image: np.ndarray
    mask: np.ndarray


def _smooth_noise(rng, shape, sigma: float) -> np.ndarray:
    """Zero-mean, unit-variance Gaussian-filtered noise."""
    small = max(1.0, sigma / 4.0)
    sh = (max(4, int(shape[0] / small)), max(4, int(shape[1] / small)))
    n = ndimage.gaussian_filter(rng.standard_normal(sh), sigma / small, mode="wrap")
    n = ndimage.zoom(n, (shape[0] / sh[0], shape[1] / sh[1]), order=1)[: shape[0], : shape[1]]
    n = np.pad(n, ((0, shape[0] - n.shape[0]), (0, shape[1] - n.shape[1])), mode="edge")
    return (n - n.mean()) / (n.std() + 1e-9)


def _voronoi_labels(rng, shape, n_seeds: int, warp: float) -> np.ndarray:
    """Irregular Voronoi cells: nearest seed after a smooth random warp of the plane."""
    from scipy.spatial import cKDTree

    h, w = shape
    seeds = rng.uniform((0, 0), (h, w), size=(max(1, n_seeds), 2))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    scale = np.sqrt(h * w / max(n_seeds, 1))
    yy += warp * scale * _smooth_noise(rng, shape, scale / 2).astype(np.float32)
    xx += warp * scale * _smooth_noise(rng, shape, scale / 2).astype(np.float32)
    _, idx = cKDTree(seeds).query(np.column_stack([yy.ravel(), xx.ravel()]))
    return idx.reshape(shape)


def synthesize_section(
    shape: tuple[int, int] = (512, 512),
    *,
    seed: int = 0,
    codes: Sequence[int] = DEMO_CODES,
    minerals_per_section: tuple[int, int] = (2, 4),
    grain_px: float = 48.0,
    ore_fraction: tuple[float, float] = (0.25, 0.6),
) -> Section:
    """Make one synthetic section with its mask.

    Parameters
    ----------
    shape : (rows, cols)
        Picture size in pixels.
    seed : int
        The same seed gives the same section.
    codes : sequence of int
        Classes that may appear (LumenStone codes); 0 (non-ore) is always there.
    minerals_per_section : (min, max)
        How many ore minerals one section holds.
    grain_px : float
        Typical grain diameter in pixels.
    ore_fraction : (min, max)
        Range of the share of ore in the section.

    Returns
    -------
    Section
        ``image`` (rows, cols, 3) uint8 and ``mask`` (rows, cols) uint8.
    """
    h, w = int(shape[0]), int(shape[1])
    if h < 16 or w < 16:
        raise GeocoreError(f"section size {h} x {w} is too small; give at least 16 x 16 pixels")
    ores = [int(c) for c in codes if int(c) != 0]
    for c in ores:
        mineral(c)
    rng = np.random.default_rng(seed)
    mask = np.zeros((h, w), np.uint8)
    if ores:
        k = int(rng.integers(minerals_per_section[0], minerals_per_section[1] + 1))
        present = rng.choice(ores, size=min(k, len(ores)), replace=False)
        weights = rng.dirichlet(np.ones(len(present)) * 1.5)
        # ore aggregates: thresholded smooth noise
        blob = _smooth_noise(rng, (h, w), grain_px * rng.uniform(0.8, 2.0))
        frac = rng.uniform(*ore_fraction)
        ore = blob > np.quantile(blob, 1.0 - frac)
        # grains: warped Voronoi cells, each one mineral
        n_cells = max(2, int(h * w / grain_px ** 2 * rng.uniform(0.5, 1.5)))
        cells = _voronoi_labels(rng, (h, w), n_cells, warp=0.35)
        cell_mineral = rng.choice(present, size=n_cells, p=weights).astype(np.uint8)
        mask[ore] = cell_mineral[cells[ore]]
        # inclusions (droplets of one mineral inside another) and euhedral crystals
        yy, xx = np.ogrid[0:h, 0:w]
        for _ in range(int(rng.poisson(h * w / 8000))):
            cy, cx = rng.uniform(0, h), rng.uniform(0, w)
            r = rng.uniform(1.5, grain_px / 5)
            e = rng.uniform(0.5, 1.0)
            a = rng.uniform(0, np.pi)
            dy, dx = yy - cy, xx - cx
            u, v = dx * np.cos(a) + dy * np.sin(a), -dx * np.sin(a) + dy * np.cos(a)
            sel = (u / r) ** 2 + (v / (r * e)) ** 2 <= 1
            mask[sel] = rng.choice(present)
        hard = [c for c in present if c in EUHEDRAL]
        for _ in range(int(rng.poisson(h * w / 60000)) if hard else 0):
            cy, cx = rng.uniform(0, h), rng.uniform(0, w)
            half = rng.uniform(3, grain_px / 2.5)
            a = rng.uniform(0, np.pi / 2)
            dy, dx = yy - cy, xx - cx
            u, v = dx * np.cos(a) + dy * np.sin(a), -dx * np.sin(a) + dy * np.cos(a)
            mask[(np.abs(u) <= half) & (np.abs(v) <= half)] = rng.choice(hard)
    # pits: dark holes, not ore
    n_pits = int(rng.poisson(h * w / 20000))
    pit_centres = rng.uniform((0, 0), (h, w), size=(n_pits, 2))
    pits = np.zeros((h, w), bool)
    for cy, cx in pit_centres:
        r = rng.uniform(1.0, 4.0)
        y0, y1 = int(max(0, cy - r - 1)), int(min(h, cy + r + 2))
        x0, x1 = int(max(0, cx - r - 1)), int(min(w, cx + r + 2))
        gy, gx = np.ogrid[y0:y1, x0:x1]
        pits[y0:y1, x0:x1] |= (gy - cy) ** 2 + (gx - cx) ** 2 <= r * r
    mask[pits] = 0
    image = _render(rng, mask, pits)
    return Section(image=image, mask=mask)


def _render(rng, mask: np.ndarray, pits: np.ndarray) -> np.ndarray:
    """Reflected-light colours, texture, scratches, vignetting, blur and noise."""
    import cv2

    h, w = mask.shape
    lut = np.array([COLOURS.get(c, (128, 128, 128)) for c in range(256)], np.float32)
    # each grain's colour varies a little around its mineral's (reflectance, orientation)
    grains, n = ndimage.label(mask > 0)
    jitter = np.concatenate([[0.0], rng.normal(0, 0.04, n)]).astype(np.float32)
    img = lut[mask] * (1.0 + jitter[grains])[..., None]
    # matrix: mottled silicates, some brighter gangue patches
    matrix = mask == 0
    mottle = _smooth_noise(rng, (h, w), rng.uniform(3, 12)).astype(np.float32)
    img[matrix] += (8.0 * mottle[matrix])[:, None]
    # fine texture everywhere
    img *= (1.0 + 0.025 * _smooth_noise(rng, (h, w), 1.5).astype(np.float32))[..., None]
    img[pits] = rng.uniform(8, 22)
    # polishing scratches: thin straight lines, darker on ore, lighter on matrix
    scratch = np.zeros((h, w), np.float32)
    for _ in range(int(rng.integers(0, 6))):
        a = rng.uniform(0, np.pi)
        cy, cx = rng.uniform(0, h), rng.uniform(0, w)
        L = max(h, w)
        p0 = (int(cx - L * np.cos(a)), int(cy - L * np.sin(a)))
        p1 = (int(cx + L * np.cos(a)), int(cy + L * np.sin(a)))
        cv2.line(scratch, p0, p1, float(rng.uniform(0.3, 1.0)), 1, lineType=cv2.LINE_AA)
    img -= (scratch * np.where(matrix, -10.0, 30.0))[..., None]
    # illumination: white balance, exposure and vignetting
    balance = rng.normal(1.0, 0.04, 3).astype(np.float32)
    exposure = rng.uniform(0.85, 1.12)
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    cy, cx = h * rng.uniform(0.3, 0.7), w * rng.uniform(0.3, 0.7)
    r2 = ((yy - cy) ** 2 + (xx - cx) ** 2) / (0.5 * (h * h + w * w))
    vignette = 1.0 - rng.uniform(0.0, 0.25) * r2
    img = img * balance * exposure * vignette[..., None]
    img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.5, 1.1))
    img += rng.normal(0, rng.uniform(1.5, 4.0), img.shape).astype(np.float32)
    return np.clip(img + 0.5, 0, 255).astype(np.uint8)


@all_or_nothing
def write_sections(
    out_dir: str | os.PathLike,
    count: int = 20,
    *,
    shape: tuple[int, int] = (512, 512),
    seed: int = 0,
    codes: Sequence[int] = DEMO_CODES,
    test_fraction: float = 0.2,
    grain_px: float = 48.0,
    progress=None,
    cancel=None,
) -> dict:
    """Write ``count`` synthetic sections in the LumenStone layout.

    ``out_dir/imgs/{train,test}/synth_NNNN.jpg`` (JPEG, quality 95) with masks
    ``out_dir/masks/{train,test}/synth_NNNN.png`` (8-bit class codes). Section
    ``i`` uses seed ``seed + i``; the last ``round(count * test_fraction)``
    sections form the test split. Every file is written atomically.

    Returns
    -------
    dict
        ``{"train": n, "test": n, "folder": Path}``.
    """
    import cv2

    from ..files import atomic_output, prepare_out_dir

    if count < 1:
        raise GeocoreError(f"count {count} must be at least 1")
    if not 0.0 <= test_fraction < 1.0:
        raise GeocoreError(f"test fraction {test_fraction} is outside [0, 1)")
    for c in codes:
        if int(c) not in CODES:
            mineral(c)
    out = prepare_out_dir(out_dir)
    prog = Progress.wrap(progress, cancel)
    n_test = int(round(count * test_fraction))
    n_train = count - n_test
    for i in range(count):
        prog.update(i / count)
        split = "train" if i < n_train else "test"
        sec = synthesize_section(shape, seed=seed + i, codes=codes, grain_px=grain_px)
        name = f"synth_{i:04d}"
        for sub, suffix, arr, params in (
            ("imgs", ".jpg", cv2.cvtColor(sec.image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 95]),
            ("masks", ".png", sec.mask, []),
        ):
            path = out / sub / split / (name + suffix)
            with atomic_output(path) as tmp:
                if not cv2.imwrite(str(tmp), arr, params):
                    raise GeocoreError(f"could not write '{path}'; check the folder is writable")
    prog.update(1.0)
    return {"train": n_train, "test": n_test, "folder": out}


def write_section_rasters(
    image_path: str | os.PathLike,
    mask_path: str | os.PathLike,
    *,
    shape: tuple[int, int] = (512, 512),
    seed: int = 0,
    um_per_px: Optional[float] = 1.0,
    codes: Sequence[int] = DEMO_CODES,
    grain_px: float = 48.0,
) -> Section:
    """Write one synthetic section as GeoTIFFs: RGB photograph and class map.

    With ``um_per_px`` both are placed in the local micrometre CRS of
    :mod:`geocore.minerals.segment`; the class map carries the LumenStone
    palette. Both files are written atomically, together.
    """
    import contextlib

    import rasterio

    from ..files import atomic_output, check_not_input
    from .classes import CLASSES
    from .segment import micrometre_crs, micrometre_transform

    check_not_input([image_path], [mask_path])
    sec = synthesize_section(shape, seed=seed, codes=codes, grain_px=grain_px)
    h, w = sec.mask.shape
    geo = {}
    if um_per_px:
        geo = dict(crs=micrometre_crs(), transform=micrometre_transform(um_per_px))
    with contextlib.ExitStack() as stack:
        img_tmp = stack.enter_context(atomic_output(image_path))
        mask_tmp = stack.enter_context(atomic_output(mask_path))
        with rasterio.open(img_tmp, "w", driver="GTiff", width=w, height=h, count=3, dtype="uint8",
                           photometric="RGB", compress="deflate", **geo) as ds:
            ds.write(np.moveaxis(sec.image, -1, 0))
        with rasterio.open(mask_tmp, "w", driver="GTiff", width=w, height=h, count=1, dtype="uint8",
                           nodata=255, compress="deflate", **geo) as ds:
            ds.write_colormap(1, {c.code: c.rgb + (255,) for c in CLASSES})
            ds.write(sec.mask, 1)
    return sec
