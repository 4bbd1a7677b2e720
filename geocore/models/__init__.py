"""Networks, model files and input normalisation."""

from .card import ModelCard
from .network import build_model, load_imagenet_encoder, load_model, resolve_device, save_model
from .normalize import depends_on_tile, halo_cells, normalize

__all__ = [
    "ModelCard",
    "build_model",
    "depends_on_tile",
    "halo_cells",
    "load_imagenet_encoder",
    "load_model",
    "normalize",
    "resolve_device",
    "save_model",
]
