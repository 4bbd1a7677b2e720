"""Map products of lineament axes: length-weighted rose diagram (PNG or HTML), density GeoTIFF, preview PNG.

The axes come from :func:`geocore.lineaments.vectorize.vectorize_probability`
(a GeoDataFrame of lines with ``length`` and ``azimuth``).
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Optional

import numpy as np

from ..files import atomic_output
from ..progress import Progress
from ..raster.io import open_raster_checked, read_window
from ..raster.profile import gtiff_profile


def length_unit(crs) -> tuple[str, float]:
    """(unit name, factor to that unit) for lengths in ``crs``: km for metre CRSs.

    Accepts a rasterio or a pyproj CRS (GeoDataFrames carry the latter).
    """
    if crs is None:
        return "map units", 1.0
    try:
        import pyproj

        c = pyproj.CRS.from_user_input(crs.to_wkt() if hasattr(crs, "to_wkt") else crs)
        if c.is_projected and c.axis_info:
            ax = c.axis_info[0]
            if abs(ax.unit_conversion_factor - 1.0) < 1e-12:
                return "km", 1e-3
            return ax.unit_name, 1.0
    except Exception:  # a CRS pyproj cannot read: fall back to map units
        pass
    return "map units", 1.0


def rose_diagram(gdf, path: str | os.PathLike, *, bin_deg: float = 10.0, title: str = "Lineament strikes") -> Path:
    """Length-weighted rose diagram of strikes (0-180 degrees, drawn symmetric).

    Each bar is the total length of lines whose azimuth falls in the bin; the
    plot states the number of lines, their total length and the bin width.
    A path ending in ``.html`` or ``.htm`` gets a self-contained HTML page (the
    figure embedded, plus a table of length per bin), which QGIS's Processing
    results viewer opens; any other path gets a PNG.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    unit, factor = length_unit(getattr(gdf, "crs", None))
    az = np.asarray(gdf["azimuth"], dtype=float) if len(gdf) else np.zeros(0)
    ln = np.asarray(gdf["length"], dtype=float) * factor if len(gdf) else np.zeros(0)
    nb = int(round(180.0 / bin_deg))
    hist, edges = np.histogram(az % 180.0, bins=nb, range=(0.0, 180.0), weights=ln)
    theta = np.radians(np.concatenate([edges[:-1], edges[:-1] + 180.0]))
    radii = np.concatenate([hist, hist])
    fig = plt.figure(figsize=(6, 6.4))
    ax = fig.add_subplot(111, projection="polar")
    ax.set_theta_zero_location("N")
    ax.set_theta_direction(-1)
    ax.bar(theta, radii, width=np.radians(bin_deg), align="edge", color="#c0392b", edgecolor="k", linewidth=0.5)
    ax.set_thetagrids(np.arange(0, 360, 30))
    if radii.max(initial=0) > 0:
        ax.set_rlabel_position(100)
    total = float(ln.sum())
    ax.set_title(f"{title}\n{len(gdf)} lines, total length {total:,.2f} {unit} (length per {bin_deg:g}° bin, {unit})",
                 fontsize=10)
    import io

    buf = io.BytesIO()
    fig.savefig(buf, dpi=110, format="png", bbox_inches="tight")
    plt.close(fig)
    with atomic_output(path) as tmp:
        if path.suffix.lower() in (".html", ".htm"):
            Path(tmp).write_text(_rose_html(buf.getvalue(), edges, hist, len(gdf), total, unit, title),
                                 encoding="utf-8")
        else:
            Path(tmp).write_bytes(buf.getvalue())
    return path


def _rose_html(png: bytes, edges, hist, n_lines: int, total: float, unit: str, title: str) -> str:
    import base64
    import html

    rows = "\n".join(f"<tr><td>{a:g}&ndash;{b:g}</td><td>{v:,.3f}</td><td>{(v / total * 100 if total else 0):.1f}</td></tr>"
                     for a, b, v in zip(edges[:-1], edges[1:], hist))
    return f"""<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{html.escape(title)}</title>
<style>body{{font-family:sans-serif}} table{{border-collapse:collapse}} td,th{{border:1px solid #999;padding:2px 8px;text-align:right}}</style>
</head><body>
<h2>{html.escape(title)}</h2>
<p>{n_lines} lines, total length {total:,.3f} {unit}; strikes in degrees clockwise from north.</p>
<img alt="rose diagram" src="data:image/png;base64,{base64.b64encode(png).decode('ascii')}">
<table><tr><th>strike (&deg;)</th><th>length ({unit})</th><th>share (%)</th></tr>
{rows}
</table></body></html>
"""


def density_raster(gdf, like_raster_path: str | os.PathLike, path: str | os.PathLike, *,
                   radius_cells: float = 10.0, band: int = 1, progress=None, cancel=None) -> Path:
    """Lineament length per unit area in a moving disk, on the grid of ``like_raster_path``.

    Parameters
    ----------
    gdf : GeoDataFrame
        Lines in the CRS of ``like_raster_path``.
    like_raster_path : path
        Raster whose size, transform, CRS and nodata cells the output copies.
    path : path
        Output float32 GeoTIFF (atomic). Values are total line length inside a
        disk of ``radius_cells`` cells around each cell divided by the disk's
        valid area: km per km² for metre CRSs, else map units per square map
        unit (stated in the band description). Nodata cells of the like
        raster are NaN.
    radius_cells : float
        Disk radius in cells.

    Notes
    -----
    Lines are sampled every half cell and each sample's length is added to
    the cell it falls in; the sums are convolved with the disk strip by strip
    (with a halo of the radius), so memory is bounded by a strip.
    """
    import cv2
    import rasterio
    import shapely
    from rasterio.windows import Window

    prog = Progress.wrap(progress, cancel)
    info = open_raster_checked(like_raster_path, band, check_valid=False, allow_integer=True)
    H, W, t = info.height, info.width, info.transform
    cell = info.cell_size
    unit, factor = length_unit(info.crs)
    # samples: (row, col, length) every half cell along each line
    geoms = np.asarray(gdf.geometry.values) if len(gdf) else np.zeros(0, object)
    step = 0.5 * cell
    if len(geoms):
        glen = shapely.length(geoms)
        counts = np.maximum(np.ceil(glen / step).astype(int), 1)
        dist = np.concatenate([(np.arange(c) + 0.5) * (L / c) for L, c in zip(glen, counts)])
        seg_len = np.repeat(glen / counts, counts)
        pts = shapely.get_coordinates(shapely.line_interpolate_point(np.repeat(geoms, counts), dist))
        col, row = ~t * (pts[:, 0], pts[:, 1])
        rr, cc = np.floor(row).astype(np.int64), np.floor(col).astype(np.int64)
        ok = (rr >= 0) & (rr < H) & (cc >= 0) & (cc < W)
        rr, cc, seg_len = rr[ok], cc[ok], seg_len[ok] * factor
        order = np.argsort(rr, kind="stable")
        rr, cc, seg_len = rr[order], cc[order], seg_len[order]
    else:
        rr = cc = np.zeros(0, np.int64)
        seg_len = np.zeros(0)
    rad = max(float(radius_cells), 0.5)
    R = int(math.ceil(rad))
    yy, xx = np.mgrid[-R:R + 1, -R:R + 1]
    disk = ((xx * xx + yy * yy) <= rad * rad).astype(np.float32)
    cell_area = (abs(t.a * t.e - t.b * t.d) or 1.0) * factor * factor
    profile = gtiff_profile(W, H, 1, "float32", crs=info.crs, transform=t, nodata=float("nan"), tiled=True,
                            predictor=3)
    strip = 1024
    with atomic_output(path) as tmp, rasterio.open(like_raster_path) as src, rasterio.open(tmp, "w", **profile) as out:
        desc = (f"lineament density: {unit} of lineament per square {unit} in a disk of radius "
                f"{rad * cell * factor:g} {unit}" if unit != "map units" else
                f"lineament density: map units of length per square map unit, disk radius {rad * cell:g} map units")
        out.set_band_description(1, desc)
        for r0 in range(0, H, strip):
            n = min(strip, H - r0)
            a0, a1 = max(0, r0 - R), min(H, r0 + n + R)
            sums = np.zeros((a1 - a0, W), np.float32)
            i0, i1 = np.searchsorted(rr, a0), np.searchsorted(rr, a1)
            np.add.at(sums, (rr[i0:i1] - a0, cc[i0:i1]), seg_len[i0:i1].astype(np.float32))
            valid = ~np.isnan(read_window(src, Window(0, a0, W, a1 - a0), info.band))
            total = cv2.filter2D(sums, -1, disk, borderType=cv2.BORDER_CONSTANT)
            area = cv2.filter2D(valid.astype(np.float32), -1, disk, borderType=cv2.BORDER_CONSTANT) * cell_area
            with np.errstate(invalid="ignore", divide="ignore"):
                dens = np.where(area > 0, total / area, np.nan).astype(np.float32)
            dens = np.maximum(dens, 0.0)  # the DFT convolution leaves -1e-17 where there is nothing
            dens[~valid] = np.nan
            out.write(dens[r0 - a0:r0 - a0 + n][None], window=Window(0, r0, W, n))
            prog.update((r0 + n) / H)
    return Path(path)


def preview_png(grid_path: str | os.PathLike, gdf, path: str | os.PathLike, *, band: int = 1,
                max_edge: int = 1600, title: Optional[str] = None) -> Path:
    """A shaded picture of the grid with the lineament axes drawn over it (PNG).

    Big grids are read decimated to at most ``max_edge`` cells a side.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import rasterio
    import shapely
    from matplotlib import patheffects
    from matplotlib.collections import LineCollection
    from matplotlib.colors import LightSource

    info = open_raster_checked(grid_path, band, check_valid=False, allow_integer=True)
    f = max(1, int(math.ceil(max(info.height, info.width) / max_edge)))
    shape = (max(1, info.height // f), max(1, info.width // f))
    with rasterio.open(grid_path) as ds:
        arr = ds.read(info.band, out_shape=shape, masked=True)
    z = np.ma.getdata(arr).astype(np.float64)
    nan = np.ma.getmaskarray(arr) | ~np.isfinite(z)
    fill = np.nanmedian(np.where(nan, np.nan, z)) if (~nan).any() else 0.0
    z = np.where(nan, fill, z)
    lo, hi = np.percentile(z[~nan], [2, 98]) if (~nan).any() else (0.0, 1.0)
    norm = matplotlib.colors.Normalize(vmin=lo, vmax=hi if hi > lo else lo + 1)
    ls = LightSource(azdeg=315, altdeg=45)
    rgb = ls.shade(z, cmap=plt.get_cmap("viridis"), norm=norm, blend_mode="overlay",
                   vert_exag=1.0 / max(hi - lo, 1e-12) * max(shape) / 20.0)
    rgb[nan] = (1.0, 1.0, 1.0, 1.0)
    west, south, east, north = rasterio.transform.array_bounds(info.height, info.width, info.transform)
    fig, ax = plt.subplots(figsize=(8, 8 * shape[0] / max(shape[1], 1) + 0.6))
    if info.georeferenced:
        extent = (west, east, south, north)
        origin = "upper" if info.transform.e < 0 else "lower"
    else:
        extent = (0, info.width, info.height, 0)
        origin = "upper"
    ax.imshow(rgb, extent=extent, origin=origin, interpolation="nearest")
    if len(gdf):
        segs = [shapely.get_coordinates(g) for g in gdf.geometry.values]
        halo = [patheffects.Stroke(linewidth=2.6, foreground="white"), patheffects.Normal()]
        ax.add_collection(LineCollection(segs, colors="#d7191c", linewidths=1.1, path_effects=halo))
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.set_title(title or f"{Path(grid_path).name}: {len(gdf)} lineaments", fontsize=10)
    ax.tick_params(labelsize=7)
    with atomic_output(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png", bbox_inches="tight")
    plt.close(fig)
    return Path(path)
