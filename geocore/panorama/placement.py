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
    #: ``(n, 2, 3)`` affine maps tile pixel ``(v, u, 1)`` -> panorama ``(y, x)`` (affine model), else None
    transforms: Optional[np.ndarray] = None

    @property
    def n_components(self) -> int:
        return int(self.component.max()) + 1 if len(self.component) else 0


def _components(n: int, pairs: Sequence[PairResult]) -> np.ndarray:
    parent = list(range(n))  # union-find

    def root(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for p in pairs:
        ra, rb = root(p.a), root(p.b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    roots = [root(i) for i in range(n)]
    _, labels = np.unique(roots, return_inverse=True)
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


def refine_affine(placement: Placement, pairs: Sequence[PairResult], shape, *, regularisation: float = 0.01,
                  shear_weight: float = 1.0) -> Placement:
    """Per-tile affine maps from the local correspondences of the used pairs.

    Unknowns per tile: the 2 x 2 linear part ``L`` and the image of the tile's
    centre ``t`` (pixels), so that ``p_pano = L (p - c) + t``. Each
    correspondence ``(p_a, p_b)`` gives ``L_a (p_a - c) + t_a = L_b (p_b - c) + t_b``
    (weight: the pair's score). The first tile of each group keeps ``L = I``
    and its translation-model position (gauge); every ``L`` is pulled weakly
    towards the identity (``regularisation`` x half the tile size, px per unit
    of ``L - I``), which only decides what the overlaps leave open (e.g. the
    scale along a single row of tiles), and its non-similarity part (shear,
    unequal scales: ``L00 - L11`` and ``L01 + L10``) is pulled to 0 with
    ``shear_weight``: strip-shaped overlaps constrain only one column of ``L``
    each, so without it a rotation between rows of tiles could turn into a
    shear. Disconnected groups keep their translation.

    Returns a new Placement with ``transforms`` set, ``positions`` = image of
    the top-left pixel, and pair residuals (RMS over each pair's points, px).
    """
    n = len(placement.positions)
    h, w = shape
    centre = np.array([(h - 1) / 2.0, (w - 1) / 2.0])
    t0 = placement.positions + centre  # translation model: image of each tile's centre
    used = [p for p in pairs if p.used and p.extra.get("points")]
    transforms = np.zeros((n, 2, 3))
    transforms[:, 0, 0] = transforms[:, 1, 1] = 1.0
    transforms[:, :, 2] = placement.positions
    for c in np.unique(placement.component):
        nodes = [int(i) for i in np.flatnonzero(placement.component == c)]
        if len(nodes) < 2:
            continue
        index = {t: k for k, t in enumerate(nodes)}
        rows, rhs = [], []

        def var(tile, name):  # column of L00, L01, L10, L11, ty, tx of a tile
            return 6 * index[tile] + ("L00", "L01", "L10", "L11", "ty", "tx").index(name)

        m = 6 * len(nodes)
        for p in used:
            if p.a not in index:
                continue
            wgt = max(p.score, 1e-3)
            for ya, xa, yb, xb in p.extra["points"]:
                qa, qb = np.array([ya, xa]) - centre, np.array([yb, xb]) - centre
                for comp in (0, 1):
                    row = np.zeros(m)
                    row[var(p.a, f"L{comp}0")] = wgt * qa[0]
                    row[var(p.a, f"L{comp}1")] = wgt * qa[1]
                    row[var(p.a, "ty" if comp == 0 else "tx")] = wgt
                    row[var(p.b, f"L{comp}0")] -= wgt * qb[0]
                    row[var(p.b, f"L{comp}1")] -= wgt * qb[1]
                    row[var(p.b, "ty" if comp == 0 else "tx")] -= wgt
                    rows.append(row)
                    rhs.append(0.0)
        radius = max(h, w) / 2.0
        for tile in nodes:
            # weak pull of L towards I; firmer pull of its non-similarity part (shear, unequal scale) to 0
            for name, target in (("L00", 1.0), ("L01", 0.0), ("L10", 0.0), ("L11", 1.0)):
                row = np.zeros(m)
                row[var(tile, name)] = regularisation * radius
                rows.append(row)
                rhs.append(regularisation * radius * target)
            for (n1, n2), sign in ((("L00", "L11"), -1.0), (("L01", "L10"), 1.0)):
                row = np.zeros(m)
                row[var(tile, n1)] = shear_weight * radius
                row[var(tile, n2)] = sign * shear_weight * radius
                rows.append(row)
                rhs.append(0.0)
        gauge = nodes[0]
        big = 1e6
        for name, target in (("L00", 1.0), ("L01", 0.0), ("L10", 0.0), ("L11", 1.0),
                             ("ty", t0[gauge, 0]), ("tx", t0[gauge, 1])):
            row = np.zeros(m)
            row[var(gauge, name)] = big
            rows.append(row)
            rhs.append(big * target)
        sol, *_ = np.linalg.lstsq(np.array(rows), np.array(rhs), rcond=None)
        for tile in nodes:
            k = 6 * index[tile]
            lin = sol[k:k + 4].reshape(2, 2)
            t = sol[k + 4:k + 6]
            transforms[tile, :, :2] = lin
            transforms[tile, :, 2] = t - lin @ centre
    residuals = []
    for p in used:
        pts = np.array(p.extra["points"])
        ha = np.c_[pts[:, :2], np.ones(len(pts))] @ transforms[p.a].T
        hb = np.c_[pts[:, 2:], np.ones(len(pts))] @ transforms[p.b].T
        p.residual = float(np.sqrt(np.mean(np.sum((ha - hb) ** 2, axis=1))))
        residuals.append(p.residual)
    rms = float(np.sqrt(np.mean(np.square(residuals)))) if residuals else placement.rms
    return Placement(positions=transforms[:, :, 2].copy(), component=placement.component,
                     placed_by=placement.placed_by, rms=rms, removed=placement.removed, notes=list(placement.notes),
                     transforms=transforms)
