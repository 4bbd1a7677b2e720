"""``stitch``: tiles in, one georeferenced panorama out, with a quality report."""

from __future__ import annotations

import csv
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import List, Optional, Sequence

import numpy as np

from ..errors import GeocoreError
from ..files import all_or_nothing, atomic_output, check_not_input, prepare_out_dir
from ..progress import Progress
from .blend import composite_strips, gain_compensation, panorama_frame
from .corrections import Corrections, Distortion, estimate_radial_distortion
from .params import BLENDS, DEFAULT_MIN_SCORE, DEFAULT_OUTLIER_PX, DEFAULT_UM_PER_PX, INTERPOLATIONS, LAYOUTS, METHODS, MODELS
from .placement import Placement, place_tiles, refine_affine
from .register import GreyTiles, PairResult, RegisterParams, register_pairs
from .tiles import TileSet, TileStore, discover_tiles, grid_pairs
from .write import write_panorama


@dataclass
class StitchParams:
    """Everything ``stitch`` can be told, shared by the CLI, QGIS and the tests.

    Attributes
    ----------
    um_per_px : float
        Pixel size of the tiles in micrometres (the panorama's pixel size).
    positions : path-like or None
        CSV of approximate stage positions (``file,x_px,y_px`` or ``file,x_um,y_um``).
    layout : {"auto", "grid", "unordered"}
        How neighbours are found (see :func:`~geocore.panorama.tiles.discover_tiles`).
    flat_field : path-like or None
        Photograph of a mirror / empty field for flat-field correction.
    distortion : sequence of float, "estimate" or None
        Brown-Conrady ``k1 [k2 [p1 [p2 [k3]]]]`` (focal length = half the tile
        diagonal), or ``"estimate"``: ``k1`` that makes every overlap move as one
        piece (local shifts along the overlaps, measured on the uncorrected tiles).
    method : {"phase", "features"}
        Pairwise registration method.
    model : {"translation", "affine"}
        Tile motion: translation (microscope stages translate) or one affine map
        per tile (rotated camera, scale drift), from local shifts along each overlap.
    min_score : float
        Smallest overlap NCC for a pair to count.
    outlier_px : float
        Residual (px) above which a pair is dropped from the placement.
    gain : bool
        Exposure (gain) compensation.
    blend : {"feather", "nearest"}
    interpolation : {"cubic", "linear", "nearest"}
    overviews : bool
        Add overviews (averages) to the GeoTIFF for quick display; costs about as
        much time as writing the panorama, so off by default (QGIS offers to build
        them when needed).
    """

    um_per_px: float = DEFAULT_UM_PER_PX
    positions: Optional[str] = None
    layout: str = LAYOUTS[0]
    flat_field: Optional[str] = None
    distortion: Optional[Sequence[float]] = None
    method: str = METHODS[0]
    model: str = MODELS[0]
    min_score: float = DEFAULT_MIN_SCORE
    outlier_px: float = DEFAULT_OUTLIER_PX
    gain: bool = True
    blend: str = BLENDS[0]
    interpolation: str = INTERPOLATIONS[0]
    overviews: bool = False

    def check(self) -> None:
        if not (self.um_per_px > 0 and np.isfinite(self.um_per_px)):
            raise GeocoreError(f"pixel size must be a positive number of micrometres, not {self.um_per_px}")
        if self.method not in METHODS:
            raise GeocoreError(f"registration method must be phase or features, not {self.method!r}")
        if self.model not in MODELS:
            raise GeocoreError(f"model must be translation or affine, not {self.model!r}")
        if self.blend not in BLENDS:
            raise GeocoreError(f"blend must be one of {', '.join(BLENDS)}, not {self.blend!r}")
        if self.interpolation not in INTERPOLATIONS:
            raise GeocoreError(f"interpolation must be one of {', '.join(INTERPOLATIONS)}, not {self.interpolation!r}")
        if isinstance(self.distortion, str) and self.distortion != "estimate":
            raise GeocoreError(f"distortion must be coefficients k1 [k2 [p1 [p2 [k3]]]] or 'estimate', not {self.distortion!r}")
        if not 0 <= self.min_score < 1:
            raise GeocoreError(f"minimum score must be in [0, 1), not {self.min_score}")

    @classmethod
    def field_names(cls) -> List[str]:
        return [f.name for f in fields(cls)]


@dataclass
class StitchResult:
    """What ``stitch`` wrote and measured."""

    panorama: Path
    report: Optional[Path]
    tiles_report: Optional[Path]
    layout_png: Optional[Path]
    rows: int
    cols: int
    n_tiles: int
    layout: str
    positions: np.ndarray  #: (y, x) of every tile's top-left pixel in the panorama, px
    names: List[str]
    pairs: List[PairResult]
    placement: Placement
    gains: np.ndarray
    seconds: float
    notes: List[str] = field(default_factory=list)

    @property
    def n_pairs_used(self) -> int:
        return sum(p.used for p in self.pairs)

    @property
    def rms(self) -> float:
        """RMS residual of the used pairs after global placement, px."""
        return self.placement.rms

    def summary(self) -> str:
        lines = [f"panorama: {self.panorama} ({self.cols} x {self.rows} px, {self.n_tiles} tiles, {self.layout} layout)",
                 f"pairs used: {self.n_pairs_used} of {len(self.pairs)} measured; "
                 f"RMS residual {self.rms:.3f} px; {self.placement.removed} outlier(s) removed",
                 f"gains: {self.gains.min():.3f}..{self.gains.max():.3f}"]
        if self.report:
            lines.append(f"report: {self.report}")
        if self.tiles_report:
            lines.append(f"tiles: {self.tiles_report}")
        if self.layout_png:
            lines.append(f"layout: {self.layout_png}")
        lines += [f"note: {n}" for n in self.notes]
        return "\n".join(lines)


def candidate_pairs(tileset: TileSet):
    """``(a, b, kind, prior)`` for every pair worth measuring."""
    tiles = tileset.tiles
    if tileset.layout == "grid":
        return [(a, b, kind, None) for a, b, kind in grid_pairs(tiles)]
    n = len(tiles)
    h, w = tileset.shape
    out = []
    for a in range(n):
        for b in range(a + 1, n):
            if tileset.layout == "stage":
                ya, xa = tiles[a].stage_yx
                yb, xb = tiles[b].stage_yx
                prior = (yb - ya, xb - xa)
                if abs(prior[0]) < h * 0.97 and abs(prior[1]) < w * 0.97:
                    out.append((a, b, "stage", prior))
            else:
                out.append((a, b, "any", None))
    return out


def default_report_paths(out: Path):
    stem = out.with_suffix("")
    return (Path(f"{stem}_pairs.csv"), Path(f"{stem}_tiles.csv"), Path(f"{stem}_layout.png"))


@all_or_nothing
def stitch(
    tiles: Sequence[str | os.PathLike],
    out: str | os.PathLike,
    params: Optional[StitchParams] = None,
    *,
    report: Optional[str | os.PathLike] | bool = True,
    tiles_report: Optional[str | os.PathLike] | bool = True,
    layout_png: Optional[str | os.PathLike] | bool = True,
    progress=None,
    cancel=None,
) -> StitchResult:
    """Stitch overlapping microscope tiles into one GeoTIFF panorama.

    Parameters
    ----------
    tiles : sequence of path-like
        Tile images and/or folders of tiles.
    out : path-like
        The panorama GeoTIFF (written atomically).
    params : StitchParams, optional
    report, tiles_report, layout_png : path-like or bool
        The pairs CSV (shift, score, residual of every measured pair), the
        tiles CSV (position, gain, group) and the layout picture. True: next
        to ``out`` (``<stem>_pairs.csv``, ``<stem>_tiles.csv``,
        ``<stem>_layout.png``); False/None: not written.
    progress, cancel : callable, optional
        ``progress(fraction)`` and ``cancel() -> bool``.

    Returns
    -------
    StitchResult

    Notes
    -----
    Shifts are measured by phase correlation, positions by weighted least
    squares with outlier removal, exposure by per-tile gains, and tiles are
    blended by feathering; see the module docs of
    :mod:`~geocore.panorama.register`, :mod:`~geocore.panorama.placement` and
    :mod:`~geocore.panorama.blend`.
    """
    start = time.perf_counter()
    params = params or StitchParams()
    params.check()
    prog = Progress.wrap(progress, cancel)
    out = Path(out)
    if out.suffix.lower() not in (".tif", ".tiff"):
        raise GeocoreError(f"the panorama is written as GeoTIFF; give an output name ending in .tif, not '{out.name}'")
    defaults = default_report_paths(out)
    report_p = defaults[0] if report is True else (Path(report) if report else None)
    tiles_p = defaults[1] if tiles_report is True else (Path(tiles_report) if tiles_report else None)
    layout_p = defaults[2] if layout_png is True else (Path(layout_png) if layout_png else None)

    tileset = discover_tiles(tiles, positions=params.positions, um_per_px=params.um_per_px, layout=params.layout)
    names = [t.name for t in tileset.tiles]
    inputs = [t.path for t in tileset.tiles] + [p for p in (params.flat_field, params.positions) if p]
    check_not_input([p for p in (out, report_p, tiles_p, layout_p) if p], inputs)
    notes = []
    if tileset.ignored:
        notes.append(f"not tiles (no row/column in the name), ignored: {', '.join(p.name for p in tileset.ignored)}")

    estimate = isinstance(params.distortion, str)
    distortion = Distortion.from_sequence(params.distortion) if params.distortion and not estimate else None
    corr = Corrections(tileset.shape, tileset.bands, tileset.dtype, flat_field=params.flat_field,
                       distortion=distortion)

    # corrected tiles are decoded once and spilled to raw files next to the output
    spill = Path(tempfile.mkdtemp(prefix=f".{out.stem}.tiles.", dir=prepare_out_dir(out.parent if str(out.parent) else ".")))
    store = TileStore(tileset, corr.apply, spill, check=prog.check)
    try:
        if estimate:
            # the local shifts average over pieces of the overlap, which biases k1 towards 0 in
            # proportion to the distortion left; so correct, measure again, and add up (3 rounds at most)
            k1, first = 0.0, None
            for rnd in range(3):
                delta, before, after = _estimate_distortion(tileset, store, params, prog.sub(0.1 * rnd, 0.1 * rnd + 0.1))
                first = before if first is None else first
                k1 += delta
                store.close()
                corr = Corrections(tileset.shape, tileset.bands, tileset.dtype, flat_field=params.flat_field,
                                   distortion=Distortion(k1=k1))
                store = TileStore(tileset, corr.apply, spill, check=prog.check)
                if abs(delta) < 0.002:
                    break
            notes.append(f"estimated lens distortion k1 = {k1:.4f} (spread of the local shifts along the overlaps "
                         f"{first:.3f} px uncorrected, {after:.3f} px in the last round)")
            prog = prog.sub(0.3, 1.0)
        return _stitch_with_store(_Run(tileset, store, params, names, notes, start),
                                  _Outputs(out, report_p, tiles_p, layout_p), prog)
    finally:
        store.close()
        shutil.rmtree(spill, ignore_errors=True)


def _estimate_distortion(tileset, store, params, prog):
    """k1 from five local shifts along every overlap of the uncorrected (flat-fielded) tiles."""
    rparams = RegisterParams(method="phase", min_score=params.min_score, points_per_pair=5)
    grey_bytes = tileset.height * tileset.width * np.dtype(tileset.dtype).itemsize
    grey = GreyTiles(store.load, len(tileset), tileset.shape, rparams, cache_size=max(3, (48 << 20) // grey_bytes))
    for i in range(len(tileset)):
        grey.shrunk(i)
        prog.update(0.2 * (i + 1) / len(tileset))
    pairs = register_pairs(grey, candidate_pairs(tileset), rparams, progress=prog.sub(0.2, 0.9).update)
    grey.cache.clear()
    k1, before, after = estimate_radial_distortion([p for p in pairs if p.used], tileset.shape)
    prog.update(1.0)
    return k1, before, after


@dataclass
class _Run:
    """What one stitching run carries from step to step."""

    tileset: TileSet
    store: TileStore
    params: StitchParams
    names: List[str]
    notes: List[str]
    start: float


@dataclass
class _Outputs:
    """The panorama and the optional reports (None: not written)."""

    panorama: Path
    report: Optional[Path]
    tiles: Optional[Path]
    layout: Optional[Path]


def _register(run: _Run, prog: Progress) -> List[PairResult]:
    """Pairwise shifts of the candidate pairs (shrunk copies of every tile first, for the coarse search)."""
    tileset, params = run.tileset, run.params
    rparams = RegisterParams(method=params.method, min_score=params.min_score,
                             points_per_pair=3 if params.model == "affine" else 0)
    grey_bytes = tileset.height * tileset.width * np.dtype(tileset.dtype).itemsize
    grey = GreyTiles(run.store.load, len(tileset), tileset.shape, rparams, cache_size=max(3, (48 << 20) // grey_bytes))
    for i in range(len(tileset)):  # every tile once: shrunk copies for the coarse search
        grey.shrunk(i)
        prog.update(0.2 * (i + 1) / len(tileset))
    candidates = candidate_pairs(tileset)
    pairs = register_pairs(grey, candidates, rparams, progress=prog.sub(0.2, 1.0).update)
    grey.cache.clear()
    return pairs


def _place(run: _Run, pairs: Sequence[PairResult]):
    """Global placement, gains and the panorama frame: (placement, gains, frame, positions, (rows, cols))."""
    tileset, params = run.tileset, run.params
    grid_rc = [(t.row, t.col) for t in tileset.tiles] if tileset.layout == "grid" else None
    stage = np.array([t.stage_yx for t in tileset.tiles]) if tileset.layout == "stage" else None
    placement = place_tiles(len(tileset), pairs, layout=tileset.layout, grid_rc=grid_rc, stage_yx=stage,
                            outlier_px=params.outlier_px, names=run.names)
    if params.model == "affine":
        placement = refine_affine(placement, pairs, tileset.shape)
    run.notes += placement.notes
    gains = (gain_compensation(len(tileset), pairs, tileset.max_value) if params.gain
             else np.ones(len(tileset)))
    frame, size = panorama_frame(placement.transforms if placement.transforms is not None
                                 else placement.positions, tileset.shape)
    positions = frame[:, :, 2] if frame.ndim == 3 else frame
    return placement, gains, frame, positions, size


def _write_outputs(run: _Run, outputs: _Outputs, pairs, placement: Placement, gains, frame, positions, size,
                   prog: Progress) -> None:
    """Blend and write the panorama and the reports, each atomically."""
    tileset, params, names = run.tileset, run.params, run.names
    rows, cols = size
    strips = composite_strips(frame, tileset.shape, (rows, cols), tileset.bands, tileset.dtype, run.store.read_rows,
                              gains=gains, blend=params.blend, interpolation=params.interpolation)
    tags = {"GEOCORE_TILES": str(len(tileset)), "GEOCORE_RMS_PX": f"{placement.rms:.4f}"}
    with atomic_output(outputs.panorama) as tmp:
        write_panorama(tmp, strips, rows=rows, cols=cols, bands=tileset.bands, dtype=tileset.dtype,
                       um_per_px=params.um_per_px, overviews=params.overviews, tags=tags,
                       progress=prog.sub(0.0, 0.95).update)
        if outputs.report:
            with atomic_output(outputs.report) as t2:
                write_pairs_csv(t2, pairs, names)
        if outputs.tiles:
            with atomic_output(outputs.tiles) as t3:
                write_tiles_csv(t3, names, positions, gains, placement, tileset, params.um_per_px, rows)
        if outputs.layout:
            with atomic_output(outputs.layout) as t4:
                plot_layout(t4, names, positions, tileset.shape, pairs, (rows, cols), placement)
    prog.update(1.0)


def _stitch_with_store(run: _Run, outputs: _Outputs, prog: Progress) -> StitchResult:
    """Registration, placement, then blending and writing, of tiles already decoded into ``run.store``."""
    pairs = _register(run, prog.sub(0.0, 0.45))
    placement, gains, frame, positions, (rows, cols) = _place(run, pairs)
    prog.update(0.5)
    _write_outputs(run, outputs, pairs, placement, gains, frame, positions, (rows, cols), prog.sub(0.5, 1.0))
    return StitchResult(panorama=outputs.panorama, report=outputs.report, tiles_report=outputs.tiles,
                        layout_png=outputs.layout, rows=rows, cols=cols, n_tiles=len(run.tileset),
                        layout=run.tileset.layout, positions=positions, names=run.names, pairs=pairs,
                        placement=placement, gains=gains, seconds=time.perf_counter() - run.start, notes=run.notes)


# ----------------------------------------------------------------------------- reports
PAIR_COLUMNS = ("tile_a", "tile_b", "kind", "dy_px", "dx_px", "score", "overlap_px", "used", "residual_px", "reason")


def write_pairs_csv(path: Path, pairs: Sequence[PairResult], names: Sequence[str]) -> None:
    """One row per measured pair: shift of b in a's frame (px), NCC score, residual after placement."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(PAIR_COLUMNS)
        for p in pairs:
            w.writerow([names[p.a], names[p.b], p.kind, f"{p.dy:.3f}", f"{p.dx:.3f}", f"{p.score:.4f}", p.overlap_px,
                        int(p.used), "" if not np.isfinite(p.residual) else f"{p.residual:.3f}", p.reason])


def write_tiles_csv(path: Path, names, positions, gains, placement: Placement, tileset: TileSet, um: float,
                    rows: int) -> None:
    """One row per tile: top-left position in panorama pixels (y down) and in the GeoTIFF's micrometre
    coordinates (origin at the panorama's top-left corner, y up, so ``y_um = -y_px * um``), gain, group,
    how it was placed."""
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(("tile", "row", "col", "y_px", "x_px", "x_um", "y_um", "gain", "group", "placed_by"))
        for i, name in enumerate(names):
            t = tileset.tiles[i]
            y, x = positions[i]
            w.writerow([name, "" if t.row is None else t.row, "" if t.col is None else t.col, f"{y:.3f}", f"{x:.3f}",
                        f"{x * um:.3f}", f"{-y * um + 0.0:.3f}", f"{gains[i]:.4f}", int(placement.component[i]),
                        placement.placed_by[i]])


def plot_layout(path: Path, names, positions, shape, pairs: Sequence[PairResult], size, placement: Placement) -> None:
    """Tile outlines on the panorama frame, pairs coloured by residual, rejected pairs dashed."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    h, w = shape
    rows, cols = size
    fig, ax = plt.subplots(figsize=(8, 8 * rows / max(cols, 1) + 0.8), dpi=100)
    for i, name in enumerate(names):
        y, x = positions[i]
        colour = "tab:blue" if placement.placed_by[i] == "registration" else "tab:red"
        ax.add_patch(Rectangle((x, y), w, h, fill=False, edgecolor=colour, lw=1))
        ax.text(x + w / 2, y + h / 2, name, ha="center", va="center", fontsize=7, color=colour)
    cmap = plt.get_cmap("viridis")
    for p in pairs:
        if not np.isfinite(p.dy):
            continue
        ya, xa = positions[p.a] + (h / 2, w / 2)
        yb, xb = positions[p.b] + (h / 2, w / 2)
        if p.used:
            ax.plot([xa, xb], [ya, yb], color=cmap(min(p.residual / 1.0, 1.0)), lw=2.5)
        else:
            ax.plot([xa, xb], [ya, yb], color="tab:red", lw=1, ls="--")
    ax.set_xlim(0, cols)
    ax.set_ylim(rows, 0)
    ax.set_aspect("equal")
    ax.set_xlabel("x (px)")
    ax.set_ylabel("y (px)")
    ax.set_title(f"{len(names)} tiles; pair residual 0 (purple) .. >=1 px (yellow); dashed: rejected\n"
                 f"RMS residual {placement.rms:.3f} px")
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
