"""``geocore panorama ...`` commands."""

from __future__ import annotations

import argparse
from pathlib import Path


def _path(text: str) -> Path:
    return Path(text)


def _stitch_params(args: argparse.Namespace):
    from .params import parse_distortion
    from .pipeline import StitchParams

    return StitchParams(um_per_px=args.um_per_px, positions=args.positions, layout=args.layout,
                        flat_field=args.flat_field, distortion=parse_distortion(args.distortion), method=args.method,
                        model=args.model, min_score=args.min_score, outlier_px=args.outlier_px, gain=not args.no_gain,
                        blend=args.blend, interpolation=args.interpolation, overviews=args.overviews)


def _stitch_one(item, *, params):
    """One panorama of a batch: ``item`` is ``(folder of tiles, output GeoTIFF)``."""
    from .pipeline import stitch

    tiles, out = item
    return stitch([tiles], out, params, report=True, tiles_report=True, layout_png=True)


def _stitch_batch(args: argparse.Namespace, params) -> int:
    import glob
    from functools import partial

    from ..distributed.cli import batch_outputs, run_cli_batch
    from ..errors import GeocoreError

    folders = []
    for t in args.tiles:
        hits = [Path(h) for h in sorted(glob.glob(str(t)))] if any(c in str(t) for c in "*?[") else [Path(t)]
        folders += [h for h in hits if h.is_dir()]
        if not any(h.is_dir() for h in hits):
            raise GeocoreError(f"--batch: '{t}' is not a folder of tiles; give one folder (or glob of folders) "
                               "per panorama")
    if args.out.exists() and not args.out.is_dir():
        raise GeocoreError(f"--batch: --out '{args.out}' must be a folder (panoramas are written as <folder>.tif)")
    items = batch_outputs(folders, args.out, ".tif")
    items = [(f, o.with_name(f.name + ".tif") if len({x.name for x in folders}) == len(folders) else o)
             for f, o in items]
    return run_cli_batch(args, items, partial(_stitch_one, params=params), "stitching")


def _cmd_stitch(args: argparse.Namespace) -> int:
    from ..progress import progress_bar
    from .pipeline import stitch

    params = _stitch_params(args)
    if args.batch:
        return _stitch_batch(args, params)
    from ..errors import GeocoreError
    from ..files import check_distinct, check_not_input, output_set
    from ..validate import RASTER_SUFFIXES, output_file

    try:
        output_file(str(args.out), suffixes=RASTER_SUFFIXES, what="GeoTIFF")
    except argparse.ArgumentTypeError as exc:
        raise GeocoreError(f"--out: {exc}") from None
    check_distinct({"--out": args.out, "--report": args.report, "--tiles-report": args.tiles_report,
                    "--layout-png": args.layout_png})
    inputs = [p for p in args.tiles if p.is_file()] + [args.positions, args.flat_field]
    check_not_input([args.out, args.report, args.tiles_report, args.layout_png], inputs)
    with output_set(inputs=inputs), progress_bar("stitching", args.quiet) as bar:
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
    # checked in _cmd_stitch: a GeoTIFF, or with --batch a folder
    s.add_argument("--out", required=True, type=_path, help="panorama GeoTIFF (.tif); with --batch a folder")
    s.add_argument("--batch", action="store_true",
                   help="each TILES argument (a folder, or a glob of folders) is its own panorama, "
                        "written as OUT/<folder>.tif; one failing does not stop the others")
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
    from ..distributed.cli import add_scheduler_argument

    add_scheduler_argument(s)
    s.set_defaults(func=_cmd_stitch)
