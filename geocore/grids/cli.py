"""``geocore grid ...``: survey grids in, GeoTIFFs out."""

from __future__ import annotations

import argparse
from pathlib import Path


def _cmd_convert(args: argparse.Namespace) -> int:
    from ..files import output_set
    from ..progress import progress_bar
    from .io import convert_grid

    with output_set(inputs=[args.input]), progress_bar("converting grid", args.quiet) as bar:
        grid = convert_grid(args.input, args.output, band=args.band, crs=args.crs, variable=args.variable,
                            nodata=args.nodata, force_crs=args.force_crs, progress=bar)
    print_notes(grid.notes)
    rows, cols = grid.shape
    crs = grid.crs.to_string() if grid.crs else "none"
    print(f"{args.output}: {cols} x {rows} cells of {grid.spacing[1]:g} x {grid.spacing[0]:g}, CRS {crs}, "
          f"{grid.dtype}")
    return 0


def print_notes(notes) -> None:
    """Print a reader's notes (see :attr:`Grid.notes`) as ``geocore: note: ...`` lines on stderr."""
    import sys

    from ..errors import GeocoreError, cli_option

    for note in notes:
        print(f"geocore: note: {GeocoreError(note).phrase(cli_option)}", file=sys.stderr)


def nodata_value(text: str) -> float:
    """``--nodata``: a finite number, or ``nan`` for "no nodata value" (everything is data)."""
    import math

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a number or nan (got {text!r})") from None
    if math.isinf(value):
        raise argparse.ArgumentTypeError(f"must be a finite number or nan (got {text!r})")
    return value


def add_read_arguments(parser: argparse.ArgumentParser) -> None:
    """``--band``, ``--variable``, ``--crs``, ``--force-crs`` and ``--nodata``: the options of ``read_grid``."""
    parser.add_argument("--band", type=int, default=None, help="band to use (required for multi-band rasters)")
    parser.add_argument("--variable", default=None,
                        help="netCDF variable to read (required when the file holds several grids)")
    parser.add_argument("--crs", default=None, help="CRS to assign when the file has none, e.g. EPSG:28354")
    parser.add_argument("--force-crs", action="store_true",
                        help="let --crs replace a different CRS the file has (relabels, does not reproject)")
    parser.add_argument("--nodata", type=nodata_value, default=None,
                        help="value of cells without data (default: the file's; when it declares none, "
                             "common dummies such as -99999 or 1e30 at the data's extreme; nan: none)")


def _cmd_lines(args: argparse.Namespace) -> int:
    from ..progress import progress_bar
    from .lines import LineGridParams, grid_flight_lines

    params = LineGridParams.from_namespace(args)
    from ..files import output_set

    with output_set(inputs=[args.input]), progress_bar("gridding flight lines", args.quiet) as bar:
        res = grid_flight_lines(args.input, args.out, params, progress=bar)
    print(res.summary())
    return 0


def register(subparsers) -> None:
    """Add ``grid convert`` and ``grid lines`` to the top-level parser."""
    grid = subparsers.add_parser("grid", help="survey grids: read any format, grid flight lines")
    sub = grid.add_subparsers(dest="command", required=True)

    c = sub.add_parser("convert", help="any survey grid (Surfer, ER Mapper, netCDF, Geosoft .grd, ...) to GeoTIFF")
    c.add_argument("input", type=Path, help="grid file (GDAL raster, netCDF, or Geosoft .grd with its .xml)")
    c.add_argument("output", type=Path, help="GeoTIFF to write (.tif)")
    add_read_arguments(c)
    c.set_defaults(func=_cmd_convert)

    from .lines import LineGridParams

    g = sub.add_parser("lines", help="grid flight-line data (CSV/XYZ) to a GeoTIFF with a blanking distance")
    g.add_argument("input", type=Path, help="CSV or XYZ file (may be .gz/.xz/.bz2 compressed)")
    g.add_argument("--out", required=True, type=Path, help="GeoTIFF to write")
    LineGridParams.add_arguments(g)
    g.set_defaults(func=_cmd_lines)
