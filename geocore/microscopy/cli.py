"""Command-line commands of the microscopy tools.

``geocore flatfield``, ``geocore colour fit|apply``, ``geocore xpl align``,
``geocore annotate`` and ``geocore uncertainty``; the same commands are also
reachable as ``geocore microscopy <command>``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from ..files import check_distinct, check_not_input, output_set
from ..progress import progress_bar


# ----------------------------------------------------------------------------- commands
def _flatfield_one(image, **kwargs):
    """One photograph of a batch."""
    from .flatfield import flatfield_to_folder

    return flatfield_to_folder([image], **kwargs)


def _cmd_flatfield(args: argparse.Namespace) -> int:
    from .flatfield import flatfield_to_folder

    kwargs = dict(reference=args.reference, out_dir=args.out_dir, sigma=args.sigma, per_channel=not args.grey,
                  normalize=args.normalize)
    if args.scheduler is not None or any(Path(p).is_dir() or any(c in str(p) for c in "*?[") for p in args.images):
        # a batch: folders and globs expanded, each photograph its own task; one failing does not stop the others
        from functools import partial

        from ..distributed.batch import PHOTO_SUFFIXES, expand_inputs
        from ..distributed.cli import run_cli_batch
        from ..errors import GeocoreError

        images = expand_inputs(args.images, PHOTO_SUFFIXES)
        names = [p.name for p in images]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise GeocoreError(f"several inputs are named {', '.join(dup)}; outputs keep input names, "
                               "so correct them in separate runs")
        return run_cli_batch(args, images, partial(_flatfield_one, **kwargs), "flat-field correction")
    with output_set(inputs=[*args.images, args.reference]), progress_bar("flat-field correction", args.quiet) as bar:
        res = flatfield_to_folder([Path(p) for p in args.images], progress=bar, **kwargs)
    print(res.summary())
    return 0


def _cmd_colour_fit(args: argparse.Namespace) -> int:
    from .colour import fit_colour_files

    inputs = [args.image, args.annotation, args.reference, args.reference_annotation]
    check_distinct({"--out": args.out, "--corrected": args.corrected})
    check_not_input([args.out, args.corrected], inputs)
    with output_set(inputs=inputs), progress_bar("fitting colour correction", args.quiet) as bar:
        corr = fit_colour_files(args.image, args.annotation, args.reference, args.reference_annotation, args.out,
                                corrected_out=args.corrected, progress=bar)
    before, after = corr.mean_delta_e
    print(f"matrix: {args.out} ({len(corr.classes)} classes; mean CIEDE2000 of class colours "
          f"{before:.2f} -> {after:.2f})")
    if corr.warning():
        print(f"WARNING: {corr.warning()}")
    if args.corrected:
        print(f"corrected: {args.corrected}")
    return 0


def _cmd_colour_apply(args: argparse.Namespace) -> int:
    from .colour import apply_colour_files

    with output_set(inputs=[*args.images, args.matrix]), progress_bar("colour correction", args.quiet) as bar:
        written = apply_colour_files(args.images, args.matrix, args.out_dir, progress=bar)
    print(f"{len(written)} image(s) corrected: " + ", ".join(str(p) for p in written))
    return 0


def _cmd_xpl_align(args: argparse.Namespace) -> int:
    from .align import align_and_stack

    with output_set(inputs=[args.ppl, *args.xpl]), progress_bar("aligning crossed-polar photos", args.quiet) as bar:
        res = align_and_stack(args.ppl, args.xpl, args.out, method=args.method, model=args.model,
                              step_deg=args.step, crop=args.crop, progress=bar)
    print(res.summary())
    return 0


def _cmd_annotate(args: argparse.Namespace) -> int:
    from .annotate import SuperpixelParams, annotate_image

    params = SuperpixelParams(slic_sizes=tuple(args.slic_sizes), felzenszwalb_scales=tuple(args.fz_scales),
                              work_edge=args.work_edge, colour_check=not args.no_colour_check)
    out = Path(args.out_dir)
    stem = Path(args.image).stem
    with output_set(inputs=[args.image, args.strokes]), progress_bar("propagating strokes", args.quiet) as bar:
        res = annotate_image(args.image, args.strokes, out / f"{stem}.png", out / f"{stem}_polygons.gpkg",
                             class_field=args.class_field, params=params, progress=bar)
    print(res.summary())
    return 0


def _cmd_uncertainty(args: argparse.Namespace) -> int:
    from ..errors import GeocoreError
    from ..inference.tiled import TileParams
    from .params import RegionParams
    from .uncertainty import find_uncertain_regions

    if args.model is None and (args.tta or args.probability_out):
        raise GeocoreError("--tta and --probability-out need --model (the input is then the photo)")
    outputs = {"--out": args.out, "--map": args.map, "--probability-out": args.probability_out}
    check_distinct(outputs)
    check_not_input(list(outputs.values()), [args.input, args.model])
    params = RegionParams(share=args.share, metric=args.metric, smooth_px=args.smooth, min_area_px=args.min_area)
    with output_set(inputs=[args.input, args.model]), progress_bar("finding uncertain regions", args.quiet) as bar:
        res = find_uncertain_regions(args.input, args.out, params, model=args.model, tta=args.tta,
                                     tile_params=TileParams(device=args.device), probability_out=args.probability_out,
                                     map_out=args.map, progress=bar)
    print(res.summary())
    return 0


# ----------------------------------------------------------------------------- parsers
def _add_flatfield(sub) -> None:
    from .params import DEFAULT_SIGMA

    p = sub.add_parser("flatfield", help="flat-field correct photographs with a mirror photograph")
    p.add_argument("images", nargs="+", metavar="IMAGE",
                   help="photographs (JPEG, PNG, TIFF); folders or globs (or --scheduler) run them as a batch")
    p.add_argument("--reference", required=True, type=Path, metavar="MIRROR",
                   help="photograph of a mirror taken with the same microscope settings")
    p.add_argument("--out-dir", required=True, type=Path, help="output folder (outputs keep the input names)")
    p.add_argument("--sigma", type=float, default=DEFAULT_SIGMA,
                   help=f"smoothing of the mirror in pixels (default {DEFAULT_SIGMA:g})")
    p.add_argument("--grey", action="store_true", help="one grey gain for all channels (default: one per channel)")
    p.add_argument("--normalize", choices=("mean", "max"), default="mean",
                   help="mean: keep mean brightness (default); max: raise the field to its brightest part")
    from ..distributed.cli import add_scheduler_argument

    add_scheduler_argument(p)
    p.set_defaults(func=_cmd_flatfield)


def _add_colour(sub) -> None:
    p = sub.add_parser("colour", aliases=["color"], help="colour correction with a 4 x 3 matrix (fit, apply)")
    cs = p.add_subparsers(dest="colour_command", required=True)
    f = cs.add_parser("fit", help="fit the matrix from partial annotations of the photo and of a reference")
    f.add_argument("image", type=Path, help="the photo to correct")
    f.add_argument("--annotation", required=True, type=Path,
                   help="partial annotation of the photo (LumenStone mask: class codes, 255 unlabelled)")
    f.add_argument("--reference", required=True, type=Path, help="a photo with the wanted colours")
    f.add_argument("--reference-annotation", required=True, type=Path, help="partial annotation of the reference")
    f.add_argument("--out", required=True, type=Path, help="matrix file (.json)")
    f.add_argument("--corrected", type=Path, default=None,
                   help="per-image mode: also write the corrected photo here")
    f.set_defaults(func=_cmd_colour_fit)
    a = cs.add_parser("apply", help="apply a saved matrix to photos (calibration mode)")
    a.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    a.add_argument("--matrix", required=True, type=Path, help="matrix file from 'geocore colour fit'")
    a.add_argument("--out-dir", required=True, type=Path, help="output folder (outputs keep the input names)")
    a.set_defaults(func=_cmd_colour_apply)


def _add_xpl(sub) -> None:
    from .params import ALIGN_METHODS as METHODS, ALIGN_MODELS as MODELS

    p = sub.add_parser("xpl", help="crossed-polar photos: align onto the plane-polar photo and stack")
    xs = p.add_subparsers(dest="xpl_command", required=True)
    a = xs.add_parser("align", help="align rotated crossed-polar photos on the plane-polar one; 3+3N band GeoTIFF")
    a.add_argument("ppl", type=Path, help="plane-polarised photo (the reference grid)")
    a.add_argument("xpl", nargs="+", type=Path, help="crossed-polar photos at several stage rotations")
    a.add_argument("--out", required=True, type=Path, help="output stack (.tif); a .alignment.json report beside it")
    a.add_argument("--method", choices=METHODS, default="ecc",
                   help="ecc: rotation search + ECC (default, most accurate); sift: SIFT + RANSAC affine (the paper)")
    a.add_argument("--model", choices=MODELS, default="euclidean", help="transform refined by ECC")
    a.add_argument("--step", type=float, default=1.0, help="rotation search step in degrees (default 1)")
    a.add_argument("--crop", action="store_true", help="crop to the bounding box of the area all photos share")
    a.set_defaults(func=_cmd_xpl_align)


def _add_annotate(sub) -> None:
    from .params import SuperpixelParams

    d = SuperpixelParams()
    p = sub.add_parser("annotate", help="strokes per mineral -> superpixel mask (LumenStone PNG) and polygons")
    p.add_argument("image", type=Path, help="the photo the strokes were drawn on")
    p.add_argument("--strokes", required=True, type=Path,
                   help="lines or polygons with a class field (code 0..14 or label such as 'py'), in the photo's "
                        "coordinates (without georeferencing: x = column, y = -row, as QGIS shows it)")
    p.add_argument("--class-field", default="class", help="field holding the class (default 'class')")
    p.add_argument("--out-dir", required=True, type=Path,
                   help="writes NAME.png (mask: class code, 255 unlabelled) and NAME_polygons.gpkg")
    p.add_argument("--slic-sizes", type=float, nargs="+", default=list(d.slic_sizes),
                   help="SLIC superpixel sizes in working pixels (default %(default)s)")
    p.add_argument("--fz-scales", type=float, nargs="*", default=list(d.felzenszwalb_scales),
                   help="Felzenszwalb scales (default %(default)s)")
    p.add_argument("--work-edge", type=int, default=d.work_edge,
                   help="segment on a copy reduced to this long edge in pixels (default %(default)s)")
    p.add_argument("--no-colour-check", action="store_true",
                   help="let coarse superpixels label pixels whatever their colour")
    p.set_defaults(func=_cmd_annotate)


def _add_uncertainty(sub) -> None:
    from .params import DEFAULT_MIN_AREA_PX, DEFAULT_SHARE, DEFAULT_SMOOTH_PX, METRICS

    p = sub.add_parser("uncertainty", help="polygons where a model is least sure, for annotation (ranked)")
    p.add_argument("input", type=Path, metavar="PROBABILITY",
                   help="class probabilities (one band per class, values 0..1); with --model: the photo")
    p.add_argument("--model", type=Path, default=None,
                   help="a geocore minerals model (.safetensors + card): predict the photo's probabilities first")
    p.add_argument("--tta", action="store_true",
                   help="with --model: average over flips and a quarter turn (test-time augmentation)")
    p.add_argument("--probability-out", type=Path, default=None, help="with --model: keep the probabilities here")
    p.add_argument("--device", default="auto", help="with --model: auto, cpu or cuda")
    p.add_argument("--out", required=True, type=Path, help="polygons (.gpkg or .shp) with rank 1 = least sure")
    p.add_argument("--share", type=float, default=DEFAULT_SHARE,
                   help="share of the image to select (default %(default)s; the paper annotates 5-10 %%)")
    p.add_argument("--metric", choices=METRICS, default="entropy", help="entropy, or 1 - margin of the top two")
    p.add_argument("--smooth", type=float, default=DEFAULT_SMOOTH_PX, help="smoothing of the uncertainty map in pixels")
    p.add_argument("--min-area", type=int, default=DEFAULT_MIN_AREA_PX, help="drop regions smaller than this many pixels")
    p.add_argument("--map", type=Path, default=None, help="also write the uncertainty map (GeoTIFF)")
    p.set_defaults(func=_cmd_uncertainty)


_ADDERS = [_add_flatfield, _add_colour, _add_xpl, _add_annotate, _add_uncertainty]


def register(subparsers) -> None:
    """Add the microscopy commands to the top-level parser, and under ``geocore microscopy``."""
    for add in _ADDERS:
        add(subparsers)
    micro = subparsers.add_parser("microscopy", help="microscope image tools (the same commands as above)")
    sub = micro.add_subparsers(dest="command", required=True)
    for add in _ADDERS:
        add(sub)
