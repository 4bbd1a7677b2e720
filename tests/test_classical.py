"""Classical detectors (ridges of potential-field derivatives) against known answers."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from geocore.cli import main
from geocore.errors import GeocoreError
from geocore.grids.io import Grid
from geocore.lineaments.classical import (ClassicalParams, classical_ridge_map, percentile_rank,
                                          reduce_to_equator, ridge_cells, ridge_map)
from geocore.lineaments.detect import check_projected, detect_to_folder
from geocore.magnetics.forward import Prism, total_field_anomaly

CELL = 50.0


def dyke_grid(inclination=90.0, declination=0.0, rows=96, cols=96, strike=30.0):
    """Total-field anomaly of one long thin vertical dyke through the grid centre, induced magnetisation."""
    east = (np.arange(cols) + 0.5) * CELL
    north = (rows - np.arange(rows) - 0.5) * CELL
    E, N = np.meshgrid(east, north)
    from geocore.magnetics.forward import field_direction

    m = 2.0 * field_direction(inclination, declination)
    d = Prism(easting=cols * CELL / 2, northing=rows * CELL / 2, length=400 * CELL, width=CELL, top=-2 * CELL,
              bottom=-60 * CELL, strike=strike, magnetization=m)
    field = total_field_anomaly([d], E, N, 0.0, field_intensity=50000.0, inclination=inclination,
                                declination=declination)
    grid = Grid(field.astype(np.float64), from_origin(500000.0, 7000000.0 + rows * CELL, CELL, CELL), crs=None)
    return grid, d


def distance_to_axis(rows_cols, d, rows):
    """Distance in cells of (row, col) cell centres to the dyke's axis line."""
    r, c = rows_cols
    e = (c + 0.5) * CELL
    n = (rows - r - 0.5) * CELL
    s = np.radians(d.strike)
    across = (e - d.easting) * np.cos(s) - (n - d.northing) * np.sin(s)
    return np.abs(across) / CELL


def test_percentile_rank_known_values():
    r = percentile_rank(np.array([3.0, 1.0, np.nan, 2.0]))
    assert r[0] == 1.0 and r[1] == 0.0 and r[3] == 0.5 and np.isnan(r[2])


def test_ridge_cells_sit_on_a_known_ridge():
    y, x = np.mgrid[0:60, 0:60].astype(float)
    m = np.exp(-((y - 0.5 * x - 10.0) ** 2) / 8.0)  # ridge along row = 0.5 col + 10
    on = ridge_cells(m, 1.0)
    rr, cc = np.nonzero(on[5:-5, 5:-5])
    rr, cc = rr + 5, cc + 5
    near = np.abs(rr - 0.5 * cc - 10.0) / np.hypot(1, 0.5) <= 1.0
    assert near.mean() > 0.95
    # the ridge is found along its whole length (one cell a column at least)
    assert len(np.unique(cc[near])) >= 40


def test_no_ridge_runs_along_the_border_or_a_nodata_edge():
    """A measure rising towards the border (the edge effect of a transform) is not a ridge there; a ridge
    crossing the border is still found up to it; cells beside nodata have no neighbour on one side."""
    y, x = np.mgrid[0:60, 0:80].astype(float)
    ramp = 0.01 * (59.0 - y) ** 2  # rises towards row 0, curving down nowhere inside
    cross = np.exp(-((x - 40.0) ** 2) / 8.0)  # a N-S ridge crossing the top and bottom borders
    on = ridge_cells(ramp + cross, 1.0)
    assert not on[0, :30].any() and not on[0, 50:].any()  # nothing along the top border
    assert on[:, 39:42].any(axis=1)[1:-1].mean() > 0.9  # the crossing ridge, row by row, up to the borders
    valid = np.ones(ramp.shape, bool)
    valid[:, 60:] = False  # nodata on the right, filled with the nearest value as ridge_map does
    filled = np.where(valid, ramp + cross, (ramp + cross)[:, 59:60])
    beside = ridge_cells(filled, 1.0, valid=valid)
    assert not beside[:, 59].any()  # no neighbour across on one side: not a ridge
    assert beside[:, 39:42].any(axis=1)[1:-1].mean() > 0.9  # the ridge inside is kept


def test_ridge_map_percentile_maps_to_half():
    rng = np.random.default_rng(1)
    m = rng.normal(size=(80, 80))
    p = ridge_map(m, percentile=70.0, smooth_cells=0.0)
    rank = percentile_rank(m)
    above = p > 0.5
    # every cell above the threshold is a ridge cell stronger than the 70th percentile ...
    assert np.all(rank[above] > 0.7)
    # ... and off-ridge cells never reach it
    assert np.all(p[~ridge_cells(m, 0.0)] < 0.5)
    assert 0.0 <= np.nanmin(p) and np.nanmax(p) <= 1.0


@pytest.mark.parametrize("method,inc,dec", [("tga", 90.0, 0.0), ("tga", -35.0, -22.0), ("tilt", 90.0, 0.0),
                                            ("vdr", 60.0, 10.0), ("tilt", -20.0, -60.0)])
def test_ridges_follow_a_thin_dyke(method, inc, dec):
    grid, d = dyke_grid(inc, dec)
    p = classical_ridge_map(grid, ClassicalParams(method=method, inclination=inc, declination=dec))
    rows = grid.shape[0]
    rr, cc = np.nonzero(p[10:-10, 10:-10] > 0.5)
    dist = distance_to_axis((rr + 10, cc + 10), d, rows)
    # the strongest ridge runs over the axis (within 1.5 cells) along most of its length
    near = dist <= 1.5
    assert near.sum() >= 50
    assert near.mean() > 0.5


def test_thg_marks_the_edges_not_the_axis_of_a_wide_dyke():
    grid, d = dyke_grid(90.0, 0.0)
    east = (np.arange(96) + 0.5) * CELL
    north = (96 - np.arange(96) - 0.5) * CELL
    E, N = np.meshgrid(east, north)
    wide = Prism(easting=d.easting, northing=d.northing, length=d.length, width=10 * CELL, top=-1 * CELL,
                 bottom=-200 * CELL, strike=d.strike, magnetization=d.magnetization)
    grid = grid.with_data(total_field_anomaly([wide], E, N, 0.0, field_intensity=50000.0, inclination=90.0,
                                              declination=0.0))
    p = classical_ridge_map(grid, ClassicalParams(method="thg", inclination=90.0, declination=0.0, percentile=85))
    rr, cc = np.nonzero(p[10:-10, 10:-10] > 0.5)
    dist = distance_to_axis((rr + 10, cc + 10), d, 96)
    assert np.median(dist) == pytest.approx(5.0, abs=1.5)  # the edges, 5 cells either side


def test_reduction_to_the_equator_of_an_equatorial_field_only_flips_the_sign():
    grid, _ = dyke_grid(0.0, 20.0)
    out = reduce_to_equator(grid, inclination=0.0, declination=20.0).data
    # the operator is 1 except at zero wavenumber (the mean is not kept) and where the field has no
    # energy (wavenumbers across the declination): equal to the sign-flipped grid up to its mean
    diff = (out - out.mean()) + (grid.data - grid.data.mean())
    assert np.abs(diff).max() < 0.005 * np.ptp(grid.data)


def test_reducing_methods_need_the_field_direction():
    grid, _ = dyke_grid()
    for method in ("tilt", "vdr", "thg"):
        with pytest.raises(GeocoreError, match="inclination and declination"):
            classical_ridge_map(grid, ClassicalParams(method=method))
    # tga needs none; "none" uses the grid as it is
    assert np.isfinite(classical_ridge_map(grid, ClassicalParams(method="tga"))).all()
    assert np.isfinite(classical_ridge_map(grid, ClassicalParams(method="tilt", reduction="none"))).all()
    with pytest.raises(GeocoreError, match="both"):
        ClassicalParams(method="tga", inclination=30.0).check()
    with pytest.raises(GeocoreError, match="percentile"):
        ClassicalParams(method="tga", percentile=100.0).check()


def test_reduction_choice():
    assert ClassicalParams(method="tilt", inclination=-35, declination=0).reduced() == "rtp"
    assert ClassicalParams(method="tilt", inclination=12, declination=0).reduced() == "rte"
    assert ClassicalParams(method="tga", inclination=12, declination=0).reduced() == "none"


def write_grid(path, data, crs="EPSG:32633", transform=None):
    transform = transform or from_origin(500000.0, 7000000.0 + data.shape[0] * CELL, CELL, CELL)
    with rasterio.open(path, "w", driver="GTiff", count=1, height=data.shape[0], width=data.shape[1],
                       dtype="float32", crs=crs, transform=transform, nodata=float("nan")) as ds:
        ds.write(data.astype(np.float32)[None])
    return path


def test_detect_with_a_classical_method_writes_the_standard_outputs(tmp_path):
    grid, d = dyke_grid(-35.0, -22.0)
    path = write_grid(tmp_path / "g.tif", grid.data)
    before = path.read_bytes()
    res = detect_to_folder(path, tmp_path / "out", method="tga")
    assert path.read_bytes() == before
    assert {"probability.tif", "lineaments.gpkg", "rose.png", "density.tif", "preview.png"} <= {
        p.name for p in (tmp_path / "out").iterdir()}
    assert res.n_lines >= 1
    # the longest line runs along the dyke (strike 30 deg)
    top = res.gdf.iloc[0]
    assert abs(((top["azimuth"] - 30.0) + 90) % 180 - 90) < 10
    with rasterio.open(tmp_path / "out" / "probability.tif") as ds:
        assert "tga" in ds.descriptions[0] and ds.tags()["method"] == "tga"


def test_detect_cli_method_and_its_errors(tmp_path, capsys):
    grid, _ = dyke_grid(60.0, 0.0)
    path = write_grid(tmp_path / "g.tif", grid.data)
    assert main(["-q", "lineaments", "detect", str(path), "--out-dir", str(tmp_path / "o"), "--method", "vdr",
                 "--inclination", "60", "--declination", "0"]) == 0
    assert "lineaments" in capsys.readouterr().out
    rc = main(["-q", "lineaments", "detect", str(path), "--out-dir", str(tmp_path / "o2"), "--method", "tilt"])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "inclination" in err[0]
    assert not (tmp_path / "o2").exists()


def test_a_geographic_grid_is_refused_with_the_utm_zone(tmp_path, capsys):
    data = np.random.default_rng(0).normal(size=(40, 40))
    path = write_grid(tmp_path / "ll.tif", data, crs="EPSG:4326", transform=from_origin(-43.5, -22.0, 0.01, 0.01))
    for method in ("cnn", "tga"):
        rc = main(["-q", "lineaments", "detect", str(path), "--out-dir", str(tmp_path / method), "--method", method])
        err = capsys.readouterr().err.strip()
        assert rc == 2 and "geographic" in err and "EPSG:32723" in err, err
        assert not (tmp_path / method).exists()
    check_projected(rasterio.open(write_grid(tmp_path / "utm.tif", data)).crs, "utm.tif")  # no error


# ----------------------------------------------------------------------------- multi-scale CNN
@pytest.fixture(scope="module")
def tiny_cnn(tmp_path_factory):
    from tiny_models import tiny_lineament_model

    return tiny_lineament_model(tmp_path_factory.mktemp("m") / "tiny.safetensors")


def test_multiscale_is_the_cellwise_maximum_over_scales(tmp_path, tiny_cnn):
    grid, _ = dyke_grid(60.0, 0.0, rows=100, cols=90)
    data = grid.data.copy()
    data[:6, :9] = np.nan
    path = write_grid(tmp_path / "g.tif", data)
    one = detect_to_folder(path, tmp_path / "one", model_path=tiny_cnn)
    multi = detect_to_folder(path, tmp_path / "multi", model_path=tiny_cnn, scales=[1.0, 0.5])
    with rasterio.open(one.probability) as a, rasterio.open(multi.probability) as b:
        p1, pm = a.read(1), b.read(1)
        assert "scales 1, 0.5" in b.descriptions[0]
    assert np.isnan(pm[:6, :9]).all() and np.isfinite(pm[6:, 9:]).all()
    ok = np.isfinite(p1)
    assert np.all(pm[ok] >= p1[ok] - 1e-6)           # never below the full-resolution pass
    assert np.mean(pm[ok] > p1[ok] + 1e-4) > 0.05     # and the coarse pass adds something
    # [1] alone is the single-scale run, exactly
    same = detect_to_folder(path, tmp_path / "same", model_path=tiny_cnn, scales=[1.0])
    with rasterio.open(same.probability) as c:
        assert np.array_equal(np.nan_to_num(c.read(1), nan=-1), np.nan_to_num(p1, nan=-1))


def test_bad_scales_are_refused(tmp_path, tiny_cnn):
    grid, _ = dyke_grid()
    path = write_grid(tmp_path / "g.tif", grid.data)
    for scales in ([1.0, 5.0], [0.5, 0.5], [0.0]):
        with pytest.raises(GeocoreError, match="scales"):
            detect_to_folder(path, tmp_path / "o", model_path=tiny_cnn, scales=scales)
    with pytest.raises(GeocoreError, match="CNN only"):
        detect_to_folder(path, tmp_path / "o", method="tga", scales=[1.0, 0.5])
    assert not (tmp_path / "o").exists()
