"""Panorama stitching of overlapping microscope tiles into one georeferenced raster.

The public entry point is :func:`stitch`; the steps live in their own modules:
:mod:`.tiles` (finding and reading tiles), :mod:`.corrections` (flat-field,
lens distortion), :mod:`.register` (pairwise shifts), :mod:`.placement`
(global least squares), :mod:`.blend` (gains and feathering) and :mod:`.write`
(block-by-block GeoTIFF).
"""

from .corrections import Distortion
from .pipeline import StitchParams, StitchResult, stitch

__all__ = ["Distortion", "StitchParams", "StitchResult", "stitch"]
