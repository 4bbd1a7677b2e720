"""Ranges of every numeric setting, shared by the command line and the QGIS plugin.

One table says which values each setting accepts (:data:`RANGES`, keyed by
the setting's name, with per-command exceptions in :data:`COMMAND_RANGES`).
The command line turns each entry into an argparse type (a bad value is
refused while the options are read, before any work), the QGIS plugin reads
:attr:`Range.minimum` / :attr:`Range.maximum` for its parameters, and library
code may call :meth:`Range.check`. NaN and infinity are refused everywhere.

Examples
--------
>>> RANGES["lr"].parse("0.001")
0.001
>>> RANGES["lr"].parse("-1")
Traceback (most recent call last):
...
argparse.ArgumentTypeError: must be a number > 0 (got '-1')
"""

from __future__ import annotations

import argparse
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from .errors import GeocoreError


@dataclass(frozen=True)
class Range:
    """An accepted interval of numbers.

    Parameters
    ----------
    low, high : float or None
        Bounds (None: unbounded).
    low_open, high_open : bool
        Whether the bound itself is excluded.
    integer : bool
        Whole numbers only.
    """

    low: Optional[float] = None
    high: Optional[float] = None
    low_open: bool = False
    high_open: bool = False
    integer: bool = False

    # --------------------------------------------------------------- wording
    def describe(self) -> str:
        """The range in words, e.g. ``"a number in (0, 1)"``, ``"an integer >= 1"``."""
        kind = "an integer" if self.integer else "a number"

        def fmt(v):
            return f"{v:g}" if isinstance(v, float) else str(v)

        if self.low is not None and self.high is not None:
            return (f"{kind} in {'(' if self.low_open else '['}{fmt(self.low)}, "
                    f"{fmt(self.high)}{')' if self.high_open else ']'}")
        if self.low is not None:
            return f"{kind} {'>' if self.low_open else '>='} {fmt(self.low)}"
        if self.high is not None:
            return f"{kind} {'<' if self.high_open else '<='} {fmt(self.high)}"
        return f"a finite {'integer' if self.integer else 'number'}"

    def contains(self, value: float) -> bool:
        """Whether ``value`` is finite, in the range and (if asked) whole."""
        try:
            v = float(value)
        except (TypeError, ValueError):
            return False
        if not math.isfinite(v):
            return False
        if self.integer and v != int(v):
            return False
        if self.low is not None and (v < self.low or (self.low_open and v == self.low)):
            return False
        if self.high is not None and (v > self.high or (self.high_open and v == self.high)):
            return False
        return True

    # --------------------------------------------------------------- use
    def parse(self, text: str):
        """argparse ``type=``: the number in ``text``, or ArgumentTypeError naming the range."""
        try:
            value = int(text) if self.integer else float(text)
        except (TypeError, ValueError):
            raise argparse.ArgumentTypeError(f"must be {self.describe()} (got {text!r})") from None
        if not self.contains(value):
            raise argparse.ArgumentTypeError(f"must be {self.describe()} (got {text!r})")
        return value

    def check(self, value, name: str) -> None:
        """Raise :class:`GeocoreError` when ``value`` is outside the range (None passes)."""
        if value is not None and not self.contains(value):
            raise GeocoreError(f"{name} must be {self.describe()} (got {value!r})")

    def _closed(self, bound: Optional[float], is_open: bool, inward: int) -> Optional[float]:
        """``bound`` as an accepted value: an open one nudged one step ``inward`` (+1 up, -1 down)."""
        if bound is None or not is_open:
            return bound
        return bound + inward if self.integer else math.nextafter(bound, inward * math.inf)

    @property
    def minimum(self) -> Optional[float]:
        """Smallest accepted value for a QGIS parameter (open bounds nudged inside), or None."""
        return self._closed(self.low, self.low_open, +1)

    @property
    def maximum(self) -> Optional[float]:
        """Largest accepted value for a QGIS parameter (open bounds nudged inside), or None."""
        return self._closed(self.high, self.high_open, -1)

    def as_integer(self) -> "Range":
        return Range(self.low, self.high, self.low_open, self.high_open, True)


def positive(high: Optional[float] = None) -> Range:
    """A number > 0 (and <= ``high``)."""
    return Range(0.0, high, low_open=True)


def at_least(low: float, high: Optional[float] = None, integer: bool = True) -> Range:
    return Range(low, high, integer=integer)


FRACTION_OPEN = Range(0.0, 1.0, True, True)
NON_NEGATIVE = Range(0.0)
FINITE = Range()
SEED = Range(0, 2**32 - 1, integer=True)
COUNT = Range(1, 10**7, integer=True)

#: Accepted values of every numeric setting, by name (argparse ``dest``).
RANGES: dict[str, Range] = {
    # sizes, counts and seeds
    "seed": SEED,
    "size": Range(16, 65536, integer=True),
    "samples": Range(2, 10**7, integer=True),
    "epochs": COUNT,
    "batch_size": Range(1, 4096, integer=True),
    "tta": Range(1, 8, integer=True),  # and one of 1, 2, 4, 8 (the choices)
    "workers": Range(0, 256, integer=True),
    "threads": Range(1, 256, integer=True),
    "count": Range(1, 10**6, integer=True),
    "grids": COUNT,
    "min_dykes": Range(0, 1000, integer=True),
    "max_dykes": Range(1, 1000, integer=True),
    "decoder_channels": Range(1, 4096, integer=True),
    "band": Range(1, 65535, integer=True),
    "tile": Range(32, 8192, integer=True),
    "tile_size": Range(32, 8192, integer=True),
    "patch": Range(32, 8192, integer=True),
    "crop": Range(0, 8192, integer=True),
    "val_max": Range(0, 10**7, integer=True),
    "norm_window": Range(0, 8192, integer=True),
    "patches_per_epoch": COUNT,
    "val_patches": COUNT,
    "patience": Range(0, 10**4, integer=True),
    "work_edge": Range(64, 100000, integer=True),
    "min_grain_px": Range(0, 10**9, integer=True),
    "min_area": Range(0, 10**12, integer=True),
    # fractions and probabilities
    "val_fraction": FRACTION_OPEN,
    "test_fraction": Range(0.0, 1.0, high_open=True),
    "threshold": FRACTION_OPEN,
    "overlap": Range(0.0, 1.0, high_open=True),
    "share": Range(0.0, 1.0, low_open=True),
    "min_score": Range(0.0, 1.0, high_open=True),
    # physical sizes (metres, micrometres, pixels, minutes)
    "lr": positive(10.0),
    "cell": positive(),
    "cell_size": positive(),
    "blank": positive(),
    "tolerance": positive(),
    "shift": positive(),
    "wavelength": positive(),
    "um_per_px": positive(),
    "size_classes": positive(),
    "grain_px": Range(2.0, 10000.0),
    "outlier_px": positive(),
    "sigma": positive(10000.0),
    "smooth": NON_NEGATIVE,
    "slic_sizes": Range(2.0, 10000.0),
    "fz_scales": positive(),
    "max_minutes": positive(),
    "min_length_cells": NON_NEGATIVE,
    "spur_length_cells": NON_NEGATIVE,
    "max_gap_cells": NON_NEGATIVE,
    "simplify_cells": NON_NEGATIVE,
    "min_mean_prob": Range(0.0, 1.0),
    "min_straightness": Range(0.0, 1.0),
    "min_field_contrast": Range(0.0, 100.0),
    "scales": Range(0.05, 1.0),
    "percentile": Range(0.0, 100.0, True, True),
    "tolerances": positive(),
    "steps": COUNT,
    "synthetic_share": Range(0.0, 1.0, high_open=True),
    "synthetic_samples": Range(0, 10**6, integer=True),
    "negative_weight": Range(0.0, 1.0, low_open=True),
    # angles (degrees)
    "max_join_angle_deg": Range(0.0, 90.0),
    "strike_tolerance": Range(0.0, 90.0, low_open=True),
    "inclination": Range(-90.0, 90.0),
    "declination": Range(-360.0, 360.0),
    "stabilize": Range(0.0, 90.0, low_open=True),
    "step": Range(0.0, 90.0, low_open=True),
    "height": FINITE,
}

#: Exceptions to :data:`RANGES` for one command (the words of its command line).
COMMAND_RANGES: dict[tuple[str, str], Range] = {
    ("demo", "size"): Range(64, 16384, integer=True),
    ("minerals synth", "size"): Range(32, 16384, integer=True),
    ("minerals train", "tile_size"): Range(0, 8192, integer=True),  # 0: twice the patch
    ("lineaments train", "min_dykes"): Range(0, 1000, integer=True),
}

#: Pairs of settings where the first may not exceed the second: (low, high).
ORDERED: list[tuple[str, str]] = [("min_dykes", "max_dykes")]


def range_for(name: str, command: str = "") -> Optional[Range]:
    """The range of setting ``name`` (argparse ``dest``) in ``command``, or None."""
    return COMMAND_RANGES.get((command, name), RANGES.get(name))


def check_order(values: dict, command: str = "") -> None:
    """Raise :class:`GeocoreError` when a pair in :data:`ORDERED` is the wrong way round."""
    for low, high in ORDERED:
        a, b = values.get(low), values.get(high)
        if a is not None and b is not None and a > b:
            flag_a, flag_b = "--" + low.replace("_", "-"), "--" + high.replace("_", "-")
            raise GeocoreError(f"{flag_a} {a} is larger than {flag_b} {b}; give {flag_a} <= {flag_b}")


# ----------------------------------------------------------------------------- paths
VECTOR_SUFFIXES = (".gpkg", ".shp", ".geojson", ".json", ".fgb", ".gml", ".kml", ".sqlite")
RASTER_SUFFIXES = (".tif", ".tiff")


def input_file(text: str) -> Path:
    """argparse ``type=`` for an input file: it must exist and be a file, not a folder."""
    p = Path(text)
    if p.is_dir():
        raise argparse.ArgumentTypeError(f"'{p}' is a folder; give a file")
    if not p.exists():
        raise argparse.ArgumentTypeError(f"'{p}' does not exist; check the path")
    return p


def input_path(text: str) -> Path:
    """argparse ``type=`` for an input file or folder: it must exist."""
    p = Path(text)
    if not p.exists():
        raise argparse.ArgumentTypeError(f"'{p}' does not exist; check the path")
    return p


def _writable_parent(p: Path) -> None:
    parent = p.parent if str(p.parent) else Path(".")
    for d in (parent, *parent.parents):
        if d.exists():
            if not d.is_dir():
                raise argparse.ArgumentTypeError(f"output folder '{d}' is an existing file; give a folder path "
                                                 f"instead")
            return


def output_file(text: str, suffixes: Optional[tuple[str, ...]] = None, what: str = "file") -> Path:
    """argparse ``type=`` for an output file: not a folder; parent creatable; suffix among ``suffixes``."""
    p = Path(text)
    if p.is_dir():
        raise argparse.ArgumentTypeError(f"'{p}' is a folder; give a {what} path (e.g. '{p / ('out' + (suffixes or ('.tif',))[0])}')")
    if suffixes and p.suffix.lower() not in suffixes:
        raise argparse.ArgumentTypeError(f"'{p}' must end in {' or '.join(suffixes)} ({what})")
    _writable_parent(p)
    return p


def output_folder(text: str) -> Path:
    """argparse ``type=`` for an output folder: not an existing file."""
    p = Path(text)
    if p.exists() and not p.is_dir():
        raise argparse.ArgumentTypeError(f"'{p}' is an existing file; give a folder path")
    _writable_parent(p / "x")
    return p


def typed(kind, **kw):
    """A named argparse type (its name shows in argparse's messages)."""
    def parse(text):
        return kind(text, **kw)
    parse.__name__ = kind.__name__
    return parse
