"""The LumenStone class table as the microscopy tools use it.

The table itself lives in :mod:`geocore.minerals.classes` (code, short label,
name, display colour; 255 = unlabelled in masks); this module adds what the
annotation tools need: reading a class given as a code, a label or a name.
"""

from __future__ import annotations

from typing import Union

import numpy as np

from ..errors import GeocoreError
from ..minerals.classes import BY_CODE, CLASSES, IGNORE, MineralClass, palette_lut

__all__ = ["BY_CODE", "CLASSES", "IGNORE", "MineralClass", "class_code", "palette"]

_BY_NAME = {**{c.label: c for c in CLASSES}, **{c.name: c for c in CLASSES}}


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
    text = None
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _BY_NAME:
            return _BY_NAME[text].code
        try:
            value = float(text)
        except ValueError:
            value = None
    if value is not None and float(value) == int(value) and int(value) in BY_CODE:
        return int(value)
    known = ", ".join(f"{c.code} {c.label}" for c in CLASSES)
    msg = f"class '{text if text is not None else value}' is not a LumenStone class; use a code or label: {known}"
    raise GeocoreError(msg)


def palette() -> np.ndarray:
    """Display colours as a (256, 3) uint8 lookup table indexed by class code."""
    return palette_lut()
