"""Superpixel-assisted annotation: a few strokes per mineral become a full mask.

The geologist scribbles over the photo in QGIS (a vector layer of lines or
polygons with a class field). The photo is over-segmented into superpixels
several times (SLIC and Felzenszwalb, each at several scales). Working from
the finest segmentation to the coarsest, every superpixel that holds strokes
of one class only takes that class; a superpixel whose strokes disagree is
left to finer ones, so large uniform regions fill at once while mixed ones
split where the strokes say. Pixels no stroked superpixel reaches stay
unlabelled (255), so the mask is a valid partial annotation. Adding strokes
and re-running refines the result.
"""

from __future__ import annotations

import os
import warnings
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import numpy as np
from affine import Affine

from ..errors import GeocoreError
from ..files import atomic_output, check_not_input, read_vector, repair_prj
from ..progress import Progress
from .classes import BY_CODE, IGNORE, class_code
from .images import Photo, read_rgb, write_mask_png
from .params import SuperpixelParams


def segmentations(rgb: np.ndarray, params: SuperpixelParams = SuperpixelParams(), progress=None,
                  cancel=None) -> list[np.ndarray]:
    """Superpixel label images (int32, 0-based), sorted from coarsest to finest."""
    from skimage.segmentation import felzenszwalb, slic

    bar = Progress.wrap(progress, cancel)
    rows, cols = rgb.shape[:2]
    levels = []
    n = len(params.slic_sizes) + len(params.felzenszwalb_scales)
    for i, size in enumerate(params.slic_sizes):
        n_segments = max(2, int(rows * cols / float(size) ** 2))
        levels.append(slic(rgb, n_segments=n_segments, compactness=params.compactness, start_label=0,
                           enforce_connectivity=True).astype(np.int32))
        bar.update((i + 1) / n)
    for j, scale in enumerate(params.felzenszwalb_scales):
        min_size = max(5, int(scale / 4))
        levels.append(felzenszwalb(rgb, scale=scale, sigma=0.8, min_size=min_size).astype(np.int32))
        bar.update((len(params.slic_sizes) + j + 1) / n)
    levels.sort(key=lambda lab: -lab.size / (lab.max() + 1))
    return levels


def _nearest_stroke_colour(rgb: np.ndarray, strokes: np.ndarray, finest: np.ndarray) -> np.ndarray:
    """Per pixel: the stroked class whose mean colour is nearest to the pixel's finest superpixel (CIELAB)."""
    from skimage.color import rgb2lab

    lab = rgb2lab(rgb).reshape(-1, 3)
    stroked = strokes.ravel() != IGNORE
    classes = np.unique(strokes.ravel()[stroked])
    means = np.array([lab[strokes.ravel() == c].mean(axis=0) for c in classes])
    n = int(finest.max()) + 1
    counts = np.maximum(np.bincount(finest.ravel(), minlength=n), 1)
    seg_mean = np.stack([np.bincount(finest.ravel(), weights=lab[:, k], minlength=n) / counts for k in range(3)], 1)
    dist = ((seg_mean[:, None, :] - means[None, :, :]) ** 2).sum(axis=-1)
    return classes[dist.argmin(axis=1)].astype(np.uint8)[finest]


def propagate(strokes: np.ndarray, levels: Sequence[np.ndarray], *, min_purity: float = 0.98,
              rgb: Optional[np.ndarray] = None) -> np.ndarray:
    """Give whole superpixels the class of the strokes inside them.

    Parameters
    ----------
    strokes : ndarray of uint8
        Stroke raster: class code under a stroke, 255 elsewhere.
    levels : sequence of int label images
        Segmentations from coarsest to finest (:func:`segmentations`).

    Returns
    -------
    ndarray of uint8
        Class codes; 255 where no stroked superpixel agrees.

    Notes
    -----
    Levels are visited from the finest to the coarsest; a pixel takes its
    class from the first level whose superpixel around it holds strokes that
    agree (at least ``min_purity`` of them in one class). Stroke pixels keep
    their own class.

    With ``rgb`` given, a coarser superpixel only gives its class to pixels
    whose finest superpixel is, in colour, nearest to that class's strokes:
    a coarse superpixel that swallowed part of an unscribbled grain of another
    mineral does not paint it.
    """
    out = np.full(strokes.shape, IGNORE, np.uint8)
    stroked = strokes != IGNORE
    if not stroked.any():
        return out
    cls = strokes[stroked].astype(np.int64)
    levels = list(levels)
    nearest = _nearest_stroke_colour(rgb, strokes, levels[-1]) if rgb is not None else None
    for k, labels in enumerate(reversed(levels)):
        n = int(labels.max()) + 1
        hist = np.bincount(labels[stroked].astype(np.int64) * 256 + cls, minlength=n * 256).reshape(n, 256)
        total = hist.sum(axis=1)
        best = hist.argmax(axis=1)
        purity = hist[np.arange(n), best] / np.maximum(total, 1)
        usable = (total > 0) & (purity >= min_purity)
        segment_class = np.where(usable, best, IGNORE).astype(np.uint8)
        todo = out == IGNORE
        proposal = segment_class[labels[todo]]
        if nearest is not None and k > 0:
            proposal[proposal != nearest[todo]] = IGNORE
        out[todo] = proposal
    out[stroked] = strokes[stroked]
    return out


def rasterize_strokes(geometries: Sequence, codes: Sequence[int], shape: tuple[int, int],
                      transform: Affine) -> np.ndarray:
    """Burn stroke geometries (map coordinates) into a class raster (255: no stroke).

    Lines touch every pixel they cross; polygons fill their inside. Later
    strokes overwrite earlier ones.
    """
    from rasterio.features import rasterize

    pairs = [(g, int(c)) for g, c in zip(geometries, codes) if g is not None and not g.is_empty]
    if not pairs:
        return np.full(shape, IGNORE, np.uint8)
    return rasterize(pairs, out_shape=shape, transform=transform, fill=IGNORE, all_touched=True, dtype="uint8")


def working_copy(rgb: np.ndarray, transform: Affine, work_edge: int) -> tuple[np.ndarray, Affine]:
    """The photo reduced to ``work_edge`` pixels on its long edge (unchanged if smaller), and its transform."""
    import cv2

    rows, cols = rgb.shape[:2]
    factor = max(1.0, max(rows, cols) / float(work_edge))
    if factor == 1.0:
        return rgb, transform
    wrows, wcols = max(1, round(rows / factor)), max(1, round(cols / factor))
    work = cv2.resize(rgb, (wcols, wrows), interpolation=cv2.INTER_AREA)
    return work, transform * Affine.scale(cols / wcols, rows / wrows)


def annotate_array(rgb: np.ndarray, geometries: Sequence, codes: Sequence[int], *, transform: Affine = Affine.identity(),
                   params: SuperpixelParams = SuperpixelParams(), levels: Optional[list] = None,
                   progress=None, cancel=None) -> tuple[np.ndarray, np.ndarray, Affine]:
    """Propagate strokes over a photo held in memory.

    Parameters
    ----------
    rgb : ndarray of uint8 (rows, cols, 3)
    geometries, codes
        Stroke geometries in the photo's map coordinates and their class codes.
    transform : Affine
        Photo pixel -> map coordinates.
    levels : list, optional
        Precomputed segmentations of the working image (reused when strokes change).

    Returns
    -------
    mask : ndarray of uint8, full size
    work_mask : ndarray of uint8, at the working size
    work_transform : Affine of the working size
    """
    import cv2

    bar = Progress.wrap(progress, cancel)
    rows, cols = rgb.shape[:2]
    work, work_transform = working_copy(rgb, transform, params.work_edge)
    wrows, wcols = work.shape[:2]
    reduced = (wrows, wcols) != (rows, cols)
    strokes = rasterize_strokes(geometries, codes, (wrows, wcols), work_transform)
    if (strokes == IGNORE).all():
        msg = "no stroke falls on the photo; draw the strokes over the photo (in its coordinates) and check the layer's CRS"
        raise GeocoreError(msg)
    if levels is None:
        levels = segmentations(work, params, progress=bar.sub(0.0, 0.85))
    work_mask = propagate(strokes, levels, min_purity=params.min_purity,
                          rgb=work if params.colour_check else None)
    bar.update(0.9)
    if not reduced:
        mask = work_mask
    else:
        mask = cv2.resize(work_mask, (cols, rows), interpolation=cv2.INTER_NEAREST)
        # strokes drawn at full resolution keep their class exactly
        full_strokes = rasterize_strokes(geometries, codes, (rows, cols), transform)
        mask[full_strokes != IGNORE] = full_strokes[full_strokes != IGNORE]
    bar.update(1.0)
    return mask, work_mask, work_transform


def mask_polygons(mask: np.ndarray, transform: Affine, crs=None):
    """Polygons of the labelled areas of a mask: GeoDataFrame with code, label, name, area."""
    import geopandas as gpd
    from rasterio.features import shapes
    from shapely.geometry import shape as to_shape

    geoms, codes = [], []
    for geom, value in shapes(mask, mask=mask != IGNORE, transform=transform, connectivity=4):
        geoms.append(to_shape(geom))
        codes.append(int(value))
    gdf = gpd.GeoDataFrame({"code": np.array(codes, dtype=np.int32),
                            "label": [BY_CODE[c].label if c in BY_CODE else str(c) for c in codes],
                            "name": [BY_CODE[c].name if c in BY_CODE else "" for c in codes]},
                           geometry=geoms, crs=crs)
    gdf["area"] = gdf.geometry.area
    return gdf


def write_polygons(gdf, path: str | os.PathLike) -> Path:
    """Write polygons atomically (GeoPackage, Shapefile or any OGR format by extension)."""
    path = Path(path)
    with atomic_output(path) as tmp, warnings.catch_warnings():
        # polygons of a plain photograph are in pixel coordinates, without a CRS: expected, not a warning
        warnings.filterwarnings("ignore", message="'crs' was not provided", category=UserWarning)
        layer = path.stem if path.suffix.lower() == ".gpkg" else None
        gdf.to_file(tmp, layer=layer, engine="pyogrio")
        repair_prj(tmp)
    return path


def read_strokes(path: str | os.PathLike, class_field: str = "class", *, photo: Optional[Photo] = None):
    """Read stroke geometries and their class codes from a vector file.

    The class field holds LumenStone codes (0..14) or labels/names ("py",
    "pyrite"). Features with an empty class are skipped.
    """
    path = Path(path)
    gdf = read_vector(path, "strokes file", "a GeoPackage or Shapefile of strokes")
    if class_field not in gdf.columns:
        fields = ", ".join(c for c in gdf.columns if c != "geometry") or "none"
        msg = f"strokes file '{path}' has no field '{class_field}' (fields: {fields}); choose the class field"
        raise GeocoreError(msg)
    gdf = gdf[gdf[class_field].notna() & gdf.geometry.notna()]
    if gdf.empty:
        msg = f"strokes file '{path}' has no stroke with a class; draw lines or polygons with a '{class_field}' value"
        raise GeocoreError(msg)
    codes = [class_code(v) for v in gdf[class_field]]
    kinds = set(gdf.geometry.geom_type)
    if kinds & {"Point", "MultiPoint"}:
        msg = "strokes must be lines or polygons, not points; draw lines over each mineral"
        raise GeocoreError(msg)
    if photo is not None and photo.crs is not None and gdf.crs is not None and gdf.crs != photo.crs:
        from ..raster.micrometre import is_micrometre_crs

        if not (is_micrometre_crs(gdf.crs) and is_micrometre_crs(photo.crs)):  # one frame, written two ways
            gdf = gdf.to_crs(photo.crs)
    return list(gdf.geometry), codes


@dataclass
class AnnotationResult:
    """What :func:`annotate_image` wrote, and the share of pixels labelled."""

    mask_path: Path
    polygons_path: Optional[Path]
    labelled_fraction: float
    class_fractions: dict = field(default_factory=dict)
    n_polygons: int = 0

    def summary(self) -> str:
        parts = ", ".join(f"{BY_CODE[c].label} {100 * f:.1f} %" for c, f in sorted(self.class_fractions.items()))
        text = f"mask: {self.mask_path} ({100 * self.labelled_fraction:.1f} % labelled: {parts})"
        if self.polygons_path:
            text += f"\npolygons: {self.polygons_path} ({self.n_polygons})"
        return text


def _check_strokes_on_photo(geometries: Sequence, photo: Photo) -> None:
    """Refuse strokes that all lie off the photo, before the slow segmentation."""
    from shapely.geometry import box

    rows, cols = photo.shape
    corners = [photo.transform * (c, r) for c, r in ((0, 0), (cols, 0), (0, rows), (cols, rows))]
    xs, ys = zip(*corners)
    footprint = box(min(xs), min(ys), max(xs), max(ys))
    if not any(g is not None and g.intersects(footprint) for g in geometries):
        msg = ("no stroke falls on the photo; draw the strokes over the photo (in its coordinates: without "
               "georeferencing x = column, y = -row) and check the layer's CRS")
        raise GeocoreError(msg)


#: Superpixels of the last photos annotated in this process, so that re-running
#: with more strokes (in QGIS, the same process) skips the segmentation.
_LEVEL_CACHE: "OrderedDict[tuple, list]" = OrderedDict()
_LEVEL_CACHE_SIZE = 2


def _cache_key(path: Path, params: SuperpixelParams) -> tuple:
    st = path.stat()
    return (str(path.resolve()), st.st_mtime_ns, st.st_size, repr(params))


def annotate_image(image: str | os.PathLike, strokes: str | os.PathLike, mask_out: str | os.PathLike,
                   polygons_out: Optional[str | os.PathLike] = None, *, class_field: str = "class",
                   params: SuperpixelParams = SuperpixelParams(), progress=None, cancel=None) -> AnnotationResult:
    """Propagate strokes over a photo and write a LumenStone mask (and polygons).

    Parameters
    ----------
    image : path
        The photo (RGB). Without georeferencing its coordinates are those QGIS
        shows: x = column, y = -row.
    strokes : path
        Lines or polygons with a class field, in the photo's coordinates.
    mask_out : path
        LumenStone mask: 8-bit grey PNG (or GeoTIFF), class code per pixel,
        255 unlabelled.
    polygons_out : path, optional
        Polygons of the labelled areas with ``code``, ``label``, ``name`` and
        ``area`` (square map units; square pixels without georeferencing).
    """
    bar = Progress.wrap(progress, cancel)
    if Path(mask_out).suffix.lower() not in (".png", ".tif", ".tiff"):
        msg = f"mask '{mask_out}' must be a .png (LumenStone format) or .tif file"
        raise GeocoreError(msg)
    check_not_input([mask_out, polygons_out], [image, strokes])
    photo = read_rgb(image)
    geoms, codes = read_strokes(strokes, class_field, photo=photo)
    bar.update(0.05)
    _check_strokes_on_photo(geoms, photo)
    key = _cache_key(Path(image), params)
    levels = _LEVEL_CACHE.get(key)
    if levels is None:
        work, _ = working_copy(photo.rgb, photo.transform, params.work_edge)
        levels = segmentations(work, params, progress=bar.sub(0.05, 0.8))
    _LEVEL_CACHE[key] = levels
    _LEVEL_CACHE.move_to_end(key)
    mask, work_mask, work_transform = annotate_array(photo.rgb, geoms, codes, transform=photo.transform,
                                                     params=params, levels=levels, progress=bar.sub(0.8, 0.85))
    while len(_LEVEL_CACHE) > _LEVEL_CACHE_SIZE:
        _LEVEL_CACHE.popitem(last=False)
    n_polygons = 0
    gdf = None
    if polygons_out is not None:
        gdf = mask_polygons(work_mask, work_transform, photo.crs)
        n_polygons = len(gdf)
    bar.update(0.9)
    write_mask_png(mask_out, mask, like=photo)
    if gdf is not None:
        write_polygons(gdf, polygons_out)
    counts = np.bincount(mask.ravel(), minlength=256)
    fractions = {c: counts[c] / mask.size for c in range(15) if counts[c]}
    return AnnotationResult(Path(mask_out), Path(polygons_out) if polygons_out else None,
                            float(1 - counts[IGNORE] / mask.size), fractions, n_polygons)


def mean_iou(predicted: np.ndarray, truth: np.ndarray) -> float:
    """Mean IoU over the classes present in ``truth``; unlabelled predictions count as wrong."""
    ious = []
    for c in np.unique(truth):
        if c == IGNORE:
            continue
        p, t = predicted == c, truth == c
        ious.append((p & t).sum() / max((p | t).sum(), 1))
    return float(np.mean(ious))
