"""The LumenStone class table: code, short label, name and display colour.

Codes are the pixel values of LumenStone masks (Korshunov, Khvostikov et al.
2025); 255 in a mask means "ignore". Sets S1 and S2 are the published
LumenStone subsets; S3 (anisotropic minerals) holds every other code except
pentlandite, as in petroscope's class definition.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np

from ..errors import GeocoreError

#: Mask value meaning "not labelled": excluded from training and metrics.
IGNORE = 255


@dataclass(frozen=True)
class MineralClass:
    """One row of the class table.

    Attributes
    ----------
    code : int
        Pixel value in LumenStone masks and in geocore class maps.
    label : str
        Short label used by mineralogists (``"ccp"``).
    name : str
        Mineral name (``"chalcopyrite"``).
    colour : str
        Display colour, ``#rrggbb``.
    """

    code: int
    label: str
    name: str
    colour: str

    @property
    def rgb(self) -> tuple[int, int, int]:
        """The display colour as 0..255 integers."""
        c = self.colour.lstrip("#")
        return int(c[0:2], 16), int(c[2:4], 16), int(c[4:6], 16)


CLASSES: tuple[MineralClass, ...] = (
    MineralClass(0, "bg", "non-ore", "#000000"),
    MineralClass(1, "ccp", "chalcopyrite", "#ffa500"),
    MineralClass(2, "gl", "galena", "#9acd32"),
    MineralClass(3, "mag", "magnetite", "#ff4500"),
    MineralClass(4, "br", "bornite", "#00bfff"),
    MineralClass(5, "po", "pyrrhotite", "#a9a9a9"),
    MineralClass(6, "py", "pyrite", "#2f4f4f"),
    MineralClass(7, "pn", "pentlandite", "#ffff00"),
    MineralClass(8, "sh", "sphalerite", "#ee82ee"),
    MineralClass(9, "apy", "arsenopyrite", "#556b2f"),
    MineralClass(10, "gmt", "hematite", "#a0522d"),
    MineralClass(11, "tnt", "tennantite", "#483d8b"),
    MineralClass(12, "cv", "covellite", "#008000"),
    MineralClass(13, "mrc", "marcasite", "#00008b"),
    MineralClass(14, "au", "native gold", "#8b008b"),
)

#: Code -> class.
BY_CODE = {c.code: c for c in CLASSES}
#: All valid codes, ascending.
CODES = tuple(sorted(BY_CODE))

S1 = (0, 1, 2, 4, 6, 8, 11)
S2 = (0, 1, 3, 5, 7)
#: Anisotropic minerals: every code not in S1 or S2, except pentlandite (and with non-ore).
S3 = (0,) + tuple(c for c in CODES if c not in S1 and c not in S2 and c != 7)
SETS = {"S1": S1, "S2": S2, "S3": S3}


def mineral(code: int) -> MineralClass:
    """The class of ``code``, or a GeocoreError naming the valid codes."""
    try:
        return BY_CODE[int(code)]
    except KeyError as exc:
        msg = f"class code {code} is not in the LumenStone table (valid codes {CODES[0]}..{CODES[-1]})"
        raise GeocoreError(msg) from exc


def parse_codes(spec: str | Iterable) -> tuple[int, ...]:
    """Class codes from a set name (``"S1"``, ``"S1+S2"``), labels or numbers.

    Examples
    --------
    >>> parse_codes("S2")
    (0, 1, 3, 5, 7)
    >>> parse_codes("S1+S2")
    (0, 1, 2, 3, 4, 5, 6, 7, 8, 11)
    >>> parse_codes("bg,ccp,py")
    (0, 1, 6)
    """
    if isinstance(spec, str):
        parts = [p.strip() for p in spec.replace("+", ",").split(",") if p.strip()]
    else:
        parts = list(spec)
    by_label = {c.label: c.code for c in CLASSES} | {c.name: c.code for c in CLASSES}
    codes: set[int] = set()
    for p in parts:
        if isinstance(p, str) and p.upper() in SETS:
            codes.update(SETS[p.upper()])
        elif isinstance(p, str) and p.lower() in by_label:
            codes.add(by_label[p.lower()])
        else:
            try:
                codes.add(mineral(int(p)).code)
            except (TypeError, ValueError) as exc:
                msg = f"'{p}' is not a class set (S1, S2, S3), label (ccp, py, ...) or code 0..14"
                raise GeocoreError(msg) from exc
    if not codes:
        raise GeocoreError("no classes given; name a set such as S1 or codes such as 0,1,6")
    return tuple(sorted(codes))


def palette_lut(codes: Sequence[int] | None = None) -> np.ndarray:
    """A (256, 3) uint8 colour table indexed by class code (grey for unknown codes)."""
    lut = np.full((256, 3), 128, np.uint8)
    for c in CLASSES:
        if codes is None or c.code in codes:
            lut[c.code] = c.rgb
    return lut


def colorize(classes: np.ndarray) -> np.ndarray:
    """An RGB (rows, cols, 3) picture of a class map in LumenStone colours."""
    return palette_lut()[np.asarray(classes, dtype=np.uint8)]
