"""Probability map -> vector lineament axes (the rose diagram, density and preview of the axes are in
:mod:`geocore.lineaments.products`).

The pipeline (:func:`vectorize_probability`):

1. threshold the probability map (NaN cells are never above it);
2. thin the foreground to one-cell-wide skeletons (:func:`skimage.morphology.skeletonize`);
3. cut the skeleton into branches between end points and junctions with **skan**;
4. merge junction clusters, prune short terminal branches (spurs) and chain
   branches through the junctions that pruning leaves with two branches;
5. join collinear pieces across junctions and small gaps (dyke anomalies often
   break up into chains that do not touch);
6. drop short lines, simplify, and measure each line on the map: length,
   strike azimuth and the probability along it.

All geometry is computed in pixel space (row, column of cell centres) and
moved to the raster's CRS with its affine transform at the end.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import GeocoreError
from ..files import write_vector
from ..progress import Progress
from ..raster.io import open_raster_checked, read_window
from .params import FIELD_CONTRAST as _FIELD_CONTRAST

#: Columns written for every line, in order.
LINE_FIELDS = ("id", "length", "azimuth", "mean_prob", "max_prob", "straight")
#: Quantised probability code for NaN cells.
_NAN_CODE = 255
#: Rows read at a time when scanning a probability map.
_STRIP_ROWS = 1024
#: ``min_mean_prob`` when none is given, on a network's probability map. Lines the network
#: is not confident about on average are mostly the edges of smoothed noise and weak pieces.
#: Against keeping all lines, dropping those below 0.8 raised the vectorised F1 on 8 of 12
#: surveys measured (two seeds of the paper, noise-dominated and realistic surveys: 0.781 to
#: 0.887 on the noisiest; the oversampled surveys; the Rio west half), left the paper surveys
#: within 0.006, and lowered it on the sparse demo survey from 0.585 to 0.545 (bench/RESULTS.md).
NETWORK_MIN_MEAN_PROB = 0.8


@dataclass
class VectorizeParams:
    """How a probability map becomes lines (lengths in cells of the raster).

    Attributes
    ----------
    threshold : float
        Cells with probability above this, in (0, 1), are lineament.
    min_length_cells : float
        Lines shorter than this after joining are dropped.
    spur_length_cells : float
        Terminal branches (end point to junction) shorter than this are pruned.
    max_gap_cells : float
        Collinear pieces whose ends are at most this far apart are joined.
    max_join_angle_deg : float
        Largest angle between the two pieces' directions (and between each
        direction and the gap) for a join, in degrees.
    simplify_cells : float
        Douglas-Peucker tolerance of the output lines.
    min_mean_prob : float or None
        Lines whose mean probability along them is below this are dropped
        (weak pieces just above the threshold); 0 keeps all. None (the
        default): :data:`NETWORK_MIN_MEAN_PROB` on a network's probability map,
        0 on a classical ridge map (its values are percentile ranks, not
        probabilities; ``detect`` tags those maps with their ``method``).
    min_straightness : float
        Lines whose straightness (distance between the end points over the
        length, 1 for a straight line) is below this are dropped (rings and
        zig-zags around compact bodies, not dyke-like); 0 keeps all.
    min_field_contrast : float or None
        ``detect`` only (it has the field; ``vectorize`` has the probability map
        alone and keeps every line): lines whose anomaly across them in the field
        is below this many times that of the same line moved sideways are dropped
        (:func:`geocore.lineaments.profiles.line_field_contrast`, written to every
        line as ``contrast``); 0 keeps all. ``None`` (default): per method
        (:meth:`field_contrast_for`), :data:`geocore.lineaments.params.FIELD_CONTRAST`
        (2) for the classical methods, whose ridges follow the ridges of noise
        too, and 0 for the CNN, which was trained to tell them apart (the filter
        costs it recall on the benchmark's realistic surveys and gains it nothing).
    """

    threshold: float = 0.5
    min_length_cells: float = 10.0
    spur_length_cells: float = 6.0
    max_gap_cells: float = 8.0
    max_join_angle_deg: float = 25.0
    simplify_cells: float = 1.0
    min_mean_prob: Optional[float] = None
    min_straightness: float = 0.0
    min_field_contrast: Optional[float] = None

    @staticmethod
    def add_arguments(p, field: bool = False) -> None:
        """Command-line options for the settings other than the threshold (lengths in cells);
        ``field``: also ``--min-field-contrast`` (``detect``, which has the field)."""
        d = VectorizeParams()
        g = p.add_argument_group("vectorisation (lengths in raster cells)")
        g.add_argument("--min-length", type=float, default=d.min_length_cells, dest="min_length_cells",
                       help=f"drop lines shorter than this (default {d.min_length_cells:g})")
        g.add_argument("--spur-length", type=float, default=d.spur_length_cells, dest="spur_length_cells",
                       help=f"prune end branches shorter than this (default {d.spur_length_cells:g})")
        g.add_argument("--max-gap", type=float, default=d.max_gap_cells, dest="max_gap_cells",
                       help=f"join collinear pieces across gaps up to this (default {d.max_gap_cells:g}; 0: no joining)")
        g.add_argument("--join-angle", type=float, default=d.max_join_angle_deg, dest="max_join_angle_deg",
                       help=f"largest direction change for a join, degrees (default {d.max_join_angle_deg:g})")
        g.add_argument("--simplify", type=float, default=d.simplify_cells, dest="simplify_cells",
                       help=f"Douglas-Peucker tolerance (default {d.simplify_cells:g})")
        g.add_argument("--min-mean-prob", type=float, default=d.min_mean_prob, dest="min_mean_prob",
                       help="drop lines whose mean probability is below this, 0..1 (default "
                            f"{NETWORK_MIN_MEAN_PROB:g} on a network's probability, 0 on a classical ridge map)")
        g.add_argument("--min-straightness", type=float, default=d.min_straightness, dest="min_straightness",
                       help="drop lines whose end-to-end distance over length is below this, 0..1 "
                            f"(default {d.min_straightness:g})")
        if field:
            g.add_argument("--min-field-contrast", type=float, default=d.min_field_contrast, dest="min_field_contrast",
                           help="drop lines whose anomaly across them in the field is below this many times that "
                                "of the same line moved sideways (written to every line as contrast; 0 keeps "
                                f"all; default {_FIELD_CONTRAST:g} for the classical methods, 0 for cnn)")

    def field_contrast_for(self, method: str) -> float:
        """The ``min_field_contrast`` that applies to detection ``method`` (``None`` resolved)."""
        if self.min_field_contrast is not None:
            return float(self.min_field_contrast)
        return 0.0 if method == "cnn" else _FIELD_CONTRAST

    @classmethod
    def from_namespace(cls, ns) -> "VectorizeParams":
        """Settings from parsed :meth:`add_arguments` options (and ``threshold`` when present)."""
        names = ("threshold", "min_length_cells", "spur_length_cells", "max_gap_cells", "max_join_angle_deg",
                 "simplify_cells", "min_mean_prob", "min_straightness", "min_field_contrast")
        return cls(**{k: getattr(ns, k) for k in names if getattr(ns, k, None) is not None})

    def check(self) -> None:
        """Raise GeocoreError for values that cannot work."""
        if not (0.0 < float(self.threshold) < 1.0):
            msg = f"threshold {self.threshold} is outside (0, 1); give a probability such as 0.5"
            raise GeocoreError(msg)
        for name in ("min_length_cells", "spur_length_cells", "max_gap_cells", "simplify_cells"):
            if float(getattr(self, name)) < 0:
                msg = f"{name} is {getattr(self, name)}; it must be zero or positive"
                raise GeocoreError(msg)
        for name in ("min_mean_prob", "min_straightness"):
            value = getattr(self, name)
            if value is not None and not (0.0 <= float(value) <= 1.0):
                msg = f"{name} is {value}; it must be between 0 and 1"
                raise GeocoreError(msg)
        if self.min_field_contrast is not None and not (float(self.min_field_contrast) >= 0.0):
            msg = (f"min_field_contrast is {self.min_field_contrast}; it must be zero (keep every line) or positive, "
                   f"e.g. {_FIELD_CONTRAST:g}")
            raise GeocoreError(msg)
        if not (0.0 <= float(self.max_join_angle_deg) <= 90.0):
            msg = f"max_join_angle_deg {self.max_join_angle_deg} must be between 0 and 90 degrees"
            raise GeocoreError(msg)

    def for_raster(self, path: str | os.PathLike) -> "VectorizeParams":
        """These settings with ``min_mean_prob`` resolved for the map at ``path`` (see the attribute)."""
        if self.min_mean_prob is not None:
            return self
        import rasterio

        from .params import CLASSICAL_METHODS

        with rasterio.open(path) as ds:
            ridge = ds.tags().get("method") in CLASSICAL_METHODS
        return dataclasses.replace(self, min_mean_prob=0.0 if ridge else NETWORK_MIN_MEAN_PROB)


# ----------------------------------------------------------------------------- reading
def _read_thresholded(path: Path, band: int, threshold: float, prog: Progress):
    """Foreground mask and probability quantised to uint8 (255 = NaN), strip by strip.

    Quantising to 1/254 keeps the whole map in one byte a cell, so a
    10000 x 10000 map costs 200 MB here instead of 800 MB.
    """
    import rasterio
    from rasterio.windows import Window

    with rasterio.open(path) as ds:
        H, W = ds.height, ds.width
        mask = np.zeros((H, W), bool)
        q = np.empty((H, W), np.uint8)
        for r0 in range(0, H, _STRIP_ROWS):
            n = min(_STRIP_ROWS, H - r0)
            p = read_window(ds, Window(0, r0, W, n), band)
            nan = np.isnan(p)
            with np.errstate(invalid="ignore"):
                mask[r0:r0 + n] = p > threshold
                code = np.rint(np.clip(p, 0.0, 1.0) * 254.0)
            code[nan] = _NAN_CODE
            q[r0:r0 + n] = code.astype(np.uint8)
            prog.update((r0 + n) / H)
    return mask, q


# ----------------------------------------------------------------------------- graph helpers
class _UnionFind:
    def __init__(self) -> None:
        self.parent: dict = {}

    def find(self, a):
        p = self.parent.setdefault(a, a)
        if p != a:
            p = self.parent[a] = self.find(p)
        return p

    def union(self, a, b) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return False
        self.parent[ra] = rb
        return True


def _polyline_length(xy: np.ndarray) -> float:
    return float(np.hypot(*np.diff(xy, axis=0).T).sum()) if len(xy) > 1 else 0.0


def _end_direction(xy: np.ndarray, end: int, reach: float = 12.0, skip: float = 3.0) -> np.ndarray:
    """Unit vector pointing out of the polyline at ``end`` (0 = first point, 1 = last).

    Measured between the points ``skip`` and ``reach`` cells back from the end
    (at most a quarter and half of the line), because skeleton branches bend
    in the last cells before a junction.
    """
    pts = xy[::-1] if end == 1 else xy  # pts[0] is the end
    if len(pts) < 2:
        return np.zeros(2)
    seg = np.hypot(*np.diff(pts, axis=0).T)
    along = np.concatenate([[0.0], np.cumsum(seg)])
    total = along[-1]
    s_near, s_far = min(skip, total / 4.0), min(reach, max(total / 2.0, 1.0))
    near = np.array([np.interp(s_near, along, pts[:, k]) for k in (0, 1)])
    far = np.array([np.interp(s_far, along, pts[:, k]) for k in (0, 1)])
    v = near - far
    n = np.hypot(*v)
    return v / n if n > 0 else np.zeros(2)


def _angle_deg(u: np.ndarray, v: np.ndarray) -> float:
    c = float(np.clip(np.dot(u, v), -1.0, 1.0))
    return math.degrees(math.acos(c))


def _assemble(pieces: list, links: dict) -> list:
    """Chain pieces through ``links`` {(piece, end): (piece, end)}.

    Returns a list of ``(xy, first_end, last_end)`` with ``xy`` the joined
    polyline and the ends the ``(piece, end)`` keys of its two free ends.
    """
    seen: set = set()
    out = []

    def walk(start):
        chain, cur = [], start
        while True:
            i, entry = cur
            seen.add(i)
            xy = pieces[i] if entry == 0 else pieces[i][::-1]
            chain.append(xy)
            exit_key = (i, 1 - entry)
            nxt = links.get(exit_key)
            if nxt is None or nxt[0] in seen:
                break
            cur = nxt
        parts = [chain[0]]
        for xy in chain[1:]:
            if np.array_equal(parts[-1][-1], xy[0]):
                xy = xy[1:]
            if len(xy):
                parts.append(xy)
        return np.concatenate(parts), start, exit_key

    for i in range(len(pieces)):
        if i in seen:
            continue
        if (i, 0) not in links:
            out.append(walk((i, 0)))
        elif (i, 1) not in links:
            out.append(walk((i, 1)))
    for i in range(len(pieces)):  # closed loops
        if i not in seen:
            out.append(walk((i, 0)))
    return out


def _skeleton_pieces(skel: np.ndarray, prog: Progress):
    """Branches of a skeleton as (rows, cols) polylines and their end node ids (skan)."""
    import skan

    if not skel.any():
        return [], []
    sk = skan.Skeleton(skel, keep_images=False)
    indptr, indices = sk.paths.indptr, sk.paths.indices
    coords = np.asarray(sk.coordinates, dtype=np.float64)
    pieces, ends = [], []
    for i in range(sk.n_paths):
        ids = indices[indptr[i]:indptr[i + 1]]
        pieces.append(coords[ids])
        ends.append((int(ids[0]), int(ids[-1])))
        if i % 5000 == 0:
            prog.update(i / max(sk.n_paths, 1))
    return pieces, ends


def _clean_graph(pieces: list, ends: list, params: VectorizeParams) -> tuple[list, list]:
    """Merge junction clusters and prune short spurs; returns pieces and their end nodes."""
    lengths = [_polyline_length(p) for p in pieces]
    # adjacent junction pixels, and two lines a few cells wide crossing at an
    # angle, make short junction-to-junction branches: contract them into one
    # junction, where the collinear join pairs the branches
    bridge = max(2.5, float(params.spur_length_cells), float(params.max_gap_cells))
    deg: dict = defaultdict(int)
    for a, b in ends:
        deg[a] += 1
        deg[b] += 1
    uf = _UnionFind()
    keep = []
    for i, (a, b) in enumerate(ends):
        if a != b and deg[a] >= 3 and deg[b] >= 3 and lengths[i] <= bridge:
            uf.union(a, b)
        else:
            keep.append(i)
    pieces = [pieces[i] for i in keep]
    lengths = [lengths[i] for i in keep]
    ends = [(uf.find(a), uf.find(b)) for a, b in (ends[i] for i in keep)]

    for _ in range(2):  # pruning can expose a new spur once
        deg = defaultdict(int)
        for a, b in ends:
            deg[a] += 1
            deg[b] += 1
        drop = set()
        for i, (a, b) in enumerate(ends):
            terminal = (deg[a] == 1 and deg[b] >= 3) or (deg[b] == 1 and deg[a] >= 3)
            if terminal and lengths[i] < params.spur_length_cells:
                drop.add(i)
        if not drop:
            break
        pieces = [p for i, p in enumerate(pieces) if i not in drop]
        lengths = [x for i, x in enumerate(lengths) if i not in drop]
        ends = [e for i, e in enumerate(ends) if i not in drop]
        # chain through nodes left with two branches, so spurs are judged on whole branches
        pieces, ends = _chain_degree_two(pieces, ends)
        lengths = [_polyline_length(p) for p in pieces]
    return pieces, ends


def _chain_degree_two(pieces: list, ends: list) -> tuple[list, list]:
    at: dict = defaultdict(list)
    for i, (a, b) in enumerate(ends):
        at[a].append((i, 0))
        at[b].append((i, 1))
    links = {}
    for node, lst in at.items():
        if len(lst) == 2 and lst[0][0] != lst[1][0]:
            links[lst[0]] = lst[1]
            links[lst[1]] = lst[0]
    node_of = {(i, e): ends[i][e] for i in range(len(ends)) for e in (0, 1)}
    chains = _assemble(pieces, links)
    return [c[0] for c in chains], [(node_of[c[1]], node_of[c[2]]) for c in chains]


def _join_collinear(pieces: list, ends: list, q: np.ndarray, params: VectorizeParams, prog: Progress) -> list:
    """Join pieces whose ends meet (at a junction or across a small gap) in a straight line."""
    from scipy.spatial import cKDTree

    n = len(pieces)
    if n == 0:
        return []
    keys = [(i, e) for i in range(n) for e in (0, 1)]
    pos = np.array([pieces[i][0] if e == 0 else pieces[i][-1] for i, e in keys])
    dirs = np.array([_end_direction(pieces[i], e) for i, e in keys])
    node = np.array([ends[i][e] for i, e in keys])
    max_angle = float(params.max_join_angle_deg)
    cands = []
    tree = cKDTree(pos)
    pairs = tree.query_pairs(max(float(params.max_gap_cells), 1.5), output_type="ndarray")
    at: dict = defaultdict(list)
    for k, nd in enumerate(node):
        at[nd].append(k)
    extra = [(a, b) for lst in at.values() for ia, a in enumerate(lst) for b in lst[ia + 1:]]
    if extra:
        pairs = np.concatenate([pairs.reshape(-1, 2), np.array(extra)])
    H, W = q.shape
    for a, b in np.unique(np.sort(pairs, axis=1), axis=0) if len(pairs) else []:
        if keys[a][0] == keys[b][0]:
            continue
        turn = _angle_deg(dirs[a], -dirs[b])
        if turn > max_angle:
            continue
        gap = pos[b] - pos[a]
        dist = float(np.hypot(*gap))
        if node[a] != node[b] and dist > 2.0:
            g = gap / dist
            if _angle_deg(dirs[a], g) > max_angle or _angle_deg(-dirs[b], g) > max_angle:
                continue
            t = np.linspace(0.0, 1.0, int(math.ceil(dist)) + 1)
            rc = np.rint(pos[a] + t[:, None] * gap).astype(int)
            rc[:, 0] = np.clip(rc[:, 0], 0, H - 1)
            rc[:, 1] = np.clip(rc[:, 1], 0, W - 1)
            if np.any(q[rc[:, 0], rc[:, 1]] == _NAN_CODE):
                continue  # never bridge nodata
        cands.append((turn + 2.0 * (0.0 if node[a] == node[b] else dist), a, b))
    cands.sort()
    uf = _UnionFind()
    links = {}
    for _, a, b in cands:
        ka, kb = keys[a], keys[b]
        if ka in links or kb in links or not uf.union(ka[0], kb[0]):
            continue
        links[ka] = kb
        links[kb] = ka
    prog.update(1.0)
    return [c[0] for c in _assemble(pieces, links)]


# ----------------------------------------------------------------------------- measuring
def _extend_ends(lines: list, q, params: VectorizeParams) -> list:
    """Grow each end of each line straight on over the cells still above the threshold.

    The skeleton of a band of cells stops about half the band's width short
    of the band's end, and pruning the spurs of a blunt end takes up to
    ``spur_length_cells`` more; the line is extended along its end direction
    in half-cell steps while the cells stay above the threshold, by at most
    ``spur_length_cells``. ``q`` is the quantised map (any object indexed
    ``q[rows, cols]`` with a ``shape``).
    """
    reach = float(params.spur_length_cells)
    if reach <= 0 or not lines:
        return lines
    H, W = q.shape
    t = np.arange(0.5, reach + 1e-9, 0.5)
    code = int(np.floor(float(params.threshold) * 254.0))  # cells above the threshold have codes above this
    out = []
    for xy in lines:
        if len(xy) < 2 or _polyline_length(xy) < 2.0:
            out.append(xy)
            continue
        new = [xy]
        for end in (0, 1):
            tip = xy[0] if end == 0 else xy[-1]
            d = _end_direction(xy, end)
            if not d.any():
                continue
            pts = tip + t[:, None] * d
            inside = (pts[:, 0] >= 0) & (pts[:, 0] <= H - 1) & (pts[:, 1] >= 0) & (pts[:, 1] <= W - 1)
            n_in = len(inside) if inside.all() else int(np.argmin(inside))  # a ray leaves the grid once
            rc = np.rint(pts[:n_in]).astype(int)
            v = np.asarray(q[rc[:, 0], rc[:, 1]]) if n_in else np.zeros(0, np.uint8)
            run = (v > code) & (v != _NAN_CODE)
            stop = len(run) if run.all() else int(np.argmin(run))  # steps before the first cell below it
            if stop >= 2:  # at least one cell
                new.insert(0 if end == 0 else len(new), pts[stop - 1][None, :])
        out.append(np.concatenate(new) if len(new) > 1 else xy)
    return out


def _axial_azimuth(x: np.ndarray, y: np.ndarray) -> float:
    """Length-weighted mean strike (0-180 degrees clockwise from +y) of a polyline."""
    dx, dy = np.diff(x), np.diff(y)
    seg = np.hypot(dx, dy)
    theta = np.arctan2(dx, dy)  # clockwise from north
    c, s = np.sum(seg * np.cos(2 * theta)), np.sum(seg * np.sin(2 * theta))
    return float(np.degrees(np.arctan2(s, c) / 2.0) % 180.0)


def _lines_to_frame(lines_rc: list, q: np.ndarray, info, params: VectorizeParams):
    import geopandas as gpd
    import shapely

    t = info.transform
    keep = [xy for xy in lines_rc if _polyline_length(xy) >= params.min_length_cells and len(xy) >= 2]
    if not keep:
        return _empty_frame(info.crs)
    # pixel space as (x = col, y = row) so shapely lengths are in cells
    pix = shapely.linestrings(np.concatenate([xy[:, ::-1] for xy in keep]),
                              indices=np.repeat(np.arange(len(keep)), [len(xy) for xy in keep]))
    if params.simplify_cells > 0:
        pix = shapely.simplify(pix, params.simplify_cells, preserve_topology=False)
    # probability along each line, one sample per cell of length
    plen = shapely.length(pix)
    counts = np.maximum(np.ceil(plen).astype(int) + 1, 2)
    dist = np.concatenate([np.linspace(0.0, L, c) for L, c in zip(plen, counts)])
    pts = shapely.get_coordinates(shapely.line_interpolate_point(np.repeat(pix, counts), dist))
    cc = np.clip(np.rint(pts[:, 0]).astype(int), 0, q.shape[1] - 1)
    rr = np.clip(np.rint(pts[:, 1]).astype(int), 0, q.shape[0] - 1)
    code = q[rr, cc].astype(np.float64)
    code[code == _NAN_CODE] = np.nan
    prob = code / 254.0
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    with np.errstate(invalid="ignore"):
        sums = np.add.reduceat(np.nan_to_num(prob), starts)
        nval = np.add.reduceat(np.isfinite(prob).astype(float), starts)
        mean_prob = np.where(nval > 0, sums / np.maximum(nval, 1), np.nan)
        max_prob = np.fmax.reduceat(prob, starts)
    # cell centres to map coordinates
    a, b, c, d, e, f = t.a, t.b, t.c, t.d, t.e, t.f

    def to_map(xy):
        col, row = xy[:, 0] + 0.5, xy[:, 1] + 0.5
        return np.column_stack([a * col + b * row + c, d * col + e * row + f])

    geoms = shapely.transform(pix, to_map)
    lengths = shapely.length(geoms)
    ends = [shapely.get_coordinates(g)[[0, -1]] for g in geoms]
    straight = np.array([float(np.hypot(*(e[1] - e[0]))) for e in ends]) / np.maximum(lengths, 1e-12)
    keep = np.ones(len(geoms), bool)
    with np.errstate(invalid="ignore"):
        if params.min_mean_prob > 0:
            keep &= np.nan_to_num(mean_prob, nan=0.0) >= params.min_mean_prob
        if params.min_straightness > 0:
            keep &= straight >= params.min_straightness
    if not keep.all():
        geoms, mean_prob, max_prob, straight = geoms[keep], mean_prob[keep], max_prob[keep], straight[keep]
        if len(geoms) == 0:
            return _empty_frame(info.crs)
    north_sign = 1.0 if info.georeferenced else -1.0  # pixel space: north is up, rows grow down
    az = []
    for g in geoms:
        xy = shapely.get_coordinates(g)
        az.append(_axial_azimuth(xy[:, 0], north_sign * xy[:, 1]))
    lengths = shapely.length(geoms)
    order = np.argsort(-lengths, kind="stable")
    frame = gpd.GeoDataFrame(
        {
            "id": np.arange(1, len(order) + 1, dtype=np.int64),
            "length": lengths[order].astype(np.float64),
            "azimuth": np.asarray(az)[order],
            "mean_prob": mean_prob[order],
            "max_prob": max_prob[order],
            "straight": np.clip(straight[order], 0.0, 1.0),
        },
        geometry=np.asarray(geoms)[order],
        crs=info.crs,
    )
    return frame


def _empty_frame(crs):
    import geopandas as gpd
    import pandas as pd

    cols = {"id": pd.Series([], dtype="int64")}
    cols.update({k: pd.Series([], dtype="float64") for k in LINE_FIELDS[1:]})
    return gpd.GeoDataFrame(cols, geometry=gpd.GeoSeries([], crs=crs), crs=crs)


def vectorize_probability(
    prob_path: str | os.PathLike,
    *,
    params: VectorizeParams = VectorizeParams(),
    band: int = 1,
    progress=None,
    cancel=None,
):
    """Turn a lineament probability raster into vector axes.

    Parameters
    ----------
    prob_path : path
        Probability raster, values in 0..1, NaN (or nodata) where unknown.
    params : VectorizeParams
        Threshold, lengths in cells and the filters of weak or crooked lines.
    band : int
        Band of ``prob_path`` to use (1-based).
    progress, cancel : callables or Progress

    Returns
    -------
    geopandas.GeoDataFrame
        One LineString per lineament in the raster's CRS (through cell
        centres), sorted longest first, with ``id``; ``length`` in map units;
        ``azimuth``, the length-weighted strike in degrees 0-180 clockwise from
        grid north (for a raster without georeferencing, from the top of the
        image); ``mean_prob`` and ``max_prob`` sampled once a cell along the
        line (probabilities quantised to 1/254); ``straight``, the distance
        between the end points over the length (1 for a straight line).
    """
    from skimage.morphology import skeletonize

    params.check()
    prog = Progress.wrap(progress, cancel)
    info = open_raster_checked(prob_path, band, check_valid=False, what="probability raster")
    params = params.for_raster(info.path)
    mask, q = _read_thresholded(info.path, info.band, float(params.threshold), prog.sub(0.0, 0.15))
    prog.check()
    skel = skeletonize(mask)
    del mask
    prog.update(0.5)
    pieces, ends = _skeleton_pieces(skel, prog.sub(0.5, 0.7))
    del skel
    prog.check()
    pieces, ends = _clean_graph(pieces, ends, params)
    prog.update(0.75)
    lines = _extend_ends(_join_collinear(pieces, ends, q, params, prog.sub(0.75, 0.85)), q, params)
    prog.check()
    frame = _lines_to_frame(lines, q, info, params)
    prog.update(1.0)
    return frame


# ----------------------------------------------------------------------------- writers
def write_lines(gdf, path: str | os.PathLike) -> Path:
    """Write lines in the OGR format named by the extension (.gpkg, .shp, .geojson, ...).

    Written atomically; an empty result still gives a valid, empty line layer
    with the fields and the CRS (:func:`geocore.files.write_vector`).
    """
    return write_vector(gdf, path, geometry_type="LineString")


# the map products of the axes moved to .products; their names stay importable from here
from .products import density_raster, length_unit as _length_unit, preview_png, rose_diagram  # noqa: E402,F401
