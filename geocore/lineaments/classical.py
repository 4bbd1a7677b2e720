"""Classical lineament detectors: ridges of potential-field derivatives.

What interpreters use today (SGTool, CET Grid Analysis, Geosoft) and the
references a learned detector must beat. Each method turns a total-field
anomaly grid into a *ridge map*, a raster in 0..1 that the lineament
vectoriser reads exactly like the CNN's probability map:

``tga``
    Ridges of the total gradient amplitude (analytic signal amplitude,
    Roest et al., 1992; Nabighian, 1972): for a thin 2-D dyke its maximum sits
    over the dyke whatever the field and magnetisation directions, so it needs
    no reduction and is the default classical method.
``tilt``
    Ridges of the tilt angle (Miller & Singh, 1994) of the reduced field:
    positive over the source, normalised by the horizontal gradient, so weak
    and strong anomalies weigh alike.
``vdr``
    Ridges of the first vertical derivative (z down) of the reduced field.
``thg``
    Maxima of the total horizontal gradient of the reduced field (Cordell &
    Grauch, 1985; Blakely & Simpson, 1986): these mark the *edges* of
    sources (contacts), two lines flanking a wide dyke.

``tilt``, ``vdr`` and ``thg`` assume the anomalies sit over their sources, so
the grid is first reduced: to the pole (with the MacLeod et al., 1993 low
latitude stabilisation) where ``|inclination| >= 30`` degrees, to the equator
(sign flipped, so that sources stay positive) below that, where reduction to
the pole is unstable. ``tga`` uses the grid as it is.

Ridge map
---------
A cell is on a ridge where the smoothed measure is a maximum along the
direction of strongest negative curvature (its Hessian eigenvector;
non-maximum suppression on a one-cell-wide line). The value written is the
cell's *strength*, the percentile rank ``s`` of the measure over the grid,
mapped so that ``s = percentile / 100`` gives 0.5: on ridge cells
``p = 0.5 + 0.5 (s - q) / (1 - q)`` above ``q`` and ``0.5 s / q`` below;
off ridges the same value times 0.49, so that with the default threshold of
0.5 the lines are the ridges stronger than the given percentile (70 %: the
usual "top 30 % of the analytic signal"). Lines then carry ``mean_prob``
and ``max_prob`` like the CNN's.

These methods hold the grid in memory (about 15 float64 copies of it): up to
a few tens of millions of cells on a workstation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

import numpy as np

from ..errors import GeocoreError
from .params import CLASSICAL_METHODS, METHODS  # noqa: F401 (names of the methods, plain data)

#: Methods that need the main-field direction (they work on the reduced field).
NEEDS_REDUCTION = ("tilt", "vdr", "thg")
#: ``|inclination|`` (degrees) below which the field is reduced to the equator, not the pole.
RTE_BELOW_INCLINATION = 30.0
#: Largest grid the in-memory classical methods accept, in cells.
MAX_CELLS = 60_000_000

METHOD_HELP = {
    "cnn": "the U-Net (default): probability of a dyke axis",
    "tga": "ridges of the total gradient amplitude (analytic signal); no field direction needed",
    "tilt": "ridges of the tilt angle of the reduced field (needs inclination and declination)",
    "vdr": "ridges of the first vertical derivative of the reduced field (needs inclination and declination)",
    "thg": "maxima of the horizontal gradient of the reduced field: source edges (needs inclination and declination)",
}


@dataclass
class ClassicalParams:
    """Options of a classical detector, shared by the CLI, QGIS and the benchmark.

    Attributes
    ----------
    method : str
        One of :data:`CLASSICAL_METHODS`.
    inclination, declination : float or None
        Main-field direction in degrees (inclination positive down,
        declination clockwise from north). Needed by ``tilt``, ``vdr``,
        ``thg`` unless ``reduction="none"``; optional for ``tga``.
    reduction : str
        ``"auto"`` (pole at ``|I| >= 30``, equator below; none for ``tga``),
        ``"rtp"``, ``"rte"`` or ``"none"``.
    percentile : float
        Ridge strength (percentile of the measure, 0-100) that maps to a
        ridge value of 0.5, the default vectorising threshold.
    smooth_cells : float
        Gaussian smoothing of the measure before ridge extraction, in cells
        (sigma); 0 for none.
    """

    method: str = "tga"
    inclination: Optional[float] = None
    declination: Optional[float] = None
    reduction: str = "auto"
    percentile: float = 70.0
    smooth_cells: float = 1.0

    def check(self) -> None:
        """Raise GeocoreError naming the option that cannot work."""
        if self.method not in CLASSICAL_METHODS:
            msg = f"unknown classical method {self.method!r}; choose one of {', '.join(CLASSICAL_METHODS)}"
            raise GeocoreError(msg)
        if self.reduction not in ("auto", "rtp", "rte", "none"):
            msg = f"unknown reduction {self.reduction!r}; choose auto, rtp, rte or none"
            raise GeocoreError(msg)
        if not (np.isfinite(self.percentile) and 0.0 < self.percentile < 100.0):
            msg = f"ridge percentile {self.percentile} must be between 0 and 100 (e.g. 70)"
            raise GeocoreError(msg)
        if not (np.isfinite(self.smooth_cells) and 0.0 <= self.smooth_cells <= 10.0):
            msg = f"ridge smoothing {self.smooth_cells} cells must be between 0 and 10"
            raise GeocoreError(msg)
        given = [v is not None for v in (self.inclination, self.declination)]
        if any(given) and not all(given):
            msg = "give both the inclination and the declination of the main field (degrees), or neither"
            raise GeocoreError(msg)
        if self.inclination is not None and not (np.isfinite(self.inclination) and -90 <= self.inclination <= 90):
            msg = f"inclination {self.inclination} must be between -90 and 90 degrees (positive down)"
            raise GeocoreError(msg)
        if self.declination is not None and not (np.isfinite(self.declination) and -360 <= self.declination <= 360):
            msg = f"declination {self.declination} must be between -360 and 360 degrees (clockwise from north)"
            raise GeocoreError(msg)
        if self.reduced() != "none" and self.inclination is None:
            msg = (f"method '{self.method}' works on the reduced field and needs the main-field direction: "
                   "give the inclination and declination (degrees; IGRF at the survey's date and place), "
                   "or reduction 'none' to use the grid as it is")
            raise GeocoreError(msg)

    def reduced(self) -> str:
        """The reduction that will be applied: ``"rtp"``, ``"rte"`` or ``"none"``."""
        if self.reduction != "auto":
            return self.reduction
        if self.method not in NEEDS_REDUCTION:
            return "none"
        if self.inclination is None:
            return "rtp"  # check() turns this into the message asking for the direction
        return "rtp" if abs(self.inclination) >= RTE_BELOW_INCLINATION else "rte"

    def describe(self) -> str:
        """One line for logs and cards: method, reduction and percentile."""
        red = self.reduced()
        where = "" if red == "none" else f" of the field reduced to the {'pole' if red == 'rtp' else 'equator'}"
        return f"{self.method}{where}, ridges above the {self.percentile:g}th percentile"


# ----------------------------------------------------------------------------- reduction
def reduce_to_equator(grid, *, inclination: float, declination: float):
    """Reduction to the equator, sign flipped so that sources stay positive (nT).

    The operator is ``(i cos(D - theta))^2 / (sin I + i cos I cos(D - theta))^2``
    for induced magnetisation (theta the wavenumber azimuth): it moves the
    anomaly to a horizontal field of the same declination. Stable at low
    latitudes, where both factors vanish in the same directions; anomalies
    of sources striking along the declination fade, as at the equator.
    """
    from ..magnetics.transforms import _apply, _wavenumbers

    inc, dec = np.radians(inclination), np.radians(declination)

    def rte(da):
        ke, kn = _wavenumbers(da)
        k = np.hypot(ke, kn)
        with np.errstate(invalid="ignore", divide="ignore"):
            c = np.where(k > 0, (ke * np.sin(dec) + kn * np.cos(dec)) / np.where(k > 0, k, 1.0), 0.0)
        obs = np.sin(inc) + 1j * np.cos(inc) * c
        target = 1j * c
        small = np.abs(obs) < 1e-3
        op = np.where(small, 0.0, target ** 2 / np.where(small, 1.0, obs) ** 2)
        op[0, 0] = 0.0
        out = np.real(np.fft.ifft2(np.fft.fft2(da.values) * op))
        return da.copy(data=-out)

    return _apply(grid, rte, units=grid.units)


def reduce_grid(grid, params: ClassicalParams):
    """``grid`` reduced as ``params`` says (or unchanged for ``"none"``)."""
    from ..magnetics.transforms import reduce_to_pole

    red = params.reduced()
    if red == "none":
        return grid
    if red == "rte":
        return reduce_to_equator(grid, inclination=params.inclination, declination=params.declination)
    inc = float(params.inclination)
    stab = RTE_BELOW_INCLINATION * np.sign(inc or 1.0) if abs(inc) < 45 else None
    return reduce_to_pole(grid, inclination=inc, declination=params.declination, stabilization_inclination=stab)


# ----------------------------------------------------------------------------- measures and ridges
def ridge_measure(grid, params: ClassicalParams) -> np.ndarray:
    """The quantity whose ridges are the lineaments (NaN where the grid is NaN)."""
    from ..magnetics import transforms as tr

    g = reduce_grid(grid, params)
    if params.method == "tga":
        return tr.total_gradient_amplitude(g).data
    if params.method == "tilt":
        return tr.tilt_angle(g).data
    if params.method == "vdr":
        return -tr.derivative_z(g).data
    return tr.total_horizontal_gradient(g).data


def percentile_rank(values: np.ndarray) -> np.ndarray:
    """Rank of each finite value among all finite ones, in [0, 1] (NaN stays NaN)."""
    out = np.full(values.shape, np.nan)
    ok = np.isfinite(values)
    n = int(ok.sum())
    if n == 0:
        return out
    order = np.argsort(values[ok], kind="stable")
    ranks = np.empty(n)
    ranks[order] = np.arange(n) / max(n - 1, 1)
    out[ok] = ranks
    return out


def ridge_cells(measure: np.ndarray, smooth_cells: float = 1.0, valid: Optional[np.ndarray] = None) -> np.ndarray:
    """Cells where ``measure`` is a ridge: a maximum across its strongest negative curvature.

    A ridge cell is at least as high as the two points one cell ahead and
    behind it across the ridge, and both must lie inside the grid and on valid
    cells: at the border or beside nodata a cell has no neighbour on one
    side, and the edge effects of the transforms (a measure that rises
    towards the border) would otherwise draw lines along it.

    Parameters
    ----------
    measure : ndarray (rows, cols)
        Finite values (fill NaN first).
    smooth_cells : float
        Gaussian sigma in cells applied before the Hessian (0: none).
    valid : ndarray of bool or None
        Cells that hold data (None: all).

    Returns
    -------
    ndarray of bool
        One-cell-wide ridge lines.
    """
    from scipy import ndimage
    from skimage.feature import hessian_matrix, hessian_matrix_eigvals

    m = ndimage.gaussian_filter(measure, smooth_cells) if smooth_cells > 0 else np.asarray(measure, float)
    H = hessian_matrix(m, sigma=max(float(smooth_cells), 0.5), order="rc", use_gaussian_derivatives=False)
    hrr, hrc, hcc = H
    lam_small = hessian_matrix_eigvals(H)[1]  # the more negative eigenvalue
    # unit eigenvector (dr, dc) of lam_small: (hrc, lam - hrr) or (lam - hcc, hrc), whichever is longer
    v1 = np.stack([hrc, lam_small - hrr])
    v2 = np.stack([lam_small - hcc, hrc])
    use2 = np.hypot(*v2) > np.hypot(*v1)
    v = np.where(use2, v2, v1)
    norm = np.hypot(*v)
    norm[norm == 0] = 1.0
    dr, dc = v[0] / norm, v[1] / norm
    rows, cols = np.indices(m.shape, dtype=np.float64)
    ahead = ndimage.map_coordinates(m, [rows + dr, cols + dc], order=1, mode="nearest")
    behind = ndimage.map_coordinates(m, [rows - dr, cols - dc], order=1, mode="nearest")
    ok = np.ones(m.shape, bool) if valid is None else np.asarray(valid, bool)
    for sign in (1.0, -1.0):  # both neighbours across the ridge inside the grid and on data
        r, c = rows + sign * dr, cols + sign * dc
        ok &= (r >= 0) & (r <= m.shape[0] - 1) & (c >= 0) & (c <= m.shape[1] - 1)
        if valid is not None:
            ok &= ndimage.map_coordinates(np.asarray(valid, np.float32), [r, c], order=1, mode="constant",
                                          cval=0.0) > 0.999
    return (m >= ahead) & (m >= behind) & (lam_small < 0) & ok


def ridge_map(measure: np.ndarray, *, percentile: float = 70.0, smooth_cells: float = 1.0) -> np.ndarray:
    """Ridge value in 0..1 (float32, NaN where ``measure`` is NaN); see the module notes."""
    from ..magnetics.transforms import fill_nan_nearest

    nan = ~np.isfinite(measure)
    s = percentile_rank(np.where(nan, np.nan, measure))
    q = float(percentile) / 100.0
    on = ridge_cells(fill_nan_nearest(measure), smooth_cells, valid=~nan)
    with np.errstate(invalid="ignore"):
        value = np.where(s > q, 0.5 + 0.5 * (s - q) / (1.0 - q), 0.5 * s / q)
    out = np.where(on, value, 0.49 * value).astype(np.float32)
    out[nan] = np.nan
    return out


def classical_ridge_map(grid, params: ClassicalParams) -> np.ndarray:
    """Ridge map (0..1, float32, NaN on nodata) of a total-field grid by a classical method.

    Parameters
    ----------
    grid : geocore.grids.Grid
        Total-field anomaly (nT) in a projected CRS in metres, north-up.
    params : ClassicalParams

    Raises
    ------
    GeocoreError
        Bad options, a grid that is too large for memory, or one in degrees.
    """
    params.check()
    rows, cols = grid.shape
    if rows * cols > MAX_CELLS:
        msg = (f"the grid has {rows * cols:,} cells; the classical methods hold it in memory and accept up to "
               f"{MAX_CELLS:,}: use --method cnn (tiled, any size) or cut the grid into parts")
        raise GeocoreError(msg)
    if rows < 3 or cols < 3:
        msg = f"the grid is {rows} x {cols} cells; ridge detection needs at least 3 x 3"
        raise GeocoreError(msg)
    return ridge_map(ridge_measure(grid, params), percentile=params.percentile, smooth_cells=params.smooth_cells)
