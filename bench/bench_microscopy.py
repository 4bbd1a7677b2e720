"""Measurements of the microscopy tools (flat field, alignment, annotation, uncertainty).

    python bench/bench_microscopy.py [flatfield] [align] [annotate] [uncertainty] [uncertainty-model]

- flatfield: our mirror flat field against petroscope's published outputs
  (``calibration_out_0*.jpg``) and against a re-implementation of petroscope's
  method; residual unevenness of the corrected mirror photo itself.
- align: known stage rotations (5 and 15 degree steps, six photos each) and
  shifts applied to a real photograph (as a recoloured, contrast-inverted
  crossed-polar stand-in), recovered by each method; mean error in pixels.
- annotate: IoU of the propagated mask against the truth versus the share of
  scribbled pixels, on synthetic sections; time on a full-size photo.
- uncertainty: share of a stand-in model's errors inside the chosen regions
  against random regions of the same shapes and area;
- uncertainty-model: the same with the shipped demo minerals network, with and without TTA.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def bench_flatfield(sections: Path) -> None:
    from geocore.microscopy.flatfield import compare_images, flat_field_from_mirror, flat_field_petroscope, smooth_illumination
    from geocore.microscopy.images import read_rgb

    mirror = read_rgb(sections / "mirror1200.jpg").rgb
    t = time.perf_counter()
    ours = flat_field_from_mirror(mirror)
    t_gain = time.perf_counter() - t
    theirs = flat_field_petroscope(mirror)

    def unevenness(img):
        lum = smooth_illumination(img, 25).mean(axis=-1)
        return lum.std() / lum.mean(), lum.max() / lum.min()

    print("## flat field")
    print(f"gain from the mirror: {t_gain:.2f} s; gain range {ours.gain.min():.3f}..{ours.gain.max():.3f}")
    for name, img in (("raw mirror", mirror), ("mirror corrected by geocore", ours.apply(mirror)),
                      ("mirror corrected by petroscope's method", theirs.apply(mirror))):
        cv, ratio = unevenness(img)
        print(f"{name}: illumination CV {100 * cv:.2f} %, brightest/darkest {ratio:.3f}")
    for i in (1, 2, 3):
        src = read_rgb(sections / f"calibration_src_0{i}.jpg").rgb
        out = read_rgb(sections / f"calibration_out_0{i}.jpg").rgb
        t = time.perf_counter()
        mine = ours.apply(src)
        t_apply = time.perf_counter() - t
        repro = (np.clip(src.astype(np.float32) * theirs.gain / 255, 0, 1) * 255).astype(np.uint8)
        a, b, c = compare_images(mine, out), compare_images(repro, out), compare_images(src, out)
        print(f"photo {i} (apply {t_apply:.2f} s) vs petroscope's output: geocore r={a['correlation']:.4f} "
              f"MAD={a['mean_abs_diff']:.2f}; petroscope re-implemented r={b['correlation']:.4f} "
              f"MAD={b['mean_abs_diff']:.2f}; uncorrected r={c['correlation']:.4f} MAD={c['mean_abs_diff']:.2f}")


def bench_align(sections: Path) -> None:
    import cv2

    from geocore.microscopy.align import align_pair, transform_error, warp_to_reference
    from geocore.microscopy.images import read_rgb

    big = read_rgb(sections / "calibration_out_01.jpg").rgb
    shape, offset = (1500, 2000), (520, 700)
    ppl = big[offset[0]:offset[0] + shape[0], offset[1]:offset[1] + shape[1]]
    grey = cv2.cvtColor(big, cv2.COLOR_RGB2GRAY).astype(float)
    stand_ins = {
        "inverted, tinted": np.clip(np.stack([255 - grey, 0.8 * (255 - grey), 0.6 * (255 - grey)], -1) ** 0.9, 0, 255),
        "dimmed, tinted": np.clip(np.stack([0.5 * grey, 0.4 * grey, 0.3 * grey], -1) ** 1.1, 0, 255),
    }
    rng = np.random.default_rng(0)
    print(f"## alignment ({shape[1]} x {shape[0]} px crops of a real photo, crossed-polar stand-ins)")
    for (look, other), step in ((item, step) for item in stand_ins.items() for step in (5, 15)):
        other = other.astype(np.uint8)
        angles = [step * k for k in range(1, 7)]
        truths = []
        movings = []
        for angle in angles:
            m = cv2.getRotationMatrix2D(((shape[1] - 1) / 2 + 37, (shape[0] - 1) / 2 - 21), angle, 1.0)
            m[:, 2] += rng.uniform(-12, 12, 2)
            to_big = np.vstack([[1, 0, offset[1]], [0, 1, offset[0]], [0, 0, 1]]) @ np.vstack(
                [cv2.invertAffineTransform(m), [0, 0, 1]])
            seen = cv2.warpAffine(other, to_big[:2], shape[::-1], flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)
            seen = np.clip(seen + rng.normal(0, 3, seen.shape), 0, 255).astype(np.uint8)
            truths.append(m)
            movings.append(seen)
        for method in ("ecc", "sift", "sift+ecc"):
            errs, times = [], []
            for m, seen in zip(truths, movings):
                t = time.perf_counter()
                try:
                    found = align_pair(ppl, seen, method=method)
                except Exception as exc:  # noqa: BLE001  (a failed method is a result here)
                    errs.append(float("nan"))
                    times.append(time.perf_counter() - t)
                    print(f"  {method} failed: {exc}")  # noqa: T201
                    continue
                times.append(time.perf_counter() - t)
                _, valid = warp_to_reference(seen, found, shape)
                errs.append(transform_error(found.matrix, m, shape, mask=valid))
            print(f"{look}, {step} degree steps {angles}: {method:8s} error px " + ", ".join(f"{e:.3f}" for e in errs)
                  + f"  (max {np.nanmax(errs):.3f}; {np.mean(times):.1f} s per photo)")


def bench_annotate() -> None:
    from affine import Affine

    from geocore.microscopy.annotate import annotate_array, mean_iou, rasterize_strokes, segmentations
    from geocore.microscopy.params import SuperpixelParams
    from geocore.microscopy.synthetic import simulate_strokes, synthetic_section

    shares = (0.001, 0.0025, 0.005, 0.01, 0.02, 0.05)
    print("## superpixel annotation (synthetic 512 x 512 sections, 5 minerals + matrix, 4 seeds)")
    rows = {s: [] for s in shares}
    for seed in range(4):
        sec = synthetic_section((512, 512), classes=(0, 1, 2, 5, 6, 8), n_grains=60, seed=100 + seed)
        levels = segmentations(sec.rgb)
        for share in shares:
            strokes = simulate_strokes(sec.mask, share, seed=seed)
            geoms, codes = [g for _, g in strokes], [c for c, _ in strokes]
            scribbled = (rasterize_strokes(geoms, codes, sec.mask.shape, Affine.identity()) != 255).mean()
            for check in (True, False):
                mask, _, _ = annotate_array(sec.rgb, geoms, codes, levels=levels,
                                            params=SuperpixelParams(colour_check=check))
                lab = mask != 255
                rows[share].append((check, scribbled, mean_iou(mask, sec.mask), lab.mean(),
                                    (mask[lab] == sec.mask[lab]).mean()))
    print("| scribbled | IoU (colour check) | labelled | accuracy on labelled | IoU (no check) |")
    print("|---|---|---|---|---|")
    for share in shares:
        on = np.array([r[1:] for r in rows[share] if r[0]])
        off = np.array([r[1:] for r in rows[share] if not r[0]])
        print(f"| {100 * on[:, 0].mean():.2f} % | {on[:, 1].mean():.3f} | {100 * on[:, 2].mean():.1f} % | "
              f"{100 * on[:, 3].mean():.1f} % | {off[:, 1].mean():.3f} |")
    big = synthetic_section((2547, 3396), classes=(0, 1, 2, 5, 6, 8), n_grains=400, seed=7, scratches=0, pits=0)
    strokes = simulate_strokes(big.mask, 0.002, seed=1, step=6.0)
    t = time.perf_counter()
    mask, _, _ = annotate_array(big.rgb, [g for _, g in strokes], [c for c, _ in strokes])
    print(f"full-size 3396 x 2547 photo (working copy 1600 px): {time.perf_counter() - t:.1f} s, "
          f"IoU {mean_iou(mask, big.mask):.3f}")


def bench_uncertainty() -> None:
    from geocore.microscopy.synthetic import synthetic_section
    from geocore.microscopy.uncertainty import select_regions, uncertainty

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
    from stand_in_model import ColourClassifier

    classes = (0, 1, 2, 5, 6, 7, 8)
    train = synthetic_section((384, 384), classes=classes, n_grains=60, seed=10, noise=12)
    model = ColourClassifier(n_classes=9, temperature=3).fit(train.rgb, train.mask)
    print("## uncertainty regions (stand-in Gaussian colour classifier; 5 test sections 384 x 384)")
    print("| metric | share asked | smoothing px | area selected | errors inside / random regions of the same shapes "
          "(mean, min..max) | share of all errors inside |")
    print("|---|---|---|---|---|---|")
    rng = np.random.default_rng(0)
    tests = [synthetic_section((384, 384), classes=classes, n_grains=60, seed=s, noise=12) for s in range(11, 16)]
    preds = [model(t.rgb) for t in tests]
    for metric in ("entropy", "margin"):
        for share in (0.05, 0.1):
            for smooth in (0.0, 2.0, 4.0):
                ratios, inside, area = [], [], []
                for t, p in zip(tests, preds):
                    err = p.argmax(0) != t.mask
                    labels, _ = select_regions(uncertainty(p, metric), share, smooth_px=smooth)
                    sel = labels > 0
                    rand = np.mean([err[np.roll(sel, tuple(rng.integers(0, 384, 2)), (0, 1))].sum() for _ in range(50)])
                    ratios.append(err[sel].sum() / rand)
                    inside.append(err[sel].sum() / err.sum())
                    area.append(sel.mean())
                print(f"| {metric} | {share:.2f} | {smooth:g} | {100 * np.mean(area):.1f} % | {np.mean(ratios):.2f} ({min(ratios):.2f}..{max(ratios):.2f}) "
                      f"| {100 * np.mean(inside):.0f} % |")
    print(f"model pixel error rate: {100 * np.mean([(p.argmax(0) != t.mask).mean() for t, p in zip(tests, preds)]):.1f} %")


def bench_uncertainty_model() -> None:
    """The shipped demo minerals model (issue 6) on its own kind of synthetic sections, with and without TTA."""
    import tempfile

    import rasterio
    import torch
    from rasterio.transform import from_origin

    from geocore.inference.tiled import TileParams
    from geocore.microscopy.uncertainty import model_probabilities, select_regions, uncertainty
    from geocore.minerals.synthetic import synthesize_section

    torch.set_num_threads(1)
    model = Path(__file__).resolve().parents[1] / "geocore" / "minerals" / "models" / "minerals_demo_mobilenetv2_unet.safetensors"
    tmp = Path(tempfile.mkdtemp())
    rng = np.random.default_rng(0)
    res: dict = {}
    for seed in (501, 502, 503):
        sec = synthesize_section((512, 512), seed=seed)
        src = tmp / f"s{seed}.tif"
        with rasterio.open(src, "w", driver="GTiff", count=3, height=512, width=512, dtype="uint8",
                           transform=from_origin(0, 512, 1, 1)) as ds:
            ds.write(np.moveaxis(sec.image, -1, 0))
        for tta in (False, True):
            t = time.perf_counter()
            out = model_probabilities(src, model, tmp / f"p{seed}{tta}.tif", tta=tta,
                                      tile_params=TileParams(device="cpu", batch_size=4))
            dt = time.perf_counter() - t
            with rasterio.open(out) as ds:
                p = ds.read()
            err = (p.argmax(0) != sec.mask) & (sec.mask != 255)
            for metric in ("entropy", "margin"):
                sel = select_regions(uncertainty(p, metric), 0.07)[0] > 0
                rand = np.mean([err[np.roll(sel, tuple(rng.integers(0, 512, 2)), (0, 1))].sum() for _ in range(50)])
                res.setdefault((tta, metric), []).append((err.mean(), err[sel].sum() / max(rand, 1), dt))
    print("## uncertainty regions with the demo minerals model (3 synthetic 512 x 512 sections, share 7 %)")
    for (tta, metric), v in res.items():
        v = np.array(v)
        print(f"{'TTA (4 views)' if tta else 'plain'} {metric}: pixel error {100 * v[:, 0].mean():.1f} %, errors inside / "
              f"random {v[:, 1].mean():.2f} ({v[:, 1].min():.2f}..{v[:, 1].max():.2f}), {v[:, 2].mean():.1f} s per section")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("parts", nargs="*", default=["flatfield", "align", "annotate", "uncertainty"])
    ap.add_argument("--data", type=Path, default=Path(os.environ.get(
        "GEOCORE_TEST_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data")))
    args = ap.parse_args()
    sections = args.data.resolve() / "sections"
    for part in args.parts:
        t = time.perf_counter()
        {"flatfield": lambda: bench_flatfield(sections), "align": lambda: bench_align(sections),
         "annotate": bench_annotate, "uncertainty": bench_uncertainty,
         "uncertainty-model": bench_uncertainty_model}[part]()
        print(f"({part}: {time.perf_counter() - t:.0f} s)\n", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
