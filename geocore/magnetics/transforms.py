"""Potential-field transforms of georeferenced grids (harmonica underneath).

Every transform takes a :class:`geocore.grids.Grid` (north-up, axis-aligned,
projected CRS in metres) and returns a new Grid with the same shape, transform
and CRS. NaN gaps are filled (nearest valid value), the grid is padded by even
reflection so that the FFT sees no jump at the edges, transformed, cropped, and
the NaN mask restored.

Conventions
-----------
* Coordinates: x = easting, y = northing, z = **upward** (as in
  :mod:`geocore.magnetics.forward` and harmonica); lengths in metres.
* Inclination positive downward (northern hemisphere), declination clockwise
  from geographic north, both in degrees.
* ``dx``/``dy``: derivatives towards east/north, in (grid units)/m.
* ``dz``: derivative along the upward vertical, in (grid units)/m. Over an
  isolated positive anomaly it is *negative* (the field decays upward); the
  "first vertical derivative" of Geosoft-style packages (z down) is ``-dz``.
* ``tilt``: ``arctan(-dz / thg)`` in degrees (Miller & Singh, 1994, z down):
  positive over a positive (reduced-to-pole) source, zero near its edges.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Callable, Optional

import numpy as np

from ..errors import GeocoreError, InputError, ParameterError
from ..grids.io import Grid
from .params import OPERATIONS  # the names accepted by transform_grid (labels there too, free of numpy)

#: Default padding on each side as a fraction of the grid size.
PAD_FRACTION = 0.25


# ----------------------------------------------------------------------------- NaN and padding
def fill_nan_nearest(data: np.ndarray) -> np.ndarray:
    """Copy of ``data`` with every NaN replaced by the nearest valid value.

    Raises
    ------
    GeocoreError
        When no cell is valid.
    """
    from ..raster.fill import fill_nearest

    invalid = ~np.isfinite(data)
    if invalid.all():
        msg = "the grid holds only NaN/nodata cells; there is nothing to transform"
        raise InputError(msg)
    return fill_nearest(np.array(data, dtype=np.float64), invalid)


def _check_metric(grid: Grid) -> None:
    grid.check_axis_aligned()
    if grid.crs is None:
        return
    from pyproj import CRS as ProjCRS

    crs = ProjCRS.from_user_input(grid.crs.to_wkt())
    if crs.is_geographic:
        msg = ("the grid is in geographic coordinates (degrees); transforms need a projected CRS in metres: "
               "reproject it first, e.g. gdalwarp -t_srs EPSG:326NN IN OUT.tif")
        raise InputError(msg)
    units = {ax.unit_name for ax in crs.axis_info}
    if units and not units <= {"metre", "meter", "m"}:
        msg = f"the grid's CRS is in {', '.join(sorted(units))}; transforms need metres: reproject it first"
        raise InputError(msg)


def _apply(grid: Grid, func: Callable, *, pad_fraction: float = PAD_FRACTION, units: Optional[str] = None) -> Grid:
    """Fill NaN, pad by even reflection, ``func(DataArray) -> DataArray``, crop, restore NaN."""
    import xarray as xr

    _check_metric(grid)
    rows, cols = grid.shape
    if rows < 3 or cols < 3:
        msg = f"the grid is {rows} x {cols} cells; transforms need at least 3 x 3"
        raise InputError(msg)
    mask = ~np.isfinite(grid.data)
    filled = fill_nan_nearest(grid.data)[::-1]  # northing increasing
    py = min(rows - 1, max(2, int(round(rows * pad_fraction))))
    px = min(cols - 1, max(2, int(round(cols * pad_fraction))))
    padded = np.pad(filled, ((py, py), (px, px)), mode="reflect")
    dy, dx = grid.spacing
    easting, northing = grid.coordinates()
    e = easting[0] + dx * (np.arange(cols + 2 * px) - px)
    n = northing[-1] + dy * (np.arange(rows + 2 * py) - py)
    da = xr.DataArray(padded, coords={"northing": n, "easting": e}, dims=("northing", "easting"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # xrft/harmonica deprecations, not ours
        result = func(da)
    out = np.asarray(getattr(result, "values", result), dtype=np.float64)[py:py + rows, px:px + cols][::-1].copy()
    out[mask] = np.nan
    return grid.with_data(out, units=units)


# ----------------------------------------------------------------------------- spectral helpers
def _wavenumbers(da) -> tuple[np.ndarray, np.ndarray]:
    """Angular wavenumbers (rad/m) ``(k_east, k_north)`` for ``numpy.fft.fft2`` of ``da``."""
    dn = float(da.northing[1] - da.northing[0])
    de = float(da.easting[1] - da.easting[0])
    k_n = 2 * np.pi * np.fft.fftfreq(da.shape[0], dn)
    k_e = 2 * np.pi * np.fft.fftfreq(da.shape[1], de)
    return np.meshgrid(k_e, k_n)


def _macleod_rtp(da, inclination: float, declination: float, amplitude_inclination: float):
    """Reduction to the pole with MacLeod et al. (1993) amplitude correction."""
    inc, dec = np.radians(inclination), np.radians(declination)
    inc_a = np.radians(amplitude_inclination)
    if abs(np.sin(inc_a)) < abs(np.sin(inc)):
        inc_a = inc
    k_e, k_n = _wavenumbers(da)
    k = np.hypot(k_e, k_n)
    k[0, 0] = 1.0
    cos_theta = (k_e * np.sin(dec) + k_n * np.cos(dec)) / k  # cos(D - azimuth of k)
    a = np.sin(inc) + 1j * np.cos(inc) * cos_theta
    a_amp2 = np.sin(inc_a) ** 2 + (np.cos(inc_a) * cos_theta) ** 2
    filt = np.conj(a) ** 2 / (np.abs(a) ** 2 * a_amp2)
    filt[0, 0] = 0.0  # as harmonica: the mean is not defined by the operator
    out = np.real(np.fft.ifft2(np.fft.fft2(da.values) * filt))
    return da.copy(data=out)


# ----------------------------------------------------------------------------- transforms
def reduce_to_pole(grid: Grid, *, inclination: float, declination: float,
                   magnetization_inclination: Optional[float] = None,
                   magnetization_declination: Optional[float] = None,
                   stabilization_inclination: Optional[float] = None) -> Grid:
    """Reduction to the pole of a total-field anomaly grid (nT).

    Parameters
    ----------
    grid : Grid
        Total-field anomaly, projected CRS in metres.
    inclination, declination : float
        Main-field direction in degrees (inclination positive down, declination
        clockwise from north).
    magnetization_inclination, magnetization_declination : float or None
        Source magnetisation direction; None assumes induced magnetisation.
    stabilization_inclination : float or None
        MacLeod et al. (1993) amplitude-correction inclination ``I_a`` in degrees
        for low magnetic latitudes: the amplitude of the operator is computed
        with ``max(|I_a|, |I|)`` instead of ``I``, so the north-south
        directions where ``sin I + i cos I cos(D - theta)`` nearly vanishes are
        not amplified; phase is corrected fully. None (default): the plain
        operator, :func:`harmonica.reduction_to_pole`. Only for induced
        magnetisation.

    Returns
    -------
    Grid
        The anomaly as it would be at the north magnetic pole (vertical field
        and magnetisation), nT.

    Notes
    -----
    With ``c = cos(D - theta)`` (theta the azimuth of the wavenumber), the
    stabilised operator is ``(sin I - i cos I c)^2 / ((sin^2 I_a + cos^2 I_a c^2)
    (sin^2 I + cos^2 I c^2))``; for ``I_a = I`` it is the plain operator
    ``1 / (sin I + i cos I c)^2``.
    """
    if stabilization_inclination is not None:
        if magnetization_inclination is not None or magnetization_declination is not None:
            msg = "the low-latitude stabilisation assumes induced magnetisation; omit the magnetisation direction"
            raise GeocoreError(msg)
        return _apply(grid, lambda da: _macleod_rtp(da, inclination, declination, stabilization_inclination),
                      units=grid.units)
    import harmonica as hm

    if abs(inclination) < 15 and magnetization_inclination is None:
        warnings.warn(f"reduction to the pole at inclination {inclination} deg is unstable; "
                      "consider the low-latitude stabilisation", RuntimeWarning, stacklevel=2)
    return _apply(grid, lambda da: hm.reduction_to_pole(
        da, inclination, declination, magnetization_inclination=magnetization_inclination,
        magnetization_declination=magnetization_declination), units=grid.units)


def upward_continue(grid: Grid, height: float) -> Grid:
    """The field ``height`` metres higher (positive up; negative continues downward).

    Uses :func:`harmonica.upward_continuation`: spectrum times ``exp(-|k| height)``.
    """
    import harmonica as hm

    return _apply(grid, lambda da: hm.upward_continuation(da, height), units=grid.units)


def _per_metre(units: Optional[str]) -> Optional[str]:
    return f"{units}/m" if units else None


def derivative_x(grid: Grid) -> Grid:
    """East derivative ``df/dx`` in (units)/m (central differences, :func:`harmonica.derivative_easting`)."""
    import harmonica as hm

    return _apply(grid, lambda da: hm.derivative_easting(da, order=1), units=_per_metre(grid.units))


def derivative_y(grid: Grid) -> Grid:
    """North derivative ``df/dy`` in (units)/m (central differences, :func:`harmonica.derivative_northing`)."""
    import harmonica as hm

    return _apply(grid, lambda da: hm.derivative_northing(da, order=1), units=_per_metre(grid.units))


def _dz_upward(da):
    import harmonica as hm

    # harmonica's derivative_upward follows its z-up convention (see tests)
    return hm.derivative_upward(da, order=1)


def derivative_z(grid: Grid) -> Grid:
    """Upward derivative ``df/dz`` (z up) in (units)/m, by FFT (spectrum times ``-|k|``).

    Negative over an isolated positive anomaly; the z-down "first vertical
    derivative" is its negative.
    """
    return _apply(grid, _dz_upward, units=_per_metre(grid.units))


def _components(da):
    import harmonica as hm

    return hm.derivative_easting(da), hm.derivative_northing(da), _dz_upward(da)


def total_horizontal_gradient(grid: Grid) -> Grid:
    """``sqrt(dx^2 + dy^2)`` in (units)/m: maxima over the edges of (reduced) sources."""
    import harmonica as hm

    def thg(da):
        return np.hypot(hm.derivative_easting(da), hm.derivative_northing(da))

    return _apply(grid, thg, units=_per_metre(grid.units))


def total_gradient_amplitude(grid: Grid) -> Grid:
    """Analytic signal amplitude ``sqrt(dx^2 + dy^2 + dz^2)`` in (units)/m (Roest et al., 1992).

    Largely independent of the magnetisation direction: maxima over edges.
    """
    def tga(da):
        gx, gy, gz = _components(da)
        return np.sqrt(gx ** 2 + gy ** 2 + gz ** 2)

    return _apply(grid, tga, units=_per_metre(grid.units))


def tilt_angle(grid: Grid) -> Grid:
    """Tilt angle ``arctan(-dz / thg)`` in degrees, -90..90 (Miller & Singh, 1994).

    ``-dz`` is the downward vertical derivative, so the tilt is positive over
    a positive (reduced-to-pole) source, negative outside it and crosses zero
    near its vertical edges.
    """
    def tilt(da):
        gx, gy, gz = _components(da)
        return np.degrees(np.arctan2(-gz, np.hypot(gx, gy)))

    return _apply(grid, tilt, units="degree")


def gaussian_highpass(grid: Grid, wavelength: float) -> Grid:
    """Gaussian high-pass: removes wavelengths longer than about ``wavelength`` metres.

    :func:`harmonica.gaussian_highpass`: spectrum times ``1 - exp(-k^2 / (2 k_c^2))``,
    ``k_c = 2 pi / wavelength``.
    """
    import harmonica as hm

    _check_wavelength(grid, wavelength)
    return _apply(grid, lambda da: hm.gaussian_highpass(da, wavelength), units=grid.units)


def gaussian_lowpass(grid: Grid, wavelength: float) -> Grid:
    """Gaussian low-pass: keeps wavelengths longer than about ``wavelength`` metres.

    :func:`harmonica.gaussian_lowpass`: spectrum times ``exp(-k^2 / (2 k_c^2))``,
    ``k_c = 2 pi / wavelength``.
    """
    import harmonica as hm

    _check_wavelength(grid, wavelength)
    return _apply(grid, lambda da: hm.gaussian_lowpass(da, wavelength), units=grid.units)


def _check_wavelength(grid: Grid, wavelength: float) -> None:
    if not wavelength > 0:
        msg = f"cut-off wavelength must be positive metres (got {wavelength}); give a positive {{param}}"
        raise ParameterError(msg, param="wavelength")
    cell = min(grid.spacing)
    if wavelength < 2 * cell:
        msg = f"cut-off wavelength {wavelength} m is shorter than two cells ({2 * cell} m); give a longer {{param}}"
        raise ParameterError(msg, param="wavelength")


# ----------------------------------------------------------------------------- one entry point
@dataclass
class TransformParams:
    """Options of :func:`transform_grid`, shared by the CLI and QGIS.

    Attributes
    ----------
    op : str
        One of :data:`OPERATIONS`.
    inclination, declination : float or None
        Main field (rtp), degrees.
    stabilization_inclination : float or None
        Low-latitude amplitude correction inclination (rtp), degrees.
    height : float or None
        Continuation height (up), metres, positive upward.
    wavelength : float or None
        Cut-off wavelength (highpass/lowpass), metres.
    """

    op: str
    inclination: Optional[float] = None
    declination: Optional[float] = None
    stabilization_inclination: Optional[float] = None
    height: Optional[float] = None
    wavelength: Optional[float] = None

    def check(self) -> None:
        """Raise GeocoreError naming the missing option."""
        if self.op not in OPERATIONS:
            msg = f"unknown transform '{self.op}'; choose one of {', '.join(OPERATIONS)} as {{param}}"
            raise ParameterError(msg, param="op")
        need = {"rtp": ("inclination", "declination"), "up": ("height",),
                "highpass": ("wavelength",), "lowpass": ("wavelength",)}.get(self.op, ())
        for name in need:
            if getattr(self, name) is None:
                msg = f"transform '{self.op}' needs {{param}} ({_OPTION_HELP[name]})"
                raise ParameterError(msg, param=name)


_OPTION_HELP = {"inclination": "main-field inclination in degrees, positive down",
                "declination": "main-field declination in degrees, clockwise from north",
                "height": "continuation height in metres, positive upward",
                "wavelength": "cut-off wavelength in metres"}


def transform_grid(grid: Grid, params: TransformParams) -> Grid:
    """Apply the transform named by ``params.op`` to ``grid``."""
    params.check()
    op = params.op
    if op == "rtp":
        return reduce_to_pole(grid, inclination=params.inclination, declination=params.declination,
                              stabilization_inclination=params.stabilization_inclination)
    if op == "up":
        return upward_continue(grid, params.height)
    if op in ("highpass", "lowpass"):
        return (gaussian_highpass if op == "highpass" else gaussian_lowpass)(grid, params.wavelength)
    return {"dx": derivative_x, "dy": derivative_y, "dz": derivative_z, "thg": total_horizontal_gradient,
            "tga": total_gradient_amplitude, "tilt": tilt_angle}[op](grid)


def transform_file(src, dst, params: TransformParams, *, band: Optional[int] = None, crs=None,
                   variable: Optional[str] = None, nodata: Optional[float] = None, force_crs: bool = False,
                   progress=None, cancel=None) -> Grid:
    """Read ``src`` (any grid format), transform it, write GeoTIFF ``dst`` atomically.

    ``band``, ``crs``, ``variable``, ``nodata`` and ``force_crs`` are those of
    :func:`geocore.grids.io.read_grid`; the result keeps the input's ``notes``.
    """
    from ..files import check_not_input
    from ..grids.io import read_grid, split_netcdf_name, write_geotiff
    from ..progress import Progress

    prog = Progress.wrap(progress, cancel)
    params.check()
    check_not_input([dst], [split_netcdf_name(src)[0]])
    grid = read_grid(src, band=band, crs=crs, variable=variable, nodata=nodata, force_crs=force_crs)
    prog.update(0.2)
    out = transform_grid(grid, params)
    prog.update(0.8)
    write_geotiff(out, dst, dtype="float32", cancel=prog.check)
    prog.update(1.0)
    return out
