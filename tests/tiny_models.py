"""A tiny one-band lineament network for tests: a ResNet-18 U-Net with a narrow decoder, seeded."""

from __future__ import annotations

from pathlib import Path


def tiny_lineament_model(path, *, decoder: int = 8, tile: int = 64, window: int = 31, seed: int = 0) -> Path:
    """Write a randomly initialised (``seed``) lineament model and its card to ``path``; returns the path."""
    import torch

    from geocore.models import ModelCard, build_model, save_model

    card = ModelCard(tile_size=tile, encoder="resnet18", decoder_channels=[decoder] * 5,
                     normalization={"mode": "local_zscore", "window": window, "clip": 3.0})
    torch.manual_seed(seed)
    return save_model(build_model(card), card, Path(path))
