"""The ``geocore`` command line.

Every command calls one library function; errors in the user's input are
printed as one line (``geocore: error: ...``) with exit code 2, and progress
is shown with tqdm bars.
"""

from __future__ import annotations

import argparse
import contextlib
import sys
import warnings
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional, Sequence

from . import __version__
from .errors import Cancelled, GeocoreError


@contextmanager
def progress_bar(desc: str, quiet: bool = False) -> Iterator:
    """A tqdm bar driven by a ``progress(fraction)`` callback."""
    if quiet:
        yield None
        return
    from tqdm import tqdm

    bar = tqdm(total=1000, desc=desc, unit="‰", leave=True, file=sys.stderr,
               bar_format="{desc}: {percentage:3.0f}%|{bar}| [{elapsed}<{remaining}]")

    def update(fraction: float) -> None:
        n = int(round(fraction * 1000))
        if n > bar.n:
            bar.update(n - bar.n)

    try:
        yield update
        update(1.0)
    finally:
        bar.close()


# ----------------------------------------------------------------------------- lineaments
def _cmd_synth(args: argparse.Namespace) -> int:
    from .magnetics.synthetic import SurveyConfig, synthesize_survey

    config = SurveyConfig.from_preset(args.preset)
    with progress_bar("synthesising survey", args.quiet) as bar:
        res = synthesize_survey(args.out_dir, rows=args.size[0], cols=args.size[1], cell_size=args.cell,
                                seed=args.seed, config=config, progress=bar)
    print(f"field: {res.field_path}\nmask: {res.mask_path}\naxes: {res.axes_path} ({res.n_dykes} dykes)")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    from .lineaments.train import TrainConfig, train_lineament_model

    config = TrainConfig.from_namespace(args)
    path = train_lineament_model(config, show_progress=not args.quiet)
    print(f"model: {path}\ncard: {path.with_suffix('.json')}")
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    from .lineaments.evaluate import evaluate_model

    with progress_bar("evaluating", args.quiet) as bar:
        metrics = evaluate_model(args.model, n_grids=args.grids, min_dykes=args.min_dykes, max_dykes=args.max_dykes,
                                 seed=args.seed, preset=args.preset, threshold=args.threshold, device=args.device,
                                 progress=bar)
    for k, v in metrics.items():
        print(f"{k}: {v:.4f}" if isinstance(v, float) else f"{k}: {v}")
    return 0


def _cmd_detect(args: argparse.Namespace) -> int:
    from .lineaments.detect import detect_to_folder
    from .lineaments.vectorize import VectorizeParams

    with progress_bar("detecting lineaments", args.quiet) as bar:
        res = detect_to_folder(args.grid, args.out_dir, model_path=args.model, band=args.band,
                               tile_size=args.tile, overlap=args.overlap, threshold=args.threshold,
                               device=args.device, batch_size=args.batch_size,
                               vector_params=VectorizeParams.from_namespace(args), progress=bar)
    print(res.summary())
    return 0


def _cmd_vectorize(args: argparse.Namespace) -> int:
    from .lineaments.detect import vectorize_to_folder
    from .lineaments.vectorize import VectorizeParams

    with progress_bar("vectorising", args.quiet) as bar:
        res = vectorize_to_folder(args.probability, args.out_dir, threshold=args.threshold,
                                  vector_params=VectorizeParams.from_namespace(args), progress=bar)
    print(res.summary())
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from .lineaments.demo import run_demo

    run_demo(args.out_dir, size=args.size, seed=args.seed, device=args.device, quiet=args.quiet)
    return 0


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="geocore", description=__doc__.splitlines()[0])
    p.add_argument("--version", action="version", version=f"geocore {__version__}")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    top = p.add_subparsers(dest="domain", required=True)

    lin = top.add_parser("lineaments", help="magnetic lineaments: synthetic surveys, training, detection")
    sub = lin.add_subparsers(dest="command", required=True)

    s = sub.add_parser("synth", help="write a synthetic dyke survey with its true axes")
    s.add_argument("--size", nargs=2, type=int, metavar=("ROWS", "COLS"), default=(192, 192))
    s.add_argument("--cell", type=float, default=50.0, help="cell size in metres (default 50)")
    s.add_argument("--seed", type=int, default=0)
    s.add_argument("--preset", choices=("paper", "realistic"), default="paper",
                   help="paper: vertical magnetisation and dykes only; realistic: inclined fields, remanence, distractors")
    s.add_argument("--out-dir", required=True, type=Path)
    s.set_defaults(func=_cmd_synth)

    t = sub.add_parser("train", help="train a VGG16-U-Net on synthetic dyke grids")
    from .lineaments.train import TrainConfig
    from .lineaments.vectorize import VectorizeParams

    TrainConfig.add_arguments(t)
    t.set_defaults(func=_cmd_train)

    e = sub.add_parser("evaluate", help="the paper's validation: fresh synthetic grids, pixel and axis metrics")
    e.add_argument("--model", type=Path, default=None, help="model .safetensors (default: the shipped model)")
    e.add_argument("--grids", type=int, default=100)
    e.add_argument("--min-dykes", type=int, default=6)
    e.add_argument("--max-dykes", type=int, default=10)
    e.add_argument("--seed", type=int, default=90210)
    e.add_argument("--preset", choices=("paper", "realistic"), default="paper")
    e.add_argument("--threshold", type=float, default=0.5)
    e.add_argument("--device", default="auto")
    e.set_defaults(func=_cmd_evaluate)

    d = sub.add_parser("detect", help="probability map, vector axes, rose diagram and density from a grid")
    d.add_argument("grid", type=Path, help="any raster GDAL reads (GeoTIFF, Surfer, ER Mapper, ...)")
    d.add_argument("--out-dir", required=True, type=Path)
    d.add_argument("--model", type=Path, default=None, help="model .safetensors (default: the shipped model)")
    d.add_argument("--band", type=int, default=None, help="band to use (required for multi-band rasters)")
    d.add_argument("--tile", type=int, default=None, help="tile size in cells (default: the model's)")
    d.add_argument("--overlap", type=float, default=0.5, help="tile overlap as a fraction (default 0.5)")
    d.add_argument("--threshold", type=float, default=0.5, help="probability threshold for axes (default 0.5)")
    d.add_argument("--device", default="auto", help="auto, cpu or cuda")
    d.add_argument("--batch-size", type=int, default=8)
    VectorizeParams.add_arguments(d)
    d.set_defaults(func=_cmd_detect)

    v = sub.add_parser("vectorize", help="vector axes, rose and density from a probability raster")
    v.add_argument("probability", type=Path)
    v.add_argument("--out-dir", required=True, type=Path)
    v.add_argument("--threshold", type=float, default=0.5)
    VectorizeParams.add_arguments(v)
    v.set_defaults(func=_cmd_vectorize)

    from .lineaments.cli import register_compare

    register_compare(sub)

    demo = top.add_parser("demo", help="synthesise a survey, detect its lineaments and score them against the truth")
    demo.add_argument("--out-dir", type=Path, default=Path("demo_output"))
    demo.add_argument("--size", type=int, default=1024, help="grid edge in cells (default 1024)")
    demo.add_argument("--seed", type=int, default=20261122, help="survey seed (not used in training)")
    demo.add_argument("--device", default="auto")
    demo.set_defaults(func=_cmd_demo)

    from .grids.cli import register as register_grids
    from .magnetics.cli import register as register_magnetics
    from .microscopy.cli import register as register_microscopy
    from .minerals.cli import register as register_minerals
    from .panorama.cli import register as register_panorama

    register_grids(top)
    register_magnetics(top)
    register_minerals(top)
    register_panorama(top)
    register_microscopy(top)
    return p


@contextlib.contextmanager
def command_warnings():
    """The warning filters of a command: every warning once, except matplotlib's Axes3D one; the
    caller's filters are restored afterwards (``main`` may run inside a test or another program)."""
    with warnings.catch_warnings():
        warnings.simplefilter("default")
        # matplotlib's 3-D toolkit clashes when a system copy sits beside the pip one (Debian + venv with
        # --system-site-packages); geocore draws only 2-D figures, so the warning is noise for its users
        warnings.filterwarnings("ignore", message="Unable to import Axes3D", category=UserWarning)
        yield


def main(argv: Optional[Sequence[str]] = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with command_warnings():
            return int(args.func(args) or 0)
    except Cancelled as exc:
        print(f"geocore: {exc}", file=sys.stderr)
        return 130
    except GeocoreError as exc:
        print(f"geocore: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("geocore: interrupted; no output was written", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
