"""Pieces of the training loop shared by the model trainers.

The lineament (:mod:`geocore.lineaments.train`) and mineral
(:mod:`geocore.minerals.train`) trainers differ in data, loss, validation
and schedule, but run their batches, bars, time limit and checkpoints the
same way; those parts live here.
"""

from __future__ import annotations

import dataclasses
import os
import sys
import time
from pathlib import Path
from typing import Callable, Optional


class ConfigFromNamespace:
    """Mixin for training-config dataclasses built from parsed arguments."""

    @classmethod
    def from_namespace(cls, ns):
        """The config with every field the namespace gives (``None`` keeps the default)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in vars(ns).items() if k in names and v is not None})


def model_file(out) -> Path:
    """The model path ``out`` with the ``.safetensors`` suffix (its card goes beside it)."""
    out = Path(out)
    return out if out.suffix == ".safetensors" else out.with_suffix(".safetensors")


def epoch_logger(log: Optional[Callable[[str], None]], show_progress: bool) -> Callable[[str], None]:
    """``log`` itself, or one that prints to stderr on the command line and is silent otherwise."""
    return log or (lambda s: print(s, file=sys.stderr) if show_progress else None)


def tqdm_bar(total: int, desc: str, show: bool):
    """A tqdm bar on stderr when ``show``, else None."""
    if not show:
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, file=sys.stderr, dynamic_ncols=True)


def optimizer_step(model, opt, loss_fn, x, y) -> float:
    """One gradient step on the batch ``(x, y)``; returns the batch's mean loss."""
    opt.zero_grad(set_to_none=True)
    loss = loss_fn(model(x), y)
    loss.backward()
    opt.step()
    return loss.item()


def show_batch(bar, epoch: int, run_loss: float, seen: int) -> None:
    """Advance the training bar by one batch, showing the epoch (1-based) and the running loss."""
    if bar is not None:
        bar.update(1)
        bar.set_postfix(epoch=epoch + 1, loss=f"{run_loss / seen:.4f}")


def out_of_time(t0: float, max_minutes: Optional[float]) -> bool:
    """True when ``max_minutes`` is set and more than that has passed since ``t0`` (``time.time()``)."""
    return bool(max_minutes) and (time.time() - t0) / 60 > max_minutes


def save_checkpoint(path, state: dict) -> None:
    """``torch.save`` ``state`` to ``path`` atomically (through ``<path>.partial``), creating its folder."""
    import torch

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".partial")
    torch.save(state, tmp)
    os.replace(tmp, path)
