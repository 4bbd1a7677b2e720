"""Known answers for the lineament scores: pixel metrics, axis agreement, burnt axes, score_lines, evaluate."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin
from shapely.geometry import LineString

from geocore.lineaments.demo import rasterize_lines, score_lines
from geocore.lineaments.evaluate import predict_array, predicted_axes
from geocore.lineaments.metrics import axis_agreement, pixel_metrics, rasterize_axes, scores_from_counts


# ----------------------------------------------------------------------------- pixel metrics
def test_pixel_metrics_on_a_hand_counted_array():
    truth = np.zeros((4, 5), bool)
    pred = np.zeros((4, 5), bool)
    truth[1, 1:5] = True           # 4 true cells
    pred[1, 1:4] = True            # 3 of them found (tp 3, fn 1)
    pred[3, 0:2] = True            # 2 false alarms (fp 2); the other 14 cells are tn
    m = pixel_metrics(pred, truth)
    assert (m["tp"], m["fp"], m["fn"], m["tn"]) == (3, 2, 1, 14)
    assert m["pixel_accuracy"] == pytest.approx(17 / 20)
    assert m["iou"] == pytest.approx(3 / 6)
    assert m["f1"] == pytest.approx(6 / 9)
    assert m["precision"] == pytest.approx(3 / 5)
    assert m["recall"] == pytest.approx(3 / 4)


def test_scores_from_counts_sum_before_dividing_and_nan_when_undefined():
    # two grids: (tp 1, fp 0, fn 1) and (tp 0, fp 3, fn 0): summed 1 / (1 + 3 + 1), not the mean of 1/2 and 0
    a = pixel_metrics(np.array([True, False]), np.array([True, True]))
    b = pixel_metrics(np.array([True, True, True]), np.array([False, False, False]))
    total = scores_from_counts({k: a[k] + b[k] for k in ("tp", "fp", "fn", "tn")})
    assert total["iou"] == pytest.approx(1 / 5)
    empty = pixel_metrics(np.zeros(3, bool), np.zeros(3, bool))
    assert empty["pixel_accuracy"] == 1.0
    assert all(np.isnan(empty[k]) for k in ("iou", "f1", "precision", "recall"))


# ----------------------------------------------------------------------------- axes
def test_rasterize_axes_puts_cell_centres_at_half_integers_and_clips():
    out = rasterize_axes([[(0.5, 0.5), (3.5, 0.5)]], (3, 6))
    assert out[0].tolist() == [True, True, True, True, False, False] and out.sum() == 4
    diag = rasterize_axes([[(0.5, 0.5), (2.5, 2.5)]], (3, 3))
    assert np.array_equal(diag, np.eye(3, dtype=bool))
    # a segment leaving the grid keeps only its inside part; one wholly outside burns nothing
    clipped = rasterize_axes([[(4.5, 1.5), (9.5, 1.5)], [(20.5, 20.5), (30.5, 20.5)]], (3, 6))
    assert np.flatnonzero(clipped[1]).tolist() == [4, 5] and clipped.sum() == 2


def _axes(shape, *cells):
    grid = np.zeros(shape, bool)
    for r, c0, c1 in cells:
        grid[r, c0:c1 + 1] = True
    return grid


def test_axis_agreement_of_offset_lines_has_the_computed_shares():
    """True axis: row 10, cols 0-19 (20 cells). Predicted: row 12, cols 5-24 (2 cells off, shifted 5
    along) and a stray row 25, cols 0-9 (10 cells). Within 2 cells: true cols 5-19 (the ends at
    cols 3-4 lie sqrt(5) and sqrt(8) from the nearest predicted cell) and predicted cols 5-19."""
    true = _axes((30, 30), (10, 0, 19))
    pred = _axes((30, 30), (12, 5, 24), (25, 0, 9))
    a = axis_agreement(pred, true, tolerance=2.0)
    assert (a["true_hit"], a["n_true"], a["pred_hit"], a["n_pred"]) == (15, 20, 15, 30)
    assert a["axis_recall"] == pytest.approx(0.75) and a["axis_precision"] == pytest.approx(0.5)
    # 3 cells: the cells sqrt(5) and sqrt(8) away join on both sides (true cols 3-4, predicted cols 20-21)
    b = axis_agreement(pred, true, tolerance=3.0)
    assert (b["true_hit"], b["pred_hit"]) == (17, 17)
    # identical axes agree fully; none predicted: recall 0, precision undefined
    assert axis_agreement(true, true)["axis_recall"] == 1.0 == axis_agreement(true, true)["axis_precision"]
    none = axis_agreement(np.zeros_like(true), true)
    assert none["axis_recall"] == 0.0 and np.isnan(none["axis_precision"])


def test_predicted_axes_are_one_cell_wide_and_drop_specks():
    prob = np.zeros((40, 60))
    prob[18:23, 5:55] = 0.9   # a 5-cell-wide band along row 20
    prob[5:7, 5:7] = 0.8      # a speck: its skeleton is shorter than min_size
    prob[30:35, 5:55] = 0.4   # below the threshold
    axes = predicted_axes(prob, threshold=0.5, min_size=5)
    rows, cols = np.nonzero(axes)
    assert set(rows) <= {19, 20, 21} and np.mean(rows == 20) > 0.9  # the band's centre line (ends may bend)
    assert np.bincount(cols).max() == 1  # one cell wide
    assert cols.min() >= 5 and cols.max() <= 54 and len(cols) > 40
    assert not axes[:10].any() and not axes[25:].any()  # the speck is dropped, the weak band never called


def test_predict_array_pads_to_a_multiple_of_32_and_crops_back():
    torch = pytest.importorskip("torch")
    from types import SimpleNamespace

    seen = []

    class Model(torch.nn.Module):
        def forward(self, x):
            seen.append(tuple(x.shape))
            # logit = 2 * (normalised value - 0.5): the affine mode below makes the value the field itself
            return 2.0 * (x[:, :1] - 0.5)

    field = np.linspace(0.0, 1.0, 50 * 70).reshape(50, 70)
    card = SimpleNamespace(normalization={"mode": "affine", "scale": [1.0], "offset": [0.0]})
    prob = predict_array(Model(), card, field)
    assert seen == [(1, 1, 64, 96)] and prob.shape == (50, 70)
    np.testing.assert_allclose(prob, 1 / (1 + np.exp(-2.0 * (field - 0.5))), rtol=1e-5)


# ----------------------------------------------------------------------------- score_lines (files in map units)
CELL = 50.0
GRID_T = from_origin(500000.0, 7000000.0, CELL, CELL)


def _grid(path):
    with rasterio.open(path, "w", driver="GTiff", width=40, height=30, count=1, dtype="float32",
                      crs="EPSG:32633", transform=GRID_T) as ds:
        ds.write(np.zeros((1, 30, 40), np.float32))
    return path


def _line_at_row(row: float, c0: float, c1: float) -> LineString:
    """A horizontal line through the centres of row ``row`` from column ``c0`` to ``c1`` (in map units)."""
    y = 7000000.0 - (row + 0.5) * CELL
    return LineString([(500000.0 + (c0 + 0.5) * CELL, y), (500000.0 + (c1 + 0.5) * CELL, y)])


def _gpkg(path, lines, crs="EPSG:32633"):
    gpd.GeoDataFrame(geometry=lines, crs="EPSG:32633").to_crs(crs).to_file(path)
    return path


def test_rasterize_lines_burns_the_cells_a_line_crosses(tmp_path):
    gdf = gpd.GeoDataFrame(geometry=[_line_at_row(10, 2, 21)], crs="EPSG:32633")
    burnt = rasterize_lines(gdf, (30, 40), GRID_T)
    assert np.flatnonzero(burnt[10]).tolist() == list(range(2, 22)) and burnt.sum() == 20
    assert not rasterize_lines(gpd.GeoDataFrame(geometry=[], crs="EPSG:32633"), (30, 40), GRID_T).any()


@pytest.mark.parametrize("offset_cells, recall", [(0, 1.0), (1, 1.0), (2, 1.0), (3, 0.0)])
def test_score_lines_of_parallel_lines_at_known_offsets(tmp_path, offset_cells, recall):
    grid = _grid(tmp_path / "grid.tif")
    truth = _gpkg(tmp_path / "truth.gpkg", [_line_at_row(10, 2, 21)])
    det = _gpkg(tmp_path / "det.gpkg", [_line_at_row(10 + offset_cells, 2, 21)])
    s = score_lines(det, truth, grid, tolerance_cells=2.0)
    assert (s["n_true"], s["n_pred"]) == (20, 20)
    assert s["axis_recall"] == recall and s["axis_precision"] == recall


def test_score_lines_half_a_line_in_another_crs(tmp_path):
    """Half of the true line detected, plus an equally long line far away, given in WGS84: recall 1/2,
    precision 1/2 after reprojection to the grid's CRS."""
    grid = _grid(tmp_path / "grid.tif")
    truth = _gpkg(tmp_path / "truth.gpkg", [_line_at_row(10, 2, 21)])
    det = _gpkg(tmp_path / "det.gpkg", [_line_at_row(10, 2, 11), _line_at_row(25, 20, 29)], crs="EPSG:4326")
    s = score_lines(det, truth, grid, tolerance_cells=2.0)
    # cells 2-11 of the true line, plus the two beyond within 2 cells of its end (12, 13)
    assert (s["true_hit"], s["n_true"]) == (12, 20)
    assert (s["pred_hit"], s["n_pred"]) == (10, 20)
    assert s["axis_recall"] == pytest.approx(0.6) and s["axis_precision"] == pytest.approx(0.5)


def test_visible_axis_recall_scores_only_the_visible_dykes(tmp_path):
    """Two true axes, one visible (5) and one buried (0.3); the visible one detected: recall 1/2 on all
    axes, 1 on the visible ones; no visible axis at all gives NaN."""
    from geocore.lineaments.demo import visible_axis_recall

    grid = _grid(tmp_path / "grid.tif")
    truth = tmp_path / "truth.gpkg"
    gpd.GeoDataFrame({"visibility": [5.0, 0.3]}, geometry=[_line_at_row(5, 2, 21), _line_at_row(20, 2, 21)],
                     crs="EPSG:32633").to_file(truth)
    det = _gpkg(tmp_path / "det.gpkg", [_line_at_row(5, 2, 21)])
    assert score_lines(det, truth, grid)["axis_recall"] == pytest.approx(0.5)
    assert visible_axis_recall(det, truth, grid) == dict(visible_recall=1.0, visible_dykes=1)
    buried = _gpkg(tmp_path / "det2.gpkg", [_line_at_row(20, 2, 21)])
    assert visible_axis_recall(buried, truth, grid)["visible_recall"] == 0.0
    none = tmp_path / "none.gpkg"
    gpd.GeoDataFrame({"visibility": [0.3]}, geometry=[_line_at_row(5, 2, 21)], crs="EPSG:32633").to_file(none)
    r = visible_axis_recall(det, none, grid)
    assert np.isnan(r["visible_recall"]) and r["visible_dykes"] == 0


def test_evaluate_shipped_model_on_two_fresh_grids():
    """The paper's protocol on two fresh grids: the shipped model (card: axis recall 0.955, precision
    0.990 on 100 grids) finds most axes; the counts behind the scores are consistent."""
    from geocore.lineaments.evaluate import evaluate_model

    out = evaluate_model(n_grids=2, seed=4242, device="cpu")
    assert out["grids"] == 2 and out["dykes"] == "6-10"
    assert out["axis_recall"] > 0.7 and out["axis_precision"] > 0.7
    assert 0.9 < out["pixel_accuracy"] <= 1.0 and out["iou"] <= out["f1"] <= 1.0
    assert 2 / (1 / out["precision"] + 1 / out["recall"]) == pytest.approx(out["f1"])
