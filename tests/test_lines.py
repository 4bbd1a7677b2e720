"""Gridding flight-line tables: known surfaces, blanking, projections, bad input."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio

from geocore.cli import main
from geocore.errors import GeocoreError
from geocore.grids.io import read_grid
from geocore.grids.lines import LineGridParams, block_median, grid_flight_lines

DATA = Path(os.environ.get("GEOCORE_TEST_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data"))
BRITAIN = DATA / "lines" / "britain-magnetic.csv.xz"

E0, N0 = 400000.0, 5600000.0  # UTM 32N


def surface(e, n):
    """A smooth field: a plane and a 6 km sinusoid (nT)."""
    return 0.01 * (e - E0) - 0.005 * (n - N0) + 40 * np.sin(2 * np.pi * (e - E0) / 6000.0)


def survey(line_spacing=500.0, step=25.0, extent=10000.0, gap=None):
    """East-west lines of points over a square, optionally with a missing block."""
    rows = []
    for n in np.arange(0, extent + 1, line_spacing):
        e = np.arange(0, extent + 1, step)
        rows.append(np.column_stack([E0 + e, np.full(e.shape, N0 + n)]))
    pts = np.vstack(rows)
    if gap is not None:
        (e0, e1), (n0, n1) = gap
        keep = ~((pts[:, 0] > E0 + e0) & (pts[:, 0] < E0 + e1) & (pts[:, 1] > N0 + n0) & (pts[:, 1] < N0 + n1))
        pts = pts[keep]
    return pd.DataFrame({"easting": pts[:, 0], "northing": pts[:, 1], "tmi": surface(pts[:, 0], pts[:, 1])})


def test_block_median_matches_verde():
    import verde as vd

    rng = np.random.default_rng(1)
    e, n = rng.uniform(0, 1000, 500), rng.uniform(0, 1000, 500)
    v = rng.normal(size=500)
    (be, bn), bv = block_median(e, n, v, 100.0, origin=(50.0, 50.0))
    (ve, vn), vv = vd.BlockReduce(np.median, spacing=100.0, region=(0, 1100, 0, 1100)).filter((e, n), v)
    order = np.lexsort((be, bn)), np.lexsort((ve, vn))
    np.testing.assert_allclose(bv[order[0]], vv[order[1]])
    np.testing.assert_allclose(be[order[0]], ve[order[1]])


def test_lines_grid_the_known_surface_and_blank_the_gap(tmp_path):
    table = tmp_path / "lines.csv"
    survey(gap=((3000, 7000), (3000, 7000))).to_csv(table, index=False)
    params = LineGridParams(cell=250.0, value="tmi", source_crs="EPSG:32632", blank=750.0)
    res = grid_flight_lines(table, tmp_path / "tmi.tif", params)
    grid = read_grid(res.path)
    assert grid.crs.to_epsg() == 32632 and grid.spacing == (250.0, 250.0)
    east, north = grid.coordinates()
    assert east[0] == E0 and north[0] == N0 + 10000  # cell centres on multiples of the cell
    E, N = np.meshgrid(east, north)
    inside_gap = (np.abs(E - (E0 + 5000)) < 1200) & (np.abs(N - (N0 + 5000)) < 1200)
    assert np.isnan(grid.data[inside_gap]).all()  # more than 750 m from any point: blanked
    valid = np.isfinite(grid.data)
    assert valid.mean() > 0.8
    err = np.abs(grid.data - surface(E, N))
    near_gap = (np.abs(E - (E0 + 5000)) < 2300) & (np.abs(N - (N0 + 5000)) < 2300)
    # of a 180 nT range, lines 500 m apart; across the 4 km gap the triangulation is a plane
    inner = np.zeros_like(valid)
    inner[1:-1, 1:-1] = True  # the border cells take the nearest cell median
    assert np.median(err[valid]) < 0.2 and err[valid & inner & ~near_gap].max() < 2.0


def test_longitude_latitude_columns_are_projected(tmp_path):
    from pyproj import Transformer

    df = survey(line_spacing=1000.0, step=50.0)
    lon, lat = Transformer.from_crs("EPSG:32632", "EPSG:4326", always_xy=True).transform(df.easting, df.northing)
    table = tmp_path / "lines.xyz"
    with open(table, "w") as f:
        f.write("/ a Geosoft-style XYZ export\nLongitude Latitude TMI\n")
        np.savetxt(f, np.column_stack([lon, lat, df.tmi]), fmt="%.7f")
    out = tmp_path / "g.tif"
    assert main(["-q", "grid", "lines", str(table), "--cell", "500", "--value", "TMI", "--out", str(out)]) == 0
    grid = read_grid(out)
    assert grid.crs.to_epsg() == 32632  # the UTM zone of the data
    E, N = np.meshgrid(*grid.coordinates())
    valid = np.isfinite(grid.data)
    assert np.median(np.abs(grid.data - surface(E, N))[valid]) < 2.0


def test_bad_inputs_are_clear_and_write_nothing(tmp_path, capsys):
    table = tmp_path / "lines.csv"
    survey(line_spacing=2000.0, step=500.0).to_csv(table, index=False)
    out = tmp_path / "g.tif"
    cases = [
        (["--value", "mag", "--source-crs", "EPSG:32632"], "no column 'mag'"),
        (["--value", "tmi"], "CRS of columns easting/northing is unknown"),
        (["--value", "tmi", "--source-crs", "EPSG:32632", "--crs", "EPSG:4326"], "is in degrees"),
        (["--value", "tmi", "--source-crs", "EPSG:nope"], "not a coordinate reference system"),
    ]
    for extra, message in cases:
        code = main(["-q", "grid", "lines", str(table), "--cell", "250", "--out", str(out), *extra])
        err = capsys.readouterr().err
        assert code == 2 and message in err, (extra, err)
        assert not out.exists()
    with pytest.raises(GeocoreError, match="larger 'cell'"):
        grid_flight_lines(table, out, LineGridParams(cell=0.001, value="tmi", source_crs="EPSG:32632"))
    with pytest.raises(GeocoreError, match="cell size must be positive"):
        grid_flight_lines(table, out, LineGridParams(cell=0, value="tmi", source_crs="EPSG:32632"))
    empty = tmp_path / "empty.csv"
    empty.write_text("easting,northing,tmi\n")
    with pytest.raises(GeocoreError, match="no points"):
        grid_flight_lines(empty, out, LineGridParams(cell=250, value="tmi", source_crs="EPSG:32632"))
    assert not out.exists()


@pytest.mark.skipif(not BRITAIN.is_file(), reason=f"{BRITAIN} not found (set GEOCORE_TEST_DATA)")
def test_britain_survey_at_5_km(tmp_path):
    params = LineGridParams(cell=5000.0, value="total_field_anomaly_nt", crs="EPSG:27700", blank=10000.0)
    res = grid_flight_lines(BRITAIN, tmp_path / "britain.tif", params)
    assert res.n_points == 541508
    with rasterio.open(res.path) as ds:
        assert ds.crs.to_epsg() == 27700 and ds.res == (5000.0, 5000.0)
        data = ds.read(1)
        west, south, east, north = ds.bounds
    # Great Britain in the British National Grid
    assert -10000 < west < 200000 and 600000 < east < 700000 and -20000 < south < 100000 and 1000000 < north < 1300000
    assert 0.4 < np.isfinite(data).mean() < 0.9  # the sea and the unsurveyed north are blank
    values = pd.read_csv(BRITAIN, usecols=["total_field_anomaly_nt"]).total_field_anomaly_nt
    # block medians and linear interpolation stay within the data's range
    assert values.min() <= np.nanmin(data) < 0 < np.nanmax(data) <= values.max()


def test_geosoft_xyz_with_comment_header_and_line_rows(tmp_path):
    df = survey(line_spacing=1000.0, step=100.0)
    table = tmp_path / "survey.xyz.gz"
    import gzip

    with gzip.open(table, "wt") as f:
        f.write("/ exported from Oasis montaj\n/ X Y TMI\n")
        for k, (n, rows) in enumerate(df.groupby("northing")):
            f.write(f"Line {10 * (k + 1)}\n")
            np.savetxt(f, rows[["easting", "northing", "tmi"]].to_numpy(), fmt="%.3f")
    res = grid_flight_lines(table, tmp_path / "g.tif", LineGridParams(cell=500.0, value="TMI",
                                                                      source_crs="EPSG:32632"))
    assert res.n_points == len(df)
    E, N = np.meshgrid(*res.grid.coordinates())
    valid = np.isfinite(res.grid.data)
    assert valid.mean() > 0.8 and np.median(np.abs(res.grid.data - surface(E, N))[valid]) < 2.0
