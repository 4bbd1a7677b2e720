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

The other way round, a grid can be coarser than its anomalies need: a regional
compilation or a decimated grid where dyke anomalies are one or two cells wide,
narrower than any the network learned. The resolved bandwidth cannot see this
(it is near 1 for the training grids already), so ``auto`` also measures the
*anomaly wavenumber*, the median wavenumber of the gradient energy above the
white-noise floor (:func:`anomaly_wavenumber`). A grid whose anomaly
wavenumber is above that of 90 % of the training inputs (with the same
:data:`TOLERANCE`) is refined by its ratio to their median, so that its
anomalies are as wide in cells as the typical training anomaly.
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
#: Largest factor ``auto`` refines a grid by (cells that many times smaller).
MAX_REFINE = 3.0
#: Outer wavenumber rings whose median power :func:`anomaly_wavenumber` takes as the white-noise floor.
NOISE_RINGS = 6


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
    ring = _gradient_energy(array)
    if ring is None:
        return float("nan")
    centres, energy = ring
    return _quantile(centres, energy, share)


def anomaly_wavenumber(array: np.ndarray) -> float:
    """Median wavenumber (fraction of the Nyquist) of the gradient energy above the white-noise floor.

    Where :func:`resolved_bandwidth` says up to where a grid carries
    information, this says where most of its anomalies' energy sits: twice as
    high on a grid whose cells are twice as large. White noise (flat in power)
    would pull the median up to the Nyquist, so the median power of the
    :data:`NOISE_RINGS` outermost rings is subtracted first.

    Parameters
    ----------
    array : ndarray (rows, cols)
        Field values in any units; NaN marks nodata.

    Returns
    -------
    float
        In (0, 1], in steps of 1 / :data:`BINS`; NaN as for
        :func:`resolved_bandwidth`.

    Examples
    --------
    Band-limited noise below a quarter of the Nyquist, plus white noise of
    half its amplitude: the median of the gradient energy moves to 0.75 of the
    Nyquist, the anomaly wavenumber stays below the band's edge.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> F = np.fft.fft2(rng.normal(size=(256, 256)))
    >>> k = np.hypot(*np.meshgrid(np.fft.fftfreq(256), np.fft.fftfreq(256)))
    >>> f = np.real(np.fft.ifft2(F * (k < 1 / 8)))
    >>> noisy = f + 0.5 * f.std() * rng.normal(size=f.shape)
    >>> resolved_bandwidth(noisy, share=0.5), anomaly_wavenumber(f), anomaly_wavenumber(noisy)
    (0.75, 0.225, 0.225)
    """
    ring = _gradient_energy(array, noise_floor=True)
    if ring is None:
        return float("nan")
    centres, energy = ring
    return _quantile(centres, energy, 0.5)


def _quantile(centres: np.ndarray, energy: np.ndarray, share: float) -> float:
    total = energy.sum()
    if not total > 0:
        return float("nan")
    cumulative = np.cumsum(energy) / total
    return float(centres[int(np.argmax(cumulative >= share))])


def _gradient_energy(array: np.ndarray, *, noise_floor: bool = False):
    """(upper edge of each wavenumber ring, gradient energy in it), or None when it cannot be measured."""
    a = np.asarray(array, dtype=np.float64)
    if a.ndim != 2:
        msg = f"expected a (rows, cols) array, got shape {a.shape}"
        raise GeocoreError(msg)
    valid = np.isfinite(a)
    if a.shape[0] < 16 or a.shape[1] < 16 or valid.sum() < 256:
        return None
    a = np.where(valid, a - np.mean(a[valid]), 0.0)
    if not np.any(a):
        return None
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
    if noise_floor:
        mean_power = np.maximum(mean_power - np.median(mean_power[-NOISE_RINGS:]), 0.0)
    centres = edges[1:]  # upper edge of each ring
    return centres, mean_power * centres**2 * centres  # gradient (k^2) over the ring's area (k)


def grid_bandwidth(path: str | os.PathLike, band: int = 1, *, window: int = WINDOW, max_windows: int = 9,
                   measure=None) -> float:
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
    measure : callable or None
        What to measure on each window: :func:`resolved_bandwidth` (None, the
        default) or :func:`anomaly_wavenumber`.

    Returns
    -------
    float
        Fraction of the Nyquist wavenumber; NaN when the grid holds too few
        valid cells.
    """
    import rasterio
    from rasterio.windows import Window

    from ..raster.io import read_window

    with rasterio.open(path) as ds:
        def read(r0, c0, h, w):
            return read_window(ds, Window(c0, r0, w, h), band)

        return _windows_bandwidth(read, ds.height, ds.width, window, max_windows, measure)


def array_bandwidth(array: np.ndarray, *, window: int = WINDOW, max_windows: int = 9, measure=None) -> float:
    """:func:`grid_bandwidth` of a grid already in memory (the same windows; NaN is nodata)."""
    a = np.asarray(array)
    return _windows_bandwidth(lambda r0, c0, h, w: a[r0:r0 + h, c0:c0 + w], a.shape[0], a.shape[1],
                              window, max_windows, measure)


def _windows_bandwidth(read, height: int, width: int, window: int, max_windows: int, measure=None) -> float:
    measure = measure or resolved_bandwidth
    per_side = max(1, int(np.sqrt(max_windows)))
    values = []
    for r0 in _starts(height, window, per_side):
        for c0 in _starts(width, window, per_side):
            b = measure(read(r0, c0, min(window, height - r0), min(window, width - c0)))
            if np.isfinite(b):
                values.append(b)
    return float(np.median(values)) if values else float("nan")


def _starts(n: int, window: int, k: int) -> list[int]:
    if n <= window:
        return [0]
    return sorted({int(round(x)) for x in np.linspace(0, n - window, k)})


def choose_scale(measure, card) -> tuple[float, dict]:
    """The ``auto`` resolution for a grid and a model, and the figures that chose it.

    Parameters
    ----------
    measure : callable
        ``measure(fn)`` returns ``fn`` (:func:`resolved_bandwidth` or
        :func:`anomaly_wavenumber`) over the grid's windows
        (:func:`grid_bandwidth` or :func:`array_bandwidth` with ``measure=fn``).
    card : ModelCard

    Returns
    -------
    (float, dict)
        :func:`auto_scale`'s answer, and ``bandwidth``, ``reference``,
        ``wavenumber`` and ``wavenumber_reference`` (None where not measured:
        the anomaly wavenumber only matters, and is only measured, when the
        grid resolves as much as the training inputs).
    """
    bandwidth, reference = measure(resolved_bandwidth), card_reference(card)
    figures = dict(bandwidth=bandwidth, reference=reference, wavenumber=None,
                   wavenumber_reference=card_wavenumber_reference(card))
    scale = auto_scale(bandwidth, reference)
    if scale == 1.0 and reference is not None and figures["wavenumber_reference"] is not None:
        figures["wavenumber"] = measure(anomaly_wavenumber)
        scale = auto_scale(bandwidth, reference, wavenumber=figures["wavenumber"],
                           wavenumber_reference=figures["wavenumber_reference"])
    return scale, figures


def refined_shape(rows: int, cols: int, scale: float) -> tuple[int, int]:
    """Shape of a ``rows`` x ``cols`` grid interpolated to cells ``scale`` (> 1) times smaller."""
    return int(round(rows * scale)), int(round(cols * scale))


def refine_rows(read, rows: int, cols: int, scale: float, start: int, stop: int) -> np.ndarray:
    """Rows ``start .. stop - 1`` of a grid interpolated to cells ``scale`` times smaller.

    Cubic spline interpolation at the centres of the finer cells (the grid's
    edge values continue beyond it); nodata cells take the nearest value
    first, so the spline does not spread them, and the finer cells whose
    nearest grid cell is nodata are NaN. Computed from a window of the grid
    a few rows larger than the strip, so strips give the values of the whole
    grid (to the spline's prefilter, a relative 1e-4).

    Parameters
    ----------
    read : callable
        ``read(r0, r1)`` returns grid rows ``r0 .. r1 - 1`` (all columns,
        float, NaN for nodata).
    rows, cols : int
        The grid's shape.
    scale : float
        Refinement factor (> 1).
    start, stop : int
        Rows of the refined grid (:func:`refined_shape`) to compute.

    Returns
    -------
    ndarray (stop - start, refined cols) of float32
    """
    from scipy import ndimage

    from ..raster.fill import fill_nearest

    h, w = refined_shape(rows, cols, scale)
    fy, fx = rows / h, cols / w
    y = (np.arange(start, stop) + 0.5) * fy - 0.5  # grid row coordinate of each refined row's centre
    x = (np.arange(w) + 0.5) * fx - 0.5
    margin = 8
    r0 = max(0, int(np.floor(y.min())) - margin)
    r1 = min(rows, int(np.ceil(y.max())) + margin + 1)
    a = np.asarray(read(r0, r1), dtype=np.float64)
    nodata = ~np.isfinite(a)
    a = fill_nearest(a, nodata)
    yy, xx = np.meshgrid(y - r0, x, indexing="ij")
    out = ndimage.map_coordinates(a, [yy, xx], order=3, mode="nearest").astype(np.float32)
    if nodata.any():
        near = ndimage.map_coordinates(nodata.astype(np.float32), [yy, xx], order=0, mode="nearest") > 0.5
        out[near] = np.nan
    return out


def coarse_shape(rows: int, cols: int, scale: float) -> tuple[int, int]:
    """Shape of a ``rows`` x ``cols`` grid averaged to cells ``1 / scale`` times larger (at least 8 x 8)."""
    return max(8, int(round(rows * scale))), max(8, int(round(cols * scale)))


def auto_scale(bandwidth: float, reference: Optional[float], *, minimum: float = MIN_SCALE,
               wavenumber: Optional[float] = None, wavenumber_reference: Optional[tuple] = None) -> float:
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
    wavenumber : float or None
        The grid's :func:`anomaly_wavenumber` (None: the grid is never refined).
    wavenumber_reference : (float, float) or None
        Median and 90th percentile of the anomaly wavenumber over the training
        inputs (:func:`card_wavenumber_reference`).

    Returns
    -------
    float
        ``bandwidth / reference`` rounded to 0.05 (and at least ``minimum``)
        when the grid resolves less than the training inputs (by more than
        :data:`TOLERANCE`): the grid averaged to cells that much larger
        carries information up to its Nyquist, like the training grids.
        Above 1 when its anomaly wavenumber is above the training inputs' 90th
        percentile (by more than :data:`TOLERANCE`): ``wavenumber / median``
        rounded to 0.25, at most :data:`MAX_REFINE`, the factor by which
        cells must shrink for its anomalies to be as wide in cells as the
        typical training anomaly. Else 1.0.

    Examples
    --------
    >>> auto_scale(0.9, 0.95), auto_scale(0.5, 0.95), auto_scale(0.1, 0.95)
    (1.0, 0.55, 0.2)
    >>> auto_scale(0.95, 0.7, wavenumber=0.4, wavenumber_reference=(0.2, 0.325))
    2.0
    >>> auto_scale(0.95, 0.7, wavenumber=0.3, wavenumber_reference=(0.2, 0.325))
    1.0
    """
    if reference is None or not np.isfinite(bandwidth) or bandwidth <= 0 or not reference > 0:
        return 1.0
    s = float(bandwidth) / float(reference)
    if s < 1.0 - TOLERANCE:
        return float(max(minimum, round(s * 20) / 20))
    if wavenumber is None or wavenumber_reference is None or not np.isfinite(wavenumber):
        return 1.0
    median, p90 = (float(x) for x in wavenumber_reference)
    if not (median > 0 and p90 > 0) or wavenumber <= p90 * (1.0 + TOLERANCE):
        return 1.0
    return float(min(MAX_REFINE, max(1.0, round(wavenumber / median * 4) / 4)))


def training_reference(arrays, measure=None) -> dict:
    """Percentiles of a spectral measure over training fields, for the model card.

    Parameters
    ----------
    arrays : iterable of ndarray (rows, cols)
        Synthetic fields as generated (before the input normalisation).
    measure : callable or None
        :func:`resolved_bandwidth` (None, the default) or :func:`anomaly_wavenumber`.

    Returns
    -------
    dict
        ``{"p5", "p10", "p50", "p90"}`` (fractions of the Nyquist wavenumber),
        ``samples`` measured and the ``estimator`` used.
    """
    measure = measure or resolved_bandwidth
    values = np.array([measure(np.asarray(a, dtype=np.float64)) for a in arrays], dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return {}
    p5, p10, p50, p90 = np.percentile(values, [5, 10, 50, 90])
    return {"p5": round(float(p5), 3), "p10": round(float(p10), 3), "p50": round(float(p50), 3),
            "p90": round(float(p90), 3), "samples": int(values.size),
            "estimator": f"geocore.lineaments.scale.{measure.__name__}"}


def preset_reference(presets, *, n: int = 100, size: int = 192, cell_size: float = 50.0, seed: int = 0,
                     measure=None) -> dict:
    """:func:`training_reference` of ``n`` fresh samples of each synthetic preset.

    Parameters
    ----------
    presets : list of str or SurveyConfig
        What the model was trained (and validated) on.
    n, size, cell_size, seed
        Samples per preset, their edge in cells, cell size in metres, seed.
    measure : callable, tuple of callables or None
        As in :func:`training_reference`; a tuple gives a tuple of references
        measured on the same samples.
    """
    from ..magnetics.synthetic import SurveyConfig, synthesize_sample

    rng = np.random.default_rng(seed)
    fields = []
    for p in presets:
        cfg = SurveyConfig.from_preset(p) if isinstance(p, str) else p
        fields += [synthesize_sample(rng, rows=size, cols=size, cell_size=cell_size, config=cfg).field
                   for _ in range(n)]
    names = [p if isinstance(p, str) else getattr(p, "preset", "custom") for p in presets]
    refs = []
    for m in (measure if isinstance(measure, tuple) else (measure,)):
        ref = training_reference(fields, m)
        if ref:
            ref["presets"] = names
        refs.append(ref)
    return tuple(refs) if isinstance(measure, tuple) else refs[0]


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


def card_wavenumber_reference(card) -> Optional[tuple]:
    """The model card's anomaly-wavenumber reference ``(median, 90th percentile)`` of its training inputs, or None."""
    ref = (getattr(card, "training", None) or {}).get("anomaly_wavenumber") or {}
    median, p90 = ref.get("p50"), ref.get("p90")
    return (float(median), float(p90)) if median and p90 else None
