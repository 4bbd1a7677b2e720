"""Writing the panorama as a tiled, compressed GeoTIFF, one strip at a time.

The raster is georeferenced in the micrometre frame shared by every
microscope output (:mod:`geocore.raster.micrometre`): x to the right, y up, the
panorama's top-left corner at (0, 0), so that the pixel size in the file is the
micrometres per pixel the user gives, measured areas come out in square
micrometres, and a class map segmented from the panorama lies on it. Pixels that no tile covers are
masked with a GDAL internal mask (not a nodata value, which would hide real
black or white pixels).
"""

from __future__ import annotations

import os
import queue
import threading
from pathlib import Path
from typing import Iterable, Iterator, Tuple

import numpy as np

from ..raster.micrometre import micrometre_crs, micrometre_transform
from ..raster.profile import BLOCK, gtiff_profile

#: GDAL block cache while writing (MB): blocks are complete when a strip is written, so little is needed.
GDAL_CACHE_MB = 32


def panorama_profile(rows: int, cols: int, bands: int, dtype: str, um_per_px: float) -> dict:
    """rasterio profile of the panorama GeoTIFF."""
    colour = {"photometric": "RGB"} if bands == 3 else {}
    return gtiff_profile(cols, rows, bands, dtype, crs=micrometre_crs(), transform=micrometre_transform(um_per_px),
                         tiled=True, block=BLOCK, predictor=2, zlevel=1, interleave="pixel", **colour)


def prefetch(items: Iterable, depth: int = 1) -> Iterator:
    """Iterate ``items`` in a background thread, ``depth`` items ahead.

    Blending (NumPy, OpenCV) and writing (GDAL's compression) both release the
    GIL, so on two cores the next strip is blended while the last one is
    compressed. Exceptions from ``items`` are raised in the consumer; when the
    consumer stops early (an error, a cancel) the producer stops at its next item.
    """
    done = object()
    q: "queue.Queue" = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for item in items:
                while not stop.is_set():
                    try:
                        q.put(item, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            q.put(done)
        except BaseException as exc:  # handed to the consumer
            q.put(exc)

    worker = threading.Thread(target=produce, name="geocore-blend", daemon=True)
    worker.start()
    try:
        while True:
            item = q.get()
            if item is done:
                return
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while worker.is_alive():
            try:
                q.get_nowait()
            except queue.Empty:
                pass
            worker.join(timeout=0.05)


def write_panorama(path: str | os.PathLike, strips: Iterable[Tuple[int, np.ndarray, np.ndarray]], *, rows: int,
                   cols: int, bands: int, dtype: str, um_per_px: float, overviews: bool = True,
                   tags: dict | None = None, progress=None) -> Path:
    """Write strips ``(row0, data (r, cols, bands), valid (r, cols))`` to ``path``.

    Memory is bounded by two strips (the next is blended in a background thread
    while this one is compressed); GDAL compresses the 256 x 256 blocks as the
    strips arrive. Overviews (averages, factors 2..) are added for quick display.
    """
    import rasterio
    from rasterio.enums import Resampling
    from rasterio.windows import Window

    path = Path(path)
    profile = panorama_profile(rows, cols, bands, dtype, um_per_px)
    with rasterio.Env(GDAL_TIFF_INTERNAL_MASK=True, GDAL_CACHEMAX=GDAL_CACHE_MB):
        with rasterio.open(path, "w", **profile) as ds:
            ds.update_tags(**{"UM_PER_PX": f"{um_per_px:g}", "UNITS": "micrometre", **(tags or {})})
            for row0, data, valid in prefetch(strips):
                window = Window(0, row0, cols, data.shape[0])
                ds.write(np.moveaxis(data, -1, 0), window=window)
                ds.write_mask(np.where(valid, 255, 0).astype(np.uint8), window=window)
                if progress is not None:
                    progress((row0 + data.shape[0]) / rows)
            if overviews:
                factors = []
                f = 2
                while max(rows, cols) / f >= BLOCK:
                    factors.append(f)
                    f *= 2
                if factors:
                    ds.build_overviews(factors, Resampling.average)
                    ds.update_tags(ns="rio_overview", resampling="average")
    return path
