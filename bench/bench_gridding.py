"""Benchmark: grid the 541,508-point Britain aeromagnetic survey at 1 km (target < 5 min on 2 cores).

    python bench/bench_gridding.py [--cell 1000] [--method linear]

Reads ``$GEOCORE_TEST_DATA/lines/britain-magnetic.csv.xz`` (default
``../shared/data``), projects to the British National Grid (EPSG:27700),
block-medians, interpolates and blanks at 5 km, writes a GeoTIFF; runs in a
fresh process so the peak RSS is the gridding's own.
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

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("GEOCORE_TEST_DATA", ROOT / ".." / "shared" / "data"))
SURVEY = DATA / "lines" / "britain-magnetic.csv.xz"

CHILD = """
import json, resource, sys, time
sys.path.insert(0, {root!r})
from geocore.grids.lines import LineGridParams, grid_flight_lines
t0 = time.perf_counter()
params = LineGridParams(cell={cell}, value="total_field_anomaly_nt", crs="EPSG:27700", blank={blank},
                        method={method!r}, threads=2)
res = grid_flight_lines({survey!r}, {out!r}, params)
seconds = time.perf_counter() - t0
import numpy as np
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2
print(json.dumps(dict(seconds=seconds, peak_rss_gib=rss, summary=res.summary(),
                      filled=float(np.isfinite(res.grid.data).mean()), blocks=res.n_blocks)))
"""


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--cell", type=float, default=1000.0)
    p.add_argument("--blank", type=float, default=5000.0)
    p.add_argument("--method", default="linear")
    args = p.parse_args()
    if not SURVEY.is_file():
        sys.exit(f"{SURVEY} not found; set GEOCORE_TEST_DATA")
    with tempfile.TemporaryDirectory() as tmp:
        code = CHILD.format(root=str(ROOT), cell=args.cell, blank=args.blank, method=args.method,
                            survey=str(SURVEY), out=str(Path(tmp) / "britain.tif"))
        t0 = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        wall = time.perf_counter() - t0
    res = json.loads(out.stdout.strip().splitlines()[-1])
    load = os.getloadavg()[0]
    print(f"Britain survey, {args.cell:g} m cells, {args.method}, blank {args.blank:g} m")
    print(res["summary"])
    print(f"gridding: {res['seconds']:.1f} s (process wall {wall:.1f} s), peak RSS {res['peak_rss_gib']:.2f} GiB, "
          f"{res['filled']:.0%} of cells filled, load average {load:.1f} on {os.cpu_count()} cores")


if __name__ == "__main__":
    main()
