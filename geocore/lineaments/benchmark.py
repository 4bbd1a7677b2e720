"""Benchmark of lineament detectors on real grids with expert lines.

The table every change to the model or the vectoriser is judged by: for each
*case* (a grid and an expert's lines over it) and each *detector* (the CNN
with a given model, or a classical method), the detected lines are scored
against the expert's by length (:mod:`geocore.lineaments.compare`) at several
distance tolerances, beside the chance baselines (the expert lines shifted
sideways and rotated 90 degrees) and the lift over them.

Cases come from a JSON file, one object a case (the user adds one line of
config for each new area)::

    [{"name": "rio_west", "grid": "rio_west_tfa.tif", "expert": "rio_west_dikes.gpkg",
      "inclination": -35, "declination": -22}]

Relative paths are relative to the JSON file. ``inclination``/``declination``
(degrees) are needed by the classical methods that reduce the field.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

from ..errors import GeocoreError
from ..files import atomic_output, check_not_input, prepare_out_dir
from ..progress import Progress

#: Distance tolerances of the table, metres.
DEFAULT_TOLERANCES = (250.0, 500.0, 1000.0)
#: Tolerance of the overlay figures, metres.
FIGURE_TOLERANCE = 500.0


@dataclass
class BenchmarkCase:
    """A grid with an expert's lines over it.

    Attributes
    ----------
    name : str
    grid, expert : Path
    inclination, declination : float or None
        Main-field direction in degrees (for the reducing classical methods).
    band : int or None
    """

    name: str
    grid: Path
    expert: Path
    inclination: Optional[float] = None
    declination: Optional[float] = None
    band: Optional[int] = None

    def check(self) -> None:
        for what, p in (("grid", self.grid), ("expert lines", self.expert)):
            if not Path(p).is_file():
                msg = f"benchmark case '{self.name}': {what} '{p}' does not exist; fix the path in the case list"
                raise GeocoreError(msg)


@dataclass
class Detector:
    """One detector of the table: ``method`` (``cnn`` or classical) with its options.

    Attributes
    ----------
    label : str
        Name in the table (e.g. ``"cnn (shipped)"``, ``"tga"``).
    method : str
    model : Path or None
        CNN model (None: the shipped one).
    percentile : float
        Classical ridge percentile.
    vector_params : VectorizeParams or None
    scales : tuple of float or None
        CNN resolutions merged by the maximum (None: ``"auto"``, the default of
        ``detect``; ``(1.0,)``: the grid's resolution).
    """

    label: str
    method: str = "cnn"
    model: Optional[Path] = None
    percentile: float = 70.0
    vector_params: object = None
    scales: Optional[tuple] = None


@dataclass
class BenchmarkResult:
    """Rows of the table and the files written."""

    rows: list = field(default_factory=list)
    paths: dict = field(default_factory=dict)

    def table(self):
        import pandas as pd

        return pd.DataFrame(self.rows)

    def markdown(self, tolerance: Optional[float] = None) -> str:
        """Markdown table (all tolerances, or one)."""
        rows = [r for r in self.rows if tolerance is None or r["tolerance_m"] == tolerance]

        def some(key):  # a column that is not NaN everywhere
            return any(isinstance(r.get(key), float) and r[key] == r[key] for r in rows)

        visible = some("recall_visible")  # a synthetic case (its true axes carry a visibility)
        anomaly = some("recall_anomaly")
        head = ("| case | detector | tolerance (m) | recall | " + ("recall (visible) | " if visible else "")
                + ("recall (with anomaly) | " if anomaly else "")
                + "precision | F1 | shifted F1 | lift (shifted) | lift (rotated) | lines | detected km | expert km "
                "| CNN scale | time (s) |")
        out = [head, "|" + " --- |" * (14 + visible + anomaly)]
        for r in rows:
            seen = f"{_fmt(r['recall_visible'], 3)} | " if visible else ""
            seen += f"{_fmt(r.get('recall_anomaly', float('nan')), 3)} | " if anomaly else ""
            out.append(f"| {r['case']} | {r['detector']} | {r['tolerance_m']:g} | {r['recall']:.3f} | {seen}"
                       f"{r['precision']:.3f} | {r['f1']:.3f} | {r['shifted_f1']:.3f} | {_fmt(r['lift_shifted'])} | "
                       f"{_fmt(r['lift_rotated'])} | {r['lines']} | {r['detected_km']:.1f} | {r['expert_km']:.1f} | "
                       f"{r.get('scale', '')} | {r['seconds']:.0f} |")
        return "\n".join(out)


def _fmt(x: float, digits: int = 2) -> str:
    return "inf" if x == float("inf") else ("n/a" if x != x else f"{x:.{digits}f}")


def load_cases(path: str | os.PathLike) -> list:
    """Cases from a JSON list (see the module docstring); relative paths are relative to the file."""
    path = Path(path)
    if not path.is_file():
        msg = f"benchmark case list '{path}' does not exist; give a JSON file (see geocore lineaments benchmark --help)"
        raise GeocoreError(msg)
    try:
        items = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        msg = f"benchmark case list '{path}' is not valid JSON ({exc}); give a list of objects with name, grid, expert"
        raise GeocoreError(msg) from None
    if not isinstance(items, list) or not items:
        msg = f"benchmark case list '{path}' must be a non-empty JSON list of cases"
        raise GeocoreError(msg)
    cases = []
    for i, it in enumerate(items):
        if not isinstance(it, dict) or not {"grid", "expert"} <= set(it):
            msg = f"case {i + 1} of '{path}' needs at least 'grid' and 'expert' (and a 'name')"
            raise GeocoreError(msg)
        unknown = set(it) - {"name", "grid", "expert", "inclination", "declination", "band", "note"}
        if unknown:
            msg = f"case {i + 1} of '{path}' has unknown keys {sorted(unknown)}"
            raise GeocoreError(msg)
        rel = lambda p: Path(p) if Path(p).is_absolute() else path.parent / p  # noqa: E731
        cases.append(BenchmarkCase(name=str(it.get("name", f"case{i + 1}")), grid=rel(it["grid"]),
                                   expert=rel(it["expert"]), inclination=it.get("inclination"),
                                   declination=it.get("declination"), band=it.get("band")))
    return cases


def _detect(case: BenchmarkCase, det: Detector, out: Path, device: str):
    from ..inference import TileParams
    from .classical import ClassicalParams
    from .detect import detect_lineaments

    classical = None
    if det.method != "cnn":
        needs = det.method in ("tilt", "vdr", "thg")
        if needs and case.inclination is None:
            return None
        classical = ClassicalParams(method=det.method, inclination=case.inclination,
                                    declination=case.declination, percentile=det.percentile)
    res = detect_lineaments(case.grid, probability_path=out / "probability.tif",
                            lines_paths=[out / "lineaments.gpkg"], model_path=det.model, band=case.band,
                            tiles=TileParams(device=device), vector_params=det.vector_params, method=det.method,
                            classical=classical, scales=det.scales)
    return res


def _visible_recall(detected, expert, tolerance: float, grid) -> float:
    """Recall on the expert lines of ``visibility`` >= :data:`geocore.magnetics.synthetic.VISIBLE` (the true
    axes of synthetic surveys); NaN without that attribute (real experts) or when no line is that visible."""
    if "visibility" not in expert.columns:
        return float("nan")
    from ..magnetics.synthetic import VISIBLE
    from .compare import CompareParams, compare_lines

    seen = expert[expert["visibility"].to_numpy(dtype=float) >= VISIBLE]
    if len(seen) == 0:
        return float("nan")
    cmp = compare_lines(detected, seen, CompareParams(tolerance=tolerance), grid_crs=grid.crs,
                        grid_bounds=grid.bounds)
    return cmp.scores.recall


def run_benchmark(cases: Sequence[BenchmarkCase], detectors: Sequence[Detector], out_dir: str | os.PathLike, *,
                  tolerances: Sequence[float] = DEFAULT_TOLERANCES, device: str = "auto", figures: bool = True,
                  progress=None, cancel=None) -> BenchmarkResult:
    """Detect with every detector on every case, score, write ``benchmark.csv``, ``benchmark.md`` and overlays.

    Parameters
    ----------
    cases : list of BenchmarkCase
    detectors : list of Detector
    out_dir : path
        Folder of the table and of one overlay PNG per case and detector
        (``overlay_<case>_<detector>.png``, at 500 m).
    tolerances : list of float
        Distance tolerances in metres.
    device : str
        Device of the CNN.
    figures : bool
        Write the overlay PNGs.

    Returns
    -------
    BenchmarkResult
        ``rows``: one dict per case, detector and tolerance with ``recall``,
        ``precision``, ``f1``, ``shifted_f1``, ``rotated_f1``,
        ``lift_shifted``, ``lift_rotated``, ``lines``, ``detected_km``,
        ``expert_km``, ``scale`` (the CNN's resolutions, e.g. the one ``auto``
        chose), ``seconds`` (detection time) and ``recall_visible`` (recall on the expert lines
        whose ``visibility`` attribute is at least ``geocore.magnetics.synthetic.VISIBLE``: the true
        axes of a synthetic survey; NaN for an expert without that attribute) and ``recall_anomaly``
        (recall on the expert lines that carry an anomaly of their own in the grid, any case:
        :func:`geocore.lineaments.compare.add_anomaly_contrast`).
    """
    import re

    from ..files import read_vector
    from .compare import (CompareParams, add_anomaly_contrast, compare_lines, expert_anomaly_contrast, overlay_png,
                          read_lines)
    from .profiles import ANOMALOUS

    prog = Progress.wrap(progress, cancel)
    if not cases or not detectors:
        msg = "the benchmark needs at least one case and one detector"
        raise GeocoreError(msg)
    for c in cases:
        c.check()
    for t in tolerances:
        CompareParams(tolerance=float(t)).check()
    out = Path(out_dir)
    table_csv, table_md = out / "benchmark.csv", out / "benchmark.md"
    check_not_input([table_csv, table_md], [p for c in cases for p in (c.grid, c.expert)])
    prepare_out_dir(out)
    result = BenchmarkResult()
    n = len(cases) * len(detectors)
    k = 0
    for case in cases:
        from ..grids.io import read_grid

        grid = read_grid(case.grid, band=case.band)
        expert = read_lines(case.expert, "expert lines")
        attributes = read_vector(case.expert, "expert lines")  # read_lines keeps the geometry only
        # does each expert line carry an anomaly of its own in the grid (measured once, any detector)
        contrast = {float(t): expert_anomaly_contrast(expert, grid, float(t)) for t in tolerances}
        anomalous = {t: any(v >= ANOMALOUS for v in c.values()) for t, c in contrast.items()}
        for det in detectors:
            prog.check()
            with tempfile.TemporaryDirectory(prefix="geocore_bench_") as tmp:
                t0 = time.time()
                res = _detect(case, det, Path(tmp), device)
                seconds = time.time() - t0
                if res is None:
                    k += 1
                    continue
                gdf = res.gdf
            for tol in tolerances:
                row = dict(case=case.name, detector=det.label, tolerance_m=float(tol), lines=len(gdf),
                           detected_km=float(gdf.length.sum()) / 1000.0 if len(gdf) else 0.0, seconds=seconds,
                           scale=" ".join(f"{x:g}" for x in res.scales) if det.method == "cnn" else "")
                if len(gdf) == 0:
                    row.update(recall=0.0, precision=0.0, f1=0.0, shifted_f1=float("nan"), rotated_f1=float("nan"),
                               lift_shifted=float("nan"), lift_rotated=float("nan"),
                               expert_km=float(expert.length.sum()) / 1000.0,
                               recall_visible=0.0 if "visibility" in attributes.columns else float("nan"),
                               recall_anomaly=0.0 if anomalous[float(tol)] else float("nan"))
                    result.rows.append(row)
                    continue
                cmp = compare_lines(gdf, expert, CompareParams(tolerance=float(tol)), grid_crs=grid.crs,
                                    grid_bounds=grid.bounds)
                s = cmp.scores
                add_anomaly_contrast(cmp, grid, contrast[float(tol)])
                row.update(recall=s.recall, precision=s.precision, f1=s.f1, recall_anomaly=cmp.recall_with_anomaly(),
                           shifted_f1=cmp.baselines["shifted"].f1, rotated_f1=cmp.baselines["rotated"].f1,
                           lift_shifted=cmp.lift("shifted"), lift_rotated=cmp.lift("rotated"),
                           expert_km=s.expert_length / 1000.0,
                           recall_visible=_visible_recall(gdf, attributes, float(tol), grid))
                result.rows.append(row)
                if figures and float(tol) == FIGURE_TOLERANCE:
                    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", f"{case.name}_{det.label}").strip("_")
                    png = out / f"overlay_{slug}.png"
                    with atomic_output(png) as tmp_png:
                        overlay_png(cmp, tmp_png, grid)
                    result.paths[f"overlay {case.name} {det.label}"] = png
            k += 1
            prog.update(k / n)
    table = result.table()
    with atomic_output(table_csv) as tmp:
        table.to_csv(tmp, index=False, float_format="%.4f")
    with atomic_output(table_md) as tmp:
        Path(tmp).write_text(result.markdown() + "\n", encoding="utf-8")
    result.paths.update(table=table_csv, markdown=table_md)
    return result


def default_detectors(model: Optional[Path] = None, methods: Sequence[str] = ("cnn", "tga", "tilt", "vdr", "thg"),
                      vector_params=None) -> list:
    """One :class:`Detector` per method name (the CNN with ``model`` or the shipped one)."""
    from .classical import METHODS

    dets = []
    for m in methods:
        if m not in METHODS:
            msg = f"unknown detection method {m!r}; choose from {', '.join(METHODS)}"
            raise GeocoreError(msg)
        label = m if m != "cnn" else (f"cnn ({Path(model).stem})" if model else "cnn (shipped)")
        dets.append(Detector(label=label, method=m, model=Path(model) if model and m == "cnn" else None,
                             vector_params=vector_params))
    return dets
