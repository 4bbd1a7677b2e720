"""The ``geocore`` Processing provider."""

from __future__ import annotations

from qgis.core import QgsProcessingProvider
from qgis.PyQt.QtGui import QIcon

from .algorithms import ALGORITHMS
from .algorithms.base import ICON


class GeocoreProvider(QgsProcessingProvider):
    """Lists every geocore algorithm, whether or not its libraries are installed
    (an algorithm whose libraries are missing says so when run)."""

    def id(self) -> str:
        return "geocore"

    def name(self) -> str:
        return "geocore"

    def longName(self) -> str:  # noqa: N802 (QGIS API names)
        from .dependencies import PLUGIN_DIR

        version = _plugin_version(PLUGIN_DIR)
        return f"geocore {version}" if version else "geocore"

    def icon(self) -> QIcon:
        return QIcon(str(ICON))

    def loadAlgorithms(self) -> None:  # noqa: N802
        for algorithm in ALGORITHMS:
            self.addAlgorithm(algorithm())


def _plugin_version(plugin_dir) -> str:
    metadata = plugin_dir / "metadata.txt"
    if not metadata.is_file():
        metadata = plugin_dir.parent / "metadata.txt"  # running from the source tree
    try:
        for line in metadata.read_text(encoding="utf-8").splitlines():
            if line.startswith("version="):
                return line.split("=", 1)[1].strip()
    except OSError:
        pass
    return ""
