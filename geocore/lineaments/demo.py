"""``geocore demo``: a synthetic survey end to end, scored against its truth."""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import numpy as np


def rasterize_lines(gdf, shape, transform) -> np.ndarray:
    """Burn lines into a bool grid one cell wide (GDAL's line rasterisation)."""
    from rasterio.features import rasterize

    geoms = [g for g in gdf.geometry if g is not None and not g.is_empty]
    if not geoms:
        return np.zeros(shape, dtype=bool)
    return rasterize(((g, 1) for g in geoms), out_shape=shape, transform=transform, fill=0,
                     dtype="uint8").astype(bool)


def score_lines(detected_path, truth_path, grid_path, tolerance_cells: float = 2.0) -> dict:
    """Axis recall and precision of detected lines against true axes, in cells of ``grid_path``."""
    import geopandas as gpd
    import rasterio

    from .metrics import axis_agreement

    with rasterio.open(grid_path) as src:
        shape, transform, crs = (src.height, src.width), src.transform, src.crs
    det = gpd.read_file(detected_path)
    tru = gpd.read_file(truth_path)
    if crs is not None:
        det = det.to_crs(crs) if det.crs is not None else det
        tru = tru.to_crs(crs) if tru.crs is not None else tru
    return axis_agreement(rasterize_lines(det, shape, transform), rasterize_lines(tru, shape, transform),
                          tolerance_cells)


def visible_axis_recall(detected_path, truth_path, grid_path, tolerance_cells: float = 2.0) -> dict:
    """Axis recall on the true axes of ``visibility`` >= :data:`geocore.magnetics.synthetic.VISIBLE`.

    Returns ``visible_recall`` (NaN when no axis is that visible) and ``visible_dykes`` (how many).
    """
    import geopandas as gpd
    import rasterio

    from ..magnetics.synthetic import VISIBLE
    from .metrics import axis_agreement

    with rasterio.open(grid_path) as src:
        shape, transform, crs = (src.height, src.width), src.transform, src.crs
    det, tru = gpd.read_file(detected_path), gpd.read_file(truth_path)
    seen = tru[tru["visibility"].to_numpy(dtype=float) >= VISIBLE]
    if len(seen) == 0:
        return dict(visible_recall=float("nan"), visible_dykes=0)
    if crs is not None:
        det = det.to_crs(crs) if det.crs is not None else det
        seen = seen.to_crs(crs) if seen.crs is not None else seen
    agree = axis_agreement(rasterize_lines(det, shape, transform), rasterize_lines(seen, shape, transform),
                           tolerance_cells)
    return dict(visible_recall=agree["axis_recall"], visible_dykes=len(seen))


@dataclasses.dataclass
class DemoResult:
    """What :func:`run_demo` made: the survey, the detection and the scores.

    Attributes
    ----------
    survey : SurveyResult
        The synthetic survey (field, mask and true axes paths, dyke count).
    detection : DetectResult
        The detection outputs in ``out_dir/detection``.
    scores : dict
        ``axis_recall`` and ``axis_precision`` against the true axes (2-cell tolerance), and
        ``visible_recall`` with ``visible_dykes``: the axis recall on the dykes of visibility 1 or
        more (:func:`geocore.magnetics.synthetic.dyke_visibility`), the ones a detector can see.
    size, seed : int
        Grid edge in cells and survey seed.
    survey_dir : Path
    seconds_synthesis, seconds_detection : float
        Wall-clock times of the two steps, in seconds.
    """

    survey: object
    detection: object
    scores: dict
    size: int
    seed: int
    survey_dir: Path
    seconds_synthesis: float
    seconds_detection: float

    def summary(self) -> str:
        s = self.survey
        return "\n".join([
            f"survey ({self.size} x {self.size} cells at 50 m, {s.n_dykes} dykes, seed {self.seed}): "
            f"{self.survey_dir}",
            f"  field: {s.field_path}\n  true axes: {s.axes_path}",
            self.detection.summary(),
            f"axis recall (true axes within 2 cells of a detected line): {self.scores['axis_recall']:.3f}; "
            f"{self.scores['visible_recall']:.3f} on the {self.scores['visible_dykes']} of {s.n_dykes} dykes "
            "visible in the field (gradient above the clutter around them)",
            f"axis precision (detected lines within 2 cells of a true axis): {self.scores['axis_precision']:.3f}",
            f"time: synthesis {self.seconds_synthesis:.0f} s, detection {self.seconds_detection:.0f} s",
        ])


def run_demo(out_dir: Path, *, size: int = 1024, seed: int = 20261122, device: str = "auto",
             quiet: bool = False) -> DemoResult:
    """Synthesise a ``size`` x ``size`` realistic survey, detect its lineaments and score them.

    The survey seed is one never used in training. Returns where the outputs
    are and the axis recall/precision of the detected lines against the known
    dyke axes (2-cell tolerance); :meth:`DemoResult.summary` words them. Shows
    progress bars on stderr unless ``quiet``.
    """
    from ..magnetics.synthetic import SurveyConfig, synthesize_survey
    from ..progress import progress_bar
    from ..inference import TileParams
    from .detect import detect_to_folder

    out_dir = Path(out_dir)
    survey_dir, detect_dir = out_dir / "survey", out_dir / "detection"
    # a survey is sparser than a training sample: 1.5-3 dykes per 192 x 192 cells
    config = dataclasses.replace(SurveyConfig.from_preset("realistic"), dykes=(1.5, 3.0), compact_bodies=(0, 1),
                                 contacts=(0, 1))
    t0 = time.time()
    with progress_bar(f"synthesising a {size} x {size} survey", quiet) as bar:
        survey = synthesize_survey(survey_dir, rows=size, cols=size, cell_size=50.0, seed=seed, config=config,
                                   progress=bar)
    t1 = time.time()
    with progress_bar("detecting lineaments", quiet) as bar:
        result = detect_to_folder(survey.field_path, detect_dir, tiles=TileParams(device=device), progress=bar)
    t2 = time.time()
    gpkg = next(p for p in result.lines if str(p).endswith(".gpkg"))
    scores = score_lines(gpkg, survey.axes_path, survey.field_path)
    scores.update(visible_axis_recall(gpkg, survey.axes_path, survey.field_path))
    return DemoResult(survey=survey, detection=result, scores=scores, size=size, seed=seed, survey_dir=survey_dir,
                      seconds_synthesis=t1 - t0, seconds_detection=t2 - t1)
