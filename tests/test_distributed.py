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
