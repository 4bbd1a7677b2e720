"""Training of lineament models: ``geocore lineaments train``.

The defaults are the paper's protocol (Shklyaruk & Kuznetsov 2025): 500
synthetic 192 x 192 samples of 1-10 vertically magnetised dykes, 80:20
train/test split, Adam with learning rate 1e-4, batch 25, 50 epochs,
cross-entropy loss, accuracy monitored.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

import numpy as np

from ..errors import GeocoreError, ParameterError
from ..magnetics.synthetic import SurveyConfig
from ..models.card import ModelCard
from ..models.network import build_model, load_imagenet_encoder, load_model, resolve_device, save_model
from ..models.training import (ConfigFromNamespace, epoch_logger, model_file, optimizer_step, out_of_time,
                               save_checkpoint, show_batch, tqdm_bar)
from ..progress import Progress
from . import params as P
from .dataset import dihedral, generate_arrays
from .scale import anomaly_wavenumber, preset_reference, resolved_bandwidth


@dataclass
class TrainConfig(ConfigFromNamespace):
    """Everything that defines a training run (defaults: the paper's protocol)."""

    out: Path = Path("lineaments.safetensors")
    samples: int = P.DEFAULT_SAMPLES
    val_fraction: float = 0.2
    epochs: int = P.DEFAULT_EPOCHS
    batch_size: int = P.DEFAULT_BATCH_SIZE
    lr: float = P.DEFAULT_LR
    seed: int = P.DEFAULT_SEED
    tile_size: int = P.DEFAULT_TILE_SIZE
    cell_size: float = 50.0
    preset: str = "paper"
    min_dykes: int = 1
    max_dykes: int = 10
    encoder: str = "vgg16_bn"
    decoder_channels: list = field(default_factory=lambda: [256, 128, 64, 32, 16])
    loss: str = "bce"
    augment: bool = True
    imagenet: Optional[str] = None
    device: str = "auto"
    workers: int = 0
    max_minutes: Optional[float] = None
    crop: int = 0
    val_max: int = 0
    schedule: str = "constant"
    norm_window: int = 0
    ignore_buried: bool = False
    resume: bool = False
    init: Optional[str] = None
    checkpoint_dir: Optional[Path] = None
    name: str = "lineaments-vgg16bn-unet"

    @staticmethod
    def add_arguments(p: argparse.ArgumentParser) -> None:
        d = TrainConfig()
        p.add_argument("--out", type=Path, required=True, help="model file to write (.safetensors; the .json card goes beside it)")
        p.add_argument("--samples", type=int, default=d.samples, help=f"synthetic samples (default {d.samples})")
        p.add_argument("--val-fraction", type=float, default=d.val_fraction)
        p.add_argument("--epochs", type=int, default=d.epochs)
        p.add_argument("--batch-size", type=int, default=d.batch_size)
        p.add_argument("--lr", type=float, default=d.lr, help="Adam learning rate")
        p.add_argument("--seed", type=int, default=d.seed)
        p.add_argument("--tile-size", type=int, default=d.tile_size, help="sample edge in cells (multiple of 32)")
        p.add_argument("--cell-size", type=float, default=d.cell_size, help="metres")
        p.add_argument("--preset", default=d.preset,
                       help=f"synthetic preset ({', '.join(SurveyConfig.preset_names())}), or several joined by '+' "
                            "(e.g. realistic+survey+paper): sample i is drawn from the (i mod n)-th preset")
        p.add_argument("--min-dykes", type=int, default=d.min_dykes)
        p.add_argument("--max-dykes", type=int, default=d.max_dykes)
        p.add_argument("--encoder", default=d.encoder, help="smp encoder (vgg16_bn, vgg16, ...)")
        p.add_argument("--decoder-channels", type=int, nargs=5, default=d.decoder_channels)
        p.add_argument("--loss", choices=("bce", "bce_dice"), default=d.loss,
                       help="bce: the paper's cross-entropy; bce_dice: plus soft Dice for the rare class")
        p.add_argument("--no-augment", dest="augment", action="store_false", help="no rotations/reflections")
        p.add_argument("--imagenet", default=None, help="start the encoder from ImageNet VGG weights: 'imagenet' (download) or a local file")
        p.add_argument("--device", default=d.device, help="auto, cpu or cuda")
        p.add_argument("--workers", type=int, default=d.workers, help="processes generating samples")
        p.add_argument("--max-minutes", type=float, default=None, help="stop training after this many minutes")
        p.add_argument("--crop", type=int, default=d.crop,
                       help="train on random crops of this many cells (multiple of 32; 0: whole samples). "
                            "Samples are normalised whole first, so the input matches inference on whole tiles")
        p.add_argument("--val-max", type=int, default=d.val_max,
                       help="validate on at most this many samples after each epoch (0: all); the last epoch uses all")
        p.add_argument("--schedule", choices=("constant", "cosine"), default=d.schedule,
                       help="learning rate: constant (paper) or cosine decay to 5%% over all planned steps")
        p.add_argument("--norm-window", type=int, default=d.norm_window,
                       help="cells of the local mean/std that normalise the input (0: the tile size). "
                            "Smaller windows equalise faint and strong anomalies (an automatic gain control)")
        p.add_argument("--ignore-buried", action="store_true",
                       help="leave out of the loss the footprints of dykes buried under the rest of their sample "
                            "(visibility below 1: geocore.magnetics.synthetic.dyke_visibility), so the network is "
                            "not taught to mark dykes nothing in the field shows")
        p.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
        p.add_argument("--init", default=None,
                       help="start from the weights of an existing geocore model (.safetensors of the same "
                            "encoder and decoder), e.g. to fine-tune the shipped model on more data")
        p.add_argument("--checkpoint-dir", type=Path, default=None, help="default: <out>.ckpt/ beside the model")

    def presets(self) -> list:
        """The preset names of the run (several when ``preset`` joins them with '+')."""
        return [n.strip() for n in str(self.preset).split("+")]

    def surveys(self) -> list:
        """One :class:`SurveyConfig` per preset, with the run's dyke counts."""
        return [SurveyConfig.from_preset(n).with_dykes(self.min_dykes, self.max_dykes) for n in self.presets()]

    def validate(self) -> None:
        names = SurveyConfig.preset_names()
        bad = [n for n in self.presets() if n not in names]
        if bad:
            raise ParameterError(f"{{param}} {self.preset!r}: unknown preset {bad[0]!r}; use one of "
                                 f"{', '.join(names)}, or several joined by '+'", param="preset")
        if self.tile_size % 32 or self.tile_size < 32:
            raise GeocoreError(f"tile size {self.tile_size} must be a multiple of 32 (the U-Net halves it 5 times)")
        if self.samples < 2:
            raise GeocoreError("at least 2 samples are needed (one to train, one to validate)")
        if not 0 < self.val_fraction < 1:
            raise GeocoreError(f"validation fraction must be between 0 and 1, got {self.val_fraction}")
        if self.crop and (self.crop % 32 or self.crop > self.tile_size):
            raise GeocoreError(f"crop {self.crop} must be a multiple of 32 no larger than the tile size {self.tile_size}")
        if self.norm_window and not 8 <= self.norm_window <= self.tile_size:
            raise ParameterError(f"{{param}} {self.norm_window} must be 0 (the tile size) or 8..{self.tile_size} cells",
                                 param="norm_window")
        if self.epochs < 1 or self.batch_size < 1:
            raise GeocoreError("epochs and batch size must be at least 1")
        if not 1 <= self.min_dykes <= self.max_dykes:
            raise GeocoreError(f"dyke counts {self.min_dykes}..{self.max_dykes} are not a valid range")
        out = Path(self.out)
        if out.exists() and out.is_dir():
            raise GeocoreError(f"output model '{out}' is a folder; give a .safetensors file path")
        for parent in Path(self.out).parents:
            if parent.exists() and not parent.is_dir():
                raise GeocoreError(f"output folder '{parent}' is an existing file; give a folder path instead")

    def command(self) -> str:
        d = TrainConfig()
        parts = ["geocore lineaments train", f"--out {Path(self.out).name}"]
        flags = dict(samples=self.samples, val_fraction=self.val_fraction, epochs=self.epochs,
                     batch_size=self.batch_size, lr=self.lr, seed=self.seed, tile_size=self.tile_size,
                     cell_size=self.cell_size, preset=self.preset, min_dykes=self.min_dykes,
                     max_dykes=self.max_dykes, encoder=self.encoder, loss=self.loss, workers=self.workers,
                     max_minutes=self.max_minutes, imagenet=self.imagenet, crop=self.crop,
                     val_max=self.val_max, schedule=self.schedule, norm_window=self.norm_window,
                     init=Path(self.init).name if self.init else None)
        for k, v in flags.items():
            if v is not None and v != getattr(d, k):
                parts.append(f"--{k.replace('_', '-')} {v}")
        if list(self.decoder_channels) != d.decoder_channels:
            parts.append("--decoder-channels " + " ".join(map(str, self.decoder_channels)))
        if not self.augment:
            parts.append("--no-augment")
        if self.ignore_buried:
            parts.append("--ignore-buried")
        return " ".join(parts)


def _loss_fn(kind: str):
    import torch
    import torch.nn.functional as F

    # labels: 1 dyke, 0 background, 2 ignored (a buried dyke, --ignore-buried): weight 0 in both terms
    def split(target):
        keep = (target < 1.5).to(target.dtype)
        return (target > 0.5).to(target.dtype) * keep, keep

    def bce(logits, target):
        t, keep = split(target)
        return F.binary_cross_entropy_with_logits(logits, t, weight=keep, reduction="sum") / keep.sum().clamp_min(1)

    def bce_dice(logits, target):
        t, keep = split(target)
        p = torch.sigmoid(logits) * keep
        inter = (p * t).sum(dim=(1, 2, 3))
        dice = 1 - (2 * inter + 1) / (p.sum(dim=(1, 2, 3)) + t.sum(dim=(1, 2, 3)) + 1)
        return bce(logits, target) + dice.mean()

    return bce if kind == "bce" else bce_dice


def _batches(idx: np.ndarray, size: int):
    for i in range(0, len(idx), size):
        yield idx[i:i + size]


def _evaluate(model, xs, ys, idx, batch_size, device, loss_fn) -> dict:
    import torch

    from .metrics import scores_from_counts

    model.eval()
    c = dict(tp=0, fp=0, fn=0, tn=0)
    total_loss, n = 0.0, 0
    with torch.inference_mode():
        for b in _batches(idx, batch_size):
            x = torch.from_numpy(xs[b].astype(np.float32)[:, None]).to(device)
            y = torch.from_numpy(ys[b].astype(np.float32)[:, None]).to(device)
            logits = model(x)
            total_loss += float(loss_fn(logits, y)) * len(b)
            n += len(b)
            keep = y < 1.5  # cells labelled 2 (buried dykes) are scored by nobody
            pred = (logits > 0) & keep
            t = (y > 0.5) & keep
            c["tp"] += int((pred & t).sum())
            c["fp"] += int((pred & ~t).sum())
            c["fn"] += int((~pred & t).sum())
            c["tn"] += int((~pred & ~t & keep).sum())
    out = scores_from_counts(c)
    out["loss"] = total_loss / max(n, 1)
    return out


def train_lineament_model(config: TrainConfig, *, progress=None, cancel=None, show_progress: bool = False,
                          log: Optional[Callable[[str], None]] = None) -> Path:
    """Train a U-Net on synthetic dyke grids and write the model with its card.

    Parameters
    ----------
    config : TrainConfig
        The run (defaults: the paper's protocol).
    progress, cancel : callables
        Progress fraction and cancel check (QGIS feedback); a cancel stops at the
        next batch, keeps the last checkpoint and writes no model.
    show_progress : bool
        Show tqdm bars (command line).
    log : callable
        Receives one line per epoch (loss and validation metrics).

    Returns
    -------
    Path
        The ``.safetensors`` file (its ``.json`` card is beside it).
    """
    import torch

    config.validate()
    log = epoch_logger(log, show_progress)
    prog = Progress.wrap(progress, cancel)
    out = model_file(config.out)
    ckpt_dir = Path(config.checkpoint_dir) if config.checkpoint_dir else out.parent / (out.stem + ".ckpt")
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)
    random.seed(config.seed)
    rng = np.random.default_rng(config.seed)

    card = ModelCard(name=config.name, encoder=config.encoder, tile_size=config.tile_size,
                     decoder_channels=list(config.decoder_channels),
                     normalization={"mode": "local_zscore", "window": config.norm_window or config.tile_size,
                                    "clip": 3.0})
    surveys = config.surveys()

    # ---- data
    t0 = time.time()
    gen_bar = tqdm_bar(config.samples, "generating samples", show_progress)
    def gen_progress(f):
        prog.sub(0.0, 0.1).update(f)
        if gen_bar is not None:
            gen_bar.n = int(f * config.samples)
            gen_bar.refresh()
    xs, ys = generate_arrays(config.samples, seed=config.seed, size=config.tile_size, cell_size=config.cell_size,
                             config=surveys, normalization=card.normalization, workers=config.workers,
                             cache_dir=ckpt_dir, ignore_buried=config.ignore_buried, progress=gen_progress)
    if gen_bar is not None:
        gen_bar.close()
    gen_seconds = time.time() - t0
    order = rng.permutation(config.samples)
    n_val = max(1, int(round(config.samples * config.val_fraction)))
    val_idx, train_idx = np.sort(order[:n_val]), order[n_val:]
    if len(train_idx) == 0:
        raise ParameterError("no samples left for training; raise {param} or lower {param:val_fraction}",
                             param="samples")

    # ---- model
    model = build_model(card).to(device)
    if config.imagenet:
        load_imagenet_encoder(model, config.imagenet, encoder=config.encoder)
    if config.init:
        init_model, init_card = load_model(config.init, device="cpu")
        if (init_card.encoder, list(init_card.decoder_channels)) != (config.encoder, list(config.decoder_channels)):
            raise ParameterError(f"{{param}} model '{config.init}' has encoder {init_card.encoder} and decoder "
                                 f"{init_card.decoder_channels}; this run builds {config.encoder} with "
                                 f"{list(config.decoder_channels)}: give the same {{param:encoder}} and "
                                 "{param:decoder_channels}", param="init")
        model.load_state_dict({k: v.float() for k, v in init_model.state_dict().items()})
        log(f"initialised from {config.init}")
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    loss_fn = _loss_fn(config.loss)
    start_epoch, history = 0, []
    ckpt = ckpt_dir / "last.pt"
    if config.resume and ckpt.is_file():
        try:  # weights_only: a pickle that would run code is refused, never executed
            state = torch.load(ckpt, map_location=device, weights_only=True)
            model.load_state_dict(state["model"])
            opt.load_state_dict(state["optimizer"])
            start_epoch = int(state["epoch"])
            history = json.loads(state["history"])
        except Exception as exc:
            msg = (f"checkpoint '{ckpt}' is not a geocore training checkpoint of this model ({type(exc).__name__}); "
                   f"delete it or train without --resume")
            raise GeocoreError(msg) from exc
        log(f"resumed from {ckpt} after epoch {start_epoch}")

    steps_per_epoch = math.ceil(len(train_idx) / config.batch_size)
    total_steps = steps_per_epoch * config.epochs
    bar = tqdm_bar(total_steps, "training", show_progress)
    if bar is not None:
        bar.update(start_epoch * steps_per_epoch)
    t_train = time.time()
    stopped_early = False
    epoch = start_epoch
    base_lr = config.lr
    for epoch in range(start_epoch, config.epochs):
        model.train()
        erng = np.random.default_rng([config.seed, epoch])
        perm = erng.permutation(train_idx)
        run_loss, seen = 0.0, 0
        for step, b in enumerate(_batches(perm, config.batch_size)):
            global_step = epoch * steps_per_epoch + step
            prog.sub(0.1, 0.98).update(global_step / total_steps)
            if config.schedule == "cosine":
                for g in opt.param_groups:
                    g["lr"] = base_lr * (0.05 + 0.95 * 0.5 * (1 + math.cos(math.pi * global_step / total_steps)))
            x, y = xs[b].astype(np.float32), ys[b].astype(np.float32)
            if config.crop and config.crop < config.tile_size:
                r0 = erng.integers(0, config.tile_size - config.crop + 1, size=len(b))
                c0 = erng.integers(0, config.tile_size - config.crop + 1, size=len(b))
                x = np.stack([xi[r:r + config.crop, c:c + config.crop] for xi, r, c in zip(x, r0, c0)])
                y = np.stack([yi[r:r + config.crop, c:c + config.crop] for yi, r, c in zip(y, r0, c0)])
            if config.augment:
                ks = erng.integers(0, 8, size=len(b))
                pairs = [dihedral(xi, yi, int(k)) for xi, yi, k in zip(x, y, ks)]
                x = np.stack([p[0] for p in pairs])
                y = np.stack([p[1] for p in pairs])
            xt = torch.from_numpy(np.ascontiguousarray(x)[:, None]).to(device)
            yt = torch.from_numpy(np.ascontiguousarray(y)[:, None]).to(device)
            run_loss += optimizer_step(model, opt, loss_fn, xt, yt) * len(b)
            seen += len(b)
            show_batch(bar, epoch, run_loss, seen)
            if out_of_time(t_train, config.max_minutes):
                stopped_early = True
                break
        last_epoch = stopped_early or epoch + 1 == config.epochs
        v_idx = val_idx if (last_epoch or not config.val_max) else val_idx[:config.val_max]
        val = _evaluate(model, xs, ys, v_idx, config.batch_size, device, loss_fn)
        rec = dict(epoch=epoch + 1, train_loss=run_loss / max(seen, 1), val_loss=val["loss"],
                   val_pixel_accuracy=val["pixel_accuracy"], val_iou=val["iou"], val_f1=val["f1"],
                   minutes=(time.time() - t_train) / 60)
        history.append(rec)
        log(f"epoch {epoch + 1}/{config.epochs}: train loss {rec['train_loss']:.4f}, val loss {val['loss']:.4f}, "
            f"accuracy {val['pixel_accuracy']:.4f}, IoU {val['iou']:.4f}, F1 {val['f1']:.4f}")
        if bar is not None:
            bar.set_postfix(epoch=epoch + 1, loss=f"{rec['train_loss']:.4f}", val_iou=f"{val['iou']:.3f}")
        save_checkpoint(ckpt, dict(model=model.state_dict(), optimizer=opt.state_dict(), epoch=epoch + 1,
                                   history=json.dumps(history)))
        if stopped_early:
            log(f"stopped after {config.max_minutes} minutes (--max-minutes)")
            break
    if bar is not None:
        bar.close()

    # what --scales auto compares a grid with (measured on the training data, not the model)
    references = preset_reference(surveys, size=config.tile_size, cell_size=config.cell_size, seed=config.seed + 1,
                                  measure=(resolved_bandwidth, anomaly_wavenumber))
    card.training = dict(
        data=dict(generator="geocore.magnetics.synthetic", preset=config.preset,
                  survey=(dataclasses.asdict(surveys[0]) if len(surveys) == 1
                          else [dataclasses.asdict(s) for s in surveys]),
                  samples=config.samples, tile_size=config.tile_size, cell_size_m=config.cell_size,
                  val_fraction=config.val_fraction, augment="8 rotations/reflections" if config.augment else "none"),
        optimizer=dict(name="Adam", lr=config.lr, schedule=config.schedule, crop=config.crop or config.tile_size, batch_size=config.batch_size, epochs_planned=config.epochs,
                       epochs_run=len(history), loss=config.loss),
        encoder_init=(f"fine-tuned from {Path(config.init).name}" if config.init
                      else config.imagenet or "random (trained from scratch)"),
        command=config.command(),
        seed=config.seed,
        device=device,
        generation_minutes=round(gen_seconds / 60, 2),
        training_minutes=round((time.time() - t_train) / 60, 2),
        history=history,
        resolved_bandwidth=references[0],
        anomaly_wavenumber=references[1],
    )
    if config.init:
        card.training["parent"] = {k: init_card.training.get(k) for k in
                                   ("command", "seed", "training_minutes", "encoder_init", "data")}
    if history:
        last = history[-1]
        card.metrics = {"validation_split": {k: last[k] for k in ("val_loss", "val_pixel_accuracy", "val_iou", "val_f1")}}
    prog.check()
    path = save_model(model.cpu(), card, out)
    prog.update(1.0)
    return path
