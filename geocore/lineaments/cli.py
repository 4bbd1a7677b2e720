"""``geocore lineaments ...`` and ``geocore demo``: synthetic surveys, training, detection, comparison."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ..distributed.cli import add_scheduler_argument
from ..errors import Cancelled
from ..files import check_not_input, output_set
from ..progress import progress_bar

#: What each command writes into its output folder: a re-run replaces the whole set (see files.output_set)
SURVEY_SET = ("field.tif", "mask.tif", "axes.gpkg")
VECTOR_SET = ("lineaments.*", "rose.*", "density.tif", "preview.png")
DETECT_SET = ("probability.tif", *VECTOR_SET)
COMPARE_SET = ("scores.csv", "expert_lines.csv", "detected_lines.csv", "overlay.png")
DEMO_SET = tuple(f"survey/{n}" for n in SURVEY_SET) + tuple(f"detection/{n}" for n in DETECT_SET)


def _cmd_synth(args: argparse.Namespace) -> int:
    from ..magnetics.synthetic import SurveyConfig, synthesize_survey

    config = SurveyConfig.from_preset(args.preset)
    with output_set(replace=(args.out_dir, SURVEY_SET)), progress_bar("synthesising survey", args.quiet) as bar:
        res = synthesize_survey(args.out_dir, rows=args.size[0], cols=args.size[1], cell_size=args.cell,
                                seed=args.seed, config=config, progress=bar)
    print(f"field: {res.field_path}\nmask: {res.mask_path}\naxes: {res.axes_path} ({res.n_dykes} dykes)")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from .train import TrainConfig, train_lineament_model

    config = TrainConfig.from_namespace(args)
    from ..models.training import model_file

    out = model_file(args.out)
    if args.init:
        init = Path(args.init)
        check_not_input([out, out.with_suffix(".json")], [init, init.with_suffix(".json")])
    ckpt_dir = Path(args.checkpoint_dir) if args.checkpoint_dir else out.parent / (out.stem + ".ckpt")
    try:
        path = train_lineament_model(config, show_progress=not args.quiet)
    except (KeyboardInterrupt, Cancelled):
        # the samples and the last epoch are kept on purpose: --resume continues from them
        kept = f"; samples and checkpoint kept in '{ckpt_dir}' for --resume" if ckpt_dir.is_dir() else ""
        print(f"geocore: interrupted; no model was written{kept}", file=sys.stderr)
        return 130
    print(f"model: {path}\ncard: {path.with_suffix('.json')}")
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from .evaluate import evaluate_model

    with progress_bar("evaluating", args.quiet) as bar:
        metrics = evaluate_model(args.model, n_grids=args.grids, min_dykes=args.min_dykes, max_dykes=args.max_dykes,
                                 seed=args.seed, preset=args.preset, threshold=args.threshold, device=args.device,
                                 progress=bar)
    for k, v in metrics.items():
        print(f"{k}: {v:.4f}" if isinstance(v, float) else f"{k}: {v}")
    return 0


def _detect_kwargs(args: argparse.Namespace) -> dict:
    from ..inference import TileParams
    from .vectorize import VectorizeParams

    tiles = TileParams(tile_size=args.tile, overlap=args.overlap, batch_size=args.batch_size, device=args.device,
                       augment=args.tta)
    return dict(model_path=args.model, band=args.band, tiles=tiles,
                vector_params=VectorizeParams.from_namespace(args), method=args.method,
                classical=classical_from_namespace(args), scales=_scales(args.scales))


def _detect_one(item, **kwargs):
    """One input of a batch: ``item`` is ``(grid, out_dir)``."""
    from .detect import detect_to_folder

    grid, out_dir = item
    with output_set(replace=(out_dir, DETECT_SET), inputs=[grid, kwargs.get("model_path")]):
        return detect_to_folder(grid, out_dir, **kwargs)


def _cmd_detect(args: argparse.Namespace) -> int:
    from functools import partial

    from ..distributed.batch import RASTER_SUFFIXES, expand_inputs
    from ..distributed.cli import batch_outputs, run_cli_batch
    from .detect import detect_to_folder

    grids = expand_inputs(args.grid, RASTER_SUFFIXES)
    if len(grids) > 1:  # a batch, one task per grid, each into OUT_DIR/<name>/
        return run_cli_batch(args, batch_outputs(grids, args.out_dir), partial(_detect_one, **_detect_kwargs(args)),
                             "detecting lineaments")
    with output_set(replace=(args.out_dir, DETECT_SET), inputs=[grids[0], args.model]), \
            progress_bar("detecting lineaments", args.quiet) as bar:  # one grid: its strips across the cluster
        res = detect_to_folder(grids[0], args.out_dir, progress=bar, scheduler=args.scheduler,
                               **_detect_kwargs(args))
    print(res.summary())
    return 0


def _cmd_vectorize(args: argparse.Namespace) -> int:
    from .detect import vectorize_to_folder
    from .vectorize import VectorizeParams

    with output_set(replace=(args.out_dir, VECTOR_SET), inputs=[args.probability]), \
            progress_bar("vectorising", args.quiet) as bar:
        res = vectorize_to_folder(args.probability, args.out_dir, vector_params=VectorizeParams.from_namespace(args), progress=bar)
    print(res.summary())
    return 0


def _cmd_compare(args: argparse.Namespace) -> int:
    from .compare import CompareParams, compare_to_folder

    params = CompareParams(tolerance=args.tolerance, strike_tolerance=args.strike_tolerance,
                           shift=args.shift)
    with output_set(replace=(args.out_dir, COMPARE_SET), inputs=[args.detected, args.expert, args.grid]), \
            progress_bar("comparing lineaments", args.quiet) as bar:
        res = compare_to_folder(args.detected, args.expert, args.out_dir, params, grid=args.grid, progress=bar)
    print(res.summary())
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    with output_set(replace=(args.out_dir, DEMO_SET)):
        res = run_demo(args.out_dir, size=args.size, seed=args.seed, device=args.device, quiet=args.quiet)
    print(res.summary(), flush=True)
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


def register(subparsers) -> None:
    """Add ``geocore lineaments ...`` and ``geocore demo`` to the top-level parser."""
    from .train import TrainConfig
    from .vectorize import VectorizeParams

    lin = subparsers.add_parser("lineaments", help="magnetic lineaments: synthetic surveys, training, detection")
    sub = lin.add_subparsers(dest="command", required=True)

    s = sub.add_parser("synth", help="write a synthetic dyke survey with its true axes")
    s.add_argument("--size", nargs=2, type=int, metavar=("ROWS", "COLS"), default=(192, 192))
    s.add_argument("--cell", type=float, default=50.0, help="cell size in metres (default 50)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--preset", choices=("paper", "realistic", "survey"), default="paper",
                   help="paper: vertical magnetisation and dykes only; realistic: inclined fields, remanence, "
                        "distractors; survey: realistic plus a fractal basement fabric, gridding from flight "
                        "lines, swarms and thin dykes")
    s.add_argument("--out-dir", required=True, type=Path)
    s.set_defaults(func=_cmd_synth)

    t = sub.add_parser("train", help="train a VGG16-U-Net on synthetic dyke grids")
    TrainConfig.add_arguments(t)
    t.set_defaults(func=_cmd_train)

    e = sub.add_parser("evaluate", help="the paper's validation: fresh synthetic grids, pixel and axis metrics")
    e.add_argument("--model", type=Path, default=None, help="model .safetensors (default: the shipped model)")
    e.add_argument("--grids", type=int, default=100)
    e.add_argument("--min-dykes", type=int, default=6)
    e.add_argument("--max-dykes", type=int, default=10)
    e.add_argument("--seed", type=int, default=90210)
    e.add_argument("--preset", choices=("paper", "realistic", "survey"), default="paper")
    e.add_argument("--threshold", type=float, default=0.5)
    e.add_argument("--device", default="auto")
    e.set_defaults(func=_cmd_evaluate)

    d = sub.add_parser("detect", help="probability map, vector axes, rose diagram and density from a grid")
    d.add_argument("grid", nargs="+", help="any raster GDAL reads (GeoTIFF, Surfer, ER Mapper, ...); several "
                                           "files, folders or globs run as a batch, each into OUT_DIR/<name>/")
    d.add_argument("--out-dir", required=True, type=Path)
    d.add_argument("--model", type=Path, default=None, help="model .safetensors (default: the shipped model)")
    d.add_argument("--band", type=int, default=None, help="band to use (required for multi-band rasters)")
    d.add_argument("--tile", type=int, default=None, help="tile size in cells (default: the model's)")
    d.add_argument("--overlap", type=float, default=0.5, help="tile overlap as a fraction (default 0.5)")
    d.add_argument("--threshold", type=float, default=0.5, help="probability threshold for axes (default 0.5)")
    d.add_argument("--device", default="auto", help="auto, cpu or cuda")
    d.add_argument("--batch-size", type=int, default=8)
    d.add_argument("--tta", type=int, default=1, choices=(1, 2, 4, 8),
                   help="cnn: test-time augmentation, the probability averaged over this many rotations of each "
                        "tile (4: the four right-angle rotations; as many times the inference time). Default 1; "
                        "4 drops most lines drawn along smoothed noise (bench/RESULTS.md)")
    VectorizeParams.add_arguments(d, field=True)
    add_method_arguments(d)
    add_scheduler_argument(d)
    d.set_defaults(func=_cmd_detect)

    v = sub.add_parser("vectorize", help="vector axes, rose and density from a probability raster")
    v.add_argument("probability", type=Path)
    v.add_argument("--out-dir", required=True, type=Path)
    v.add_argument("--threshold", type=float, default=0.5)
    VectorizeParams.add_arguments(v)
    v.set_defaults(func=_cmd_vectorize)

    register_compare(sub)
    register_benchmark(sub)
    register_finetune(sub)

    demo = subparsers.add_parser("demo", help="synthesise a survey, detect its lineaments and score them against "
                                              "the truth")
    demo.add_argument("--out-dir", type=Path, default=Path("demo_output"))
    demo.add_argument("--size", type=int, default=1024, help="grid edge in cells (default 1024)")
    demo.add_argument("--seed", type=int, default=20261122, help="survey seed (not used in training)")
    demo.add_argument("--device", default="auto")
    demo.set_defaults(func=_cmd_demo)


# ----------------------------------------------------------------------------- detection method options
def add_method_arguments(p) -> None:
    """``--method`` and the options of the classical detectors (for ``detect``)."""
    from .classical import METHOD_HELP, METHODS, ClassicalParams

    d = ClassicalParams()
    g = p.add_argument_group("detection method")
    g.add_argument("--method", choices=METHODS, default="cnn",
                   help="; ".join(f"{k}: {v}" for k, v in METHOD_HELP.items()))
    g.add_argument("--inclination", type=float, default=None,
                   help="main-field inclination in degrees, positive down (tilt, vdr, thg; optional for tga)")
    g.add_argument("--declination", type=float, default=None,
                   help="main-field declination in degrees, clockwise from north")
    g.add_argument("--reduction", choices=("auto", "rtp", "rte", "none"), default=d.reduction,
                   help="classical methods: reduce to the pole (|I| >= 30) or equator (below) with auto (default)")
    g.add_argument("--scales", nargs="+", default=["auto"],
                   help="cnn: 'auto' (default) runs the network at the fraction of the grid's resolution where "
                        "the grid resolves as much as the grids it learned (1 for grids that already do), or on "
                        "the grid interpolated to smaller cells when its anomalies are narrower in cells than the "
                        "ones it learned (a coarse grid); factors such as 1 0.5 0.25 (or 2: cells twice as small) "
                        "run at each and keep the largest probability; 1: the grid as it is")
    g.add_argument("--percentile", type=float, default=d.percentile,
                   help=f"classical methods: ridge strength percentile that maps to 0.5 (default {d.percentile:g})")


def _scales(values):
    """``--scales`` as :func:`detect_lineaments` takes it: ``"auto"`` or a list of fractions."""
    from .scale import parse_scales

    return parse_scales(" ".join(values))


def classical_from_namespace(args):
    """The :class:`ClassicalParams` of parsed :func:`add_method_arguments` options (None for ``cnn``)."""
    from .classical import ClassicalParams

    if getattr(args, "method", "cnn") == "cnn":
        return None
    return ClassicalParams(method=args.method, inclination=args.inclination, declination=args.declination,
                           reduction=args.reduction, percentile=args.percentile)


# ----------------------------------------------------------------------------- benchmark
def _cmd_benchmark(args: argparse.Namespace) -> int:
    from ..errors import GeocoreError
    from .benchmark import BenchmarkCase, default_detectors, load_cases, run_benchmark

    if (args.cases is None) == (args.grid is None):
        raise GeocoreError("give either --cases CASES.json or --grid GRID --expert LINES")
    if args.cases is not None:
        cases = load_cases(args.cases)
    else:
        if args.expert is None:
            raise GeocoreError("--grid needs --expert LINES (the expert's lineaments over the grid)")
        cases = [BenchmarkCase(name=args.name or Path(args.grid).stem, grid=args.grid, expert=args.expert,
                               inclination=args.inclination, declination=args.declination, band=args.band)]
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    models = args.model or [None]
    dets = []
    for i, m in enumerate(models):
        dets += default_detectors(m, [x for x in methods if x == "cnn"] if i else methods)
    with progress_bar("benchmarking detectors", args.quiet) as bar:
        res = run_benchmark(cases, dets, args.out_dir, tolerances=args.tolerances, device=args.device,
                            figures=not args.no_figures, progress=bar)
    print(res.markdown())
    for key, path in res.paths.items():
        print(f"{key}: {path}")
    return 0


def register_benchmark(subparsers) -> None:
    """Add ``benchmark`` to the ``lineaments`` sub-parsers."""
    from .benchmark import DEFAULT_TOLERANCES

    b = subparsers.add_parser("benchmark", help="score detectors (CNN and classical) against expert lines on real "
                                                "grids: recall, precision, F1, chance baselines and lift")
    b.add_argument("--cases", type=Path, default=None,
                   help='JSON list of cases: [{"name": ..., "grid": ..., "expert": ..., "inclination": ..., '
                        '"declination": ...}, ...] (paths relative to the file)')
    b.add_argument("--grid", type=Path, default=None, help="one case: the grid")
    b.add_argument("--expert", type=Path, default=None, help="one case: the expert's lines over it")
    b.add_argument("--name", default=None, help="one case: its name in the table")
    b.add_argument("--inclination", type=float, default=None, help="one case: main-field inclination, degrees")
    b.add_argument("--declination", type=float, default=None, help="one case: main-field declination, degrees")
    b.add_argument("--band", type=int, default=None)
    b.add_argument("--methods", default="cnn,tga,tilt,vdr,thg",
                   help="comma-separated detectors (default cnn,tga,tilt,vdr,thg)")
    b.add_argument("--model", type=Path, action="append", default=None,
                   help="CNN model (repeat to compare several; default the shipped one)")
    b.add_argument("--tolerances", type=float, nargs="+", default=list(DEFAULT_TOLERANCES),
                   help="distance tolerances in metres (default 250 500 1000)")
    b.add_argument("--device", default="auto")
    b.add_argument("--no-figures", action="store_true", help="no overlay PNGs")
    b.add_argument("--out-dir", required=True, type=Path)
    b.set_defaults(func=_cmd_benchmark)


# ----------------------------------------------------------------------------- finetune
def _cmd_finetune(args: argparse.Namespace) -> int:
    import sys

    from ..errors import GeocoreError
    from .finetune import FinetuneConfig, finetune_model, score_finetuned

    if args.score and args.area is None:
        raise GeocoreError("--score needs --area (the held-out part is the grid outside the interpreted area)")
    cfg = FinetuneConfig(out=args.out, init=args.init, steps=args.steps, batch_size=args.batch_size, crop=args.crop,
                         lr=args.lr, synthetic_share=args.synthetic_share, synthetic_samples=args.synthetic_samples,
                         negative_weight=args.negative_weight, seed=args.seed, device=args.device,
                         max_minutes=args.max_minutes)
    log = (lambda s: print(s, file=sys.stderr)) if not args.quiet else None
    with progress_bar("fine-tuning", args.quiet) as bar:
        path = finetune_model(args.grid, args.expert, cfg, area_path=args.area, band=args.band, progress=bar,
                              log=log)
    print(f"model: {path}\ncard: {path.with_suffix('.json')}")
    if args.score:
        scores = score_finetuned(args.grid, args.expert, args.area, path, init=args.init, tolerance=args.tolerance,
                                 band=args.band, device=args.device)
        for label, s in scores.items():
            print(f"held out ({label}): recall {s['recall']:.3f}  precision {s['precision']:.3f}  F1 {s['f1']:.3f}"
                  f"  lift {s['lift_shifted']:.2f}  ({s['detected_km']:.1f} km detected)")
    return 0


def register_finetune(subparsers) -> None:
    """Add ``finetune`` to the ``lineaments`` sub-parsers."""
    from .finetune import FinetuneConfig

    d = FinetuneConfig()
    f = subparsers.add_parser("finetune", help="fine-tune the lineament model on a real grid and an interpreter's "
                                               "lines, then detect with it over the rest")
    f.add_argument("grid", type=Path, help="the survey grid")
    f.add_argument("expert", type=Path, help="the interpreter's lines (any OGR vector)")
    f.add_argument("--out", type=Path, required=True, help="model file to write (.safetensors; card beside it)")
    f.add_argument("--area", type=Path, default=None,
                   help="polygons of the interpreted area (lines complete there; default the whole grid)")
    f.add_argument("--init", type=Path, default=None, help="model to start from (default: the shipped one)")
    f.add_argument("--steps", type=int, default=d.steps, help=f"optimiser steps (default {d.steps})")
    f.add_argument("--batch-size", type=int, default=d.batch_size)
    f.add_argument("--crop", type=int, default=d.crop, help=f"crop edge in cells, multiple of 32 (default {d.crop})")
    f.add_argument("--lr", type=float, default=d.lr)
    f.add_argument("--synthetic-share", type=float, default=d.synthetic_share,
                   help=f"share of synthetic samples in each batch, against forgetting (default {d.synthetic_share:g})")
    f.add_argument("--synthetic-samples", type=int, default=d.synthetic_samples)
    f.add_argument("--negative-weight", type=float, default=d.negative_weight,
                   help="loss weight of cells far from every expert line (uncertain negatives; "
                        f"default {d.negative_weight:g})")
    f.add_argument("--seed", type=int, default=d.seed)
    f.add_argument("--device", default=d.device)
    f.add_argument("--max-minutes", type=float, default=None)
    f.add_argument("--band", type=int, default=None)
    f.add_argument("--score", action="store_true",
                   help="score the model before and after outside --area (held out), into the card")
    f.add_argument("--tolerance", type=float, default=500.0, help="held-out scoring tolerance, metres (default 500)")
    f.set_defaults(func=_cmd_finetune)
