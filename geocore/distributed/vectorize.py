"""Vectorising a probability map in strips: no process holds the whole raster.

Each strip of rows is a task: it reads its rows plus ``overlap`` rows above
and below, thresholds and thins them (:func:`skimage.morphology.skeletonize`),
traces the skeleton with skan a few rows beyond its borders and keeps each
branch where it runs through the strip's own rows. A branch leaving the strip
ends at the step between its last cell inside and the first outside; the
neighbouring strip ends its part of the branch at the same step. The client
chains the pieces through those steps, which gives the branches of the whole
skeleton, and runs the graph steps of
:func:`geocore.lineaments.vectorize.vectorize_probability` (junction merging,
spur pruning, collinear joining across gaps, simplifying, measuring) on the
vector graph, reading probabilities window by window from the file.

With an overlap wider than the widest band of cells above the threshold (the
thinning of a band only looks as far as its half-width), the lines are those
of the single-process run. The client holds the vector graph, never the raster.
"""

from __future__ import annotations

import os
from collections import OrderedDict, defaultdict

import numpy as np

from ..lineaments import vectorize as _v
from ..lineaments.vectorize import VectorizeParams
from ..progress import Progress

#: Rows of one strip task.
STRIP_ROWS = 2048
#: Rows read above and below a strip for the thinning.
OVERLAP_ROWS = 128


class QuantisedWindows:
    """The probability map quantised as :func:`vectorize_probability` does, read in row blocks on demand.

    Quacks like the ``(rows, cols)`` uint8 array the graph steps index with
    ``q[rows, cols]`` (integer arrays); at most ``cache_blocks`` blocks of
    ``block`` rows are held.
    """

    def __init__(self, path, band: int, height: int, width: int, block: int = 256, cache_blocks: int = 16):
        self.path, self.band = path, band
        self.shape = (int(height), int(width))
        self.block, self.cache_blocks = int(block), int(cache_blocks)
        self._cache: OrderedDict = OrderedDict()
        self._ds = None

    def _load(self, b: int) -> np.ndarray:
        if b in self._cache:
            self._cache.move_to_end(b)
            return self._cache[b]
        import rasterio
        from rasterio.windows import Window

        from ..raster.io import read_window

        if self._ds is None:
            self._ds = rasterio.open(self.path)
        r0 = b * self.block
        n = min(self.block, self.shape[0] - r0)
        p = read_window(self._ds, Window(0, r0, self.shape[1], n), self.band)
        nan = np.isnan(p)
        with np.errstate(invalid="ignore"):
            code = np.rint(np.clip(p, 0.0, 1.0) * 254.0)
        code[nan] = _v._NAN_CODE
        arr = code.astype(np.uint8)
        self._cache[b] = arr
        if len(self._cache) > self.cache_blocks:
            self._cache.popitem(last=False)
        return arr

    def __getitem__(self, key):
        rr, cc = (np.asarray(k) for k in key)
        out = np.empty(rr.shape, np.uint8)
        blocks = rr // self.block
        for b in np.unique(blocks):
            sel = blocks == b
            out[sel] = self._load(int(b))[rr[sel] - b * self.block, cc[sel]]
        return out

    def close(self) -> None:
        if self._ds is not None:
            self._ds.close()
            self._ds = None


#: Rows of skeleton traced beyond a strip on each side (so branches near the border are traced as a whole).
TRACE_ROWS = 16


def _cut_id(a: int, b: int, n_cells: int) -> int:
    """A negative id for the step between cells ``a`` and ``b`` where a branch crosses a strip border."""
    lo, hi = (a, b) if a < b else (b, a)
    return -(lo * n_cells + hi) - 1


def strip_skeleton_pieces(prob_path, band: int, threshold: float, r0: int, r1: int, overlap: int,
                          trace: int = TRACE_ROWS) -> dict:
    """One strip task: the skeleton branches of rows ``[r0, r1)`` in whole-raster (row, col) cells.

    The strip is thresholded and thinned with ``overlap`` rows of context, and
    its skeleton traced by skan with ``trace`` rows beyond each border, so that
    every branch through the strip's own rows is the branch of the whole
    skeleton. Each branch is kept where it lies in rows ``[r0, r1)``; where it
    leaves them, its end is named by the step across the border
    (:func:`_cut_id`), which the neighbouring strip names alike.

    Returns a dict with ``pieces`` (list of (n, 2) float arrays), ``ends``
    (pairs of ids: ``row * width + col`` of a node cell, or a negative border
    step) and ``bytes``.
    """
    import rasterio
    from rasterio.windows import Window
    from skimage.morphology import skeletonize

    from ..raster.io import read_window

    with rasterio.open(prob_path) as ds:
        H, W = ds.height, ds.width
        a, b = max(0, r0 - max(overlap, trace)), min(H, r1 + max(overlap, trace))
        p = read_window(ds, Window(0, a, W, b - a), band)
    with np.errstate(invalid="ignore"):
        mask = p > threshold
    t0, t1 = max(a, r0 - trace), min(b, r1 + trace)
    skel = skeletonize(mask)[t0 - a:t1 - a]
    pieces, _ = _v._skeleton_pieces(skel, Progress())
    n_cells = H * W
    out_pieces, ends = [], []
    for xy in pieces:
        g = xy + np.array([t0, 0.0])
        rows = np.rint(g[:, 0]).astype(np.int64)
        ids = rows * W + np.rint(g[:, 1]).astype(np.int64)
        inside = (rows >= r0) & (rows < r1)
        if not inside.any():
            continue
        # runs of consecutive cells inside the strip
        edges = np.flatnonzero(np.diff(np.concatenate([[0], inside.astype(np.int8), [0]])))
        for i, j in zip(edges[::2], edges[1::2] - 1):
            first = int(ids[i]) if i == 0 else _cut_id(int(ids[i - 1]), int(ids[i]), n_cells)
            last = int(ids[j]) if j == len(g) - 1 else _cut_id(int(ids[j]), int(ids[j + 1]), n_cells)
            out_pieces.append(g[i:j + 1])
            ends.append((first, last))
    nbytes = int(sum(x.nbytes for x in out_pieces) + 16 * len(ends))
    return dict(pieces=out_pieces, ends=ends, bytes=nbytes)


def join_strips(strips: list) -> tuple[list, list]:
    """Join the pieces of neighbouring strips at the border steps they share.

    Every branch cut by a strip border ends, on both sides, at the same
    border step (a negative id); chaining the pieces through those ids gives
    the branches of the whole skeleton, with node ids ``row * width + col``.
    """
    pieces, ends = [], []
    for s in strips:
        pieces += s["pieces"]
        ends += s["ends"]
    cuts = {e for pair in ends for e in pair if e < 0}
    return _chain_at(pieces, ends, cuts)


def _chain_at(pieces: list, ends: list, nodes: set) -> tuple[list, list]:
    """Chain pieces through the given nodes where exactly two piece ends meet."""
    at: dict = defaultdict(list)
    for i, (a, b) in enumerate(ends):
        at[a].append((i, 0))
        at[b].append((i, 1))
    links = {}
    for node in nodes:
        lst = at.get(node, [])
        if len(lst) == 2 and lst[0] != lst[1]:
            links[lst[0]] = lst[1]
            links[lst[1]] = lst[0]
    node_of = {(i, e): ends[i][e] for i in range(len(ends)) for e in (0, 1)}
    chains = _v._assemble(pieces, links)
    return [c[0] for c in chains], [(node_of[c[1]], node_of[c[2]]) for c in chains]


def vectorize_distributed(
    prob_path: str | os.PathLike,
    *,
    params: VectorizeParams = VectorizeParams(),
    band: int = 1,
    scheduler="local",
    strip_rows: int = STRIP_ROWS,
    overlap_rows: int = OVERLAP_ROWS,
    progress=None,
    cancel=None,
):
    """:func:`geocore.lineaments.vectorize.vectorize_probability` with strips of rows as Dask tasks.

    Parameters
    ----------
    prob_path, params, band
        As for :func:`~geocore.lineaments.vectorize.vectorize_probability`.
    scheduler : str or distributed.Client
        ``"none"`` runs the strips one after another here (same result,
        bounded memory).
    strip_rows : int
        Rows per strip task.
    overlap_rows : int
        Rows read above and below each strip for the thinning; keep it wider
        than the widest band of cells above the threshold plus
        :data:`TRACE_ROWS`.
    progress, cancel : callables or Progress

    Returns
    -------
    geopandas.GeoDataFrame
        The same columns, order and CRS as the single-process function.
    """
    from ..raster.io import open_raster_checked
    from .scheduler import dask_client, is_client, parse_scheduler, wait_some

    params.check()
    prog = Progress.wrap(progress, cancel)
    info = open_raster_checked(prob_path, band, check_valid=False, what="probability raster")
    params = params.for_raster(info.path)
    H, W = info.height, info.width
    bounds = [(r, min(H, r + int(strip_rows))) for r in range(0, H, max(1, int(strip_rows)))]
    args = (info.path, info.band, float(params.threshold))
    strips: list = [None] * len(bounds)
    if not is_client(scheduler) and not parse_scheduler(scheduler).distributed:
        for i, (r0, r1) in enumerate(bounds):
            prog.check()
            strips[i] = strip_skeleton_pieces(*args, r0, r1, int(overlap_rows))
            prog.update(0.6 * (i + 1) / len(bounds))
    else:
        with dask_client(scheduler) as client:
            futures = {client.submit(strip_skeleton_pieces, *args, r0, r1, int(overlap_rows), pure=False,
                                     retries=2): i for i, (r0, r1) in enumerate(bounds)}
            try:
                while futures:
                    for f in wait_some(list(futures), prog.check):
                        strips[futures.pop(f)] = f.result()
                        prog.update(0.6 * sum(s is not None for s in strips) / len(bounds))
            except BaseException:
                client.cancel(list(futures), force=True)
                raise
    pieces, ends = join_strips(strips)
    del strips
    prog.check()
    pieces, ends = _v._clean_graph(pieces, ends, params)
    prog.update(0.7)
    q = QuantisedWindows(info.path, info.band, H, W)
    try:
        lines = _v._extend_ends(_v._join_collinear(pieces, ends, q, params, prog.sub(0.7, 0.85)), q, params)
        prog.check()
        frame = _v._lines_to_frame(lines, q, info, params)
    finally:
        q.close()
    prog.update(1.0)
    return frame
