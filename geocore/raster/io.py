"""Opening rasters with clear checks, and NaN-aware windowed reading.

Everything here reads through rasterio windows, so memory is bounded by the
window asked for, never by the raster.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from ..errors import GeocoreError, ParameterError
from ..system import check_fits_in_memory

#: Longest edge of the decimated read used by the quick "any valid cell?" check.
QUICK_CHECK_EDGE = 1024


class NotGeoreferencedGrid(UserWarning):
    """The raster has no geotransform; results are in pixel coordinates."""


@dataclass
class RasterInfo:
    """What geocore needs to know about an input raster.

    Attributes
    ----------
    path : Path
        The raster file.
    band : int
        The chosen band, 1-based.
    width, height : int
        Size in cells (columns, rows).
    count : int
        Number of bands in the file.
    crs : rasterio.crs.CRS or None
        Coordinate reference system, None when the file has none.
    transform : affine.Affine
        Cell-corner affine transform, pixel (col, row) -> map (x, y).
    nodata : float or None
        The band's nodata value (cells equal to it are read as NaN).
    dtype : str
        The band's data type, e.g. ``"float32"``.
    georeferenced : bool
        False when the file has no geotransform (pixel coordinates are used).
    """

    path: Path
    band: int
    width: int
    height: int
    count: int
    crs: object
    transform: object
    nodata: Optional[float]
    dtype: str
    georeferenced: bool

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, cols)``."""
        return self.height, self.width

    @property
    def cell_size(self) -> float:
        """Mean of the absolute cell width and height, in map units."""
        t = self.transform
        return float((abs(t.a) + abs(t.e)) / 2.0) if (t.a and t.e) else float(np.hypot(t.a, t.b))


def open_gdal(path: Path, *, missing: str, folder: Optional[str], unreadable: str):
    """``rasterio.open(path)`` for reading, with a clear message for each way it fails.

    Parameters
    ----------
    path : Path
    missing, folder, unreadable : str
        Messages (``{path}`` is filled in) of the :class:`GeocoreError` raised
        when ``path`` does not exist, is a folder (``None``: let GDAL try the
        folder, e.g. an ArcInfo grid) or is not a dataset GDAL can read.
        Pixel-only images open without ``NotGeoreferencedWarning``.
    """
    import rasterio
    from rasterio.errors import NotGeoreferencedWarning, RasterioIOError

    if not path.exists():
        raise GeocoreError(missing.format(path=path))
    if folder is not None and path.is_dir():
        raise GeocoreError(folder.format(path=path))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        try:
            return rasterio.open(path)
        except (RasterioIOError, OSError, ValueError) as exc:
            raise GeocoreError(unreadable.format(path=path)) from exc


def band_choice_error(path, count: int) -> ParameterError:
    """The error for a raster of ``count`` bands read without naming one (the message all readers share)."""
    return ParameterError(f"'{path}' has {count} bands; choose one with {{param}} (1..{count})", param="band")


def _open(path: Path):
    arcinfo_grid = path.is_dir() and any(path.glob("*.adf"))
    return open_gdal(path, missing="input raster '{path}' does not exist; check the path",
                     folder=None if arcinfo_grid else "input '{path}' is a folder, not a raster; give the raster file",
                     unreadable="'{path}' is not a raster GDAL can read; give a GeoTIFF or another GDAL raster format")


def open_raster_checked(
    path: str | os.PathLike,
    band: Optional[int] = None,
    *,
    allow_integer: bool = False,
    check_valid: bool = True,
    what: str = "magnetic grid",
) -> RasterInfo:
    """Open ``path`` and check that geocore can use it, without reading it all.

    Parameters
    ----------
    path : str or path-like
        Any raster GDAL reads.
    band : int or None
        Band to use, 1-based. Required when the raster has more than one band.
    allow_integer : bool
        Accept integer data types (photographs). Magnetic grids are floating
        point, so by default an integer raster is refused.
    check_valid : bool
        Also check (cheaply, on a decimated read first) that at least one cell
        holds a value.
    what : str
        How the raster is called in error messages.

    Returns
    -------
    RasterInfo

    Raises
    ------
    GeocoreError
        Missing file, not a raster, multi-band without ``band``, band out of
        range, integer data (unless allowed), or no valid cell at all.

    Warns
    -----
    NotGeoreferencedGrid
        When the raster has no geotransform: it is processed in pixel
        coordinates (x = column, y = row, cell centres at half-integers).
    """
    path = Path(path)
    ds = _open(path)
    with ds:
        count = ds.count
        if band is None:
            if count > 1:
                raise band_choice_error(path, count)
            band = 1
        band = int(band)
        if not 1 <= band <= count:
            msg = f"band {band} is out of range: '{path}' has {count} band{'s' if count > 1 else ''} (1..{count})"
            raise GeocoreError(msg)
        dtype = ds.dtypes[band - 1]
        kind = np.dtype(dtype).kind
        if kind in "iu" and not allow_integer:
            msg = (f"'{path}' is an integer raster ({dtype}); {what}s are floating point: "
                   f"convert with gdal_translate -ot Float32 if it really is a grid")
            raise GeocoreError(msg)
        if kind == "c":
            msg = f"'{path}' holds complex numbers ({dtype}); give a real-valued {what}"
            raise GeocoreError(msg)
        georef = not ds.transform.is_identity or ds.crs is not None
        info = RasterInfo(path=path, band=band, width=ds.width, height=ds.height, count=count,
                          crs=ds.crs, transform=ds.transform, nodata=ds.nodatavals[band - 1],
                          dtype=dtype, georeferenced=bool(georef))
        try:
            valid = has_valid_cells(ds, band) if check_valid else True
        except Exception as exc:  # RasterioIOError "Read failed": truncated or damaged file
            if not type(exc).__module__.startswith("rasterio"):
                raise
            msg = f"could not read '{path}' ({exc}); the file is truncated or damaged: export it again"
            raise GeocoreError(msg) from exc
        if not valid:
            msg = f"'{path}' contains no valid cells (all nodata or NaN) in band {band}; check the nodata value or the band"
            raise GeocoreError(msg)
    if not info.georeferenced:
        warnings.warn(f"'{path}' is not georeferenced; outputs are in pixel coordinates",
                      NotGeoreferencedGrid, stacklevel=2)
    return info


def check_size(width: int, height: int, path, *, minimum: int = 8, bytes_per_cell: float = 0.0,
               what: str = "raster", available: Optional[int] = None) -> None:
    """Refuse, before any work, a raster too small to process or too large for memory.

    Parameters
    ----------
    width, height : int
        Size in cells.
    path : path
        For messages.
    minimum : int
        Smallest accepted number of rows and of columns.
    bytes_per_cell : float
        Memory the processing holds per cell (0: no memory check).
    what : str
        How the raster is called in messages.
    available : int, optional
        Bytes available (default: :func:`geocore.system.available_memory`).
    """
    if min(int(width), int(height)) < minimum:
        raise GeocoreError(f"{what} '{path}' is {width} x {height} cells: too small; it needs at least "
                           f"{minimum} x {minimum} cells")
    if bytes_per_cell:
        check_fits_in_memory(float(width) * float(height) * bytes_per_cell,
                             f"{what} '{path}' is {width} x {height} cells: processing it", available=available)


def has_valid_cells(ds, band: int = 1) -> bool:
    """True when band ``band`` of the open dataset ``ds`` has a finite, unmasked cell.

    A decimated read (at most :data:`QUICK_CHECK_EDGE` cells a side) answers
    at once for any ordinary grid; only when it sees no valid cell are the
    blocks scanned one by one, so a grid with a few isolated values is not
    refused.
    """
    from rasterio.windows import Window

    h, w = ds.height, ds.width
    f = max(1, int(np.ceil(max(h, w) / QUICK_CHECK_EDGE)))
    small = ds.read(band, out_shape=(max(1, h // f), max(1, w // f)), masked=True)
    if _any_valid(small):
        return True
    if f == 1:
        return False
    step = max(1, (64 * 1024 * 1024) // (8 * w))  # about 64 MiB a read
    for r0 in range(0, h, step):
        win = Window(0, r0, w, min(step, h - r0))
        if _any_valid(ds.read(band, window=win, masked=True)):
            return True
    return False


def _any_valid(arr: np.ma.MaskedArray) -> bool:
    data = np.ma.getdata(arr)
    valid = ~np.ma.getmaskarray(arr)
    if data.dtype.kind == "f":
        valid &= np.isfinite(data)
    return bool(valid.any())


def read_window(ds, window=None, bands: Sequence[int] | int = 1) -> np.ndarray:
    """Read a window of an open dataset as float64 with nodata cells as NaN.

    Parameters
    ----------
    ds : rasterio dataset (open for reading)
    window : rasterio.windows.Window or None
        The window to read; None reads the whole band (small rasters only).
    bands : int or sequence of int
        1-based band index(es).

    Returns
    -------
    ndarray of float64
        Shape ``(rows, cols)`` for one band given as an int, else
        ``(bands, rows, cols)``. Cells masked by the band's nodata value or
        mask, and non-finite cells, are NaN.
    """
    single = isinstance(bands, (int, np.integer))
    idx = [int(bands)] if single else [int(b) for b in bands]
    arr = ds.read(idx, window=window, masked=True)
    out = np.ma.getdata(arr).astype(np.float64)
    out[np.ma.getmaskarray(arr)] = np.nan
    out[~np.isfinite(out)] = np.nan
    return out[0] if single else out
