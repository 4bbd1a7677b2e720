"""Gridding flight-line data (CSV/XYZ) to a GeoTIFF, with a blanking distance.

Points are projected to the target CRS (pyproj), reduced to one median per
cell (as :class:`verde.BlockReduce` does, with pandas group medians), interpolated on the cell centres with a
verde gridder (linear triangulation by default) and blanked farther than the
blanking distance from any data (:func:`verde.distance_mask`), so no value is
invented far from the lines.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import GeocoreError
from ..files import check_not_input
from ..progress import Progress

#: Column names tried, in order, when none is given: (x, y, is_geographic).
COORDINATE_COLUMNS = (("x", "y", False), ("easting", "northing", False), ("east", "north", False),
                      ("longitude", "latitude", True), ("lon", "lat", True), ("long", "lat", True))
#: Interpolation methods and the verde gridder behind each.
METHODS = ("linear", "nearest", "cubic")
#: Largest output grid, in cells (a guard against a cell size given in the wrong unit).
MAX_CELLS = 200_000_000


@dataclass
class LineGridParams:
    """Options of :func:`grid_flight_lines`, shared by the CLI, QGIS and tests.

    Attributes
    ----------
    cell : float
        Cell size in metres (target CRS units).
    value : str
        Column holding the values to grid.
    crs : str or None
        Target CRS (e.g. ``"EPSG:27700"``). None: the source CRS when it is
        projected, else the UTM zone of the data's centre.
    x, y : str or None
        Coordinate columns. None: the first of x/y, easting/northing,
        longitude/latitude, lon/lat found (case-insensitive).
    source_crs : str or None
        CRS of the coordinate columns. None: EPSG:4326 for longitude/latitude
        columns; required otherwise.
    blank : float or None
        Blanking distance in metres: cells farther than this from every data
        point are nodata. None: three cells.
    method : str
        ``"linear"`` (Delaunay, :class:`verde.Linear`), ``"nearest"``
        (:class:`verde.KNeighbors` with one neighbour) or ``"cubic"``
        (:class:`verde.Cubic`). Outside the convex hull of the data (and
        within the blanking distance) linear and cubic take the nearest value.
    threads : int
        Largest number of BLAS/OpenMP threads used.
    """

    cell: float
    value: str
    crs: Optional[str] = None
    x: Optional[str] = None
    y: Optional[str] = None
    source_crs: Optional[str] = None
    blank: Optional[float] = None
    method: str = "linear"
    threads: int = 2

    @classmethod
    def add_arguments(cls, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--cell", type=float, required=True, help="cell size in metres")
        parser.add_argument("--value", required=True, help="column to grid, e.g. total_field_anomaly_nt")
        parser.add_argument("--crs", default=None,
                            help="target CRS, e.g. EPSG:27700 (default: the UTM zone of the data)")
        parser.add_argument("--x", default=None, help="x / longitude column (default: found by name)")
        parser.add_argument("--y", default=None, help="y / latitude column (default: found by name)")
        parser.add_argument("--source-crs", default=None,
                            help="CRS of the coordinate columns (default EPSG:4326 for longitude/latitude)")
        parser.add_argument("--blank", type=float, default=None,
                            help="blanking distance in metres: no values farther than this from data (default 3 cells)")
        parser.add_argument("--method", choices=METHODS, default="linear")
        parser.add_argument("--threads", type=int, default=2, help="largest number of BLAS threads (default 2)")

    @classmethod
    def from_namespace(cls, ns: argparse.Namespace) -> "LineGridParams":
        return cls(cell=ns.cell, value=ns.value, crs=ns.crs, x=ns.x, y=ns.y, source_crs=ns.source_crs,
                   blank=ns.blank, method=ns.method, threads=ns.threads)

    def check(self) -> None:
        if not (self.cell and np.isfinite(self.cell) and self.cell > 0):
            msg = f"the cell size must be positive metres (got {self.cell})"
            raise GeocoreError(msg)
        if self.blank is not None and not self.blank > 0:
            msg = f"the blanking distance must be positive metres (got {self.blank})"
            raise GeocoreError(msg)
        if self.method not in METHODS:
            msg = f"unknown interpolation method '{self.method}'; choose one of {', '.join(METHODS)}"
            raise GeocoreError(msg)

    @property
    def blanking_distance(self) -> float:
        return float(self.blank) if self.blank is not None else 3.0 * float(self.cell)


@dataclass
class LineGridResult:
    """What :func:`grid_flight_lines` made."""

    path: Path
    grid: object
    n_points: int
    n_blocks: int
    crs: str

    def summary(self) -> str:
        rows, cols = self.grid.shape
        filled = float(np.isfinite(self.grid.data).mean())
        return (f"{self.path}: {cols} x {rows} cells of {self.grid.spacing[1]:g} m in {self.crs}, "
                f"{filled:.0%} filled, from {self.n_points} points in {self.n_blocks} cells")


def _open_text(path: Path):
    import bz2
    import gzip
    import lzma

    opener = {".gz": gzip.open, ".xz": lzma.open, ".bz2": bz2.open}.get(path.suffix.lower(), open)
    return opener(path, "rt", errors="replace")


def _xyz_header(path: Path) -> Optional[list]:
    """Column names of a Geosoft-style XYZ file whose header is a ``/`` comment, else None.

    In Geosoft XYZ exports the column names are on the last ``/`` line before
    the data (e.g. ``/ X Y TMI``); ``Line``/``Tie`` rows separate the lines.
    """
    last_comment = None
    with _open_text(path) as f:
        for _, raw in zip(range(1000), f):
            line = raw.strip()
            if not line:
                continue
            if line.startswith("/"):
                last_comment = line.lstrip("/").split()
                continue
            tokens = line.split()
            if tokens[0].lower() in ("line", "tie", "trend"):
                continue
            try:
                [float(t) for t in tokens]
            except ValueError:
                return None  # the first data-like line is a header of its own
            if last_comment and len(last_comment) == len(tokens):
                return last_comment
            return None
    return None


def read_points(path: str | os.PathLike):
    """Read a CSV (comma) or XYZ (white space) table with a header, compressed (.gz, .xz, .bz2) or not.

    XYZ files may carry ``/`` comment lines, their header in the last comment
    before the data (Geosoft style) and ``Line``/``Tie`` separator rows.
    """
    import lzma
    import zlib

    import pandas as pd

    path = Path(path)
    if not path.is_file():
        msg = f"flight-line file '{path}' does not exist; check the path"
        raise GeocoreError(msg)
    suffixes = [s.lower() for s in path.suffixes]
    plain = [s for s in suffixes if s not in (".gz", ".xz", ".bz2", ".zip", ".zst")]
    is_csv = bool(plain) and plain[-1] == ".csv"
    try:
        if is_csv:
            df = pd.read_csv(path, low_memory=False)
        else:
            names = _xyz_header(path)
            if names is None:
                df = pd.read_csv(path, sep=r"\s+", comment="/", low_memory=False)
            else:
                df = pd.read_csv(path, sep=r"\s+", comment="/", header=None, names=names, low_memory=False)
            first = df.columns[0]
            separators = df[first].astype(str).str.lower().isin(["line", "tie", "trend"])
            df = df[~separators].reset_index(drop=True)
    except pd.errors.EmptyDataError as exc:
        msg = f"'{path}' is empty; give a table of points with a header line"
        raise GeocoreError(msg) from exc
    except (lzma.LZMAError, zlib.error) as exc:  # gzip's BadGzipFile is an OSError, caught below
        msg = f"'{path}' is not a valid {path.suffix} compressed file ({exc}); decompress it or fix its name"
        raise GeocoreError(msg) from exc
    except (pd.errors.ParserError, UnicodeDecodeError, OSError, EOFError) as exc:
        msg = f"'{path}' is not a readable CSV/XYZ table ({exc}); give a text table with a header line"
        raise GeocoreError(msg) from exc
    if len(df) == 0:
        msg = f"'{path}' holds a header but no points"
        raise GeocoreError(msg)
    df.columns = [str(c).strip() for c in df.columns]
    return df


def _column(df, name: str, path) -> np.ndarray:
    import pandas as pd

    lookup = {c.lower(): c for c in df.columns}
    if name.lower() not in lookup:
        msg = f"'{path}' has no column '{name}'; its columns are: {', '.join(df.columns)}"
        raise GeocoreError(msg)
    col = pd.to_numeric(df[lookup[name.lower()]], errors="coerce").to_numpy(dtype=float)
    return col


def _coordinate_columns(df, params: LineGridParams, path) -> tuple[str, str, bool]:
    if params.x and params.y:
        geographic = params.x.lower() in ("longitude", "lon", "long")
        return params.x, params.y, geographic
    if params.x or params.y:
        msg = "give both --x and --y, or neither"
        raise GeocoreError(msg)
    names = {c.lower() for c in df.columns}
    for x, y, geographic in COORDINATE_COLUMNS:
        if x in names and y in names:
            return x, y, geographic
    msg = (f"'{path}' has no x/y, easting/northing or longitude/latitude columns ({', '.join(df.columns)}); "
           "name them with --x and --y")
    raise GeocoreError(msg)


def _crs(value, what: str):
    from pyproj import CRS
    from pyproj.exceptions import CRSError

    try:
        return CRS.from_user_input(value)
    except CRSError as exc:
        msg = f"{what} '{value}' is not a coordinate reference system; give one like EPSG:32630"
        raise GeocoreError(msg) from exc


def project_points(df, params: LineGridParams, path=None):
    """Coordinates in the target CRS and values, finite rows only: ``(easting, northing, values, crs)``."""
    from pyproj import Transformer
    from pyproj.aoi import AreaOfInterest
    from pyproj.database import query_utm_crs_info

    xname, yname, geographic = _coordinate_columns(df, params, path)
    x, y = _column(df, xname, path), _column(df, yname, path)
    values = _column(df, params.value, path)
    ok = np.isfinite(x) & np.isfinite(y) & np.isfinite(values)
    if not ok.any():
        msg = f"'{path}' has no row with numeric {xname}, {yname} and {params.value}"
        raise GeocoreError(msg)
    x, y, values = x[ok], y[ok], values[ok]
    if params.source_crs:
        src = _crs(params.source_crs, "source CRS")
    elif geographic:
        src = _crs("EPSG:4326", "source CRS")
    else:
        msg = (f"the CRS of columns {xname}/{yname} is unknown; give it with --source-crs "
               "(or the target CRS too, if the coordinates are already in it)")
        if params.crs is None:
            raise GeocoreError(msg)
        src = _crs(params.crs, "target CRS")
    if src.is_geographic and (np.abs(y).max() > 90 or np.abs(x).max() > 360):
        msg = f"columns {xname}/{yname} hold values beyond longitude/latitude range; give --source-crs"
        raise GeocoreError(msg)
    if params.crs:
        dst = _crs(params.crs, "target CRS")
    elif src.is_projected:
        dst = src
    else:
        lon, lat = float(np.median(x)), float(np.median(y))
        infos = query_utm_crs_info(datum_name="WGS 84", area_of_interest=AreaOfInterest(lon, lat, lon, lat))
        dst = _crs(f"EPSG:{infos[0].code}", "target CRS")
    if dst.is_geographic:
        msg = f"the target CRS {dst.to_string()} is in degrees; give a projected CRS in metres (e.g. a UTM zone)"
        raise GeocoreError(msg)
    if src == dst:
        east, north = x, y
    else:
        east, north = Transformer.from_crs(src, dst, always_xy=True).transform(x, y)
        east, north = np.asarray(east), np.asarray(north)
    good = np.isfinite(east) & np.isfinite(north)
    if not good.any():
        msg = f"no point can be projected to {dst.to_string()}; check the CRS"
        raise GeocoreError(msg)
    return east[good], north[good], values[good], dst


def block_median(east, north, values, cell: float, origin=(0.0, 0.0)):
    """Median coordinates and value of the points in each ``cell``-sized square (empty cells dropped).

    The same reduction as :class:`verde.BlockReduce` with ``np.median`` and
    ``center_coordinates=False``, through pandas' compiled group medians
    (about 50 times faster on half a million points).

    Returns
    -------
    ((east, north), values) of the non-empty cells.
    """
    import pandas as pd

    col = np.floor((east - origin[0]) / cell + 0.5).astype(np.int64)
    row = np.floor((north - origin[1]) / cell + 0.5).astype(np.int64)
    key = row * (int(col.max()) + 1) + col
    med = pd.DataFrame({"key": key, "e": east, "n": north, "v": values}).groupby("key", sort=True).median()
    return (med["e"].to_numpy(), med["n"].to_numpy()), med["v"].to_numpy()


def grid_points(east, north, values, params: LineGridParams, crs=None, *, progress=None, cancel=None):
    """Block-median, interpolate and blank scattered points on a regular grid.

    Parameters
    ----------
    east, north : ndarray
        Coordinates in metres (projected CRS).
    values : ndarray
    params : LineGridParams
    crs : pyproj.CRS or None
        Stored on the returned grid.

    Returns
    -------
    (Grid, int)
        The grid (cell centres on multiples of the cell size, NaN where blanked)
        and the number of non-empty cells the points fell in.
    """
    import verde as vd
    from rasterio.crs import CRS as RioCRS
    from rasterio.transform import from_origin
    from threadpoolctl import threadpool_limits

    from .io import Grid

    params.check()
    prog = Progress.wrap(progress, cancel)
    cell = float(params.cell)
    eps = 1e-6  # points a rounding error beyond a multiple of the cell add no row or column
    west, east_edge = np.floor(east.min() / cell + eps) * cell, np.ceil(east.max() / cell - eps) * cell
    south, north_edge = np.floor(north.min() / cell + eps) * cell, np.ceil(north.max() / cell - eps) * cell
    cols = int(round((east_edge - west) / cell)) + 1
    rows = int(round((north_edge - south) / cell)) + 1
    if rows * cols > MAX_CELLS:
        msg = (f"a {cell:g} m cell gives {cols} x {rows} cells over the data; give a larger --cell "
               "(in metres of the target CRS)")
        raise GeocoreError(msg)
    with threadpool_limits(limits=max(1, int(params.threads))):
        (be, bn), bv = block_median(east, north, values, cell, origin=(west, south))
        n_blocks = len(bv)
        prog.update(0.3)
        if n_blocks < 3:
            msg = f"the points fall in only {n_blocks} cell(s) of {cell:g} m; give a smaller --cell"
            raise GeocoreError(msg)
        gridder = {"linear": lambda: vd.Linear(), "cubic": lambda: vd.Cubic(),
                   "nearest": lambda: vd.KNeighbors(k=1)}[params.method]()
        try:
            gridder.fit((be, bn), bv)
        except Exception as exc:  # noqa: BLE001 (Qhull errors for collinear points)
            msg = f"the points cannot be interpolated with '{params.method}' ({exc}); try --method nearest"
            raise GeocoreError(msg) from exc
        prog.update(0.5)
        ge = west + cell * np.arange(cols)
        gn = north_edge - cell * np.arange(rows)  # north-up rows
        GE, GN = np.meshgrid(ge, gn)
        data = np.asarray(gridder.predict((GE, GN)), dtype=np.float64).reshape(rows, cols)
        prog.update(0.8)
        mask = vd.distance_mask((be, bn), maxdist=params.blanking_distance, coordinates=(GE, GN))
        # the triangulation stops at the hull of the cell medians; cells outside it but within the
        # blanking distance take the nearest cell median rather than staying empty
        outside = mask & ~np.isfinite(data)
        if outside.any():
            nearest = vd.KNeighbors(k=1).fit((be, bn), bv)
            data[outside] = nearest.predict((GE[outside], GN[outside]))
        data[~mask] = np.nan
    prog.update(0.95)
    transform = from_origin(west - cell / 2, north_edge + cell / 2, cell, cell)
    rio_crs = RioCRS.from_wkt(crs.to_wkt()) if crs is not None else None
    if crs is not None and crs.to_epsg():
        rio_crs = RioCRS.from_epsg(crs.to_epsg())
    return Grid(data=data, transform=transform, crs=rio_crs, dtype="float32"), n_blocks


def grid_flight_lines(path: str | os.PathLike, out: str | os.PathLike, params: LineGridParams, *,
                      progress=None, cancel=None) -> LineGridResult:
    """Grid a flight-line table to a GeoTIFF (written atomically; nothing on error).

    Parameters
    ----------
    path : str or path-like
        CSV (comma) or XYZ (white space) table with a header, optionally
        compressed (.gz, .xz, .bz2).
    out : str or path-like
        GeoTIFF to write.
    params : LineGridParams

    Returns
    -------
    LineGridResult
    """
    from .io import write_geotiff

    params.check()
    check_not_input([out], [path])
    if Path(out).suffix.lower() not in (".tif", ".tiff"):
        msg = f"output '{out}' must be a GeoTIFF (.tif)"
        raise GeocoreError(msg)
    prog = Progress.wrap(progress, cancel)
    df = read_points(path)
    prog.update(0.15)
    east, north, values, crs = project_points(df, params, path)
    del df
    prog.update(0.25)
    grid, n_blocks = grid_points(east, north, values, params, crs, progress=prog.sub(0.25, 0.95))
    write_geotiff(grid, out, dtype="float32")
    prog.update(1.0)
    return LineGridResult(path=Path(out), grid=grid, n_points=len(values), n_blocks=n_blocks,
                          crs=crs.to_string())
