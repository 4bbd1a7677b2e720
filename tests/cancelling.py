"""A cancel callback for the tests that cancel a run part-way (a helper, not a test module)."""

from __future__ import annotations


class CancelAfter:
    """A ``cancel`` callable that answers False ``n`` times, then True; ``calls`` counts the checks."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.calls = 0

    def __call__(self) -> bool:
        self.calls += 1
        return self.calls > self.n
