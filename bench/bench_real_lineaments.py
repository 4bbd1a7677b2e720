"""The lineament benchmark: every detector on real grids with expert lines, beside synthetic protocols.

Real part: each case of ``bench/real_lineaments_cases.json`` (one line of JSON a case, paths
relative to ``../shared/data`` or ``$GEOCORE_TEST_DATA``) is detected with the CNN (the shipped
model and any ``--model``) and the classical detectors (tga, tilt, vdr, thg), and scored against
the expert lines by length at 250, 500 and 1000 m, with the shifted and rotated chance baselines
and the lift over them (``geocore.lineaments.benchmark``); an overlay PNG per case and detector.

Synthetic part (``--synthetic``): the *vectorised lines* that ``detect`` writes, scored against
the known axes at 2 cells, on three 576 x 576 surveys never used in training: the paper preset
(1-10 dykes per 192 x 192 cells), the paper preset with 1-2 dykes (its 30 x 30 smoothed noise then
dominates: spurious segments lower the precision) and the realistic preset. Then the CNN rows on
oversampled surveys: 192 x 192 cells of 150 m as they are and interpolated to 50 m cells (the
same dykes, anomalies 3 times wider in cells, as on grids sampled finer than they resolve), at
300 m; and every detector but the multi-scale CNN on undersampled surveys: 576 x 576 cells of 50 m
averaged to 100 and 150 m (anomalies 2 and 3 times narrower in cells, as on coarse compilations);
and every detector on the paper and realistic surveys with nodata outside an irregular outline.

    python bench/bench_real_lineaments.py [--out-dir bench_output/lineaments] [--model M.safetensors]
                                          [--methods cnn,tga,tilt,vdr,thg] [--synthetic]
                                          [--parts real,synthetic,oversampled,undersampled,outline]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = Path(os.environ.get("GEOCORE_TEST_DATA", HERE.parent / ".." / "shared" / "data"))


def real_cases():
    from geocore.lineaments.benchmark import BenchmarkCase

    items = json.loads((HERE / "real_lineaments_cases.json").read_text())
    cases = []
    for it in items:
        case = BenchmarkCase(name=it["name"], grid=DATA / it["grid"], expert=DATA / it["expert"],
                             inclination=it.get("inclination"), declination=it.get("declination"))
        if case.grid.is_file() and case.expert.is_file():
            cases.append(case)
        else:
            print(f"skipped {case.name}: {case.grid} not found (set GEOCORE_TEST_DATA)")
    return cases


SYNTHETIC = (("paper", "paper", None), ("paper, 1-2 dykes (noise-dominated)", "paper", (1, 2)),
             ("realistic", "realistic", None))


def synthetic_cases(folder: Path, seed: int = 4242):
    """Surveys (576 x 576 cells at 50 m) with their true axes as the 'expert'."""
    from geocore.lineaments.benchmark import BenchmarkCase
    from geocore.magnetics.synthetic import SurveyConfig, synthesize_survey

    cases = []
    for k, (label, preset, dykes) in enumerate(SYNTHETIC):
        cfg = SurveyConfig.from_preset(preset)
        if dykes:
            cfg = cfg.with_dykes(*dykes)
        out = folder / f"survey{k}"
        res = synthesize_survey(out, rows=576, cols=576, cell_size=50.0, seed=seed + k, config=cfg)
        import rasterio

        with rasterio.open(res.field_path) as ds:
            inc, dec = float(ds.tags()["inclination"]), float(ds.tags()["declination"])
        cases.append(BenchmarkCase(name=f"synthetic {label}", grid=res.field_path, expert=res.axes_path,
                                   inclination=inc, declination=dec))
    return cases


OVERSAMPLED = (("paper", "paper"), ("realistic", "realistic"))


def oversampled_cases(folder: Path, seed: int = 4250, factor: int = 3):
    """Surveys of 192 x 192 cells at 150 m, as they are and interpolated to cells ``factor`` times smaller.

    Real grids are often sampled finer than they resolve (cells of a quarter of the
    line spacing, upward continuation): the interpolated grid holds the same dykes
    with anomalies ``factor`` times wider in cells. Scored at 300 m (two native cells).
    """
    import numpy as np
    import rasterio
    from scipy import ndimage

    from geocore.lineaments.benchmark import BenchmarkCase
    from geocore.magnetics.synthetic import SurveyConfig, synthesize_survey

    cases = []
    for k, (label, preset) in enumerate(OVERSAMPLED):
        res = synthesize_survey(folder / f"native{k}", rows=192, cols=192, cell_size=150.0, seed=seed + k,
                                config=SurveyConfig.from_preset(preset))
        with rasterio.open(res.field_path) as ds:
            a, profile, tr = ds.read(1).astype(np.float64), ds.profile, ds.transform
            inc, dec = float(ds.tags()["inclination"]), float(ds.tags()["declination"])
        fine = ndimage.zoom(a, factor, order=3).astype(np.float32)
        profile.update(width=fine.shape[1], height=fine.shape[0], transform=tr * tr.scale(1 / factor, 1 / factor))
        fine_path = folder / f"fine{k}.tif"
        with rasterio.open(fine_path, "w", **profile) as dst:
            dst.write(fine, 1)
        for name, grid in ((f"{label} at 150 m", res.field_path),
                           (f"{label} at 150 m interpolated to {150 / factor:g} m", fine_path)):
            cases.append(BenchmarkCase(name=f"synthetic {name}", grid=grid, expert=res.axes_path,
                                       inclination=inc, declination=dec))
    return cases


def undersampled_cases(folder: Path, seed: int = 4244, factors=(2, 3)):
    """Surveys of 576 x 576 cells of 50 m averaged to cells 2 and 3 times larger.

    Regional compilations and decimated grids are coarser than their anomalies: dyke
    anomalies one or two cells wide, narrower than the network learned (``--scales auto``
    refines such grids). Scored at 2 coarse cells (200 and 300 m).
    """
    import numpy as np
    import rasterio

    from geocore.lineaments.benchmark import BenchmarkCase
    from geocore.magnetics.synthetic import SurveyConfig, synthesize_survey

    cases = []
    for label in ("paper", "realistic"):
        res = synthesize_survey(folder / label, rows=576, cols=576, cell_size=50.0, seed=seed,
                                config=SurveyConfig.from_preset(label))
        with rasterio.open(res.field_path) as ds:
            a, profile, tr = ds.read(1).astype(np.float64), ds.profile, ds.transform
            inc, dec = float(ds.tags()["inclination"]), float(ds.tags()["declination"])
        for k in factors:
            n = 576 // k
            coarse = a[:n * k, :n * k].reshape(n, k, n, k).mean(axis=(1, 3)).astype(np.float32)
            path = folder / f"{label}_{50 * k}m.tif"
            with rasterio.open(path, "w", **{**profile, "width": n, "height": n,
                                             "transform": tr * tr.scale(k, k)}) as dst:
                dst.write(coarse, 1)
            cases.append(BenchmarkCase(name=f"synthetic {label} averaged to {50 * k} m", grid=path,
                                       expert=res.axes_path, inclination=inc, declination=dec))
    return cases


def outline_cases(folder: Path, seed: int = 4244):
    """The paper and realistic surveys (576 x 576 cells of 50 m) with nodata outside a wobbly outline.

    Real surveys are irregular polygons: a detector must not draw the outline. The expert is the
    true axes clipped 100 m inside the outline.
    """
    import geopandas as gpd
    import numpy as np
    import rasterio
    import shapely
    from rasterio.features import geometry_mask

    from geocore.lineaments.benchmark import BenchmarkCase
    from geocore.magnetics.synthetic import SurveyConfig, synthesize_survey

    n = 576
    t = np.linspace(0.0, 2.0 * np.pi, 721)[:-1]
    r = n * (0.42 + 0.05 * np.sin(3 * t) + 0.025 * np.cos(7 * t))
    cells = shapely.Polygon(np.c_[n / 2 + r * np.cos(t), n / 2 + r * np.sin(t)])
    cases = []
    for label in ("paper", "realistic"):
        res = synthesize_survey(folder / label, rows=n, cols=n, cell_size=50.0, seed=seed,
                                config=SurveyConfig.from_preset(label))
        with rasterio.open(res.field_path) as ds:
            a, profile, tr = ds.read(1), ds.profile, ds.transform
            inc, dec = float(ds.tags()["inclination"]), float(ds.tags()["declination"])
        inside = ~geometry_mask([cells], (n, n), rasterio.Affine.identity())
        path = folder / f"{label}_outline.tif"
        with rasterio.open(path, "w", **{**profile, "nodata": -99999.0}) as dst:
            dst.write(np.where(inside, a, -99999.0).astype(np.float32), 1)
        area = shapely.affinity.affine_transform(cells, [tr.a, tr.b, tr.d, tr.e, tr.xoff, tr.yoff])
        axes = gpd.read_file(res.axes_path).clip(area.buffer(-100.0))
        expert = folder / f"{label}_axes_inside.gpkg"
        axes[~axes.is_empty].to_file(expert)
        cases.append(BenchmarkCase(name=f"synthetic {label} inside an outline", grid=path, expert=expert,
                                   inclination=inc, declination=dec))
    return cases


def main() -> None:
    from geocore.lineaments.benchmark import default_detectors, run_benchmark

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out-dir", type=Path, default=Path("bench_output/lineaments"))
    ap.add_argument("--model", type=Path, action="append", default=[], help="extra CNN models to compare")
    ap.add_argument("--methods", default="cnn,tga,tilt,vdr,thg")
    ap.add_argument("--synthetic", action="store_true", help="also the synthetic vectorised-line protocols")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--parts", default="real,synthetic,oversampled,undersampled,outline",
                    help="which tables (the last four need --synthetic)")
    args = ap.parse_args()
    parts = set(args.parts.split(","))
    methods = [m for m in args.methods.split(",") if m]
    dets = default_detectors(None, methods)
    if "cnn" in methods:
        from geocore.lineaments.benchmark import Detector

        dets.append(Detector(label="cnn (shipped, full resolution)", method="cnn", scales=(1.0,)))
        dets.append(Detector(label="cnn (shipped, scales 1 0.5 0.25)", method="cnn", scales=(1.0, 0.5, 0.25)))
    for m in args.model:
        dets += default_detectors(m, ["cnn"])
    cases = real_cases() if "real" in parts else []
    if cases:
        res = run_benchmark(cases, dets, args.out_dir / "real", device=args.device)
        print("## real grids\n" + res.markdown())
    if not args.synthetic:
        return
    cnn = [d for d in dets if d.method == "cnn"] or dets
    not_multiscale = [d for d in dets if d.method != "cnn" or d.scales != (1.0, 0.5, 0.25)]
    tables = (  # part, cases, detectors, tolerances (m), title
        ("synthetic", synthetic_cases, dets, (100.0,), "synthetic surveys (vectorised lines, 2-cell tolerance)"),
        ("oversampled", oversampled_cases, cnn, (300.0,),
         "oversampled synthetic surveys (vectorised lines, 2 native cells)"),
        ("undersampled", undersampled_cases, not_multiscale, (200.0, 300.0),
         "undersampled synthetic surveys (vectorised lines; 2 coarse cells: 200 m at 100 m, 300 m at 150 m)"),
        ("outline", outline_cases, dets, (100.0,),
         "synthetic surveys inside an irregular outline (nodata outside; 2-cell tolerance)"),
    )
    for part, make_cases, detectors, tolerances, title in tables:
        if part not in parts:
            continue
        with tempfile.TemporaryDirectory() as tmp:
            res = run_benchmark(make_cases(Path(tmp)), detectors, args.out_dir / part, tolerances=tolerances,
                                device=args.device, figures=False)
            print(f"## {title}\n" + res.markdown())

if __name__ == "__main__":
    main()
