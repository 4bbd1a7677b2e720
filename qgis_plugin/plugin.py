"""The plugin object QGIS creates: registers the provider and a small menu."""

from __future__ import annotations

from typing import List, Optional

from qgis.core import QgsApplication, QgsMessageLog
from qgis.PyQt.QtCore import QUrl
from qgis.PyQt.QtGui import QDesktopServices, QIcon
from qgis.PyQt.QtWidgets import QMessageBox

try:  # Qt6 (QGIS 4) moved QAction to QtGui
    from qgis.PyQt.QtGui import QAction
except ImportError:  # Qt5 (QGIS 3)
    from qgis.PyQt.QtWidgets import QAction

from . import dependencies
from .algorithms.base import HOMEPAGE, ICON
from .compat import MSG_INFO, MSG_WARNING
from .provider import GeocoreProvider

MENU = "&geocore"
LOG_TAG = "geocore"

#: (menu text, algorithm id) of the algorithms the menu opens directly.
MENU_ALGORITHMS = (
    ("Detect lineaments…", "geocore:detectlineaments"),
    ("Vectorize lineament probability…", "geocore:vectorizelineaments"),
    ("Synthesize dyke survey…", "geocore:synthesizesurvey"),
    ("Train lineament model…", "geocore:trainlineamentmodel"),
    ("Segment ore minerals…", "geocore:segmentminerals"),
)


class GeocorePlugin:
    """QGIS calls :meth:`initProcessing` (also in qgis_process, where ``iface`` is
    None), :meth:`initGui` in the desktop application and :meth:`unload`."""

    def __init__(self, iface) -> None:
        self.iface = iface
        self.provider: Optional[GeocoreProvider] = None
        self.actions: List[QAction] = []
        self.geocore_location = dependencies.ensure_geocore_importable()

    # --- processing ---------------------------------------------------------------
    def initProcessing(self) -> None:  # noqa: N802 (QGIS API names)
        if self.provider is None:
            self.provider = GeocoreProvider()
            QgsApplication.processingRegistry().addProvider(self.provider)
            self.report_dependencies()

    def report_dependencies(self) -> List[str]:
        """Log (and show in the message bar) what QGIS's Python lacks; return it."""
        missing = dependencies.missing_requirements()
        if not missing:
            isolated = dependencies.isolate_bundled_native_libraries()
            QgsMessageLog.logMessage(f"geocore library: {self.geocore_location}; "
                                     f"loaded with their own GEOS/GDAL: {', '.join(isolated) or 'none'}",
                                     LOG_TAG, MSG_INFO)
            return missing
        message = dependencies.install_message(missing)
        QgsMessageLog.logMessage(message, LOG_TAG, MSG_WARNING)
        if self.iface is not None:
            self.iface.messageBar().pushMessage(
                "geocore", "Python libraries are missing: " + ", ".join(missing), message, MSG_WARNING, 0)
        return missing

    # --- desktop ------------------------------------------------------------------
    def initGui(self) -> None:  # noqa: N802
        self.initProcessing()
        if self.iface is None:
            return
        icon = QIcon(str(ICON))
        for text, algorithm_id in MENU_ALGORITHMS:
            self._add_action(icon, text, lambda _=False, a=algorithm_id: self.open_algorithm(a))
        self._add_action(icon, "Check Python libraries", lambda _=False: self.show_dependencies())
        self._add_action(icon, "Help", lambda _=False: QDesktopServices.openUrl(QUrl(HOMEPAGE)))

    def _add_action(self, icon: QIcon, text: str, slot) -> QAction:
        action = QAction(icon, text, self.iface.mainWindow())
        action.triggered.connect(slot)
        self.iface.addPluginToMenu(MENU, action)
        self.actions.append(action)
        return action

    @staticmethod
    def open_algorithm(algorithm_id: str) -> None:
        import processing

        processing.execAlgorithmDialog(algorithm_id, {})

    def show_dependencies(self) -> None:
        missing = dependencies.missing_requirements()
        text = dependencies.install_message(missing) if missing else \
            f"All Python libraries geocore needs are installed.\ngeocore library: {self.geocore_location}"
        QMessageBox.information(self.iface.mainWindow(), "geocore", text)

    def unload(self) -> None:
        for action in self.actions:
            if self.iface is not None:
                self.iface.removePluginMenu(MENU, action)
            action.deleteLater()
        self.actions = []
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
