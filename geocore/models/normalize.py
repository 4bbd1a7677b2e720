"""Input normalisation shared by training and tiled inference.

A model card's ``normalization`` dict names one of these modes:

``{"mode": "local_zscore", "window": W, "clip": c}`` (default for lineaments)
    Each cell is centred and scaled by the NaN-aware mean and standard deviation
    of the ``W x W`` cells around it, clipped to ``[-c, c]`` and mapped to 0..1:
    ``0.5 + clip((x - mean_W) / std_W, -c, c) / (2 c)``. The result depends only on
    the cell's neighbourhood, never on where a tile border falls: normalising a
    tile read with a halo of :func:`halo_cells` cells and cropping the halo gives
    exactly the values of normalising the whole raster. It is also invariant to
    any affine change of units (nT, 0..1 normalised, pT), so models trained on
    the paper's 0..1 fields apply to grids in nT.

``{"mode": "minmax"}`` (the paper's)
    Each array (each tile at inference) is mapped to 0..1 by its own minimum
    and maximum; depends on tile borders.

``{"mode": "affine", "scale": [...], "offset": [...]}``
    Per band ``x * scale + offset`` (e.g. 8-bit RGB photographs: 1/255).

NaN cells become the neutral value (0.5 for the first two modes, 0 for affine)
after normalisation; callers keep the NaN mask to restore nodata in outputs.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from ..errors import GeocoreError

MODES = ("local_zscore", "minmax", "affine")


def halo_cells(spec: dict) -> int:
    """Cells of context each side that a tile needs for exact normalisation."""
    mode = spec.get("mode")
    if mode == "local_zscore":
        return int(spec.get("window", 192)) // 2 + 1
    return 0


def depends_on_tile(spec: dict) -> bool:
    """True when the normalisation of a cell depends on the tile it falls in."""
    return spec.get("mode") == "minmax"


def _local_zscore(band: np.ndarray, window: int, clip: float) -> np.ndarray:
    x = band.astype(np.float64)
    valid = np.isfinite(x)
    if not valid.any():
        return np.full(x.shape, 0.5, dtype=np.float32)
    # remove a constant first so the moment sums keep their precision
    x = np.where(valid, x - np.nanmedian(x), 0.0)
    v = valid.astype(np.float64)
    kw = dict(size=window, mode="reflect")
    n = ndimage.uniform_filter(v, **kw)
    n_safe = np.maximum(n, 1e-12)
    mean = ndimage.uniform_filter(x, **kw) / n_safe
    sq = ndimage.uniform_filter(x * x, **kw) / n_safe
    var = np.maximum(sq - mean * mean, 0.0)
    std = np.sqrt(var)
    scale = np.nanmax(np.abs(x[valid])) if valid.any() else 1.0
    tiny = 1e-9 * max(scale, 1e-30)
    z = np.where(std > tiny, (x - mean) / np.maximum(std, tiny), 0.0)
    z = np.where(n > 1e-9, z, 0.0)
    out = 0.5 + np.clip(z, -clip, clip) / (2.0 * clip)
    out[~valid] = 0.5
    return out.astype(np.float32)


def _minmax(band: np.ndarray) -> np.ndarray:
    x = band.astype(np.float64)
    valid = np.isfinite(x)
    if not valid.any():
        return np.full(x.shape, 0.5, dtype=np.float32)
    lo, hi = np.min(x[valid]), np.max(x[valid])
    out = (x - lo) / (hi - lo) if hi > lo else np.full(x.shape, 0.5)
    out[~valid] = 0.5
    return out.astype(np.float32)


def normalize(array: np.ndarray, spec: dict) -> np.ndarray:
    """Normalise an array for a network as its model card says.

    Parameters
    ----------
    array : ndarray, shape (rows, cols) or (bands, rows, cols)
        Input values in their own units; NaN marks nodata.
    spec : dict
        The model card's ``normalization`` entry (see the module docstring).

    Returns
    -------
    ndarray of float32, shape (bands, rows, cols)
        Normalised values with NaN cells set to the neutral value.

    Examples
    --------
    >>> import numpy as np
    >>> a = np.array([[0.0, 10.0], [20.0, np.nan]])
    >>> normalize(a, {"mode": "minmax"})[0].tolist()
    [[0.0, 0.5], [1.0, 0.5]]
    """
    arr = np.asarray(array)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3:
        msg = f"expected a (rows, cols) or (bands, rows, cols) array, got shape {arr.shape}"
        raise GeocoreError(msg)
    mode = spec.get("mode")
    if mode == "local_zscore":
        window, clip = int(spec.get("window", 192)), float(spec.get("clip", 3.0))
        return np.stack([_local_zscore(b, window, clip) for b in arr])
    if mode == "minmax":
        return np.stack([_minmax(b) for b in arr])
    if mode == "affine":
        scale = np.asarray(spec.get("scale", [1.0] * arr.shape[0]), dtype=np.float64)
        offset = np.asarray(spec.get("offset", [0.0] * arr.shape[0]), dtype=np.float64)
        if scale.size not in (1, arr.shape[0]) or offset.size not in (1, arr.shape[0]):
            msg = f"normalisation has {scale.size} scales for {arr.shape[0]} bands; give one per band"
            raise GeocoreError(msg)
        out = arr.astype(np.float64) * scale.reshape(-1, 1, 1) + offset.reshape(-1, 1, 1)
        return np.nan_to_num(out, nan=0.0).astype(np.float32)
    msg = f"unknown normalisation mode {mode!r}; expected one of {', '.join(MODES)}"
    raise GeocoreError(msg)
