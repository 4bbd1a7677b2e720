"""The LumenStone class table: code, short label, name and display colour.

Masks in the LumenStone format hold the class code as the pixel value (8-bit
grey); :data:`IGNORE` (255) marks pixels without a label.

This is the microscopy tools' own copy of the table (codes 0..14, as in the
LumenStone data set of Korshunov, Khvostikov et al., 2025).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Dict, Union

import numpy as np

from ..errors import GeocoreError

#: Mask value of unlabelled pixels.
IGNORE = 255


@dataclass(frozen=True)
class MineralClass:
    """One LumenStone class.

    Attributes
    ----------
    code : int
        Pixel value in masks (0..14).
    label : str
        Short label, e.g. ``"py"``.
    name : str
        Mineral name, e.g. ``"pyrite"``.
    colour : str
        Display colour as ``#rrggbb``.
    """

    code: int
    label: str
    name: str
    colour: str

    @property
    def rgb(self) -> tuple[int, int, int]:
        """The display colour as three 0..255 integers."""
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
    MineralClass(10, "hem", "hematite", "#a0522d"),
    MineralClass(11, "tnt", "tennantite", "#483d8b"),
    MineralClass(12, "cv", "covellite", "#008000"),
    MineralClass(13, "mrc", "marcasite", "#00008b"),
    MineralClass(14, "au", "native gold", "#8b008b"),
)

BY_CODE: Dict[int, MineralClass] = {c.code: c for c in CLASSES}
_BY_NAME: Dict[str, MineralClass] = {**{c.label: c for c in CLASSES}, **{c.name: c for c in CLASSES}}


def class_code(value: Union[int, str, float]) -> int:
    """The class code for a code, a short label or a mineral name.

    Parameters
    ----------
    value : int, float or str
        ``6``, ``"6"``, ``"py"`` or ``"pyrite"`` (case-insensitive).

    Returns
    -------
    int
        The code, 0..14.

    Raises
    ------
    GeocoreError
        When the value names no LumenStone class.

    Examples
    --------
    >>> class_code("Pyrite"), class_code("ccp"), class_code(3.0)
    (6, 1, 3)
    """
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _BY_NAME:
            return _BY_NAME[text].code
        try:
            value = float(text)
        except ValueError:
            value = None
    if value is not None and not isinstance(value, str) and float(value) == int(value) and int(value) in BY_CODE:
        return int(value)
    known = ", ".join(f"{c.code} {c.label}" for c in CLASSES)
    msg = f"class '{value if value is not None else text}' is not a LumenStone class; use a code or label: {known}"
    raise GeocoreError(msg)


def palette() -> np.ndarray:
    """Display colours as a (256, 3) uint8 lookup table (unknown codes and 255 white)."""
    lut = np.full((256, 3), 255, dtype=np.uint8)
    for c in CLASSES:
        lut[c.code] = c.rgb
    return lut
