"""Tile-by-tile inference on rasters of any size, with blended overlaps.

The raster is cut into square tiles on a regular grid of origins (the last
tile of a row or column is shifted back to end at the raster edge). Tiles are
read in raster order, one horizontal strip of input rows at a time, and their
predictions are blended into a row accumulator with a smooth cosine-squared
window. Rows are written out, block-aligned, as soon as no later tile can touch
them, so memory is bounded by the batch of tiles and a band of rows as wide as
the raster, never by the raster itself.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional, Sequence

import numpy as np

from ..errors import GeocoreError, ParameterError
from ..files import atomic_output, check_not_input
from ..models import depends_on_tile, halo_cells, normalize, resolve_device
from ..progress import Progress
from ..raster.fill import fill_nearest
from ..raster.io import band_choice_error, open_raster_checked, read_window
from ..raster.profile import gtiff_profile

#: Output block edge (cells) of the written GeoTIFF.
OUT_BLOCK = 256
#: Smallest blending weight, so every cell has a positive weight sum.
WEIGHT_FLOOR = 1e-6
#: Columns normalised at a time (plus the halo each side).
_NORM_CHUNK = 1024
#: The U-Net halves the tile five times.
TILE_MULTIPLE = 32
#: Test-time augmentations: how many of (rotations by 0, 180, 90, 270 degrees, then the same mirrored).
AUGMENTS = (1, 2, 4, 8)
_VIEWS = ((0, False), (2, False), (1, False), (3, False), (0, True), (2, True), (1, True), (3, True))


@dataclass
class TileParams:
    """How a raster is cut into tiles for the network.

    Attributes
    ----------
    tile_size : int or None
        Tile edge in cells, a multiple of 32; None uses the model card's.
    overlap : float
        Overlap of neighbouring tiles as a fraction of the tile edge, in
        [0, 1). 0.5 (default) puts every cell in about four tiles.
    batch_size : int
        Tiles per forward pass.
    device : str
        ``"auto"``, ``"cpu"`` or ``"cuda"``.
    augment : int
        Test-time augmentation: the probabilities of each tile averaged over
        this many of its rotations by right angles, each turned back: 1 (none,
        default), 2 (0 and 180 degrees), 4 (the four rotations) or 8 (and
        their mirror images). For models trained with these symmetries (the
        shipped ones are); it costs as many forward passes.
    """

    tile_size: Optional[int] = None
    overlap: float = 0.5
    batch_size: int = 8
    device: str = "auto"
    augment: int = 1

    def checked_tile_size(self, card) -> int:
        """The tile size to use, or a GeocoreError explaining why it cannot be."""
        tile = int(self.tile_size if self.tile_size is not None else card.tile_size)
        if tile < TILE_MULTIPLE or tile % TILE_MULTIPLE:
            msg = f"tile size {tile} is not a positive multiple of {TILE_MULTIPLE}; the U-Net needs e.g. 192, 256 or 512"
            raise GeocoreError(msg)
        return tile

    def check(self) -> None:
        """Raise GeocoreError for an overlap, batch size or device that cannot work."""
        if not (0.0 <= float(self.overlap) < 1.0):
            msg = f"overlap {self.overlap} is outside [0, 1); give a fraction of the tile such as 0.5"
            raise GeocoreError(msg)
        if int(self.batch_size) < 1:
            msg = f"batch size {self.batch_size} must be at least 1"
            raise GeocoreError(msg)
        if int(self.augment) not in AUGMENTS:
            msg = (f"test-time augmentation {self.augment} must be one of {', '.join(map(str, AUGMENTS))} "
                   "(1: none; 2, 4, 8: rotations averaged)")
            raise GeocoreError(msg)
        resolve_device(self.device)


def tile_origins(length: int, tile: int, stride: int) -> np.ndarray:
    """Tile start offsets along one axis of ``length`` cells.

    Regular steps of ``stride``; the last tile ends at the raster edge. A raster
    shorter than a tile gets one tile at 0 (padded later).

    Examples
    --------
    >>> tile_origins(10, 4, 2).tolist()
    [0, 2, 4, 6]
    >>> tile_origins(11, 4, 3).tolist()
    [0, 3, 6, 7]
    >>> tile_origins(3, 4, 2).tolist()
    [0]
    """
    if length <= tile:
        return np.array([0])
    starts = list(range(0, length - tile, stride)) + [length - tile]
    return np.unique(np.asarray(starts))


def blend_window(tile: int, margin: Optional[int] = None) -> np.ndarray:
    """The 2-D blending weight of a tile: a ``sin²`` bump along each axis, floored.

    Along each axis the weight is :data:`WEIGHT_FLOOR` in the ``margin`` cells
    next to the tile border (default ``tile // 16``), where a network sees the
    least context and its zero padding shows, and ``sin²(π (i + ½ - m) / (T -
    2m))`` in between: highest at the tile centre, smooth, and nearly a
    partition of unity at 50 % overlap. Outputs divide the weighted sum by the
    sum of weights, so any overlap works; cells covered by a single tile (at
    the raster edge) take that tile's value whatever its weight there.
    """
    m = tile // 16 if margin is None else int(margin)
    i = np.arange(tile) + 0.5 - m
    inner = tile - 2 * m
    w1 = np.where((i > 0) & (i < inner), np.sin(np.pi * np.clip(i, 0, inner) / max(inner, 1)) ** 2, 0.0)
    w1 = np.maximum(w1, WEIGHT_FLOOR)
    return np.outer(w1, w1).astype(np.float32)


class _RowAccumulator:
    """Weighted sums for a band of rows ``[base, base + n)``, written when complete."""

    def __init__(self, channels: int, width: int, height: int, writer) -> None:
        self.c, self.w, self.h = channels, width, height
        self.base = 0
        self.num = np.zeros((channels, 0, width), np.float32)
        self.den = np.zeros((0, width), np.float32)
        self.nodata = np.zeros((0, width), bool)
        self.writer = writer

    def _extend(self, stop: int) -> None:
        n = stop - self.base
        have = self.den.shape[0]
        if n <= have:
            return
        grow = n - have
        self.num = np.concatenate([self.num, np.zeros((self.c, grow, self.w), np.float32)], axis=1)
        self.den = np.concatenate([self.den, np.zeros((grow, self.w), np.float32)], axis=0)
        self.nodata = np.concatenate([self.nodata, np.zeros((grow, self.w), bool)], axis=0)

    def add(self, r0: int, c0: int, pred: np.ndarray, weight: np.ndarray) -> None:
        """Add ``pred`` (channels, h, w) with ``weight`` (h, w) at raster row/col ``r0``/``c0``."""
        h, w = weight.shape
        self._extend(r0 + h)
        a = r0 - self.base
        self.num[:, a:a + h, c0:c0 + w] += pred * weight
        self.den[a:a + h, c0:c0 + w] += weight

    def add_sums(self, r0: int, num: np.ndarray, den: np.ndarray) -> None:
        """Add weighted sums ``num`` (channels, h, width) and ``den`` (h, width) from raster row ``r0``."""
        h = den.shape[0]
        self._extend(r0 + h)
        a = r0 - self.base
        self.num[:, a:a + h] += num
        self.den[a:a + h] += den

    def mark_nodata(self, r0: int, mask: np.ndarray) -> None:
        """OR a nodata mask (rows, width) starting at raster row ``r0``."""
        self._extend(r0 + mask.shape[0])
        a = r0 - self.base
        self.nodata[a:a + mask.shape[0]] |= mask

    def flush(self, complete: int, final: bool = False) -> None:
        """Write rows below ``complete`` in whole output blocks (all of them when ``final``)."""
        from rasterio.windows import Window

        stop = complete if final else self.base + ((complete - self.base) // OUT_BLOCK) * OUT_BLOCK
        if final:
            stop = self.h
        n = stop - self.base
        if n <= 0:
            return
        out = self.num[:, :n] / self.den[:n]
        out[:, self.nodata[:n]] = np.nan
        self.writer.write(out.astype(np.float32), window=Window(0, self.base, self.w, n))
        self.num = self.num[:, n:].copy()
        self.den = self.den[n:].copy()
        self.nodata = self.nodata[n:].copy()
        self.base = stop


def _choose_bands(info_count: int, bands: Optional[Sequence[int]], card, path: Path) -> list[int]:
    need = int(card.in_channels)
    if bands is None:
        if info_count == need:
            return list(range(1, need + 1))
        if need == 1:
            raise band_choice_error(path, info_count)
        msg = f"the model needs {need} bands but '{path}' has {info_count}; choose {need} bands"
        raise ParameterError(msg, param="band")
    bands = [int(b) for b in bands]
    if len(bands) != need:
        msg = f"the model needs {need} input band{'s' if need > 1 else ''}, {len(bands)} were chosen; choose {need}"
        raise GeocoreError(msg)
    for b in bands:
        if not 1 <= b <= info_count:
            msg = f"band {b} is out of range: '{path}' has {info_count} band{'s' if info_count > 1 else ''} (1..{info_count})"
            raise GeocoreError(msg)
    return bands


def pad_continued(arr: np.ndarray, pad) -> np.ndarray:
    """Pad the last two axes of ``arr`` by odd reflection, clipped to the range of each leading slice.

    An odd (point) reflection ``2 f(edge) - f(edge - k)`` continues the values
    *and* their gradient across the border, where a mirror reflection would
    fold a sloping field into a ridge or a trough along it: a lineament that is
    not there. Clipping keeps the values within those the network was given.
    Arrays of one row or column are padded with their edge values.

    Parameters
    ----------
    arr : ndarray (rows, cols) or (bands, rows, cols)
    pad : ((top, bottom), (left, right))
        Cells to add on each side of the last two axes.
    """
    widths = [(0, 0)] * (arr.ndim - 2) + [tuple(p) for p in pad]
    if min(arr.shape[-2:]) <= 1:
        return np.pad(arr, widths, mode="edge")
    out = np.pad(arr, widths, mode="reflect", reflect_type="odd")
    flat = arr.reshape(-1, arr.shape[-2] * arr.shape[-1])
    shape = arr.shape[:-2] + (1, 1)
    lo, hi = flat.min(axis=1).reshape(shape), flat.max(axis=1).reshape(shape)
    return np.clip(out, lo, hi).astype(arr.dtype, copy=False)


def _pad_to(arr: np.ndarray, tile: int) -> np.ndarray:
    """Pad (bands, h, w) at the bottom/right up to (bands, tile, tile) (:func:`pad_continued`)."""
    _, h, w = arr.shape
    if h == tile and w == tile:
        return arr
    return pad_continued(arr, ((0, tile - h), (0, tile - w)))


def _normalize_strip(strip: np.ndarray, rows: slice, spec: dict, halo: int) -> np.ndarray:
    """Normalise ``strip[:, rows]`` in column chunks, each read with ``halo`` columns of context.

    For a normalisation that does not depend on the tile, a chunk with its halo
    gives the values of the whole raster (see :mod:`geocore.models.normalize`),
    so normalising a strip once replaces normalising every overlapping tile.
    """
    W = strip.shape[2]
    out = np.empty((strip.shape[0], rows.stop - rows.start, W), np.float32)
    for c0 in range(0, W, _NORM_CHUNK):
        c1 = min(W, c0 + _NORM_CHUNK)
        a, b = max(0, c0 - halo), min(W, c1 + halo)
        out[:, :, c0:c1] = normalize(strip[:, :, a:b], spec)[:, rows, c0 - a:c1 - a]
    return out


@dataclass
class TilePlan:
    """Where the tiles of one raster go: the checked request, ready to run.

    Built by :func:`plan_tiles`; shared by the single-process loop and by the
    strip tasks of :mod:`geocore.distributed`, so both cut the raster alike.

    Attributes
    ----------
    src : Path
        Input raster.
    bands : list of int
        1-based input bands.
    tile, stride : int
        Tile edge and step between tile origins, in cells.
    height, width : int
        Raster size in cells.
    classes : int
        Output channels.
    rows, cols : ndarray of int
        Tile origins along each axis (:func:`tile_origins`).
    """

    src: Path
    bands: list
    tile: int
    stride: int
    height: int
    width: int
    classes: int
    rows: np.ndarray
    cols: np.ndarray

    @property
    def n_tiles(self) -> int:
        """Number of tiles of the raster."""
        return len(self.rows) * len(self.cols)

    def row_span(self, k0: int, k1: int) -> tuple[int, int]:
        """Raster rows ``[start, stop)`` touched by the tile rows ``k0 .. k1 - 1``."""
        r_last = int(self.rows[k1 - 1])
        return int(self.rows[k0]), r_last + min(self.tile, self.height - r_last)

    def complete_below(self, k: int) -> int:
        """Rows above this are final once tile rows ``0 .. k`` are accumulated."""
        return int(self.rows[k + 1]) if k + 1 < len(self.rows) else self.height


def plan_tiles(src: str | os.PathLike, card, *, bands: Optional[Sequence[int]] = None,
               params: TileParams = TileParams()) -> tuple[TilePlan, object]:
    """Check a request and cut the raster into tiles (step 1 of :func:`predict_raster`).

    Returns
    -------
    (TilePlan, RasterInfo)
        The plan and the checked input (CRS, transform for the output).

    Raises
    ------
    GeocoreError
        For a raster, band choice, tile size, overlap, batch size or device
        that cannot work.
    """
    src = Path(src)
    params.check()
    tile = params.checked_tile_size(card)
    stride = max(1, int(round(tile * (1.0 - float(params.overlap)))))
    info = open_raster_checked(src, 1, allow_integer=True, check_valid=False)
    bands = _choose_bands(info.count, bands, card, src)
    H, W = info.height, info.width
    plan = TilePlan(src=src, bands=bands, tile=tile, stride=stride, height=H, width=W, classes=int(card.classes),
                    rows=tile_origins(H, tile, stride), cols=tile_origins(W, tile, stride))
    return plan, info


def output_profile(plan: TilePlan, crs, transform) -> dict:
    """The GeoTIFF profile of a probability raster (float32, 256-cell blocks, DEFLATE, BigTIFF if needed)."""
    return gtiff_profile(plan.width, plan.height, plan.classes, "float32", crs=crs, transform=transform,
                         nodata=float("nan"), tiled=True, block=OUT_BLOCK, predictor=3)


def describe_bands(out, card) -> None:
    """Name each output band ``probability of <class>`` from the card's class names."""
    names = list(getattr(card, "class_names", []) or [])
    for i in range(int(card.classes)):
        if i < len(names):
            out.set_band_description(i + 1, f"probability of {names[i]}")


def _tile_row(ds, plan: TilePlan, spec: dict, k: int) -> tuple:
    """Read tile row ``k`` as one strip (with the normalisation halo).

    Returns ``(r0, h, nodata, tiles)``: the row's first raster row and height,
    its nodata mask (h, width) and a list of ``(c0, w, normalised tile
    (bands, tile, tile))``.
    """
    from rasterio.windows import Window

    H, W, tile = plan.height, plan.width, plan.tile
    per_tile = depends_on_tile(spec)
    halo = 0 if per_tile else halo_cells(spec)
    r0 = int(plan.rows[k])
    h = min(tile, H - r0)
    s0, s1 = max(0, r0 - halo), min(H, r0 + h + halo)
    strip = read_window(ds, Window(0, s0, W, s1 - s0), plan.bands)  # (bands, rows, W), NaN = nodata
    inner = slice(r0 - s0, r0 - s0 + h)
    nodata = np.isnan(strip[:, inner]).any(axis=0)
    norm = None if per_tile else _normalize_strip(strip, inner, spec, halo)
    tiles = []
    for c0 in plan.cols:
        c0 = int(c0)
        w = min(tile, W - c0)
        t = normalize(strip[:, inner, c0:c0 + w], spec) if per_tile else norm[:, :, c0:c0 + w]
        t = fill_nearest(t, nodata[:, c0:c0 + w])
        tiles.append((c0, w, _pad_to(t, tile)))
    return r0, h, nodata, tiles


def _tiles(ds, plan: TilePlan, card, acc: _RowAccumulator, row_range: Optional[tuple] = None) -> Iterator[tuple]:
    """Yield ``(r0, c0, h, w, normalised tile (bands, tile, tile), last_in_row, next_row_start)``.

    Reads one strip of rows (with the normalisation halo) per row of tiles,
    for the tile rows ``row_range`` (default all), and records the strip's
    nodata cells in ``acc``.
    """
    k0, k1 = row_range or (0, len(plan.rows))
    for k in range(k0, k1):
        r0, h, nodata, tiles = _tile_row(ds, plan, card.normalization, k)
        acc.mark_nodata(r0, nodata)
        nxt = plan.complete_below(k)
        for j, (c0, w, t) in enumerate(tiles):
            yield r0, c0, h, w, t, j == len(tiles) - 1, nxt


def _forward(model, tiles: list, classes: int, device, augment: int = 1) -> np.ndarray:
    """Probabilities (batch, classes, tile, tile) of a list of normalised tiles.

    With ``augment`` > 1, the mean over that many views of each tile (:data:`_VIEWS`:
    a rotation by ``k`` right angles, then a mirror), each prediction turned back first.
    """
    import torch

    x = torch.from_numpy(np.stack(tiles)).to(device)
    views = _VIEWS[:max(1, int(augment))]
    total = None
    with torch.inference_mode():
        for k, mirror in views:
            v = torch.rot90(torch.flip(x, [-1]) if mirror else x, k, [-2, -1])
            logits = model(v)
            prob = torch.sigmoid(logits) if classes == 1 else torch.softmax(logits, dim=1)
            prob = torch.rot90(prob, -k, [-2, -1])
            prob = torch.flip(prob, [-1]) if mirror else prob
            total = prob if total is None else total + prob
        return (total / len(views)).float().cpu().numpy()


def _accumulate(ds, plan: TilePlan, card, model, device, acc: _RowAccumulator, batch_size: int,
                prog: Progress, row_range: Optional[tuple] = None, flush: bool = True, augment: int = 1) -> int:
    """Run the model over the tiles of ``row_range`` in batches, blending into ``acc``.

    Rows are flushed to ``acc``'s writer as they complete when ``flush``.
    Progress is the fraction of the range's tiles done. Returns the number of
    tiles run.
    """
    weight_full = blend_window(plan.tile)
    k0, k1 = row_range or (0, len(plan.rows))
    n_tiles = (k1 - k0) * len(plan.cols)
    batch: list[tuple] = []
    done = 0
    pending_complete = 0  # rows below this are final once the batch is accumulated

    def run_batch() -> None:
        nonlocal done, batch
        prob = _forward(model, [b[4] for b in batch], plan.classes, device, augment)
        for (r0, c0, h, w, *_), p in zip(batch, prob):
            acc.add(r0, c0, p[:, :h, :w], weight_full[:h, :w])
        done += len(batch)
        batch = []
        if flush:
            acc.flush(pending_complete)
        prog.update(done / n_tiles)

    for item in _tiles(ds, plan, card, acc, (k0, k1)):
        batch.append(item)
        if item[5]:  # last tile of its row: rows above the next tile row are complete
            pending_complete = item[6]
        if len(batch) >= batch_size:
            run_batch()
    if batch:
        run_batch()
    return done


@dataclass
class StripSums:
    """Blending sums of one strip of tile rows (a task of the distributed engine).

    Attributes
    ----------
    start : int
        First raster row of the strip.
    num : ndarray (classes, rows, width) float32
        Sum of weighted predictions.
    den : ndarray (rows, width) float32
        Sum of weights.
    nodata : ndarray (rows, width) bool
        Cells that are nodata in any input band.
    tiles : int
        Tiles run.
    """

    start: int
    num: np.ndarray
    den: np.ndarray
    nodata: np.ndarray
    tiles: int

    @property
    def nbytes(self) -> int:
        return int(self.num.nbytes + self.den.nbytes + self.nodata.nbytes)


def predict_strip(plan: TilePlan, card, model, k0: int, k1: int, *, batch_size: int = 8,
                  device: str = "auto", augment: int = 1, progress=None, cancel=None) -> StripSums:
    """Blending sums of the tile rows ``k0 .. k1 - 1`` of ``plan`` (nothing is written).

    The strip reads its own window of the input (with the normalisation halo)
    and runs the model over its tiles in batches, exactly as
    :func:`predict_raster` does for those rows; adding the strips' sums and
    dividing gives the single-process result (within float32 rounding of
    the sums' order).
    """
    import rasterio

    dev = resolve_device(device)
    model = model.to(dev)
    model.eval()
    acc = _RowAccumulator(plan.classes, plan.width, plan.height, writer=None)
    acc.base = int(plan.rows[k0])
    with rasterio.open(plan.src) as ds, rasterio.Env(GDAL_CACHEMAX=64 * 1024 * 1024):
        n = _accumulate(ds, plan, card, model, dev, acc, int(batch_size), Progress.wrap(progress, cancel),
                        (k0, k1), flush=False, augment=augment)
    return StripSums(acc.base, acc.num, acc.den, acc.nodata, n)


def predict_raster(
    src: str | os.PathLike,
    dst: str | os.PathLike,
    model,
    card,
    *,
    bands: Optional[Sequence[int]] = None,
    params: TileParams = TileParams(),
    progress=None,
    cancel=None,
) -> Path:
    """Run ``model`` over a raster of any size, tile by tile, and write the result.

    Parameters
    ----------
    src : path
        Input raster (any GDAL format); nodata cells are read as NaN.
    dst : path
        Output GeoTIFF: float32, one band per model output channel after the
        activation (sigmoid when ``card.classes == 1``, else softmax over the
        classes), the input's CRS and transform, nodata NaN in every cell
        that was nodata in any input band, 256 x 256 blocks, DEFLATE with
        floating-point predictor, BigTIFF when needed. Written atomically.
    model : torch.nn.Module
        Maps ``(batch, in_channels, tile, tile)`` float32 to
        ``(batch, classes, tile, tile)`` logits.
    card : ModelCard
        Supplies ``in_channels``, ``classes``, ``tile_size`` and
        ``normalization``.
    bands : list of int or None
        1-based input bands, as many as ``card.in_channels``; None takes all
        bands when their number matches.
    params : TileParams
        Tile size, overlap, batch size, device.
    progress, cancel : callables or Progress
        Progress (0..1) is reported and cancel is checked after every batch.

    Returns
    -------
    Path
        ``dst``.

    Notes
    -----
    Normalisation follows the card. For ``local_zscore`` each strip of tile
    rows is read with :func:`geocore.models.halo_cells` rows of context above
    and below (clipped at the raster edge) and normalised in column chunks with
    the same halo, so the values are those of the whole raster, whatever the
    tiling; ``affine`` is pointwise; for ``minmax`` each tile is scaled alone,
    as in training. A raster (or an axis)
    shorter than a tile is padded to the tile size by odd reflection (:func:`_pad_to`).
    Nodata cells take the normalised value of the nearest cell with data
    (:func:`geocore.raster.fill.fill_nearest`), so that no step is seen along nodata edges;
    they stay nodata in the output.

    Each tile's prediction is weighted by :func:`blend_window` and the weighted
    sum is divided by the sum of weights, so predictions vary smoothly across
    tile borders.

    The same job across the workers of a Dask cluster (strips of tile rows as
    tasks, one writer) is :func:`geocore.distributed.predict_raster_distributed`.
    """
    import rasterio

    src, dst = Path(src), Path(dst)
    check_not_input([dst], [src])
    plan, info = plan_tiles(src, card, bands=bands, params=params)
    device = resolve_device(params.device)
    prog = Progress.wrap(progress, cancel)
    prog.check()
    model = model.to(device)
    model.eval()
    with atomic_output(dst) as tmp, rasterio.open(src) as ds, \
            rasterio.Env(GDAL_CACHEMAX=256 * 1024 * 1024), \
            rasterio.open(tmp, "w", **output_profile(plan, info.crs, info.transform)) as out:
        describe_bands(out, card)
        acc = _RowAccumulator(plan.classes, plan.width, plan.height, out)
        _accumulate(ds, plan, card, model, device, acc, int(params.batch_size), prog, augment=int(params.augment))
        acc.flush(plan.height, final=True)
    return dst
