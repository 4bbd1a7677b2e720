"""Benchmark: colour correction on the real 3396 x 2547 photographs (targets: fit < 5 s, apply < 1 s).

    python bench/bench_colour.py [--data ../shared/data]

No annotation exists for the real photographs, so the "classes" are colour
clusters (k-means in CIELAB, 6 clusters) of the undistorted photo, which a
partial annotation would pick out as well. The photo is then distorted as
another camera would see it (a 4 x 3 matrix in linear RGB: blue-poor response,
channel cross-talk, black offset), 5 % of its pixels keep their class
(the partial annotation), and the correction is fitted against a reference:
another real photo of the same series with its own 5 % annotation. CIEDE2000
is measured on the held-out 95 % of pixels against the undistorted photo.

Calibration mode: the matrix fitted on photo 2 is applied to photo 3 taken
with the same (distorted) camera.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CAMERA = np.array([[0.80, 0.05, 0.00],
                   [0.10, 0.70, 0.05],
                   [0.00, 0.10, 0.55],
                   [0.02, 0.015, 0.03]])


def distort(rgb: np.ndarray) -> np.ndarray:
    from geocore.microscopy.colour import ColourCorrection

    return ColourCorrection(matrix=CAMERA).apply(rgb)


def clusters(rgb: np.ndarray, centres=None, k: int = 6, seed: int = 0):
    import cv2
    from skimage.color import rgb2lab

    small = cv2.resize(rgb, (rgb.shape[1] // 4, rgb.shape[0] // 4), interpolation=cv2.INTER_AREA)
    lab_small = rgb2lab(small).reshape(-1, 3).astype(np.float32)
    if centres is None:
        cv2.setRNGSeed(seed)
        _, _, centres = cv2.kmeans(lab_small, k, None, (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 50, 0.1),
                                   3, cv2.KMEANS_PP_CENTERS)
    lab = rgb2lab(rgb).reshape(-1, 3).astype(np.float32)
    labels = np.empty(lab.shape[0], np.uint8)
    for i in range(0, lab.shape[0], 1 << 20):
        d = ((lab[i:i + (1 << 20), None, :] - centres[None]) ** 2).sum(-1)
        labels[i:i + (1 << 20)] = d.argmin(1)
    return labels.reshape(rgb.shape[:2]), centres


def partial(mask: np.ndarray, share: float, seed: int) -> np.ndarray:
    ann = np.full(mask.shape, 255, np.uint8)
    pick = np.random.default_rng(seed).random(mask.shape) < share
    ann[pick] = mask[pick]
    return ann


def held_out_delta_e(a: np.ndarray, b: np.ndarray, keep: np.ndarray, n: int = 400_000) -> float:
    from geocore.microscopy.colour import delta_e, linearize

    idx = np.flatnonzero(keep.ravel())
    idx = np.random.default_rng(1).choice(idx, size=min(n, idx.size), replace=False)
    return float(delta_e(linearize(a.reshape(-1, 3)[idx]), linearize(b.reshape(-1, 3)[idx])).mean())


def main() -> int:
    from geocore.microscopy.colour import fit_colour_correction
    from geocore.microscopy.images import read_rgb

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=Path(os.environ.get(
        "GEOCORE_TEST_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data")))
    args = ap.parse_args()
    sections = args.data.resolve() / "sections"
    ref = read_rgb(sections / "calibration_out_01.jpg").rgb
    photo2 = read_rgb(sections / "calibration_out_02.jpg").rgb
    photo3 = read_rgb(sections / "calibration_out_03.jpg").rgb
    print(f"photo: {photo2.shape[1]} x {photo2.shape[0]} px; threads: OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}")

    ref_mask, centres = clusters(ref)
    mask2, _ = clusters(photo2, centres)
    mask3, _ = clusters(photo3, centres)
    seen2, seen3 = distort(photo2), distort(photo3)
    ann2, ref_ann = partial(mask2, 0.05, 2), partial(ref_mask, 0.05, 1)

    fits = []
    for _ in range(3):
        t = time.perf_counter()
        corr = fit_colour_correction(seen2, ann2, ref, ref_ann)
        fits.append(time.perf_counter() - t)
    applies = []
    for _ in range(3):
        t = time.perf_counter()
        out2 = corr.apply(seen2)
        applies.append(time.perf_counter() - t)
    out3 = corr.apply(seen3)
    held2 = ann2 == 255
    print(f"classes matched: {corr.classes}")
    print(f"fit (class means on the full photo + CIEDE2000 least squares): best {min(fits):.2f} s "
          f"(runs {', '.join(f'{t:.2f}' for t in fits)})  target < 5 s")
    print(f"apply: best {min(applies):.2f} s (runs {', '.join(f'{t:.2f}' for t in applies)})  target < 1 s")
    print(f"class-mean CIEDE2000: {np.mean(list(corr.delta_e_before.values())):.2f} -> "
          f"{np.mean(list(corr.delta_e_after.values())):.2f}")
    print(f"per-image mode, held-out pixels of photo 2: CIEDE2000 {held_out_delta_e(seen2, photo2, held2):.2f} -> "
          f"{held_out_delta_e(out2, photo2, held2):.2f}")
    same = fit_colour_correction(seen2, ann2, photo2, ann2)
    print(f"per-image mode, reference = the undistorted photo itself (the method's floor): held-out CIEDE2000 "
          f"{held_out_delta_e(same.apply(seen2), photo2, held2):.2f}")
    every = np.ones(mask3.shape, bool)
    print(f"calibration mode, all pixels of photo 3: CIEDE2000 {held_out_delta_e(seen3, photo3, every):.2f} -> "
          f"{held_out_delta_e(out3, photo3, every):.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
