"""Global placement of tiles from pairwise shifts.

Every used pair ``(a, b)`` says ``p_b - p_a = d_ab`` (positions of top-left
pixels, ``(y, x)``, pixels). The positions are the weighted least-squares
solution (weights: the pair's score squared) with one tile per connected group
fixed; then the pair with the largest residual is dropped while it exceeds the
outlier threshold and is not the only link holding a tile (a bridge), and the
system is solved again. One wrong pair therefore cannot bend the mosaic as long
as the other pairs close a loop around it.

Groups of tiles without any used pair between them (disconnected components)
are reported. For a grid or stage layout they are placed where the layout puts
them (grid step measured from the used pairs, or the stage positions) and
flagged; an unordered set cannot place them, which is an error.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import List, Optional, Sequence

import numpy as np

from ..errors import GeocoreError
from .register import PairResult


@dataclass
class Placement:
    """Tile positions and how they were found.

    Attributes
    ----------
    positions : ndarray, ``(n, 2)``
        ``(y, x)`` of each tile's top-left pixel in panorama pixels (the
        smallest is 0, 0 before the bounding box is computed by the caller).
    component : ndarray of int, ``(n,)``
        Connected group of each tile (0 = the largest).
    placed_by : list of str
        ``"registration"`` or ``"layout"`` (a disconnected group placed by the
        grid/stage layout).
    rms : float
        Root-mean-square residual of the used pairs, px.
    removed : int
        Pairs removed as outliers.
    """

    positions: np.ndarray
    component: np.ndarray
    placed_by: List[str]
    rms: float
    removed: int
    notes: List[str] = field(default_factory=list)

    @property
    def n_components(self) -> int:
        return int(self.component.max()) + 1 if len(self.component) else 0


def _components(n: int, pairs: Sequence[PairResult]) -> np.ndarray:
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    if pairs:
        rows = [p.a for p in pairs]
        cols = [p.b for p in pairs]
        graph = coo_matrix((np.ones(len(pairs)), (rows, cols)), shape=(n, n))
    else:
        graph = coo_matrix((n, n))
    _, labels = connected_components(graph, directed=False)
    # relabel: 0 = largest group, ties by the lowest tile index
    sizes = np.bincount(labels)
    order = sorted(range(len(sizes)), key=lambda k: (-sizes[k], int(np.flatnonzero(labels == k)[0])))
    remap = np.empty(len(sizes), dtype=int)
    remap[order] = np.arange(len(sizes))
    return remap[labels]


def solve_translations(n: int, pairs: Sequence[PairResult], component: np.ndarray,
                       robust: Optional[np.ndarray] = None) -> np.ndarray:
    """Weighted least-squares positions; the first tile of each group is at (0, 0).

    Weights are the pairs' scores squared, times ``robust`` (one factor per pair) when given.
    """
    factor = {id(p): (1.0 if robust is None else float(r)) for p, r in zip(pairs, robust if robust is not None
                                                                             else [1.0] * len(pairs))}
    pos = np.zeros((n, 2))
    for c in np.unique(component):
        nodes = np.flatnonzero(component == c)
        if len(nodes) == 1:
            continue
        index = {int(t): k for k, t in enumerate(nodes)}
        sub = [p for p in pairs if p.a in index]
        m = len(sub)
        a = np.zeros((m + 1, len(nodes)))
        rhs = np.zeros((m + 1, 2))
        for r, p in enumerate(sub):
            w = max(p.score, 1e-3) * np.sqrt(factor[id(p)])
            a[r, index[p.a]] = -w
            a[r, index[p.b]] = w
            rhs[r] = (w * p.dy, w * p.dx)
        a[m, 0] = 1.0  # gauge: first tile of the group at the origin
        sol, *_ = np.linalg.lstsq(a, rhs, rcond=None)
        pos[nodes] = sol
    return pos


def _is_bridge(n: int, pairs: Sequence[PairResult], k: int) -> bool:
    rest = [p for i, p in enumerate(pairs) if i != k]
    return _components(n, rest).max() > _components(n, pairs).max()


def place_tiles(n: int, results: Sequence[PairResult], *, layout: str = "unordered",
                grid_rc: Optional[Sequence] = None, stage_yx: Optional[np.ndarray] = None,
                outlier_px: float = 2.0, names: Optional[Sequence[str]] = None) -> Placement:
    """Positions of ``n`` tiles from the measured pairs.

    Parameters
    ----------
    n : int
        Number of tiles.
    results : sequence of PairResult
        All measured pairs; only those with ``used`` take part. Outliers get
        ``used = False`` and a reason; every used pair gets its ``residual``.
    layout : {"grid", "stage", "unordered"}
    grid_rc : sequence of (row, col), optional
        For ``layout="grid"``.
    stage_yx : ndarray ``(n, 2)``, optional
        For ``layout="stage"``: approximate positions, px.
    outlier_px : float
        A pair whose residual from a robust (Cauchy-weighted) solution exceeds
        ``outlier_px`` is removed (largest first, one at a time, never a bridge).
    names : sequence of str, optional
        Tile names for messages.

    Raises
    ------
    GeocoreError
        When no pair overlaps at all, or when an unordered set falls apart.
    """
    names = list(names) if names is not None else [str(i) for i in range(n)]
    used = [p for p in results if p.used]
    if not used:
        msg = ("no two tiles overlap (no pair matched); check that the tiles come from one section with "
               "overlap, or lower the minimum score")
        raise GeocoreError(msg)
    removed = 0
    while True:
        component = _components(n, used)
        pos, res = _robust_solve(n, used, component, outlier_px)
        candidates = [k for k in np.argsort(res)[::-1] if res[k] > outlier_px]
        dropped = False
        for k in candidates:
            if not _is_bridge(n, used, k):
                used[k].used = False
                used[k].reason = f"outlier: {res[k]:.1f} px from the global solution"
                used.pop(k)
                removed += 1
                dropped = True
                break
        if not dropped:
            break
    # final positions: plain weighted least squares over the pairs that survived
    pos = solve_translations(n, used, component)
    res = _residuals(pos, used)
    for p, r in zip(used, res):
        p.residual = float(r)
    for p in results:
        if not p.used and np.isfinite(p.dy):
            p.residual = float(np.hypot(pos[p.b, 0] - pos[p.a, 0] - p.dy, pos[p.b, 1] - pos[p.a, 1] - p.dx)) \
                if component[p.a] == component[p.b] else float("nan")
    rms = float(np.sqrt(np.mean(res ** 2))) if len(res) else 0.0

    placed_by = ["registration"] * n
    notes = []
    n_comp = int(component.max()) + 1
    if n_comp > 1:
        groups = [[names[i] for i in np.flatnonzero(component == c)] for c in range(1, n_comp)]
        listing = "; ".join(", ".join(g) for g in groups)
        if layout == "unordered":
            msg = (f"{n_comp - 1} group(s) of tiles overlap no other tile and cannot be placed: {listing}; "
                   "remove them, give row/column names or a stage-positions CSV, or lower the minimum score")
            raise GeocoreError(msg)
        nominal = _nominal_positions(n, used, layout, grid_rc, stage_yx)
        for c in range(1, n_comp):
            nodes = np.flatnonzero(component == c)
            ref = np.flatnonzero(component == 0)
            # align the group's nominal layout to the registered main group
            shift_main = np.mean(pos[ref] - nominal[ref], axis=0)
            shift_c = np.mean(nominal[nodes] - pos[nodes], axis=0)
            pos[nodes] = pos[nodes] + shift_c + shift_main
            for i in nodes:
                placed_by[i] = "layout"
        notes.append(f"disconnected: {listing} placed by the {layout} layout, not by registration")
    return Placement(positions=pos, component=component, placed_by=placed_by, rms=rms, removed=removed,
                     notes=notes)


def _residuals(pos: np.ndarray, pairs: Sequence[PairResult]) -> np.ndarray:
    return np.array([np.hypot(pos[p.b, 0] - pos[p.a, 0] - p.dy, pos[p.b, 1] - pos[p.a, 1] - p.dx) for p in pairs])


def _robust_solve(n, pairs, component, scale: float, iterations: int = 20):
    """Iteratively reweighted least squares with Cauchy weights ``1 / (1 + (r / scale)^2)``: a gross
    error gets almost no weight, so the residuals point at it rather than spreading it around its loops."""
    robust = np.ones(len(pairs))
    for _ in range(iterations):
        pos = solve_translations(n, pairs, component, robust)
        res = _residuals(pos, pairs)
        new = 1.0 / (1.0 + (res / scale) ** 2)
        if np.allclose(new, robust, atol=1e-4):
            break
        robust = new
    return pos, res


def _nominal_positions(n, used, layout, grid_rc, stage_yx) -> np.ndarray:
    if layout == "stage" and stage_yx is not None:
        return np.asarray(stage_yx, dtype=float)
    if layout == "grid" and grid_rc is not None:
        right = [(p.dy, p.dx) for p in used if p.kind == "right"]
        down = [(p.dy, p.dx) for p in used if p.kind == "down"]
        if not right or not down:
            msg = ("tiles fall into groups that do not overlap and the grid step cannot be measured in both "
                   "directions; check the tiles or give a stage-positions CSV")
            raise GeocoreError(msg)
        step_r, step_d = np.median(right, axis=0), np.median(down, axis=0)
        rc = np.asarray(grid_rc, dtype=float)
        return rc[:, :1] * step_d + rc[:, 1:2] * step_r
    msg = "disconnected tiles cannot be placed without a grid or stage layout"
    raise GeocoreError(msg)
