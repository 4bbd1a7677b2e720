"""Length-based comparison of detected lineaments with expert lines."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from shapely.geometry import LineString, Polygon

from geocore.cli import main
from geocore.errors import GeocoreError
from geocore.lineaments.compare import CompareParams, compare_lines, compare_to_folder

X0, Y0 = 500000.0, 6000000.0
UTM = "EPSG:32633"


def ns(x, y0=0.0, y1=10000.0):
    return LineString([(X0 + x, Y0 + y0), (X0 + x, Y0 + y1)])


def ew(y, x0, x1):
    return LineString([(X0 + x0, Y0 + y), (X0 + x1, Y0 + y)])


EXPERT = gpd.GeoDataFrame(geometry=[ns(1000), ns(5000), ns(9000)], crs=UTM)
# line 0 found 100 m off, the north half of line 1 50 m off, a 2 km false line, nothing near line 2
DETECTED = gpd.GeoDataFrame(geometry=[ns(1100), ns(5050, 5000, 10000), ew(5000, 2000, 4000)], crs=UTM)


def test_scores_and_per_line_table_have_the_known_answer():
    res = compare_lines(DETECTED, EXPERT, CompareParams(tolerance=200.0))
    s = res.scores
    assert s.expert_length == pytest.approx(30000.0) and s.detected_length == pytest.approx(17000.0)
    # expert line 1 is also recalled within 200 m of the detected half-line's end: sqrt(200^2 - 50^2)
    recall = (15000 + np.sqrt(200 ** 2 - 50 ** 2)) / 30000
    assert s.recall == pytest.approx(recall, abs=0.002)
    assert s.precision == pytest.approx(15000 / 17000, abs=0.002)
    assert s.f1 == pytest.approx(2 * recall * (15 / 17) / (recall + 15 / 17), abs=0.002)
    t = res.expert_table.set_index("line")
    assert t.loc[0, "matched_fraction"] == pytest.approx(1.0) and t.loc[0, "best_match"] == 0
    assert t.loc[0, "mean_distance_m"] == pytest.approx(100.0) and t.loc[0, "angle_diff_deg"] == pytest.approx(0.0)
    assert t.loc[1, "matched_fraction"] == pytest.approx(0.52, abs=0.01) and t.loc[1, "best_match"] == 1
    assert t.loc[2, "matched_fraction"] == 0 and t.loc[2, "best_match"] == -1 and np.isnan(t.loc[2, "angle_diff_deg"])
    d = res.detected_table.set_index("line")
    assert d.loc[2, "matched_m"] == 0 and d.loc[1, "mean_distance_m"] == pytest.approx(50.0)
    # a tolerance below the offsets finds nothing
    assert compare_lines(DETECTED, EXPERT, CompareParams(tolerance=40.0)).scores.f1 == 0.0


def test_strike_tolerance_drops_crossing_lines():
    crossing = gpd.GeoDataFrame(geometry=[ew(3000, 7000, 11000)], crs=UTM)
    loose = compare_lines(crossing, EXPERT, CompareParams(tolerance=200.0)).scores
    assert loose.recalled_length == pytest.approx(400.0, abs=60)  # 200 m either side of the crossing
    strict = compare_lines(crossing, EXPERT, CompareParams(tolerance=200.0, strike_tolerance=20.0)).scores
    assert strict.recalled_length == 0 and strict.precise_length == 0
    oblique = gpd.GeoDataFrame(geometry=[LineString([(X0 + 1000, Y0), (X0 + 1100, Y0 + 10000)])], crs=UTM)
    res = compare_lines(oblique, EXPERT, CompareParams(tolerance=200.0, strike_tolerance=5.0))
    assert res.scores.recall == pytest.approx(1 / 3, abs=0.01)
    assert res.expert_table.loc[0, "angle_diff_deg"] == pytest.approx(np.degrees(np.arctan(0.01)), abs=0.01)


def test_chance_baselines_score_low_and_lift_is_large():
    res = compare_lines(DETECTED, EXPERT, CompareParams(tolerance=200.0))
    shifted, rotated = res.baselines["shifted"], res.baselines["rotated"]
    assert res.shift == 3000.0
    assert shifted.f1 < 0.05 and rotated.f1 < 0.3
    assert res.lift("shifted") > 20 and res.lift("rotated") > 2
    # the rotated line 0 lies along the false east-west line: the baseline sees it
    assert rotated.precise_length > 1000
    # identical sets: perfect scores
    same = compare_lines(EXPERT, EXPERT, CompareParams(tolerance=100.0)).scores
    assert same.recall == same.precision == same.f1 == pytest.approx(1.0)


def test_layers_in_other_crs_are_reprojected(tmp_path):
    (tmp_path / "det").mkdir()
    DETECTED.to_crs("EPSG:4326").to_file(tmp_path / "det" / "detected.geojson")
    EXPERT.to_crs("EPSG:3857").to_file(tmp_path / "expert.shp")
    out = tmp_path / "cmp"
    res = compare_to_folder(tmp_path / "det" / "detected.geojson", tmp_path / "expert.shp", out,
                            CompareParams(tolerance=200.0))
    # no grid: lengths in the CRS of the first projected layer (the detected one is in degrees)
    assert res.crs.to_epsg() == 3857
    ref = compare_lines(DETECTED, EXPERT, CompareParams(tolerance=200.0)).scores
    # Web Mercator lengths are scaled by 1/cos(lat); the ratios are not
    assert res.scores.recall == pytest.approx(ref.recall, abs=0.01)
    assert res.scores.precision == pytest.approx(ref.precision, abs=0.01)
    for name in ("scores.csv", "expert_lines.csv", "detected_lines.csv", "overlay.png"):
        assert (out / name).stat().st_size > 0
    scores = pd.read_csv(out / "scores.csv")
    assert list(scores.columns[:4]) == ["comparison", "recall", "precision", "f1"] and len(scores) == 3


def test_command_prints_and_writes(tmp_path, capsys):
    from geocore.grids.io import Grid, write_geotiff
    from rasterio.crs import CRS
    from rasterio.transform import from_origin

    DETECTED.to_file(tmp_path / "detected.gpkg")
    EXPERT.to_file(tmp_path / "expert.gpkg")
    grid = Grid(np.random.default_rng(0).normal(size=(100, 100)), from_origin(X0, Y0 + 10000, 100, 100),
                CRS.from_string(UTM))
    write_geotiff(grid, tmp_path / "grid.tif")
    out = tmp_path / "out"
    assert main(["-q", "lineaments", "compare", str(tmp_path / "detected.gpkg"), str(tmp_path / "expert.gpkg"),
                 "--tolerance", "200", "--grid", str(tmp_path / "grid.tif"), "--out-dir", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "recall 0.507" in printed and "lift" in printed and "overlay" in printed
    assert (out / "overlay.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_inputs_are_clear_and_write_nothing(tmp_path, capsys):
    EXPERT.to_file(tmp_path / "expert.gpkg")
    EXPERT.iloc[:0].to_file(tmp_path / "empty.gpkg")
    triangle = Polygon([(X0, Y0), (X0 + 1, Y0), (X0, Y0 + 1)])
    gpd.GeoDataFrame(geometry=[triangle], crs=UTM).to_file(tmp_path / "poly.gpkg")
    # the same coordinates declared in UTM zone 10: thousands of km away after reprojection
    gpd.GeoDataFrame(geometry=list(DETECTED.geometry), crs="EPSG:32610").to_file(tmp_path / "wrong.gpkg")
    cases = {"empty.gpkg": "holds no features", "poly.gpkg": "not lines", "wrong.gpkg": "do not overlap",
             "missing.gpkg": "does not exist"}
    for name, message in cases.items():
        out = tmp_path / f"out_{name}"
        code = main(["-q", "lineaments", "compare", str(tmp_path / name), str(tmp_path / "expert.gpkg"),
                     "--tolerance", "200", "--out-dir", str(out)])
        err = capsys.readouterr().err
        assert code == 2 and message in err and err.startswith("geocore: error:"), (name, err)
        assert not out.exists()
    far = (X0 + 200000, Y0, X0 + 210000, Y0 + 10000)
    with pytest.raises(GeocoreError, match="the expert lines and the grid do not overlap"):
        compare_lines(DETECTED, EXPERT, CompareParams(tolerance=100), grid_crs=EXPERT.crs, grid_bounds=far)
    # a grid in degrees around the lines is fine: its extent is reprojected
    lonlat = EXPERT.to_crs("EPSG:4326").total_bounds
    res = compare_lines(DETECTED, EXPERT, CompareParams(tolerance=200), grid_crs=EXPERT.to_crs("EPSG:4326").crs,
                        grid_bounds=tuple(lonlat + np.array([-0.01, -0.01, 0.01, 0.01])))
    assert res.crs == EXPERT.crs and res.scores.precision == pytest.approx(15 / 17, abs=0.01)
    with pytest.raises(GeocoreError, match="tolerance must be positive"):
        compare_lines(DETECTED, EXPERT, CompareParams(tolerance=0))
    no_crs = gpd.GeoDataFrame(geometry=list(DETECTED.geometry))
    with pytest.raises(GeocoreError, match="has no CRS"):
        compare_lines(no_crs, EXPERT, CompareParams(tolerance=100))


@pytest.mark.parametrize("lo, span_km, step_km", [(-4_399_314.0, 38.25, 5.0), (500_000.0, 28.8, 5.0),
                                                   (0.0, 0.9, 0.2), (1234.5, 66.75, 10.0), (0.0, 8.0, 1.0)])
def test_overlay_ticks_are_round_kilometres_from_the_corner(lo, span_km, step_km):
    from geocore.lineaments.compare import _km_ticks

    ticks = _km_ticks(lo, lo + span_km * 1000.0)
    km = (ticks - lo) / 1000.0
    assert km[0] == 0.0 and km[-1] <= span_km + 1e-9 and len(ticks) <= 9
    assert np.allclose(np.diff(km), step_km)
