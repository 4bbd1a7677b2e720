"""Profiles across lines: which expert lines carry an anomaly of their own in the grid."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from rasterio.crs import CRS
from rasterio.transform import from_origin
from scipy.ndimage import gaussian_filter
from shapely.geometry import LineString

from geocore.errors import GeocoreError
from geocore.grids.io import Grid, read_grid
from geocore.lineaments.benchmark import BenchmarkResult
from geocore.lineaments.compare import CompareParams, add_anomaly_contrast, compare_lines
from geocore.lineaments.profiles import ANOMALOUS, line_anomaly_contrast
from geocore.magnetics.synthetic import SurveyConfig, synthesize_survey

CELL = 100.0
N = 200
UTM = CRS.from_epsg(32633)


def ridge_grid(amplitude: float, seed: int = 0) -> Grid:
    """Smooth noise (std 1, correlated over 2 cells, as a gridded survey is) plus a Gaussian ridge of
    ``amplitude`` along the column x = 60 cells (north-south), on a slope (a regional field the profiles
    must not mistake for an anomaly)."""
    rng = np.random.default_rng(seed)
    col = np.arange(N) + 0.5
    ridge = amplitude * np.exp(-0.5 * ((col - 60.0) / 1.5) ** 2)
    noise = gaussian_filter(rng.normal(0.0, 1.0, (N, N)), 2.0)
    data = noise / noise.std() + ridge[None, :] + 0.05 * col[None, :]
    return Grid(data=data, transform=from_origin(0.0, N * CELL, CELL, CELL), crs=UTM)


def lines(*xs):
    """North-south lines at easting ``x`` metres, from 3 to 17 km north."""
    return gpd.GeoDataFrame(geometry=[LineString([(x, 3000.0), (x, 17000.0)]) for x in xs], crs=UTM)


def test_a_line_on_its_anomaly_stands_out_and_one_beside_it_does_not():
    grid = ridge_grid(amplitude=5.0)
    on, off, near = 6000.0, 14000.0, 6000.0 + 150.0  # on the ridge, 8 km east of it, mapped 1.5 cells off it
    c = line_anomaly_contrast(grid, lines(on, off, near), tolerance=200.0)
    assert c[0] > 2 * ANOMALOUS and c[2] > 2 * ANOMALOUS  # within the tolerance: found either way
    assert c[1] < ANOMALOUS  # plain noise: about 1
    assert 0.7 < c[1] < 1.4
    # the contrast grows with the anomaly, and a ridge of nothing is not anomalous
    weak = line_anomaly_contrast(ridge_grid(amplitude=2.0), lines(on), tolerance=200.0)[0]
    none = line_anomaly_contrast(ridge_grid(amplitude=0.0), lines(on), tolerance=200.0)[0]
    assert none < ANOMALOUS < weak < c[0]


def test_nodata_and_lines_off_the_grid():
    grid = ridge_grid(amplitude=5.0)
    data = grid.data.copy()
    data[:, 90:] = np.nan  # the east half is nodata
    g = grid.with_data(data)
    c = line_anomaly_contrast(g, lines(6000.0, 15000.0, 50000.0), tolerance=200.0)
    assert c[0] > 2 * ANOMALOUS  # the chance copies on nodata are left out, the others still count
    assert np.isnan(c[1]) and np.isnan(c[2])  # on nodata, off the grid: no measure
    with pytest.raises(GeocoreError, match="projected CRS"):
        line_anomaly_contrast(Grid(data=data, transform=grid.transform, crs=CRS.from_epsg(4326)), lines(6000.0),
                              tolerance=200.0)
    with pytest.raises(GeocoreError, match="positive"):
        line_anomaly_contrast(grid, lines(6000.0), tolerance=0.0)


def test_it_follows_the_forward_modelled_visibility_of_synthetic_dykes(tmp_path):
    """On a realistic survey (a seed not used to choose the threshold) the dykes the field shows
    (forward-modelled visibility >= 1) and those of contrast >= 1.5 agree on most of the length."""
    synthesize_survey(tmp_path, rows=576, cols=576, cell_size=50.0, seed=12, config=SurveyConfig.from_preset("realistic"))
    grid = read_grid(tmp_path / "field.tif")
    axes = gpd.read_file(tmp_path / "axes.gpkg")
    c = line_anomaly_contrast(grid, axes, tolerance=100.0)
    vis = axes["visibility"].to_numpy(float)
    ok = np.isfinite(c) & np.isfinite(vis)
    assert ok.sum() >= 0.8 * len(axes) and ok.sum() >= 10
    length = axes.length.to_numpy()[ok]
    seen, anomalous = vis[ok] >= 1.0, c[ok] >= ANOMALOUS
    assert seen.any() and (~seen).any()
    agree = float(length[seen == anomalous].sum() / length.sum())
    print(f'agreement {agree:.3f} over {ok.sum()} dykes')
    assert agree > 0.75
    # ranks agree too (Spearman)
    rank = lambda v: np.argsort(np.argsort(v))  # noqa: E731
    rho = np.corrcoef(rank(vis[ok]), rank(c[ok]))[0, 1]
    print(f'Spearman {rho:.3f}')
    assert rho > 0.7


def test_compare_and_the_benchmark_score_the_lines_with_an_anomaly():
    grid = ridge_grid(amplitude=5.0)
    expert = lines(6000.0, 14000.0)  # one on the ridge, one on noise
    detected = lines(6000.0)
    res = compare_lines(detected, expert, CompareParams(tolerance=200.0), grid_crs=grid.crs, grid_bounds=grid.bounds)
    assert np.isnan(res.recall_with_anomaly())  # not measured yet
    add_anomaly_contrast(res, grid)
    t = res.expert_table
    assert t.loc[0, "anomaly_contrast"] > ANOMALOUS > t.loc[1, "anomaly_contrast"]
    assert res.scores.recall == pytest.approx(0.5, abs=0.01)
    assert res.recall_with_anomaly() == pytest.approx(1.0, abs=0.01)  # the only line with an anomaly is found
    assert "anomaly of their own in the grid" in res.summary() and "1 of 2" in res.summary()
    # a grid in degrees: nothing measured, nothing added
    res2 = compare_lines(detected, expert, CompareParams(tolerance=200.0))
    add_anomaly_contrast(res2, Grid(data=grid.data, transform=grid.transform, crs=CRS.from_epsg(4326)))
    assert "anomaly_contrast" not in res2.expert_table.columns
    row = dict(case="c", detector="d", tolerance_m=100.0, recall=0.5, precision=1.0, f1=0.667, shifted_f1=0.1,
               lift_shifted=5.0, lift_rotated=5.0, lines=2, detected_km=1.0, expert_km=2.0, seconds=1.0,
               recall_visible=float("nan"))
    md = BenchmarkResult([dict(row, recall_anomaly=0.75)]).markdown()
    assert "recall (with anomaly)" in md and "| 0.750 |" in md and md.splitlines()[1].count("---") == 15
    assert "recall (with anomaly)" not in BenchmarkResult([dict(row, recall_anomaly=float("nan"))]).markdown()


def test_detect_keeps_the_lines_the_field_supports(tmp_path):
    """``field_supported``: a line on the ridge is kept, one on plain noise is dropped, one that cannot
    be measured (off the grid) is kept; every line gets ``contrast``; ids stay 1..n."""
    from geocore.grids.io import write_geotiff
    from geocore.lineaments.detect import field_supported
    from geocore.lineaments.params import FIELD_CONTRAST
    from geocore.lineaments.profiles import line_field_contrast

    path = write_geotiff(ridge_grid(amplitude=5.0), tmp_path / "field.tif")
    found = lines(6000.0, 14000.0, 50000.0).assign(id=[1, 2, 3])  # on the ridge, on noise, off the grid
    c = line_field_contrast(path, found)
    assert c[0] > FIELD_CONTRAST > c[1] and np.isnan(c[2])
    # the windowed file reader measures what the in-memory profiles measure
    assert c[0] == pytest.approx(line_anomaly_contrast(read_grid(path), found.iloc[[0]], tolerance=200.0)[0],
                                 rel=1e-6)
    kept = field_supported(found, path, 1, FIELD_CONTRAST)
    assert [g.coords[0][0] for g in kept.geometry] == [6000.0, 50000.0]
    assert kept["id"].tolist() == [1, 2] and "contrast" in kept.columns
    every = field_supported(found, path, 1, 0.0)
    assert len(every) == 3 and every["contrast"].iloc[0] == pytest.approx(c[0])
    # a grid in pixel space (no CRS): nothing measured, every line kept
    g = ridge_grid(amplitude=5.0)
    bare = write_geotiff(Grid(data=g.data, transform=g.transform, crs=None), tmp_path / "bare.tif")
    assert len(field_supported(found, bare, 1, FIELD_CONTRAST)) == 3
