"""Where a segmentation model is least sure: regions to annotate next.

From a model's class probabilities (a raster with one band per class) the
per-pixel uncertainty is the normalised entropy or one minus the margin
between the two most probable classes; optionally the probabilities are first
averaged over test-time augmentations (flips and quarter turns) of the photo.
The uncertainty map is smoothed, the most uncertain ``share`` of the image is
selected, and its connected parts become polygons ranked by their mean
uncertainty (rank 1: least sure), so that a geologist annotates the places
that teach the model most (active learning; the paper annotates 5-10 %).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np
from affine import Affine

from ..errors import GeocoreError
from ..files import atomic_output, check_not_input
from ..progress import Progress
from .images import PIXEL_TRANSFORM, write_bands
from .params import DEFAULT_MIN_AREA_PX, DEFAULT_SHARE, DEFAULT_SMOOTH_PX, METRICS, RegionParams

#: The augmentations of :func:`tta_probabilities`: (name, forward on (H, W, ...), inverse on (C, H, W)).
AUGMENTATIONS = {
    "identity": (lambda a: a, lambda p: p),
    "hflip": (lambda a: a[:, ::-1], lambda p: p[:, :, ::-1]),
    "vflip": (lambda a: a[::-1], lambda p: p[:, ::-1]),
    "rot90": (lambda a: np.rot90(a, 1, axes=(0, 1)), lambda p: np.rot90(p, -1, axes=(1, 2))),
    "rot180": (lambda a: np.rot90(a, 2, axes=(0, 1)), lambda p: np.rot90(p, 2, axes=(1, 2))),
    "rot270": (lambda a: np.rot90(a, 3, axes=(0, 1)), lambda p: np.rot90(p, -3, axes=(1, 2))),
}


def _normalised(prob: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(prob, dtype=np.float32), 0.0, None)
    total = p.sum(axis=0, keepdims=True)
    return p / np.where(total > 0, total, 1.0)


def entropy(prob: np.ndarray) -> np.ndarray:
    """Normalised Shannon entropy of class probabilities.

    Parameters
    ----------
    prob : ndarray (C, rows, cols)
        Class probabilities (each pixel's are rescaled to sum to 1).

    Returns
    -------
    ndarray (rows, cols) of float32
        ``-sum(p log p) / log C``: 0 for a certain pixel, 1 for a uniform one.
    """
    p = _normalised(prob)
    c = p.shape[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -(p * np.where(p > 0, np.log(p), 0.0)).sum(axis=0)
    return (h / np.log(c)).astype(np.float32) if c > 1 else np.zeros(p.shape[1:], np.float32)


def margin(prob: np.ndarray) -> np.ndarray:
    """Margin between the two most probable classes, ``p1 - p2`` (0: a tie, 1: certain)."""
    p = _normalised(prob)
    if p.shape[0] < 2:
        return np.ones(p.shape[1:], np.float32)
    top2 = np.partition(p, p.shape[0] - 2, axis=0)[-2:]
    return (top2[1] - top2[0]).astype(np.float32)


def uncertainty(prob: np.ndarray, metric: str = "entropy") -> np.ndarray:
    """Uncertainty 0..1 (higher: less sure): entropy, or ``1 - margin``."""
    if metric not in METRICS:
        msg = f"uncertainty metric '{metric}' is unknown; use one of {', '.join(METRICS)}"
        raise GeocoreError(msg)
    return entropy(prob) if metric == "entropy" else 1.0 - margin(prob)


def tta_probabilities(rgb: np.ndarray, model: Callable[[np.ndarray], np.ndarray],
                      augmentations: Sequence[str] = ("identity", "hflip", "vflip", "rot90"),
                      progress=None, cancel=None) -> np.ndarray:
    """Class probabilities averaged over test-time augmentations.

    Parameters
    ----------
    rgb : ndarray (rows, cols, bands)
        The photo (or a 3 + 3N band stack).
    model : callable
        Takes an image like ``rgb`` and returns probabilities (C, rows, cols)
        for that image.
    augmentations : names from :data:`AUGMENTATIONS`
        Each is applied to the photo, the model run, and the prediction mapped back.

    Returns
    -------
    ndarray (C, rows, cols) of float32
    """
    bar = Progress.wrap(progress, cancel)
    unknown = [a for a in augmentations if a not in AUGMENTATIONS]
    if unknown:
        msg = f"unknown augmentation(s) {', '.join(unknown)}; use {', '.join(AUGMENTATIONS)}"
        raise GeocoreError(msg)
    total = None
    for i, name in enumerate(augmentations):
        forward, inverse = AUGMENTATIONS[name]
        p = inverse(_normalised(model(np.ascontiguousarray(forward(rgb)))))
        total = p.copy() if total is None else total + p
        bar.update((i + 1) / len(augmentations))
    return (total / len(augmentations)).astype(np.float32)


def select_regions(score: np.ndarray, share: float = DEFAULT_SHARE, *, smooth_px: float = DEFAULT_SMOOTH_PX,
                   min_area_px: int = DEFAULT_MIN_AREA_PX, valid: Optional[np.ndarray] = None) -> tuple[np.ndarray, np.ndarray]:
    """The most uncertain ``share`` of the image, as labelled connected regions ranked by uncertainty.

    Parameters
    ----------
    score : ndarray (rows, cols)
        Uncertainty (higher: less sure).
    share : float
        Share of the (valid) image to select, 0 < share < 1.
    smooth_px : float
        Gaussian smoothing of the score (pixels) so that regions are compact
        patches rather than speckle; 0 disables it.
    min_area_px : int
        Regions smaller than this are dropped.
    valid : ndarray of bool, optional
        Pixels that may be selected (e.g. where probabilities exist).

    Returns
    -------
    labels : ndarray of int32 (rows, cols)
        0 outside the selection; region ``k`` has label ``k``, ranked so that
        1 is the region with the highest mean uncertainty.
    means : ndarray (n_regions,)
        Mean (unsmoothed) uncertainty of each region, in rank order.
    """
    from scipy import ndimage

    if not 0.0 < share < 1.0:
        msg = f"share {share} must be between 0 and 1 (e.g. 0.07 for 7 % of the image)"
        raise GeocoreError(msg)
    score = np.asarray(score, np.float32)
    valid = np.isfinite(score) if valid is None else (valid & np.isfinite(score))
    if not valid.any():
        raise GeocoreError("the probability raster has no valid pixel")
    filled = np.where(valid, score, 0.0).astype(np.float32)
    if smooth_px > 0:
        weight = ndimage.gaussian_filter(valid.astype(np.float32), smooth_px)
        smooth = ndimage.gaussian_filter(filled, smooth_px) / np.maximum(weight, 1e-6)
    else:
        smooth = filled
    threshold = np.quantile(smooth[valid], 1.0 - share)
    selected = valid & (smooth >= threshold)
    labels, n = ndimage.label(selected)
    if n == 0:
        return np.zeros(score.shape, np.int32), np.zeros(0)
    idx = np.arange(1, n + 1)
    sizes = ndimage.sum_labels(selected, labels, idx)
    means = ndimage.mean(filled, labels, idx)
    keep = sizes >= min_area_px
    order = idx[keep][np.argsort(-means[keep], kind="stable")]
    remap = np.zeros(n + 1, np.int32)
    remap[order] = np.arange(1, len(order) + 1)
    return remap[labels], means[order - 1]


def regions_to_polygons(labels: np.ndarray, score: np.ndarray, *, transform: Affine = PIXEL_TRANSFORM, crs=None,
                        margin_map: Optional[np.ndarray] = None):
    """Polygons of ranked regions: GeoDataFrame with rank, mean/max uncertainty, area, pixels."""
    import geopandas as gpd
    from rasterio.features import shapes
    from scipy import ndimage
    from shapely.geometry import shape as to_shape
    from shapely.ops import unary_union

    n = int(labels.max())
    idx = np.arange(1, n + 1)
    parts: dict = {}
    for geom, value in shapes(labels, mask=labels > 0, transform=transform, connectivity=8):
        parts.setdefault(int(value), []).append(to_shape(geom))
    geoms = [unary_union(parts[k]) for k in idx]
    data = {
        "rank": idx.astype(np.int32),
        "mean_unc": ndimage.mean(score, labels, idx).astype(float),
        "max_unc": ndimage.maximum(score, labels, idx).astype(float),
        "pixels": ndimage.sum_labels(np.ones_like(labels), labels, idx).astype(np.int64),
    }
    if margin_map is not None:
        data["mean_margin"] = ndimage.mean(margin_map, labels, idx).astype(float)
    gdf = gpd.GeoDataFrame(data, geometry=geoms, crs=crs)
    gdf["area"] = gdf.geometry.area
    return gdf


def read_probabilities(path: str | os.PathLike, *, progress=None, cancel=None):
    """Read a probability raster and compute entropy and margin strip by strip.

    Returns ``(entropy, margin, valid, transform, crs, georeferenced)``; only
    the two maps are held in memory, never all the class bands at once.
    """
    import warnings

    import rasterio
    from rasterio.errors import NotGeoreferencedWarning, RasterioIOError
    from rasterio.windows import Window

    bar = Progress.wrap(progress, cancel)
    path = Path(path)
    if not path.is_file():
        msg = f"probability raster '{path}' does not exist; check the path"
        raise GeocoreError(msg)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        try:
            ds = rasterio.open(path)
        except (RasterioIOError, OSError) as exc:
            msg = f"'{path}' is not a raster GDAL can read; give the model's class probabilities as a GeoTIFF"
            raise GeocoreError(msg) from exc
    with ds:
        if ds.count < 2:
            msg = (f"'{path}' has {ds.count} band; class probabilities need one band per class (at least 2): "
                   f"give the model's probability output, not its class map")
            raise GeocoreError(msg)
        georef = (not ds.transform.is_identity) or ds.crs is not None
        scales = np.asarray(ds.scales, np.float32)[:, None, None]
        offsets = np.asarray(ds.offsets, np.float32)[:, None, None]
        scaled = bool(np.any(scales != 1.0) or np.any(offsets != 0.0))
        ent = np.empty((ds.height, ds.width), np.float32)
        mar = np.empty((ds.height, ds.width), np.float32)
        valid = np.empty((ds.height, ds.width), bool)
        step = max(1, int(64e6 // (4 * ds.count * ds.width)))
        for r0 in range(0, ds.height, step):
            win = Window(0, r0, ds.width, min(step, ds.height - r0))
            block = ds.read(window=win, masked=True)
            ok = ~np.ma.getmaskarray(block).any(axis=0)
            data = np.ma.getdata(block).astype(np.float32)
            if scaled:  # compact probabilities (uint8 with a GDAL scale, as segment writes them)
                data = data * scales + offsets
            ok &= np.isfinite(data).all(axis=0)
            data[:, ~ok] = 1.0
            if (scaled or np.dtype(ds.dtypes[0]).kind == "f") and ok.any() and (
                    data[:, ok].min() < -1e-6 or data[:, ok].max() > 1.0 + 1e-3):
                msg = (f"'{path}' holds values outside 0..1; give probabilities (softmax output), not logits "
                       f"or scores")
                raise GeocoreError(msg)
            ent[r0:r0 + win.height] = entropy(data)
            mar[r0:r0 + win.height] = margin(data)
            valid[r0:r0 + win.height] = ok
            bar.update(min(1.0, (r0 + step) / ds.height))
        transform = ds.transform if georef else PIXEL_TRANSFORM
        return ent, mar, valid, transform, ds.crs, bool(georef)


def model_probabilities(image: str | os.PathLike, model_path: str | os.PathLike, out: str | os.PathLike, *,
                        tta: bool = False, augmentations: Sequence[str] = ("identity", "hflip", "vflip", "rot90"),
                        tile_params=None, progress=None, cancel=None) -> Path:
    """Class probabilities of a geocore segmentation model over a photo, optionally with TTA.

    Parameters
    ----------
    image : path
        Photo or 3 + 3N band stack with as many bands as the model takes.
    model_path : path
        geocore ``.safetensors`` model with its card; it must output several
        classes (softmax).
    out : path
        GeoTIFF of the probabilities (float32, one band per class), with the
        photo's georeferencing.
    tta : bool
        Average the predictions over ``augmentations`` (each applied to the
        photo, run through the shared tiled engine, and mapped back).
    tile_params : geocore.inference.tiled.TileParams, optional
        Tile size, overlap, batch size and device.
    """
    import tempfile
    import warnings

    import rasterio
    from rasterio.errors import NotGeoreferencedWarning

    from ..inference.tiled import TileParams, predict_raster
    from ..models import load_model, resolve_device

    bar = Progress.wrap(progress, cancel)
    params = tile_params or TileParams()
    check_not_input([out], [image, model_path])
    names = list(augmentations) if tta else ["identity"]
    unknown = [a for a in names if a not in AUGMENTATIONS]
    if unknown:
        msg = f"unknown augmentation(s) {', '.join(unknown)}; use {', '.join(AUGMENTATIONS)}"
        raise GeocoreError(msg)
    model, card = load_model(model_path, device=resolve_device(params.device))
    from ..minerals.segment import model_notice

    notice = model_notice(card)  # written into the raster's metadata, read back by uncertainty_regions
    if card.classes < 2:
        msg = (f"model '{model_path}' has one output channel; uncertainty needs class probabilities: "
               f"give a minerals (multi-class) model")
        raise GeocoreError(msg)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(image) as ds:
            if ds.count != card.in_channels:
                msg = (f"'{image}' has {ds.count} band{'s' if ds.count > 1 else ''} but the model takes {card.in_channels}"
                       f"; give a photo with {card.in_channels} bands (an RGB photograph has 3)")
                raise GeocoreError(msg)
            data = np.moveaxis(ds.read(), 0, -1)
            transform, crs = ds.transform, ds.crs
            georef = (not transform.is_identity) or crs is not None
    total = None
    with tempfile.TemporaryDirectory(prefix=".geocore_tta", dir=Path(out).resolve().parent) as tmp:
        for i, name in enumerate(names):
            forward, inverse = AUGMENTATIONS[name]
            aug = np.moveaxis(np.ascontiguousarray(forward(data)), -1, 0)
            src, dst = Path(tmp) / f"{name}.tif", Path(tmp) / f"{name}_prob.tif"
            # a plain pixel frame with rows growing downwards, so that nothing warns of missing georeferencing
            write_bands(src, aug, transform=Affine(1.0, 0.0, 0.0, 0.0, -1.0, float(aug.shape[1])))
            predict_raster(src, dst, model, card, params=params,
                           progress=bar.sub(i / len(names), (i + 1) / len(names)))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", NotGeoreferencedWarning)
                with rasterio.open(dst) as ds:
                    p = inverse(ds.read().astype(np.float32))
            total = p if total is None else total + p
    mean = (total / len(names)).astype(np.float32)
    with atomic_output(out) as tmp_out:
        write_bands(tmp_out, mean, transform=transform if georef else None, crs=crs if georef else None,
                    descriptions=list(card.class_names)[:mean.shape[0]] if card.class_names else None)
        if notice:
            with rasterio.open(tmp_out, "r+") as ds:
                ds.update_tags(MODEL=str(card.name), MODEL_NOTE=notice)
    return Path(out)


@dataclass
class UncertaintyResult:
    """What :func:`uncertainty_regions` wrote."""

    regions_path: Path
    n_regions: int
    selected_fraction: float
    map_path: Optional[Path] = None
    #: The DEMO/synthetic-model caveat carried by the probability raster ("" for none).
    notice: str = ""

    def summary(self) -> str:
        text = f"WARNING: {self.notice}\n" if self.notice else ""
        text += (f"regions: {self.regions_path} ({self.n_regions} regions covering "
                f"{100 * self.selected_fraction:.1f} % of the image, rank 1 = least sure)")
        if self.map_path:
            text += f"\nuncertainty map: {self.map_path}"
        return text


def uncertainty_regions(probability: str | os.PathLike, regions_out: str | os.PathLike,
                        params: Optional[RegionParams] = None, *, map_out: Optional[str | os.PathLike] = None,
                        progress=None, cancel=None) -> UncertaintyResult:
    """Polygons of the most uncertain ``share`` of a probability raster, ranked.

    Parameters
    ----------
    probability : path
        Raster with one band per class (probabilities 0..1).
    regions_out : path
        Polygons (GeoPackage, Shapefile, ...) with ``rank`` (1: least sure),
        ``mean_unc`` and ``max_unc`` (the chosen metric, 0..1), ``mean_margin``,
        ``pixels`` and ``area`` (square map units).
    params : RegionParams, optional
        Share, metric, smoothing and smallest region (defaults: :class:`RegionParams`).
    map_out : path, optional
        GeoTIFF of the per-pixel uncertainty (float32, 0..1).
    """
    from .annotate import write_polygons

    bar = Progress.wrap(progress, cancel)
    params = params or RegionParams()
    share, metric = params.share, params.metric
    if metric not in METRICS:
        msg = f"uncertainty metric '{metric}' is unknown; use one of {', '.join(METRICS)}"
        raise GeocoreError(msg)
    if not 0.0 < share < 1.0:
        msg = f"share {share} must be between 0 and 1 (e.g. 0.07 for 7 % of the image)"
        raise GeocoreError(msg)
    check_not_input([regions_out, map_out], [probability])
    ent, mar, valid, transform, crs, georef = read_probabilities(probability, progress=bar.sub(0.0, 0.5))
    score = ent if metric == "entropy" else 1.0 - mar
    labels, _ = select_regions(score, share, smooth_px=params.smooth_px, min_area_px=params.min_area_px, valid=valid)
    bar.update(0.7)
    gdf = regions_to_polygons(labels, score, transform=transform, crs=crs, margin_map=mar)
    bar.update(0.9)
    write_polygons(gdf, regions_out)
    from ..minerals.stats import class_map_note

    notice = class_map_note(probability)
    if map_out is not None:
        import rasterio

        with atomic_output(map_out) as tmp:
            write_bands(tmp, np.where(valid, score, np.nan)[None].astype(np.float32), transform=transform,
                        crs=crs if georef else None, nodata=float("nan"))
            if notice:
                with rasterio.open(tmp, "r+") as ds:
                    ds.update_tags(MODEL_NOTE=notice)
    return UncertaintyResult(Path(regions_out), len(gdf), float((labels > 0).sum() / max(valid.sum(), 1)),
                             Path(map_out) if map_out else None, notice=notice)


def find_uncertain_regions(source: str | os.PathLike, regions_out: str | os.PathLike,
                           params: Optional[RegionParams] = None, *, model: Optional[str | os.PathLike] = None,
                           tta: bool = False, tile_params=None, probability_out: Optional[str | os.PathLike] = None,
                           map_out: Optional[str | os.PathLike] = None, progress=None,
                           cancel=None) -> UncertaintyResult:
    """Both steps the CLI and QGIS run: a model's probabilities (when ``model`` is given), then the regions.

    The outputs are written all or nothing (:func:`geocore.files.output_set`).

    Parameters
    ----------
    source : path
        With ``model``: the photo (or band stack) the model segments. Without: a
        probability raster (one band per class).
    regions_out, params, map_out
        See :func:`uncertainty_regions`.
    model : path, optional
        geocore minerals model; see :func:`model_probabilities` for ``tta`` and
        ``tile_params``.
    probability_out : path, optional
        Keep the model's probabilities there (default: a temporary file).
    """
    import tempfile

    from ..files import output_set

    bar = Progress.wrap(progress, cancel)
    if model is None:
        if tta or probability_out is not None:
            raise GeocoreError("test-time augmentation and a probability output need a model "
                               "(the input is then the photo)")
        with output_set(inputs=[source]):
            return uncertainty_regions(source, regions_out, params, map_out=map_out, progress=bar, cancel=cancel)
    with output_set(inputs=[source, model]), tempfile.TemporaryDirectory(prefix=".geocore") as tmp:
        probability = probability_out or Path(tmp) / "probability.tif"
        model_probabilities(source, model, probability, tta=tta, tile_params=tile_params, progress=bar.sub(0.0, 0.8))
        return uncertainty_regions(probability, regions_out, params, map_out=map_out, progress=bar.sub(0.8, 1.0))
