"""Quantitative comparison of detected lineaments with an expert interpretation.

Scores are *length based*: every line is cut into short pieces; a piece of an
expert line is *recalled* when a detected line passes within the distance
tolerance (and, optionally, runs within the strike tolerance), and a piece of
a detected line is *precise* when an expert line passes within the tolerance.

* recall = recalled expert length / expert length
* precision = precise detected length / detected length
* F1 = 2 P R / (P + R)

Chance baselines keep the detected lines (the same detection density) and
move the expert lines where they cannot be right: sideways by a few
kilometres (perpendicular to each line's strike, both ways, averaged) and
rotated 90 degrees about their centres, clipped to the study area. The *lift*
is the real F1 divided by the baseline's: well above 1 means the agreement
beats chance.

Lengths are in metres: both layers are reprojected to one projected CRS (the
grid's when one is given).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import numpy as np

from ..errors import GeocoreError
from ..files import atomic_output, check_not_input, prepare_out_dir, read_vector
from ..progress import Progress

#: Default sideways shift of the chance baseline, metres.
DEFAULT_SHIFT = 3000.0


@dataclass
class CompareParams:
    """Options of the comparison, shared by the CLI, QGIS and the tests.

    Attributes
    ----------
    tolerance : float
        Distance tolerance in metres: a line within it counts as a match.
    strike_tolerance : float or None
        Largest strike difference in degrees for a match (None: any strike).
    shift : float or None
        Sideways shift of the chance baseline in metres (None: the larger of
        3 km and four tolerances).
    step : float or None
        Length of the pieces the lines are cut into, metres (None: a quarter
        of the tolerance, between 1 m and 100 m).
    """

    tolerance: float
    strike_tolerance: Optional[float] = None
    shift: Optional[float] = None
    step: Optional[float] = None

    def check(self) -> None:
        if not (self.tolerance is not None and np.isfinite(self.tolerance) and self.tolerance > 0):
            msg = f"the distance tolerance must be positive metres (got {self.tolerance})"
            raise GeocoreError(msg)
        if self.strike_tolerance is not None and not 0 < self.strike_tolerance <= 90:
            msg = f"the strike tolerance must be in (0, 90] degrees (got {self.strike_tolerance})"
            raise GeocoreError(msg)
        if self.shift is not None and not self.shift > 0:
            msg = f"the baseline shift must be positive metres (got {self.shift})"
            raise GeocoreError(msg)

    @property
    def piece_length(self) -> float:
        if self.step is not None:
            return float(self.step)
        return float(min(100.0, max(1.0, self.tolerance / 4.0)))

    @property
    def baseline_shift(self) -> float:
        return float(self.shift) if self.shift is not None else max(DEFAULT_SHIFT, 4.0 * self.tolerance)


@dataclass
class Scores:
    """Length-based agreement of two line sets (lengths in metres)."""

    recall: float
    precision: float
    f1: float
    expert_length: float
    detected_length: float
    recalled_length: float
    precise_length: float

    def as_dict(self) -> dict:
        return dict(recall=self.recall, precision=self.precision, f1=self.f1, expert_length_m=self.expert_length,
                    detected_length_m=self.detected_length, recalled_length_m=self.recalled_length,
                    precise_length_m=self.precise_length)


@dataclass
class CompareResult:
    """Scores, chance baselines and per-line tables of a comparison.

    Attributes
    ----------
    scores : Scores
        Detected against the expert lines.
    baselines : dict of str -> Scores
        ``"shifted"`` and ``"rotated"`` chance baselines.
    expert_table, detected_table : pandas.DataFrame
        One row per line: ``line``, ``length_m``, ``matched_m``, ``matched_fraction``,
        ``best_match`` (the other set's line holding most of the matched length,
        -1 for none), ``mean_distance_m`` and ``angle_diff_deg`` (strike difference
        with that line, degrees); the expert table of a comparison over a grid also
        ``anomaly_contrast`` (:func:`add_anomaly_contrast`).
    crs : CRS
        The projected CRS the lengths were measured in.
    expert, detected : GeoDataFrame
        The lines in ``crs``.
    params : CompareParams
    paths : dict of str -> Path
        Files written (by :func:`compare_to_folder`).
    """

    scores: Scores
    baselines: dict
    expert_table: object
    detected_table: object
    crs: object
    expert: object
    detected: object
    params: CompareParams
    shift: float = 0.0
    paths: dict = field(default_factory=dict)

    def lift(self, name: str) -> float:
        """Real F1 over the baseline's F1 (inf when the baseline scores 0)."""
        base = self.baselines[name].f1
        return float(self.scores.f1 / base) if base > 0 else (float("inf") if self.scores.f1 > 0 else float("nan"))

    def recall_with_anomaly(self) -> float:
        """Recall on the expert lines of ``anomaly_contrast`` >= :data:`geocore.lineaments.profiles.ANOMALOUS`.

        NaN before :func:`add_anomaly_contrast` or when no expert line has an anomaly of its own.
        """
        from .profiles import ANOMALOUS

        t = self.expert_table
        if "anomaly_contrast" not in t.columns:
            return float("nan")
        seen = t["anomaly_contrast"].to_numpy(dtype=float) >= ANOMALOUS
        total = float(t["length_m"].to_numpy()[seen].sum())
        return float(t["matched_m"].to_numpy()[seen].sum()) / total if total > 0 else float("nan")

    def scores_table(self):
        """One row per comparison (real, shifted, rotated) with recall, precision, F1 and lift."""
        import pandas as pd

        rows = [dict(comparison="detected vs expert", **self.scores.as_dict(), lift_f1=float("nan"))]
        for name, label in (("shifted", f"chance: expert shifted {self.shift / 1000:g} km sideways"),
                            ("rotated", "chance: expert rotated 90 degrees")):
            rows.append(dict(comparison=label, **self.baselines[name].as_dict(), lift_f1=self.lift(name)))
        return pd.DataFrame(rows)

    def summary(self) -> str:
        s = self.scores
        lines = [f"tolerance {self.params.tolerance:g} m"
                 + (f", strike tolerance {self.params.strike_tolerance:g} deg" if self.params.strike_tolerance else "")
                 + f", lengths in {self.crs.to_string()}",
                 f"expert {len(self.expert)} lines, {s.expert_length / 1000:.2f} km; "
                 f"detected {len(self.detected)} lines, {s.detected_length / 1000:.2f} km",
                 f"recall {s.recall:.3f}  precision {s.precision:.3f}  F1 {s.f1:.3f}"]
        for name in ("shifted", "rotated"):
            b = self.baselines[name]
            lines.append(f"chance ({name}): recall {b.recall:.3f}  precision {b.precision:.3f}  F1 {b.f1:.3f}"
                         f"  -> lift {self.lift(name):.2f}")
        if "anomaly_contrast" in self.expert_table.columns:
            from .profiles import ANOMALOUS

            t = self.expert_table
            seen = t["anomaly_contrast"].to_numpy(dtype=float) >= ANOMALOUS
            lines.append(f"expert lines with an anomaly of their own in the grid (contrast >= {ANOMALOUS:g}): "
                         f"{int(seen.sum())} of {len(t)}, {t['length_m'][seen].sum() / 1000:.2f} km of "
                         f"{t['length_m'].sum() / 1000:.2f} km; recall on them {self.recall_with_anomaly():.3f}")
        lines += [f"{key}: {path}" for key, path in self.paths.items()]
        return "\n".join(lines)


# ----------------------------------------------------------------------------- reading
def read_lines(path: str | os.PathLike, what: str = "line layer"):
    """Read an OGR vector of lines as a GeoDataFrame of single LineStrings (index: the feature's number)."""
    path = Path(path)
    gdf = read_vector(path, what)
    return prepare_lines(gdf, f"{what} '{path}'")


def prepare_lines(gdf, what: str):
    """Keep line geometries, explode multi-lines, check CRS and emptiness."""
    if gdf.crs is None:
        msg = f"{what} has no CRS; assign one (e.g. in QGIS: Assign projection) so lengths can be measured"
        raise GeocoreError(msg)
    gdf = gdf[gdf.geometry.notna() & ~gdf.geometry.is_empty]
    if len(gdf) == 0:
        msg = f"{what} holds no features; give a layer with lines"
        raise GeocoreError(msg)
    kinds = set(gdf.geometry.geom_type)
    lines = gdf[gdf.geometry.geom_type.isin(["LineString", "MultiLineString"])]
    if len(lines) == 0:
        msg = f"{what} holds {', '.join(sorted(kinds))} geometries, not lines; give a line layer"
        raise GeocoreError(msg)
    lines = lines[lines.geometry.length > 0]  # a zero-length line (one point twice) holds no length to score
    if len(lines) == 0:
        msg = f"{what} holds only lines of zero length; give lines with two distinct vertices or more"
        raise GeocoreError(msg)
    lines = lines.reset_index(drop=True)
    lines["line"] = np.arange(len(lines))
    return lines.explode(index_parts=False).reset_index(drop=True)[["line", "geometry"]]


def _target_crs(grid_crs, *layers):
    from pyproj import CRS

    if grid_crs is not None:
        crs = CRS.from_user_input(grid_crs.to_wkt() if hasattr(grid_crs, "to_wkt") else grid_crs)
        if crs.is_projected:
            return crs
    for gdf in layers:
        if gdf.crs.is_projected:
            return gdf.crs
    utm = layers[0].estimate_utm_crs()
    if utm is None:
        msg = "cannot choose a projected CRS for the lines; reproject them to a projected CRS first"
        raise GeocoreError(msg)
    return utm


def _is_geographic(crs) -> bool:
    from pyproj import CRS

    return crs is not None and CRS.from_wkt(crs.to_wkt()).is_geographic


def _reproject(gdf, crs, what: str):
    out = gdf.to_crs(crs)
    bounds = out.total_bounds
    if not np.all(np.isfinite(bounds)):
        msg = f"{what} cannot be reprojected to {crs.to_string()}; its CRS does not cover that area (check its CRS)"
        raise GeocoreError(msg)
    return out


def _check_overlap(a_bounds, b_bounds, margin: float, what: str) -> None:
    ax0, ay0, ax1, ay1 = a_bounds
    bx0, by0, bx1, by1 = b_bounds
    if ax0 > bx1 + margin or bx0 > ax1 + margin or ay0 > by1 + margin or by0 > ay1 + margin:
        box_a = ", ".join(f"{v:.0f}" for v in a_bounds)
        box_b = ", ".join(f"{v:.0f}" for v in b_bounds)
        msg = (f"{what} do not overlap (after reprojection: [{box_a}] vs [{box_b}]); "
               "one of the layers probably has a wrong CRS")
        raise GeocoreError(msg)


# ----------------------------------------------------------------------------- matching
@dataclass
class _Pieces:
    """Lines cut into short straight pieces."""

    line: np.ndarray  # parent line number
    length: np.ndarray  # metres
    azimuth: np.ndarray  # degrees 0..180
    mid: np.ndarray  # (n, 2)
    geoms: np.ndarray  # shapely LineStrings


def _pieces(gdf, step: float) -> _Pieces:
    import shapely

    dense = shapely.segmentize(np.asarray(gdf.geometry.values), step)
    coords, idx = shapely.get_coordinates(dense, return_index=True)
    same = idx[1:] == idx[:-1]
    a, b = coords[:-1][same], coords[1:][same]
    parent = np.asarray(gdf["line"].values)[idx[:-1][same]]
    d = b - a
    length = np.hypot(d[:, 0], d[:, 1])
    keep = length > 0
    a, b, d, length, parent = a[keep], b[keep], d[keep], length[keep], parent[keep]
    azimuth = np.degrees(np.arctan2(d[:, 0], d[:, 1])) % 180.0
    geoms = shapely.linestrings(np.stack([a, b], axis=1))
    return _Pieces(parent, length, azimuth, (a + b) / 2, geoms)


def _angle_diff(a, b):
    d = np.abs(np.asarray(a) - np.asarray(b)) % 180.0
    return np.minimum(d, 180.0 - d)


def _match(query: _Pieces, target: _Pieces, tolerance: float, strike_tolerance: Optional[float]):
    """For each query piece: matched?, distance and strike difference to the matched target piece, its line."""
    import shapely

    n = len(query.length)
    matched = np.zeros(n, bool)
    dist = np.full(n, np.nan)
    angle = np.full(n, np.nan)
    other = np.full(n, -1)
    if n == 0 or len(target.length) == 0:
        return matched, dist, angle, other
    tree = shapely.STRtree(target.geoms)
    points = shapely.points(query.mid)
    qi, ti = tree.query(points, predicate="dwithin", distance=tolerance)
    if len(qi) == 0:
        return matched, dist, angle, other
    dd = shapely.distance(points[qi], target.geoms[ti])
    aa = _angle_diff(query.azimuth[qi], target.azimuth[ti])
    ok = dd <= tolerance
    if strike_tolerance is not None:
        ok &= aa <= strike_tolerance
    qi, ti, dd, aa = qi[ok], ti[ok], dd[ok], aa[ok]
    order = np.lexsort((dd, qi))  # per query piece, the nearest acceptable target first
    qi, ti, dd, aa = qi[order], ti[order], dd[order], aa[order]
    first = np.ones(len(qi), bool)
    first[1:] = qi[1:] != qi[:-1]
    q = qi[first]
    matched[q] = True
    dist[q] = dd[first]
    angle[q] = aa[first]
    other[q] = target.line[ti[first]]
    return matched, dist, angle, other


def _line_table(gdf, pieces: _Pieces, matched, dist, angle, other, other_pieces: _Pieces):
    import pandas as pd

    n_lines = int(gdf["line"].max()) + 1 if len(gdf) else 0
    length = np.bincount(pieces.line, weights=pieces.length, minlength=n_lines)
    matched_len = np.bincount(pieces.line, weights=pieces.length * matched, minlength=n_lines)
    df = pd.DataFrame(dict(line=pieces.line, other=other, length=pieces.length, dist=dist, angle=angle))
    df = df[df.other >= 0]
    best = df.groupby(["line", "other"]).length.sum().reset_index().sort_values("length", ascending=False)
    best = best.drop_duplicates("line").set_index("line")["other"]
    df["wdist"] = df.dist * df.length
    sums = df.groupby("line")[["wdist", "length"]].sum()
    mean_dist = (sums.wdist / sums.length).to_dict()
    # overall strike of each line, length-weighted (axial mean), against that of its best match
    strikes = _line_strikes(other_pieces)
    own = _line_strikes(pieces)
    rows = []
    for line in range(n_lines):
        b = int(best.get(line, -1))
        rows.append(dict(line=line, length_m=length[line], matched_m=matched_len[line],
                         matched_fraction=matched_len[line] / length[line] if length[line] > 0 else 0.0,
                         best_match=b, mean_distance_m=mean_dist.get(line, np.nan),
                         angle_diff_deg=float(_angle_diff(own.get(line, np.nan), strikes.get(b, np.nan)))
                         if b >= 0 else np.nan))
    return pd.DataFrame(rows)


def _line_strikes(pieces: _Pieces) -> dict:
    """Length-weighted axial mean strike of each line, degrees 0..180."""
    doubled = np.radians(2 * pieces.azimuth)
    c = np.bincount(pieces.line, weights=pieces.length * np.cos(doubled))
    s = np.bincount(pieces.line, weights=pieces.length * np.sin(doubled))
    mean = (np.degrees(np.arctan2(s, c)) / 2) % 180.0
    return {i: mean[i] for i in np.unique(pieces.line)}


def _scores(expert: _Pieces, detected: _Pieces, params: CompareParams):
    e = _match(expert, detected, params.tolerance, params.strike_tolerance)
    d = _match(detected, expert, params.tolerance, params.strike_tolerance)
    el, dl = float(expert.length.sum()), float(detected.length.sum())
    rl, pl = float((expert.length * e[0]).sum()), float((detected.length * d[0]).sum())
    recall = rl / el if el > 0 else 0.0
    precision = pl / dl if dl > 0 else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall > 0 else 0.0
    return Scores(recall, precision, f1, el, dl, rl, pl), e, d


def _average(scores: list) -> Scores:
    vals = {k: float(np.mean([getattr(s, k) for s in scores])) for k in Scores.__dataclass_fields__}
    return Scores(**vals)


def _moved_expert(expert, how: str, shift: float, area):
    """Expert lines shifted sideways (``how`` = +1/-1 times ``shift``) or rotated 90 degrees, clipped to ``area``."""
    import shapely
    from shapely import affinity

    pieces = _pieces(expert, 1e9)
    strikes = _line_strikes(pieces)
    geoms = []
    for line, geom in zip(expert["line"], expert.geometry):
        if how == "rotated":
            moved = affinity.rotate(geom, 90.0, origin="centroid")
        else:
            s = np.radians(strikes.get(line, 0.0))
            sign = 1.0 if how == "right" else -1.0
            moved = affinity.translate(geom, sign * shift * np.cos(s), -sign * shift * np.sin(s))
        geoms.append(moved)
    out = expert.copy()
    out["geometry"] = shapely.intersection(np.asarray(geoms, dtype=object), area)
    out = out[~out.geometry.is_empty]
    out = out[out.geometry.geom_type.isin(["LineString", "MultiLineString"])]
    return out.explode(index_parts=False).reset_index(drop=True)


def compare_lines(detected, expert, params: CompareParams, *, grid_crs=None, grid_bounds=None,
                  progress=None, cancel=None) -> CompareResult:
    """Compare two GeoDataFrames of lines (any CRS).

    Parameters
    ----------
    detected, expert : GeoDataFrame
        Line layers with a CRS (multi-lines are exploded).
    params : CompareParams
    grid_crs : CRS or None
        CRS of the grid the lines were detected on; lengths are measured in it
        when it is projected (else in the first projected layer CRS, else UTM).
    grid_bounds : (west, south, east, north) or None
        Study area in ``grid_crs``: baselines are clipped to it (default: the
        bounding box of both layers).

    Returns
    -------
    CompareResult

    Raises
    ------
    GeocoreError
        Bad tolerances, empty or non-line layers, layers without CRS, layers
        (or the grid) that do not overlap after reprojection.
    """
    import shapely

    params.check()
    prog = Progress.wrap(progress, cancel)
    if "line" not in detected.columns or "line" not in expert.columns:
        detected = prepare_lines(detected, "the detected layer") if "line" not in detected.columns else detected
        expert = prepare_lines(expert, "the expert layer") if "line" not in expert.columns else expert
    crs = _target_crs(grid_crs, detected, expert)
    detected = _reproject(detected, crs, "the detected layer")
    expert = _reproject(expert, crs, "the expert layer")
    _check_overlap(expert.total_bounds, detected.total_bounds, params.tolerance,
                   "the expert and the detected lines")
    if grid_bounds is not None:
        if grid_crs is not None:
            from pyproj import CRS, Transformer

            source = CRS.from_user_input(grid_crs.to_wkt() if hasattr(grid_crs, "to_wkt") else grid_crs)
            if source != crs:  # a grid in degrees: its extent in the CRS of the lengths
                grid_bounds = Transformer.from_crs(source, crs, always_xy=True).transform_bounds(*grid_bounds)
        _check_overlap(expert.total_bounds, grid_bounds, params.tolerance, "the expert lines and the grid")
        area = shapely.box(*grid_bounds)
    else:
        b = np.vstack([expert.total_bounds, detected.total_bounds])
        area = shapely.box(b[:, 0].min(), b[:, 1].min(), b[:, 2].max(), b[:, 3].max())
    prog.update(0.05)
    step = params.piece_length
    ep, dp = _pieces(expert, step), _pieces(detected, step)
    if ep.length.sum() == 0 or dp.length.sum() == 0:
        msg = "one of the layers has lines of zero length only; give real lines"
        raise GeocoreError(msg)
    scores, e, d = _scores(ep, dp, params)
    prog.update(0.4)
    expert_table = _line_table(expert, ep, *e, dp)
    detected_table = _line_table(detected, dp, *d, ep)
    prog.update(0.5)
    shift = params.baseline_shift
    baselines = {}
    sideways = []
    for k, how in enumerate(("right", "left")):
        moved = _moved_expert(expert, how, shift, area)
        sideways.append(_scores(_pieces(moved, step), dp, params)[0] if len(moved) else
                        Scores(0.0, 0.0, 0.0, 0.0, float(dp.length.sum()), 0.0, 0.0))
        prog.update(0.5 + 0.15 * (k + 1))
    baselines["shifted"] = _average(sideways)
    rotated = _moved_expert(expert, "rotated", shift, area)
    baselines["rotated"] = (_scores(_pieces(rotated, step), dp, params)[0] if len(rotated) else
                            Scores(0.0, 0.0, 0.0, 0.0, float(dp.length.sum()), 0.0, 0.0))
    prog.update(1.0)
    return CompareResult(scores=scores, baselines=baselines, expert_table=expert_table,
                         detected_table=detected_table, crs=crs, expert=expert, detected=detected,
                         params=params, shift=shift)


# ----------------------------------------------------------------------------- outputs
def _km_ticks(lo: float, hi: float, most: int = 8) -> np.ndarray:
    """Tick positions (map units, metres) at round kilometres from ``lo``: 0.1, 0.2, 0.5, 1, 2, 5, ... km apart."""
    span = (hi - lo) / 1000.0
    steps = [m * 10.0 ** e for e in range(-1, 5) for m in (1.0, 2.0, 5.0)]
    step = next((s for s in steps if span / s <= most), steps[-1])
    return lo + np.arange(0.0, span + 1e-9, step) * 1000.0


def overlay_png(result: CompareResult, path: str | os.PathLike, grid=None) -> Path:
    """Overlay figure: the grid (grey), expert lines in yellow, detected lines in black."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.lines import Line2D

    fig, ax = plt.subplots(figsize=(8, 8), dpi=120)
    try:
        if grid is not None:
            west, south, east, north = grid.bounds
            lo, hi = np.nanpercentile(grid.data, [2, 98])
            ax.imshow(np.ma.masked_invalid(grid.data), extent=(west, east, south, north), cmap="Greys_r",
                      vmin=lo, vmax=hi, interpolation="nearest")
        else:
            ax.set_facecolor("#8c8c8c")
        for geom in result.expert.geometry:
            x, y = geom.xy
            ax.plot(x, y, color="#ffd400", lw=3.0, solid_capstyle="round")
        for geom in result.detected.geometry:
            x, y = geom.xy
            ax.plot(x, y, color="black", lw=1.2)
        s = result.scores
        ax.set_title(f"recall {s.recall:.2f}, precision {s.precision:.2f}, F1 {s.f1:.2f} "
                     f"(tolerance {result.params.tolerance:g} m); lift {result.lift('shifted'):.1f} (shifted), "
                     f"{result.lift('rotated'):.1f} (rotated)", fontsize=9)
        ax.legend(handles=[Line2D([], [], color="#ffd400", lw=3, label="expert"),
                           Line2D([], [], color="black", lw=1.2, label="detected")], loc="upper right")
        ax.set_aspect("equal")
        # round kilometres from the lower-left corner: plain map coordinates overlap on the axis
        (x0, x1), (y0, y1) = ax.get_xlim(), ax.get_ylim()
        from matplotlib.ticker import FuncFormatter

        ax.set_xticks(_km_ticks(x0, x1))
        ax.set_yticks(_km_ticks(y0, y1))
        ax.set_xlim(x0, x1)
        ax.set_ylim(y0, y1)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{(v - x0) / 1000:g}"))
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{(v - y0) / 1000:g}"))
        name = getattr(result.crs, "name", None)
        name = name if name and name != "unknown" else "projected CRS"
        ax.set_xlabel(f"easting, km from {x0:,.0f} m ({name})", fontsize=8)
        ax.set_ylabel(f"northing, km from {y0:,.0f} m", fontsize=8)
        fig.tight_layout()
        with atomic_output(path) as tmp:
            fig.savefig(tmp)
    finally:
        plt.close(fig)
    return Path(path)


def write_tables(result: CompareResult, scores_csv=None, expert_csv=None, detected_csv=None) -> None:
    """Write the score table and the per-line tables as CSV (atomically)."""
    for table, path in ((result.scores_table(), scores_csv), (result.expert_table, expert_csv),
                        (result.detected_table, detected_csv)):
        if path is not None:
            with atomic_output(path) as tmp:
                table.to_csv(tmp, index=False, float_format="%.6g")


def expert_anomaly_contrast(expert, grid, tolerance: float) -> dict:
    """``{line: contrast}`` of the expert lines (as :func:`read_lines` numbers them) in ``grid``.

    Empty for a grid that is None or not projected.
    """
    from .profiles import line_anomaly_contrast

    if grid is None or grid.crs is None or not grid.crs.is_projected:
        return {}
    per_line = expert.dissolve(by="line").sort_index()
    return dict(zip(per_line.index, line_anomaly_contrast(grid, per_line, tolerance=tolerance)))


def add_anomaly_contrast(result: CompareResult, grid, contrast: Optional[dict] = None) -> CompareResult:
    """Add ``anomaly_contrast`` to the expert table: does each expert line carry an anomaly in ``grid``?

    :func:`geocore.lineaments.profiles.line_anomaly_contrast` of each expert line (all its parts) at
    the comparison's tolerance: about 1 for a line the grid shows no more than its surroundings,
    :data:`geocore.lineaments.profiles.ANOMALOUS` or more for one with an anomaly of its own. A grid
    in degrees is left out (the column is not added). ``contrast``: the values already measured
    (:func:`expert_anomaly_contrast` at the same tolerance). Returns ``result``, changed in place.
    """
    if contrast is None:
        contrast = expert_anomaly_contrast(result.expert, grid, result.params.tolerance)
    if contrast:
        result.expert_table["anomaly_contrast"] = result.expert_table["line"].map(contrast).astype(float)
    return result


def compare_files(detected_path, expert_path, params: CompareParams, *, grid_path=None,
                  progress=None, cancel=None):
    """Read the two line layers (and the grid), compare them. Returns ``(result, grid or None)``."""
    from ..grids.io import read_grid

    params.check()
    prog = Progress.wrap(progress, cancel)
    detected = read_lines(detected_path, "detected layer")
    expert = read_lines(expert_path, "expert layer")
    grid = read_grid(grid_path) if grid_path is not None else None
    prog.update(0.1)
    result = compare_lines(detected, expert, params, grid_crs=grid.crs if grid is not None else None,
                           grid_bounds=grid.bounds if grid is not None else None, progress=prog.sub(0.1, 0.9))
    add_anomaly_contrast(result, grid)
    return result, grid


def compare_to_folder(detected_path, expert_path, out_dir, params: CompareParams, *, grid=None,
                      progress=None, cancel=None) -> CompareResult:
    """Compare and write ``scores.csv``, ``expert_lines.csv``, ``detected_lines.csv`` and ``overlay.png``.

    Every input problem is reported before anything is written.
    """
    out = Path(out_dir)
    names = {"scores": out / "scores.csv", "expert table": out / "expert_lines.csv",
             "detected table": out / "detected_lines.csv", "overlay": out / "overlay.png"}
    check_not_input(list(names.values()), [detected_path, expert_path, grid])
    prog = Progress.wrap(progress, cancel)
    result, grid_obj = compare_files(detected_path, expert_path, params, grid_path=grid, progress=prog.sub(0, 0.8))
    if grid_obj is not None and _is_geographic(grid_obj.crs):
        grid_obj = None  # a grid in degrees cannot underlie lines in metres; the figure goes without it
    prepare_out_dir(out)
    write_tables(result, names["scores"], names["expert table"], names["detected table"])
    overlay_png(result, names["overlay"], grid_obj)
    prog.update(1.0)
    result.paths = names
    return result
