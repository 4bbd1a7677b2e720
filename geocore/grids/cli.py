"""``geocore grid ...``: survey grids in, GeoTIFFs out."""

from __future__ import annotations

import argparse
from pathlib import Path


def _cmd_convert(args: argparse.Namespace) -> int:
    from .io import convert_grid

    grid = convert_grid(args.input, args.output, band=args.band, crs=args.crs)
    rows, cols = grid.shape
    crs = grid.crs.to_string() if grid.crs else "none"
    print(f"{args.output}: {cols} x {rows} cells of {grid.spacing[1]:g} x {grid.spacing[0]:g}, CRS {crs}")
    return 0


def _cmd_lines(args: argparse.Namespace) -> int:
    from ..cli import progress_bar
    from .lines import LineGridParams, grid_flight_lines

    params = LineGridParams.from_namespace(args)
    with progress_bar("gridding flight lines", args.quiet) as bar:
        res = grid_flight_lines(args.input, args.out, params, progress=bar)
    print(res.summary())
    return 0


def register(subparsers) -> None:
    """Add ``grid convert`` and ``grid lines`` to the top-level parser."""
    grid = subparsers.add_parser("grid", help="survey grids: read any format, grid flight lines")
    sub = grid.add_subparsers(dest="command", required=True)

    c = sub.add_parser("convert", help="any survey grid (Surfer, ER Mapper, netCDF, Geosoft .grd, ...) to GeoTIFF")
    c.add_argument("input", type=Path, help="grid file (GDAL raster or Geosoft .grd with its .xml)")
    c.add_argument("output", type=Path, help="GeoTIFF to write (.tif)")
    c.add_argument("--band", type=int, default=None, help="band to use (required for multi-band rasters)")
    c.add_argument("--crs", default=None, help="CRS to assign when the file has none, e.g. EPSG:28354")
    c.set_defaults(func=_cmd_convert)

    from .lines import LineGridParams

    g = sub.add_parser("lines", help="grid flight-line data (CSV/XYZ) to a GeoTIFF with a blanking distance")
    g.add_argument("input", type=Path, help="CSV or XYZ file (may be .gz/.xz/.bz2 compressed)")
    g.add_argument("--out", required=True, type=Path, help="GeoTIFF to write")
    LineGridParams.add_arguments(g)
    g.set_defaults(func=_cmd_lines)
