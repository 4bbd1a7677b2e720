"""Potential-field transforms checked against closed-form dipole and prism fields."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import rasterio
from rasterio.crs import CRS
from rasterio.transform import from_origin

from geocore.cli import main
from geocore.errors import GeocoreError
from geocore.grids.io import Grid, read_grid, write_geotiff
from geocore.magnetics import transforms as T
from geocore.magnetics.forward import Prism, dipole_total_field, field_direction, total_field_anomaly
from testdata import GEOSOFT_GRID, REAL, needs_real

N = 128
CELL = 50.0
CRS_UTM = CRS.from_epsg(32633)
TRANSFORM = from_origin(500000.0, 7000000.0 + N * CELL, CELL, CELL)
BASE = Grid(np.zeros((N, N)), TRANSFORM, CRS_UTM, units="nT")
EAST, NORTH = np.meshgrid(*BASE.coordinates())
CENTRE = np.array([EAST.mean(), NORTH.mean(), -400.0])
INNER = (slice(N // 5, -N // 5), slice(N // 5, -N // 5))  # edges trimmed, as in harmonica's tests


def dipole(inc: float, dec: float, height: float = 0.0) -> np.ndarray:
    """Total-field anomaly of an induced dipole 400 m deep, field (inc, dec), observed at ``height``."""
    moment = 1e9 * field_direction(inc, dec)
    return dipole_total_field(moment, CENTRE, EAST, NORTH, np.full(EAST.shape, height),
                              inclination=inc, declination=dec)


def rel_error(a, b, region=INNER) -> float:
    return float(np.max(np.abs(a[region] - b[region])) / np.max(np.abs(b[region])))


def test_rtp_of_inclined_dipole_is_the_polar_dipole():
    polar = dipole(90, 0)
    for inc, dec in ((35, 20), (-50, -10), (65, 100)):
        rtp = T.reduce_to_pole(BASE.with_data(dipole(inc, dec)), inclination=inc, declination=dec)
        assert rel_error(rtp.data, polar) < 0.01, (inc, dec)
        assert rtp.transform == TRANSFORM and rtp.crs == CRS_UTM and rtp.units == "nT"
    # a polar dipole is left as it is
    same = T.reduce_to_pole(BASE.with_data(polar), inclination=90, declination=0)
    assert rel_error(same.data, polar) < 0.01


def test_rtp_stabilisation_equals_plain_operator_at_its_own_inclination_and_helps_at_low_latitude():
    field = BASE.with_data(dipole(35, 20))
    plain = T.reduce_to_pole(field, inclination=35, declination=20)
    macleod = T.reduce_to_pole(field, inclination=35, declination=20, stabilization_inclination=35)
    np.testing.assert_allclose(macleod.data, plain.data, atol=1e-6 * np.abs(plain.data).max())
    # inclination 5 deg with 1 nT noise: the plain operator amplifies noise along the field's declination
    noisy = BASE.with_data(dipole(5, 0) + np.random.default_rng(0).normal(0, 1.0, EAST.shape))
    polar = dipole(90, 0)

    def corr(a):
        return np.corrcoef(a.ravel(), polar.ravel())[0, 1]

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        plain = T.reduce_to_pole(noisy, inclination=5, declination=0)
    stable = T.reduce_to_pole(noisy, inclination=5, declination=0, stabilization_inclination=30)
    assert corr(stable.data) > 0.85 and corr(stable.data) > corr(plain.data) + 0.1
    assert np.abs(stable.data).max() < 1.0 * np.abs(polar).max()


def test_upward_continuation_equals_the_field_observed_higher():
    up = T.upward_continue(BASE.with_data(dipole(90, 0)), 200.0)
    assert rel_error(up.data, dipole(90, 0, 200.0)) < 0.01
    down = T.upward_continue(BASE.with_data(dipole(90, 0, 200.0)), -100.0)
    assert rel_error(down.data, dipole(90, 0, 100.0)) < 0.02


def test_derivatives_match_finite_differences_of_the_forward_model():
    field = dipole(60, 10)
    grid = BASE.with_data(field)
    h = 1.0
    dz_true = (dipole(60, 10, h) - dipole(60, 10, -h)) / (2 * h)
    dz = T.derivative_z(grid)
    assert rel_error(dz.data, dz_true) < 0.01 and dz.units == "nT/m"
    # sign: over the positive peak of a polar dipole the field decays upward
    polar_dz = T.derivative_z(BASE.with_data(dipole(90, 0))).data
    assert polar_dz[N // 2, N // 2] < 0
    moment = 1e9 * field_direction(60, 10)

    def shifted(de, dn):
        return dipole_total_field(moment, CENTRE, EAST + de, NORTH + dn, np.zeros(EAST.shape),
                                  inclination=60, declination=10)

    dx_true = (shifted(h, 0) - shifted(-h, 0)) / (2 * h)
    dy_true = (shifted(0, h) - shifted(0, -h)) / (2 * h)
    # second-order central differences at 50 m over a 400 m deep source
    assert rel_error(T.derivative_x(grid).data, dx_true) < 0.05
    assert rel_error(T.derivative_y(grid).data, dy_true) < 0.05
    thg = T.total_horizontal_gradient(grid).data
    assert rel_error(thg, np.hypot(dx_true, dy_true)) < 0.05
    tga = T.total_gradient_amplitude(grid).data
    assert rel_error(tga, np.sqrt(dx_true ** 2 + dy_true ** 2 + dz_true ** 2)) < 0.05
    # the analytic signal of a dipole peaks over it whatever the inclination
    peak = np.unravel_index(np.argmax(tga), tga.shape)
    assert abs(peak[0] - N / 2) <= 2 and abs(peak[1] - N / 2) <= 2


def test_tilt_of_a_vertical_contact_is_zero_over_the_edge():
    edge = EAST.mean()
    # a half-space magnetised vertically, edge along north, from 100 m below the sensors down to 20 km
    contact = Prism(easting=edge + 50000.0, northing=NORTH.mean(), length=200000.0, width=100000.0,
                    top=-100.0, bottom=-20000.0, strike=0.0, magnetization=np.array([0.0, 0.0, -1.0]))
    field = total_field_anomaly([contact], EAST, NORTH, 0.0, inclination=90, declination=0)
    tilt = T.tilt_angle(BASE.with_data(field))
    assert tilt.units == "degree"
    row = tilt.data[N // 2]
    east = EAST[0]
    crossing = np.flatnonzero(np.diff(np.sign(row[N // 4:3 * N // 4])))
    assert len(crossing) == 1
    i = N // 4 + crossing[0]
    x0 = east[i] - row[i] * (east[i + 1] - east[i]) / (row[i + 1] - row[i])
    assert abs(x0 - edge) < 0.2 * CELL
    assert row[3 * N // 4] > 20 and row[N // 4] < -20  # positive over the magnetic side
    thg = T.total_horizontal_gradient(BASE.with_data(field)).data[N // 2]
    assert abs(east[np.argmax(thg[N // 4:3 * N // 4]) + N // 4] - edge) <= CELL


def test_gaussian_filters_scale_sinusoids_by_their_closed_form_response():
    def wave(wavelength, azimuth):
        a = np.radians(azimuth)
        return np.cos(2 * np.pi * (EAST * np.sin(a) + NORTH * np.cos(a)) / wavelength)

    short, long = wave(600.0, 30.0), wave(4000.0, 100.0)
    grid = BASE.with_data(10 * short + 10 * long)
    cut = 1500.0
    low = np.exp(-0.5 * (cut / np.array([600.0, 4000.0])) ** 2)
    lp = T.gaussian_lowpass(grid, cut).data
    hp = T.gaussian_highpass(grid, cut).data
    expected_lp = 10 * low[0] * short + 10 * low[1] * long
    expected_hp = 10 * (1 - low[0]) * short + 10 * (1 - low[1]) * long
    assert np.max(np.abs(lp - expected_lp)[INNER]) < 0.5
    assert np.max(np.abs(hp - expected_hp)[INNER]) < 0.5
    with pytest.raises(GeocoreError, match="shorter than two cells"):
        T.gaussian_highpass(grid, 60.0)


def test_nan_gaps_are_filled_then_restored():
    field = dipole(90, 0)
    holed = field.copy()
    holed[10:20, 90:100] = np.nan
    holed[:, :3] = np.nan
    out = T.upward_continue(BASE.with_data(holed), 100.0).data
    np.testing.assert_array_equal(np.isnan(out), np.isnan(holed))
    ref = T.upward_continue(BASE.with_data(field), 100.0).data
    assert rel_error(out, ref, region=(slice(40, 90), slice(30, 80))) < 0.01
    with pytest.raises(GeocoreError, match="only NaN"):
        T.derivative_x(BASE.with_data(np.full((N, N), np.nan)))


def test_geographic_and_rotated_grids_are_refused():
    geo = Grid(np.ones((8, 8)), from_origin(10, 50, 0.01, 0.01), CRS.from_epsg(4326))
    with pytest.raises(GeocoreError, match="geographic coordinates"):
        T.derivative_z(geo)
    from affine import Affine

    rotated = Grid(np.ones((8, 8)), Affine.rotation(10) * Affine.scale(50, -50), CRS_UTM)
    with pytest.raises(GeocoreError, match="rotated"):
        T.tilt_angle(rotated)


def test_transform_command(tmp_path, capsys):
    src = write_geotiff(BASE.with_data(dipole(50, 5)), tmp_path / "tmi.tif")
    out = tmp_path / "rtp.tif"
    args = ["-q", "magnetics", "transform", str(src), str(out), "--op", "rtp", "--inclination", "50",
            "--declination", "5"]
    assert main(args) == 0
    with rasterio.open(out) as ds:
        assert ds.crs == CRS_UTM and ds.transform == TRANSFORM and np.isnan(ds.nodata)
    assert rel_error(read_grid(out).data, dipole(90, 0)) < 0.01
    # a missing option: one line naming it, nothing written
    missing = tmp_path / "up.tif"
    assert main(["-q", "magnetics", "transform", str(src), str(missing), "--op", "up"]) == 2
    assert "needs --height (continuation height" in capsys.readouterr().err and not missing.exists()
    assert main(["-q", "magnetics", "transform", str(src), str(tmp_path / "t.tif"), "--op", "tilt"]) == 0
    tilt = read_grid(tmp_path / "t.tif").data
    assert -90 <= np.nanmin(tilt) < 0 < np.nanmax(tilt) <= 90


WITTICHICA = REAL / "grids" / "wittichica_residual_tmi_50m.grd"


@pytest.mark.parametrize("path", [GEOSOFT_GRID, pytest.param(WITTICHICA, marks=needs_real(WITTICHICA))],
                         ids=["fixture", "real"])
def test_every_transform_on_a_geosoft_grid(path):
    """Every operation keeps the CRS, transform and dummies of a Geosoft grid: the seeded fixture
    (30 x 40, 12 dummies) and, as an extra layer, the real Wittichica Creek grid."""
    grid = read_grid(path)
    assert grid.crs.to_epsg() == 26910
    dummies = np.isnan(grid.data)
    # Wittichica Creek, BC: IGRF about 75 deg inclination, 18 deg declination
    for op, extra in (("rtp", dict(inclination=75, declination=18)), ("up", dict(height=500.0)),
                      ("dx", {}), ("dy", {}), ("dz", {}), ("thg", {}), ("tga", {}), ("tilt", {}),
                      ("highpass", dict(wavelength=5000.0)), ("lowpass", dict(wavelength=5000.0))):
        out = T.transform_grid(grid, T.TransformParams(op=op, **extra))
        assert out.crs.to_epsg() == 26910 and out.transform == grid.transform, op
        np.testing.assert_array_equal(np.isnan(out.data), dummies, err_msg=op)
    # continuation smooths, high-pass + low-pass give the field back
    up = T.upward_continue(grid, 500.0).data
    assert np.nanstd(np.diff(up, axis=1)) < 0.5 * np.nanstd(np.diff(grid.data, axis=1))
    hp, lp = T.gaussian_highpass(grid, 5000.0).data, T.gaussian_lowpass(grid, 5000.0).data
    residual = hp + lp - grid.data
    # the filters remove the mean of the padded grid; what remains is a constant
    assert np.nanstd(residual) < 1e-6 * np.nanstd(grid.data)


def test_operation_names_load_without_numpy_and_match_the_transforms():
    """The QGIS plugin lists the operations before its dependencies are installed."""
    import subprocess
    import sys

    code = ("import sys, geocore.magnetics.params as o; "
            "assert 'numpy' not in sys.modules and 'harmonica' not in sys.modules; print(len(o.OPERATIONS))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    from geocore.magnetics.params import OPERATION_LABELS

    assert int(out.stdout) == len(OPERATION_LABELS) == len(T.OPERATIONS)
    assert set(T.OPERATIONS) == set(OPERATION_LABELS)
