"""Tiled inference equals the same operation on the whole raster."""

from __future__ import annotations


import numpy as np
import pytest
import rasterio
import torch
from rasterio.transform import from_origin

from cancelling import CancelAfter
from geocore.errors import Cancelled, GeocoreError
from geocore.inference import TileParams, blend_window, predict_raster, tile_origins
from geocore.models import ModelCard, normalize

TRANSFORM = from_origin(300000.0, 6000000.0, 25.0, 25.0)


def write_tif(path, data, *, nodata=None, crs="EPSG:32611"):
    data = np.asarray(data)
    if data.ndim == 2:
        data = data[None]
    with rasterio.open(path, "w", driver="GTiff", count=data.shape[0], height=data.shape[1],
                       width=data.shape[2], dtype=data.dtype.name, nodata=nodata, crs=crs,
                       transform=TRANSFORM) as ds:
        ds.write(data)
    return path


def smooth_field(rows, cols, seed=0):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:rows, 0:cols].astype(np.float64)
    f = 40.0 * np.sin(x / 9.0 + 1.0) * np.cos(y / 13.0) + 5.0 * rng.standard_normal((rows, cols))
    return (f + 0.02 * x * y).astype(np.float32)


class Pointwise(torch.nn.Module):
    """A 'network' whose output at a cell depends only on that cell."""

    def __init__(self, classes=1):
        super().__init__()
        self.classes = classes

    def forward(self, x):
        z = 6.0 * (x[:, :1] - 0.5)
        if self.classes == 1:
            return z
        return torch.cat([z * (k + 1) - k for k in range(self.classes)], dim=1)


class Local(torch.nn.Module):
    """A fixed 5 x 5 box filter (zero padded, as a U-Net's convolutions are)."""

    def forward(self, x):
        k = torch.full((1, 1, 5, 5), 1.0 / 25.0)
        return 8.0 * (torch.nn.functional.conv2d(x, k, padding=2) - 0.5)


def card_for(tile=64, window=21, mode="local_zscore", classes=1):
    norm = {"mode": mode, "window": window, "clip": 3.0} if mode == "local_zscore" else {"mode": mode}
    return ModelCard(tile_size=tile, normalization=norm, classes=classes,
                     class_names=[f"c{i}" for i in range(classes)])


def expected_pointwise(field, card):
    z = 6.0 * (normalize(field, card.normalization)[0].astype(np.float64) - 0.5)
    return 1.0 / (1.0 + np.exp(-z))


def read(path):
    with rasterio.open(path) as ds:
        return ds.read(), ds.profile, ds.crs, ds.transform, ds.descriptions


def test_tile_origins_cover_the_axis():
    for length in (1, 63, 64, 65, 100, 257):
        for tile, stride in ((64, 32), (64, 48), (64, 64)):
            o = tile_origins(length, tile, stride)
            assert o[0] == 0 and (length <= tile or o[-1] + tile == length)
            assert np.all(np.diff(o) <= stride)


def test_blend_window_halves_sum_to_one():
    w2 = blend_window(64, margin=0)
    one_d = w2[32] / np.sqrt(w2[32, 32])  # the 1-D window
    s = one_d[:32] + one_d[32:]
    assert np.allclose(s, 1.0, atol=1e-5)
    m = blend_window(64)  # default margin 4: the border cells hardly count
    assert m[:4].max() < 1e-5 and m[32, 32] > 0.99


@pytest.mark.parametrize("shape", [(150, 170), (64, 64), (20, 33), (97, 260), (1, 80), (600, 90), (70, 1300)])
@pytest.mark.parametrize("overlap", [0.5, 0.25, 0.3])
def test_pointwise_network_equals_whole_raster(tmp_path, shape, overlap):
    field = smooth_field(*shape, seed=shape[0])
    src = write_tif(tmp_path / "in.tif", field)
    card = card_for()
    out = predict_raster(src, tmp_path / "p.tif", Pointwise(), card, params=TileParams(overlap=overlap, batch_size=3))
    data, profile, *_ = read(out)
    assert data.shape == (1, *shape)
    np.testing.assert_allclose(data[0], expected_pointwise(field, card), atol=2e-5)


def test_minmax_is_per_tile(tmp_path):
    field = smooth_field(50, 60)  # smaller than a tile: the one tile is the whole raster
    src = write_tif(tmp_path / "in.tif", field)
    card = card_for(mode="minmax")
    got = read(predict_raster(src, tmp_path / "p.tif", Pointwise(), card))[0][0]
    np.testing.assert_allclose(got, expected_pointwise(field, card), atol=2e-5)
    big = write_tif(tmp_path / "big.tif", smooth_field(64, 200))
    got = read(predict_raster(big, tmp_path / "q.tif", Pointwise(), card, params=TileParams(overlap=0.0)))[0][0]
    tile0 = smooth_field(64, 200)[:, :64]
    np.testing.assert_allclose(got[:, :64], expected_pointwise(tile0, card), atol=2e-5)


def test_local_network_has_no_seams(tmp_path):
    field = smooth_field(200, 230, seed=3)
    src = write_tif(tmp_path / "in.tif", field)
    card = card_for(mode="affine")
    card.normalization = {"mode": "affine", "scale": [1 / 200.0], "offset": [0.5]}
    out = predict_raster(src, tmp_path / "p.tif", Local(), card, params=TileParams(overlap=0.5, batch_size=5))
    got = read(out)[0][0]
    x = torch.from_numpy(normalize(field, card.normalization)[None])
    want = torch.sigmoid(Local()(x))[0, 0].numpy()
    inner = (slice(3, -3), slice(3, -3))  # the whole-raster op is zero padded at the raster edge too
    assert np.abs(got[inner] - want[inner]).max() < 1e-4


def test_nan_and_nodata_cells_come_back_nan(tmp_path):
    field = smooth_field(130, 140, seed=5)
    field[40:60, 50:75] = np.nan
    field[100, 3] = -9999.0
    src = write_tif(tmp_path / "in.tif", field, nodata=-9999.0)
    card = card_for()
    got = read(predict_raster(src, tmp_path / "p.tif", Pointwise(), card))[0][0]
    masked = field.astype(np.float64)
    masked[masked == -9999.0] = np.nan
    want = expected_pointwise(masked, card)
    nan = np.isnan(masked)
    assert np.array_equal(np.isnan(got), nan)
    np.testing.assert_allclose(got[~nan], want[~nan], atol=2e-5)


def test_network_sees_no_step_at_a_nodata_edge(tmp_path):
    # a constant field with an irregular nodata hole and a nodata margin: a network that
    # averages its neighbours gives the same value next to nodata as far from it,
    # because nodata cells take the nearest value (a neutral fill would be a step there)
    field = np.full((150, 170), 300.0, np.float32)
    y, x = np.mgrid[0:150, 0:170]
    field[np.hypot(y - 70, (x - 80) * 1.3) < 25] = np.nan
    field[:, 150:] = np.nan
    src = write_tif(tmp_path / "in.tif", field)
    card = card_for(mode="affine")
    card.normalization = {"mode": "affine", "scale": [1 / 1000.0], "offset": [0.6]}  # 300 -> 0.9
    got = read(predict_raster(src, tmp_path / "p.tif", Local(), card, params=TileParams(overlap=0.5)))[0][0]
    data = np.isfinite(field)
    assert np.array_equal(np.isnan(got), ~data)
    inner = np.zeros_like(data)
    inner[3:-3, 3:-3] = True  # the raster border is zero padded inside the network
    want = 1.0 / (1.0 + np.exp(-8.0 * (0.9 - 0.5)))
    np.testing.assert_allclose(got[data & inner], want, atol=1e-5)
    # the neutral fill this replaced: cells next to the hole saw 0 (affine's neutral value)
    from geocore.raster.fill import fill_nearest

    a = np.array([[[1.0, 2.0, 0.0, 0.0], [4.0, 5.0, 0.0, 0.0]]])
    mask = np.array([[False, False, True, True], [False, False, True, True]])
    assert fill_nearest(a, mask).tolist() == [[[1.0, 2.0, 2.0, 2.0], [4.0, 5.0, 5.0, 5.0]]]
    assert fill_nearest(a, np.zeros_like(mask)) is a


class EastGradient(torch.nn.Module):
    """A directional 'network': the east-west difference of its input (odd under a half turn)."""

    def forward(self, x):
        k = torch.tensor([[[[-1.0, 0.0, 1.0]]]]) * 20.0
        return torch.nn.functional.conv2d(x, k, padding=(0, 1))


@pytest.mark.parametrize("augment", [2, 4, 8])
def test_test_time_augmentation_turns_each_view_back(tmp_path, augment):
    field = smooth_field(130, 150, seed=7)
    src = write_tif(tmp_path / "in.tif", field)
    card = card_for()
    one = read(predict_raster(src, tmp_path / "one.tif", Pointwise(), card))[0][0]
    # a pointwise network is the same in every view, once each prediction is turned back
    got = read(predict_raster(src, tmp_path / f"a{augment}.tif", Pointwise(), card,
                              params=TileParams(augment=augment)))[0][0]
    np.testing.assert_allclose(got, one, atol=2e-5)
    # a directional one is not: a half turn flips the sign of its logit, and
    # sigmoid(z) + sigmoid(-z) = 1, so every pair of opposite views averages to exactly 0.5
    card = card_for(mode="affine")
    card.normalization = {"mode": "affine", "scale": [1 / 200.0], "offset": [0.5]}
    plain = read(predict_raster(src, tmp_path / "g1.tif", EastGradient(), card))[0][0]
    turned = read(predict_raster(src, tmp_path / f"g{augment}.tif", EastGradient(), card,
                                 params=TileParams(augment=augment)))[0][0]
    inner = (slice(2, -2), slice(2, -2))
    assert np.abs(plain[inner] - 0.5).max() > 0.1
    np.testing.assert_allclose(turned[inner], 0.5, atol=1e-6)


def test_bad_augmentation_is_refused():
    with pytest.raises(GeocoreError, match="test-time augmentation 3 must be one of 1, 2, 4, 8"):
        TileParams(augment=3).check()


def test_output_profile_georeferencing_and_softmax(tmp_path):
    src = write_tif(tmp_path / "in.tif", smooth_field(90, 300))
    card = card_for(classes=3)
    data, profile, crs, transform, desc = read(predict_raster(src, tmp_path / "p.tif", Pointwise(3), card))
    assert data.dtype == np.float32 and data.shape == (3, 90, 300)
    assert crs.to_epsg() == 32611 and transform == TRANSFORM
    assert profile["tiled"] and profile["blockxsize"] == 256 and profile["blockysize"] == 256
    assert profile["compress"] == "deflate" and np.isnan(profile["nodata"])
    assert desc[0] == "probability of c0"
    np.testing.assert_allclose(data.sum(axis=0), 1.0, atol=1e-5)


def test_multiband_band_choice(tmp_path):
    f = smooth_field(70, 70)
    src = write_tif(tmp_path / "in.tif", np.stack([f * 0, f, f * 0 + 1]))
    card = card_for()
    with pytest.raises(GeocoreError, match="has 3 bands; choose one"):
        predict_raster(src, tmp_path / "p.tif", Pointwise(), card)
    got = read(predict_raster(src, tmp_path / "p.tif", Pointwise(), card, bands=[2]))[0][0]
    np.testing.assert_allclose(got, expected_pointwise(f, card), atol=2e-5)


@pytest.mark.parametrize("tile,overlap,msg", [(50, 0.5, "multiple of 32"), (64, 1.0, "overlap"),
                                              (64, -0.1, "overlap")])
def test_bad_params(tmp_path, tile, overlap, msg):
    src = write_tif(tmp_path / "in.tif", smooth_field(40, 40))
    with pytest.raises(GeocoreError, match=msg):
        predict_raster(src, tmp_path / "p.tif", Pointwise(), card_for(),
                       params=TileParams(tile_size=tile, overlap=overlap))
    assert not (tmp_path / "p.tif").exists()


def test_cancel_leaves_nothing(tmp_path):
    src = write_tif(tmp_path / "in.tif", smooth_field(300, 300))
    cancel = CancelAfter(2)
    with pytest.raises(Cancelled):
        predict_raster(src, tmp_path / "p.tif", Pointwise(), card_for(), params=TileParams(batch_size=2),
                       cancel=cancel)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.tif"]


def test_refuses_to_overwrite_input(tmp_path):
    src = write_tif(tmp_path / "in.tif", smooth_field(40, 40))
    before = src.read_bytes()
    with pytest.raises(GeocoreError, match="also an input"):
        predict_raster(src, src, Pointwise(), card_for())
    assert src.read_bytes() == before


def test_real_unet_runs_and_reports_progress(tmp_path):
    from geocore.models import build_model, load_model, save_model

    card = ModelCard(tile_size=64, encoder="resnet18", decoder_channels=[16, 16, 16, 16, 16],
                     normalization={"mode": "local_zscore", "window": 31, "clip": 3.0})
    torch.manual_seed(0)
    path = save_model(build_model(card), card, tmp_path / "m.safetensors")
    model, card = load_model(path)
    src = write_tif(tmp_path / "in.tif", smooth_field(100, 90))
    seen = []
    data = read(predict_raster(src, tmp_path / "p.tif", model, card, params=TileParams(batch_size=4),
                               progress=seen.append))[0]
    assert data.shape == (1, 100, 90) and np.isfinite(data).all()
    assert data.std() > 1e-4  # a map that follows the field, not a constant
    assert seen == sorted(seen) and seen[-1] == pytest.approx(1.0) and len(seen) >= 2


def test_padding_continues_a_sloping_field_without_a_false_ridge():
    """A raster smaller than a tile is padded by odd reflection: a field sloping up to the border keeps
    rising beyond it (a mirror would fold it into a ridge along the border, which the network marks)."""
    from geocore.inference.tiled import _pad_to

    rows = np.linspace(0.1, 0.6, 40, dtype=np.float32)
    field = np.stack([np.repeat(rows[:, None], 30, axis=1), np.full((40, 30), 0.3, np.float32)])
    field[0, :5, 25:] = 0.9  # a strong anomaly elsewhere in the tile: the band's range goes to 0.9
    padded = _pad_to(field, 64)
    assert padded.shape == (2, 64, 64) and padded.dtype == np.float32
    np.testing.assert_array_equal(padded[:, :40, :30], field)  # the data are untouched
    column = padded[0, :, 10]
    assert np.all(np.diff(column) >= -1e-6)  # no ridge: still rising past row 40
    step = rows[1] - rows[0]
    np.testing.assert_allclose(column[40:44], rows[-1] + step * np.arange(1, 5), atol=1e-5)  # same gradient
    assert padded[0].max() <= 0.9 + 1e-6 and padded[0].min() >= 0.1 - 1e-6  # within the band's range in the tile
    np.testing.assert_allclose(padded[1], 0.3)  # a flat band stays flat
    assert _pad_to(field[:, :1, :], 64).shape == (2, 64, 64)  # one row: edge padding
