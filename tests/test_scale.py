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
from geocore.lineaments.scale import (anomaly_wavenumber, auto_scale, card_reference, card_wavenumber_reference,
                                      choose_scale, grid_bandwidth, parse_scales, preset_reference, refine_rows,
                                      refined_shape, resolved_bandwidth, training_reference)
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


def _block_mean(a: np.ndarray, k: int) -> np.ndarray:
    n0, n1 = a.shape[0] // k, a.shape[1] // k
    return a[:n0 * k, :n1 * k].reshape(n0, k, n1, k).mean(axis=(1, 3))


def test_anomaly_wavenumber_doubles_on_cells_twice_as_large_and_ignores_white_noise():
    f = _band_limited(1 / 16, n=384, seed=6)  # wavelengths of 16 cells and more
    k1 = anomaly_wavenumber(f)
    assert 0.05 <= k1 <= 0.15
    for k in (2, 3):
        assert abs(anomaly_wavenumber(_block_mean(f, k)) - k * k1) <= 0.05 * k
    noisy = f + 0.5 * f.std() * np.random.default_rng(7).normal(size=f.shape)
    assert resolved_bandwidth(noisy, share=0.5) >= 0.5  # the plain median is pulled up by the noise
    assert abs(anomaly_wavenumber(noisy) - k1) <= 0.025  # above the noise floor it is not
    assert anomaly_wavenumber(1e3 * f + 4e4) == k1
    assert np.isnan(anomaly_wavenumber(np.ones((50, 50))))


def test_auto_scale_refines_grids_whose_anomalies_are_narrower_than_the_training_ones():
    ref = (0.2, 0.325)  # median and 90th percentile of the training inputs
    assert auto_scale(0.95, 0.7, wavenumber=0.4, wavenumber_reference=ref) == 2.0
    assert auto_scale(0.95, 0.7, wavenumber=0.5, wavenumber_reference=ref) == 2.5
    assert auto_scale(0.95, 0.7, wavenumber=0.9, wavenumber_reference=ref) == 3.0  # at most MAX_REFINE
    assert auto_scale(0.95, 0.7, wavenumber=0.35, wavenumber_reference=ref) == 1.0  # within the tolerance
    assert auto_scale(0.95, 0.7, wavenumber=0.4, wavenumber_reference=None) == 1.0  # no reference
    assert auto_scale(0.3, 0.7, wavenumber=0.4, wavenumber_reference=ref) == 0.45  # oversampled wins

    class Card:
        training = {"resolved_bandwidth": {"p10": 0.7}, "anomaly_wavenumber": {"p50": 0.2, "p90": 0.325}}

    assert card_wavenumber_reference(Card()) == ref
    asked = []

    def measure(fn):
        asked.append(fn.__name__)
        return {"resolved_bandwidth": 0.95, "anomaly_wavenumber": 0.41}[fn.__name__]

    scale, figures = choose_scale(measure, Card())
    assert scale == 2.0 and figures["wavenumber"] == 0.41 and asked == ["resolved_bandwidth", "anomaly_wavenumber"]
    asked.clear()
    scale, figures = choose_scale(lambda fn: asked.append(fn.__name__) or 0.3, Card())
    assert scale == 0.45 and figures["wavenumber"] is None and asked == ["resolved_bandwidth"]  # not measured
    Card.training = {"resolved_bandwidth": {"p10": 0.7}}
    assert card_wavenumber_reference(Card()) is None and choose_scale(measure, Card())[0] == 1.0


def test_refined_rows_in_strips_equal_the_whole_grid_and_keep_nodata():
    f = _band_limited(1 / 6, n=90, seed=8)[:, :70]
    f[30:40, 20:35] = np.nan
    read = lambda r0, r1: f[r0:r1]  # noqa: E731
    h, w = refined_shape(90, 70, 2.5)
    assert (h, w) == (225, 175)
    whole = refine_rows(read, 90, 70, 2.5, 0, h)
    strips = np.vstack([refine_rows(read, 90, 70, 2.5, a, min(h, a + 40)) for a in range(0, h, 40)])
    np.testing.assert_allclose(strips, whole, atol=1e-4 * np.nanmax(np.abs(f)), equal_nan=True)
    assert np.isnan(whole[int(35 * 2.5), int(27 * 2.5)]) and np.isnan(whole).mean() < 0.05
    # the refined cell centres sample the grid: the cell at (2.5 i + 1.25 - 0.5) is grid cell i's centre area
    smooth = _band_limited(1 / 12, n=64, seed=9)
    fine = refine_rows(lambda r0, r1: smooth[r0:r1], 64, 64, 3.0, 0, 192)
    np.testing.assert_allclose(fine[1::3, 1::3], smooth, atol=1e-3 * np.abs(smooth).max())


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
    both = preset_reference(["paper"], n=3, size=64, measure=(resolved_bandwidth, anomaly_wavenumber))
    assert [r["estimator"].rsplit(".", 1)[1] for r in both] == ["resolved_bandwidth", "anomaly_wavenumber"]
    assert ref["p50"] <= ref["p90"] <= max(resolved_bandwidth(a) for a in arrays)
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
    median, p90 = card_wavenumber_reference(card)
    assert 0.1 <= median < p90 <= 0.5


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
    """The same dykes on cells 3x smaller: auto sees the grid at about a third of its resolution and finds
    them all (measured: recall 1.0; at full resolution 0.94 with the shipped seventh stage, 0.55 with the fifth)."""
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
    assert r_auto >= max(r_full, 0.9), (r_native, r_auto, r_full)
    assert r_auto >= 0.9 * r_native, (r_native, r_auto, r_full)


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


def test_auto_refines_a_grid_coarser_than_its_anomalies(tmp_path):
    """The same dykes on cells 3x larger (block means): auto measures anomalies narrower than the ones the
    shipped CNN learned, refines the grid and finds more of them (measured with the seventh stage: recall 0.95
    against 0.88 at the grid's resolution; the fifth stage 0.95 against 0.55)."""
    import geopandas as gpd

    from geocore.lineaments.compare import CompareParams, compare_lines
    from geocore.lineaments.detect import detect_to_folder
    from geocore.magnetics.synthetic import synthesize_survey

    res = synthesize_survey(tmp_path / "native", rows=288, cols=288, cell_size=50.0, seed=5,
                            config=SurveyConfig.from_preset("paper"))
    with rasterio.open(res.field_path) as ds:
        a, profile, tr = ds.read(1).astype(np.float64), ds.profile, ds.transform
    profile.update(width=96, height=96, transform=tr * tr.scale(3, 3))
    coarse = tmp_path / "coarse.tif"
    with rasterio.open(coarse, "w", **profile) as dst:
        dst.write(_block_mean(a, 3).astype(np.float32), 1)
    expert = gpd.read_file(res.axes_path)

    def scored(scales):
        r = detect_to_folder(coarse, tmp_path / str(scales), scales=scales)
        return r, compare_lines(r.gdf, expert, CompareParams(tolerance=300.0)).scores

    auto, s_auto = scored("auto")
    full, s_full = scored([1.0])
    assert 2.0 <= auto.scales[0] <= 3.0 and auto.wavenumber > auto.wavenumber_reference[1]
    assert "interpolated to cells" in auto.scale_note()
    with rasterio.open(auto.probability) as ds:
        assert (ds.height, ds.width) == (96, 96) and ds.transform == profile["transform"]  # on the grid's cells
        assert ds.tags()["scales"] == f"{auto.scales[0]:g}" and "grid_anomaly_wavenumber" in ds.tags()
    assert s_auto.recall >= s_full.recall + 0.04 and s_auto.recall >= 0.9, (s_auto, s_full)
    assert s_auto.precision >= 0.9


def test_a_refined_pass_is_pooled_back_onto_the_grid_cells(tmp_path):
    """A pointwise 'network' on a ramp, at scale 2: each grid cell gets the largest value of the two x
    two finer cells in it, that of the finer cell centred a quarter cell east of its centre."""
    import torch

    from geocore.inference import TileParams
    from geocore.lineaments.detect import predict_multiscale
    from geocore.models import ModelCard

    class Pointwise(torch.nn.Module):
        def forward(self, x):
            return 6.0 * (x[:, :1] - 0.5)

    card = ModelCard(tile_size=64, normalization={"mode": "affine", "scale": [1 / 100.0], "offset": [0.0]})
    y, x = np.mgrid[0:50, 0:70].astype(np.float64)
    ramp = 1.0 * x + 0.2 * y
    ramp[20:26, 30:40] = np.nan
    src = _write(tmp_path / "ramp.tif", ramp)
    out = predict_multiscale(src, tmp_path / "p.tif", Pointwise(), card, band=1, params=TileParams(),
                             scales=[2.0])
    with rasterio.open(out) as ds:
        got = ds.read(1)
        assert (ds.height, ds.width) == ramp.shape
    assert np.array_equal(np.isnan(got), np.isnan(ramp))
    want = 1.0 / (1.0 + np.exp(-6.0 * ((x + 0.25) + 0.2 * (y + 0.25)) / 100.0 + 3.0))
    inner = np.zeros(ramp.shape, bool)
    inner[3:-3, 3:-3] = True  # the spline's edge continuation is flat
    far = ndimage.distance_transform_edt(np.isfinite(ramp)) > 3  # and so is the nearest fill of the hole
    np.testing.assert_allclose(got[inner & far], want[inner & far], atol=1e-4)


@pytest.mark.parametrize("scales", [[5.0], [0.01], [0.5, 0.5]])
def test_scales_out_of_range_are_refused_before_anything_runs(resampled_survey, tmp_path, scales):
    from geocore.lineaments.detect import detect_to_folder

    _, fine = resampled_survey
    with pytest.raises(GeocoreError, match=r"distinct factors in \[0.05, 4\].*above 1: interpolated"):
        detect_to_folder(fine, tmp_path / "out", scales=scales)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())
