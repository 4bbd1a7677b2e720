"""One large raster across the workers of a Dask cluster.

The tiled engine (:mod:`geocore.inference.tiled`) cuts a raster into rows of
overlapping tiles. Here consecutive tile rows are grouped into *strips*; each
strip is one Dask task that opens the input, reads its own window (with the
normalisation halo), runs the model over its tiles and returns its blending
sums. The client is the single writer: it adds the sums of neighbouring
strips where their tiles overlap and writes each band of rows to the tiled
GeoTIFF once no later strip can touch it. No worker writes to the output,
so a worker lost in the middle of a run only costs its strip being run
again elsewhere, and a cancel leaves no file behind.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Optional, Sequence

from ..files import atomic_output, check_not_input
from ..inference.tiled import (TileParams, TilePlan, _RowAccumulator, describe_bands, output_profile,
                               plan_tiles, predict_strip)
from ..progress import Progress
from .scheduler import dask_client, limit_worker_threads, wait_some

#: Default number of tile rows per strip task.
TILE_ROWS_PER_TASK = 4


def strip_ranges(plan: TilePlan, tile_rows: int = TILE_ROWS_PER_TASK) -> list[tuple[int, int]]:
    """Tile-row ranges ``(k0, k1)`` of the strip tasks, top to bottom.

    Examples
    --------
    >>> import numpy as np
    >>> from pathlib import Path
    >>> p = TilePlan(Path("x"), [1], 64, 32, 200, 90, 1, np.arange(6) * 32, np.array([0, 26]))
    >>> strip_ranges(p, 4)
    [(0, 4), (4, 6)]
    """
    n = len(plan.rows)
    step = max(1, int(tile_rows))
    return [(k, min(n, k + step)) for k in range(0, n, step)]


def _model_payload(model, card):
    """What travels to the workers: the weights as safetensors bytes when the model is the
    segmentation-models-pytorch network its card names (every geocore model), rebuilt there from
    the card, so no worker unpickles a network; any other module (a test's fixed filter) travels
    as Dask sends any argument."""
    import segmentation_models_pytorch as smp
    from safetensors.torch import save

    cls = getattr(smp, str(card.architecture), None)
    if not (isinstance(cls, type) and isinstance(model, cls)):
        return model
    return save({k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()})


def _load_model(payload, card):
    """The model on a worker (a task, so that a lost copy is rebuilt from the payload)."""
    if not isinstance(payload, bytes):
        return payload.eval()
    from safetensors.torch import load

    from ..models.network import build_model

    model = build_model(card)
    model.load_state_dict(load(payload), strict=True)
    return model.eval()


def _strip_task(plan: TilePlan, card, model, k0: int, k1: int, batch_size: int, device: str, augment: int = 1):
    limit_worker_threads()
    return predict_strip(plan, card, model, k0, k1, batch_size=batch_size, device=device, augment=augment)


def predict_raster_distributed(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    model,
    card,
    *,
    bands: Optional[Sequence[int]] = None,
    params: TileParams = TileParams(),
    scheduler="local",
    tile_rows_per_task: int = TILE_ROWS_PER_TASK,
    retries: int = 2,
    progress=None,
    cancel=None,
) -> Path:
    """:func:`geocore.inference.predict_raster` with strips of tile rows as Dask tasks.

    Parameters
    ----------
    src, dst, model, card, bands, params
        As for :func:`~geocore.inference.predict_raster`; the output is the
        same GeoTIFF (float32, 256-cell blocks, DEFLATE), equal to the
        single-process one within float32 rounding (the sums of overlapping
        tiles are added in another order).
    scheduler : str or distributed.Client
        ``"local"``, ``"local:N"``, ``"tcp://host:8786"`` or a Client;
        ``"none"`` runs :func:`~geocore.inference.predict_raster` here.
    tile_rows_per_task : int
        Tile rows per task. Each task moves about ``4 (classes + 1) x rows x
        width`` bytes back to the writer (rows = tile_rows x stride + overlap).
    retries : int
        Times a strip that raised is run again (a strip whose worker died is
        rescheduled by Dask in any case).
    progress, cancel : callables or Progress
        Progress is the fraction of tiles done; cancel is checked every 0.2 s
        and cancels the strips still queued or running.

    Returns
    -------
    Path
        ``dst``, written atomically by this process.

    Notes
    -----
    The workers must see ``src`` at the same path (a shared file system, or
    an object store URL GDAL reads, such as ``/vsis3/...``). Each worker uses
    ``params.device`` (``"auto"``: its GPU when it has one).
    """
    from ..inference import predict_raster
    from .scheduler import is_client, parse_scheduler

    if not is_client(scheduler) and not parse_scheduler(scheduler).distributed:
        return predict_raster(src, dst, model, card, bands=bands, params=params, progress=progress, cancel=cancel)
    import rasterio

    src, dst = Path(src), Path(dst)
    check_not_input([dst], [src])
    plan, info = plan_tiles(src, card, bands=bands, params=params)
    prog = Progress.wrap(progress, cancel)
    prog.check()
    ranges = strip_ranges(plan, tile_rows_per_task)
    with dask_client(scheduler) as client:
        with warnings.catch_warnings():  # the model's bytes travel once, in the graph, so a lost copy is rebuilt
            warnings.filterwarnings("ignore", message="Sending large graph")
            model_f = client.submit(_load_model, _model_payload(model, card), card, pure=False)
        submitted: list = []

        def submit(i: int):
            k0, k1 = ranges[i]
            f = client.submit(_strip_task, plan, card, model_f, k0, k1, int(params.batch_size), params.device,
                              int(params.augment), retries=retries, pure=False, priority=-i)
            submitted.append(f)
            return f

        ahead = max(4, 2 * sum(client.nthreads().values()))
        try:
            with atomic_output(dst) as tmp, \
                    rasterio.open(tmp, "w", **output_profile(plan, info.crs, info.transform)) as out:
                describe_bands(out, card)
                _write_strips(out, plan, ranges, submit, ahead, prog)
        except BaseException:
            client.cancel(submitted + [model_f], force=True)
            raise
        client.cancel([model_f])
    return dst


def _write_strips(out, plan: TilePlan, ranges: list, submit, ahead: int, prog: Progress) -> None:
    """The single writer: add strips in raster order as they arrive and write completed rows.

    At most ``ahead`` strips are queued or held beyond the next one to write,
    so the writer's memory stays bounded whatever the raster's height.
    """
    acc = _RowAccumulator(plan.classes, plan.width, plan.height, out)
    waiting: dict = {}
    arrived: dict = {}
    queued = 0
    nxt = 0
    tiles_done = 0
    while nxt < len(ranges):
        while queued < len(ranges) and queued < nxt + ahead:
            waiting[submit(queued)] = queued
            queued += 1
        for f in wait_some(list(waiting), prog.check):
            arrived[waiting.pop(f)] = f
        while nxt in arrived:
            sums = arrived.pop(nxt).result()  # raises the strip's error, if any
            acc.add_sums(sums.start, sums.num, sums.den)
            acc.mark_nodata(sums.start, sums.nodata)
            del sums
            k0, k1 = ranges[nxt]
            acc.flush(plan.complete_below(k1 - 1))
            tiles_done += (k1 - k0) * len(plan.cols)
            nxt += 1
            prog.update(tiles_done / plan.n_tiles)
    acc.flush(plan.height, final=True)
