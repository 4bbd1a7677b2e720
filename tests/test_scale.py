"""Resolved bandwidth and the automatic CNN resolution (``detect --scales auto``)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import rasterio
from scipy import ndimage

from geocore.errors import GeocoreError
from geocore.lineaments.scale import (auto_scale, card_reference, grid_bandwidth, parse_scales,
                                      preset_reference, resolved_bandwidth, training_reference)
from geocore.magnetics.synthetic import SurveyConfig, synthesize_sample
from testdata import write_refined


def _band_limited(cutoff: float, n: int = 256, seed: int = 0) -> np.ndarray:
    """Random field holding only wavenumbers below ``cutoff`` cycles per cell."""
    rng = np.random.default_rng(seed)
    F = np.fft.fft2(rng.normal(size=(n, n)))
    k = np.hypot(*np.meshgrid(np.fft.fftfreq(n), np.fft.fftfreq(n)))
    return np.real(np.fft.ifft2(F * (k < cutoff)))


@pytest.mark.parametrize("wavelength", [3.0, 5.0, 8.0, 16.0])
def test_bandwidth_of_a_band_limited_field_is_its_cutoff(wavelength):
    """Only wavelengths of ``wavelength`` cells and more: the bandwidth is 2 / wavelength of the Nyquist."""
    expected = 2.0 / wavelength
    b = resolved_bandwidth(_band_limited(1.0 / wavelength))
    assert expected - 0.01 <= b <= expected + 0.06  # the taper spreads it by up to two bins of 0.025


def test_full_band_grids_measure_about_one_and_units_do_not_matter():
    f = synthesize_sample(np.random.default_rng(3), rows=192, cols=192).field.astype(np.float64)
    b = resolved_bandwidth(f)
    assert b >= 0.8  # the raw field of a paper survey: its dykes and noise reach close to the Nyquist
    assert resolved_bandwidth(1000.0 * f - 5e4) == b
    assert resolved_bandwidth(f.T) == b
    assert resolved_bandwidth(np.random.default_rng(1).normal(size=(128, 128))) == 1.0  # white noise


def test_bandwidth_falls_with_resampling_to_finer_cells():
    """A grid interpolated to cells k times smaller keeps its energy below about 1/k of its new Nyquist."""
    f = _band_limited(0.45, n=128, seed=2)  # close to full band
    assert resolved_bandwidth(f) >= 0.9
    for k in (2, 3, 4):
        fine = resolved_bandwidth(ndimage.zoom(f, k, order=3))
        assert 1.0 / k - 0.05 <= fine <= 1.3 / k  # cubic interpolation leaks a little above 1/k


def test_nodata_holes_and_small_grids():
    f = _band_limited(1 / 8)
    holed = f.copy()
    holed[40:90, 100:160] = np.nan
    assert abs(resolved_bandwidth(holed) - resolved_bandwidth(f)) <= 0.1
    assert np.isnan(resolved_bandwidth(np.full((20, 20), np.nan)))
    assert np.isnan(resolved_bandwidth(np.ones((50, 50))))
    assert np.isnan(resolved_bandwidth(np.ones((8, 200))))
    with pytest.raises(GeocoreError, match="rows, cols"):
        resolved_bandwidth(np.ones(10))


def _write(path: Path, a: np.ndarray, nodata=None) -> Path:
    with rasterio.open(path, "w", driver="GTiff", width=a.shape[1], height=a.shape[0], count=1, dtype="float32",
                       crs="EPSG:32633", transform=rasterio.transform.from_origin(0, 0, 100, 100),
                       nodata=nodata) as dst:
        dst.write(a.astype(np.float32), 1)
    return path


def test_a_large_grid_is_measured_on_windows(tmp_path):
    a = _band_limited(1 / 6, n=1300, seed=4)
    whole = resolved_bandwidth(a)
    assert abs(grid_bandwidth(_write(tmp_path / "g.tif", a), window=256, max_windows=9) - whole) <= 0.03
    # the band's nodata value is a hole, not data (a -99999 step would look like full band)
    b = a.copy()
    b[:, :300] = -99999.0
    assert abs(grid_bandwidth(_write(tmp_path / "n.tif", b, nodata=-99999.0), window=256) - whole) <= 0.05


def test_auto_scale_rule():
    assert auto_scale(0.975, 0.95) == 1.0  # resolves as much as the training data: as it is
    assert auto_scale(0.86, 0.95) == 1.0  # within the tolerance
    assert auto_scale(0.84, 0.95) == 0.9
    assert auto_scale(0.5, 0.95) == 0.55
    assert auto_scale(0.33, 0.95) == 0.35
    assert auto_scale(0.1, 0.95) == 0.2  # never below the floor
    assert auto_scale(0.5, None) == 1.0  # no reference on the card
    assert auto_scale(float("nan"), 0.95) == 1.0


def test_training_reference_and_card():
    rng = np.random.default_rng(0)
    arrays = [synthesize_sample(rng, rows=96, cols=96).field for _ in range(12)]
    arrays += [ndimage.zoom(a[:48, :48], 2, order=3) for a in arrays[:4]]  # some less resolved
    ref = training_reference(arrays)
    assert preset_reference(["paper"], n=3, size=64)["samples"] == 3
    values = sorted(resolved_bandwidth(a) for a in arrays)
    assert values[0] <= ref["p5"] <= ref["p10"] <= ref["p50"] <= values[-1]
    assert ref["samples"] == 16

    class Card:
        training = {"resolved_bandwidth": ref}

    assert card_reference(Card()) == ref["p10"]
    Card.training = {}
    assert card_reference(Card()) is None


def test_shipped_card_records_its_reference():
    from geocore.lineaments.detect import default_model_path
    from geocore.models.card import ModelCard

    card = ModelCard.load(default_model_path().with_suffix(".json"))
    ref = card_reference(card)
    assert ref is not None and 0.5 < ref <= 1.0


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
    return res, write_refined(res.field_path, folder / "fine.tif", 3)


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
    assert native.scales == (1.0,) and native.bandwidth >= 0.9 * native.reference_bandwidth
    assert 0.3 <= auto.scales[0] <= 0.55 and auto.bandwidth < auto.reference_bandwidth
    assert "of the grid's resolution" in auto.scale_note()
    assert full.scales == (1.0,) and full.bandwidth is None and full.scale_note() is None
    assert r_auto >= r_full + 0.1, (r_native, r_auto, r_full)
    assert r_auto >= 0.8 * r_native, (r_native, r_auto, r_full)


def test_a_card_without_reference_runs_as_it_is(resampled_survey, tmp_path):
    from geocore.lineaments.detect import default_model_path, detect_to_folder

    _, fine = resampled_survey
    src = default_model_path()
    shutil.copy(src, tmp_path / "m.safetensors")
    card = json.loads(src.with_suffix(".json").read_text())
    del card["training"]["resolved_bandwidth"]
    (tmp_path / "m.json").write_text(json.dumps(card))
    r = detect_to_folder(fine, tmp_path / "out", model_path=tmp_path / "m.safetensors")
    assert r.scales == (1.0,)
    assert "records no training bandwidth" in r.scale_note()


def test_classical_methods_ignore_auto(resampled_survey, tmp_path):
    from geocore.lineaments.detect import detect_to_folder

    _, fine = resampled_survey
    r = detect_to_folder(fine, tmp_path / "tga", method="tga")
    assert r.scales == (1.0,) and r.scale_note() is None
