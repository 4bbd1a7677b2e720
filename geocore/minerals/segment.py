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

from ..errors import GeocoreError, ParameterError
from ..files import atomic_output, check_not_input, prepare_out_dir, write_vector
from ..progress import Progress
from ..raster.io import check_size
from ..raster.micrometre import is_micrometre_crs, micrometre_crs, micrometre_transform
from ..raster.profile import gtiff_profile
from ..raster.vrt import stack_bands_vrt
from ..system import check_fits_in_memory
from .classes import BY_CODE, CLASSES
from .params import SegmentParams

#: File name of the shipped demo model inside ``geocore/minerals/models/``.
SHIPPED_MODEL = "minerals_demo_mobilenetv2_unet.safetensors"

#: Rows of the class map processed at a time (arg-max pass).
_ROWS = 512


def default_model_path() -> Path:
    """Path of the demo mineral model shipped with geocore (trained on synthetic sections)."""
    path = Path(__file__).resolve().parent / "models" / SHIPPED_MODEL
    if not path.is_file():
        msg = f"the shipped mineral model is missing ({path}); give a trained .safetensors model with {{param}}"
        raise ParameterError(msg, param="model")
    return path


def _check_um(um_per_px: Optional[float]) -> None:
    if um_per_px is not None and not (np.isfinite(um_per_px) and um_per_px > 0):
        raise ParameterError(f"pixel size {um_per_px} µm is not a positive number; give e.g. 1.1 as {{param}}",
                             param="um_per_px")


#: Smallest image edge in pixels that segmentation accepts.
MIN_PX = 8


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
    check_size(info["width"], info["height"], path, minimum=MIN_PX, what="image")
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
    check_fits_in_memory(int(width) * int(height) * BYTES_PER_PIXEL,
                         f"the image is {width} x {height} px: holding its class map and grain labels",
                         fix="cut the panorama into parts (e.g. gdal_translate -srcwin) or free memory",
                         available=available)


def pixel_size_um(crs, transform, um_per_px: Optional[float]) -> Optional[float]:
    """Pixel edge in micrometres: ``um_per_px``, else that of a micrometre CRS, else None (unknown)."""
    from ..raster.micrometre import pixel_size_um as crs_pixel_size

    if um_per_px is not None:
        return float(um_per_px)
    return crs_pixel_size(crs, transform)


def _stack_vrt(image: Path, extra: Sequence, folder: Path) -> Path:
    """A VRT of the RGB bands of ``image`` followed by those of each extra image."""
    return stack_bands_vrt([str(Path(p).resolve()) for p in (image, *extra)], folder / "stack.vrt")


#: Probabilities are stored as uint8: value = round(p * PROB_SCALE); 255 is nodata; GDAL scale 1/PROB_SCALE.
PROB_SCALE = 254
PROB_NODATA = 255


def write_class_map(prob_path: Path, dst: Path, codes: Sequence[int], *, crs=None, transform=None,
                    min_grain_px: int = 0, probabilities_dst: Optional[Path] = None, tags: Optional[dict] = None,
                    progress=None) -> np.ndarray:
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
    probabilities_dst : path, optional
        Also write the probabilities here, in the same pass, compactly: uint8,
        ``round(p * 254)``, nodata 255, with GDAL scale ``1/254`` and offset 0
        (so GDAL, QGIS and :func:`geocore.microscopy.uncertainty.read_probabilities`
        read probabilities 0..1, to 0.002). A quarter of the float32 size.
    tags : dict, optional
        Dataset metadata written to both files (model, DEMO notice, pixel size).

    Returns
    -------
    ndarray of uint8
        The class map (rows, cols), kept for polygons and statistics.
    """
    import rasterio
    from rasterio.errors import NotGeoreferencedWarning
    from rasterio.features import sieve
    from rasterio.windows import Window

    prog = Progress.wrap(progress)
    lut = np.asarray(codes, np.uint8)
    with contextlib.ExitStack() as stack, warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)  # a plain photograph: pixel coordinates
        ds = stack.enter_context(rasterio.open(prob_path))
        H, W = ds.height, ds.width
        crs = ds.crs if crs is None else crs
        transform = ds.transform if transform is None else transform
        pout = None
        if probabilities_dst is not None:
            pout = stack.enter_context(rasterio.open(
                probabilities_dst, "w", **gtiff_profile(W, H, ds.count, "uint8", crs=crs, transform=transform,
                                                        nodata=PROB_NODATA, tiled=True)))
            pout.scales = [1.0 / PROB_SCALE] * ds.count
            pout.offsets = [0.0] * ds.count
            for i, c in enumerate(codes):
                pout.set_band_description(i + 1, f"probability of {BY_CODE[int(c)].name}")
            pout.update_tags(PROBABILITY_ENCODING=f"uint8 = round(p * {PROB_SCALE}), nodata {PROB_NODATA}; "
                                                  f"p = value / {PROB_SCALE} (GDAL scale)", **(tags or {}))
        classes = np.empty((H, W), np.uint8)
        nodata = np.zeros((H, W), bool)
        for r0 in range(0, H, _ROWS):
            n = min(_ROWS, H - r0)
            p = ds.read(window=Window(0, r0, W, n))
            bad = ~np.isfinite(p).all(axis=0)
            classes[r0:r0 + n] = lut[np.nan_to_num(p, nan=-1.0).argmax(axis=0)]
            nodata[r0:r0 + n] = bad
            if pout is not None:
                q = np.rint(np.clip(np.nan_to_num(p, nan=0.0), 0.0, 1.0) * PROB_SCALE).astype(np.uint8)
                q[:, bad] = PROB_NODATA
                pout.write(q, window=Window(0, r0, W, n))
            prog.update(0.5 * (r0 + n) / H)
    if min_grain_px and min_grain_px > 1:
        classes = sieve(classes, size=int(min_grain_px), connectivity=4,
                        mask=None if not nodata.any() else ~nodata)
    classes[nodata] = 255
    prog.update(0.8)
    profile = gtiff_profile(W, H, 1, "uint8", crs=crs, transform=transform, nodata=255, tiled=True)
    with warnings.catch_warnings(), atomic_output(dst) as tmp:
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        out = rasterio.open(tmp, "w", **profile)
        out.write_colormap(1, {c.code: c.rgb + (255,) for c in CLASSES})
        out.write(classes, 1)
        out.set_band_description(1, "mineral class code (LumenStone)")
        out.update_tags(1, **{f"CLASS_{c.code}": f"{c.label} {c.name}" for c in CLASSES})
        if tags:
            out.update_tags(**tags)
        out.close()
    prog.update(1.0)
    return classes


def write_photo_copy(image: Path, dst: Path, crs, transform, progress=None) -> Path:
    """A lossless GeoTIFF copy of the RGB bands of ``image`` placed with ``crs`` and ``transform``.

    Used for a plain photograph segmented with a pixel size: the outputs are in
    micrometres, the photograph as QGIS shows it is in pixels, so this copy is
    what the outputs overlay (QGIS loads it in the photograph's place).
    Read and written in strips of rows (bounded memory); ``dst`` is written
    as given (the caller makes it atomic).
    """
    import rasterio
    from rasterio.errors import NotGeoreferencedWarning
    from rasterio.windows import Window

    prog = Progress.wrap(progress)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(image) as src:
            H, W = src.height, src.width
            profile = gtiff_profile(W, H, 3, "uint8", crs=crs, transform=transform, tiled=True, predictor=2,
                                    photometric="RGB", interleave="pixel")
            with rasterio.open(dst, "w", **profile) as out:
                out.update_tags(SOURCE=str(Path(image).name), UM_PER_PX=f"{abs(transform.a):g}",
                                UNITS="micrometre")
                for r0 in range(0, H, _ROWS):
                    win = Window(0, r0, W, min(_ROWS, H - r0))
                    out.write(src.read([1, 2, 3], window=win), window=win)
                    prog.update((r0 + win.height) / H)
    return Path(dst)


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


def model_notice(card) -> str:
    """The caveat every output of a model trained on synthetic sections must carry, or "" for other models.

    A model is so marked when its card's notes say DEMO (the shipped model)
    or its training data came from :mod:`geocore.minerals.synthetic`.
    """
    notes = str(getattr(card, "notes", "") or "")
    training = getattr(card, "training", {}) or {}
    data = training.get("data", {}) if isinstance(training, dict) else {}
    generator = str(data.get("generator", "")) if isinstance(data, dict) else ""
    if "DEMO" in notes.upper():
        return (f"DEMO model '{card.name}', trained on synthetic sections only: the minerals and fractions "
                f"of a real photograph are not reliable; train a model on LumenStone for real work")
    if "synthetic" in generator:
        return (f"model '{card.name}' was trained on synthetic sections only: check its minerals on "
                f"real photographs before use")
    return ""


@dataclass
class SegmentResult:
    """Outputs of :func:`segment_image`."""

    classes: Path
    polygons: Optional[Path] = None
    probabilities: Optional[Path] = None
    stats: dict = field(default_factory=dict)
    n_polygons: int = 0
    fractions: dict = field(default_factory=dict)
    #: Georeferenced copy of a plain photograph, in the outputs' micrometre frame.
    photo: Optional[Path] = None
    #: The DEMO/synthetic-model caveat ("" for a model trained on real data).
    notice: str = ""
    #: Pixel size in micrometres of the outputs (None: pixel units).
    um_per_px: Optional[float] = None

    def summary(self) -> str:
        out = [f"WARNING: {self.notice}"] if self.notice else []
        out.append(f"classes: {self.classes}")
        if self.photo:
            out.append(f"photograph in micrometres (load it instead of the plain photo to overlay the outputs): "
                       f"{self.photo}")
        if self.probabilities:
            out.append(f"probabilities: {self.probabilities}")
        if self.polygons:
            out.append(f"polygons: {self.polygons} ({self.n_polygons} grains)")
        for k, v in self.stats.items():
            out.append(f"{k}: {v}")
        head = "area fractions" + (" (DEMO model)" if "DEMO" in self.notice else
                                   " (model trained on synthetic sections)" if self.notice else "")
        if self.fractions:
            out.append(head + ":")
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


def output_frame(info: dict, um_per_px: Optional[float]):
    """CRS and transform of the outputs for an image (:func:`check_photo` info) and a pixel size.

    Returns ``(crs, transform, needs_copy)``: with ``um_per_px`` the outputs
    are in the micrometre frame (:mod:`geocore.raster.micrometre`) and
    ``needs_copy`` is True unless the image is already in it (a plain photo
    is shown by QGIS in pixels, so the outputs overlay a georeferenced copy of
    it); without, the image's own georeferencing, or the pixel frame QGIS gives
    a plain photo (x = column, y = -row).
    """
    from affine import Affine

    if um_per_px is not None:
        if info["georeferenced"] and is_micrometre_crs(info["crs"]):
            own = abs(info["transform"].a)
            if abs(own - um_per_px) > 1e-6 * max(own, um_per_px):
                raise GeocoreError(f"the image is already in micrometres at {own:g} µm per pixel but a pixel size of "
                                   f"{um_per_px:g} µm was given; leave the pixel size out (0) to use the image's")
            return info["crs"], info["transform"], False
        return micrometre_crs(), micrometre_transform(um_per_px), True
    if info["georeferenced"]:
        return info["crs"], info["transform"], False
    return None, Affine(1.0, 0.0, 0.0, 0.0, -1.0, 0.0), False


def _write_statistics(classes: np.ndarray, px: Optional[float], params: SegmentParams, stats_dir, stack, cancel,
                      *, source: str, warning: str):
    """Mineral statistics of the class map (micrometres where the pixel size ``px`` is known)."""
    from .stats import statistics_from_classes, write_statistics

    if px is None:
        warnings.warn("no pixel size given (--um-per-px): statistics are in pixels, not micrometres",
                      UserWarning, stacklevel=3)
    st = statistics_from_classes(classes, pixel_size=px or 1.0, size_classes=params.size_classes, cancel=cancel)
    paths = write_statistics(st, stats_dir, stack=stack, source=source, warning=warning)
    return paths, {BY_CODE[c].label: f for c, f in st.area_fraction.items()}


def segment_image(
    image: str | os.PathLike,
    classes_path: str | os.PathLike,
    params: Optional[SegmentParams] = None,
    *,
    polygons_path: Optional[str | os.PathLike] = None,
    probabilities_path: Optional[str | os.PathLike] = None,
    stats_dir: Optional[str | os.PathLike] = None,
    photo_path: Optional[str | os.PathLike] = None,
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
        Per-class probability GeoTIFF, one band per model class, stored
        compactly as uint8 with a GDAL scale of 1/254 (see
        :func:`write_class_map`): about 1 byte per pixel and class before
        compression, written in the arg-max pass (no extra read).
    stats_dir : path, optional
        Folder for the mineral statistics (:func:`geocore.minerals.stats.write_statistics`).
    photo_path : path, optional
        Where to write a georeferenced (lossless GeoTIFF) copy of the
        photograph in the outputs' micrometre frame. Only written when
        ``um_per_px`` is given and the image is not already in micrometres:
        QGIS shows a plain photograph in pixels, so the outputs overlay this
        copy, not the plain file.
    model_path : path, optional
        A geocore mineral model; None uses the shipped DEMO model (trained on
        synthetic sections; every output then says so).
    extra : list of paths
        Aligned extra photographs (e.g. crossed polars) for models with 3 + 3N inputs.

    All outputs appear together at the end; an error or a cancel leaves none.
    """
    from rasterio.errors import NotGeoreferencedWarning

    from ..inference.tiled import predict_raster

    params = params or SegmentParams()
    image = Path(image)
    prog = Progress.wrap(progress, cancel)
    outs = [p for p in (classes_path, polygons_path, probabilities_path, photo_path) if p is not None]
    check_not_input(outs, [image, *extra])
    _check_um(params.um_per_px)
    tiles = params.tile_params()
    model, card, info = _checked_model(image, extra, model_path, tiles)
    if stats_dir is not None and Path(stats_dir).exists() and not Path(stats_dir).is_dir():
        prepare_out_dir(stats_dir)
    crs, transform, needs_copy = output_frame(info, params.um_per_px)
    notice = model_notice(card)  # carried by the result, the files' metadata and the report
    px = pixel_size_um(crs, transform, params.um_per_px)
    tags = {"MODEL": str(card.name), "UNITS": "micrometre" if px else "pixel"}
    if notice:
        tags["MODEL_NOTE"] = notice
    if px:
        tags["UM_PER_PX"] = f"{px:g}"
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
        probs_out = stack.enter_context(atomic_output(probabilities_path)) if probabilities_path is not None else None
        classes = write_class_map(prob_tmp, classes_out, card.class_codes, crs=crs, transform=transform,
                                  min_grain_px=params.min_grain_px, probabilities_dst=probs_out, tags=tags,
                                  progress=prog.sub(0.75, 0.82))
        result = SegmentResult(classes=Path(classes_path), notice=notice, um_per_px=px)
        if probabilities_path is not None:
            result.probabilities = Path(probabilities_path)
        prog.check()
        if photo_path is not None and needs_copy:
            write_photo_copy(image, stack.enter_context(atomic_output(photo_path)), crs, transform)
            result.photo = Path(photo_path)
        prog.check()
        if polygons_path is not None:
            gdf = polygons_from_classes(classes, transform, crs, include_background=params.include_background)
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*crs.*not provided")  # pixel coordinates
                write_vector(gdf, stack.enter_context(atomic_output(polygons_path)))
            result.polygons, result.n_polygons = Path(polygons_path), len(gdf)
        prog.update(0.9)
        if stats_dir is not None:
            result.stats, result.fractions = _write_statistics(
                classes, px, params, stats_dir, stack, cancel,
                source=f"Photograph: {image.name}; model: {card.name}", warning=notice)
        prog.check()
    prog.update(1.0)
    return result


def segment_to_folder(image, out_dir, params: Optional[SegmentParams] = None, *, probabilities: bool = False,
                      vector_format: str = "gpkg", **kwargs) -> SegmentResult:
    """:func:`segment_image` into ``out_dir``: classes.tif, minerals.gpkg, stats.csv, the report and,
    for a plain photograph with a pixel size, photo.tif (the photograph in the outputs' micrometre frame)."""
    fmt = vector_format.lower().lstrip(".")
    if fmt not in ("gpkg", "shp", "geojson"):
        raise GeocoreError(f"vector format '{vector_format}' is not supported; use gpkg, shp or geojson")
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        prepare_out_dir(out)
    return segment_image(image, out / "classes.tif", params, polygons_path=out / f"minerals.{fmt}",
                         probabilities_path=out / "probabilities.tif" if probabilities else None,
                         photo_path=out / "photo.tif", stats_dir=out, **kwargs)


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
