"""Benchmark: 25 full-size microscope photographs stitched at full resolution.

A scene larger than the panorama is built from the real section photographs in
``../shared/data/sections`` (the three 3396 x 2547 photographs and a mirrored
copy of the first, 2 x 2, enlarged x 2.01 to 13 652 x 10 239 px, with a
+-6 % full-resolution grain; no content appears twice); 5 x 5 tiles
of 3396 x 2547 px (the paper's camera) are cut from it with 25 % overlap, a
random sub-pixel stage error of +-8 px, 30 % vignetting and noise, and saved as
JPEG (quality 95).

Then, each in its own process (time, CPU time and peak memory of that process):

- ``geocore.panorama.stitch`` (defaults: phase correlation, feathering, cubic
  resampling, overviews);
- OpenCV's ``Stitcher`` in SCANS mode with compositing at the original
  resolution (``setCompositingResol(-1)``; by default it returns the panorama
  downscaled).

Position error: each tile's centre (512 x 512 px) is located in each panorama
by normalised cross-correlation with a sub-pixel peak fit and compared with
the true positions after removing the mean offset. For geocore the estimated
positions are also compared directly.

Usage::

    python bench/bench_panorama.py [--work DIR] [--skip-opencv] [--grid 5]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("GEOCORE_TEST_DATA", REPO / ".." / "shared" / "data"))
TILE = (2547, 3396)


def make_tiles(work: Path, grid: int, overlap: float, seed: int = 7) -> dict:
    """Cut ``grid`` x ``grid`` tiles from a mosaic of the section photographs."""
    import cv2

    sys.path.insert(0, str(REPO))
    sys.path.insert(0, str(REPO / "tests"))
    from panorama_helpers import cut_tiles, load_rgb

    truth_file = work / "truth.json"
    if truth_file.exists():
        return json.loads(truth_file.read_text())
    # three distinct photographs and a mirrored one (a mirror image is not a rotation, so rotation-invariant
    # features cannot pair it with the original), 2 x 2 at full resolution, enlarged x 2.01, with a
    # full-resolution grain so that every pixel carries detail. No content appears twice: an unordered
    # stitcher (OpenCV's) must not find matches between tiles that do not overlap.
    photos = [load_rgb(DATA / "sections" / f"calibration_src_0{i}.jpg") for i in (1, 2, 3)]
    h, w = photos[0].shape[:2]
    mosaic = np.zeros((2 * h, 2 * w, 3), np.uint8)
    for k, p in enumerate([photos[0], photos[1], photos[2], photos[0][::-1]]):
        mosaic[(k // 2) * h:(k // 2 + 1) * h, (k % 2) * w:(k % 2 + 1) * w] = p
    del photos
    th, tw = TILE
    need_h = int(th * (1 + (grid - 1) * (1 - overlap)) + 48)
    need_w = int(tw * (1 + (grid - 1) * (1 - overlap)) + 48)
    scale = max(need_h / mosaic.shape[0], need_w / mosaic.shape[1])
    scene = cv2.resize(mosaic, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
    del mosaic
    rng = np.random.default_rng(seed)
    for y0 in range(0, scene.shape[0], 1024):
        y1 = min(scene.shape[0], y0 + 1024)
        noise = rng.normal(0, 1, (y1 - y0 + 16, scene.shape[1])).astype(np.float32)
        grain = cv2.GaussianBlur(noise, (0, 0), 1.0)[8:8 + y1 - y0]
        grain *= 0.06 / grain.std()
        scene[y0:y1] = np.clip(scene[y0:y1] * (1 + grain[..., None]), 0, 255).astype(np.uint8)
    cut = cut_tiles(scene, work / "tiles", rows=grid, cols=grid, tile_shape=TILE, overlap=overlap, jitter=8.0,
                    vignette=0.3, noise=2.0, seed=seed, suffix=".jpg")
    truth = {"names": [p.name for p in cut.paths], "positions": cut.positions.tolist(),
             "scene_shape": list(scene.shape)}
    truth_file.write_text(json.dumps(truth))
    return truth


# peak memory of the child itself: VmHWM starts afresh at exec, whereas ru_maxrss keeps the
# parent's peak (the parent held the scene while cutting the tiles)
HWM = r"""
def hwm_mib():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
"""

CHILD_GEOCORE = HWM + r"""
import json, resource, sys, time
sys.path.insert(0, {repo!r})
from geocore.panorama import StitchParams, stitch
t0 = time.perf_counter()
res = stitch([{tiles!r}], {out!r}, StitchParams(um_per_px=0.5))
wall = time.perf_counter() - t0
ru = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps(dict(wall=wall, cpu=ru.ru_utime + ru.ru_stime, rss_mib=hwm_mib(), rows=res.rows,
                      cols=res.cols, names=res.names, positions=res.positions.tolist(), rms=res.rms,
                      used=res.n_pairs_used, pairs=len(res.pairs))))
"""

# OpenCV keeps every input image and warped copy in memory: about 15 GiB peak for these 25 tiles
CHILD_OPENCV = HWM + r"""
import json, resource, sys, time, glob
import cv2
cv2.setNumThreads(2)
t0 = time.perf_counter()
names = sorted(glob.glob({tiles!r} + "/*.jpg"))
imgs = [cv2.imread(n) for n in names]
st = cv2.Stitcher_create(cv2.Stitcher_SCANS)
st.setCompositingResol(-1)  # ORIG_RESOL: compose at full resolution
status, pano = st.stitch(imgs)
wall = time.perf_counter() - t0
ru = resource.getrusage(resource.RUSAGE_SELF)
out = dict(wall=wall, cpu=ru.ru_utime + ru.ru_stime, rss_mib=hwm_mib(), status=int(status),
           component=[int(c) for c in (st.component() if st.component() is not None else [])])
if status == 0:
    cv2.imwrite({out!r}, pano, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    out["shape"] = list(pano.shape)
print(json.dumps(out))
"""


def run_child(code: str, timeout: float) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="2")
    t0 = time.perf_counter()
    try:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    if out.returncode != 0:
        return {"error": out.stderr[-2000:], "wall": time.perf_counter() - t0}
    return json.loads(out.stdout.strip().splitlines()[-1])


def locate_tiles(pano_path: Path, tiles_dir: Path, names, truth: np.ndarray, patch: int = 512) -> np.ndarray:
    """Top-left (y, x) of every tile in a panorama, from its centre patch (NCC, sub-pixel parabola fit)."""
    import cv2

    pano = cv2.imread(str(pano_path), cv2.IMREAD_GRAYSCALE)
    if pano is None:  # GeoTIFF with a mask: read through rasterio
        import rasterio

        with rasterio.open(pano_path) as ds:
            pano = ds.read().mean(axis=0).astype(np.uint8)
    th, tw = TILE
    cy, cx = (th - patch) // 2, (tw - patch) // 2
    # coarse: where does the first tile's centre lie (downscaled search)?
    f = 8
    small = cv2.resize(pano, None, fx=1 / f, fy=1 / f, interpolation=cv2.INTER_AREA)
    t0 = cv2.imread(str(tiles_dir / names[0]), cv2.IMREAD_GRAYSCALE)
    p0 = cv2.resize(t0[cy:cy + patch, cx:cx + patch], None, fx=1 / f, fy=1 / f, interpolation=cv2.INTER_AREA)
    _, _, _, (x, y) = cv2.minMaxLoc(cv2.matchTemplate(small, p0, cv2.TM_CCOEFF_NORMED))
    offset = np.array([y * f - cy, x * f - cx], float) - truth[0]
    found = []
    for name, t in zip(names, truth):
        tile = cv2.imread(str(tiles_dir / name), cv2.IMREAD_GRAYSCALE)
        ey, ex = np.round(t + offset).astype(int) + (cy, cx)
        m = 48
        y0, x0 = max(0, ey - m), max(0, ex - m)
        region = pano[y0:ey + patch + m, x0:ex + patch + m]
        score = cv2.matchTemplate(region, tile[cy:cy + patch, cx:cx + patch], cv2.TM_CCOEFF_NORMED)
        _, _, _, (px, py) = cv2.minMaxLoc(score)

        sy = sx = 0.0
        if 0 < py < score.shape[0] - 1:
            a, b, c = score[py - 1, px], score[py, px], score[py + 1, px]
            sy = 0.5 * (a - c) / (a - 2 * b + c) if (a - 2 * b + c) != 0 else 0.0
        if 0 < px < score.shape[1] - 1:
            a, b, c = score[py, px - 1], score[py, px], score[py, px + 1]
            sx = 0.5 * (a - c) / (a - 2 * b + c) if (a - 2 * b + c) != 0 else 0.0
        found.append((y0 + py + sy - cy, x0 + px + sx - cx))
    return np.array(found)


def rms_error(est, truth):
    d = (np.asarray(est) - np.mean(est, axis=0)) - (truth - truth.mean(axis=0))
    dist = np.hypot(d[:, 0], d[:, 1])
    return float(np.sqrt(np.mean(dist ** 2))), float(dist.max())


def similarity_error(est, truth):
    """RMS and max distance after removing the best global similarity (shift, rotation, scale)."""
    a = np.asarray(est, float) - np.mean(est, axis=0)
    b = truth - truth.mean(axis=0)
    u, sv, vt = np.linalg.svd(a.T @ b)
    d = np.sign(np.linalg.det(u @ vt))
    rot = u @ np.diag([1.0, d]) @ vt
    scale = (sv * [1.0, d]).sum() / (a ** 2).sum()
    diff = scale * a @ rot - b
    dist = np.hypot(diff[:, 0], diff[:, 1])
    return float(np.sqrt(np.mean(dist ** 2))), float(dist.max()), float(scale)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=Path("/tmp/geocore_bench_panorama"))
    ap.add_argument("--grid", type=int, default=5)
    ap.add_argument("--overlap", type=float, default=0.25)
    ap.add_argument("--skip-opencv", action="store_true")
    ap.add_argument("--skip-geocore", action="store_true", help="only OpenCV's Stitcher (tiles already cut)")
    ap.add_argument("--opencv-timeout", type=float, default=900)
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    print(f"load average before: {os.getloadavg()}")
    t0 = time.perf_counter()
    truth = make_tiles(args.work, args.grid, args.overlap)
    print(f"tiles: {len(truth['names'])} x {TILE[1]} x {TILE[0]} px JPEG, scene {truth['scene_shape']} "
          f"({time.perf_counter() - t0:.0f} s to make)")
    names = truth["names"]
    true_pos = np.array(truth["positions"])
    tiles_dir = args.work / "tiles"

    ours_tif = args.work / "geocore.tif"
    if args.skip_geocore:
        return run_opencv(args, tiles_dir, names, true_pos)
    g = run_child(CHILD_GEOCORE.format(repo=str(REPO), tiles=str(tiles_dir), out=str(ours_tif)), 1800)
    print(f"load average after geocore: {os.getloadavg()}")
    if "error" in g:
        print("geocore failed:", g["error"])
        return 1
    est = np.array(g["positions"])
    order = [g["names"].index(n) for n in names]
    direct = rms_error(est[order], true_pos)
    found = locate_tiles(ours_tif, tiles_dir, names, true_pos)
    located = rms_error(found, true_pos)
    located_sim = similarity_error(found, true_pos)
    pano_mib = g["rows"] * g["cols"] * 3 / 2 ** 20
    print(f"geocore: {g['wall']:.1f} s wall, {g['cpu']:.1f} s CPU, peak RSS {g['rss_mib']:.0f} MiB; "
          f"panorama {g['cols']} x {g['rows']} px ({pano_mib:.0f} MiB uncompressed); "
          f"pairs {g['used']}/{g['pairs']}, residual RMS {g['rms']:.3f} px")
    print(f"geocore position error: estimated positions RMS {direct[0]:.3f} px (max {direct[1]:.3f}); "
          f"located in the panorama RMS {located[0]:.3f} px (max {located[1]:.3f}); after removing a global "
          f"similarity RMS {located_sim[0]:.3f} px")
    if args.skip_opencv:
        return 0
    return run_opencv(args, tiles_dir, names, true_pos)


def run_opencv(args, tiles_dir, names, true_pos) -> int:
    cv_png = args.work / "opencv.png"
    c = run_child(CHILD_OPENCV.format(tiles=str(tiles_dir), out=str(cv_png)), args.opencv_timeout)
    print(f"load average after OpenCV: {os.getloadavg()}")
    if "error" in c or c.get("status") != 0:
        print("OpenCV Stitcher failed:", c)
        return 0
    print(f"OpenCV Stitcher (SCANS, compositing at full resolution): {c['wall']:.1f} s wall, {c['cpu']:.1f} s CPU, "
          f"peak RSS {c['rss_mib']:.0f} MiB; panorama {c['shape'][1]} x {c['shape'][0]} px; "
          f"{len(c['component'])} of {len(names)} tiles kept")
    kept = c["component"] or list(range(len(names)))
    kept_names = [names[k] for k in kept]
    found = locate_tiles(cv_png, tiles_dir, kept_names, true_pos[kept])
    cv_err = rms_error(found, true_pos[kept])
    cv_sim = similarity_error(found, true_pos[kept])
    print(f"OpenCV position error of the {len(kept)} tiles it kept (located in its panorama): "
          f"RMS {cv_err[0]:.3f} px (max {cv_err[1]:.3f}); after removing a global similarity (scale "
          f"{cv_sim[2]:.5f}): RMS {cv_sim[0]:.3f} px (max {cv_sim[1]:.3f}); "
          f"dropped: {sorted(set(names) - set(kept_names))}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
