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

from .._lazy import lazy_exports

_EXPORTS = {"Distortion": "corrections", "StitchParams": "pipeline", "StitchResult": "pipeline", "stitch": "pipeline"}

__all__, __getattr__ = lazy_exports(__name__, _EXPORTS)
