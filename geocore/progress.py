"""Progress reporting and cancellation shared by the command line and QGIS.

Library functions accept two optional callables:

- ``progress(fraction)`` with ``fraction`` in [0, 1];
- ``cancel()`` returning True when the user asked to stop.

:class:`Progress` bundles them, maps sub-steps onto sub-ranges of the bar and
raises :class:`~geocore.errors.Cancelled` when asked to stop.
:func:`progress_bar` shows such a callback as a tqdm bar on the command line.
"""

from __future__ import annotations

import sys
from contextlib import contextmanager
from typing import Callable, Iterator, Optional

from .errors import Cancelled

ProgressFn = Callable[[float], None]
CancelFn = Callable[[], bool]


class Progress:
    """Progress over ``[start, end]`` of an outer bar, with a cancel check.

    Parameters
    ----------
    progress : callable or None
        Receives the overall fraction done, in [0, 1].
    cancel : callable or None
        Returns True when the user asked to stop.
    start, end : float
        Sub-range of the outer bar that this object reports into.
    """

    def __init__(
        self,
        progress: Optional[ProgressFn] = None,
        cancel: Optional[CancelFn] = None,
        start: float = 0.0,
        end: float = 1.0,
    ) -> None:
        self._progress = progress
        self._cancel = cancel
        self.start = float(start)
        self.end = float(end)

    @classmethod
    def wrap(cls, progress=None, cancel=None) -> "Progress":
        """Return ``progress`` if it is already a Progress, else wrap the callables."""
        if isinstance(progress, Progress):
            return progress
        return cls(progress, cancel)

    def update(self, fraction: float) -> None:
        """Report ``fraction`` (0..1) of this sub-range as done and check cancel."""
        self.check()
        if self._progress is not None:
            f = min(max(float(fraction), 0.0), 1.0)
            self._progress(self.start + (self.end - self.start) * f)

    def check(self) -> None:
        """Raise :class:`Cancelled` when the user asked to stop."""
        if self._cancel is not None and self._cancel():
            raise Cancelled()

    @property
    def cancelled(self) -> bool:
        return bool(self._cancel is not None and self._cancel())

    def sub(self, start: float, end: float) -> "Progress":
        """A child reporting into ``[start, end]`` (fractions of this range)."""
        span = self.end - self.start
        return Progress(
            self._progress,
            self._cancel,
            self.start + span * start,
            self.start + span * end,
        )


@contextmanager
def progress_bar(desc: str, quiet: bool = False) -> Iterator[Optional[ProgressFn]]:
    """A tqdm bar on stderr driven by a ``progress(fraction)`` callback.

    Yields the callback (or None when ``quiet``); the bar is completed and
    closed when the block ends normally.
    """
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
