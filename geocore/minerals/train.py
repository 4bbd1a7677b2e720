"""Training and evaluation of mineral models: ``geocore minerals train|evaluate``.

Defaults follow the LumenStone paper: cross-entropy, Adam with learning rate
1e-3 reduced on plateau, class-balanced 256-px patches, augmentation by
rotation/reflection, small scale changes, brightness and colour. The default
network is a U-Net with a VGG-16 encoder; ``--arch PSPNet --encoder resnet18``
is the paper's best. Models are written as fp16 safetensors with a model card
(``class_codes`` maps output channels to LumenStone codes).
"""

from __future__ import annotations

import argparse
import functools
import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional, Sequence

import numpy as np

from ..errors import GeocoreError, ParameterError
from ..models.card import ModelCard
from ..models.network import build_model, load_model, resolve_device, save_model
from ..models.training import (ConfigFromNamespace, epoch_logger, model_file, optimizer_step, out_of_time,
                               save_checkpoint, show_batch, tqdm_bar)
from ..progress import Progress
from . import params as P
from .classes import BY_CODE, CODES, IGNORE, parse_codes
from .lumenstone import SplitNotFound, load_split
from .metrics import ConfusionMatrix
from .sampler import BalancedPatchSampler, compare_balance, make_torch_dataset

#: Decoder widths of the default U-Net.
UNET_DECODER = [256, 128, 64, 32, 16]


@dataclass
class MineralTrainConfig(ConfigFromNamespace):
    """A training run (defaults: the paper's settings, VGG16-U-Net)."""

    data: list = field(default_factory=list)
    out: Path = Path("minerals.safetensors")
    classes: Optional[str] = None
    extra: list = field(default_factory=list)
    arch: str = P.ARCHITECTURES[0]
    encoder: str = P.DEFAULT_ENCODER
    decoder_channels: list = field(default_factory=lambda: list(UNET_DECODER))
    patch: int = P.DEFAULT_PATCH
    tile_size: int = 0
    batch_size: int = P.DEFAULT_BATCH_SIZE
    epochs: int = P.DEFAULT_EPOCHS
    patches_per_epoch: int = P.DEFAULT_PATCHES_PER_EPOCH
    val_patches: int = 64
    lr: float = P.DEFAULT_LR
    patience: int = 5
    balanced: bool = True
    augment: bool = True
    seed: int = 0
    device: str = "auto"
    workers: int = 0
    max_minutes: Optional[float] = None
    name: str = "minerals"
    notes: str = ""

    @staticmethod
    def add_arguments(p: argparse.ArgumentParser) -> None:
        d = MineralTrainConfig()
        p.add_argument("--data", nargs="+", type=Path, required=True,
                       help="LumenStone-layout folders (imgs/train, masks/train, ...), e.g. S1 S2")
        p.add_argument("--out", type=Path, required=True, help="model to write (.safetensors; card .json beside it)")
        p.add_argument("--classes", default=None, help="classes: a set (S1, S1+S2), labels or codes (default: those in the masks)")
        p.add_argument("--extra", nargs="*", default=[], help="tags of aligned extra images in imgs_<tag>/ (3 channels each)")
        p.add_argument("--arch", default=d.arch, help="segmentation-models-pytorch architecture (Unet, PSPNet, FPN, ...)")
        p.add_argument("--encoder", default=d.encoder, help="encoder (vgg16, resnet18, mobilenet_v2, ...)")
        p.add_argument("--decoder-channels", type=int, nargs=5, default=d.decoder_channels, help="U-Net decoder widths")
        p.add_argument("--patch", type=int, default=d.patch, help="patch edge in px (multiple of 32; paper 256-384)")
        p.add_argument("--tile-size", type=int, default=d.tile_size, help="inference tile recorded in the card (0: 2 x patch)")
        p.add_argument("--batch-size", type=int, default=d.batch_size)
        p.add_argument("--epochs", type=int, default=d.epochs)
        p.add_argument("--patches-per-epoch", type=int, default=d.patches_per_epoch)
        p.add_argument("--val-patches", type=int, default=d.val_patches, help="balanced test patches for the plateau check")
        p.add_argument("--lr", type=float, default=d.lr, help="Adam learning rate (reduced x0.5 on plateau)")
        p.add_argument("--patience", type=int, default=d.patience, help="epochs without progress before the rate is reduced")
        p.add_argument("--random-patches", dest="balanced", action="store_false", help="plain random patches instead of class-balanced")
        p.add_argument("--no-augment", dest="augment", action="store_false")
        p.add_argument("--seed", type=int, default=d.seed)
        p.add_argument("--device", default=d.device, help="auto, cpu or cuda")
        p.add_argument("--workers", type=int, default=d.workers, help="data-loader processes")
        p.add_argument("--max-minutes", type=float, default=None, help="stop training after this many minutes")
        p.add_argument("--name", default=d.name, help="model name in the card")
        p.add_argument("--notes", default="", help="free text for the card")

    def validate(self) -> None:
        if not self.data:
            raise ParameterError("no data folders given; give LumenStone-layout folders with {param}", param="data")
        if self.patch < 32 or self.patch % 32:
            raise GeocoreError(f"patch {self.patch} must be a multiple of 32 (the networks halve it 5 times)")
        if self.tile_size and (self.tile_size < 32 or self.tile_size % 32):
            raise GeocoreError(f"tile size {self.tile_size} must be a multiple of 32")
        if self.epochs < 1 or self.batch_size < 1 or self.patches_per_epoch < 1:
            raise GeocoreError("epochs, batch size and patches per epoch must be at least 1")
        if not self.lr > 0:
            raise GeocoreError(f"learning rate {self.lr} must be positive")
        if Path(self.out).is_dir():
            raise GeocoreError(f"output model '{self.out}' is a folder; give a .safetensors file path")
        for parent in Path(self.out).parents:
            if parent.exists() and not parent.is_dir():
                raise GeocoreError(f"output folder '{parent}' is an existing file; give a folder path instead")

    def command(self) -> str:
        d = MineralTrainConfig()
        parts = ["geocore minerals train", "--data " + " ".join(Path(p).name for p in self.data),
                 f"--out {Path(self.out).name}"]
        for k in ("classes", "arch", "encoder", "patch", "tile_size", "batch_size", "epochs", "patches_per_epoch",
                  "val_patches", "lr", "patience", "seed", "max_minutes"):
            v = getattr(self, k)
            if v is not None and v != getattr(d, k):
                parts.append(f"--{k.replace('_', '-')} {v}")
        if list(self.decoder_channels) != d.decoder_channels:
            parts.append("--decoder-channels " + " ".join(map(str, self.decoder_channels)))
        if self.extra:
            parts.append("--extra " + " ".join(self.extra))
        if not self.balanced:
            parts.append("--random-patches")
        if not self.augment:
            parts.append("--no-augment")
        return " ".join(parts)


def _codes_in(masks) -> list[int]:
    present = set()
    for m in masks:
        present.update(int(v) for v in np.unique(m))
    present.discard(IGNORE)
    return sorted(present)


def _val_patches(images, masks, codes, patch, n, seed):
    """A fixed set of class-balanced test patches (no augmentation)."""
    from .sampler import _pad_to_patch

    pairs = [_pad_to_patch(x, y, patch) for x, y in zip(images, masks)]
    s = BalancedPatchSampler([p[1] for p in pairs], codes, patch, seed=[seed, 999])
    lut = np.full(256, IGNORE, np.int64)
    lut[list(codes)] = np.arange(len(codes))
    xs, ys = [], []
    for _ in range(n):
        i, r, c = s.draw()
        xs.append(np.moveaxis(pairs[i][0][r:r + patch, c:c + patch], -1, 0).astype(np.float32) / 255.0)
        ys.append(lut[pairs[i][1][r:r + patch, c:c + patch]])
    return np.stack(xs), np.stack(ys)


def _training_data(config: MineralTrainConfig, prog: Progress):
    """Training and test images and masks of the folders, and the class codes the model will learn."""
    allowed = parse_codes(config.classes) if config.classes else CODES
    images, masks, _ = load_split(config.data, "train", config.extra, allowed, progress=prog)
    try:
        t_images, t_masks, _ = load_split(config.data, "test", config.extra, allowed)
    except SplitNotFound as exc:
        raise GeocoreError(f"{exc}; training needs a test split (imgs/test, masks/test) to check progress") from exc
    codes = list(allowed) if config.classes else _codes_in(masks)
    if len(codes) < 2:
        raise GeocoreError(f"the training masks hold only class {codes}; at least two classes are needed")
    return images, masks, t_images, t_masks, codes


def _new_card(config: MineralTrainConfig, codes: Sequence[int]) -> ModelCard:
    """The card of the model to train: network, inputs (8-bit RGB + extras scaled to 0..1) and classes."""
    in_channels = 3 + 3 * len(config.extra)
    return ModelCard(name=config.name, task="minerals", architecture=config.arch, encoder=config.encoder,
                     in_channels=in_channels, classes=len(codes), tile_size=config.tile_size or 2 * config.patch,
                     normalization={"mode": "affine", "scale": [1 / 255.0] * in_channels, "offset": [0.0] * in_channels},
                     decoder_channels=list(config.decoder_channels) if config.arch in ("Unet", "UnetPlusPlus") else [],
                     class_names=[BY_CODE[c].name for c in codes], class_codes=codes, notes=config.notes)


def _validate(model, vx: np.ndarray, vy: np.ndarray, loss_fn, n_classes: int, batch_size: int, device):
    """Mean loss and confusion matrix (class indices) of the validation patches."""
    import torch

    model.eval()
    with torch.inference_mode():
        vl, cm = 0.0, ConfusionMatrix(list(range(n_classes)))
        for i in range(0, len(vx), batch_size):
            xb = torch.from_numpy(vx[i:i + batch_size]).to(device)
            yb = torch.from_numpy(vy[i:i + batch_size]).to(device)
            logits = model(xb)
            vl += float(loss_fn(logits, yb)) * len(xb)
            cm.update(yb.cpu().numpy().astype(np.uint8), logits.argmax(1).cpu().numpy().astype(np.uint8))
        vl /= max(len(vx), 1)
    return vl, cm


def _training_record(config: MineralTrainConfig, n_train: int, n_test: int, balance: dict, history: list,
                     device: str, minutes: float) -> dict:
    """The ``training`` section of the card: data, sampler, optimiser, augmentation, command and history."""
    return dict(
        data=dict(folders=[str(Path(p).name) for p in config.data], train_images=n_train,
                  test_images=n_test, extra=list(config.extra), **_generator(config.data)),
        sampler=dict(kind="class-balanced" if config.balanced else "random", patch=config.patch,
                     patches_per_epoch=config.patches_per_epoch,
                     balance_rarest_over_commonest={"random": round(balance["random"], 4),
                                                    "balanced": round(balance["balanced"], 4)}),
        optimizer=dict(name="Adam", lr=config.lr, schedule="ReduceLROnPlateau(factor 0.5, patience "
                       f"{config.patience})", loss="cross-entropy", batch_size=config.batch_size,
                       epochs_planned=config.epochs, epochs_run=len(history)),
        augment="rotations/reflections, scale 0.9-1.1, brightness 0.85-1.15, colour 3 %" if config.augment else "none",
        encoder_init="random (trained from scratch)",
        command=config.command(), seed=config.seed, device=device,
        training_minutes=round(minutes, 2), history=history)


def train_mineral_model(config: MineralTrainConfig, *, progress=None, cancel=None, show_progress: bool = False,
                        log: Optional[Callable[[str], None]] = None) -> Path:
    """Train a mineral segmentation model on LumenStone-layout folders and write it with its card.

    The test split of the folders gives the plateau check during training and
    the final metrics (whole test images through the tiled engine), recorded
    in the card with the class balance of the sampler.

    Returns
    -------
    Path
        The ``.safetensors`` model (its ``.json`` card is beside it).
    """
    import torch
    import torch.nn.functional as F

    config.validate()
    log = epoch_logger(log, show_progress)
    prog = Progress.wrap(progress, cancel)
    out = model_file(config.out)
    device = resolve_device(config.device)
    torch.manual_seed(config.seed)

    images, masks, t_images, t_masks, codes = _training_data(config, prog.sub(0, 0.04))
    card = _new_card(config, codes)
    model = build_model(card).to(device)
    balance = compare_balance(masks, codes, config.patch, n=min(500, config.patches_per_epoch), seed=config.seed)
    log(f"classes {codes}; {len(images)} training and {len(t_images)} test images; class balance "
        f"(rarest/commonest pixels) {balance['random']:.3f} random -> {balance['balanced']:.3f} balanced patches")

    ds = make_torch_dataset(images, masks, codes, patch=config.patch, length=config.patches_per_epoch,
                            seed=config.seed, balanced=config.balanced, augment=config.augment)
    loader = torch.utils.data.DataLoader(ds, batch_size=config.batch_size, num_workers=config.workers)
    vx, vy = _val_patches(t_images, t_masks, [c for c in codes if any((m == c).any() for m in t_masks)] or codes,
                          config.patch, config.val_patches, config.seed)
    opt = torch.optim.Adam(model.parameters(), lr=config.lr)
    loss_fn = functools.partial(F.cross_entropy, ignore_index=IGNORE)
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=0.5, patience=config.patience)
    steps = -(-config.patches_per_epoch // config.batch_size)
    total = steps * config.epochs
    bar = tqdm_bar(total, "training", show_progress)
    history, t0, stopped = [], time.time(), False
    ckpt_dir = out.parent / (out.stem + ".ckpt")
    step = 0
    for epoch in range(config.epochs):
        ds.set_epoch(epoch)
        model.train()
        run, seen = 0.0, 0
        for x, y in loader:
            prog.sub(0.05, 0.9).update(step / total)
            x, y = x.to(device), y.to(device)
            run += optimizer_step(model, opt, loss_fn, x, y) * len(x)
            seen += len(x)
            step += 1
            show_batch(bar, epoch, run, seen)
            if out_of_time(t0, config.max_minutes):
                stopped = True
                break
        vl, cm = _validate(model, vx, vy, loss_fn, len(codes), config.batch_size, device)
        sched.step(vl)
        rec = dict(epoch=epoch + 1, train_loss=run / max(seen, 1), val_loss=vl, val_mean_iou=cm.mean_iou(),
                   val_pixel_accuracy=cm.pixel_accuracy(), lr=opt.param_groups[0]["lr"],
                   minutes=round((time.time() - t0) / 60, 2))
        history.append(rec)
        log(f"epoch {epoch + 1}/{config.epochs}: train loss {rec['train_loss']:.4f}, val loss {vl:.4f}, "
            f"val mIoU {rec['val_mean_iou']:.4f}, accuracy {rec['val_pixel_accuracy']:.4f}, lr {rec['lr']:.2e}")
        save_checkpoint(ckpt_dir / "last.pt", dict(model=model.state_dict(), epoch=epoch + 1,
                                                   history=json.dumps(history)))
        if stopped:
            log(f"stopped after {config.max_minutes} minutes (--max-minutes)")
            break
    if bar is not None:
        bar.close()
    train_minutes = (time.time() - t0) / 60
    prog.check()
    model = model.cpu()
    with torch.no_grad():  # evaluate the weights as they are stored (fp16)
        for v in model.state_dict().values():
            if v.is_floating_point():
                v.copy_(v.half().float())
    test = evaluate_arrays(model, card, t_images, t_masks, progress=prog.sub(0.9, 0.99))
    log(f"test images: mIoU {test['mean_iou']:.4f}, pixel accuracy {test['pixel_accuracy']:.4f}")
    card.training = _training_record(config, len(images), len(t_images), balance, history, device, train_minutes)
    card.metrics = {"test": {k: test[k] for k in ("mean_iou", "pixel_accuracy", "iou")},
                    "definition": "IoU per class summed over the test set, mean over present classes; "
                                  "pixel accuracy over labelled pixels (LumenStone paper)"}
    path = save_model(model, card, out)
    # the per-epoch checkpoint only guards a run that fails; a finished run leaves the model alone
    shutil.rmtree(ckpt_dir, ignore_errors=True)
    prog.update(1.0)
    return path


def _generator(folders: Sequence) -> dict:
    """``{"generator": ...}`` when a data folder was written by :func:`geocore.minerals.synthetic.write_sections`."""
    from .synthetic import SYNTHETIC_MARKER

    for folder in folders:
        marker = Path(folder) / SYNTHETIC_MARKER
        if marker.is_file():
            try:
                return {"generator": str(json.loads(marker.read_text()).get("generator", "synthetic"))}
            except (ValueError, OSError):
                return {"generator": "synthetic (unreadable marker)"}
    return {}


def evaluate_arrays(model, card, images, masks, *, device: str = "cpu", tile_size: Optional[int] = None,
                    progress=None, cancel=None) -> dict:
    """Metrics of a model on whole images (through the tiled engine), as the paper defines them."""
    from .segment import predict_classes

    prog = Progress.wrap(progress, cancel)
    cm = ConfusionMatrix(card.class_codes)
    for i, (x, y) in enumerate(zip(images, masks)):
        pred = predict_classes(model, card, x, tile_size=tile_size, device=device)
        cm.update(y, pred)
        prog.update((i + 1) / len(images))
    return cm.as_dict()


def evaluate_model(data: Sequence, model_path=None, *, split: str = "test", device: str = "auto",
                   tile_size: Optional[int] = None, progress=None, cancel=None) -> dict:
    """``geocore minerals evaluate``: metrics of a model on a split of LumenStone-layout folders.

    Pixels whose true class the model does not know are counted in the
    confusion matrix only if the class is among the model's; masks with codes
    outside the class table are refused.
    """
    from .segment import default_model_path

    model, card = load_model(model_path or default_model_path(), device="cpu")
    if card.task != "minerals" or not card.class_codes:
        raise GeocoreError(f"'{model_path}' is not a mineral model (its card has no class codes)")
    extra = card.training.get("data", {}).get("extra", []) if isinstance(card.training, dict) else []
    images, masks, names = load_split(list(data), split, extra)
    out = evaluate_arrays(model, card, images, masks, device=resolve_device(device), tile_size=tile_size,
                          progress=progress, cancel=cancel)
    out["images"] = len(images)
    from .segment import model_notice

    out["model"] = str(card.name)
    notice = model_notice(card)
    if notice:
        out["model_note"] = notice
    unknown = sorted(set(_codes_in(masks)) - set(card.class_codes))
    if unknown:
        out["classes_unknown_to_model"] = [BY_CODE[c].label for c in unknown]
    return out
