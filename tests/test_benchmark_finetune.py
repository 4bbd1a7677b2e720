"""The real-data benchmark table, fine-tuning on an expert's lines, and the survey preset's pieces."""

from __future__ import annotations

import json

import geopandas as gpd
import numpy as np
import pytest
import rasterio
import shapely
from rasterio.transform import from_origin

from geocore.cli import main
from geocore.errors import GeocoreError
from geocore.grids.io import read_grid
from geocore.lineaments.benchmark import BenchmarkCase, default_detectors, load_cases, run_benchmark
from geocore.lineaments.finetune import FinetuneConfig, finetune_model, holdout_scores, label_rasters, score_finetuned
from geocore.lineaments.vectorize import VectorizeParams, vectorize_probability
from geocore.magnetics.synthetic import SurveyConfig, _geology_background, _grid_from_lines, synthesize_survey
from geocore.models import load_model
from tiny_models import tiny_lineament_model

CELL = 50.0


@pytest.fixture(scope="module")
def survey(tmp_path_factory):
    """A 128 x 128 synthetic survey with its true axes (the 'expert' of the tests)."""
    out = tmp_path_factory.mktemp("survey")
    cfg = SurveyConfig.from_preset("paper").with_dykes(3, 4)
    synthesize_survey(out, rows=128, cols=128, cell_size=CELL, seed=11, config=cfg)
    return out


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    return tiny_lineament_model(tmp_path_factory.mktemp("model") / "tiny.safetensors")


# ----------------------------------------------------------------------------- benchmark
def test_benchmark_scores_every_detector_at_every_tolerance(survey, tmp_path):
    case = BenchmarkCase(name="synthetic", grid=survey / "field.tif", expert=survey / "axes.gpkg",
                         inclination=90.0, declination=0.0)
    dets = default_detectors(methods=("tga", "vdr"))
    res = run_benchmark([case], dets, tmp_path / "b", tolerances=(100.0, 500.0))
    table = res.table()
    assert len(table) == 4 and set(table["detector"]) == {"tga", "vdr"}
    # on a clean synthetic survey the ridges follow the true axes (2 cells) far better than chance
    at100 = table[table["tolerance_m"] == 100.0]
    assert (at100["recall"] > 0.5).all() and (at100["lift_shifted"] > 1.5).all()
    # a wider tolerance never scores lower
    for det in ("tga", "vdr"):
        t = table[table["detector"] == det].sort_values("tolerance_m")
        assert t["recall"].is_monotonic_increasing and t["precision"].is_monotonic_increasing
    csv = (tmp_path / "b" / "benchmark.csv").read_text()
    assert csv.splitlines()[0].startswith("case,detector,tolerance_m")
    md = (tmp_path / "b" / "benchmark.md").read_text()
    assert md.count("| synthetic |") == 4
    # the true axes carry their visibility: recall on the visible ones is scored too
    assert table["recall_visible"].between(0, 1).all() and "recall (visible)" in md
    assert (tmp_path / "b" / "overlay_synthetic_tga.png").stat().st_size > 1000


def test_recall_on_the_dykes_a_detector_can_see(survey, tmp_path):
    """Synthetic axes carry a visibility: the benchmark also scores recall on those of visibility >= 1."""
    from geocore.lineaments.benchmark import BenchmarkResult, _visible_recall

    expert = gpd.read_file(survey / "axes.gpkg")
    assert "visibility" in expert.columns and len(expert) >= 3
    grid = read_grid(survey / "field.tif")
    expert["visibility"] = [5.0, 5.0] + [0.3] * (len(expert) - 2)  # only the first two count as visible
    detected = expert.iloc[:2][["geometry"]]
    assert _visible_recall(detected, expert, 100.0, grid) == pytest.approx(1.0, abs=1e-3)
    assert _visible_recall(expert.iloc[2:][["geometry"]], expert, 100.0, grid) < 0.05
    assert np.isnan(_visible_recall(detected, expert[["geometry"]], 100.0, grid))  # a real expert: no such column
    row = dict(case="c", detector="d", tolerance_m=100.0, recall=0.5, precision=1.0, f1=0.667, shifted_f1=0.1,
               lift_shifted=5.0, lift_rotated=5.0, lines=2, detected_km=1.0, expert_km=2.0, seconds=1.0)
    assert "recall (visible)" in BenchmarkResult([dict(row, recall_visible=1.0)]).markdown()
    assert "recall (visible)" not in BenchmarkResult([dict(row, recall_visible=float("nan"))]).markdown()


def test_benchmark_skips_reducing_methods_without_the_field_direction(survey, tmp_path):
    case = BenchmarkCase(name="s", grid=survey / "field.tif", expert=survey / "axes.gpkg")
    res = run_benchmark([case], default_detectors(methods=("tga", "tilt")), tmp_path / "b", tolerances=(500.0,),
                        figures=False)
    assert list(res.table()["detector"]) == ["tga"]


def test_case_list_json(tmp_path, survey):
    cases = tmp_path / "cases.json"
    (tmp_path / "g.tif").write_bytes((survey / "field.tif").read_bytes())
    cases.write_text(json.dumps([{"name": "a", "grid": "g.tif", "expert": str(survey / "axes.gpkg"),
                                  "inclination": 90, "declination": 0}]))
    (c,) = load_cases(cases)
    assert c.grid == tmp_path / "g.tif" and c.inclination == 90
    cases.write_text(json.dumps([{"name": "a", "grid": "g.tif"}]))
    with pytest.raises(GeocoreError, match="expert"):
        load_cases(cases)
    cases.write_text("[{")
    with pytest.raises(GeocoreError, match="not valid JSON"):
        load_cases(cases)
    cases.write_text(json.dumps([{"name": "a", "grid": "missing.tif", "expert": "x.gpkg"}]))
    with pytest.raises(GeocoreError, match="does not exist"):
        run_benchmark(load_cases(cases), default_detectors(methods=("tga",)), tmp_path / "o")


def test_benchmark_command_line(survey, tmp_path, capsys):
    rc = main(["-q", "lineaments", "benchmark", "--grid", str(survey / "field.tif"), "--expert",
               str(survey / "axes.gpkg"), "--methods", "tga", "--tolerances", "500", "--no-figures",
               "--out-dir", str(tmp_path / "b")])
    out = capsys.readouterr().out
    assert rc == 0 and "| field | tga | 500 |" in out
    rc = main(["-q", "lineaments", "benchmark", "--grid", str(survey / "field.tif"), "--out-dir", str(tmp_path / "c")])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and "--expert" in err[0]


# ----------------------------------------------------------------------------- fine-tuning
def test_label_rasters_positives_ignored_band_and_uncertain_negatives(survey):
    grid = read_grid(survey / "field.tif")
    x0, y0 = grid.transform.c, grid.transform.f
    # a line along the centre of row 40 (y = y0 - 40.5 cells)
    y = y0 - 40.5 * CELL
    expert = gpd.GeoDataFrame(geometry=[shapely.LineString([(x0 + 10 * CELL, y), (x0 + 100 * CELL, y)])],
                              crs=grid.crs)
    t, w = label_rasters(grid, expert, positive_cells=1.0, negative_cells=4.0, negative_weight=0.2)
    assert t[40, 50] == 1 and t[41, 50] == 1 and t[39, 50] == 1 and t[42, 50] == 0
    assert w[40, 50] == 1.0 and w[43, 50] == 0.0 and w[44, 50] == 0.0 and w[45, 50] == pytest.approx(0.2)
    # an area polygon: no weight outside it
    west = gpd.GeoDataFrame(geometry=[shapely.box(x0, y0 - 128 * CELL, x0 + 64 * CELL, y0)], crs=grid.crs)
    t2, w2 = label_rasters(grid, expert, west)
    assert (w2[:, 64:] == 0).all() and (w2[:, :64] == w[:, :64]).all()
    far = gpd.GeoDataFrame(geometry=[shapely.LineString([(0, 0), (1, 1)])], crs=grid.crs)
    with pytest.raises(GeocoreError, match="no expert line crosses the grid"):
        label_rasters(grid, far)


def test_finetune_learns_the_expert_lines_and_writes_a_card(survey, tiny_model, tmp_path):
    cfg = FinetuneConfig(out=tmp_path / "ft.safetensors", init=tiny_model, steps=25, batch_size=4, crop=64,
                         lr=3e-3, synthetic_share=0.25, synthetic_samples=2, seed=1)
    grid = read_grid(survey / "field.tif")
    expert = gpd.read_file(survey / "axes.gpkg")
    t, w = label_rasters(grid, expert)

    def weighted_loss(path):
        from geocore.lineaments.evaluate import predict_array

        model, card = load_model(path)
        p = np.clip(predict_array(model, card, grid.data.astype(np.float32)), 1e-6, 1 - 1e-6)
        bce = -(t * np.log(p) + (1 - t) * np.log(1 - p))
        return float((bce * w).sum() / w.sum())

    before = weighted_loss(tiny_model)
    path = finetune_model(survey / "field.tif", survey / "axes.gpkg", cfg)
    assert weighted_loss(path) < 0.8 * before
    card = json.loads(path.with_suffix(".json").read_text())
    assert card["training"]["finetuned_on"]["grid"] == "field.tif"
    assert card["training"]["optimizer"]["steps_run"] == 25
    assert card["training"]["parent"]["file"] == "tiny.safetensors"
    assert card["training"]["finetuned_on"]["scale"] == 1.0  # a card without a reference: the grid as it is


def test_finetune_teaches_at_the_resolution_detect_runs_it_at(survey, tiny_model, tmp_path):
    """A grid interpolated to cells 3 times smaller: taught on the averaged grid that ``--scales auto``
    will feed the fine-tuned model, whose card keeps the parent's reference so detect picks the same."""
    from geocore.lineaments.detect import detect_to_folder
    from geocore.lineaments.scale import grid_bandwidth
    from testdata import write_refined

    write_refined(survey / "field.tif", tmp_path / "fine.tif", 3)
    model, card = load_model(tiny_model)
    ref = {"p5": 0.6, "p10": 0.7, "p50": 0.95, "samples": 10}
    card.training = {"resolved_bandwidth": ref}
    from geocore.models.network import save_model

    parent = save_model(model, card, tmp_path / "parent.safetensors")
    expected = round(grid_bandwidth(tmp_path / "fine.tif") / 0.7 * 20) / 20
    assert expected < 0.6
    cfg = FinetuneConfig(out=tmp_path / "ft.safetensors", init=parent, steps=2, batch_size=2, crop=64,
                         synthetic_share=0.0, seed=1)
    path = finetune_model(tmp_path / "fine.tif", survey / "axes.gpkg", cfg)
    out = json.loads(path.with_suffix(".json").read_text())
    assert out["training"]["finetuned_on"]["scale"] == pytest.approx(expected)
    assert out["training"]["resolved_bandwidth"] == ref
    res = detect_to_folder(tmp_path / "fine.tif", tmp_path / "det", model_path=path)
    assert res.scales == (pytest.approx(expected),)


def test_finetune_never_overwrites_its_inputs(survey, tiny_model, tmp_path):
    before = tiny_model.read_bytes()
    with pytest.raises(GeocoreError):
        finetune_model(survey / "field.tif", survey / "axes.gpkg", FinetuneConfig(out=tiny_model, init=tiny_model))
    assert tiny_model.read_bytes() == before
    with pytest.raises(GeocoreError, match="synthetic share"):
        FinetuneConfig(synthetic_share=1.0).check()


def test_holdout_scores_outside_the_area(survey, tiny_model, tmp_path):
    grid = read_grid(survey / "field.tif")
    w, s, e, n = grid.bounds
    area = tmp_path / "north.gpkg"
    gpd.GeoDataFrame(geometry=[shapely.box(w, (s + n) / 2, e, n)], crs=grid.crs).to_file(area)
    scores = holdout_scores(survey / "field.tif", survey / "axes.gpkg", area, {"m": tiny_model}, tolerance=500.0)
    assert set(scores) == {"m"} and 0.0 <= scores["m"]["recall"] <= 1.0
    # the expert length scored is the southern half's only
    expert = gpd.read_file(survey / "axes.gpkg")
    south = expert.geometry.intersection(shapely.box(w, s, e, (s + n) / 2)).length.sum() / 1000
    assert scores["m"]["expert_km"] == pytest.approx(south, rel=0.02)
    # before/after into the fine-tuned model's card
    after = tiny_lineament_model(tmp_path / "after.safetensors", seed=1)
    both = score_finetuned(survey / "field.tif", survey / "axes.gpkg", area, after, init=tiny_model)
    card = json.loads(after.with_suffix(".json").read_text())
    same = lambda a, b: json.dumps(a, sort_keys=True) == json.dumps(b, sort_keys=True)  # noqa: E731 (NaN == NaN)
    assert same(card["metrics"]["held_out_outside_area"], {"tolerance_m": 500.0, **both})
    assert same(both["before"], scores["m"])


# ----------------------------------------------------------------------------- vectoriser options
def _write(path, prob):
    with rasterio.open(path, "w", driver="GTiff", count=1, height=prob.shape[0], width=prob.shape[1],
                       dtype="float32", crs="EPSG:32633", transform=from_origin(0, 10000, CELL, CELL),
                       nodata=float("nan")) as ds:
        ds.write(prob.astype(np.float32)[None])
    return path


def test_straightness_and_mean_probability_filters(tmp_path):
    import cv2

    img = np.zeros((120, 120), np.uint8)
    cv2.line(img, (10, 100), (110, 100), 255, 3)          # straight, strong
    cv2.circle(img, (50, 45), 25, 255, 3)                 # a ring: straightness ~0
    prob = np.where(img > 0, 0.9, 0.05).astype(np.float32)
    weak = np.zeros((120, 120), np.uint8)
    cv2.line(weak, (10, 10), (110, 20), 255, 3)
    prob[weak > 0] = 0.55                                  # straight but barely above the threshold
    path = _write(tmp_path / "p.tif", prob)
    every = vectorize_probability(path, params=VectorizeParams(min_mean_prob=0.0))
    assert len(every) == 3 and every["straight"].between(0, 1).all()
    assert every["straight"].min() < 0.3 and every["straight"].max() > 0.95
    kept = vectorize_probability(path, params=VectorizeParams(min_straightness=0.5, min_mean_prob=0.7))
    assert len(kept) == 1 and kept.iloc[0]["straight"] > 0.95 and kept.iloc[0]["mean_prob"] > 0.85
    with pytest.raises(GeocoreError, match="between 0 and 1"):
        VectorizeParams(min_straightness=1.5).check()


def test_mean_probability_default_follows_the_map(tmp_path):
    """Unset, min_mean_prob is 0.8 on a network's probability and 0 on a classical ridge map (tagged by detect)."""
    from geocore.lineaments.vectorize import NETWORK_MIN_MEAN_PROB

    prob = np.full((120, 120), 0.05, np.float32)
    for row, value in ((30, 0.95), (60, 0.7), (90, 0.55)):  # strong, middling and weak straight lines
        prob[row - 1:row + 2, 10:110] = value
    network = _write(tmp_path / "network.tif", prob)
    ridge = _write(tmp_path / "ridge.tif", prob)
    with rasterio.open(ridge, "r+") as ds:
        ds.update_tags(method="tga")
    assert VectorizeParams().min_mean_prob is None and NETWORK_MIN_MEAN_PROB == 0.8
    assert VectorizeParams().for_raster(network).min_mean_prob == NETWORK_MIN_MEAN_PROB
    assert VectorizeParams().for_raster(ridge).min_mean_prob == 0.0
    assert VectorizeParams(min_mean_prob=0.6).for_raster(network).min_mean_prob == 0.6  # given: kept
    assert sorted(vectorize_probability(network)["mean_prob"].round(1)) == [0.9]  # only the strong one (quantised)
    assert len(vectorize_probability(ridge)) == 3
    assert len(vectorize_probability(network, params=VectorizeParams(min_mean_prob=0.6))) == 2


# ----------------------------------------------------------------------------- survey preset pieces
def test_gridding_from_lines_reproduces_a_field_linear_across_the_lines():
    r, c = np.mgrid[0:64, 0:64].astype(float)
    field = 3.0 * c + 0.5 * r  # linear: cubic interpolation across lines is exact for it
    out = _grid_from_lines(np.random.default_rng(0), field, spacing=6.0)
    assert np.abs(out - field)[8:-8, 8:-8].max() < 1e-4 * np.ptp(field)
    # ... and loses a feature narrower than the line spacing that runs between the lines
    spike = np.zeros((64, 64))
    spike[:, 33] = 1.0
    outs = [_grid_from_lines(np.random.default_rng(s), spike, spacing=8.0)[:, 33].mean() for s in range(6)]
    assert min(outs) < 0.9


def test_fractal_background_has_unit_spread_and_follows_its_fabric():
    cfg = SurveyConfig.from_preset("survey")
    bg = _geology_background(np.random.default_rng(3), 128, 128, cfg, 90.0, 0.0, fabric=0.0)  # fabric strikes N
    assert bg.std() == pytest.approx(1.0, rel=1e-6)
    gr, gc = np.gradient(bg)
    # striking north: values change faster across (east-west, columns) than along (rows)
    assert np.mean(gc ** 2) > np.mean(gr ** 2)


def test_survey_preset_makes_labelled_grids():
    from geocore.magnetics.synthetic import synthesize_sample

    s = synthesize_sample(np.random.default_rng([5, 1]), 96, 96, CELL, SurveyConfig.from_preset("survey"))
    assert np.isfinite(s.field).all() and s.mask.any() and s.field.dtype == np.float32
