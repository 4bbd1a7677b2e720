"""Reading survey grids into one georeferenced raster object, and writing GeoTIFFs.

Formats: everything GDAL reads through rasterio (GeoTIFF, Surfer 6/7 binary and
ASCII grids, ER Mapper ``.ers``, netCDF following the CF conventions, ...) and
Geosoft Oasis montaj ``.grd`` grids through :func:`harmonica.load_oasis_montaj_grid`,
with their CRS taken from the ``.grd.xml`` companion.

The grid array is ``(rows, cols)`` with row 0 at the north edge (GDAL order),
float64, with nodata cells and Geosoft dummies as NaN.
"""

from __future__ import annotations

import os
import re
import warnings
import xml.etree.ElementTree as ET
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import GeocoreError
from ..files import atomic_output, check_not_input
from ..raster.profile import gtiff_profile

#: Suffixes read with harmonica's Geosoft reader (GDAL cannot).
GEOSOFT_SUFFIXES = (".grd",)


@dataclass
class Grid:
    """A georeferenced single-band grid held in memory.

    Attributes
    ----------
    data : ndarray of float64, shape (rows, cols)
        Values; row 0 is the northern (top) edge. Nodata cells are NaN.
    transform : affine.Affine
        Cell-corner transform, (col, row) -> (x, y) in CRS units.
    crs : rasterio.crs.CRS or None
        Coordinate reference system; None when the file has none.
    units : str or None
        Units of the values (e.g. ``"nT"``) when the file states them.
    source : Path or None
        The file the grid was read from.
    dtype : str
        Data type in the file (``float64`` sources are written back as float64).
    """

    data: np.ndarray
    transform: object
    crs: object = None
    units: Optional[str] = None
    source: Optional[Path] = None
    dtype: str = "float32"

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, cols)``."""
        return tuple(self.data.shape)  # type: ignore[return-value]

    @property
    def spacing(self) -> tuple[float, float]:
        """Cell size ``(dy, dx)`` in CRS units (both positive), as harmonica orders them."""
        return abs(float(self.transform.e)), abs(float(self.transform.a))

    @property
    def bounds(self) -> tuple[float, float, float, float]:
        """``(west, south, east, north)`` of the cell edges."""
        from rasterio.transform import array_bounds

        rows, cols = self.shape
        west, south, east, north = array_bounds(rows, cols, self.transform)
        return float(west), float(south), float(east), float(north)

    def coordinates(self) -> tuple[np.ndarray, np.ndarray]:
        """Cell-centre coordinates ``(easting (cols,), northing (rows,))``; northing decreases."""
        rows, cols = self.shape
        t = self.transform
        easting = t.c + t.a * (np.arange(cols) + 0.5)
        northing = t.f + t.e * (np.arange(rows) + 0.5)
        return easting, northing

    def with_data(self, data: np.ndarray, units: Optional[str] = "same") -> "Grid":
        """The same georeferencing around new values (``units="same"`` keeps the units)."""
        data = np.asarray(data, dtype=np.float64)
        if data.shape != self.shape:
            msg = f"new data has shape {data.shape}, the grid {self.shape}"
            raise ValueError(msg)
        return replace(self, data=data, units=self.units if units == "same" else units,
                       dtype="float64" if self.dtype == "float64" else "float32")

    def check_axis_aligned(self) -> None:
        """Raise GeocoreError for rotated or sheared grids (the transforms need north-up rows)."""
        t = self.transform
        if t.b != 0 or t.d != 0 or t.a <= 0 or t.e >= 0:
            msg = (f"grid '{self.source}' is rotated or flipped (transform {tuple(t)[:6]}); "
                   "warp it north-up first, e.g. gdalwarp -of GTiff IN OUT.tif")
            raise GeocoreError(msg)

    def to_dataarray(self):
        """The grid as an ``xarray.DataArray`` with dims ``("northing", "easting")``,
        both coordinates increasing (harmonica's and verde's layout)."""
        import xarray as xr

        self.check_axis_aligned()
        easting, northing = self.coordinates()
        return xr.DataArray(self.data[::-1], coords={"northing": northing[::-1], "easting": easting},
                            dims=("northing", "easting"))


# ----------------------------------------------------------------------------- CRS helpers
def _crs_from_user(value) -> object:
    from rasterio.crs import CRS
    from rasterio.errors import CRSError

    if value is None:
        return None
    if isinstance(value, CRS):
        return value
    try:
        return CRS.from_user_input(value)
    except (CRSError, ValueError, TypeError) as exc:
        msg = f"'{value}' is not a coordinate reference system; give one like EPSG:32633"
        raise GeocoreError(msg) from exc


def _crs_from_wkt(wkt: str):
    """rasterio CRS from (ESRI or OGC) WKT; prefers the EPSG code when there is one."""
    from pyproj import CRS as ProjCRS
    from rasterio.crs import CRS

    try:
        proj = ProjCRS.from_user_input(wkt)
    except Exception:  # noqa: BLE001 (pyproj raises CRSError subclasses of several kinds)
        return None
    epsg = proj.to_epsg(min_confidence=70)
    return CRS.from_epsg(epsg) if epsg else CRS.from_wkt(proj.to_wkt())


def geosoft_xml_crs(path: str | os.PathLike):
    """CRS of a Geosoft grid from its ``.grd.xml`` companion, or None.

    The ``wellknown_epsg`` attribute of ``<projection>`` is used when present,
    else the WKT stored as ``FIND_DATA::CoordinateSystem`` (ESRI flavour, often
    with an ``AUTHORITY["EPSG", n]``), else the projection's name.
    """
    from rasterio.crs import CRS

    xml = Path(str(path) + ".xml")
    if not xml.is_file():
        return None
    try:
        root = ET.parse(xml).getroot()
    except ET.ParseError as exc:
        msg = f"'{xml}' is not valid XML ({exc}); repair or remove it, or give the CRS explicitly"
        raise GeocoreError(msg) from exc
    names = []
    for el in root.iter():
        tag = el.tag.rsplit("}", 1)[-1]
        if tag == "projection":
            if el.get("wellknown_epsg", "").strip().isdigit():
                return CRS.from_epsg(int(el.get("wellknown_epsg")))
            if el.get("name"):
                names.append(el.get("name"))
    for el in root.iter():
        for key in ("value", "{http://www.w3.org/1999/xlink}title"):
            text = el.get(key) or ""
            if text.startswith(("PROJCS[", "GEOGCS[", "PROJCRS[", "GEOGCRS[")):
                crs = _crs_from_wkt(text)
                if crs is not None:
                    return crs
    for name in names:
        crs = _crs_from_wkt(name)
        if crs is not None:
            return crs
    return None


#: ER Mapper datums with a UTM-like grid in EPSG: datum -> (north base, south base).
_ERS_UTM = {"WGS84": (32600, 32700), "NAD83": (26900, None), "NAD27": (26700, None),
            "GDA94": (None, 28300), "GDA2020": (None, 7800), "ETRS89": (25800, None)}


def ers_header_crs(path: str | os.PathLike):
    """CRS of an ER Mapper ``.ers`` header with a ``[NS]UTMnn`` projection, or None.

    GDAL maps ER Mapper projection names through a table that is often not
    installed; the common UTM case is decoded here (e.g. GDA94 + SUTM54 is
    GDA94 / MGA zone 54, EPSG:28354).
    """
    from rasterio.crs import CRS

    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return None
    datum = re.search(r'Datum\s*=\s*"?([\w-]+)"?', text)
    proj = re.search(r'Projection\s*=\s*"?([NS])UTM(\d{1,2})"?', text)
    if not (datum and proj):
        return None
    bases = _ERS_UTM.get(datum.group(1).upper().replace("-", ""))
    if bases is None:
        return None
    base = bases[0] if proj.group(1) == "N" else bases[1]
    if base is None:
        return None
    return CRS.from_epsg(base + int(proj.group(2)))


# ----------------------------------------------------------------------------- readers
def _read_geosoft(path: Path):
    import harmonica as hm
    from rasterio.transform import from_origin

    try:
        da = hm.load_oasis_montaj_grid(path)
    except NotImplementedError as exc:
        msg = f"'{path}' is a Geosoft grid harmonica cannot read ({exc}); export it as GeoTIFF from Oasis montaj"
        raise GeocoreError(msg) from exc
    except Exception as exc:  # noqa: BLE001 (the reader raises bare errors on other binaries)
        msg = f"'{path}' is neither a raster GDAL reads nor a Geosoft grid ({type(exc).__name__}: {exc})"
        raise GeocoreError(msg) from exc
    if float(da.attrs.get("rotation", 0.0) or 0.0) != 0.0:
        msg = f"'{path}' is a rotated Geosoft grid; un-rotate it in Oasis montaj and export it north-up"
        raise GeocoreError(msg)
    dims = list(da.dims)
    ydim = "northing" if "northing" in dims else dims[0]
    xdim = "easting" if "easting" in dims else dims[1]
    da = da.transpose(ydim, xdim)
    east = np.asarray(da[xdim].values, dtype=float)
    north = np.asarray(da[ydim].values, dtype=float)
    data = np.asarray(da.values, dtype=np.float64)
    if east.size > 1 and east[1] < east[0]:
        east, data = east[::-1], data[:, ::-1]
    if north.size > 1 and north[1] > north[0]:  # to north-up row order
        north, data = north[::-1], data[::-1]
    dx = float(np.median(np.diff(east))) if east.size > 1 else float(da.attrs.get("spacing_e", 1.0))
    dy = float(-np.median(np.diff(north))) if north.size > 1 else float(da.attrs.get("spacing_n", 1.0))
    transform = from_origin(float(east[0]) - dx / 2, float(north[0]) + dy / 2, dx, dy)
    data = np.where(np.isfinite(data), data, np.nan)
    return data, transform, geosoft_xml_crs(path), None, "float32"


def _read_gdal(path: Path, band: Optional[int]):
    import rasterio
    from rasterio.errors import NotGeoreferencedWarning, RasterioIOError

    from ..raster.io import band_choice_error, read_window

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        try:
            ds = rasterio.open(path)
        except (RasterioIOError, OSError, ValueError):
            return None
    with ds:
        if ds.count == 0:  # a netCDF with several variables: GDAL lists them as subdatasets
            subs = list(ds.subdatasets)
            if not subs:
                return None
            if len(subs) > 1:
                names = ", ".join(s.rsplit(":", 1)[-1] for s in subs)
                msg = (f"'{path}' holds several variables ({names}); give one as "
                       f"NETCDF:\"{path}\":NAME")
                raise GeocoreError(msg)
            return _read_gdal(Path(subs[0]), band)
        if band is None:
            if ds.count > 1:
                raise band_choice_error(path, ds.count)
            band = 1
        if not 1 <= band <= ds.count:
            msg = f"band {band} is out of range: '{path}' has {ds.count} band(s)"
            raise GeocoreError(msg)
        dtype = ds.dtypes[band - 1]
        if np.dtype(dtype).kind == "c":
            msg = f"'{path}' holds complex numbers; give a real-valued grid"
            raise GeocoreError(msg)
        data = read_window(ds, None, band)
        crs = ds.crs
        if crs is None and ds.driver == "ERS":
            crs = ers_header_crs(path)
        units = (ds.units[band - 1] or None) if ds.units else None
        transform = ds.transform
        if transform.is_identity and ds.crs is None:
            transform = None
        return data, transform, crs, units, "float64" if dtype == "float64" else "float32"


def read_grid(path: str | os.PathLike, *, band: Optional[int] = None, crs=None,
              require_crs: bool = True) -> Grid:
    """Read a survey grid of any supported format.

    Parameters
    ----------
    path : str or path-like
        A GDAL raster (GeoTIFF, Surfer ``.grd``, ER Mapper ``.ers``, CF netCDF, ...)
        or a Geosoft Oasis montaj ``.grd`` (CRS from its ``.grd.xml`` when present).
    band : int or None
        1-based band of a multi-band file (required when there are several).
    crs : str, CRS or None
        CRS to assign (``"EPSG:26910"``, WKT, ...), overriding the file's.
    require_crs : bool
        Raise when neither the file nor ``crs`` gives a CRS.

    Returns
    -------
    Grid
        float64 values with NaN for nodata and dummies; north-up row order.

    Raises
    ------
    GeocoreError
        Missing file, unknown format, no CRS (when required), no
        georeferencing, or no valid cell.
    """
    path = Path(path)
    if not str(path).upper().startswith("NETCDF:") and not path.exists():
        msg = f"input grid '{path}' does not exist; check the path"
        raise GeocoreError(msg)
    if path.is_dir():
        msg = f"input '{path}' is a folder, not a grid; give the grid file"
        raise GeocoreError(msg)
    result = _read_gdal(path, band)
    if result is None:
        if path.suffix.lower() in GEOSOFT_SUFFIXES:
            result = _read_geosoft(path)
        else:
            msg = (f"'{path}' is not a grid format geocore reads; give a GeoTIFF, Surfer or Geosoft .grd, "
                   "ER Mapper .ers, netCDF or another GDAL raster")
            raise GeocoreError(msg)
    data, transform, file_crs, units, dtype = result
    if transform is None:
        msg = f"'{path}' has no georeferencing (no cell size or origin); give a georeferenced grid"
        raise GeocoreError(msg)
    grid_crs = _crs_from_user(crs) if crs is not None else file_crs
    if grid_crs is None and require_crs:
        msg = (f"'{path}' has no coordinate reference system; give it with --crs (e.g. --crs EPSG:32633; "
               "in QGIS the 'CRS to assign' parameter) or add a .prj/.xml companion")
        raise GeocoreError(msg)
    if not np.isfinite(data).any():
        msg = f"'{path}' holds no valid cell (all nodata, dummies or NaN); check the file or its nodata value"
        raise GeocoreError(msg)
    return Grid(data=data, transform=transform, crs=grid_crs, units=units, source=path, dtype=dtype)


def write_geotiff(grid: Grid, path: str | os.PathLike, *, dtype: Optional[str] = None) -> Path:
    """Write ``grid`` as a tiled, deflate-compressed GeoTIFF with NaN as nodata (atomically).

    Parameters
    ----------
    grid : Grid
    path : str or path-like
        Destination ``.tif``; never one of the grid's inputs.
    dtype : str or None
        ``"float32"`` or ``"float64"``; default keeps float64 sources as float64.
    """
    import rasterio

    path = Path(path)
    if path.suffix.lower() not in (".tif", ".tiff"):
        msg = f"output '{path}' must be a GeoTIFF (.tif)"
        raise GeocoreError(msg)
    check_not_input([path], [grid.source] if grid.source else [])
    dtype = dtype or grid.dtype
    rows, cols = grid.shape
    profile = gtiff_profile(cols, rows, 1, dtype, crs=grid.crs, transform=grid.transform, nodata=float("nan"),
                            predictor=3)
    with atomic_output(path) as tmp, rasterio.open(tmp, "w", **profile) as dst:
        dst.write(grid.data.astype(dtype), 1)
        if grid.units:
            dst.set_band_unit(1, grid.units)
    return path


def convert_grid(src: str | os.PathLike, dst: str | os.PathLike, *, band: Optional[int] = None,
                 crs=None) -> Grid:
    """Read any supported grid and write it as a GeoTIFF with CRS and nodata.

    Returns the grid read. Raises GeocoreError before anything is written.
    """
    check_not_input([dst], [src])
    grid = read_grid(src, band=band, crs=crs)
    write_geotiff(grid, dst)
    return grid
