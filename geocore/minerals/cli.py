"""``geocore minerals ...``: synthetic sections, training, evaluation, segmentation, statistics."""

from __future__ import annotations

import json
from pathlib import Path

from ..files import check_not_input, output_set
from ..progress import progress_bar

#: What each command writes into its output folder: a re-run replaces the whole set (see files.output_set)
SECTIONS_SET = ("imgs/train/*.jpg", "imgs/test/*.jpg", "masks/train/*.png", "masks/test/*.png")
STATS_SET = ("stats.csv", "grain_sizes.csv", "contacts.csv", "area_fractions.png", "grain_sizes.png",
             "contacts.png", "report.html")
SEGMENT_SET = ("classes.tif", "minerals.*", "probabilities.tif", *STATS_SET)


def _cmd_synth(args) -> int:
    from .classes import parse_codes
    from .synthetic import write_sections

    with output_set(replace=(args.out_dir, SECTIONS_SET)), progress_bar("synthesising sections", args.quiet) as bar:
        res = write_sections(args.out_dir, args.count, shape=tuple(args.size), seed=args.seed,
                             codes=parse_codes(args.classes), test_fraction=args.test_fraction,
                             grain_px=args.grain_px, progress=bar)
    print(f"{res['train']} training and {res['test']} test sections in {res['folder']} "
          f"(imgs/{{train,test}}/*.jpg, masks/{{train,test}}/*.png)")
    return 0


def _cmd_train(args) -> int:
    from .train import MineralTrainConfig, train_mineral_model

    path = train_mineral_model(MineralTrainConfig.from_namespace(args), show_progress=not args.quiet)
    print(f"model: {path}\ncard: {path.with_suffix('.json')}")
    return 0


def _cmd_evaluate(args) -> int:
    from .segment import default_model_path
    from .train import evaluate_model

    if args.json:
        model = Path(args.model) if args.model else Path(default_model_path())
        check_not_input([args.json], [model, model.with_suffix(".json")])
    with progress_bar("evaluating", args.quiet) as bar:
        m = evaluate_model(args.data, args.model, split=args.split, device=args.device, tile_size=args.tile,
                           progress=bar)
    if m.get("model_note"):
        print(f"WARNING: {m['model_note']}")
    print(f"images: {m['images']}\nmean IoU: {m['mean_iou']:.4f}\npixel accuracy: {m['pixel_accuracy']:.4f}")
    for label, v in m["iou"].items():
        print(f"  IoU {label:>4s}: {v:.4f}")
    if m.get("classes_unknown_to_model"):
        print("classes in the masks the model does not know: " + ", ".join(m["classes_unknown_to_model"]))
    if args.json:
        from ..files import atomic_output

        with atomic_output(args.json) as tmp:
            tmp.write_text(json.dumps(m, indent=2) + "\n")
        print(f"metrics: {args.json}")
    return 0


def _segment_kwargs(args) -> dict:
    from .params import SegmentParams

    params = SegmentParams(um_per_px=args.um_per_px, tile_size=args.tile, overlap=args.overlap,
                           batch_size=args.batch_size, device=args.device, min_grain_px=args.min_grain_px,
                           include_background=args.with_background, size_classes=args.size_classes)
    return dict(params=params, model_path=args.model, extra=args.extra or (), probabilities=args.probabilities,
                vector_format=args.format)


def _segment_one(item, **kwargs):
    """One input of a batch: ``item`` is ``(image, out_dir)``."""
    from .segment import segment_to_folder

    image, out_dir = item
    with output_set(replace=(out_dir, SEGMENT_SET), inputs=[image, *(kwargs.get("extra") or ()),
                                                            kwargs.get("model_path")]):
        return segment_to_folder(image, out_dir, **kwargs)


def _cmd_segment(args) -> int:
    from functools import partial

    from ..distributed.batch import PHOTO_SUFFIXES, expand_inputs
    from ..distributed.cli import batch_outputs, is_batch, run_cli_batch
    from ..errors import GeocoreError
    from .segment import segment_to_folder

    images = expand_inputs(args.image, PHOTO_SUFFIXES)
    if is_batch(args, images):  # one output folder per image: OUT_DIR/<name>/
        if args.extra and len(images) > 1:
            raise GeocoreError("--extra photographs belong to one image; segment one image at a time with --extra")
        return run_cli_batch(args, batch_outputs(images, args.out_dir), partial(_segment_one, **_segment_kwargs(args)),
                             "segmenting minerals")
    with output_set(replace=(args.out_dir, SEGMENT_SET), inputs=[images[0], *(args.extra or ()), args.model]), \
            progress_bar("segmenting minerals", args.quiet) as bar:
        res = segment_to_folder(images[0], args.out_dir, progress=bar, **_segment_kwargs(args))
    print(res.summary())
    return 0


def _cmd_stats(args) -> int:
    from .stats import class_map_note, statistics_from_raster, write_statistics

    with output_set(replace=(args.out_dir, STATS_SET), inputs=[args.classes]), \
            progress_bar("mineral statistics", args.quiet) as bar:
        st = statistics_from_raster(args.classes, um_per_px=args.um_per_px, size_classes=args.size_classes,
                                    progress=bar)
        note = class_map_note(args.classes)
        paths = write_statistics(st, args.out_dir, source=f"Class map: {Path(args.classes).name}", warning=note)
    if note:
        print(f"WARNING: {note}")
    for k, v in paths.items():
        print(f"{k}: {v}")
    return 0


def register(subparsers) -> None:
    """Add ``geocore minerals`` and its commands to the top-level subparsers."""
    from .segment import SHIPPED_MODEL
    from .synthetic import DEMO_CODES
    from ..distributed.cli import add_scheduler_argument
    from .train import MineralTrainConfig

    mp = subparsers.add_parser("minerals", help="ore minerals on polished-section photographs: segmentation, statistics, training")
    sub = mp.add_subparsers(dest="command", required=True)

    s = sub.add_parser("synth", help="write synthetic polished sections with known masks (LumenStone layout)")
    s.add_argument("--out-dir", required=True, type=Path)
    s.add_argument("--count", type=int, default=20, help="number of sections (default 20)")
    s.add_argument("--size", nargs=2, type=int, metavar=("ROWS", "COLS"), default=(512, 512))
    s.add_argument("--seed", type=int, default=0, help="section i uses seed + i")
    s.add_argument("--classes", default=",".join(map(str, DEMO_CODES)), help="classes that may appear (default S1+S2)")
    s.add_argument("--test-fraction", type=float, default=0.2)
    s.add_argument("--grain-px", type=float, default=48.0, help="typical grain diameter in pixels")
    s.set_defaults(func=_cmd_synth)

    t = sub.add_parser("train", help="train a segmentation model on LumenStone-layout folders")
    MineralTrainConfig.add_arguments(t)
    t.set_defaults(func=_cmd_train)

    e = sub.add_parser("evaluate", help="mean IoU, pixel accuracy and confusion matrix as in the LumenStone paper")
    e.add_argument("--data", nargs="+", type=Path, required=True, help="LumenStone-layout folders")
    e.add_argument("--model", type=Path, default=None, help=f"model (default: the shipped demo {SHIPPED_MODEL})")
    e.add_argument("--split", choices=("train", "test"), default="test")
    e.add_argument("--tile", type=int, default=None, help="tile size (default: the model's)")
    e.add_argument("--device", default="auto")
    e.add_argument("--json", type=Path, default=None, help="also write all metrics (with the confusion matrix) here")
    e.set_defaults(func=_cmd_evaluate)

    from .params import SegmentParams

    d = SegmentParams()
    g = sub.add_parser("segment", help="class map, mineral polygons and statistics of a photograph or panorama")
    g.add_argument("image", nargs="+", help="8-bit RGB photograph or panorama (JPEG, PNG, TIFF, ...); several files, "
                                            "folders or globs run as a batch, each into OUT_DIR/<name>/")
    g.add_argument("--out-dir", required=True, type=Path)
    g.add_argument("--model", type=Path, default=None, help="model .safetensors (default: the shipped DEMO model)")
    g.add_argument("--um-per-px", type=float, default=None,
                   help="pixel size in micrometres: outputs in the micrometre frame, areas in µm²; a plain photo "
                        "gets photo.tif, its copy in that frame, to overlay the outputs in QGIS")
    g.add_argument("--extra", nargs="*", type=Path, default=None, help="aligned extra photographs (crossed polars)")
    g.add_argument("--probabilities", action="store_true", help="also write probabilities.tif: one band per class, uint8 scaled "
                   "by 1/254, written in the class-map pass (measured: 3.3 MB and no extra time for "
                   "1698 x 1273 px, 10 classes)")
    g.add_argument("--format", default="gpkg", choices=("gpkg", "shp", "geojson"), help="polygon format")
    g.add_argument("--tile", type=int, default=None, help="tile size in px (default: the model's)")
    g.add_argument("--overlap", type=float, default=d.overlap)
    g.add_argument("--batch-size", type=int, default=d.batch_size)
    g.add_argument("--device", default=d.device)
    g.add_argument("--min-grain-px", type=int, default=d.min_grain_px, help="merge patches smaller than this (px; 0: off)")
    g.add_argument("--with-background", action="store_true", help="polygons for non-ore too")
    g.add_argument("--size-classes", type=float, nargs="+", default=None, help="grain-size class edges in µm")
    add_scheduler_argument(g)
    g.set_defaults(func=_cmd_segment)

    st = sub.add_parser("stats", help="area fractions, grain sizes and contacts of a class map (CSV, PNG, HTML)")
    st.add_argument("classes", type=Path, help="class map GeoTIFF (classes.tif from segment)")
    st.add_argument("--out-dir", required=True, type=Path)
    st.add_argument("--um-per-px", type=float, default=None, help="pixel size in µm (default: from the map's CRS, else 1)")
    st.add_argument("--size-classes", type=float, nargs="+", default=None, help="grain-size class edges in µm")
    st.set_defaults(func=_cmd_stats)
