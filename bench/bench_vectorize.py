"""Benchmark: vectorise a 10000 x 10000 probability map (target < 60 s on 2 cores).

    python bench/bench_vectorize.py [--size 10000]

The map holds 400 soft lines (3-7 cells wide, random strikes, 200-3000 cells
long, some broken by gaps), low background noise and a NaN corner. Runs in a
fresh process so its peak RSS is the vectoriser's own.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def write_map(path: Path, size: int, n_lines: int = 400, seed: int = 0) -> None:
    import cv2
    import rasterio
    from rasterio.transform import from_origin

    rng = np.random.default_rng(seed)
    img = np.zeros((size, size), np.uint8)
    for _ in range(n_lines):
        x0, y0 = rng.integers(0, size, 2)
        ang, length = rng.uniform(0, np.pi), rng.uniform(200, 3000)
        x1, y1 = int(x0 + length * np.cos(ang)), int(y0 + length * np.sin(ang))
        cv2.line(img, (int(x0), int(y0)), (x1, y1), 230, int(rng.integers(3, 8)))
        if rng.random() < 0.3:  # a gap of a few cells
            t = rng.uniform(0.3, 0.7)
            cx, cy = int(x0 + t * (x1 - x0)), int(y0 + t * (y1 - y0))
            cv2.circle(img, (cx, cy), int(rng.integers(2, 5)), 0, -1)
    prob = img.astype(np.float32) / 255.0
    prob += rng.uniform(0.0, 0.3, (size, size)).astype(np.float32)
    prob[: size // 20, : size // 20] = np.nan
    with rasterio.open(path, "w", driver="GTiff", width=size, height=size, count=1, dtype="float32",
                       crs="EPSG:32733", transform=from_origin(0, size * 50.0, 50.0, 50.0), nodata=float("nan"),
                       tiled=True, blockxsize=256, blockysize=256, compress="deflate", predictor=3,
                       BIGTIFF="IF_SAFER") as ds:
        ds.write(prob[None])


CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, sys.argv[2])
from geocore.lineaments.vectorize import vectorize_probability
t0 = time.perf_counter()
gdf = vectorize_probability(sys.argv[1])
t = time.perf_counter() - t0
print(json.dumps(dict(seconds=round(t, 1), lines=len(gdf), total_length_km=round(float(gdf['length'].sum()) / 1e3, 1),
                      peak_rss_gib=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2))))
"""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", type=int, default=10000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as d:
        path = Path(d) / "prob.tif"
        t0 = time.perf_counter()
        write_map(path, args.size)
        print(f"wrote {args.size}x{args.size} probability map in {time.perf_counter() - t0:.1f} s", flush=True)
        repo = str(Path(__file__).resolve().parents[1])
        # one small warm-up run compiles skan's numba kernels (cached afterwards)
        out = subprocess.run([sys.executable, "-c", CHILD, str(path), repo], capture_output=True, text=True, check=True)
        r = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"vectorise {args.size}x{args.size}: {r['seconds']} s (target < 60), {r['lines']} lines, "
              f"{r['total_length_km']} km, peak RSS {r['peak_rss_gib']} GiB", flush=True)


if __name__ == "__main__":
    main()
