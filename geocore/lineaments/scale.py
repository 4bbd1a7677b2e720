"""How finely a grid resolves its anomalies, and the resolution a model should see it at.

Survey grids are usually sampled far finer than what the survey resolves:
cells of a quarter or a fifth of the flight-line spacing, upward continuation,
equivalent-source or minimum-curvature gridding. Their narrowest anomalies are
then several cells wide, while a network trained on synthetic grids learned
anomalies about one cell wide. The *anomaly length* measures this width, in
cells, independently of units and amplitude; comparing a grid's with the one
recorded on the model card for its training inputs gives the fraction of the
grid's resolution at which the network sees anomalies like the ones it learned
(``detect --scales auto``, the default of the CNN).

The anomaly length of a residual field ``h`` is

    L = sqrt( <|grad h|^2> / <(laplacian h)^2> )  (cells),

the ratio of the first to the second spectral moment of ``h``: for a field
dominated by wavenumber ``k`` (radians per cell) it is ``1 / k``, so it grows in
proportion when the grid is resampled to finer cells (a grid interpolated to
cells 3 times smaller has 3 times the length) and does not change when the
values are multiplied or shifted. ``h`` is the field less its Gaussian-smoothed
regional, so that long-wavelength trends do not dominate the gradient; the
regional's sigma is 16 cells or 8 times a first estimate of the length,
whichever is larger, so that it follows the grid when its cells are refined.
"""

from __future__ import annotations

import os
from typing import Optional

import numpy as np
from scipy import ndimage

from ..errors import GeocoreError
from ..models.normalize import normalize

#: Smallest Gaussian sigma (cells) of the regional removed before measuring.
REGIONAL_SIGMA = 16.0
#: The regional's sigma is at least this many anomaly lengths.
REGIONAL_LENGTHS = 8.0
#: Cells each side of a window read at full resolution to measure a large grid.
WINDOW = 512
#: Smallest fraction of the resolution ``auto`` goes down to.
MIN_SCALE = 0.2


def anomaly_length(array: np.ndarray, *, regional_sigma: Optional[float] = None) -> float:
    """Characteristic anomaly length of a grid, in cells.

    Parameters
    ----------
    array : ndarray (rows, cols)
        Field values in any units; NaN marks nodata.
    regional_sigma : float or None
        Gaussian sigma (cells) of the regional field removed first; None: 16
        cells or 8 lengths measured with 16 cells, whichever is larger.

    Returns
    -------
    float
        ``sqrt(<|grad h|^2> / <(laplacian h)^2>)`` over the valid cells at least
        two cells from nodata and from the edge (see the module docstring);
        NaN when fewer than 64 such cells exist or the residual is constant.

    Examples
    --------
    A sinusoid of wavelength 20 cells has wavenumber 2 pi / 20, so its length
    is 20 / (2 pi), about 3.2 cells:

    >>> import numpy as np
    >>> x = np.arange(256)
    >>> f = np.sin(2 * np.pi * x / 20)[None, :].repeat(256, axis=0)
    >>> round(anomaly_length(f), 1)
    3.2
    """
    a = np.asarray(array, dtype=np.float64)
    if a.ndim != 2:
        msg = f"expected a (rows, cols) array, got shape {a.shape}"
        raise GeocoreError(msg)
    valid = np.isfinite(a)
    if valid.sum() < 64:
        return float("nan")
    filled = np.where(valid, a, np.median(a[valid]))
    use = ndimage.binary_erosion(valid, iterations=2, border_value=0)
    if use.sum() < 64:
        return float("nan")

    def measure(sigma: float) -> float:
        residual = filled - ndimage.gaussian_filter(filled, sigma, mode="reflect")
        gy, gx = np.gradient(residual)
        lap = ndimage.laplace(residual)
        g2 = float(np.mean((gx * gx + gy * gy)[use]))
        l2 = float(np.mean((lap * lap)[use]))
        return float(np.sqrt(g2 / l2)) if l2 > 0 else float("nan")

    if regional_sigma is not None:
        return measure(float(regional_sigma))
    first = measure(REGIONAL_SIGMA)
    if np.isfinite(first) and REGIONAL_LENGTHS * first > REGIONAL_SIGMA:
        return measure(REGIONAL_LENGTHS * first)
    return first


def grid_anomaly_length(path: str | os.PathLike, band: int = 1, *, normalization: Optional[dict] = None,
                        window: int = WINDOW, max_windows: int = 9) -> float:
    """Anomaly length (cells) of a raster file, read in bounded memory.

    Measured on what a network sees: each window normalised as the model
    card says (``normalization``), the way :func:`training_reference`
    measures the training inputs.

    Grids up to ``window`` cells each side are measured whole; larger ones on
    up to ``max_windows`` full-resolution windows of ``window`` x ``window``
    cells spread evenly over the grid (the median of their lengths), so the
    memory does not grow with the grid.

    Parameters
    ----------
    path : path
        Any GDAL raster.
    band : int
        Band to measure (1-based).
    normalization : dict or None
        A model card's ``normalization`` (None: raw values).
    window : int
        Window edge in cells.
    max_windows : int
        Most windows read (a square number spreads them on a regular layout).

    Returns
    -------
    float
        Cells; NaN when the grid holds too few valid cells.
    """
    import rasterio
    from rasterio.windows import Window

    with rasterio.open(path) as ds:
        nodata = ds.nodatavals[band - 1]
        H, W = ds.height, ds.width
        per_side = max(1, int(np.sqrt(max_windows)))
        rows = _starts(H, window, per_side)
        cols = _starts(W, window, per_side)
        lengths = []
        for r0 in rows:
            for c0 in cols:
                win = Window(c0, r0, min(window, W - c0), min(window, H - r0))
                a = ds.read(band, window=win, masked=True).astype(np.float64).filled(np.nan)
                if nodata is not None and not np.isnan(nodata):
                    a[a == nodata] = np.nan
                if normalization is not None:
                    nan = ~np.isfinite(a)
                    a = normalize(a, normalization)[0].astype(np.float64)
                    a[nan] = np.nan
                length = anomaly_length(a)
                if np.isfinite(length):
                    lengths.append(length)
    return float(np.median(lengths)) if lengths else float("nan")


def _starts(n: int, window: int, k: int) -> list[int]:
    if n <= window:
        return [0]
    return sorted({int(round(x)) for x in np.linspace(0, n - window, k)})


def auto_scale(length: float, reference: Optional[float], *, minimum: float = MIN_SCALE) -> float:
    """Fraction of a grid's resolution at which a model sees anomalies like its training data.

    Parameters
    ----------
    length : float
        The grid's anomaly length (cells), :func:`anomaly_length`.
    reference : float or None
        The longest anomaly length the model learned: the 90th percentile over
        its training inputs, from its card (``card.training['anomaly_length']
        ['p90']``). None: unknown, the grid is used as it is.
    minimum : float
        Lowest fraction returned.

    Returns
    -------
    float
        1.0 when the grid is no smoother than the training inputs, else
        ``reference / length`` rounded to 0.05 and at least ``minimum``.

    Examples
    --------
    >>> auto_scale(0.9, 1.2), auto_scale(2.5, 1.2), auto_scale(40.0, 1.2)
    (1.0, 0.5, 0.2)
    """
    if reference is None or not np.isfinite(length) or length <= 0 or not reference > 0:
        return 1.0
    s = min(1.0, float(reference) / float(length))
    if s >= 1.0:
        return 1.0
    return float(max(minimum, round(s * 20) / 20))


def training_reference(arrays) -> dict:
    """Anomaly-length percentiles (cells) of training inputs, for the model card.

    Parameters
    ----------
    arrays : iterable of ndarray (rows, cols)
        Network inputs (normalised samples).

    Returns
    -------
    dict
        ``{"p10", "p50", "p90"}`` in cells, ``samples`` measured and the
        ``estimator`` used (this module's :func:`anomaly_length`).
    """
    lengths = np.array([anomaly_length(a) for a in arrays], dtype=np.float64)
    lengths = lengths[np.isfinite(lengths)]
    if lengths.size == 0:
        return {}
    p10, p50, p90 = np.percentile(lengths, [10, 50, 90])
    return {"p10": round(float(p10), 3), "p50": round(float(p50), 3), "p90": round(float(p90), 3),
            "samples": int(lengths.size), "estimator": "geocore.lineaments.scale.anomaly_length"}


def parse_scales(text: Optional[str]):
    """The ``scales`` of :func:`~geocore.lineaments.detect.detect_lineaments` from a user's text.

    ``""``, None or ``"auto"`` give ``"auto"``; ``"1, 0.5 0.25"`` (commas,
    semicolons or spaces) gives ``[1.0, 0.5, 0.25]``.

    Examples
    --------
    >>> parse_scales(""), parse_scales("1; 0.5, 0.25")
    ('auto', [1.0, 0.5, 0.25])
    """
    from ..errors import ParameterError

    words = (text or "").replace(",", " ").replace(";", " ").split()
    if not words or [w.lower() for w in words] == ["auto"]:
        return "auto"
    try:
        return [float(w) for w in words]
    except ValueError:
        msg = (f"{{param}} '{text}' must be auto or fractions of the grid's resolution such as 1 0.5 0.25 "
               "(auto stands alone)")
        raise ParameterError(msg, param="scales") from None


def card_reference(card) -> Optional[float]:
    """The model card's reference anomaly length (cells), or None when it records none."""
    ref = (getattr(card, "training", None) or {}).get("anomaly_length") or {}
    value = ref.get("p90")
    return float(value) if value else None
