"""Benchmarks of the mineral pipeline (geocore.minerals).

    python bench/bench_minerals.py [--size ROWS COLS] [--model PATH] [--skip-big]

1. class balance of the paper's sampler: rarest/commonest class pixels over 500
   patches of 128 px from 40 synthetic sections (S1 + S2 classes), balanced
   versus plain random patches;
2. a large panorama (default 12000 x 8000 px, RGB JPEG-compressed tiled GeoTIFF
   made of synthetic sections, written strip by strip) through
   ``geocore minerals segment`` with the shipped demo model in a fresh process:
   wall time and peak RSS (the image itself is 275 MiB of RGB; the float32
   probabilities of 10 classes would be 3.6 GiB).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def balance() -> dict:
    from geocore.minerals.sampler import compare_balance
    from geocore.minerals.synthetic import DEMO_CODES, synthesize_section

    masks = [synthesize_section((384, 384), seed=5000 + i).mask for i in range(40)]
    return compare_balance(masks, DEMO_CODES, 128, n=500, seed=0)


def make_panorama(path: Path, rows: int, cols: int, block: int = 1024) -> None:
    """A panorama of synthetic sections, written one block at a time (never whole in memory)."""
    import rasterio
    from rasterio.windows import Window

    from geocore.minerals.synthetic import synthesize_section

    prof = dict(driver="GTiff", width=cols, height=rows, count=3, dtype="uint8", tiled=True, blockxsize=256,
                blockysize=256, compress="jpeg", photometric="YCBCR", jpeg_quality=90, BIGTIFF="IF_SAFER")
    with rasterio.open(path, "w", **prof) as ds:
        k = 0
        for r0 in range(0, rows, block):
            for c0 in range(0, cols, block):
                h, w = min(block, rows - r0), min(block, cols - c0)
                sec = synthesize_section((block, block), seed=9000 + k)
                k += 1
                ds.write(np.moveaxis(sec.image[:h, :w], -1, 0), window=Window(c0, r0, w, h))


def big(rows: int, cols: int, model) -> dict:
    with tempfile.TemporaryDirectory(prefix="bench-minerals-") as tmp:
        tmp = Path(tmp)
        pano = tmp / "panorama.tif"
        t = time.time()
        make_panorama(pano, rows, cols)
        t_make = time.time() - t
        cmd = [sys.executable, "-m", "geocore.cli", "-q", "minerals", "segment", str(pano), "--out-dir",
               str(tmp / "out"), "--um-per-px", "1.0", "--device", "cpu"]
        if model:
            cmd += ["--model", str(model)]
        env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
        t = time.time()
        out = subprocess.run(cmd, capture_output=True, text=True, env=env)
        wall = time.time() - t
        if out.returncode:
            raise SystemExit(out.stderr)
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20  # KiB -> GiB
        lines = out.stdout.splitlines()
        return {"rows": rows, "cols": cols, "make_panorama_s": round(t_make, 1), "segment_s": round(wall, 1),
                "peak_rss_gib": round(peak, 2), "summary": lines[:4],
                "polygons_mib": round((tmp / "out" / "minerals.gpkg").stat().st_size / 2**20, 1)}


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--size", nargs=2, type=int, default=(12000, 8000), metavar=("ROWS", "COLS"))
    p.add_argument("--model", default=None)
    p.add_argument("--skip-big", action="store_true")
    a = p.parse_args()
    import torch

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    res = {"balance": {k: v for k, v in balance().items() if not k.endswith("counts")}}
    print(json.dumps(res), flush=True)
    if not a.skip_big:
        res["panorama"] = big(a.size[0], a.size[1], a.model)
        print(json.dumps(res["panorama"]), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
