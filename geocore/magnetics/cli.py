"""``geocore magnetics ...``: potential-field transforms of grids."""

from __future__ import annotations

import argparse
from pathlib import Path


def _path(text: str) -> Path:
    return Path(text)


def _transform_params(args: argparse.Namespace):
    from .transforms import TransformParams

    return TransformParams(op=args.op, inclination=args.inclination, declination=args.declination,
                           stabilization_inclination=args.stabilize, height=args.height,
                           wavelength=args.wavelength)


def _transform_one(item, *, params, band, crs, variable=None, nodata=None, force_crs=False) -> str:
    """One input of a batch: ``item`` is ``(input, output)``."""
    from ..files import output_set
    from .transforms import transform_file

    src, dst = item
    with output_set(inputs=[src]):
        out = transform_file(src, dst, params, band=band, crs=crs, variable=variable, nodata=nodata,
                             force_crs=force_crs)
    return f"{dst}: {params.op}, {out.shape[1]} x {out.shape[0]} cells, units {out.units or 'unknown'}"


def _cmd_transform(args: argparse.Namespace) -> int:
    from functools import partial

    from ..distributed.batch import RASTER_SUFFIXES, expand_inputs
    from ..distributed.cli import batch_outputs, is_batch, run_cli_batch
    from ..errors import GeocoreError
    from ..files import output_set
    from ..grids.cli import print_notes
    from ..progress import progress_bar
    from .transforms import transform_file

    params = _transform_params(args)
    inputs = expand_inputs(args.input, RASTER_SUFFIXES)
    if is_batch(args, inputs):  # OUTPUT is a folder: OUTPUT/<name>_<op>.tif
        if args.output.exists() and not args.output.is_dir():
            raise GeocoreError(f"with several inputs the output '{args.output}' must be a folder; "
                               "give a folder name (it is created)")
        items = batch_outputs(inputs, args.output, f"_{args.op}.tif")
        return run_cli_batch(args, items, partial(_transform_one, params=params, band=args.band, crs=args.crs,
                                                  variable=args.variable, nodata=args.nodata,
                                                  force_crs=args.force_crs),
                             f"transform {args.op}")
    if args.output.is_dir():
        raise GeocoreError(f"'{args.output}' is a folder; give a GeoTIFF path (e.g. '{args.output / 'out.tif'}'), "
                           "or several inputs to fill the folder")
    with output_set(inputs=[inputs[0]]), progress_bar(f"transform {args.op}", args.quiet) as bar:
        out = transform_file(inputs[0], args.output, params, band=args.band, crs=args.crs, progress=bar,
                             variable=args.variable, nodata=args.nodata, force_crs=args.force_crs)
    print_notes(out.notes)
    print(f"{args.output}: {args.op}, {out.shape[1]} x {out.shape[0]} cells, units {out.units or 'unknown'}")
    return 0


def register(subparsers) -> None:
    """Add ``magnetics transform`` to the top-level parser."""
    from ..distributed.cli import add_scheduler_argument
    from ..grids.cli import add_read_arguments
    from .transforms import OPERATIONS

    mag = subparsers.add_parser("magnetics", help="potential-field transforms of magnetic and gravity grids")
    sub = mag.add_subparsers(dest="command", required=True)
    t = sub.add_parser(
        "transform", help="reduction to the pole, continuation, derivatives, gradients, tilt, Gaussian filters",
        description="rtp: reduction to the pole (--inclination, --declination, optional --stabilize); "
                    "up: upward continuation (--height m); dx, dy, dz: derivatives east, north, up (z up); "
                    "thg: total horizontal gradient; tga: total gradient amplitude (analytic signal); "
                    "tilt: tilt angle in degrees; highpass, lowpass: Gaussian filters (--wavelength m).")
    t.add_argument("input", nargs="+", help="grid in any format geocore reads, projected CRS in metres; several files, "
                                            "folders or globs run as a batch")
    # checked in _cmd_transform: a file for one input, a folder for a batch
    t.add_argument("output", type=_path, help="GeoTIFF to write (a batch: folder of <name>_<op>.tif)")
    t.add_argument("--op", required=True, choices=OPERATIONS)
    t.add_argument("--inclination", type=float, default=None, help="main-field inclination, degrees, positive down")
    t.add_argument("--declination", type=float, default=None, help="main-field declination, degrees east of north")
    t.add_argument("--stabilize", type=float, default=None, metavar="DEG",
                   help="rtp at low latitudes: MacLeod amplitude-correction inclination (e.g. 30)")
    t.add_argument("--height", type=float, default=None, help="continuation height in metres (positive up)")
    t.add_argument("--wavelength", type=float, default=None, help="cut-off wavelength in metres")
    add_read_arguments(t)
    add_scheduler_argument(t)
    t.set_defaults(func=_cmd_transform)
