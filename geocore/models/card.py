"""Model cards: the JSON description that travels with every weights file."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import GeocoreError

CARD_FORMAT = "geocore-model-card/1"


@dataclass
class ModelCard:
    """What a model is, how to feed it and how well it did.

    Attributes
    ----------
    name : str
        Short model name.
    task : str
        ``"lineaments"`` (one probability channel) or ``"minerals"`` (classes).
    architecture : str
        segmentation-models-pytorch architecture name, e.g. ``"Unet"``.
    encoder : str
        Encoder name, e.g. ``"vgg16_bn"`` (VGG-16 with batch normalisation).
    in_channels : int
        Number of input bands.
    classes : int
        Number of output channels (1: sigmoid probability; >1: softmax).
    tile_size : int
        Tile edge in cells the model was trained on.
    normalization : dict
        Input normalisation, see :func:`geocore.models.normalize.normalize`.
    decoder_channels : list of int
        Decoder widths (smp ``decoder_channels``).
    class_names : list of str
        Names of the output classes.
    class_codes : list of int
        For class models: the class code (e.g. LumenStone code) of each output
        channel, in order; empty for lineament models.
    training, metrics : dict
        Data parameters, command, seed, and measured metrics.
    notes : str
        Free text (limitations, demo status).
    """

    name: str = "model"
    task: str = "lineaments"
    architecture: str = "Unet"
    encoder: str = "vgg16_bn"
    in_channels: int = 1
    classes: int = 1
    tile_size: int = 192
    normalization: dict = field(default_factory=lambda: {"mode": "local_zscore", "window": 192, "clip": 3.0})
    decoder_channels: list = field(default_factory=lambda: [256, 128, 64, 32, 16])
    class_names: list = field(default_factory=lambda: ["lineament"])
    class_codes: list = field(default_factory=list)
    training: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)
    notes: str = ""
    format: str = CARD_FORMAT

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2, sort_keys=False)

    def save(self, path: str | Path) -> None:
        Path(path).write_text(self.to_json() + "\n", encoding="utf-8")

    @classmethod
    def from_dict(cls, data: dict[str, Any], source: str = "card") -> "ModelCard":
        if not isinstance(data, dict) or data.get("format") != CARD_FORMAT:
            msg = f"{source} is not a geocore model card (expected format '{CARD_FORMAT}')"
            raise GeocoreError(msg)
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    @classmethod
    def load(cls, path: str | Path) -> "ModelCard":
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError as exc:
            msg = f"model card '{path}' is missing; a model is a .safetensors file with a .json card beside it"
            raise GeocoreError(msg) from exc
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            msg = f"model card '{path}' is not valid JSON; restore it from the model's source"
            raise GeocoreError(msg) from exc
        return cls.from_dict(data, source=f"'{path}'")
