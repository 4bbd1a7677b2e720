"""Command-line side of batches: ``--scheduler`` and one helper that every batch command calls."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Callable, Sequence

SCHEDULER_HELP = ("where to run: none (this process, default), local[:N] (a Dask LocalCluster of N workers "
                  "on this machine), or tcp://host:8786 (a running Dask cluster); needs pip install 'geocore[dask]'")


def add_scheduler_argument(p) -> None:
    """Add ``--scheduler`` to a command's parser."""
    p.add_argument("--scheduler", default=None, metavar="SCHED", help=SCHEDULER_HELP)


def is_batch(args, inputs: Sequence) -> bool:
    """A command runs as a batch with more than one input, or when a scheduler was chosen."""
    from .scheduler import parse_scheduler

    return len(inputs) > 1 or parse_scheduler(getattr(args, "scheduler", None)).distributed


def batch_outputs(inputs: Sequence[Path], out_dir: Path, suffix: str = "") -> list[tuple[Path, Path]]:
    """``(input, out_dir / <unique name><suffix>)`` for every input."""
    from .batch import unique_names

    return [(p, Path(out_dir) / f"{n}{suffix}") for p, n in zip(inputs, unique_names(inputs))]


def run_cli_batch(args, items: Sequence, fn: Callable, desc: str) -> int:
    """Run ``fn`` over ``items`` on ``args.scheduler`` with one progress bar.

    Prints a line per input as it finishes (``<input>: <result>`` or
    ``<input>: FAILED: <error>``) and a summary. Returns 0 when every input
    worked, else 2 (after ``geocore: error: N of M inputs failed``).
    """
    from ..progress import progress_bar
    from .batch import run_batch

    def show(r) -> None:
        print(r.line(), flush=True)

    with progress_bar(f"{desc} ({len(items)} input{'s' if len(items) != 1 else ''})", args.quiet) as bar:
        res = run_batch(fn, items, scheduler=getattr(args, "scheduler", None), progress=bar, on_result=show)
    print(res.summary())
    if res.n_failed:
        print(f"geocore: error: {res.n_failed} of {len(res.items)} inputs failed (see the FAILED lines above)",
              file=sys.stderr)
        return 2
    return 0
