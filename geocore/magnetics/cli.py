"""``geocore magnetics ...``: potential-field transforms of grids."""

from __future__ import annotations

import argparse
from pathlib import Path


def _cmd_transform(args: argparse.Namespace) -> int:
    from ..grids.cli import print_notes
    from ..progress import progress_bar
    from .transforms import TransformParams, transform_file

    params = TransformParams(op=args.op, inclination=args.inclination, declination=args.declination,
                             stabilization_inclination=args.stabilize, height=args.height,
                             wavelength=args.wavelength)
    from ..files import output_set

    with output_set(inputs=[args.input]), progress_bar(f"transform {args.op}", args.quiet) as bar:
        out = transform_file(args.input, args.output, params, band=args.band, crs=args.crs, progress=bar,
                             variable=args.variable, nodata=args.nodata, force_crs=args.force_crs)
    print_notes(out.notes)
    print(f"{args.output}: {args.op}, {out.shape[1]} x {out.shape[0]} cells, units {out.units or 'unknown'}")
    return 0


def register(subparsers) -> None:
    """Add ``magnetics transform`` to the top-level parser."""
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
    t.add_argument("input", type=Path, help="grid in any format geocore reads, projected CRS in metres")
    t.add_argument("output", type=Path, help="GeoTIFF to write")
    t.add_argument("--op", required=True, choices=OPERATIONS)
    t.add_argument("--inclination", type=float, default=None, help="main-field inclination, degrees, positive down")
    t.add_argument("--declination", type=float, default=None, help="main-field declination, degrees east of north")
    t.add_argument("--stabilize", type=float, default=None, metavar="DEG",
                   help="rtp at low latitudes: MacLeod amplitude-correction inclination (e.g. 30)")
    t.add_argument("--height", type=float, default=None, help="continuation height in metres (positive up)")
    t.add_argument("--wavelength", type=float, default=None, help="cut-off wavelength in metres")
    add_read_arguments(t)
    t.set_defaults(func=_cmd_transform)
