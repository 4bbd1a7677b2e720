"""Shared parts of every geocore algorithm: naming, help, dependency checks,
progress/cancel callbacks and the GeocoreError -> QgsProcessingException rule."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Callable, Dict, List, Tuple

from qgis.core import (
    QgsProcessingAlgorithm,
    QgsProcessingContext,
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProcessingParameterNumber,
)
from qgis.PyQt.QtCore import QCoreApplication
from qgis.PyQt.QtGui import QIcon

from .. import dependencies
from ..compat import FLAG_ADVANCED, NUMBER_INTEGER
from ..styles import style_on_load

ICON = Path(__file__).resolve().parents[1] / "icons" / "geocore.svg"
HOMEPAGE = "https://github.com/geocore-dev/geocore"

GROUPS = {
    "magnetics": "Magnetics",
    "lineaments": "Lineaments",
    "minerals": "Minerals",
    "microscopy": "Microscopy",
    "setup": "Setup",
}

DEVICES = ["auto", "cpu", "cuda"]


def presets() -> list:
    """The synthetic-survey presets, from geocore's plain-data table (the first is the default)."""
    from geocore.magnetics.params import PRESET_NAMES

    return list(PRESET_NAMES)


def advanced(param):
    """``param`` flagged as advanced (shown under *Advanced Parameters*)."""
    param.setFlags(param.flags() | FLAG_ADVANCED)
    return param


def number_range(setting: str, command: str = "") -> dict:
    """``minValue`` / ``maxValue`` of a number parameter, from geocore's table of ranges.

    The command line refuses the same values (:mod:`geocore.validate`), so
    both front ends accept one set of values. ``setting`` is the library's
    name of the setting (``"lr"``, ``"sigma"``, ...).
    """
    from geocore.validate import range_for

    rng = range_for(setting, command)
    bounds = {}
    if rng is not None and rng.minimum is not None:
        bounds["minValue"] = rng.minimum
    if rng is not None and rng.maximum is not None:
        bounds["maxValue"] = rng.maximum
    return bounds


def integer_param(name: str, description: str, default: int, minimum: int = 1):
    """An integer number parameter with a default and a lower bound."""
    return QgsProcessingParameterNumber(name, description, type=NUMBER_INTEGER, defaultValue=default, minValue=minimum)


class GeocoreAlgorithm(QgsProcessingAlgorithm):
    """Base class: subclasses set the class attributes and implement :meth:`call_geocore`."""

    NAME = ""  #: algorithm id within the provider
    DISPLAY_NAME = ""
    GROUP = "lineaments"  #: key of :data:`GROUPS`
    HELP = ""  #: shortHelpString (HTML allowed)
    #: library parameter name -> this algorithm's parameter, where it is not the name in capitals
    #: (how error messages name what to change, see geocore.errors)
    PARAMETER_NAMES: Dict[str, str] = {}

    def __init__(self) -> None:
        super().__init__()
        self._styles: List[Tuple[str, str]] = []  # (destination, style name) to apply on load

    # --- identity -----------------------------------------------------------------
    def name(self) -> str:
        return self.NAME

    def displayName(self) -> str:  # noqa: N802 (QGIS API names)
        return self.tr(self.DISPLAY_NAME)

    def group(self) -> str:
        return self.tr(GROUPS[self.GROUP])

    def groupId(self) -> str:  # noqa: N802
        return self.GROUP

    def shortHelpString(self) -> str:  # noqa: N802
        # QGIS's dialog makes every line break of the help a paragraph of its own: the HTML is written
        # wrapped for the source, so it is given to QGIS on one line (the tags make the paragraphs)
        return self.tr(re.sub(r"\s*\n\s*", " ", self.HELP).strip())

    def helpUrl(self) -> str:  # noqa: N802
        return HOMEPAGE

    def icon(self) -> QIcon:
        return QIcon(str(ICON))

    def tr(self, text: str) -> str:
        return QCoreApplication.translate("geocore", text)

    def createInstance(self) -> "GeocoreAlgorithm":  # noqa: N802
        return type(self)()

    # --- running ------------------------------------------------------------------
    def missing_libraries(self) -> List[str]:
        """pip requirements of the libraries *this* algorithm needs that QGIS's Python lacks."""
        return dependencies.missing_for_algorithm(self.NAME)

    def canExecute(self) -> Tuple[bool, str]:  # noqa: N802
        missing = self.missing_libraries()
        if missing:
            return False, dependencies.install_message(missing, self.DISPLAY_NAME)
        return True, ""

    def checkParameterValues(self, parameters: Dict, context: QgsProcessingContext) -> Tuple[bool, str]:  # noqa: N802
        # dialogs, processing.run and qgis_process all check here first and print the message once
        # (an exception from processAlgorithm is printed three times by qgis_process)
        ok, message = self.canExecute()
        if not ok:
            return False, message
        return super().checkParameterValues(parameters, context)

    def processAlgorithm(self, parameters: Dict, context: QgsProcessingContext,
                         feedback: QgsProcessingFeedback) -> Dict:  # noqa: N802
        ok, message = self.canExecute()
        if not ok:
            raise QgsProcessingException(message)
        import geocore
        from geocore.errors import GeocoreError

        feedback.pushInfo(f"geocore {geocore.__version__} ({Path(geocore.__file__).parent})")
        self._styles = []
        try:
            return self.call_geocore(parameters, context, feedback)
        except GeocoreError as exc:
            raise QgsProcessingException(exc.phrase(self.parameter_label)) from exc

    def parameter_label(self, param: str) -> str:
        """How this dialog names the library parameter ``param``: its label, e.g. ``'Band'``."""
        definition = self.parameterDefinition(self.PARAMETER_NAMES.get(param, param.upper()))
        if definition is None:
            return f"'{param}'"
        return f"'{definition.description()}'"

    def push_notes(self, notes, feedback: QgsProcessingFeedback) -> None:
        """A reader's notes (e.g. dummies read as nodata) as warnings, parameters named by their labels."""
        from geocore.errors import GeocoreError

        for note in notes:
            feedback.pushWarning(GeocoreError(note).phrase(self.parameter_label))

    def call_geocore(self, parameters: Dict, context: QgsProcessingContext,
                     feedback: QgsProcessingFeedback) -> Dict:
        """Read the parameters, call one geocore function, return the outputs dict."""
        raise NotImplementedError

    def postProcessAlgorithm(self, context: QgsProcessingContext, feedback: QgsProcessingFeedback) -> Dict:  # noqa: N802
        # runs in the main thread, before QGIS loads the outputs
        for destination, style in self._styles:
            style_on_load(context, destination, style, feedback)
        return {}

    # --- helpers for subclasses ---------------------------------------------------
    @staticmethod
    def progress(feedback: QgsProcessingFeedback) -> Callable[[float], None]:
        return lambda fraction: feedback.setProgress(100.0 * fraction)

    def style_output(self, destination: str, style: str) -> None:
        """Apply ``styles/<style>.qml`` to ``destination`` when QGIS loads it."""
        self._styles.append((destination, style))

    def raster_source(self, parameters: Dict, name: str, context: QgsProcessingContext) -> str:
        """File path (GDAL name) of a raster layer parameter."""
        layer = self.parameterAsRasterLayer(parameters, name, context)
        if layer is None:
            raise QgsProcessingException(self.invalidRasterError(parameters, name))
        if layer.providerType() != "gdal":
            raise QgsProcessingException(
                f"{layer.name()} is a {layer.providerType()} layer; geocore reads rasters through GDAL, "
                "so save it as a GeoTIFF first")
        return layer.source()
