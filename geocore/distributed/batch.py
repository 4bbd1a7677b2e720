"""Batches: one function over many inputs, as Dask tasks or one after another.

An input that fails is reported with its error and does not stop the others;
the caller gets one :class:`ItemResult` per input, in input order.
"""

from __future__ import annotations

import glob
import os
import re
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Optional, Sequence

from ..errors import Cancelled, GeocoreError
from ..progress import Progress
from .scheduler import dask_client, is_client, limit_worker_threads, parse_scheduler, wait_some

#: File suffixes taken from a folder given as an input, per kind of input.
RASTER_SUFFIXES = (".tif", ".tiff", ".grd", ".ers", ".img", ".vrt", ".nc", ".asc", ".xyz")
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp")


def expand_inputs(items: Iterable, suffixes: Sequence[str] = RASTER_SUFFIXES) -> list[Path]:
    """Files from a mix of files, folders and glob patterns, in order, without repeats.

    A folder gives its files with one of ``suffixes`` (not recursive, sorted by
    name); a pattern with ``*``, ``?`` or ``[`` gives its matches (sorted); a
    file is taken as it is, whatever its suffix.

    Raises
    ------
    GeocoreError
        For a path that does not exist, a pattern that matches nothing or a
        folder without such files.
    """
    out: list[Path] = []
    seen: set = set()
    sfx = tuple(s.lower() for s in suffixes)

    def add(p: Path) -> None:
        key = os.path.abspath(p)
        if key not in seen:
            seen.add(key)
            out.append(p)

    for item in items:
        text = str(item)
        p = Path(text)
        if p.is_dir():
            files = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in sfx)
            if not files:
                raise GeocoreError(f"folder '{p}' holds no input files ({', '.join(suffixes)})")
            for f in files:
                add(f)
        elif p.exists():
            add(p)
        elif re.match(r"^[A-Za-z][A-Za-z0-9_]+:", text) or text.startswith("/vsi"):
            add(p)  # a GDAL connection string (NETCDF:"file":var, /vsizip/...): the reader checks it
        elif any(ch in text for ch in "*?["):
            hits = sorted(Path(h) for h in glob.glob(text) if Path(h).is_file())
            if not hits:
                raise GeocoreError(f"no file matches '{text}'")
            for h in hits:
                add(h)
        else:
            raise GeocoreError(f"input '{p}' does not exist")
    if not out:
        raise GeocoreError("no input was given")
    return out


def unique_names(inputs: Sequence[Path]) -> list[str]:
    """A distinct output name per input: the file stem, with its folder's name when stems repeat.

    Examples
    --------
    >>> unique_names([Path("a/x.tif"), Path("b/x.tif"), Path("b/y.tif")])
    ['a_x', 'b_x', 'y']
    """
    stems = [p.stem for p in inputs]
    names = []
    for p, s in zip(inputs, stems):
        names.append(s if stems.count(s) == 1 else f"{p.parent.name}_{s}")
    for i, n in enumerate(names):  # still equal (same folder name): number them
        if names.count(n) > 1:
            names[i] = f"{n}_{i + 1}"
    return names


@dataclass
class ItemResult:
    """The outcome of one input: ``ok`` with a summary line, or the error."""

    input: Path
    ok: bool
    summary: str = ""
    error: str = ""

    def line(self) -> str:
        """``<input>: <summary>`` or ``<input>: FAILED: <error>``."""
        return f"{self.input}: {self.summary}" if self.ok else f"{self.input}: FAILED: {self.error}"


@dataclass
class BatchResult:
    """Results of a batch, in input order."""

    items: list = field(default_factory=list)

    @property
    def n_failed(self) -> int:
        return sum(not r.ok for r in self.items)

    def summary(self) -> str:
        n = len(self.items)
        return f"{n - self.n_failed} of {n} input{'s' if n != 1 else ''} done, {self.n_failed} failed"


def _one_line(text: str) -> str:
    lines = [ln.strip() for ln in str(text).strip().splitlines() if ln.strip()]
    return "; ".join(lines)


def _guarded(fn: Callable, item, progress=None):
    """Run ``fn(item)``: ``(True, summary)`` or ``(False, error message)``; Cancelled passes through."""
    limit_worker_threads()
    try:
        res = fn(item, progress=progress) if progress is not None else fn(item)
    except Cancelled:
        raise
    except GeocoreError as exc:
        return False, str(exc)
    except Exception as exc:  # noqa: BLE001 - one broken input must not stop the batch
        tb = traceback.extract_tb(exc.__traceback__)
        where = f" ({Path(tb[-1].filename).name}:{tb[-1].lineno})" if tb else ""
        return False, f"{type(exc).__name__}: {exc}{where}"
    summary = res.summary() if hasattr(res, "summary") else ("" if res is None else str(res))
    return True, _one_line(summary)


def run_batch(
    fn: Callable,
    inputs: Sequence,
    *,
    scheduler=None,
    retries: int = 1,
    progress=None,
    cancel=None,
    on_result: Optional[Callable[[ItemResult], None]] = None,
    pass_progress: bool = False,
) -> BatchResult:
    """Run ``fn(input)`` for every input, locally or as Dask tasks.

    Parameters
    ----------
    fn : callable
        Module-level function (or :func:`functools.partial` of one), so that
        it can be sent to workers. Its return value's ``summary()`` (or its
        ``str``) is the input's result line. It should write its outputs
        atomically: a cancelled or failed input then leaves nothing.
    inputs : sequence
        One item per task (usually paths from :func:`expand_inputs`, or
        ``(input, output)`` tuples: the first element names the result).
    scheduler : str, Client or None
        ``None``/``"none"``: one after another in this process; ``"local[:N]"``
        or ``"tcp://host:8786"``: one Dask task per input.
    retries : int
        Times a task that raised an unexpected error is run again on the
        cluster (inputs with a :class:`GeocoreError` are not retried: the
        error is in the input).
    progress, cancel : callables or Progress
        Progress is the fraction of inputs done (and, without a cluster, of
        the current input when ``pass_progress``); cancel stops the batch:
        queued and running tasks are cancelled and :class:`Cancelled` is
        raised.
    on_result : callable, optional
        Called with each :class:`ItemResult` as it comes (in completion order).
    pass_progress : bool
        Call ``fn(item, progress=...)`` when running without a cluster.

    Returns
    -------
    BatchResult
        One result per input, in input order.
    """
    prog = Progress.wrap(progress, cancel)
    items = list(inputs)
    n = len(items)
    results: list = [None] * n

    def record(i: int, ok: bool, text: str) -> None:
        label = items[i][0] if isinstance(items[i], tuple) else items[i]
        r = ItemResult(Path(str(label)), ok, summary=text if ok else "", error="" if ok else text)
        results[i] = r
        if on_result is not None:
            on_result(r)

    if not is_client(scheduler) and not parse_scheduler(scheduler).distributed:
        for i, item in enumerate(items):
            prog.check()
            sub = prog.sub(i / n, (i + 1) / n) if pass_progress else None
            record(i, *_guarded(fn, item, sub))
            prog.update((i + 1) / n)
        return BatchResult(results)

    with dask_client(scheduler) as client:
        futures = {client.submit(_guarded, fn, item, key=f"geocore-{i}-{os.urandom(4).hex()}", retries=retries,
                                 pure=False): i for i, item in enumerate(items)}
        try:
            done = 0
            while futures:
                for f in wait_some(list(futures), prog.check):
                    i = futures.pop(f)
                    try:
                        ok, text = f.result()
                    except Cancelled:
                        raise
                    except Exception as exc:  # noqa: BLE001 - e.g. a worker killed too often
                        ok, text = False, f"{type(exc).__name__}: {exc}"
                    record(i, ok, _one_line(text))
                    done += 1
                    prog.update(done / n)
        except BaseException:
            client.cancel(list(futures), force=True)
            raise
    return BatchResult(results)
