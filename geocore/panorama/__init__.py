"""Panorama stitching of overlapping microscope tiles into one georeferenced raster.

The public entry point is :func:`stitch`; the steps live in their own modules:
:mod:`.tiles` (finding and reading tiles), :mod:`.corrections` (flat-field,
lens distortion), :mod:`.register` (pairwise shifts), :mod:`.placement`
(global least squares), :mod:`.blend` (gains and feathering) and :mod:`.write`
(block-by-block GeoTIFF); :mod:`.params` holds the choices and defaults
(standard library only).

The names below load lazily, so that :mod:`.params` can be imported before
the scientific libraries are installed (the QGIS plugin builds its dialog
from it).
"""

from __future__ import annotations

import importlib

_EXPORTS = {"Distortion": "corrections", "StitchParams": "pipeline", "StitchResult": "pipeline", "stitch": "pipeline"}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
