"""Reading survey grids into one georeferenced raster object, and writing GeoTIFFs.

Formats: everything GDAL reads through rasterio (GeoTIFF, Surfer 6/7 binary and
ASCII grids, ER Mapper ``.ers``, ...), netCDF grids through xarray (CF, and the
1-D ``easting``/``northing`` grids verde and harmonica write; h5netcdf reads
netCDF-4, scipy netCDF-3), and Geosoft Oasis montaj ``.grd`` grids through
:func:`harmonica.load_oasis_montaj_grid`, with their CRS taken from the
``.grd.xml`` companion.

The grid array is ``(rows, cols)`` with row 0 at the north edge (GDAL order),
float64, with nodata cells and Geosoft dummies as NaN.
"""

from __future__ import annotations

import os
import re
import warnings
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import InputError, OutputError, ParameterError
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
        Data type to write: ``float64`` only for values float32 would change.
    notes : list of str
        What the reader decided that the user should know (e.g. dummies read as
        nodata); may hold ``{param:NAME}`` placeholders (see :mod:`geocore.errors`).
    """

    data: np.ndarray
    transform: object
    crs: object = None
    units: Optional[str] = None
    source: Optional[Path] = None
    dtype: str = "float32"
    notes: list = field(default_factory=list)

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
            raise InputError(msg)

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
        msg = f"'{value}' is not a coordinate reference system; give {{param}} like EPSG:32633"
        raise ParameterError(msg, param="crs") from exc


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
        raise InputError(msg) from exc
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
        raise InputError(msg) from exc
    except Exception as exc:  # noqa: BLE001 (the reader raises bare errors on other binaries)
        msg = f"'{path}' is neither a raster GDAL reads nor a Geosoft grid ({type(exc).__name__}: {exc})"
        raise InputError(msg) from exc
    if float(da.attrs.get("rotation", 0.0) or 0.0) != 0.0:
        msg = f"'{path}' is a rotated Geosoft grid; un-rotate it in Oasis montaj and export it north-up"
        raise InputError(msg)
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
    return _Read(data, transform, geosoft_xml_crs(path), None, "float32", declares_nodata=True)


#: Values survey software writes for "no data" when the file declares none: Geosoft (-1e32),
#: Surfer (1.70141e38), and the round numbers many exporters use.
COMMON_DUMMIES = (-99999.0, -9999.0, -999999.0, -1e30, 1e30, -1e32, 1.70141e38)

#: Suffixes and leading bytes of netCDF files (classic and netCDF-4/HDF5).
NETCDF_SUFFIXES = (".nc", ".nc4", ".cdf", ".netcdf")
_NETCDF_MAGIC = (b"CDF\x01", b"CDF\x02", b"CDF\x05", b"\x89HDF")

_NETCDF_FORM = re.compile(r'^NETCDF:"?(.+?)"?:([^:"]+)$', re.IGNORECASE)
#: Coordinate names (lower case) of the east and north axes.
_X_NAMES = ("easting", "x", "east", "lon", "longitude", "long")
_Y_NAMES = ("northing", "y", "north", "lat", "latitude")


@dataclass
class _Read:
    """What a reader found: values (NaN for declared nodata), georeferencing and metadata."""

    data: np.ndarray
    transform: object
    crs: object = None
    units: Optional[str] = None
    dtype: str = "float32"
    declares_nodata: bool = True  #: the file names a finite nodata value (no dummy detection then)


def split_netcdf_name(path: str | os.PathLike) -> tuple[Path, Optional[str]]:
    """``NETCDF:"file.nc":tmi`` -> ``(Path("file.nc"), "tmi")``; any other path -> ``(path, None)``."""
    m = _NETCDF_FORM.match(str(path))
    if m:
        return Path(m.group(1)), m.group(2)
    return Path(path), None


def is_netcdf(path: Path) -> bool:
    """True for a netCDF file (by suffix or by its first bytes)."""
    if path.suffix.lower() in NETCDF_SUFFIXES:
        return True
    try:
        with open(path, "rb") as fh:
            head = fh.read(4)
    except OSError:
        return False
    return head.startswith(_NETCDF_MAGIC)


def _open_gdal(path: Path, variable: Optional[str] = None):
    """``path`` (or its netCDF ``variable``) opened with rasterio, or None where GDAL cannot open it.

    GDAL's warning that a file has no georeferencing is silenced: the callers
    check the transform and CRS themselves.
    """
    import rasterio
    from rasterio.errors import NotGeoreferencedWarning, RasterioIOError

    name = f'NETCDF:"{path}":{variable}' if variable else str(path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        try:
            return rasterio.open(name)
        except (RasterioIOError, OSError, ValueError):
            return None


def _read_gdal(path: Path, band: Optional[int], variable: Optional[str] = None) -> Optional[_Read]:
    from ..raster.io import band_choice_error, read_window

    ds = _open_gdal(path, variable)
    if ds is None:
        return None
    with ds:
        if ds.count == 0:  # a container with several variables: GDAL lists them as subdatasets
            subs = list(ds.subdatasets)
            if not subs:
                return None
            if len(subs) > 1:
                names = ", ".join(s.rsplit(":", 1)[-1] for s in subs)
                msg = f"'{path}' holds several variables ({names}); choose one with {{param}}"
                raise ParameterError(msg, param="variable")
            return _read_gdal(Path(subs[0]), band)
        if band is None:
            if ds.count > 1:
                raise band_choice_error(path, ds.count)
            band = 1
        if not 1 <= band <= ds.count:
            msg = f"band {band} is out of range: '{path}' has {ds.count} band(s); give {{param}} 1..{ds.count}"
            raise ParameterError(msg, param="band")
        dtype = ds.dtypes[band - 1]
        if np.dtype(dtype).kind == "c":
            msg = f"'{path}' holds complex numbers; give a real-valued grid"
            raise InputError(msg)
        data = read_window(ds, None, band)
        crs = ds.crs
        if crs is None and ds.driver == "ERS":
            crs = ers_header_crs(path)
        units = (ds.units[band - 1] or None) if ds.units else None
        transform = ds.transform
        if transform.is_identity and ds.crs is None:
            transform = None
        nodata = ds.nodatavals[band - 1]
        declares = nodata is not None and np.isfinite(nodata)
        return _Read(data, transform, crs, units, "float64" if dtype == "float64" else "float32", declares)


def _axis(da, names: tuple, axis: str, standard: str) -> Optional[str]:
    """The dimension of ``da`` that is the ``axis`` ("X"/"Y") coordinate, by name or CF attributes."""
    for dim in da.dims:
        coord = da.coords.get(dim)
        attrs = coord.attrs if coord is not None else {}
        if attrs.get("axis", "").upper() == axis or attrs.get("standard_name") == standard:
            return dim
    for dim in da.dims:
        if str(dim).lower() in names:
            return dim
    return None


def _regular(values: np.ndarray, what: str, path: Path) -> float:
    """The constant step of 1-D coordinates (InputError when they are not evenly spaced)."""
    steps = np.diff(values)
    step = float(np.median(steps))
    if step == 0 or not np.allclose(steps, step, rtol=1e-6, atol=0):
        msg = (f"'{path}' has unevenly spaced {what} coordinates; geocore reads regular grids only: "
               "interpolate it onto a regular grid first (e.g. verde)")
        raise InputError(msg)
    return step


def _cf_crs(ds, da):
    """CRS of a CF variable: its grid_mapping (``crs_wkt``/``spatial_ref`` or the CF parameters)."""
    from pyproj import CRS as ProjCRS
    from rasterio.crs import CRS

    mapping = da.attrs.get("grid_mapping") or da.encoding.get("grid_mapping")
    candidates = [mapping] if mapping else []
    candidates += [n for n in ("crs", "spatial_ref", "transverse_mercator") if n in ds.variables]
    for name in candidates:
        if name not in ds.variables:
            continue
        attrs = ds[name].attrs
        for key in ("crs_wkt", "spatial_ref"):
            if attrs.get(key):
                crs = _crs_from_wkt(str(attrs[key]))
                if crs is not None:
                    return crs
        try:
            proj = ProjCRS.from_cf(dict(attrs))
        except Exception:  # noqa: BLE001 (pyproj raises several kinds for incomplete CF attributes)
            continue
        epsg = proj.to_epsg(min_confidence=70)
        return CRS.from_epsg(epsg) if epsg else CRS.from_wkt(proj.to_wkt())
    for key in ("crs", "crs_wkt", "spatial_ref"):
        if isinstance(ds.attrs.get(key), str):
            crs = _crs_from_wkt(ds.attrs[key])
            if crs is not None:
                return crs
    return None


def _read_xarray(path: Path, variable: Optional[str]) -> Optional[_Read]:
    """A netCDF grid with 1-D coordinate variables, as verde, harmonica and xarray write them.

    Returns None when no xarray engine can open the file (GDAL is tried instead).
    """
    import xarray as xr
    from rasterio.transform import from_origin

    try:
        ds = xr.open_dataset(path, mask_and_scale=True, decode_times=False)
    except (ValueError, OSError, ImportError):
        return None
    with ds:
        grids = [str(n) for n, v in ds.data_vars.items() if len([d for d in v.dims if v.sizes[d] > 1]) == 2]
        if variable is None:
            if not grids:
                msg = f"'{path}' holds no two-dimensional variable; give a gridded netCDF file"
                raise InputError(msg)
            if len(grids) > 1:
                msg = f"'{path}' holds several grids ({', '.join(grids)}); choose one with {{param}}"
                raise ParameterError(msg, param="variable")
            variable = grids[0]
        if variable not in ds.data_vars:
            msg = (f"'{path}' has no variable '{variable}'; its grids are: {', '.join(grids) or 'none'}; "
                   "give one of them as {param}")
            raise ParameterError(msg, param="variable")
        da = ds[variable]
        da = da.squeeze([d for d in da.dims if da.sizes[d] == 1], drop=True)
        if da.ndim != 2:
            msg = f"variable '{variable}' of '{path}' has dimensions {da.dims}; give a two-dimensional grid"
            raise InputError(msg)
        xdim = _axis(da, _X_NAMES, "X", "projection_x_coordinate")
        ydim = _axis(da, _Y_NAMES, "Y", "projection_y_coordinate")
        if xdim is None or ydim is None or xdim == ydim:
            ydim, xdim = da.dims
        if xdim not in da.coords or ydim not in da.coords:
            return _Read(np.asarray(da.values, dtype=np.float64), None)  # no coordinates: no georeferencing
        da = da.transpose(ydim, xdim)
        east = np.asarray(da[xdim].values, dtype=np.float64)
        north = np.asarray(da[ydim].values, dtype=np.float64)
        data = np.asarray(da.values, dtype=np.float64)
        dx = abs(_regular(east, str(xdim), path)) if east.size > 1 else None
        dy = abs(_regular(north, str(ydim), path)) if north.size > 1 else None
        if dx is None or dy is None:
            msg = f"variable '{variable}' of '{path}' is one cell wide; give a grid of at least 2 x 2 cells"
            raise InputError(msg)
        if east[-1] < east[0]:
            east, data = east[::-1], data[:, ::-1]
        if north[-1] > north[0]:  # to north-up row order
            north, data = north[::-1], data[::-1]
        transform = from_origin(float(east[0]) - dx / 2, float(north[0]) + dy / 2, dx, dy)
        fill = da.encoding.get("_FillValue", da.encoding.get("missing_value"))
        declares = fill is not None and bool(np.all(np.isfinite(np.asarray(fill, dtype=float))))
        dtype = "float64" if np.dtype(da.encoding.get("dtype", da.dtype)) == np.float64 else "float32"
        units = da.attrs.get("units") or None
        return _Read(np.ascontiguousarray(data), transform, _cf_crs(ds, da), units, dtype, declares)


def find_dummies(data: np.ndarray) -> list[float]:
    """The :data:`COMMON_DUMMIES` that ``data`` holds as its extreme value.

    The rule: a value counts as a dummy only when it occurs exactly (in float32
    or float64) **and** is the grid's minimum (negative dummies) or maximum
    (positive ones), so a field whose real values reach -9999 is not cut.
    """
    finite = data[np.isfinite(data)]
    if finite.size == 0:
        return []
    lo, hi = float(finite.min()), float(finite.max())
    found = []
    for dummy in COMMON_DUMMIES:
        target = lo if dummy < 0 else hi
        if target in (dummy, float(np.float32(dummy))):
            found.append(dummy)
    return found


def read_grid(path: str | os.PathLike, *, band: Optional[int] = None, crs=None,
              require_crs: bool = True, variable: Optional[str] = None, nodata: Optional[float] = None,
              force_crs: bool = False) -> Grid:
    """Read a survey grid of any supported format.

    Parameters
    ----------
    path : str or path-like
        A GDAL raster (GeoTIFF, Surfer ``.grd``, ER Mapper ``.ers``, ...), a
        netCDF grid (CF, or verde/harmonica/xarray with 1-D ``easting`` /
        ``northing`` coordinates; also as ``NETCDF:"file.nc":variable``), or a
        Geosoft Oasis montaj ``.grd`` (CRS from its ``.grd.xml`` when present).
    band : int or None
        1-based band of a multi-band file (required when there are several).
    crs : str, CRS or None
        CRS to assign when the file has none (``"EPSG:26910"``, WKT, ...).
    require_crs : bool
        Raise when neither the file nor ``crs`` gives a CRS.
    variable : str or None
        The netCDF variable to read (required when the file holds several grids).
    nodata : float or None
        Value of the cells that hold no data. None: the file's nodata value;
        when the file declares none, the :data:`COMMON_DUMMIES` it holds as
        its extreme value are read as nodata (see :func:`find_dummies`;
        the grid's ``notes`` say so). ``nan`` turns that detection off.
    force_crs : bool
        Let ``crs`` replace a different CRS the file already has (a relabel,
        not a reprojection). Without it that is refused.

    Returns
    -------
    Grid
        float64 values with NaN for nodata and dummies; north-up row order.

    Raises
    ------
    InputError
        Missing file, unknown format, no georeferencing, or no valid cell.
    ParameterError
        Several bands or variables and none chosen, no CRS (when required), or
        a ``crs`` that would silently replace the file's.
    """
    path, named_variable = split_netcdf_name(path)
    variable = variable or named_variable
    if not path.exists():
        msg = f"input grid '{path}' does not exist; check the path"
        raise InputError(msg)
    if path.is_dir():
        msg = f"input '{path}' is a folder, not a grid; give the grid file"
        raise InputError(msg)
    result = None
    netcdf = is_netcdf(path)
    if netcdf:
        result = _read_xarray(path, variable)
    elif variable is not None:
        msg = f"'{path}' is not a netCDF file; {{param}} '{variable}' applies only to netCDF grids"
        raise ParameterError(msg, param="variable")
    if result is None:
        result = _read_gdal(path, band, variable if netcdf else None)
    if result is None:
        if path.suffix.lower() in GEOSOFT_SUFFIXES:
            result = _read_geosoft(path)
        else:
            msg = (f"'{path}' is not a grid format geocore reads; give a GeoTIFF, Surfer or Geosoft .grd, "
                   "ER Mapper .ers, netCDF or another GDAL raster")
            raise InputError(msg)
    if result.transform is None:
        msg = (f"'{path}' has no georeferencing (no cell size or origin): it has no coordinate variables "
               "or geotransform; give a georeferenced grid")
        raise InputError(msg)
    data, notes = result.data, []
    if nodata is not None:
        if np.isfinite(nodata):
            data = np.where(data == nodata, np.nan, data)
    elif not result.declares_nodata:
        for dummy in find_dummies(data):
            data = np.where((data == dummy) | (data == float(np.float32(dummy))), np.nan, data)
            notes.append(f"cells equal to {dummy:g} are read as nodata (a common dummy value; the file declares "
                         "no nodata value); to keep them as data give {param:nodata} nan")
    grid_crs = _assigned_crs(path, result.crs, crs, force_crs)
    if grid_crs is None and require_crs:
        msg = (f"'{path}' has no coordinate reference system; give it with {{param}} (e.g. EPSG:32633) "
               "or add a .prj/.xml companion")
        raise ParameterError(msg, param="crs")
    if not np.isfinite(data).any():
        msg = f"'{path}' holds no valid cell (all nodata, dummies or NaN); check the file or its nodata value"
        raise InputError(msg)
    return Grid(data=data, transform=result.transform, crs=grid_crs, units=result.units, source=path,
                dtype=_storage_dtype(result.dtype, data), notes=notes)


def _assigned_crs(path: Path, file_crs, crs, force: bool):
    """The grid's CRS: the file's, or ``crs`` when the file has none (or ``force``)."""
    if crs is None:
        return file_crs
    user = _crs_from_user(crs)
    if file_crs is None or force or user == file_crs:
        return user
    from pyproj import CRS as ProjCRS

    if ProjCRS.from_user_input(user.to_wkt()).equals(ProjCRS.from_user_input(file_crs.to_wkt()),
                                                      ignore_axis_order=True):
        return user
    msg = (f"'{path}' already has the CRS {file_crs.to_string()}; {{param}} {user.to_string()} would relabel it "
           "without reprojecting. Leave {param} out, reproject the grid (gdalwarp -t_srs) if it really is in "
           "another CRS, or add {param:force_crs} if the file's CRS is wrong")
    raise ParameterError(msg, param="crs")


def _storage_dtype(dtype: str, data: np.ndarray) -> str:
    """float64 only for values that float32 would change; float32 otherwise.

    Some formats store doubles whatever the data (Surfer 7, many netCDF
    writers): a grid whose values are exact in float32 is written as float32,
    as its ER Mapper or GeoTIFF copy would be.
    """
    if dtype != "float64":
        return "float32"
    finite = data[np.isfinite(data)]
    return "float32" if np.array_equal(finite.astype(np.float32).astype(np.float64), finite) else "float64"


def write_geotiff(grid: Grid, path: str | os.PathLike, *, dtype: Optional[str] = None, cancel=None) -> Path:
    """Write ``grid`` as a tiled, deflate-compressed GeoTIFF with NaN as nodata (atomically).

    Parameters
    ----------
    grid : Grid
    path : str or path-like
        Destination ``.tif``; never one of the grid's inputs.
    dtype : str or None
        ``"float32"`` or ``"float64"``; default ``grid.dtype`` (float64 only for
        values float32 would change, see :func:`read_grid`).
    cancel : callable or None
        Called before the file moves into place; raising there (e.g.
        :class:`~geocore.errors.Cancelled`) leaves no file.
    """
    import rasterio

    path = Path(path)
    if path.suffix.lower() not in (".tif", ".tiff"):
        msg = f"output '{path}' must be a GeoTIFF (.tif)"
        raise OutputError(msg)
    check_not_input([path], [grid.source] if grid.source else [])
    dtype = dtype or grid.dtype
    rows, cols = grid.shape
    profile = gtiff_profile(cols, rows, 1, dtype, crs=grid.crs, transform=grid.transform, nodata=float("nan"),
                            predictor=3)
    with atomic_output(path) as tmp, rasterio.open(tmp, "w", **profile) as dst:
        dst.write(grid.data.astype(dtype), 1)
        if grid.units:
            dst.set_band_unit(1, grid.units)
        if cancel is not None:
            cancel()
    return path


def convert_grid(src: str | os.PathLike, dst: str | os.PathLike, *, band: Optional[int] = None,
                 crs=None, variable: Optional[str] = None, nodata: Optional[float] = None,
                 force_crs: bool = False, progress=None, cancel=None) -> Grid:
    """Read any supported grid and write it as a GeoTIFF with CRS and nodata.

    Parameters are those of :func:`read_grid`; ``progress(fraction)`` and
    ``cancel()`` as everywhere in geocore. Returns the grid read. Raises
    GeocoreError before anything is written; a cancelled run leaves no file.
    """
    from ..progress import Progress

    prog = Progress.wrap(progress, cancel)
    src_path, _ = split_netcdf_name(src)
    check_not_input([dst], [src_path])
    prog.update(0.05)
    grid = read_grid(src, band=band, crs=crs, variable=variable, nodata=nodata, force_crs=force_crs)
    prog.update(0.6)
    write_geotiff(grid, dst, cancel=prog.check)
    prog.update(1.0)
    return grid


def check_streamable(path: str | os.PathLike, band: Optional[int] = None) -> None:
    """Refuse, with the fix, a grid that tools reading GDAL rasters window by window would misread.

    Lineament detection streams its input through GDAL. A Geosoft ``.grd``
    (GDAL cannot read it), a netCDF grid GDAL cannot georeference (1-D
    ``easting``/``northing`` coordinates, several variables) and a grid with
    common dummies but no nodata value (see :func:`find_dummies`, checked on a
    decimated read) are refused with a pointer to ``geocore grid convert``,
    which reads them all. Anything else (including what GDAL cannot open) is
    left to the caller's own checks.
    """
    path, variable = split_netcdf_name(path)
    if not path.is_file():
        return
    fix = ("convert it to GeoTIFF first with 'geocore grid convert' (in QGIS: 'Convert survey grid to GeoTIFF'), "
           "which reads it")
    ds = _open_gdal(path, variable)
    if ds is None:
        if path.suffix.lower() in GEOSOFT_SUFFIXES:
            raise InputError(f"'{path}' is not a raster GDAL reads (a Geosoft .grd?); {fix}")
        return
    with ds:
        if ds.count == 0 and ds.subdatasets:
            raise InputError(f"'{path}' holds several variables; {fix} (choose the variable there)")
        if ds.count == 0:
            return
        if ds.transform.is_identity and ds.crs is None and is_netcdf(path):
            raise InputError(f"'{path}' is a netCDF grid whose coordinates GDAL does not understand; {fix}")
        b = band if band is not None and 1 <= band <= ds.count else 1
        nodata = ds.nodatavals[b - 1]
        if np.dtype(ds.dtypes[b - 1]).kind == "f" and (nodata is None or not np.isfinite(nodata)):
            f = max(1, int(np.ceil(max(ds.height, ds.width) / 1024)))
            small = ds.read(b, out_shape=(max(1, ds.height // f), max(1, ds.width // f))).astype(np.float64)
            dummies = find_dummies(small)
            if dummies:
                raise InputError(f"'{path}' holds {dummies[0]:g} cells, a common dummy value, but declares no nodata "
                                 f"value, so they would be read as data; {fix} as nodata, or set the nodata value "
                                 f"with gdal_edit.py -a_nodata {dummies[0]:g}")
