"""Benchmark of the Dask scale-out (geocore.distributed).

    python bench/bench_dask.py [--size 864] [--rows-per-task 1] [--json out.json]

1. the network stage (tiled U-Net inference of one grid) in one process with one
   torch thread, in one process with all threads, and as strip tasks on a
   LocalCluster of 1 and of 2 worker processes (one thread each): speed-up per
   worker and overhead against the one-thread single process (targets: <= 10 %
   at one worker, >= 1.7x with two workers on two cores);
2. scheduler overhead per task: 400 no-op tasks on the 2-worker cluster;
3. a simulated scaling table for a 50 000 x 40 000 grid over 64 workers: task
   counts, tiles and bytes per task, and the share of scheduler overhead, from
   the tile plan of the shipped model (192-cell tiles, overlap 0.5) and the
   per-tile and per-task times measured in 1 and 2.

Stand-in model as in bench_tiled_inference.py: a U-Net with a ResNet-18 encoder
and 16-channel decoder, random weights, 192-cell tiles, local z-score (window
192). The load of the machine is printed (``os.getloadavg``) before and after
each timing: on a shared machine the figures are only as good as that.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench_tiled_inference import unet_card, write_grid  # noqa: E402


def load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def cpu_s() -> float:
    """CPU seconds (user + system) of this process so far."""
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def timed(label, fn, results, client=None):
    """Wall time, load and CPU seconds of ``fn()``: of this process and, with a client, of each worker.

    On a machine shared with other jobs the wall time depends on the CPU share
    this job gets; the CPU seconds do not, so they give the overhead, and the
    busiest worker's CPU seconds the wall time an unloaded machine would show.
    """
    before = load()
    w0 = client.run(cpu_s) if client is not None else {}
    c0 = cpu_s()
    t0 = time.perf_counter()
    out = fn()
    dt = time.perf_counter() - t0
    c1 = cpu_s()
    w1 = client.run(cpu_s) if client is not None else {}
    workers = [round(w1[k] - w0[k], 2) for k in w1]
    results[label] = dict(seconds=round(dt, 2), load_before=before, load_after=load(),
                          cpu_s_client=round(c1 - c0, 2), cpu_s_workers=workers)
    print(f"{label}: {dt:.2f} s wall, CPU {c1 - c0:.2f} s here + workers {workers} (load {before} -> {load()})",
          flush=True)
    return out


def bench_network(tmp: Path, size: int, rows_per_task: int) -> dict:
    import rasterio
    import torch

    from geocore.distributed import dask_client, predict_raster_distributed, strip_ranges
    from geocore.inference import TileParams, predict_raster
    from geocore.inference.tiled import plan_tiles
    from geocore.models import build_model

    torch.manual_seed(0)
    card = unet_card()
    model = build_model(card).eval()
    src = write_grid(tmp / "grid.tif", size, size)
    params = TileParams(overlap=0.5, batch_size=8, device="cpu")
    plan, _ = plan_tiles(src, card, params=params)
    res: dict = dict(grid=f"{size}x{size}", tiles=plan.n_tiles, tasks=len(strip_ranges(plan, rows_per_task)),
                     rows_per_task=rows_per_task, cpu_count=os.cpu_count())
    with torch.inference_mode():
        model(torch.zeros(8, 1, 192, 192))
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    timed("single process, 1 torch thread", lambda: predict_raster(src, tmp / "p1.tif", model, card, params=params),
          res)
    torch.set_num_threads(threads)
    timed(f"single process, {threads} torch threads",
          lambda: predict_raster(src, tmp / "pT.tif", model, card, params=params), res)
    with rasterio.open(tmp / "p1.tif") as ds:
        want = ds.read()
    for n in (1, 2):
        t0 = time.perf_counter()
        ctx = dask_client(f"local:{n}")  # as --scheduler local:N
        client = ctx.__enter__()
        client.run(lambda: __import__("torch").zeros(1))  # workers have imported torch
        res[f"cluster {n} start"] = dict(seconds=round(time.perf_counter() - t0, 2))
        label = f"LocalCluster {n} worker{'s' if n > 1 else ''}"
        for run in ("first run", ""):  # the first run also loads the model and warms torch in each worker
            out = timed(f"{label} ({run})" if run else label,
                        lambda: predict_raster_distributed(src, tmp / f"c{n}.tif", model, card, params=params,
                                                           scheduler=client, tile_rows_per_task=rows_per_task),
                        res, client)
        with rasterio.open(out) as ds:
            res[f"cluster {n} max |diff| vs single"] = float(np.nanmax(np.abs(ds.read() - want)))
        if n == 2:
            def noop(i):
                return i

            t0 = time.perf_counter()
            client.gather(client.map(noop, range(400), pure=False))
            res["scheduler overhead per task (ms)"] = round(1000 * (time.perf_counter() - t0) / 400, 2)
        ctx.__exit__(None, None, None)
    single = res["single process, 1 torch thread"]
    t1 = single["seconds"]
    c1, w2 = res["LocalCluster 1 worker"], res["LocalCluster 2 workers"]
    res["overhead 1 worker (wall)"] = round(c1["seconds"] / t1 - 1.0, 3)
    res["speed-up 2 workers (wall)"] = round(t1 / w2["seconds"], 2)
    cpu1 = single["cpu_s_client"]
    res["overhead 1 worker (CPU s, workers + client)"] = round(
        (sum(c1["cpu_s_workers"]) + c1["cpu_s_client"]) / cpu1 - 1.0, 3)
    res["speed-up 2 workers (CPU s, single / busiest worker)"] = round(cpu1 / max(w2["cpu_s_workers"]), 2)
    res["per-tile seconds (1 thread)"] = round(cpu1 / plan.n_tiles, 3)  # CPU s: contention-free
    return res


def scaling_table(per_tile_s: float, overhead_task_s: float, rows: int = 40000, cols: int = 50000,
                  workers: int = 64, classes: int = 1) -> list[dict]:
    """Tasks, bytes and overhead of a ``rows x cols`` grid in strips, from the tile plan alone."""
    from geocore.inference import tile_origins
    from geocore.models import halo_cells

    tile, stride = 192, 96
    halo = halo_cells({"mode": "local_zscore", "window": 192, "clip": 3.0})
    r_orig, c_orig = tile_origins(rows, tile, stride), tile_origins(cols, tile, stride)
    out = []
    for k in (1, 2, 4, 8, 16):
        n_tasks = math.ceil(len(r_orig) / k)
        span = (k - 1) * stride + tile  # raster rows a strip's sums cover
        tiles_per_task = k * len(c_orig)
        read_b = 4 * (span + 2 * halo) * cols  # float32 input window with the normalisation halo
        back_b = 4 * (classes + 1) * span * cols + span * cols  # sums + weights + nodata mask
        waves = math.ceil(n_tasks / workers)
        task_s = tiles_per_task * per_tile_s
        out.append(dict(tile_rows_per_task=k, tasks=n_tasks, tiles_per_task=tiles_per_task,
                        read_MB_per_task=round(read_b / 1e6, 1), returned_MB_per_task=round(back_b / 1e6, 1),
                        returned_GB_total=round(n_tasks * back_b / 1e9, 1),
                        compute_s_per_task=round(task_s, 1),
                        scheduler_overhead_pct=round(100 * overhead_task_s / task_s, 4),
                        busy_workers_pct=round(100 * n_tasks / (waves * workers), 1),
                        est_wall_h=round(waves * task_s / 3600, 2)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=864, help="grid edge (864: 8 x 8 tiles of 192 at stride 96)")
    ap.add_argument("--rows-per-task", type=int, default=1)
    ap.add_argument("--json", type=Path, default=None)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-dask-") as tmp:
        net = bench_network(Path(tmp), args.size, args.rows_per_task)
    table = scaling_table(net["per-tile seconds (1 thread)"], net["scheduler overhead per task (ms)"] / 1000.0)
    print(json.dumps(net, indent=1))
    cols = list(table[0])
    print("| " + " | ".join(cols) + " |\n|" + "---|" * len(cols))
    for row in table:
        print("| " + " | ".join(str(row[c]) for c in cols) + " |")
    if args.json:
        args.json.write_text(json.dumps(dict(network=net, scaling=table), indent=1) + "\n")


if __name__ == "__main__":
    main()
