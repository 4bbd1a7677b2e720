"""Network construction and model files (safetensors weights + JSON card).

Loading never unpickles: weights are read with :mod:`safetensors`, and the
optional ImageNet encoder weights are read with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import json
import os
import struct
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import GeocoreError, ParameterError
from ..files import atomic_output
from .card import ModelCard


def _torch():
    import torch

    return torch


def build_model(card: ModelCard):
    """Build an untrained network from a model card (segmentation-models-pytorch).

    Parameters
    ----------
    card : ModelCard
        ``architecture`` (``"Unet"``, ``"PSPNet"``, ...), ``encoder``
        (``"vgg16_bn"``, ``"vgg16"``, ``"resnet18"``, ...), ``in_channels``,
        ``classes`` and, for U-Nets, ``decoder_channels``.
    """
    import segmentation_models_pytorch as smp

    try:
        arch = getattr(smp, card.architecture)
    except AttributeError as exc:
        msg = f"unknown architecture {card.architecture!r}; use a segmentation-models-pytorch name such as 'Unet' or 'PSPNet'"
        raise GeocoreError(msg) from exc
    kwargs: dict[str, Any] = dict(
        encoder_name=card.encoder,
        encoder_weights=None,
        in_channels=card.in_channels,
        classes=card.classes,
    )
    if card.architecture in ("Unet", "UnetPlusPlus") and card.decoder_channels:
        kwargs["decoder_channels"] = tuple(card.decoder_channels)
    try:
        return arch(**kwargs)
    except (KeyError, ValueError, TypeError) as exc:
        msg = f"cannot build {card.architecture} with encoder {card.encoder!r}: {exc}"
        raise GeocoreError(msg) from exc


def load_imagenet_encoder(model, source: str | os.PathLike, *, encoder: str = "vgg16_bn") -> None:
    """Initialise a VGG encoder from ImageNet weights.

    Parameters
    ----------
    model : segmentation_models_pytorch model
        A model whose ``encoder`` is a torchvision-style VGG (``features.*``).
    source : str or path
        ``"imagenet"`` to let segmentation-models-pytorch download them (needs
        internet), or a local file of torchvision's VGG-16 weights
        (``vgg16-397923af.pth`` / ``vgg16_bn-6c64b313.pth``, read with
        ``torch.load(weights_only=True)``) or a ``.safetensors`` state dict.
    encoder : str
        Encoder name used for the download (``"vgg16_bn"`` or ``"vgg16"``).

    Notes
    -----
    When the model has one input channel, the first convolution's RGB kernels
    are summed, as segmentation-models-pytorch does for its own downloads, so a
    grey input that equals R = G = B gives the original responses.
    """
    torch = _torch()
    if str(source) == "imagenet":
        from segmentation_models_pytorch.encoders import get_encoder

        try:
            state = get_encoder(encoder, in_channels=3, weights="imagenet").state_dict()
        except Exception as exc:  # network errors come in many types
            msg = f"could not download ImageNet weights for {encoder} ({type(exc).__name__}); download torchvision's VGG-16 weights file on a connected machine and pass its path instead"
            raise GeocoreError(msg) from exc
    else:
        path = Path(source)
        if not path.is_file():
            msg = f"ImageNet weights file '{path}' does not exist; give the path of torchvision's vgg16 weights (.pth) or a .safetensors file"
            raise GeocoreError(msg)
        try:
            if path.suffix == ".safetensors":
                from safetensors.torch import load_file

                state = load_file(str(path))
            else:
                state = torch.load(str(path), map_location="cpu", weights_only=True)
        except Exception as exc:
            msg = f"cannot read ImageNet weights from '{path}' ({type(exc).__name__}); expected torchvision VGG-16 weights saved as a state dict"
            raise GeocoreError(msg) from exc
    state = {k: v for k, v in state.items() if k.startswith("features.")}
    target = model.encoder.state_dict()
    if not state or set(state) - set(target):
        msg = "the ImageNet weights do not match the encoder (VGG-16 with batch norm needs vgg16_bn weights, plain VGG-16 needs vgg16 weights)"
        raise GeocoreError(msg)
    first = "features.0.weight"
    w = state[first]
    in_ch = target[first].shape[1]
    if w.shape[1] != in_ch:
        if in_ch == 1:
            w = w.sum(dim=1, keepdim=True)
        else:
            reps = int(np.ceil(in_ch / w.shape[1]))
            w = torch.cat([w] * reps, dim=1)[:, :in_ch] * (w.shape[1] / in_ch)
        state[first] = w
    for k, v in state.items():
        if tuple(v.shape) != tuple(target[k].shape):
            msg = f"ImageNet weight {k} has shape {tuple(v.shape)}, the encoder expects {tuple(target[k].shape)}"
            raise GeocoreError(msg)
    model.encoder.load_state_dict(state, strict=False)


def save_model(model, card: ModelCard, path: str | os.PathLike, *, half: bool = True) -> Path:
    """Write ``path`` (.safetensors) and its card (.json beside it), atomically.

    Parameters
    ----------
    half : bool
        Store floating tensors as float16 (half the size; inference runs in
        float32 after loading).
    """
    from safetensors.torch import save_file

    torch = _torch()
    path = Path(path)
    if path.suffix != ".safetensors":
        path = path.with_suffix(".safetensors")
    state = {}
    for k, v in model.state_dict().items():
        v = v.detach().cpu().contiguous()
        if half and v.is_floating_point():
            v = v.to(torch.float16)
        state[k] = v
    with atomic_output(path) as tmp:
        save_file(state, str(tmp), metadata={"format": "geocore", "card": card.to_json()})
        with atomic_output(path.with_suffix(".json")) as tmp_card:
            card.save(tmp_card)
    return path


def _check_safetensors_header(path: Path) -> None:
    """Fail with a clear message when ``path`` is not a safetensors file."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(8)
            if len(head) < 8:
                raise ValueError("too short")
            (n,) = struct.unpack("<Q", head)
            if n <= 0 or n > 100_000_000 or n > path.stat().st_size:
                raise ValueError("bad header length")
            json.loads(fh.read(n))
    except (OSError, ValueError) as exc:
        msg = f"'{path}' is not a safetensors model file ({exc}); give a geocore .safetensors model"
        raise GeocoreError(msg) from exc


def load_model(path: str | os.PathLike, *, device: str = "cpu"):
    """Load a geocore model: returns ``(model, card)`` with the model in eval mode.

    The card is the ``.json`` beside the weights, or, when absent, the copy
    embedded in the safetensors metadata.
    """
    from safetensors import SafetensorError
    from safetensors.torch import load_file, safe_open

    torch = _torch()
    path = Path(path)
    if not path.is_file():
        msg = f"model file '{path}' does not exist; check the path or leave {{param}} empty for the shipped model"
        raise ParameterError(msg, param="model")
    _check_safetensors_header(path)
    card_path = path.with_suffix(".json")
    if card_path.is_file():
        card = ModelCard.load(card_path)
    else:
        with safe_open(str(path), framework="pt") as fh:
            meta = fh.metadata() or {}
        if "card" not in meta:
            msg = f"model '{path}' has no card: put its .json card beside it"
            raise GeocoreError(msg)
        card = ModelCard.from_dict(json.loads(meta["card"]), source=f"card embedded in '{path}'")
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError, ValueError) as exc:
        msg = f"model file '{path}' is corrupt ({exc}); download or train it again"
        raise GeocoreError(msg) from exc
    model = build_model(card)
    state = {k: v.to(torch.float32) if v.is_floating_point() else v for k, v in state.items()}
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        msg = f"weights in '{path}' do not match the architecture its card describes ({card.architecture}/{card.encoder})"
        raise GeocoreError(msg) from exc
    model.eval()
    return model.to(device), card


def resolve_device(device: str = "auto") -> str:
    """``"auto"`` -> ``"cuda"`` when a GPU is present, else ``"cpu"``."""
    torch = _torch()
    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        msg = "CUDA was requested but no GPU is visible to PyTorch; set {param} to cpu or auto"
        raise ParameterError(msg, param="device")
    if device not in ("cpu",) and not device.startswith("cuda"):
        msg = f"unknown device {device!r}; use auto, cpu or cuda"
        raise GeocoreError(msg)
    return device
