"""Training a lineament model on synthetic dyke surveys."""

from __future__ import annotations

from pathlib import Path
from typing import Dict

from qgis.core import (
    QgsProcessingParameterEnum,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterNumber,
)

from ..compat import NUMBER_DOUBLE, NUMBER_INTEGER
from .base import DEVICES, GeocoreAlgorithm, number_range, presets


class TrainLineamentModel(GeocoreAlgorithm):
    NAME = "trainlineamentmodel"
    DISPLAY_NAME = "Train lineament model"
    GROUP = "lineaments"
    HELP = """<p>Trains a lineament model (U-Net with a VGG-16 encoder) on synthetic dyke surveys generated
on the fly, and writes it as a <code>.safetensors</code> file with a <code>.json</code> model card beside
it (architecture, normalisation, training parameters and validation metrics). The model can then be
given to <i>Detect lineaments</i>.</p>
<h3>Inputs</h3>
<ul><li><b>Samples</b>: number of synthetic training tiles.</li>
<li><b>Epochs</b>, <b>batch size</b>, <b>learning rate</b> (Adam), <b>tile size</b> in cells.</li>
<li><b>Seed</b>: the same seed gives the same data and initial weights.</li>
<li><b>Preset</b>: synthetic data preset (<i>paper</i> or <i>realistic</i>, see <i>Synthesize dyke survey</i>).</li>
<li><b>Device</b>: auto uses a CUDA GPU when PyTorch sees one; training on a CPU is slow.</li></ul>
<h3>Outputs</h3>
<ul><li><b>Model</b>: the <code>.safetensors</code> weights; the card is written beside it with the
extension <code>.json</code>.</li></ul>
<p>Per-epoch loss and metrics are written to the log. The generated samples and the last checkpoint
are kept in the folder <code>&lt;model&gt;.ckpt</code> beside the model.</p>"""

    def initAlgorithm(self, config=None) -> None:  # noqa: N802
        def integer(name, text, default, minimum=1):
            return QgsProcessingParameterNumber(name, text, type=NUMBER_INTEGER, defaultValue=default,
                                                minValue=minimum)

        from geocore.lineaments import params as P  # plain data: no numpy at plugin start

        self.addParameter(integer("SAMPLES", "Training samples", P.DEFAULT_SAMPLES))
        self.addParameter(integer("EPOCHS", "Epochs", P.DEFAULT_EPOCHS))
        self.addParameter(integer("BATCH_SIZE", "Batch size", P.DEFAULT_BATCH_SIZE))
        self.addParameter(QgsProcessingParameterNumber("LEARNING_RATE", "Learning rate", type=NUMBER_DOUBLE,
                                                       defaultValue=P.DEFAULT_LR, **number_range("lr")))
        self.addParameter(integer("TILE_SIZE", "Tile size (cells)", P.DEFAULT_TILE_SIZE, minimum=32))
        self.addParameter(integer("SEED", "Random seed", P.DEFAULT_SEED, minimum=0))
        self.addParameter(QgsProcessingParameterEnum("PRESET", "Synthetic data preset", options=presets(),
                                                     defaultValue=0))
        self.addParameter(QgsProcessingParameterEnum("DEVICE", "Device", options=DEVICES, defaultValue=0))
        self.addParameter(QgsProcessingParameterFileDestination("OUTPUT_MODEL", "Model",
                                                                fileFilter="geocore models (*.safetensors)"))

    def call_geocore(self, parameters: Dict, context, feedback) -> Dict:
        from geocore.lineaments.train import TrainConfig, train_lineament_model

        config = TrainConfig(
            out=Path(self.parameterAsFileOutput(parameters, "OUTPUT_MODEL", context)),
            samples=self.parameterAsInt(parameters, "SAMPLES", context),
            epochs=self.parameterAsInt(parameters, "EPOCHS", context),
            batch_size=self.parameterAsInt(parameters, "BATCH_SIZE", context),
            lr=self.parameterAsDouble(parameters, "LEARNING_RATE", context),
            tile_size=self.parameterAsInt(parameters, "TILE_SIZE", context),
            seed=self.parameterAsInt(parameters, "SEED", context),
            preset=presets()[self.parameterAsEnum(parameters, "PRESET", context)],
            device=DEVICES[self.parameterAsEnum(parameters, "DEVICE", context)],
        )
        model = train_lineament_model(config, progress=self.progress(feedback), cancel=feedback.isCanceled,
                                      log=feedback.pushInfo)
        feedback.pushInfo(f"model: {model}\ncard: {Path(model).with_suffix('.json')}")
        return {"OUTPUT_MODEL": str(model)}
