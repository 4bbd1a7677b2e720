"""The plugin object QGIS creates: registers the provider and the geocore menu."""

from __future__ import annotations

from typing import List, Optional

from qgis.core import QgsApplication, QgsMessageLog
from qgis.PyQt.QtCore import QUrl
from qgis.PyQt.QtGui import QDesktopServices, QIcon
from qgis.PyQt.QtWidgets import QMenu

try:  # Qt6 (QGIS 4) moved QAction to QtGui
    from qgis.PyQt.QtGui import QAction
except ImportError:  # Qt5 (QGIS 3)
    from qgis.PyQt.QtWidgets import QAction

from . import dependencies
from .algorithms import ALGORITHMS
from .algorithms.base import GROUPS, HOMEPAGE, ICON
from .compat import MSG_INFO, MSG_WARNING
from .provider import GeocoreProvider

MENU = "&geocore"
LOG_TAG = "geocore"
INSTALLER = "geocore:installdependencies"
CHECK_TEXT = "Check / install Python libraries…"


def menu_groups() -> List[tuple]:
    """``(group label, [(menu text, algorithm id), ...])`` for every algorithm, in the order of GROUPS."""
    groups = []
    for key, label in GROUPS.items():
        entries = [(f"{cls.DISPLAY_NAME}…", f"geocore:{cls.NAME}") for cls in ALGORITHMS if cls.GROUP == key]
        if entries and key != "setup":
            groups.append((label, entries))
    return groups


class GeocorePlugin:
    """QGIS calls :meth:`initProcessing` (also in qgis_process, where ``iface`` is
    None), :meth:`initGui` in the desktop application and :meth:`unload`."""

    def __init__(self, iface) -> None:
        self.iface = iface
        self.provider: Optional[GeocoreProvider] = None
        self.actions: List[QAction] = []
        self.menus: List[QMenu] = []
        # libraries installed by "Check / install Python libraries" live in folders of their own
        self.library_folders = dependencies.activate_targets(dependencies.remembered_targets())
        self.geocore_location = dependencies.ensure_geocore_importable()

    # --- processing ---------------------------------------------------------------
    def initProcessing(self) -> None:  # noqa: N802 (QGIS API names)
        if self.provider is None:
            self.provider = GeocoreProvider()
            QgsApplication.processingRegistry().addProvider(self.provider)
            self.report_dependencies()

    def report_dependencies(self) -> List[str]:
        """Log (and show in the message bar) what QGIS's Python lacks; return it.

        One line per algorithm that cannot run goes to the message log; the
        message bar names the missing libraries and the installer. Running an
        algorithm that lacks some prints its own message, once.
        """
        # before anything imports them, whatever else is missing (a wheel's GEOS/GDAL bound to QGIS's crashes)
        isolated = dependencies.isolate_bundled_native_libraries()
        missing = dependencies.missing_requirements()
        if not missing:
            QgsMessageLog.logMessage(f"geocore library: {self.geocore_location}; "
                                     f"library folders: {', '.join(self.library_folders) or 'none'}; "
                                     f"loaded with their own GEOS/GDAL: {', '.join(isolated) or 'none'}",
                                     LOG_TAG, MSG_INFO)
            return missing
        blocked = [cls.DISPLAY_NAME for cls in ALGORITHMS if dependencies.missing_for_algorithm(cls.NAME)]
        summary = (f"{len(blocked)} of {len(ALGORITHMS) - 1} algorithms lack Python libraries "
                   f"({', '.join(missing)}); install them with Plugins > geocore > {CHECK_TEXT[:-1]}")
        QgsMessageLog.logMessage(summary + "\nblocked: " + "; ".join(blocked), LOG_TAG, MSG_WARNING)
        if self.iface is not None:
            self.iface.messageBar().pushMessage(
                "geocore", "Python libraries are missing: " + ", ".join(missing), dependencies.install_message(missing),
                MSG_WARNING, 0)
        return missing

    # --- desktop ------------------------------------------------------------------
    def initGui(self) -> None:  # noqa: N802
        self.initProcessing()
        if self.iface is None:
            return
        icon = QIcon(str(ICON))
        for label, entries in menu_groups():
            menu = QMenu(label, self.iface.mainWindow())
            menu.setIcon(icon)
            for text, algorithm_id in entries:
                action = menu.addAction(icon, text)
                action.triggered.connect(lambda _=False, a=algorithm_id: self.open_algorithm(a))
            self.menus.append(menu)
            self._add_action(menu.menuAction())
        self._add_action(self._action(icon, CHECK_TEXT, lambda _=False: self.open_algorithm(INSTALLER)))
        self._add_action(self._action(icon, "Help", lambda _=False: QDesktopServices.openUrl(QUrl(HOMEPAGE))))

    def _action(self, icon: QIcon, text: str, slot) -> QAction:
        action = QAction(icon, text, self.iface.mainWindow())
        action.triggered.connect(slot)
        return action

    def _add_action(self, action: QAction) -> QAction:
        self.iface.addPluginToMenu(MENU, action)
        self.actions.append(action)
        return action

    @staticmethod
    def open_algorithm(algorithm_id: str) -> None:
        import processing

        processing.execAlgorithmDialog(algorithm_id, {})

    def unload(self) -> None:
        for action in self.actions:
            if self.iface is not None:
                self.iface.removePluginMenu(MENU, action)
        for menu in self.menus:
            menu.deleteLater()
        for action in self.actions:
            if action.menu() is None:
                action.deleteLater()
        self.actions, self.menus = [], []
        if self.provider is not None:
            QgsApplication.processingRegistry().removeProvider(self.provider)
            self.provider = None
