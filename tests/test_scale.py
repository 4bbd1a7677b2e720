"""Anomaly length and the automatic CNN resolution (``detect --scales auto``)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import rasterio
from scipy import ndimage

from geocore.errors import GeocoreError
from geocore.lineaments.scale import (anomaly_length, auto_scale, card_reference, grid_anomaly_length,
                                      parse_scales, training_reference)
from geocore.magnetics.synthetic import SurveyConfig, synthesize_sample


def _stripes(wavelength: float, n: int = 256, angle_deg: float = 0.0) -> np.ndarray:
    y, x = np.mgrid[0:n, 0:n].astype(float)
    t = np.deg2rad(angle_deg)
    return np.sin(2 * np.pi * (x * np.cos(t) + y * np.sin(t)) / wavelength)


@pytest.mark.parametrize("wavelength", [6.0, 10.0, 20.0, 40.0])
def test_length_of_a_sinusoid_is_its_inverse_wavenumber(wavelength):
    k = 2 * np.pi / wavelength
    # central-difference gradient and 5-point Laplacian of sin(kx): sin(k) and 2 (1 - cos k)
    discrete = np.sin(k) / (2 * (1 - np.cos(k)))
    assert anomaly_length(_stripes(wavelength)) == pytest.approx(discrete, rel=0.03)
    assert discrete == pytest.approx(1 / k, rel=0.12)  # the continuous 1/k


def test_length_ignores_units_offset_and_direction():
    f = synthesize_sample(np.random.default_rng(3), rows=160, cols=160).field.astype(np.float64)
    L = anomaly_length(f)
    assert anomaly_length(1000.0 * f - 5e4) == pytest.approx(L, rel=1e-6)
    assert anomaly_length(f.T) == pytest.approx(L, rel=1e-6)
    assert anomaly_length(_stripes(12.0, angle_deg=35.0)) == pytest.approx(anomaly_length(_stripes(12.0)), rel=0.1)


def test_length_grows_with_resampling_to_finer_cells():
    # a smooth field (an upward-continued survey) interpolated to cells 2 and 3 times smaller
    f = ndimage.gaussian_filter(synthesize_sample(np.random.default_rng(4), rows=128, cols=128).field, 2.0)
    L = anomaly_length(f)
    for k in (2, 3):
        assert anomaly_length(ndimage.zoom(f, k, order=3)) == pytest.approx(k * L, rel=0.1)


def test_nodata_holes_do_not_change_the_length():
    f = _stripes(14.0)
    holed = f.copy()
    holed[40:90, 100:160] = np.nan
    holed[:, :12] = np.nan
    assert anomaly_length(holed) == pytest.approx(anomaly_length(f), rel=0.03)
    assert np.isnan(anomaly_length(np.full((20, 20), np.nan)))
    assert np.isnan(anomaly_length(np.ones((50, 50))))
    with pytest.raises(GeocoreError, match="rows, cols"):
        anomaly_length(np.ones(10))


def _write(path: Path, a: np.ndarray, nodata=None) -> Path:
    with rasterio.open(path, "w", driver="GTiff", width=a.shape[1], height=a.shape[0], count=1, dtype="float32",
                       crs="EPSG:32633", transform=rasterio.transform.from_origin(0, 0, 100, 100),
                       nodata=nodata) as dst:
        dst.write(a.astype(np.float32), 1)
    return path


def test_a_large_grid_is_measured_on_windows(tmp_path):
    a = _stripes(16.0, n=1300)
    whole = anomaly_length(a)
    windows = grid_anomaly_length(_write(tmp_path / "g.tif", a), window=256, max_windows=9)
    assert windows == pytest.approx(whole, rel=0.02)
    # the band's nodata value is a hole, not data
    b = a.copy()
    b[:, :300] = -99999.0
    assert grid_anomaly_length(_write(tmp_path / "n.tif", b, nodata=-99999.0), window=256) == pytest.approx(whole, rel=0.03)


def test_auto_scale_rule():
    assert auto_scale(0.8, 1.07) == 1.0  # no smoother than the training data: as it is
    assert auto_scale(2.14, 1.07) == 0.5
    assert auto_scale(3.2, 1.07) == pytest.approx(0.35)
    assert auto_scale(50.0, 1.07) == 0.2  # never below the floor
    assert auto_scale(2.0, None) == 1.0  # no reference on the card
    assert auto_scale(float("nan"), 1.0) == 1.0


def test_training_reference_and_card():
    rng = np.random.default_rng(0)
    arrays = [synthesize_sample(rng, rows=96, cols=96).field for _ in range(12)]
    ref = training_reference(arrays)
    lengths = sorted(anomaly_length(a) for a in arrays)
    assert lengths[0] <= ref["p10"] <= ref["p50"] <= ref["p90"] <= lengths[-1]
    assert ref["samples"] == 12

    class Card:
        training = {"anomaly_length": ref}

    assert card_reference(Card()) == ref["p90"]
    Card.training = {}
    assert card_reference(Card()) is None


def test_shipped_card_records_its_reference():
    from geocore.lineaments.detect import default_model_path
    from geocore.models.card import ModelCard

    card = ModelCard.load(default_model_path().with_suffix(".json"))
    ref = card_reference(card)
    assert ref is not None and 0.5 < ref < 3.0


def test_parse_scales():
    assert parse_scales(None) == "auto"
    assert parse_scales(" Auto ") == "auto"
    assert parse_scales("1, 0.5;0.25") == [1.0, 0.5, 0.25]
    with pytest.raises(GeocoreError, match="auto or fractions"):
        parse_scales("auto 0.5")
    with pytest.raises(GeocoreError, match="auto or fractions"):
        parse_scales("half")


@pytest.fixture(scope="module")
def resampled_survey(tmp_path_factory):
    """A paper survey (96 x 96 cells of 150 m) and the same grid interpolated to 50 m cells."""
    from geocore.magnetics.synthetic import synthesize_survey

    folder = tmp_path_factory.mktemp("resampled")
    res = synthesize_survey(folder / "native", rows=96, cols=96, cell_size=150.0, seed=5,
                            config=SurveyConfig.from_preset("paper"))
    with rasterio.open(res.field_path) as ds:
        a, profile, tr = ds.read(1).astype(np.float64), ds.profile, ds.transform
    up = ndimage.zoom(a, 3, order=3).astype(np.float32)
    profile.update(width=up.shape[1], height=up.shape[0], transform=tr * tr.scale(1 / 3, 1 / 3))
    fine = folder / "fine.tif"
    with rasterio.open(fine, "w", **profile) as dst:
        dst.write(up, 1)
    return res, fine


def test_auto_resolution_recovers_dykes_of_an_oversampled_grid(resampled_survey, tmp_path):
    """The same dykes on cells 3x smaller: the shipped CNN misses many at full resolution, auto finds them."""
    import geopandas as gpd

    from geocore.lineaments.compare import CompareParams, compare_lines
    from geocore.lineaments.detect import detect_to_folder

    res, fine = resampled_survey
    expert = gpd.read_file(res.axes_path)

    def recall(grid, name, scales):
        r = detect_to_folder(grid, tmp_path / name, scales=scales)
        return r, compare_lines(r.gdf, expert, CompareParams(tolerance=300.0)).scores.recall

    native, r_native = recall(res.field_path, "native", "auto")
    auto, r_auto = recall(fine, "auto", "auto")
    full, r_full = recall(fine, "full", [1.0])
    assert native.scales == (1.0,) and native.anomaly_length < native.reference_length
    assert auto.scales[0] < 1.0 and auto.anomaly_length > auto.reference_length
    assert "of the grid's resolution" in auto.scale_note()
    assert full.scales == (1.0,) and full.anomaly_length is None and full.scale_note() is None
    assert r_auto >= r_full + 0.1, (r_native, r_auto, r_full)
    assert r_auto >= 0.8 * r_native, (r_native, r_auto, r_full)


def test_a_card_without_reference_runs_as_it_is(resampled_survey, tmp_path):
    from geocore.lineaments.detect import default_model_path, detect_to_folder

    _, fine = resampled_survey
    src = default_model_path()
    shutil.copy(src, tmp_path / "m.safetensors")
    card = json.loads(src.with_suffix(".json").read_text())
    del card["training"]["anomaly_length"]
    (tmp_path / "m.json").write_text(json.dumps(card))
    r = detect_to_folder(fine, tmp_path / "out", model_path=tmp_path / "m.safetensors")
    assert r.scales == (1.0,)
    assert "records no training anomaly length" in r.scale_note()


def test_classical_methods_ignore_auto(resampled_survey, tmp_path):
    from geocore.lineaments.detect import detect_to_folder

    _, fine = resampled_survey
    r = detect_to_folder(fine, tmp_path / "tga", method="tga")
    assert r.scales == (1.0,) and r.scale_note() is None
