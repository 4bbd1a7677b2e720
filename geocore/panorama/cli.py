"""``geocore panorama ...`` commands."""

from __future__ import annotations

import argparse
from pathlib import Path


def _cmd_stitch(args: argparse.Namespace) -> int:
    from ..cli import progress_bar
    from .params import parse_distortion
    from .pipeline import StitchParams, stitch

    params = StitchParams(um_per_px=args.um_per_px, positions=args.positions, layout=args.layout,
                          flat_field=args.flat_field, distortion=parse_distortion(args.distortion), method=args.method, model=args.model,
                          min_score=args.min_score, outlier_px=args.outlier_px, gain=not args.no_gain,
                          blend=args.blend, interpolation=args.interpolation, overviews=args.overviews)
    with progress_bar("stitching", args.quiet) as bar:
        result = stitch(args.tiles, args.out, params, report=args.report or True,
                        tiles_report=args.tiles_report or True, layout_png=args.layout_png or True, progress=bar)
    print(result.summary())
    return 0


def register(subparsers) -> None:
    """Add ``panorama`` and its commands to the top-level ``geocore`` parser."""
    from . import params as P

    pan = subparsers.add_parser("panorama", help="stitch overlapping microscope tiles into one GeoTIFF")
    sub = pan.add_subparsers(dest="command", required=True)
    s = sub.add_parser("stitch", help="register, place, blend and write a panorama with a quality report",
                       description="Stitch overlapping microscope tiles (rROW_cCOL / R.C names, a stage-positions CSV, "
                                   "or an unordered set) into a tiled, compressed GeoTIFF in micrometres.")
    s.add_argument("tiles", nargs="+", type=Path, help="tile images and/or folders of tiles")
    s.add_argument("--out", required=True, type=Path, help="panorama GeoTIFF (.tif)")
    s.add_argument("--um-per-px", type=float, default=P.DEFAULT_UM_PER_PX,
                   help=f"pixel size in micrometres (default {P.DEFAULT_UM_PER_PX:g})")
    s.add_argument("--positions", type=Path, default=None,
                   help="CSV of approximate stage positions: file,x_px,y_px or file,x_um,y_um (y down)")
    s.add_argument("--layout", choices=P.LAYOUTS, default=P.LAYOUTS[0],
                   help="auto: positions CSV, else row/column names, else unordered (every pair tried)")
    s.add_argument("--flat-field", type=Path, default=None,
                   help="photograph of a mirror or empty field with the same optics (flat-field correction)")
    s.add_argument("--distortion", nargs="+", metavar="K", default=None,
                   help="Brown-Conrady coefficients k1 [k2 [p1 [p2 [k3]]]] (focal length = half the tile diagonal), "
                        "or 'estimate' (k1 from the overlaps)")
    s.add_argument("--method", choices=P.METHODS, default=P.METHODS[0],
                   help="pairwise registration: phase correlation (default) or ORB features + RANSAC")
    s.add_argument("--model", choices=P.MODELS, default=P.MODELS[0],
                   help="tile motion: translation (default) or one affine map per tile (rotated camera, drift)")
    s.add_argument("--min-score", type=float, default=P.DEFAULT_MIN_SCORE,
                   help=f"smallest overlap correlation of a used pair ({P.DEFAULT_MIN_SCORE:g})")
    s.add_argument("--outlier-px", type=float, default=P.DEFAULT_OUTLIER_PX,
                   help="pairs disagreeing with the global solution by more are dropped (px, default 2)")
    s.add_argument("--blend", choices=P.BLENDS, default=P.BLENDS[0],
                   help="feather (smooth weights) or nearest (one tile per pixel, values kept)")
    s.add_argument("--interpolation", choices=P.INTERPOLATIONS, default=P.INTERPOLATIONS[0],
                   help="resampling for sub-pixel positions; nearest keeps pixel values (integer placement)")
    s.add_argument("--no-gain", action="store_true", help="no exposure (gain) compensation")
    s.add_argument("--overviews", action="store_true",
                   help="add overviews to the GeoTIFF (quicker display; about doubles the writing time)")
    s.add_argument("--report", type=Path, default=None, help="pairs CSV (default <out>_pairs.csv)")
    s.add_argument("--tiles-report", type=Path, default=None, help="tiles CSV (default <out>_tiles.csv)")
    s.add_argument("--layout-png", type=Path, default=None, help="tile layout picture (default <out>_layout.png)")
    s.set_defaults(func=_cmd_stitch)
