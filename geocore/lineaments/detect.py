"""The lineament detection pipeline called by the command line and QGIS.

grid -> (checks) -> tiled U-Net probability (or a classical ridge map, see
:mod:`geocore.lineaments.classical`) -> vector axes -> rose diagram,
density raster and preview. Every input problem is found before the heavy
work starts, and all outputs of one run appear together at the end: an error
or a cancel leaves none of them behind.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Sequence

import numpy as np

from ..errors import GeocoreError, ParameterError
from ..files import atomic_output, check_not_input, prepare_out_dir
from ..progress import Progress
from ..raster.io import check_size, open_raster_checked, read_window
from ..raster.profile import gtiff_profile
from ..raster.vrt import nan_nodata_vrt
from .classical import METHODS, ClassicalParams, classical_ridge_map
from .scale import choose_scale, coarse_shape, grid_bandwidth, parse_scales, refine_rows, refined_shape
from .vectorize import (VectorizeParams, _length_unit, density_raster, preview_png, rose_diagram,
                        vectorize_probability, write_lines)

if TYPE_CHECKING:
    from ..inference import TileParams

#: File name of the shipped model inside ``geocore/lineaments/models/``.
SHIPPED_MODEL = "lineaments_vgg16bn_unet.safetensors"
#: Radius of the density window, in cells.
DENSITY_RADIUS_CELLS = 25.0
#: Smallest grid edge, in cells, that detection and vectorisation accept.
MIN_CELLS = 8
#: Bytes per cell held whole after the network (quantised probability, mask, skeleton, labels, density).
BYTES_PER_CELL = 12


def default_model_path() -> Path:
    """Path of the lineament model shipped with geocore (package data).

    Raises
    ------
    GeocoreError
        When the file is not installed.
    """
    path = Path(__file__).resolve().parent / "models" / SHIPPED_MODEL
    if not path.is_file():
        msg = f"the shipped lineament model is missing ({path}); give a trained .safetensors model with {{param}}"
        raise ParameterError(msg, param="model")
    return path


@dataclass
class DetectResult:
    """Where the outputs of a detection are, and what they hold.

    Attributes
    ----------
    probability : Path or None
        Probability raster (None for :func:`vectorize_to_folder`).
    lines : list of Path
        Vector files of the axes (one per format).
    rose, density, preview : Path or None
    n_lines : int
        Number of lineaments.
    gdf : GeoDataFrame
        The lines and their attributes.
    scales : tuple of float
        Fractions of the grid's resolution the CNN ran at (``(1.0,)``: the
        grid as it is, and for the classical methods).
    bandwidth : float or None
        With ``scales="auto"``: the grid's resolved bandwidth (fraction of its
        Nyquist wavenumber, :func:`geocore.lineaments.scale.resolved_bandwidth`)
        that chose the scale.
    reference_bandwidth : float or None
        With ``scales="auto"``: the model's reference (the least resolved of
        its training inputs, 10th percentile).
    wavenumber : float or None
        With ``scales="auto"`` on a grid that resolves as much as the training
        inputs: its anomaly wavenumber
        (:func:`geocore.lineaments.scale.anomaly_wavenumber`).
    wavenumber_reference : (float, float) or None
        The training inputs' median and 90th percentile of it (card).
    """

    probability: Optional[Path]
    lines: list = field(default_factory=list)
    rose: Optional[Path] = None
    density: Optional[Path] = None
    preview: Optional[Path] = None
    n_lines: int = 0
    gdf: object = None
    scales: tuple = (1.0,)
    bandwidth: Optional[float] = None
    reference_bandwidth: Optional[float] = None
    wavenumber: Optional[float] = None
    wavenumber_reference: Optional[tuple] = None

    def scale_note(self) -> Optional[str]:
        """One sentence on the resolution chosen by ``scales="auto"`` (None otherwise)."""
        if self.bandwidth is None:
            return None
        if self.reference_bandwidth is None:
            return "the model card records no training bandwidth: the CNN ran at the grid's resolution"
        s = self.scales[0]
        if s > 1.0:
            median, p90 = self.wavenumber_reference
            return (f"the grid's anomalies are narrower in cells than the ones the model learned (median "
                    f"wavenumber of the gradient energy {self.wavenumber:.2f} of the Nyquist, above the training "
                    f"grids' {p90:.2f} at the 90th percentile; median {median:.2f}): CNN on the grid "
                    f"interpolated to cells {s:g} times smaller")
        where = ("at the grid's resolution" if s == 1.0 else
                 f"at {s:g} of the grid's resolution (cells {1 / s:.2g} times larger)")
        return (f"the grid resolves {self.bandwidth:.2f} of its Nyquist wavenumber (the model learned grids "
                f"resolving {self.reference_bandwidth:.2f} and more): CNN {where}")

    def summary(self) -> str:
        """Lines for the command line: each output, the number of lines and their length."""
        out = []
        note = self.scale_note()
        if note:
            out.append(note)
        if self.probability is not None:
            out.append(f"probability: {self.probability}")
        for p in self.lines:
            out.append(f"lines: {p}")
        for name in ("rose", "density", "preview"):
            p = getattr(self, name)
            if p is not None:
                out.append(f"{name}: {p}")
        total = float(self.gdf["length"].sum()) if self.gdf is not None and len(self.gdf) else 0.0
        unit, factor = _length_unit(getattr(self.gdf, "crs", None))
        out.append(f"{self.n_lines} lineaments, total length {total * factor:,.2f} {unit}")
        return "\n".join(out)


def _check_out_dir(out_dir: Path) -> None:
    """Refuse an output folder that is a file, without creating anything yet."""
    if out_dir.exists() and not out_dir.is_dir():
        prepare_out_dir(out_dir)  # raises the standard message


def check_projected(crs, path) -> None:
    """Refuse a grid in geographic coordinates (degrees), naming a projected CRS to warp it to.

    Lengths, strikes and the cell-based vectorisation settings assume square
    cells in metres: on a lat/lon grid lengths would be in degrees and
    strikes biased by the cell's aspect (``cos(latitude)``: 15 degrees at 45 N).
    """
    if crs is None:
        return
    from pyproj import CRS as ProjCRS

    c = ProjCRS.from_user_input(crs.to_wkt() if hasattr(crs, "to_wkt") else crs)
    if not c.is_geographic:
        return
    hint = "a projected CRS in metres (UTM)"
    try:
        import rasterio

        with rasterio.open(path) as ds:
            b = ds.bounds
        lon, lat = (b.left + b.right) / 2.0, (b.top + b.bottom) / 2.0
        if -180 <= lon <= 180 and -80 <= lat <= 84:
            zone = int((lon + 180) // 6) + 1
            epsg = (32600 if lat >= 0 else 32700) + zone
            hint = f"EPSG:{epsg} (WGS 84 / UTM zone {zone}{'N' if lat >= 0 else 'S'}, the zone of its centre)"
    except Exception:  # the hint is a courtesy; the refusal stands without it
        pass
    msg = (f"grid '{path}' is in geographic coordinates (degrees): lineament lengths would be in degrees and "
           f"strikes biased by the cells' aspect; reproject it to {hint} first, e.g. "
           f"gdalwarp -t_srs {hint.split(' ')[0] if hint.startswith('EPSG') else 'EPSG:326NN'} -r bilinear IN.tif OUT.tif")
    raise GeocoreError(msg)


def _folder_paths(out: Path) -> dict:
    """The standard product files in ``out`` (all but ``probability.tif``), as keyword arguments."""
    return dict(lines_paths=[out / "lineaments.gpkg", out / "lineaments.shp"], rose_path=out / "rose.png",
                density_path=out / "density.tif", preview_path=out / "preview.png")


def field_supported(gdf, field: Path, band: int, min_contrast: float, progress=None):
    """Lines with their ``contrast`` (:func:`geocore.lineaments.profiles.line_field_contrast`),
    without those below ``min_contrast`` (0 keeps all; a line that cannot be measured is kept), renumbered."""
    from .profiles import line_field_contrast

    contrast = line_field_contrast(field, gdf, band=band, progress=progress)
    gdf = gdf.copy()
    gdf["contrast"] = contrast.astype(np.float64)
    if min_contrast > 0 and len(gdf):
        gdf = gdf[~(contrast < float(min_contrast))].copy()
        gdf["id"] = np.arange(1, len(gdf) + 1, dtype=np.int64)
    return gdf


def _postprocess(prob_path: Path, *, grid_for_preview: Path, preview_band: int, lines_paths: Sequence,
                 rose_path, density_path, preview_path, params: VectorizeParams, stack: contextlib.ExitStack,
                 prog: Progress, client=None, field_grid: Optional[Path] = None,
                 min_field_contrast: float = 0.0) -> tuple:
    """Vectorise ``prob_path`` and write the products into temporary paths held by ``stack``.

    ``field_grid``: the grid the map was detected on (band ``preview_band``): each line gets its
    ``contrast`` and those below ``min_field_contrast`` are dropped.
    """
    if client is None:
        gdf = vectorize_probability(prob_path, params=params, progress=prog.sub(0.0, 0.5))
    else:  # strips of rows on the cluster's workers (geocore.distributed)
        from ..distributed.vectorize import vectorize_distributed

        gdf = vectorize_distributed(prob_path, params=params, scheduler=client, progress=prog.sub(0.0, 0.5))
    if field_grid is not None:
        gdf = field_supported(gdf, field_grid, preview_band, min_field_contrast, progress=prog.sub(0.5, 0.6))
    for p in lines_paths:
        write_lines(gdf, stack.enter_context(atomic_output(p)))
    prog.update(0.7)
    if rose_path is not None:
        rose_diagram(gdf, stack.enter_context(atomic_output(rose_path)))
    prog.update(0.75)
    if density_path is not None:
        density_raster(gdf, prob_path, stack.enter_context(atomic_output(density_path)),
                       radius_cells=DENSITY_RADIUS_CELLS, progress=prog.sub(0.75, 0.9))
    if preview_path is not None:
        preview_png(grid_for_preview, gdf, stack.enter_context(atomic_output(preview_path)), band=preview_band)
    prog.update(1.0)
    return gdf


def detect_lineaments(
    grid: str | os.PathLike,
    *,
    probability_path: str | os.PathLike,
    lines_paths: Sequence[str | os.PathLike],
    rose_path: Optional[str | os.PathLike] = None,
    density_path: Optional[str | os.PathLike] = None,
    preview_path: Optional[str | os.PathLike] = None,
    model_path: Optional[str | os.PathLike] = None,
    band: Optional[int] = None,
    tiles: "Optional[TileParams]" = None,
    vector_params: Optional[VectorizeParams] = None,
    method: str = "cnn",
    classical: Optional[ClassicalParams] = None,
    scales: "str | Sequence[float] | None" = "auto",
    scheduler=None,
    progress=None,
    cancel=None,
) -> DetectResult:
    """Detect magnetic lineaments in a grid and write all products.

    Parameters
    ----------
    grid : path
        Floating-point magnetic grid (any GDAL raster), nodata as NaN or the
        band's nodata value.
    probability_path : path
        Output probability GeoTIFF (float32, 0..1, NaN on nodata).
    lines_paths : list of paths
        Vector outputs of the axes; the format follows each extension.
    rose_path, density_path, preview_path : path or None
        Optional PNG rose diagram, density GeoTIFF and PNG preview.
    model_path : path or None
        A geocore ``.safetensors`` model; None uses the shipped one.
    band : int or None
        Band of ``grid`` (required when it has several).
    tiles : TileParams or None
        Tile size (None: the model's), overlap, batch size and device of the
        CNN (:class:`geocore.inference.TileParams`; defaults when None).
    vector_params : VectorizeParams or None
        Vectorisation settings, with the probability ``threshold`` above which
        a cell is lineament (defaults when None).
    method : str
        ``"cnn"`` (the network) or a classical detector of
        :data:`geocore.lineaments.classical.CLASSICAL_METHODS`, whose ridge
        map is written in place of the probability.
    classical : ClassicalParams or None
        Field direction, reduction and percentile of a classical method (its
        ``method`` is replaced by ``method``).
    scales : "auto", list of float or None
        CNN only. ``"auto"`` (or None, the default): measure up to which
        wavenumber the grid carries information (:mod:`geocore.lineaments.scale`)
        and run the network at the fraction of the resolution where it
        resolves as much as the grids it learned (1 when it already does, or
        when the card records no reference); on a grid whose anomalies are
        narrower in cells than the ones it learned, on the grid interpolated
        to cells up to 3 times smaller (a factor above 1). A list:
        run at these factors (e.g. ``[1, 0.5, 0.25]``, or ``[2]``) and keep the
        largest probability (:func:`predict_multiscale`); ``[1]``: the grid as
        it is. The probability map is always on the grid's cells.
    scheduler : str, distributed.Client or None
        None or ``"none"``: this process. ``"local[:N]"``, ``"tcp://host:8786"``
        or a Client: the network's strips and the vectorisation's strips run
        as Dask tasks (:mod:`geocore.distributed`), with the same outputs.
    progress, cancel : callables or Progress

    Returns
    -------
    DetectResult

    Raises
    ------
    GeocoreError
        For any problem with the inputs, found before the network runs;
        nothing is written then, and nothing is left if the run is cancelled.
    """
    from ..inference import TileParams
    from ..models import load_model, resolve_device

    prog = Progress.wrap(progress, cancel)
    grid = Path(grid)
    # -- everything that can be wrong with the request, before any heavy work
    if method not in METHODS:
        msg = f"unknown detection method {method!r}; choose one of {', '.join(METHODS)}"
        raise GeocoreError(msg)
    from ..grids.io import check_streamable

    check_streamable(grid, band)  # Geosoft .grd, GDAL-unreadable netCDF, undeclared dummies: point to grid convert
    # integer grids (int16 nT, as some agencies publish): detected on a floating-point copy (float_copy)
    info = open_raster_checked(grid, band, allow_integer=True)
    check_size(info.width, info.height, grid, minimum=MIN_CELLS, bytes_per_cell=BYTES_PER_CELL, what="grid")
    check_projected(info.crs, grid)
    if isinstance(scales, str):
        scales = parse_scales(scales)  # "auto" or fractions; anything else is refused there
    auto = scales is None or scales == "auto"
    if not auto:
        scales = _check_scales(scales)
        if method != "cnn" and scales != (1.0,):
            msg = "scales apply to the CNN only; the classical methods run at the grid's resolution"
            raise GeocoreError(msg)
    cparams = None
    if method != "cnn":
        cparams = dataclasses.replace(classical or ClassicalParams(), method=method)
        cparams.check()
    model_file = Path(model_path) if model_path is not None else default_model_path()
    outputs = [probability_path, *lines_paths, rose_path, density_path, preview_path]
    check_not_input([p for p in outputs if p is not None], [grid, model_file, model_file.with_suffix(".json")])
    for p in outputs:
        if p is not None:
            _check_out_dir(Path(p).parent)
    params = tiles if tiles is not None else TileParams()
    params.check()
    if cparams is None:
        dev = resolve_device(params.device)
        model, card = load_model(model_file, device=dev)
        params.checked_tile_size(card)
        if int(card.in_channels) != 1:
            msg = f"model '{model_file}' takes {card.in_channels} bands; lineament detection needs a one-band model"
            raise GeocoreError(msg)
    vp = vector_params if vector_params is not None else VectorizeParams()
    vp.check()
    for p in outputs:
        if p is not None:
            prepare_out_dir(Path(p).parent)
    prog.check()

    with contextlib.ExitStack() as stack:
        band = info.band
        if np.dtype(info.dtype).kind in "iu":
            tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="geocore_float_",
                                                                       dir=Path(probability_path).parent)))
            grid, band = float_copy(grid, band, tmp / "grid.tif"), 1
        figures = dict(bandwidth=None, reference=None, wavenumber=None, wavenumber_reference=None)
        if auto and cparams is None:
            scale, figures = choose_scale(lambda m: grid_bandwidth(grid, band, measure=m), card)
            scales = (scale,)
        elif auto:
            scales = (1.0,)
        client = None
        if scheduler is not None:
            from ..distributed.scheduler import dask_client

            client = stack.enter_context(dask_client(scheduler))
        prob_tmp = stack.enter_context(atomic_output(probability_path))
        if cparams is not None:
            write_ridge_map(grid, prob_tmp, cparams, band=band, progress=prog.sub(0.0, 0.8))
        elif scales != (1.0,):
            predict_multiscale(grid, prob_tmp, model, card, band=band, params=params, scales=scales,
                               progress=prog.sub(0.0, 0.8), scheduler=client)
        else:
            _predict_pass(grid, prob_tmp, model, card, band=band, params=params, scheduler=client,
                          progress=prog.sub(0.0, 0.8))
        if cparams is None:
            _tag_network_map(prob_tmp, model_file, card, scales, figures, augment=int(params.augment))
        gdf = _postprocess(prob_tmp, grid_for_preview=grid, preview_band=band, lines_paths=lines_paths,
                           rose_path=rose_path, density_path=density_path, preview_path=preview_path, params=vp,
                           stack=stack, prog=prog.sub(0.8, 1.0), client=client, field_grid=grid,
                           min_field_contrast=vp.field_contrast_for(method))
        prog.check()  # last chance to cancel: after this, all outputs move into place together
    return DetectResult(probability=Path(probability_path), lines=[Path(p) for p in lines_paths],
                        rose=_path(rose_path), density=_path(density_path), preview=_path(preview_path),
                        n_lines=len(gdf), gdf=gdf, scales=scales, bandwidth=figures["bandwidth"],
                        reference_bandwidth=figures["reference"], wavenumber=figures["wavenumber"],
                        wavenumber_reference=figures["wavenumber_reference"])


def float_copy(grid, band: int, path: Path) -> Path:
    """A floating-point GeoTIFF copy of one band of an integer ``grid``, written strip by strip.

    Integer grids (int16 nT, as some agencies publish) then run exactly as the same values stored
    in floating point: GDAL averages an integer raster in its own type, rounding the coarse cells of
    ``--scales`` below 1. The band's nodata value is kept (float32 holds every 16-bit integer; wider
    integers get float64).
    """
    import rasterio
    from rasterio.windows import Window

    with rasterio.open(grid) as ds:
        dtype = "float32" if np.dtype(ds.dtypes[band - 1]).itemsize <= 2 else "float64"
        nodata = ds.nodatavals[band - 1]
        profile = gtiff_profile(ds.width, ds.height, crs=ds.crs, transform=ds.transform, nodata=nodata,
                                dtype=dtype, predictor=3)
        with rasterio.open(path, "w", **profile) as dst:
            for r0 in range(0, ds.height, 512):
                win = Window(0, r0, ds.width, min(512, ds.height - r0))
                dst.write(ds.read(band, window=win).astype(dtype), 1, window=win)
    return path


def _predict_pass(src, dst, model, card, *, band: int, params, scheduler=None, progress=None) -> Path:
    """One pass of the network over ``src``: in this process, or strip by strip on a Dask ``scheduler``."""
    if scheduler is None:
        from ..inference import predict_raster

        return predict_raster(src, dst, model, card, bands=[band], params=params, progress=progress)
    from ..distributed.raster import predict_raster_distributed

    return predict_raster_distributed(src, dst, model, card, bands=[band], params=params, scheduler=scheduler,
                                      progress=progress)


def _tag_network_map(path, model_file: Path, card, scales, figures: dict, augment: int = 1) -> None:
    """Record how a network's probability map was made in its GeoTIFF metadata (QGIS: Layer Properties,
    Information), as :func:`write_ridge_map` does for the classical maps."""
    import rasterio

    tags = dict(method="cnn", model=model_file.name, model_name=str(card.name),
                scales=" ".join(f"{x:g}" for x in scales), test_time_augmentation=str(augment))
    for key, tag in (("bandwidth", "grid_resolved_bandwidth"), ("reference", "model_reference_bandwidth"),
                     ("wavenumber", "grid_anomaly_wavenumber")):
        if figures.get(key) is not None:
            tags[tag] = f"{figures[key]:.3f}"
    if figures.get("wavenumber_reference") is not None:
        tags["model_reference_wavenumber"] = "median {:.3f}, p90 {:.3f}".format(*figures["wavenumber_reference"])
    with rasterio.open(path, "r+") as ds:
        ds.update_tags(**tags)


#: Largest factor a user may refine a grid by (``scales`` above 1).
MAX_SCALE = 4.0


def _check_scales(scales) -> tuple:
    scales = tuple(float(x) for x in (scales or (1.0,)))
    if not scales or any(not (0.05 <= x <= MAX_SCALE) for x in scales) or len(set(scales)) != len(scales):
        msg = (f"{{param}} {list(scales)} must be auto or distinct factors in [0.05, {MAX_SCALE:g}] of the grid's "
               "resolution, e.g. 1 0.5 0.25 (below 1: cells averaged to larger ones; above 1: interpolated to "
               "smaller ones)")
        raise ParameterError(msg, param="scales")
    return tuple(sorted(scales, reverse=True))


def predict_multiscale(grid: str | os.PathLike, path: str | os.PathLike, model, card, *, band: int, params,
                       scales: Sequence[float], progress=None, scheduler=None) -> Path:
    """The network at several resolutions of the grid, merged by the maximum probability.

    Dyke anomalies are 2-10 cells wide depending on the cell size, line
    spacing and depth, while the network learned one range of widths: at
    ``scale`` 0.5 the grid is averaged to cells twice as large, so anomalies
    twice as wide look like the ones it learned; at ``scale`` 2 it is
    interpolated to cells twice as small, for anomalies half as wide. The
    full-resolution pass is tiled like a single-scale run; each coarser grid
    (``scale**2`` of the cells) is held in memory, predicted tile by tile, and
    upsampled bilinearly onto the full-resolution cells strip by strip. A
    finer grid (``scale**2`` times the cells) is written strip by strip to a
    temporary GeoTIFF beside ``path`` (:func:`geocore.lineaments.scale.
    refine_rows`), predicted tile by tile, and pooled back onto the grid's
    cells strip by strip (the largest value over each cell), so memory stays bounded.

    With a Dask ``scheduler`` (a Client), every pass runs its strips on the
    workers (:func:`geocore.distributed.raster.predict_raster_distributed`;
    the averaged grids are written beside ``path``, where the workers read
    them); the merge runs here.
    """
    import rasterio
    from rasterio.enums import Resampling
    from scipy import ndimage

    prog = Progress.wrap(progress)
    scales = _check_scales(scales)
    n = len(scales)
    with tempfile.TemporaryDirectory(prefix="geocore_scales_", dir=Path(path).parent) as tmp:
        tmp = Path(tmp)
        fine = tmp / "scale1.tif" if 1.0 in scales else None
        coarse, refined = [], []
        with rasterio.open(grid) as ds:
            H, W, profile = ds.height, ds.width, ds.profile
            nodata = ds.nodatavals[band - 1]
            for k, sc in enumerate(scales):
                sub = prog.sub(k / n, (k + 1) / n)
                if sc == 1.0:
                    _predict_pass(grid, fine, model, card, band=band, params=params, scheduler=scheduler,
                                  progress=sub)
                    continue
                if sc > 1.0:
                    big = _write_refined(ds, band, sc, tmp / f"grid{k}.tif")
                    refined.append(_predict_pass(big, tmp / f"prob{k}.tif", model, card, band=1, params=params,
                                                 scheduler=scheduler, progress=sub))
                    continue
                h, w = coarse_shape(H, W, sc)
                if nodata is None and ds.dtypes[band - 1] in ("float32", "float64"):  # NaN marks nodata
                    with rasterio.open(nan_nodata_vrt(ds, band)) as vrt:
                        data = vrt.read(1, out_shape=(h, w), resampling=Resampling.average, masked=True)
                else:
                    data = ds.read(band, out_shape=(h, w), resampling=Resampling.average, masked=True)
                arr = np.ma.filled(data.astype(np.float32), np.nan)
                if nodata is not None and not np.isnan(nodata):
                    arr[arr == nodata] = np.nan
                small = tmp / f"grid{k}.tif"
                t = ds.transform * ds.transform.scale(W / w, H / h)
                with rasterio.open(small, "w", **gtiff_profile(w, h, crs=ds.crs, transform=t,
                                                               nodata=float("nan"))) as dst:
                    dst.write(arr, 1)
                out = tmp / f"prob{k}.tif"
                _predict_pass(small, out, model, card, band=1, params=params, scheduler=scheduler, progress=sub)
                with rasterio.open(out) as pd:
                    coarse.append(np.nan_to_num(pd.read(1), nan=0.0))  # NaN cells are restored from the grid
        # merge strip by strip onto the full-resolution cells (NaN where the grid is nodata)
        out_profile = gtiff_profile(W, H, crs=profile.get("crs"), transform=profile["transform"],
                                    nodata=float("nan"), predictor=3)
        with rasterio.open(grid) as ds, rasterio.open(path, "w", **out_profile) as dst, \
                contextlib.ExitStack() as files:
            fine_ds = files.enter_context(rasterio.open(fine)) if fine is not None else None
            refined_ds = [files.enter_context(rasterio.open(p)) for p in refined]
            step = 256
            for r0 in range(0, H, step):
                r1 = min(H, r0 + step)
                win = rasterio.windows.Window(0, r0, W, r1 - r0)
                nan = np.isnan(read_window(ds, win, band))
                best = fine_ds.read(1, window=win) if fine_ds is not None else np.full((r1 - r0, W), 0.0,
                                                                                       np.float32)
                rows, cols = np.meshgrid(np.arange(r0, r1) + 0.5, np.arange(W) + 0.5, indexing="ij")
                for c in coarse:
                    h, w = c.shape
                    up = ndimage.map_coordinates(c, [rows * h / H - 0.5, cols * w / W - 0.5], order=1,
                                                 mode="nearest")
                    best = np.fmax(best, up.astype(np.float32))
                for rd in refined_ds:
                    best = np.fmax(best, _pooled_back(rd, H, W, r0, r1))
                best = best.astype(np.float32)
                best[nan] = np.nan
                dst.write(best, 1, window=win)
            listed = ", ".join(f"{x:g}" for x in scales)
            dst.set_band_description(1, f"lineament probability, network at scale {listed} of the grid's resolution"
                                     if n == 1 else f"lineament probability, maximum over scales {listed}")
    prog.update(1.0)
    return Path(path)


def _write_refined(ds, band: int, scale: float, path: Path) -> Path:
    """Band ``band`` of the open raster ``ds`` interpolated to cells ``scale`` times smaller, as a GeoTIFF."""
    import rasterio
    from rasterio.windows import Window

    H, W = ds.height, ds.width
    h, w = refined_shape(H, W, scale)

    def read(r0, r1):
        return read_window(ds, Window(0, r0, W, r1 - r0), band)

    t = ds.transform * ds.transform.scale(W / w, H / h)
    with rasterio.open(path, "w", **gtiff_profile(w, h, crs=ds.crs, transform=t, nodata=float("nan"))) as dst:
        step = 256
        for o0 in range(0, h, step):
            o1 = min(h, o0 + step)
            dst.write(refine_rows(read, H, W, scale, o0, o1), 1, window=Window(0, o0, w, o1 - o0))
    return path


def _pooled_back(ds, H: int, W: int, r0: int, r1: int) -> np.ndarray:
    """Grid rows ``r0 .. r1 - 1`` of a probability map on a refined grid (open in ``ds``): each grid cell
    the largest probability of the refined cells whose corner falls in it (NaN: 0).

    The maximum, as for the merge of scales: a line one or two grid cells wide keeps its
    probability, where a mean over the footprint would dilute it below the threshold.
    """
    from rasterio.windows import Window

    h, w = ds.height, ds.width
    rows = np.floor(np.arange(r0, r1 + 1) * h / H).astype(int)
    cols = np.floor(np.arange(W) * w / W).astype(int)
    p = np.nan_to_num(ds.read(1, window=Window(0, rows[0], w, rows[-1] - rows[0])), nan=0.0)
    p = np.maximum.reduceat(p, rows[:-1] - rows[0], axis=0)
    return np.maximum.reduceat(p, cols, axis=1).astype(np.float32)


def write_ridge_map(grid: str | os.PathLike, path: str | os.PathLike, params: ClassicalParams, *,
                    band: int = 1, progress=None) -> Path:
    """Classical ridge map of ``grid`` written as a float32 GeoTIFF on the grid's cells (NaN nodata)."""
    import rasterio

    from ..grids.io import read_grid

    prog = Progress.wrap(progress)
    g = read_grid(grid, band=band)
    prog.update(0.1)
    ridge = classical_ridge_map(g, params)
    prog.update(0.9)
    rows, cols = ridge.shape
    profile = gtiff_profile(cols, rows, crs=g.crs, transform=g.transform, nodata=float("nan"), predictor=3)
    with rasterio.open(path, "w", **profile) as dst:
        dst.write(ridge, 1)
        dst.set_band_description(1, f"ridge value 0..1: {params.describe()}")
        dst.update_tags(method=params.method, reduction=params.reduced(), percentile=f"{params.percentile:g}")
    prog.update(1.0)
    return Path(path)


def _path(p) -> Optional[Path]:
    return Path(p) if p is not None else None


def detect_to_folder(grid: str | os.PathLike, out_dir: str | os.PathLike, **options) -> DetectResult:
    """:func:`detect_lineaments` with the standard file names in ``out_dir``.

    Writes ``probability.tif``, ``lineaments.gpkg``, ``lineaments.shp``,
    ``rose.png``, ``density.tif`` and ``preview.png``; ``options`` are the
    keyword arguments of :func:`detect_lineaments` other than the paths
    (``model_path``, ``band``, ``tiles``, ``vector_params``, ``method``, ``scales``, ...).
    """
    paths = {"probability_path", "lines_paths", "rose_path", "density_path", "preview_path"}
    if paths & set(options):
        msg = f"detect_to_folder names its outputs itself; do not pass {', '.join(sorted(paths & set(options)))}"
        raise TypeError(msg)
    out = Path(out_dir)
    _check_out_dir(out)
    return detect_lineaments(grid, probability_path=out / "probability.tif", **_folder_paths(out), **options)


def vectorize_to_folder(
    probability: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    vector_params: Optional[VectorizeParams] = None,
    progress=None,
    cancel=None,
) -> DetectResult:
    """Vector axes, rose, density and preview from an existing probability raster.

    Writes ``lineaments.gpkg``, ``lineaments.shp``, ``rose.png``,
    ``density.tif`` and ``preview.png`` (the probability map with the axes)
    in ``out_dir``. ``vector_params`` sets the threshold, pruning, joining and
    simplifying (defaults when None).
    """
    prog = Progress.wrap(progress, cancel)
    vp = vector_params if vector_params is not None else VectorizeParams()
    vp.check()
    probability = Path(probability)
    info = open_raster_checked(probability, 1, what="probability raster")
    check_size(info.width, info.height, probability, minimum=MIN_CELLS, bytes_per_cell=BYTES_PER_CELL,
               what="probability raster")
    out = Path(out_dir)
    _check_out_dir(out)
    paths = _folder_paths(out)
    check_not_input([*paths["lines_paths"], paths["rose_path"], paths["density_path"], paths["preview_path"]],
                    [probability])
    prepare_out_dir(out)
    with contextlib.ExitStack() as stack:
        gdf = _postprocess(probability, grid_for_preview=probability, preview_band=info.band,
                           params=vp, stack=stack, prog=prog, **paths)
        prog.check()
    return DetectResult(probability=None, lines=[Path(p) for p in paths["lines_paths"]],
                        rose=paths["rose_path"], density=paths["density_path"], preview=paths["preview_path"],
                        n_lines=len(gdf), gdf=gdf)
