"""The lineament detection pipeline called by the command line and QGIS.

grid -> (checks) -> tiled U-Net probability -> vector axes -> rose diagram,
density raster and preview. Every input problem is found before the heavy
work starts, and all outputs of one run appear together at the end: an error
or a cancel leaves none of them behind.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

from ..errors import GeocoreError
from ..files import atomic_output, check_not_input, prepare_out_dir
from ..progress import Progress
from ..raster.io import check_size, open_raster_checked
from .vectorize import (VectorizeParams, _length_unit, density_raster, preview_png, rose_diagram,
                        vectorize_probability, write_lines)

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
        msg = f"the shipped lineament model is missing ({path}); pass --model with a trained .safetensors model"
        raise GeocoreError(msg)
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
    """

    probability: Optional[Path]
    lines: list = field(default_factory=list)
    rose: Optional[Path] = None
    density: Optional[Path] = None
    preview: Optional[Path] = None
    n_lines: int = 0
    gdf: object = None

    def summary(self) -> str:
        """Lines for the command line: each output, the number of lines and their length."""
        out = []
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


def _check_threshold(threshold: float) -> None:
    if not (0.0 < float(threshold) < 1.0):
        msg = f"threshold {threshold} is outside (0, 1); give a probability such as 0.5"
        raise GeocoreError(msg)


def _check_overlap(overlap: float) -> None:
    if not (0.0 <= float(overlap) < 1.0):
        msg = f"overlap {overlap} is outside [0, 1); give a fraction of the tile such as 0.5"
        raise GeocoreError(msg)


def _vector_params(vector_params: Optional[VectorizeParams], threshold: float) -> VectorizeParams:
    """``vector_params`` (or the defaults) with its threshold replaced by ``threshold``, checked."""
    vp = VectorizeParams(**{**(vector_params.__dict__ if vector_params else {}), "threshold": float(threshold)})
    vp.check()
    return vp


def _folder_paths(out: Path) -> dict:
    """The standard product files in ``out`` (all but ``probability.tif``), as keyword arguments."""
    return dict(lines_paths=[out / "lineaments.gpkg", out / "lineaments.shp"], rose_path=out / "rose.png",
                density_path=out / "density.tif", preview_path=out / "preview.png")


def _postprocess(prob_path: Path, *, grid_for_preview: Path, preview_band: int, lines_paths: Sequence,
                 rose_path, density_path, preview_path, params: VectorizeParams, stack: contextlib.ExitStack,
                 prog: Progress, client=None) -> tuple:
    """Vectorise ``prob_path`` and write the products into temporary paths held by ``stack``."""
    if client is None:
        gdf = vectorize_probability(prob_path, params=params, progress=prog.sub(0.0, 0.6))
    else:  # strips of rows on the cluster's workers (geocore.distributed)
        from ..distributed.vectorize import vectorize_distributed

        gdf = vectorize_distributed(prob_path, params=params, scheduler=client, progress=prog.sub(0.0, 0.6))
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
    tile_size: Optional[int] = None,
    overlap: float = 0.5,
    threshold: float = 0.5,
    device: str = "auto",
    batch_size: int = 8,
    vector_params: Optional[VectorizeParams] = None,
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
    tile_size : int or None
        Tile edge in cells (multiple of 32); None uses the model's.
    overlap : float
        Tile overlap fraction in [0, 1).
    threshold : float
        Probability above which a cell is lineament, in (0, 1).
    device : str
        ``"auto"``, ``"cpu"`` or ``"cuda"``.
    batch_size : int
        Tiles per forward pass.
    vector_params : VectorizeParams or None
        Vectorisation settings (its threshold is replaced by ``threshold``).
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
    from ..inference import TileParams, predict_raster
    from ..models import load_model, resolve_device

    prog = Progress.wrap(progress, cancel)
    grid = Path(grid)
    # -- everything that can be wrong with the request, before any heavy work
    _check_threshold(threshold)
    _check_overlap(overlap)
    info = open_raster_checked(grid, band)
    check_size(info.width, info.height, grid, minimum=MIN_CELLS, bytes_per_cell=BYTES_PER_CELL, what="grid")
    model_file = Path(model_path) if model_path is not None else default_model_path()
    outputs = [probability_path, *lines_paths, rose_path, density_path, preview_path]
    check_not_input([p for p in outputs if p is not None], [grid, model_file, model_file.with_suffix(".json")])
    for p in outputs:
        if p is not None:
            _check_out_dir(Path(p).parent)
    params = TileParams(tile_size=tile_size, overlap=overlap, batch_size=batch_size, device=device)
    params.check()
    dev = resolve_device(device)
    model, card = load_model(model_file, device=dev)
    params.checked_tile_size(card)
    if int(card.in_channels) != 1:
        msg = f"model '{model_file}' takes {card.in_channels} bands; lineament detection needs a one-band model"
        raise GeocoreError(msg)
    vp = _vector_params(vector_params, threshold)
    for p in outputs:
        if p is not None:
            prepare_out_dir(Path(p).parent)
    prog.check()

    with contextlib.ExitStack() as stack:
        client = None
        if scheduler is not None:
            from ..distributed.scheduler import dask_client

            client = stack.enter_context(dask_client(scheduler))
        prob_tmp = stack.enter_context(atomic_output(probability_path))
        if client is None:
            predict_raster(grid, prob_tmp, model, card, bands=[info.band], params=params,
                           progress=prog.sub(0.0, 0.8))
        else:
            from ..distributed.raster import predict_raster_distributed

            predict_raster_distributed(grid, prob_tmp, model, card, bands=[info.band], params=params,
                                       scheduler=client, progress=prog.sub(0.0, 0.8))
        gdf = _postprocess(prob_tmp, grid_for_preview=grid, preview_band=info.band, lines_paths=lines_paths,
                           rose_path=rose_path, density_path=density_path, preview_path=preview_path, params=vp,
                           stack=stack, prog=prog.sub(0.8, 1.0), client=client)
        prog.check()  # last chance to cancel: after this, all outputs move into place together
    return DetectResult(probability=Path(probability_path), lines=[Path(p) for p in lines_paths],
                        rose=_path(rose_path), density=_path(density_path), preview=_path(preview_path),
                        n_lines=len(gdf), gdf=gdf)


def _path(p) -> Optional[Path]:
    return Path(p) if p is not None else None


def detect_to_folder(
    grid: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    model_path: Optional[str | os.PathLike] = None,
    band: Optional[int] = None,
    tile_size: Optional[int] = None,
    overlap: float = 0.5,
    threshold: float = 0.5,
    device: str = "auto",
    batch_size: int = 8,
    vector_params: Optional[VectorizeParams] = None,
    scheduler=None,
    progress=None,
    cancel=None,
) -> DetectResult:
    """:func:`detect_lineaments` with the standard file names in ``out_dir``.

    Writes ``probability.tif``, ``lineaments.gpkg``, ``lineaments.shp``,
    ``rose.png``, ``density.tif`` and ``preview.png``.
    """
    out = Path(out_dir)
    _check_out_dir(out)
    return detect_lineaments(
        grid, probability_path=out / "probability.tif", **_folder_paths(out),
        model_path=model_path, band=band, tile_size=tile_size, overlap=overlap, threshold=threshold,
        device=device, batch_size=batch_size, vector_params=vector_params, scheduler=scheduler,
        progress=progress, cancel=cancel)


def vectorize_to_folder(
    probability: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    threshold: float = 0.5,
    vector_params: Optional[VectorizeParams] = None,
    progress=None,
    cancel=None,
) -> DetectResult:
    """Vector axes, rose, density and preview from an existing probability raster.

    Writes ``lineaments.gpkg``, ``lineaments.shp``, ``rose.png``,
    ``density.tif`` and ``preview.png`` (the probability map with the axes)
    in ``out_dir``. ``vector_params`` sets pruning, joining and simplifying
    (its threshold is replaced by ``threshold``).
    """
    prog = Progress.wrap(progress, cancel)
    _check_threshold(threshold)
    vp = _vector_params(vector_params, threshold)
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
