"""Parameters and defaults of the microscopy tools.

Standard library only, so that the QGIS plugin can build its dialogs even
before the scientific libraries are installed.
"""

from __future__ import annotations

from dataclasses import dataclass

#: Flat field: Gaussian smoothing of the mirror photograph (pixels).
DEFAULT_SIGMA = 25.0
#: Alignment methods and transform models.
ALIGN_METHODS = ("ecc", "sift", "sift+ecc")
ALIGN_MODELS = ("euclidean", "affine")
#: Uncertainty metrics and the default share of the image to select (the paper's 5-10 %).
METRICS = ("entropy", "margin")
DEFAULT_SHARE = 0.07
DEFAULT_SMOOTH_PX = 2.0
DEFAULT_MIN_AREA_PX = 16


@dataclass
class RegionParams:
    """Which part of an image :func:`geocore.microscopy.uncertainty.uncertainty_regions` selects.

    Attributes
    ----------
    share : float
        Share of the image to select, 0..1 (the paper's 5-10 %).
    metric : {"entropy", "margin"}
        Per-pixel uncertainty: normalised entropy, or 1 - (p1 - p2).
    smooth_px : float
        Gaussian smoothing of the uncertainty map before selection (pixels).
    min_area_px : int
        Smallest region kept (pixels).
    """

    share: float = DEFAULT_SHARE
    metric: str = METRICS[0]
    smooth_px: float = DEFAULT_SMOOTH_PX
    min_area_px: int = DEFAULT_MIN_AREA_PX


@dataclass
class SuperpixelParams:
    """How the photo is over-segmented for superpixel-assisted annotation.

    Attributes
    ----------
    slic_sizes : tuple of float
        Approximate SLIC superpixel edges, in pixels of the working image.
    felzenszwalb_scales : tuple of float
        Felzenszwalb-Huttenlocher ``scale`` values (larger: bigger segments).
    compactness : float
        SLIC compactness (higher: more square superpixels).
    work_edge : int
        Photos are segmented on a copy reduced to this long edge (pixels);
        the mask is scaled back to full size.
    min_purity : float
        Share of a superpixel's stroke pixels that must agree for it to take
        their class (1.0: all of them).
    colour_check : bool
        Coarse superpixels only label pixels whose colour is nearest to their
        class's strokes (see :func:`geocore.microscopy.annotate.propagate`).
    """

    slic_sizes: tuple = (48.0, 24.0, 12.0)
    felzenszwalb_scales: tuple = (400.0, 100.0)
    compactness: float = 10.0
    work_edge: int = 1600
    min_purity: float = 0.98
    colour_check: bool = True
