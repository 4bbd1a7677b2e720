"""Test helper (not a test module, not library API): tiles with a known answer,
overlapping crops of a large image at sub-pixel offsets.

Used by the stitching tests and ``bench/bench_panorama.py``: a grid of tiles is cut from ``image`` with
the given overlap, every tile moved by a random sub-pixel jitter (the stage is
never exact), then darkened towards the corners (vignetting) and given sensor
noise, and saved as ``rROW_cCOL`` images. The true top-left positions are
returned, so a stitcher's error can be measured.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import List, Optional, Tuple

import numpy as np


@dataclass
class CutTiles:
    """Paths of the cut tiles, their true top-left ``(y, x)`` in the source image (px, before any
    rotation about the tile centre) and true maps tile pixel ``(v, u, 1)`` -> image ``(y, x)``."""

    paths: List[Path]
    positions: np.ndarray
    shape: Tuple[int, int]
    transforms: Optional[np.ndarray] = None


def vignetting(shape, strength: float) -> np.ndarray:
    """Multiplicative falloff ``1 - strength * r^2`` with ``r = 1`` at the corners."""
    h, w = shape
    y = (np.arange(h) - (h - 1) / 2) / ((h - 1) / 2)
    x = (np.arange(w) - (w - 1) / 2) / ((w - 1) / 2)
    r2 = (y[:, None] ** 2 + x[None, :] ** 2) / 2.0
    return (1.0 - strength * r2).astype(np.float32)


def cut_tiles(
    image: np.ndarray,
    out_dir: str | os.PathLike,
    *,
    rows: int,
    cols: int,
    tile_shape: Tuple[int, int],
    overlap: float = 0.25,
    jitter: float = 6.0,
    vignette: float = 0.3,
    noise: float = 2.0,
    seed: int = 0,
    suffix: str = ".png",
    dtype: str = "uint8",
    jpeg_quality: int = 95,
    rotation_deg: float = 0.0,
    distortion=None,
) -> CutTiles:
    """Cut a ``rows`` x ``cols`` grid of overlapping tiles out of ``image``.

    Parameters
    ----------
    image : ndarray ``(H, W)`` or ``(H, W, bands)``, uint8
        The scene (bands in RGB order).
    out_dir : path-like
    rows, cols : int
    tile_shape : (int, int)
        Tile ``(height, width)``, px.
    overlap : float
        Nominal overlap as a fraction of the tile size.
    jitter : float
        Uniform random offset in ``[-jitter, jitter]`` px added to every tile's
        position (sub-pixel, so tiles must be resampled).
    vignette : float
        Brightness loss in the corners (0.3: 30 % darker).
    noise : float
        Gaussian noise standard deviation, in 8-bit grey levels.
    seed : int
    suffix : str
        Image format by extension (``.png``, ``.tif``, ``.jpg``).
    dtype : {"uint8", "uint16"}
        16-bit tiles are the 8-bit values x 257 (plus 16-bit noise).
    rotation_deg : float
        Each tile is also rotated about its centre by a uniform random angle in
        ``[-rotation_deg, rotation_deg]`` (a camera not aligned with the stage).
    distortion : Distortion, optional
        Lens distortion applied to every tile (pixel ``p`` of a tile shows the
        scene at ``position + undistort(p)``); not combined with rotation.

    Returns
    -------
    CutTiles
    """
    import cv2

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    th, tw = tile_shape
    step_y, step_x = th * (1 - overlap), tw * (1 - overlap)
    margin = jitter + 4
    need_h = margin * 2 + step_y * (rows - 1) + th
    need_w = margin * 2 + step_x * (cols - 1) + tw
    if image.shape[0] < need_h or image.shape[1] < need_w:
        raise ValueError(f"image {image.shape[:2]} is too small for {rows} x {cols} tiles of {tile_shape}")
    vig = vignetting(tile_shape, vignette)
    scale = 257.0 if dtype == "uint16" else 1.0
    paths, positions, transforms = [], [], []
    centre = np.array([(th - 1) / 2.0, (tw - 1) / 2.0])
    pad = int(np.ceil(np.hypot(th, tw) * np.sin(np.radians(rotation_deg)) / 2)) + 4 if rotation_deg else 3
    if margin < jitter + pad + 1:
        margin = jitter + pad + 1
        need_h = margin * 2 + step_y * (rows - 1) + th
        need_w = margin * 2 + step_x * (cols - 1) + tw
        if image.shape[0] < need_h or image.shape[1] < need_w:
            raise ValueError(f"image {image.shape[:2]} is too small for {rows} x {cols} rotated tiles of {tile_shape}")
    lens = None
    if distortion is not None:
        if rotation_deg:
            raise ValueError("cut_tiles applies either rotation or distortion, not both")
        lens, pad = _lens_maps(tile_shape, distortion)
        if margin < jitter + pad + 1:
            margin = jitter + pad + 1
    for r in range(rows):
        for c in range(cols):
            y = margin + r * step_y + rng.uniform(-jitter, jitter)
            x = margin + c * step_x + rng.uniform(-jitter, jitter)
            theta = np.radians(rng.uniform(-rotation_deg, rotation_deg)) if rotation_deg else 0.0
            # tile pixel (v, u) shows scene point  pos + R (q - c) + c,  R = rotation by theta (y, x order)
            rot = np.array([[np.cos(theta), -np.sin(theta)], [np.sin(theta), np.cos(theta)]])
            t = np.array([y, x]) + centre - rot @ centre
            transforms.append(np.hstack([rot, t[:, None]]))
            iy, ix = int(np.floor(y)) - pad, int(np.floor(x)) - pad
            src = image[iy: iy + th + 2 * pad + 2, ix: ix + tw + 2 * pad + 2]
            # OpenCV (x, y) order: src_x = rot[1,1] u + rot[1,0] v + t_x - ix, src_y = rot[0,1] u + rot[0,0] v + t_y - iy
            m = np.array([[rot[1, 1], rot[1, 0], t[1] - ix], [rot[0, 1], rot[0, 0], t[0] - iy]])
            if lens is not None:
                tile = cv2.remap(src.astype(np.float32), lens[1] + np.float32(x - ix), lens[0] + np.float32(y - iy),
                                 interpolation=cv2.INTER_LANCZOS4)
            else:
                tile = cv2.warpAffine(src.astype(np.float32), m, (tw, th),
                                      flags=cv2.INTER_LANCZOS4 | cv2.WARP_INVERSE_MAP)
            if tile.ndim == 3:
                tile = tile * vig[..., None]
            else:
                tile = tile * vig
            tile = tile * scale + rng.normal(0.0, noise * scale, tile.shape)
            tile = np.clip(np.rint(tile), 0, np.iinfo(dtype).max).astype(dtype)
            paths.append(_save_tile(tile, out / f"r{r}_c{c}{suffix}", jpeg_quality))
            positions.append((y, x))
    return CutTiles(paths=paths, positions=np.array(positions), shape=tuple(tile_shape),
                    transforms=np.array(transforms))


def _lens_maps(tile_shape, distortion):
    """Remap tables (rows, cols) that show, at each tile pixel, the undistorted scene point, and the
    largest displacement (px) plus a margin."""
    from geocore.panorama.corrections import undistort_points

    th, tw = tile_shape
    vv, uu = np.mgrid[0:th, 0:tw]
    und = undistort_points(np.c_[vv.ravel(), uu.ravel()], tile_shape, distortion)
    lens = und[:, 0].reshape(th, tw).astype(np.float32), und[:, 1].reshape(th, tw).astype(np.float32)
    pad = int(np.ceil(max(np.abs(lens[0] - vv).max(), np.abs(lens[1] - uu).max()))) + 4
    return lens, pad


def _save_tile(tile: np.ndarray, path: Path, jpeg_quality: int) -> Path:
    """Write an RGB (or grey) tile in the format of its suffix."""
    import cv2

    bgr = tile[..., ::-1] if tile.ndim == 3 else tile
    params = [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality] if path.suffix.lower() in (".jpg", ".jpeg") else []
    if not cv2.imwrite(str(path), np.ascontiguousarray(bgr), params):
        raise OSError(f"could not write {path}")
    return path


def position_error(estimated: np.ndarray, truth: np.ndarray) -> Tuple[float, float]:
    """RMS and maximum distance (px) between two sets of positions after removing their mean offset."""
    est = np.asarray(estimated, dtype=float)
    tru = np.asarray(truth, dtype=float)
    d = (est - est.mean(axis=0)) - (tru - tru.mean(axis=0))
    dist = np.hypot(d[:, 0], d[:, 1])
    return float(np.sqrt(np.mean(dist ** 2))), float(dist.max())


def rigid_error(estimated: np.ndarray, truth: np.ndarray) -> Tuple[float, float]:
    """Like :func:`position_error` after also removing the best global rotation (Kabsch):
    a mosaic is only defined up to a rigid motion, and the affine model fixes the first tile's angle."""
    est = np.asarray(estimated, dtype=float)
    tru = np.asarray(truth, dtype=float)
    a, b = est - est.mean(axis=0), tru - tru.mean(axis=0)
    u, _, vt = np.linalg.svd(a.T @ b)
    d = np.sign(np.linalg.det(u @ vt))
    rot = u @ np.diag([1.0, d]) @ vt
    diff = a @ rot - b
    dist = np.hypot(diff[:, 0], diff[:, 1])
    return float(np.sqrt(np.mean(dist ** 2))), float(dist.max())


def load_rgb(path: str | os.PathLike, scale: Optional[float] = None) -> np.ndarray:
    """An image file as an RGB (or grey) uint8 array, optionally resized by ``scale``."""
    import cv2

    img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if img is None:
        raise OSError(f"cannot read {path}")
    if img.ndim == 3:
        img = img[..., ::-1]
    if scale and scale != 1.0:
        img = cv2.resize(img, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    return np.ascontiguousarray(img)
