"""Microscope image tools for reflected-light photographs of polished sections.

- :mod:`~geocore.microscopy.flatfield`: flat-field correction from a mirror photograph;
- :mod:`~geocore.microscopy.colour`: 4 x 3 colour-correction matrix fitted by CIEDE2000;
- :mod:`~geocore.microscopy.align`: crossed-polar (XPL) photos aligned on the plane-polar
  (PPL) one and stacked into 3 + 3N bands;
- :mod:`~geocore.microscopy.annotate`: strokes -> superpixel mask (LumenStone format) and polygons;
- :mod:`~geocore.microscopy.uncertainty`: entropy/margin maps and ranked regions to annotate;
- :mod:`~geocore.microscopy.classes`: the LumenStone class table;
- :mod:`~geocore.microscopy.synthetic`: synthetic sections, scribbles and a stand-in model.

The main functions are importable from here; they load lazily, so that
:mod:`~geocore.microscopy.params` (standard library only) can be imported
before the scientific libraries are installed.
"""

from __future__ import annotations

from .._lazy import lazy_exports

_EXPORTS = {
    "flatfield_to_folder": "flatfield",
    "flat_field_from_mirror": "flatfield",
    "ColourCorrection": "colour",
    "fit_colour_correction": "colour",
    "fit_colour_files": "colour",
    "apply_colour_files": "colour",
    "align_pair": "align",
    "align_and_stack": "align",
    "annotate_image": "annotate",
    "annotate_array": "annotate",
    "uncertainty_regions": "uncertainty",
    "tta_probabilities": "uncertainty",
    "CLASSES": "classes",
    "SuperpixelParams": "params",
}

__all__, __getattr__ = lazy_exports(__name__, _EXPORTS)
