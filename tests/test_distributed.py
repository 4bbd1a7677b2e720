"""Dask scale-out: a LocalCluster of 2 workers gives the single-process results."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio

distributed = pytest.importorskip("distributed", reason="pip install 'geocore[dask]'")

from test_tiled_inference import Local, card_for, smooth_field, write_tif  # noqa: E402

from geocore.distributed import predict_raster_distributed, strip_ranges  # noqa: E402
from geocore.errors import Cancelled, GeocoreError  # noqa: E402
from geocore.inference import TileParams, predict_raster  # noqa: E402


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                       dashboard_address=None)
    c = distributed.Client(cluster)
    yield c
    c.close()
    cluster.close()


def read(path):
    with rasterio.open(path) as ds:
        return ds.read(), ds.profile


def test_probability_raster_equals_single_process(tmp_path, client):
    field = smooth_field(333, 170, seed=4)
    field[100:120, 30:60] = np.nan
    src = write_tif(tmp_path / "in.tif", field)
    card = card_for(tile=64, window=21)
    params = TileParams(overlap=0.5, batch_size=3)
    one = predict_raster(src, tmp_path / "one.tif", Local(), card, params=params)
    fractions = []
    many = predict_raster_distributed(src, tmp_path / "many.tif", Local(), card, params=params, scheduler=client,
                                      tile_rows_per_task=2, progress=fractions.append)
    a, pa = read(one)
    b, pb = read(many)
    assert len(strip_ranges(*_plan(src, card, params), 2)) >= 5  # really several tasks
    assert np.array_equal(np.isnan(a), np.isnan(b)) and np.isnan(a).any()
    np.testing.assert_allclose(b, a, atol=1e-6, rtol=0)
    for k in ("blockxsize", "blockysize", "compress", "dtype", "crs", "transform"):
        assert pa[k] == pb[k]
    assert fractions[-1] == pytest.approx(1.0) and fractions == sorted(fractions)


def _plan(src, card, params):
    from geocore.inference.tiled import plan_tiles

    return (plan_tiles(src, card, params=params)[0],)


def test_bad_scheduler_is_one_clear_error(tmp_path):
    src = write_tif(tmp_path / "in.tif", smooth_field(40, 40))
    with pytest.raises(GeocoreError, match="not understood"):
        predict_raster_distributed(src, tmp_path / "p.tif", Local(), card_for(), scheduler="lokal:2")
    with pytest.raises(GeocoreError, match="positive integer"):
        predict_raster_distributed(src, tmp_path / "p.tif", Local(), card_for(), scheduler="local:0")
    assert not (tmp_path / "p.tif").exists()


CALLS = {"n": 0}


class Slow(Local):
    """The 5 x 5 box filter, slowed down so that a run can be interrupted half-way."""

    def forward(self, x):
        import time

        CALLS["n"] += 1
        time.sleep(0.05)
        return super().forward(x)


def test_cancel_stops_the_work_and_leaves_nothing(tmp_path, client):
    src = write_tif(tmp_path / "in.tif", smooth_field(600, 96, seed=2))
    card = card_for(tile=64)
    params = TileParams(overlap=0.5, batch_size=2)
    seen = []
    CALLS["n"] = 0
    n_strips = len(strip_ranges(_plan(src, card, params)[0], 1))
    with pytest.raises(Cancelled):
        predict_raster_distributed(src, tmp_path / "p.tif", Slow(), card, params=params, scheduler=client,
                                   tile_rows_per_task=1, progress=seen.append, cancel=lambda: len(seen) >= 2)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.tif"]
    # the queued strips were cancelled: the scheduler forgets them and the model stops being called
    import time

    deadline = time.time() + 10
    while client.cluster.scheduler.tasks and time.time() < deadline:
        time.sleep(0.1)
    assert not client.cluster.scheduler.tasks
    time.sleep(0.3)
    calls = CALLS["n"]
    time.sleep(0.5)
    assert CALLS["n"] == calls
    batches_per_strip = 2  # 2 tiles per row, batch size 2 -> one call a strip
    assert calls < n_strips * batches_per_strip / 2  # far from all of them ran


def test_killed_worker_is_retried_and_output_complete(tmp_path):
    import os
    import signal

    src = write_tif(tmp_path / "in.tif", smooth_field(500, 100, seed=7))
    card = card_for(tile=64)
    params = TileParams(overlap=0.5, batch_size=2, device="cpu")
    want, _ = read(predict_raster(src, tmp_path / "one.tif", Local(), card, params=params))
    killed = []
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cl, \
            distributed.Client(cl) as c:
        pids = c.run(os.getpid)

        def kill_once(fraction):
            if killed or fraction <= 0:
                return
            busy = [w for w, tasks in c.processing().items() if any("_strip_task" in t for t in tasks)]
            if busy:
                os.kill(pids[busy[0]], signal.SIGKILL)
                killed.append(busy[0])

        out = predict_raster_distributed(src, tmp_path / "many.tif", Slow(), card, params=params, scheduler=c,
                                         tile_rows_per_task=1, progress=kill_once)
    assert killed, "no worker was busy with a strip when the first strip arrived"
    got, _ = read(out)
    np.testing.assert_allclose(got, want, atol=1e-6, rtol=0)


# ----------------------------------------------------------------------------- class map and polygons
def class_probabilities(H=230, W=150, classes=3, seed=3):
    """Smooth random class probabilities: patches of all sizes, some crossing every strip border."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    z = np.stack([gaussian_filter(rng.standard_normal((H, W)), s) for s in (3.0, 5.0, 2.0)[:classes]])
    p = np.exp(4 * z / z.std())
    p /= p.sum(axis=0)
    p[:, 50:70, 100:130] = np.nan
    return p.astype(np.float32)


@pytest.mark.parametrize("min_grain", [0, 12])
def test_class_map_and_polygons_equal_single_process(tmp_path, client, min_grain):
    import shapely
    from geocore.distributed import class_map_distributed, polygons_distributed
    from geocore.minerals.segment import polygons_from_classes, write_class_map

    p = class_probabilities()
    src = write_tif(tmp_path / "prob.tif", p)
    codes = [0, 1, 2]  # background, two ore minerals (LumenStone codes)
    one = write_class_map(src, tmp_path / "one.tif", codes, min_grain_px=min_grain)
    many = class_map_distributed(src, tmp_path / "many.tif", codes, min_grain_px=min_grain, scheduler=client,
                                 strip_rows=40)
    got = read(many)[0][0]
    if not min_grain:
        assert np.array_equal(got, one)  # the arg-max is exact in strips
    else:  # a speck may go to another neighbour where a strip's look-ahead cut that neighbour: nothing else
        raw = write_class_map(src, tmp_path / "raw.tif", codes, min_grain_px=0)
        differ = got != one
        assert differ.mean() < 0.01 and (one != raw).any()
        assert np.all(((one != raw) | (got != raw))[differ])
    with rasterio.open(src) as ds:
        transform, crs = ds.transform, ds.crs
    want = polygons_from_classes(got, transform, crs)
    poly = polygons_distributed(many, scheduler=client, strip_rows=40)
    assert len(want) > 20 and len(poly) == len(want)
    assert poly.crs == want.crs and list(poly.columns) == list(want.columns)
    for code in set(want.code):
        a, b = want[want.code == code], poly[poly.code == code]
        np.testing.assert_allclose(np.sort(b.area), np.sort(a.area), rtol=1e-9)
        np.testing.assert_allclose(np.sort(b.perimeter), np.sort(a.perimeter), rtol=1e-9)
        ua, ub = shapely.union_all(list(a.geometry)), shapely.union_all(list(b.geometry))
        assert ua.symmetric_difference(ub).area < 1e-6 * ua.area


# ----------------------------------------------------------------------------- lines
def line_probabilities(H=300, W=260, seed=1):
    """Dyke-like ridges of several widths and strikes, with gaps, crossings and a nodata hole."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:H, 0:W].astype(float)
    p = np.zeros((H, W))
    for _ in range(9):
        x0, y0, th = rng.uniform(0, W), rng.uniform(0, H), rng.uniform(0, np.pi)
        d = np.abs((x - x0) * np.sin(th) - (y - y0) * np.cos(th))
        along = (x - x0) * np.cos(th) + (y - y0) * np.sin(th)
        on = (np.abs(along) < rng.uniform(30, 125)) & ~((along > 5) & (along < 10))
        p = np.maximum(p, 0.95 * np.exp(-0.5 * (d / rng.uniform(1.2, 3.0)) ** 2) * on)
    p[200:230, 20:60] = np.nan
    return p.astype(np.float32)


@pytest.mark.parametrize("strip_rows", [37, 64])
def test_lines_in_strips_equal_single_process(tmp_path, client, strip_rows):
    from geocore.distributed import vectorize_distributed
    from geocore.lineaments.vectorize import vectorize_probability

    src = write_tif(tmp_path / "prob.tif", line_probabilities())
    want = vectorize_probability(src)
    got = vectorize_distributed(src, scheduler=client, strip_rows=strip_rows, overlap_rows=32)
    assert len(want) >= 10 and len(got) == len(want)
    assert got.crs == want.crs and list(got.columns) == list(want.columns)
    np.testing.assert_allclose(got.length, want.length, rtol=1e-9)
    np.testing.assert_allclose(got.azimuth, want.azimuth, atol=1e-6)
    np.testing.assert_allclose(got.mean_prob, want.mean_prob, atol=1e-9)
    for a, b in zip(want.geometry, got.geometry):
        assert a.equals_exact(b, 1e-6) or a.equals_exact(b.reverse(), 1e-6)


# ----------------------------------------------------------------------------- batches on the command line
def test_transform_batch_on_a_cluster_reports_each_input(tmp_path, client, capsys):
    from geocore.cli import main

    folder = tmp_path / "grids"
    folder.mkdir()
    for i in range(3):
        write_tif(folder / f"g{i}.tif", smooth_field(40, 50, seed=i))
    write_tif(tmp_path / "h.tif", smooth_field(40, 50, seed=9))
    (tmp_path / "broken.tif").write_bytes(b"not a raster" * 30)
    out = tmp_path / "out"
    rc = main(["-q", "magnetics", "transform", str(folder), str(tmp_path / "h*.tif"), str(tmp_path / "broken.tif"),
               str(out), "--op", "dz", "--scheduler", client.scheduler.address])
    res = capsys.readouterr()
    assert rc == 2 and "1 of 5 inputs failed" in res.err
    lines = res.out.strip().splitlines()
    assert lines[-1] == "4 of 5 inputs done, 1 failed"
    assert sum(": FAILED: " in ln for ln in lines) == 1
    assert any(ln.startswith(str(tmp_path / "broken.tif")) and "FAILED" in ln for ln in lines)
    assert sorted(p.name for p in out.iterdir()) == ["g0_dz.tif", "g1_dz.tif", "g2_dz.tif", "h_dz.tif"]
    # each output is the one a single run gives
    assert main(["-q", "magnetics", "transform", str(folder / "g1.tif"), str(tmp_path / "one.tif"), "--op", "dz"]) == 0
    np.testing.assert_array_equal(read(out / "g1_dz.tif")[0], read(tmp_path / "one.tif")[0])


def test_detect_batch_without_cluster_one_folder_per_grid(tmp_path, capsys):
    import torch
    from test_detect_cli import OUTPUTS

    from geocore.cli import main
    from geocore.models import ModelCard, build_model, save_model

    card = ModelCard(tile_size=64, encoder="resnet18", decoder_channels=[16, 16, 16, 16, 16],
                     normalization={"mode": "local_zscore", "window": 31, "clip": 3.0})
    torch.manual_seed(0)
    model = save_model(build_model(card), card, tmp_path / "m.safetensors")
    for name in ("a", "b"):
        write_tif(tmp_path / f"{name}.tif", smooth_field(70, 80, seed=ord(name)))
    write_tif(tmp_path / "c.tif", np.ones((3, 64, 64), np.float32))  # three bands: needs --band
    rc = main(["-q", "lineaments", "detect", str(tmp_path / "*.tif"), "--out-dir", str(tmp_path / "out"),
               "--model", str(model)])
    res = capsys.readouterr()
    assert rc == 2
    assert "c.tif: FAILED: " in res.out and "has 3 bands" in res.out
    assert res.out.strip().splitlines()[-1] == "2 of 3 inputs done, 1 failed"
    assert {p.name for p in (tmp_path / "out").iterdir()} == {"a", "b"}
    for name in ("a", "b"):
        assert {p.name for p in (tmp_path / "out" / name).iterdir()} == OUTPUTS


def test_flatfield_folder_is_a_batch_and_a_bad_photo_does_not_stop_it(tmp_path, capsys):
    from microscopy_helpers import read_png, write_png
    from test_microscopy_flatfield import vignette

    from geocore.cli import main

    mirror = write_png(tmp_path / "mirror.png", np.round(200 * vignette()))
    photos = tmp_path / "photos"
    photos.mkdir()
    write_png(photos / "a.png", np.round(100 * vignette()))
    write_png(photos / "b.png", np.round(120 * vignette()))
    write_png(photos / "c.png", np.full((40, 40, 3), 90))  # not the mirror's size
    rc = main(["-q", "flatfield", str(photos), "--reference", str(mirror), "--out-dir", str(tmp_path / "out"),
               "--sigma", "3"])
    out = capsys.readouterr().out
    assert rc == 2 and out.strip().splitlines()[-1] == "2 of 3 inputs done, 1 failed"
    assert "c.png: FAILED: " in out
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.png", "b.png"]
    flat = read_png(tmp_path / "out" / "a.png").astype(float)
    assert np.ptp(flat[5:-5, 5:-5], axis=(0, 1)).max() <= 4


@pytest.mark.parametrize("scales", [[], ["--scales", "1", "0.5"], ["--scales", "2"], ["--tta", "2"]],
                         ids=["grid resolution", "two scales", "refined", "rotations averaged"])
def test_detect_one_grid_across_the_cluster_equals_single_process(tmp_path, client, capsys, scales):
    """``lineaments detect GRID --scheduler ADDRESS``: the network's (every pass's) and the vectorisation's
    strips as tasks."""
    import geopandas as gpd
    import torch
    from test_detect_cli import OUTPUTS

    from geocore.cli import main
    from geocore.models import ModelCard, build_model, save_model

    card = ModelCard(tile_size=64, encoder="resnet18", decoder_channels=[16, 16, 16, 16, 16],
                     normalization={"mode": "local_zscore", "window": 31, "clip": 3.0})
    torch.manual_seed(0)
    model = save_model(build_model(card), card, tmp_path / "m.safetensors")
    y, x = np.mgrid[0:150, 0:120].astype(np.float32)
    g = 200.0 * np.exp(-((x - 50 - 0.3 * y) ** 2) / 20.0) + 0.1 * x
    src = write_tif(tmp_path / "grid.tif", g)
    common = ["--model", str(model), "--threshold", "0.45", *scales]
    assert main(["-q", "lineaments", "detect", str(src), "--out-dir", str(tmp_path / "one"), *common]) == 0
    assert main(["-q", "lineaments", "detect", str(src), "--out-dir", str(tmp_path / "many"), *common,
                 "--scheduler", client.scheduler.address]) == 0
    capsys.readouterr()
    assert {p.name for p in (tmp_path / "many").iterdir()} == OUTPUTS
    import rasterio

    with rasterio.open(tmp_path / "one" / "probability.tif") as ds:  # how the map was made, in its metadata
        tags = ds.tags()
    assert tags["method"] == "cnn" and tags["model"] == "m.safetensors"
    assert tags["scales"] == (" ".join(scales[1:]) if scales[:1] == ["--scales"] else "1")
    assert tags["test_time_augmentation"] == ("2" if "--tta" in scales else "1")
    np.testing.assert_allclose(read(tmp_path / "many" / "probability.tif")[0],
                               read(tmp_path / "one" / "probability.tif")[0], atol=1e-6, rtol=0)
    a, b = (gpd.read_file(tmp_path / d / "lineaments.gpkg") for d in ("one", "many"))
    assert len(a) == len(b)
    np.testing.assert_allclose(b.length, a.length, rtol=1e-6)


def test_a_geocore_model_travels_as_safetensors_weights(tmp_path):
    """Workers rebuild the network from its card and safetensors bytes: nothing is unpickled."""
    import torch
    from safetensors.torch import load
    from tiny_models import tiny_lineament_model

    from geocore.distributed.raster import _load_model, _model_payload
    from geocore.models import load_model

    model, card = load_model(tiny_lineament_model(tmp_path / "m.safetensors", decoder=8))
    payload = _model_payload(model, card)
    assert isinstance(payload, bytes)
    assert set(load(payload)) == set(model.state_dict())  # a safetensors blob, not a pickle
    rebuilt = _load_model(payload, card)
    x = torch.rand(2, 1, 64, 64)
    with torch.no_grad():
        np.testing.assert_array_equal(rebuilt(x).numpy(), model(x).numpy())
    assert not rebuilt.training
    fixed = Local()
    assert _model_payload(fixed, card_for()) is fixed  # not a card's network: sent as it is
