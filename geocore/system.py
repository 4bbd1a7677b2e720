"""What the machine offers a computation: memory available to a new allocation, and the check against it."""

from __future__ import annotations

import os

from .errors import GeocoreError

#: Share of the available memory a computation may plan to hold.
MEMORY_SHARE = 0.8
#: The usual way out when a raster does not fit.
CUT_OR_FREE = "cut it into parts (e.g. gdal_translate -srcwin) or free memory"


def available_memory() -> int | None:
    """Bytes of memory available to a new allocation (Linux ``MemAvailable``), None when unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def check_fits_in_memory(need: float, what: str, fix: str = CUT_OR_FREE, available: int | None = None) -> None:
    """Refuse, before any work, a computation that would hold more than :data:`MEMORY_SHARE` of the memory.

    Parameters
    ----------
    need : float
        Bytes the computation holds.
    what : str
        What needs them, the start of the message (``"... needs about 3.2 GiB"``).
    fix : str
        How to make it fit, the end of the message.
    available : int, optional
        Bytes available (default: :func:`available_memory`; unknown: no check).
    """
    avail = available_memory() if available is None else available
    if avail is not None and need > MEMORY_SHARE * avail:
        raise GeocoreError(f"{what} needs about {need / 2**30:.1f} GiB but only {avail / 2**30:.1f} GiB of memory "
                           f"is available; {fix}")
