"""Synthetic training data for lineament models (generation, cache, augmentation).

Datasets, samplers and trainers are kept apart (TorchGeo style): this module
only makes and serves arrays; :mod:`geocore.lineaments.train` trains.
"""

from __future__ import annotations

import hashlib
import json
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict
from pathlib import Path
from typing import Optional

import numpy as np

from ..magnetics.synthetic import SurveyConfig, label_mask, synthesize_sample
from ..models.normalize import normalize
from ..progress import Progress


def generator_digest() -> str:
    """Hash of the source of the code that makes the samples (generator, forward model, normalisation):
    a cache made by other code is not reused."""
    import importlib

    h = hashlib.sha1()
    for name in ("magnetics.synthetic", "magnetics.forward", "models.normalize"):
        module = importlib.import_module(f"..{name}", __package__)
        h.update(Path(module.__file__).read_bytes())
    return h.hexdigest()[:12]


def _make_sample(args):
    seed, index, size, cell, cfg_dict, norm, ignore_buried = args
    cfg = SurveyConfig(**cfg_dict)
    s = synthesize_sample(np.random.default_rng([seed, index]), size, size, cell, cfg, parallel=False)
    x = normalize(s.field, norm)[0]
    return x.astype(np.float16), label_mask(s, ignore_buried)


def generate_arrays(n: int, *, seed: int, size: int, cell_size: float, config,
                    normalization: dict, workers: int = 0, cache_dir: Optional[Path] = None,
                    ignore_buried: bool = False, progress=None, cancel=None) -> tuple[np.ndarray, np.ndarray]:
    """Make ``n`` normalised synthetic samples (inputs float16, masks uint8).

    Masks are 1 over dyke footprints; with ``ignore_buried``, 2 (ignored by the training loss) over the
    dykes buried under the rest of their sample
    (:func:`geocore.magnetics.synthetic.label_mask`).

    ``config`` is a :class:`SurveyConfig` or a list of them (a mixture: sample ``i`` is drawn from
    ``config[i % len(config)]``).

    Sample ``i`` depends only on ``(seed, i)`` and the configuration, so a run
    is reproducible and a cache can be reused. When ``cache_dir`` is given, the
    arrays are stored there as ``.npz`` keyed by a hash of all parameters and of the
    generator's source code (:func:`generator_digest`).
    """
    prog = Progress.wrap(progress, cancel)
    dicts = [asdict(c) for c in (config if isinstance(config, (list, tuple)) else [config])]
    cfg = dicts[0] if len(dicts) == 1 else dicts  # one preset: the key of the single-preset cache
    key = json.dumps(dict(n=n, seed=seed, size=size, cell=cell_size, cfg=cfg, norm=normalization,
                          code=generator_digest(), **({"ignore_buried": True} if ignore_buried else {})),
                     sort_keys=True, default=list)
    digest = hashlib.sha1(key.encode()).hexdigest()[:12]
    cache = Path(cache_dir) / f"lineament_samples_{digest}.npz" if cache_dir else None
    if cache is not None and cache.is_file():
        with np.load(cache) as data:
            return data["x"], data["y"]
    xs = np.empty((n, size, size), np.float16)
    ys = np.empty((n, size, size), np.uint8)
    jobs = [(seed, i, size, cell_size, dicts[i % len(dicts)], normalization, bool(ignore_buried)) for i in range(n)]
    workers = workers or 0
    if workers > 1:
        with ProcessPoolExecutor(workers) as pool:
            for i, (x, y) in enumerate(pool.map(_make_sample, jobs, chunksize=4)):
                xs[i], ys[i] = x, y
                prog.update((i + 1) / n)
    else:
        for i, job in enumerate(jobs):
            xs[i], ys[i] = _make_sample(job)
            prog.update((i + 1) / n)
    if cache is not None:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".partial.npz")
        np.savez(tmp, x=xs, y=ys)
        os.replace(tmp, cache)
    return xs, ys


def dihedral(x: np.ndarray, y: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """One of the 8 rotations/reflections of a square sample (k in 0..7).

    Valid for magnetic grids because declination is random in the generator: a
    rotated or mirrored survey is another physically possible survey.
    """
    if k >= 4:
        x, y = x[..., ::-1], y[..., ::-1]
    return np.rot90(x, k % 4, axes=(-2, -1)), np.rot90(y, k % 4, axes=(-2, -1))
