"""How finely a grid resolves its anomalies, and the resolution a model should see it at.

Survey grids are usually sampled far finer than what the survey resolves:
cells of a quarter or a fifth of the flight-line spacing, upward continuation,
equivalent-source or minimum-curvature gridding. Their spectrum then stops well
below the grid's Nyquist wavenumber and their narrowest anomalies are several
cells wide, while a network trained on synthetic grids learned grids that carry
information up to their Nyquist. The *resolved bandwidth* measures this,
independently of units and amplitude; comparing a grid's with the one recorded
on the model card for its training inputs gives the fraction of the grid's
resolution at which the network sees a grid like the ones it learned
(``detect --scales auto``, the default of the CNN).

The resolved bandwidth of a grid is the wavenumber, as a fraction of the
Nyquist wavenumber (half a cycle per cell), below which 99 % of the energy of
its horizontal gradient lies: the radially averaged power spectrum ``P(k)`` of
the field (demeaned, Hann-tapered) weighted by ``k^2`` (the gradient) and by
``k`` (the ring's area), accumulated from ``k = 0``. A grid interpolated to cells
3 times smaller keeps its energy below a third of its new Nyquist (about 0.4
with the leakage of cubic interpolation); a grid with noise or sharp anomalies
up to its Nyquist measures about 1. Multiplying or shifting the values changes
nothing.
"""

from __future__ import annotations

import os
from typing import Optional

import numpy as np

from ..errors import GeocoreError

#: Share of the gradient energy the resolved bandwidth holds.
ENERGY_SHARE = 0.99
#: Radial wavenumber bins between 0 and the Nyquist wavenumber.
BINS = 40
#: Cells each side of a window read at full resolution to measure a large grid.
WINDOW = 512
#: Smallest fraction of the resolution ``auto`` goes down to.
MIN_SCALE = 0.2
#: Grids within this fraction of the reference run as they are (the measure moves by a bin or two).
TOLERANCE = 0.1


def resolved_bandwidth(array: np.ndarray, *, share: float = ENERGY_SHARE) -> float:
    """Fraction of the Nyquist wavenumber below which ``share`` of the gradient energy lies.

    Parameters
    ----------
    array : ndarray (rows, cols)
        Field values in any units; NaN marks nodata (the taper fades to zero
        over the 3-5 cells before each gap).
    share : float
        Share of the gradient energy, in (0, 1).

    Returns
    -------
    float
        In (0, 1], in steps of 1 / :data:`BINS`; NaN for grids smaller than
        16 x 16 valid cells or a constant field.

    Examples
    --------
    A field holding only wavelengths of 8 cells and more resolves a quarter
    of the Nyquist wavenumber (2 cells), give or take the bin the taper
    spreads it over:

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> F = np.fft.fft2(rng.normal(size=(256, 256)))
    >>> k = np.hypot(*np.meshgrid(np.fft.fftfreq(256), np.fft.fftfreq(256)))
    >>> f = np.real(np.fft.ifft2(F * (k < 1 / 8)))
    >>> resolved_bandwidth(f)
    0.275
    """
    a = np.asarray(array, dtype=np.float64)
    if a.ndim != 2:
        msg = f"expected a (rows, cols) array, got shape {a.shape}"
        raise GeocoreError(msg)
    valid = np.isfinite(a)
    if a.shape[0] < 16 or a.shape[1] < 16 or valid.sum() < 256:
        return float("nan")
    a = np.where(valid, a - np.mean(a[valid]), 0.0)
    if not np.any(a):
        return float("nan")
    taper = np.outer(np.hanning(a.shape[0]), np.hanning(a.shape[1]))
    if not valid.all():  # fade to zero before each gap, so its edge adds no sharp step
        from scipy import ndimage

        inner = ndimage.binary_erosion(valid, iterations=3)
        taper = taper * ndimage.gaussian_filter(inner.astype(np.float64), 1.5)
    power = np.abs(np.fft.fft2(a * taper)) ** 2
    ky = np.fft.fftfreq(a.shape[0])[:, None]
    kx = np.fft.fftfreq(a.shape[1])[None, :]
    k = np.hypot(ky, kx) / 0.5  # 1 = the Nyquist wavenumber along an axis
    edges = np.linspace(0.0, 1.0, BINS + 1)
    which = np.digitize(k.ravel(), edges)  # 1..BINS inside, BINS + 1 beyond the Nyquist (corners)
    inside = (which >= 1) & (which <= BINS)
    sums = np.bincount(which[inside], power.ravel()[inside], minlength=BINS + 1)[1:]
    counts = np.bincount(which[inside], minlength=BINS + 1)[1:]
    mean_power = np.where(counts > 0, sums / np.maximum(counts, 1), 0.0)
    centres = edges[1:]  # upper edge of each ring
    energy = mean_power * centres**2 * centres  # gradient (k^2) over the ring's area (k)
    total = energy.sum()
    if not total > 0:
        return float("nan")
    cumulative = np.cumsum(energy) / total
    return float(centres[int(np.argmax(cumulative >= share))])


def grid_bandwidth(path: str | os.PathLike, band: int = 1, *, window: int = WINDOW, max_windows: int = 9) -> float:
    """Resolved bandwidth of a raster file, read in bounded memory.

    Measured on the field itself (as :func:`training_reference` measures the
    raw training fields: the network's input normalisation clips strong
    anomalies, which adds energy at every wavenumber). Grids up to ``window``
    cells each side are measured whole; larger ones on up to ``max_windows`` full-resolution
    windows of ``window`` x ``window`` cells spread evenly over the grid (the
    median), so the memory does not grow with the grid.

    Parameters
    ----------
    path : path
        Any GDAL raster.
    band : int
        Band to measure (1-based).
    window : int
        Window edge in cells.
    max_windows : int
        Most windows read (a square number spreads them on a regular layout).

    Returns
    -------
    float
        Fraction of the Nyquist wavenumber; NaN when the grid holds too few
        valid cells.
    """
    import rasterio
    from rasterio.windows import Window

    with rasterio.open(path) as ds:
        nodata = ds.nodatavals[band - 1]

        def read(r0, c0, h, w):
            a = ds.read(band, window=Window(c0, r0, w, h), masked=True).astype(np.float64).filled(np.nan)
            if nodata is not None and not np.isnan(nodata):
                a[a == nodata] = np.nan
            return a

        return _windows_bandwidth(read, ds.height, ds.width, window, max_windows)


def array_bandwidth(array: np.ndarray, *, window: int = WINDOW, max_windows: int = 9) -> float:
    """:func:`grid_bandwidth` of a grid already in memory (the same windows; NaN is nodata)."""
    a = np.asarray(array)
    return _windows_bandwidth(lambda r0, c0, h, w: a[r0:r0 + h, c0:c0 + w], a.shape[0], a.shape[1],
                              window, max_windows)


def _windows_bandwidth(read, height: int, width: int, window: int, max_windows: int) -> float:
    per_side = max(1, int(np.sqrt(max_windows)))
    values = []
    for r0 in _starts(height, window, per_side):
        for c0 in _starts(width, window, per_side):
            b = resolved_bandwidth(read(r0, c0, min(window, height - r0), min(window, width - c0)))
            if np.isfinite(b):
                values.append(b)
    return float(np.median(values)) if values else float("nan")


def _starts(n: int, window: int, k: int) -> list[int]:
    if n <= window:
        return [0]
    return sorted({int(round(x)) for x in np.linspace(0, n - window, k)})


def coarse_shape(rows: int, cols: int, scale: float) -> tuple[int, int]:
    """Shape of a ``rows`` x ``cols`` grid averaged to cells ``1 / scale`` times larger (at least 8 x 8)."""
    return max(8, int(round(rows * scale))), max(8, int(round(cols * scale)))


def auto_scale(bandwidth: float, reference: Optional[float], *, minimum: float = MIN_SCALE) -> float:
    """Fraction of a grid's resolution at which a model sees a grid like its training data.

    Parameters
    ----------
    bandwidth : float
        The grid's resolved bandwidth, :func:`resolved_bandwidth`.
    reference : float or None
        The least resolved bandwidth the model learned: the 10th percentile
        over its training inputs, from its card (``card.training
        ['resolved_bandwidth']['p10']``). None: unknown, the grid is used as
        it is.
    minimum : float
        Lowest fraction returned.

    Returns
    -------
    float
        1.0 when the grid resolves as much as the training inputs (to within
        :data:`TOLERANCE`), else ``bandwidth / reference`` rounded to 0.05
        and at least ``minimum``:
        the grid averaged to cells that much larger carries information up
        to its Nyquist, like the training grids.

    Examples
    --------
    >>> auto_scale(0.9, 0.95), auto_scale(0.5, 0.95), auto_scale(0.1, 0.95)
    (1.0, 0.55, 0.2)
    """
    if reference is None or not np.isfinite(bandwidth) or bandwidth <= 0 or not reference > 0:
        return 1.0
    s = float(bandwidth) / float(reference)
    if s >= 1.0 - TOLERANCE:
        return 1.0
    return float(max(minimum, round(s * 20) / 20))


def training_reference(arrays) -> dict:
    """Resolved-bandwidth percentiles of training fields, for the model card.

    Parameters
    ----------
    arrays : iterable of ndarray (rows, cols)
        Synthetic fields as generated (before the input normalisation).

    Returns
    -------
    dict
        ``{"p5", "p10", "p50"}`` (fractions of the Nyquist wavenumber),
        ``samples`` measured and the ``estimator`` used (this module's
        :func:`resolved_bandwidth`).
    """
    values = np.array([resolved_bandwidth(np.asarray(a, dtype=np.float64)) for a in arrays], dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return {}
    p5, p10, p50 = np.percentile(values, [5, 10, 50])
    return {"p5": round(float(p5), 3), "p10": round(float(p10), 3), "p50": round(float(p50), 3),
            "samples": int(values.size), "estimator": "geocore.lineaments.scale.resolved_bandwidth"}


def preset_reference(presets, *, n: int = 100, size: int = 192, cell_size: float = 50.0, seed: int = 0) -> dict:
    """:func:`training_reference` of ``n`` fresh samples of each synthetic preset.

    Parameters
    ----------
    presets : list of str or SurveyConfig
        What the model was trained (and validated) on.
    n, size, cell_size, seed
        Samples per preset, their edge in cells, cell size in metres, seed.
    """
    from ..magnetics.synthetic import SurveyConfig, synthesize_sample

    rng = np.random.default_rng(seed)
    fields = []
    for p in presets:
        cfg = SurveyConfig.from_preset(p) if isinstance(p, str) else p
        fields += [synthesize_sample(rng, rows=size, cols=size, cell_size=cell_size, config=cfg).field
                   for _ in range(n)]
    ref = training_reference(fields)
    if ref:
        ref["presets"] = [p if isinstance(p, str) else getattr(p, "preset", "custom") for p in presets]
    return ref


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
    """The model card's reference bandwidth (the training inputs' 10th percentile), or None."""
    ref = (getattr(card, "training", None) or {}).get("resolved_bandwidth") or {}
    value = ref.get("p10")
    return float(value) if value else None
