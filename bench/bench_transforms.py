"""Benchmark: every potential-field transform on an N x N grid (default 2000).

    python bench/bench_transforms.py [--size 2000]

A synthetic field (dipoles, 50 m cells, 1 % NaN) in UTM; prints the time of each
operation (fill, pad, harmonica transform, crop) and the peak RSS of the process.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    from rasterio.crs import CRS
    from rasterio.transform import from_origin

    from geocore.grids.io import Grid
    from geocore.magnetics.transforms import OPERATIONS, TransformParams, transform_grid

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--size", type=int, default=2000)
    args = p.parse_args()
    n, cell = args.size, 50.0
    rng = np.random.default_rng(0)
    y, x = np.mgrid[0:n, 0:n] * cell
    data = np.zeros((n, n))
    for _ in range(20):
        x0, y0, d = rng.uniform(0, n * cell), rng.uniform(0, n * cell), rng.uniform(200, 2000)
        data += 1e6 * d / ((x - x0) ** 2 + (y - y0) ** 2 + d ** 2) ** 1.5
    data[rng.random((n, n)) < 0.01] = np.nan
    grid = Grid(data, from_origin(500000, 7000000, cell, cell), CRS.from_epsg(32633), units="nT")
    extra = {"rtp": dict(inclination=60, declination=10), "up": dict(height=200.0),
             "highpass": dict(wavelength=5000.0), "lowpass": dict(wavelength=5000.0)}
    print(f"{n} x {n} grid, 50 m cells, 1 % NaN; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    for op in OPERATIONS:
        t0 = time.perf_counter()
        transform_grid(grid, TransformParams(op=op, **extra.get(op, {})))
        print(f"  {op:9s} {time.perf_counter() - t0:6.2f} s")
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2
    print(f"peak RSS {rss:.2f} GiB")


if __name__ == "__main__":
    main()
