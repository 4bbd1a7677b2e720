"""Segmentation of polished-section photographs and panoramas into minerals.

image -> (checks) -> tiled network probabilities (the shared engine,
:func:`geocore.inference.tiled.predict_raster`) -> class map (arg-max, as
LumenStone codes, small specks merged into their surroundings) -> polygons
with code, name and area -> mineral statistics. With a pixel size in
micrometres the outputs are placed in a local engineering CRS whose unit is
the micrometre, so areas come out in square micrometres and QGIS measures in
micrometres.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from ..errors import GeocoreError
from ..files import atomic_output, check_not_input, prepare_out_dir, write_vector
from ..progress import Progress
from ..raster.profile import gtiff_profile
from ..raster.vrt import stack_bands_vrt
from ..system import available_memory
from .classes import BY_CODE, CLASSES
from .params import SegmentParams

#: File name of the shipped demo model inside ``geocore/minerals/models/``.
SHIPPED_MODEL = "minerals_demo_mobilenetv2_unet.safetensors"

#: WKT of the local engineering CRS of a polished section (unit: micrometre).
MICROMETRE_WKT = ('ENGCRS["polished section, micrometres",EDATUM["microscope stage"],CS[Cartesian,2],'
                  'AXIS["x",east,ORDER[1],LENGTHUNIT["micrometre",1E-06]],'
                  'AXIS["y",north,ORDER[2],LENGTHUNIT["micrometre",1E-06]]]')

#: Rows of the class map processed at a time (arg-max pass).
_ROWS = 512


def default_model_path() -> Path:
    """Path of the demo mineral model shipped with geocore (trained on synthetic sections)."""
    path = Path(__file__).resolve().parent / "models" / SHIPPED_MODEL
    if not path.is_file():
        msg = f"the shipped mineral model is missing ({path}); pass --model with a trained .safetensors model"
        raise GeocoreError(msg)
    return path


def micrometre_crs():
    """The local engineering CRS (rasterio) whose unit is the micrometre."""
    from rasterio.crs import CRS

    return CRS.from_wkt(MICROMETRE_WKT)


def micrometre_transform(um_per_px: float):
    """Pixel -> micrometre transform: origin at the top-left corner, y up (north)."""
    from affine import Affine

    return Affine(float(um_per_px), 0.0, 0.0, 0.0, -float(um_per_px), 0.0)


def _check_um(um_per_px: Optional[float]) -> None:
    if um_per_px is not None and not (np.isfinite(um_per_px) and um_per_px > 0):
        raise GeocoreError(f"pixel size {um_per_px} µm is not a positive number; give e.g. --um-per-px 1.1")


def check_photo(path: str | os.PathLike, in_channels: int = 3, extra: Sequence = ()) -> dict:
    """Check that ``path`` is an 8-bit RGB photograph (or panorama) the model can take.

    Returns a dict with ``width``, ``height``, ``count``, ``crs``,
    ``transform``, ``georeferenced``.
    """
    from ..raster.io import open_gdal

    path = Path(path)
    ds = open_gdal(path, missing="image '{path}' does not exist; check the path",
                   folder="image '{path}' is a folder; give the photograph's file",
                   unreadable="'{path}' is not an image GDAL can read; give a JPEG, PNG or TIFF photograph")
    with ds:
        if ds.count < 3:
            raise GeocoreError(f"'{path}' is a grey image ({ds.count} band); the mineral models need RGB colour "
                               f"photographs: colour is what tells the minerals apart")
        if any(np.dtype(d) != np.uint8 for d in ds.dtypes[:3]):
            raise GeocoreError(f"'{path}' is {ds.dtypes[0]}; the models take 8-bit RGB photographs: convert it "
                               f"(e.g. gdal_translate -ot Byte -scale)")
        info = dict(width=ds.width, height=ds.height, count=ds.count, crs=ds.crs, transform=ds.transform,
                    georeferenced=not ds.transform.is_identity or ds.crs is not None)
    need_extra = (int(in_channels) - 3) // 3
    if len(extra) != need_extra:
        raise GeocoreError(f"the model takes {in_channels} channels (RGB + {need_extra} aligned extra image"
                           f"{'s' if need_extra != 1 else ''}); {len(extra)} extra image(s) were given")
    for e in extra:
        ei = check_photo(e, 3)
        if (ei["width"], ei["height"]) != (info["width"], info["height"]):
            raise GeocoreError(f"extra image '{e}' is {ei['width']} x {ei['height']} px, the image "
                               f"{info['width']} x {info['height']}; extra images must be aligned and the same size")
    return info


#: Bytes per pixel held after the network: class map, nodata mask, sieve copy, grain labels (int32).
BYTES_PER_PIXEL = 7


def check_memory(width: int, height: int, available: int | None = None) -> None:
    """Refuse, before any work, an image whose class map and grain labels cannot fit in memory.

    The network runs tile by tile in bounded memory whatever the image size;
    the class map (1 byte a pixel) is then held whole for the speck merging,
    the polygons and the grain labelling, about :data:`BYTES_PER_PIXEL` bytes
    a pixel in all.
    """
    need = int(width) * int(height) * BYTES_PER_PIXEL
    avail = available_memory() if available is None else available
    if avail is not None and need > 0.8 * avail:
        raise GeocoreError(f"the image is {width} x {height} px: its class map and grain labels need about "
                           f"{need / 2**30:.1f} GiB but only {avail / 2**30:.1f} GiB of memory is available; "
                           f"cut the panorama into parts (e.g. gdal_translate -srcwin) or free memory")


def pixel_size_um(crs, transform, um_per_px: Optional[float]) -> Optional[float]:
    """Pixel edge in micrometres: ``um_per_px``, else that of a micrometre CRS, else None (unknown)."""
    if um_per_px is not None:
        return float(um_per_px)
    if crs is not None and "micrometre" in crs.to_wkt():
        return float(abs(transform.a))
    return None


def _stack_vrt(image: Path, extra: Sequence, folder: Path) -> Path:
    """A VRT of the RGB bands of ``image`` followed by those of each extra image."""
    return stack_bands_vrt([str(Path(p).resolve()) for p in (image, *extra)], folder / "stack.vrt")


def write_class_map(prob_path: Path, dst: Path, codes: Sequence[int], *, crs=None, transform=None,
                    min_grain_px: int = 0, progress=None) -> np.ndarray:
    """Arg-max of a probability raster -> class codes (uint8 GeoTIFF with the LumenStone palette).

    Parameters
    ----------
    prob_path : path
        Float raster, one band per class (output order = ``codes``).
    dst : path
        Output GeoTIFF (written atomically), nodata 255 where the input was nodata.
    codes : sequence of int
        Class code of each band.
    crs, transform : optional
        Georeferencing to write (default: that of ``prob_path``).
    min_grain_px : int
        Connected patches smaller than this many pixels are merged into their
        largest neighbour (GDAL sieve, 4-connected); 0 keeps the raw arg-max.

    Returns
    -------
    ndarray of uint8
        The class map (rows, cols), kept for polygons and statistics.
    """
    import rasterio
    from rasterio.features import sieve
    from rasterio.windows import Window

    prog = Progress.wrap(progress)
    lut = np.asarray(codes, np.uint8)
    with rasterio.open(prob_path) as ds:
        H, W = ds.height, ds.width
        classes = np.empty((H, W), np.uint8)
        nodata = np.zeros((H, W), bool)
        for r0 in range(0, H, _ROWS):
            n = min(_ROWS, H - r0)
            p = ds.read(window=Window(0, r0, W, n))
            bad = ~np.isfinite(p).all(axis=0)
            classes[r0:r0 + n] = lut[np.nan_to_num(p, nan=-1.0).argmax(axis=0)]
            nodata[r0:r0 + n] = bad
            prog.update(0.5 * (r0 + n) / H)
        crs = ds.crs if crs is None else crs
        transform = ds.transform if transform is None else transform
    if min_grain_px and min_grain_px > 1:
        classes = sieve(classes, size=int(min_grain_px), connectivity=4,
                        mask=None if not nodata.any() else ~nodata)
    classes[nodata] = 255
    prog.update(0.8)
    profile = gtiff_profile(W, H, 1, "uint8", crs=crs, transform=transform, nodata=255, tiled=True)
    from rasterio.errors import NotGeoreferencedWarning

    with warnings.catch_warnings(), atomic_output(dst) as tmp:
        warnings.simplefilter("ignore", NotGeoreferencedWarning)  # a plain photograph: pixel coordinates
        out = rasterio.open(tmp, "w", **profile)
        out.write_colormap(1, {c.code: c.rgb + (255,) for c in CLASSES})
        out.write(classes, 1)
        out.set_band_description(1, "mineral class code (LumenStone)")
        out.update_tags(1, **{f"CLASS_{c.code}": f"{c.label} {c.name}" for c in CLASSES})
        out.close()
    prog.update(1.0)
    return classes


def polygons_from_classes(classes: np.ndarray, transform, crs, *, include_background: bool = False):
    """Polygons of the connected patches of each class, with code, label, name and area.

    Parameters
    ----------
    classes : ndarray (rows, cols) uint8
        Class codes; 255 is nodata.
    transform, crs
        Georeferencing of the class map; areas are in CRS units squared
        (square micrometres in the micrometre CRS).
    include_background : bool
        Also give polygons of non-ore (code 0).

    Returns
    -------
    geopandas.GeoDataFrame
        Columns ``code``, ``label``, ``name``, ``area``, ``perimeter``,
        ``ecd`` (equivalent circle diameter, CRS units), geometry.
    """
    import geopandas as gpd
    import pyproj
    from rasterio.features import shapes
    from shapely.geometry import shape

    mask = classes != 255
    if not include_background:
        mask &= classes != 0
    rows = []
    geoms = []
    for geom, value in shapes(classes, mask=mask, connectivity=4, transform=transform):
        c = BY_CODE.get(int(value))
        if c is None:
            continue
        g = shape(geom)
        rows.append((c.code, c.label, c.name))
        geoms.append(g)
    gcrs = pyproj.CRS.from_wkt(crs.to_wkt()) if crs is not None else None
    gdf = gpd.GeoDataFrame({"code": np.array([r[0] for r in rows], np.int32),
                            "label": np.array([r[1] for r in rows], dtype=object),
                            "name": np.array([r[2] for r in rows], dtype=object)},
                           geometry=geoms, crs=gcrs)
    gdf["area"] = gdf.geometry.area
    gdf["perimeter"] = gdf.geometry.length
    gdf["ecd"] = 2.0 * np.sqrt(gdf["area"] / np.pi)
    return gdf[["code", "label", "name", "area", "perimeter", "ecd", "geometry"]]


@dataclass
class SegmentResult:
    """Outputs of :func:`segment_image`."""

    classes: Path
    polygons: Optional[Path] = None
    probabilities: Optional[Path] = None
    stats: dict = field(default_factory=dict)
    n_polygons: int = 0
    fractions: dict = field(default_factory=dict)

    def summary(self) -> str:
        out = [f"classes: {self.classes}"]
        if self.probabilities:
            out.append(f"probabilities: {self.probabilities}")
        if self.polygons:
            out.append(f"polygons: {self.polygons} ({self.n_polygons} grains)")
        for k, v in self.stats.items():
            out.append(f"{k}: {v}")
        for label, f in sorted(self.fractions.items(), key=lambda kv: -kv[1]):
            out.append(f"  {label:>4s} {100 * f:6.2f} %")
        return "\n".join(out)


def _checked_model(image: Path, extra: Sequence, model_path, tiles):
    """The mineral model and the photo's facts, after every check that can fail before any work."""
    from ..models.network import load_model

    info = check_photo(image, 3 + 3 * len(extra), extra)
    model, card = load_model(model_path or default_model_path(), device="cpu")
    if card.task != "minerals" or not card.class_codes:
        raise GeocoreError(f"model '{model_path}' is a {card.task} model without class codes; give a mineral model")
    tiles.checked_tile_size(card)
    if int(card.in_channels) != 3 + 3 * len(extra):
        n = (int(card.in_channels) - 3) // 3
        raise GeocoreError(f"the model takes {card.in_channels} channels (RGB + {n} aligned extra image"
                           f"{'s' if n != 1 else ''}); {len(extra)} extra image(s) were given")
    check_memory(info["width"], info["height"])
    return model, card, info


def _output_frame(info: dict, um_per_px: Optional[float]):
    """CRS and transform of the outputs: micrometres with a pixel size, else the image's, else pixels."""
    if um_per_px is not None:
        return micrometre_crs(), micrometre_transform(um_per_px)
    if info["georeferenced"]:
        return info["crs"], info["transform"]
    from affine import Affine

    return None, Affine(1.0, 0.0, 0.0, 0.0, -1.0, 0.0)


def _move_probabilities(prob_tmp: Path, out: Path, crs, transform, codes: Sequence[int]) -> None:
    """Give the probability raster the output frame and class names, and move it to ``out``."""
    import shutil

    import rasterio

    with rasterio.open(prob_tmp, "r+") as ds:
        ds.crs, ds.transform = crs, transform
        for i, c in enumerate(codes):
            ds.set_band_description(i + 1, f"probability of {BY_CODE[int(c)].name}")
    shutil.move(str(prob_tmp), str(out))


def _write_statistics(classes: np.ndarray, crs, transform, params: SegmentParams, stats_dir, stack, cancel):
    """Mineral statistics of the class map (micrometres where the pixel size is known)."""
    from .stats import statistics_from_classes, write_statistics

    px = pixel_size_um(crs, transform, params.um_per_px)
    if px is None:
        warnings.warn("no pixel size given (--um-per-px): statistics are in pixels, not micrometres",
                      UserWarning, stacklevel=3)
    st = statistics_from_classes(classes, pixel_size=px or 1.0, size_classes=params.size_classes, cancel=cancel)
    return write_statistics(st, stats_dir, stack=stack), {BY_CODE[c].label: f for c, f in st.area_fraction.items()}


def segment_image(
    image: str | os.PathLike,
    classes_path: str | os.PathLike,
    params: Optional[SegmentParams] = None,
    *,
    polygons_path: Optional[str | os.PathLike] = None,
    probabilities_path: Optional[str | os.PathLike] = None,
    stats_dir: Optional[str | os.PathLike] = None,
    model_path: Optional[str | os.PathLike] = None,
    extra: Sequence[str | os.PathLike] = (),
    progress=None,
    cancel=None,
) -> SegmentResult:
    """Segment a reflected-light photograph or panorama into ore minerals.

    Parameters
    ----------
    image : path
        8-bit RGB photograph of any size (JPEG, PNG, TIFF, ...; read in strips).
    classes_path : path
        Class map GeoTIFF to write: uint8 LumenStone codes, 255 = nodata,
        with the LumenStone palette.
    params : SegmentParams, optional
        Pixel size, tiling, speck merging, background polygons and size
        classes (defaults: :class:`~geocore.minerals.params.SegmentParams`).
    polygons_path : path, optional
        Grain polygons (.gpkg, .shp, ...) with code, label, name, area
        (square micrometres with ``um_per_px``), perimeter and ecd.
    probabilities_path : path, optional
        Per-class probability GeoTIFF (float32, one band per model class).
    stats_dir : path, optional
        Folder for the mineral statistics (:func:`geocore.minerals.stats.write_statistics`).
    model_path : path, optional
        A geocore mineral model; None uses the shipped demo model.
    extra : list of paths
        Aligned extra photographs (e.g. crossed polars) for models with 3 + 3N inputs.

    All outputs appear together at the end; an error or a cancel leaves none.
    """
    from rasterio.errors import NotGeoreferencedWarning

    from ..inference.tiled import predict_raster

    params = params or SegmentParams()
    image = Path(image)
    prog = Progress.wrap(progress, cancel)
    outs = [p for p in (classes_path, polygons_path, probabilities_path) if p is not None]
    check_not_input(outs, [image, *extra])
    _check_um(params.um_per_px)
    tiles = params.tile_params()
    model, card, info = _checked_model(image, extra, model_path, tiles)
    if stats_dir is not None and Path(stats_dir).exists() and not Path(stats_dir).is_dir():
        prepare_out_dir(stats_dir)
    crs, transform = _output_frame(info, params.um_per_px)
    prog.update(0.01)
    with tempfile.TemporaryDirectory(prefix=".geocore-minerals-", dir=Path(classes_path).parent
                                     if Path(classes_path).parent.is_dir() else None) as tmpdir, \
            contextlib.ExitStack() as stack:
        tmpdir = Path(tmpdir)
        src = image if not extra else _stack_vrt(image, extra, tmpdir)
        bands = list(range(1, card.in_channels + 1))
        prob_tmp = tmpdir / "probabilities.tif"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)  # a plain photograph: pixel coordinates
            predict_raster(src, prob_tmp, model, card, bands=bands, params=tiles, progress=prog.sub(0.01, 0.75))
        prog.check()
        classes_out = stack.enter_context(atomic_output(classes_path))
        classes = write_class_map(prob_tmp, classes_out, card.class_codes, crs=crs, transform=transform,
                                  min_grain_px=params.min_grain_px, progress=prog.sub(0.75, 0.82))
        result = SegmentResult(classes=Path(classes_path))
        if probabilities_path is not None:
            _move_probabilities(prob_tmp, stack.enter_context(atomic_output(probabilities_path)), crs, transform,
                                card.class_codes)
            result.probabilities = Path(probabilities_path)
        prog.check()
        if polygons_path is not None:
            gdf = polygons_from_classes(classes, transform, crs, include_background=params.include_background)
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*crs.*not provided")  # pixel coordinates
                write_vector(gdf, stack.enter_context(atomic_output(polygons_path)))
            result.polygons, result.n_polygons = Path(polygons_path), len(gdf)
        prog.update(0.9)
        if stats_dir is not None:
            result.stats, result.fractions = _write_statistics(classes, crs, transform, params, stats_dir, stack,
                                                               cancel)
        prog.check()
    prog.update(1.0)
    return result


def segment_to_folder(image, out_dir, params: Optional[SegmentParams] = None, *, probabilities: bool = False,
                      vector_format: str = "gpkg", **kwargs) -> SegmentResult:
    """:func:`segment_image` into ``out_dir``: classes.tif, minerals.gpkg, stats.csv and the report."""
    fmt = vector_format.lower().lstrip(".")
    if fmt not in ("gpkg", "shp", "geojson"):
        raise GeocoreError(f"vector format '{vector_format}' is not supported; use gpkg, shp or geojson")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        prepare_out_dir(out)
    return segment_image(image, out / "classes.tif", params, polygons_path=out / f"minerals.{fmt}",
                         probabilities_path=out / "probabilities.tif" if probabilities else None,
                         stats_dir=out, **kwargs)


def predict_classes(model, card, image: np.ndarray, *, tile_size: Optional[int] = None, overlap: float = 0.5,
                    device: str = "cpu", batch_size: int = 4) -> np.ndarray:
    """Class codes of an in-memory image (rows, cols, channels) uint8, through the tiled engine.

    Used by evaluation so that metrics measure exactly what ``segment`` does
    (without the speck merging).
    """
    import rasterio
    from rasterio.errors import NotGeoreferencedWarning

    from ..inference.tiled import TileParams, predict_raster

    h, w, c = image.shape
    with tempfile.TemporaryDirectory(prefix="geocore-eval-") as tmp:
        src, dst = Path(tmp) / "image.tif", Path(tmp) / "prob.tif"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NotGeoreferencedWarning)  # an array without georeferencing
            with rasterio.open(src, "w", driver="GTiff", width=w, height=h, count=c, dtype="uint8") as ds:
                ds.write(np.moveaxis(image, -1, 0))
            predict_raster(src, dst, model, card, params=TileParams(tile_size=tile_size, overlap=overlap,
                                                                     batch_size=batch_size, device=device))
        with rasterio.open(dst) as ds:
            p = ds.read()
    return np.asarray(card.class_codes, np.uint8)[p.argmax(axis=0)]
