"""``geocore lineaments compare``: detected lines against an expert interpretation."""

from __future__ import annotations

import argparse
from pathlib import Path


def _cmd_compare(args: argparse.Namespace) -> int:
    from ..cli import progress_bar
    from .compare import CompareParams, compare_to_folder

    params = CompareParams(tolerance=args.tolerance, strike_tolerance=args.strike_tolerance,
                           shift=args.shift)
    with progress_bar("comparing lineaments", args.quiet) as bar:
        res = compare_to_folder(args.detected, args.expert, args.out_dir, params, grid=args.grid, progress=bar)
    print(res.summary())
    return 0


def register_compare(subparsers) -> None:
    """Add ``compare`` to the ``lineaments`` sub-parsers."""
    c = subparsers.add_parser("compare", help="recall, precision and F1 of detected lines against expert lines, "
                                              "with chance baselines, per-line table and overlay")
    c.add_argument("detected", type=Path, help="detected lineaments (any OGR vector, any CRS)")
    c.add_argument("expert", type=Path, help="expert lineaments (any OGR vector, any CRS)")
    c.add_argument("--tolerance", type=float, required=True, help="distance tolerance in metres")
    c.add_argument("--strike-tolerance", type=float, default=None,
                   help="largest strike difference in degrees for a match (default: any)")
    c.add_argument("--shift", type=float, default=None,
                   help="sideways shift of the chance baseline in metres "
                        "(default 3 km, or four tolerances if larger)")
    c.add_argument("--grid", type=Path, default=None, help="grid shown under the overlay figure")
    c.add_argument("--out-dir", required=True, type=Path)
    c.set_defaults(func=_cmd_compare)
