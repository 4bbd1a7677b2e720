"""Styles applied to outputs when QGIS loads them (``styles/*.qml``).

The .qml files are made by ``scripts/make_plugin_styles.py``:

- ``lineaments.qml``: dark lines whose width follows ``mean_prob``;
- ``true_axes.qml``: thin red lines for synthetic true axes;
- ``probability.qml``: singleband pseudocolour, Magma ramp fixed to 0..1;
- ``mineral_classes.qml``: paletted class map in the LumenStone colours;
- ``minerals.qml``: mineral polygons filled by ``code`` in the LumenStone colours.
"""

from __future__ import annotations

from pathlib import Path
from typing import List

from qgis.core import QgsProcessingContext, QgsProcessingFeedback, QgsProcessingLayerPostProcessorInterface

STYLE_DIR = Path(__file__).resolve().parent / "styles"


def style_path(name: str) -> Path:
    """Path of the style ``name`` (``"lineaments"``, ``"true_axes"``, ``"probability"``)."""
    return STYLE_DIR / f"{name}.qml"


class StyleLoader(QgsProcessingLayerPostProcessorInterface):
    """Loads one .qml onto an output layer once QGIS has loaded it."""

    def __init__(self, qml: Path) -> None:
        super().__init__()
        self.qml = qml

    def postProcessLayer(self, layer, context, feedback) -> None:  # noqa: N802 (Qt name)
        message, ok = layer.loadNamedStyle(str(self.qml))
        if not ok:
            feedback.reportError(f"could not apply style {self.qml.name} to {layer.name()}: {message}")
        layer.triggerRepaint()


# QGIS takes ownership of a post-processor and deletes it once the layer is
# loaded, so every output gets a fresh loader (reusing one crashed the second
# run that loaded the same style: "wrapped C/C++ object has been deleted").
# The Python objects are also kept here (the last few), so that they outlive
# the run even where a QGIS build keeps only a pointer.
_LOADERS: List[StyleLoader] = []


def loader(name: str) -> StyleLoader:
    _LOADERS.append(StyleLoader(style_path(name)))
    del _LOADERS[:-64]
    return _LOADERS[-1]


def style_on_load(context: QgsProcessingContext, destination: str, name: str,
                  feedback: QgsProcessingFeedback = None) -> bool:
    """Style ``destination`` with ``name`` if QGIS will load it when the run ends."""
    if not destination or not context.willLoadLayerOnCompletion(destination):
        return False
    context.layerToLoadOnCompletionDetails(destination).setPostProcessor(loader(name))
    return True
