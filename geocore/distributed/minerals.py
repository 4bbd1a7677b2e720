"""Mineral class maps and their polygons in strips of rows, as Dask tasks.

The class map is the arg-max of the probability raster, so strips give it
exactly; the optional speck merging (GDAL sieve) looks ``min_grain_px + 2``
rows beyond each strip, which gives the whole-map result except where the
largest neighbour of a speck changes because a big patch is cut at the edge
of that look-ahead (rare; none in the tests). Polygons are traced per strip
of the class map (:func:`rasterio.features.shapes`, 4-connected) and the
pieces of one patch that meet along a strip border (an edge, not a corner)
are dissolved into one polygon, so the polygons equal the single-process
ones as areas (vertex lists may start elsewhere and keep points on the border).
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np

from ..progress import Progress
from .scheduler import dask_client, is_client, parse_scheduler, wait_some

#: Rows of one strip task.
STRIP_ROWS = 1024


def _map_tasks(fn, arglist: list, scheduler, prog: Progress, span=(0.0, 1.0)) -> list:
    """``[fn(*args) for args in arglist]`` in this process or on the cluster, in order."""
    out: list = [None] * len(arglist)
    a, b = span
    if not is_client(scheduler) and not parse_scheduler(scheduler).distributed:
        for i, args in enumerate(arglist):
            prog.check()
            out[i] = fn(*args)
            prog.update(a + (b - a) * (i + 1) / len(arglist))
        return out
    with dask_client(scheduler) as client:
        futures = {client.submit(fn, *args, pure=False, retries=2): i for i, args in enumerate(arglist)}
        try:
            done = 0
            while futures:
                for f in wait_some(list(futures), prog.check):
                    out[futures.pop(f)] = f.result()
                    done += 1
                    prog.update(a + (b - a) * done / len(arglist))
        except BaseException:
            client.cancel(list(futures), force=True)
            raise
    return out


def class_strip(prob_path, codes: Sequence[int], r0: int, r1: int, min_grain_px: int) -> np.ndarray:
    """One task: class codes of rows ``[r0, r1)`` (uint8, 255 = nodata)."""
    import rasterio
    from rasterio.features import sieve
    from rasterio.windows import Window

    lut = np.asarray(codes, np.uint8)
    halo = int(min_grain_px) + 2 if min_grain_px and min_grain_px > 1 else 0
    with rasterio.open(prob_path) as ds:
        a, b = max(0, r0 - halo), min(ds.height, r1 + halo)
        p = ds.read(window=Window(0, a, ds.width, b - a))
    nodata = ~np.isfinite(p).all(axis=0)
    classes = lut[np.nan_to_num(p, nan=-1.0).argmax(axis=0)]
    if halo:
        classes = sieve(classes, size=int(min_grain_px), connectivity=4, mask=None if not nodata.any() else ~nodata)
    classes[nodata] = 255
    return classes[r0 - a:r1 - a]


def class_map_distributed(prob_path, dst, codes: Sequence[int], *, crs=None, transform=None, min_grain_px: int = 0,
                          scheduler="local", strip_rows: int = STRIP_ROWS, progress=None, cancel=None) -> Path:
    """:func:`geocore.minerals.segment.write_class_map` with strips of rows as tasks; one writer.

    Returns ``dst`` (the same uint8 GeoTIFF with the LumenStone palette, written
    atomically); the map is not kept in memory.
    """
    import warnings

    import rasterio
    from rasterio.errors import NotGeoreferencedWarning
    from rasterio.windows import Window

    from ..files import atomic_output
    from ..minerals.classes import CLASSES

    prog = Progress.wrap(progress, cancel)
    with rasterio.open(prob_path) as ds:
        H, W = ds.height, ds.width
        crs = ds.crs if crs is None else crs
        transform = ds.transform if transform is None else transform
    bounds = [(r, min(H, r + int(strip_rows))) for r in range(0, H, max(1, int(strip_rows)))]
    parts = _map_tasks(class_strip, [(str(prob_path), list(codes), r0, r1, min_grain_px) for r0, r1 in bounds],
                       scheduler, prog, (0.0, 0.9))
    profile = dict(driver="GTiff", width=W, height=H, count=1, dtype="uint8", crs=crs, transform=transform,
                   nodata=255, tiled=True, blockxsize=256, blockysize=256, compress="deflate", BIGTIFF="IF_SAFER")
    with warnings.catch_warnings(), atomic_output(dst) as tmp:
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(tmp, "w", **profile) as out:
            out.write_colormap(1, {c.code: c.rgb + (255,) for c in CLASSES})
            for (r0, r1), part in zip(bounds, parts):
                out.write(part, 1, window=Window(0, r0, W, r1 - r0))
            out.set_band_description(1, "mineral class code (LumenStone)")
            out.update_tags(1, **{f"CLASS_{c.code}": f"{c.label} {c.name}" for c in CLASSES})
    prog.update(1.0)
    return Path(dst)


def polygon_strip(classes_path, r0: int, r1: int, include_background: bool) -> list:
    """One task: ``(code, WKB)`` of the 4-connected patches of rows ``[r0, r1)``, in pixel coordinates."""
    import rasterio
    import shapely
    from affine import Affine
    from rasterio.features import shapes
    from rasterio.windows import Window
    from shapely.geometry import shape

    with rasterio.open(classes_path) as ds:
        cl = ds.read(1, window=Window(0, r0, ds.width, r1 - r0))
    mask = cl != 255
    if not include_background:
        mask &= cl != 0
    return [(int(v), shapely.to_wkb(shape(g))) for g, v in
            shapes(cl, mask=mask, connectivity=4, transform=Affine.translation(0, r0))]


def merge_at_seams(strips: list, seams: list) -> list:
    """Dissolve the patches of neighbouring strips that share an edge on their border.

    ``strips`` holds each strip's ``(code, polygon)`` list (pixel coordinates),
    ``seams`` the border row between strip i and i + 1.
    """
    import shapely

    geoms, codes, strip_of = [], [], []
    for i, lst in enumerate(strips):
        for code, g in lst:
            geoms.append(g)
            codes.append(code)
            strip_of.append(i)
    parent = list(range(len(geoms)))

    def find(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    by_strip: dict = {}
    for k, s in enumerate(strip_of):
        by_strip.setdefault(s, []).append(k)
    for i, y in enumerate(seams):
        line = shapely.LineString([(-1e12, y), (1e12, y)])
        up = [k for k in by_strip.get(i, []) if geoms[k].bounds[3] == y]
        down = [k for k in by_strip.get(i + 1, []) if geoms[k].bounds[1] == y]
        if not up or not down:
            continue
        tree = shapely.STRtree([geoms[k] for k in down])
        for k in up:
            edge_k = geoms[k].boundary.intersection(line)
            for j in tree.query(geoms[k]):
                m = down[int(j)]
                if codes[m] != codes[k]:
                    continue
                if edge_k.intersection(geoms[m].boundary).length > 0:  # a shared edge, not a corner
                    parent[find(k)] = find(m)
    groups: dict = {}
    for k in range(len(geoms)):
        groups.setdefault(find(k), []).append(k)
    out = []
    for members in sorted(groups.values(), key=lambda m: min(m)):
        g = geoms[members[0]] if len(members) == 1 else shapely.union_all([geoms[k] for k in members])
        out.append((codes[members[0]], g))
    return out


def polygons_distributed(classes_path, *, transform=None, crs=None, include_background: bool = False,
                         scheduler="local", strip_rows: int = STRIP_ROWS, progress=None, cancel=None):
    """:func:`geocore.minerals.segment.polygons_from_classes` from a class map file, in strips.

    Returns the same GeoDataFrame (``code``, ``label``, ``name``, ``area``,
    ``perimeter``, ``ecd``, geometry); ``transform``/``crs`` default to the file's.
    """
    import geopandas as gpd
    import pyproj
    import rasterio
    import shapely

    from ..minerals.classes import BY_CODE

    prog = Progress.wrap(progress, cancel)
    with rasterio.open(classes_path) as ds:
        H = ds.height
        transform = ds.transform if transform is None else transform
        crs = ds.crs if crs is None else crs
    bounds = [(r, min(H, r + int(strip_rows))) for r in range(0, H, max(1, int(strip_rows)))]
    parts = _map_tasks(polygon_strip, [(str(classes_path), r0, r1, include_background) for r0, r1 in bounds],
                       scheduler, prog, (0.0, 0.8))
    strips = [[(c, shapely.from_wkb(w)) for c, w in part if int(c) in BY_CODE] for part in parts]
    merged = merge_at_seams(strips, [r1 for _, r1 in bounds[:-1]])
    prog.check()
    t = transform
    geoms = [shapely.affinity.affine_transform(g, (t.a, t.b, t.d, t.e, t.c, t.f)) for _, g in merged]
    rows = [BY_CODE[int(c)] for c, _ in merged]
    gcrs = pyproj.CRS.from_wkt(crs.to_wkt()) if crs is not None else None
    gdf = gpd.GeoDataFrame({"code": np.array([c.code for c in rows], np.int32),
                            "label": np.array([c.label for c in rows], dtype=object),
                            "name": np.array([c.name for c in rows], dtype=object)},
                           geometry=geoms, crs=gcrs)
    gdf["area"] = gdf.geometry.area
    gdf["perimeter"] = gdf.geometry.length
    gdf["ecd"] = 2.0 * np.sqrt(gdf["area"] / np.pi)
    prog.update(1.0)
    return gdf[["code", "label", "name", "area", "perimeter", "ecd", "geometry"]]
