"""Run the shipped lineament model over the real survey grids in ../shared/data/grids.

Geosoft grids are read with harmonica's Oasis montaj reader (the CRS comes from the
WKT in the ``.xml`` companion), written as GeoTIFF, and passed to
``geocore.lineaments.detect.detect_to_folder``. A figure of each grid with its axes is
written next to the outputs.

    python bench/real_grids.py [--out-dir real_grids_output] [--model M.safetensors]
"""

from __future__ import annotations

import argparse
import os
import re
import time
from pathlib import Path

import numpy as np

DATA = Path(os.environ.get("GEOCORE_TEST_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data"))
GRIDS = ["wittichica_residual_tmi_50m.grd", "bhn_tmi_250m.grd"]


def geosoft_to_geotiff(grd: Path, out: Path) -> Path:
    import harmonica as hm
    import rasterio
    from rasterio.transform import from_origin

    da = hm.load_oasis_montaj_grid(grd)
    values = np.asarray(da.values, dtype="float32")
    e, n = np.asarray(da.easting), np.asarray(da.northing)
    dx, dy = float(e[1] - e[0]), float(n[1] - n[0])
    if dy > 0:  # harmonica returns northing increasing: GeoTIFF rows run north to south
        values = values[::-1]
    crs = None
    xml = grd.with_name(grd.name + ".xml")
    if xml.is_file():
        codes = re.findall(r'AUTHORITY\[&quot;EPSG&quot;,(\d+)\]\]', xml.read_text(errors="ignore"))
        if codes:
            crs = f"EPSG:{codes[-1]}"
    transform = from_origin(float(e.min()) - dx / 2, float(n.max()) + abs(dy) / 2, dx, abs(dy))
    with rasterio.open(out, "w", driver="GTiff", width=values.shape[1], height=values.shape[0], count=1,
                       dtype="float32", crs=crs, transform=transform, nodata=float("nan")) as dst:
        dst.write(values, 1)
    return out


def main() -> None:
    from geocore.lineaments.detect import detect_to_folder

    ap = argparse.ArgumentParser()
    ap.add_argument("--out-dir", type=Path, default=Path("real_grids_output"))
    ap.add_argument("--model", type=Path, default=None)
    args = ap.parse_args()
    args.out_dir.mkdir(parents=True, exist_ok=True)
    for name in GRIDS:
        grd = DATA / "grids" / name
        tif = geosoft_to_geotiff(grd, args.out_dir / (grd.stem + ".tif"))
        t0 = time.time()
        res = detect_to_folder(tif, args.out_dir / grd.stem, model_path=args.model)
        lengths = res.gdf["length"].to_numpy() if res.n_lines else np.array([])
        import rasterio

        with rasterio.open(res.probability) as src:
            p = src.read(1)
        print(f"{name}: {p.shape[1]} x {p.shape[0]} cells, {res.n_lines} lineaments, total length "
              f"{lengths.sum() / 1000:.1f} km, share of cells with p > 0.5: {np.nanmean(p > 0.5):.3f}, "
              f"{time.time() - t0:.1f} s; outputs in {args.out_dir / grd.stem}")
        if res.n_lines:
            az = res.gdf["azimuth"].to_numpy()
            hist, edges = np.histogram(az, bins=6, range=(0, 180), weights=lengths)
            print("  length-weighted strike (6 bins of 30 deg from N): " + ", ".join(f"{h / lengths.sum():.2f}" for h in hist))


if __name__ == "__main__":
    main()
