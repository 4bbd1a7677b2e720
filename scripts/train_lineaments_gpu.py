"""One lineament training run on a GPU machine that has PyTorch but not the whole geocore stack.

    python scripts/train_lineaments_gpu.py [the options of `geocore lineaments train`]

It takes the same options as ``geocore lineaments train`` and calls the same library function
(:func:`geocore.lineaments.train.train_lineament_model`), so the card records the equivalent
``geocore lineaments train ...`` command. What it adds: it imports only what training needs (no
rasterio, GDAL or geopandas, which a bare GPU image lacks), turns on cuDNN's autotuner, and stamps
each progress step and epoch with the seconds since the start. Used for the model's GPU stage (``docs/model_lineaments.md``).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from geocore.lineaments.train import TrainConfig, train_lineament_model  # noqa: E402


def main(argv=None) -> int:
    import torch

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    TrainConfig.add_arguments(p)
    args = p.parse_args(argv)
    config = TrainConfig.from_namespace(args)
    torch.backends.cudnn.benchmark = True
    # no CUDA call before the sample generator forks its workers: the device is first touched when training starts
    print(f"torch {torch.__version__}, cuda available: {torch.cuda.is_available()}", flush=True)
    t0 = time.time()
    stamp = lambda line: print(f"[{time.time() - t0:7.1f} s] {line}", flush=True)  # noqa: E731
    shown = [-1]

    def progress(fraction: float) -> None:  # 0-0.1 generation, 0.1-0.98 training
        step = int(fraction * 50)
        if step > shown[0]:
            shown[0] = step
            stamp(f"progress {fraction:.2f}")

    path = train_lineament_model(config, log=stamp, progress=progress)
    print(f"wrote {path} after {time.time() - t0:.0f} s", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
