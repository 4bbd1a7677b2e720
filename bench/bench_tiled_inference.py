"""Benchmarks of the tiled inference engine (geocore.inference.predict_raster).

    python bench/bench_tiled_inference.py [--quick] [--skip-big]

1. overhead: tiled inference over a 2048 x 2048 grid / a plain batched forward of
   the same model over the same number of tiles (target <= 1.2);
2. seam check: predictions for a grid and for the same grid cropped by half a tile
   agree on their common area (99th percentile of |difference|);
3. peak memory (RSS) of a 20000 x 20000 float32 grid, in a fresh process (target < 2 GiB).

Stand-in models (no trained model is needed): for 1 and 2 a U-Net with a ResNet-18
encoder and 16-channel decoder, random weights, 192-cell tiles, local z-score
normalisation (window 192) as the shipped card; for 3 a one-layer 3 x 3
convolution with affine normalisation, because 24 000 tiles of a real U-Net (or
of the local z-score) take hours on 2 CPU cores; the memory bound comes from the
streaming, which is the same code path.
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


def synthetic_grid(rows, cols, seed=0, r0=0):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[r0:r0 + rows, 0:cols].astype(np.float32)
    g = 100.0 * np.sin(x / 37.0) * np.cos(y / 23.0) + 30.0 * np.sin((x + 2 * y) / 11.0)
    return (g + rng.standard_normal((rows, cols)).astype(np.float32)).astype(np.float32)


def write_grid(path, rows, cols, *, strip=1024, tiled=True):
    import rasterio
    from rasterio.transform import from_origin
    from rasterio.windows import Window

    prof = dict(driver="GTiff", width=cols, height=rows, count=1, dtype="float32", crs="EPSG:32733",
                transform=from_origin(0, rows * 50.0, 50.0, 50.0), nodata=float("nan"))
    if tiled:
        prof.update(tiled=True, blockxsize=256, blockysize=256, compress="deflate", predictor=3, BIGTIFF="YES")
    with rasterio.open(path, "w", **prof) as ds:
        for r0 in range(0, rows, strip):
            n = min(strip, rows - r0)
            ds.write(synthetic_grid(n, cols, seed=r0, r0=r0)[None], window=Window(0, r0, cols, n))
    return path


def unet_card(tile=192):
    from geocore.models import ModelCard

    return ModelCard(tile_size=tile, encoder="resnet18", decoder_channels=[16, 16, 16, 16, 16],
                     normalization={"mode": "local_zscore", "window": 192, "clip": 3.0})


def bench_overhead(tmp: Path, size: int) -> dict:
    import torch

    from geocore.inference import TileParams, predict_raster, tile_origins
    from geocore.models import build_model

    torch.manual_seed(0)
    card = unet_card()
    model = build_model(card).eval()
    src = write_grid(tmp / "g2048.tif", size, size)
    params = TileParams(overlap=0.5, batch_size=8, device="cpu")
    stride = 96
    n_tiles = len(tile_origins(size, 192, stride)) ** 2
    # warm up the kernels once
    with torch.inference_mode():
        model(torch.zeros(8, 1, 192, 192))
    t0 = time.perf_counter()
    predict_raster(src, tmp / "p2048.tif", model, card, params=params)
    t_tiled = time.perf_counter() - t0
    x = torch.rand(8, 1, 192, 192)
    t0 = time.perf_counter()
    with torch.inference_mode():
        for i in range(0, n_tiles, 8):
            torch.sigmoid(model(x[: min(8, n_tiles - i)]))
    t_plain = time.perf_counter() - t0
    return dict(grid=f"{size}x{size}", tiles=n_tiles, tiled_s=round(t_tiled, 2), plain_forward_s=round(t_plain, 2),
                ratio=round(t_tiled / t_plain, 3))


def bench_seam(tmp: Path, size: int, overlap: float = 0.5, shift: int | None = None,
               model_path: str | None = None) -> dict:
    import rasterio
    import torch
    from rasterio.windows import Window

    from geocore.inference import TileParams, predict_raster
    from geocore.models import build_model, load_model

    torch.manual_seed(1)
    if model_path:
        # a trained model on a realistic synthetic survey (dykes and distractors)
        from geocore.magnetics.synthetic import SurveyConfig, synthesize_survey

        model, card = load_model(model_path, device="cpu")
        survey_dir = tmp / f"survey{size}"
        if not (survey_dir / "field.tif").is_file():
            import dataclasses

            # the demo's density: 1.5-3 dykes per 192 x 192 cells
            config = dataclasses.replace(SurveyConfig.from_preset("realistic"), dykes=(1.5, 3.0),
                                         compact_bodies=(0, 1), contacts=(0, 1))
            synthesize_survey(survey_dir, rows=size, cols=size, cell_size=50.0, seed=7, config=config)
        src = survey_dir / "field.tif"
    else:
        card = unet_card()
        model = build_model(card).eval()
        src = write_grid(tmp / "seam.tif", size, size)
    half = card.tile_size // 2 if shift is None else shift
    with rasterio.open(src) as ds:
        prof = ds.profile
        data = ds.read(1, window=Window(half, half, size - half, size - half))
        prof.update(width=size - half, height=size - half,
                    transform=ds.window_transform(Window(half, half, size - half, size - half)))
    crop = tmp / "seam_crop.tif"
    with rasterio.open(crop, "w", **prof) as ds:
        ds.write(data[None])
    params = TileParams(overlap=overlap, batch_size=8, device="cpu")
    a = predict_raster(src, tmp / "pa.tif", model, card, params=params)
    b = predict_raster(crop, tmp / "pb.tif", model, card, params=params)
    with rasterio.open(a) as da, rasterio.open(b) as db:
        pa = da.read(1)[half:, half:]
        pb = db.read(1)
    # keep away from the crop's own raster edge, where the network sees different context
    m = card.tile_size
    d = np.abs(pa - pb)[m:-m, m:-m]
    spread = float(np.percentile(pa, 99) - np.percentile(pa, 1))
    ca, cb = pa[m:-m, m:-m] > 0.5, pb[m:-m, m:-m] > 0.5
    flips = float((ca != cb).sum() / max(1, (ca | cb).sum()))
    return dict(grid=f"{size}x{size}", shift_cells=half, overlap=overlap, p99_abs_diff=float(np.percentile(d, 99)),
                max_abs_diff=float(d.max()), p1_to_p99_of_prediction=spread, class_flips=flips)


BIG_CHILD = r"""
import json, resource, sys, time
import torch
sys.path.insert(0, sys.argv[3])
from geocore.inference import TileParams, predict_raster
from geocore.models import ModelCard
torch.set_num_threads(2)
class OneConv(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.c = torch.nn.Conv2d(1, 1, 3, padding=1)
    def forward(self, x):
        return self.c(x)
card = ModelCard(tile_size=512, normalization={"mode": "affine", "scale": [0.01], "offset": [0.0]})
t0 = time.perf_counter()
predict_raster(sys.argv[1], sys.argv[2], OneConv().eval(), card, params=TileParams(overlap=0.25, batch_size=8, device="cpu"))
t = time.perf_counter() - t0
print(json.dumps(dict(seconds=round(t, 1), peak_rss_gib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20)))
"""


def bench_big(tmp: Path, size: int) -> dict:
    src = tmp / "big.tif"
    t0 = time.perf_counter()
    write_grid(src, size, size, strip=512)
    t_write = time.perf_counter() - t0
    repo = str(Path(__file__).resolve().parents[1])
    out = subprocess.run([sys.executable, "-c", BIG_CHILD, str(src), str(tmp / "big_p.tif"), repo],
                         capture_output=True, text=True, check=True)
    res = json.loads(out.stdout.strip().splitlines()[-1])
    res.update(grid=f"{size}x{size}", input_file_gib=round(src.stat().st_size / 2**30, 2),
               write_input_s=round(t_write, 1), uncompressed_grid_gib=round(size * size * 4 / 2**30, 2))
    return res


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="smaller grids (smoke test)")
    ap.add_argument("--skip-big", action="store_true")
    ap.add_argument("--skip-seam", action="store_true")
    ap.add_argument("--skip-overhead", action="store_true")
    ap.add_argument("--big-size", type=int, default=20000)
    ap.add_argument("--model", default=None,
                    help="seam check with this trained model on a realistic synthetic survey "
                         "(default: a random-weight stand-in on a random field)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(dir=os.environ.get("BENCH_TMP")) as d:
        tmp = Path(d)
        size = 512 if args.quick else 2048
        r = None if args.skip_overhead else bench_overhead(tmp, size)
        if r:
            print(f"overhead  {r['grid']}, {r['tiles']} tiles: tiled {r['tiled_s']} s, plain batched forward "
              f"{r['plain_forward_s']} s, ratio {r['ratio']} (target <= 1.2)", flush=True)
        # with overlap 0.5 the stride is half a tile, so a crop by half a tile gives the very same
        # tiles; the overlap-0.25 run and the 53-cell crop put the tile borders elsewhere
        for ov, sh in () if args.skip_seam else ((0.5, None), (0.25, None), (0.5, 53)):
            s = bench_seam(tmp, 768 if args.quick else 1024, overlap=ov, shift=sh, model_path=args.model)
            print(f"seam      {s['grid']} overlap {ov} vs crop by {s['shift_cells']} cells: p99 |diff| "
                  f"{s['p99_abs_diff']:.2e}, max {s['max_abs_diff']:.2e} "
                  f"(prediction p1-p99 spread {s['p1_to_p99_of_prediction']:.3f}); cells whose class at 0.5 "
                  f"differs / cells lineament in either: {s['class_flips']:.4f}", flush=True)
        if not args.skip_big:
            b = bench_big(tmp, 2000 if args.quick else args.big_size)
            print(f"memory    {b['grid']} float32 ({b['uncompressed_grid_gib']} GiB uncompressed, file "
                  f"{b['input_file_gib']} GiB): peak RSS {b['peak_rss_gib']:.2f} GiB (target < 2), "
                  f"{b['seconds']} s", flush=True)


if __name__ == "__main__":
    main()
