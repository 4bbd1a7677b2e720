"""A Processing feedback shared by the QGIS tests: it keeps what an algorithm reported."""

from __future__ import annotations

from qgis.core import QgsProcessingFeedback


class RecordingFeedback(QgsProcessingFeedback):
    """Keeps the progress values, infos, warnings and errors (and passes them on to QGIS)."""

    def __init__(self) -> None:
        super().__init__()
        self.progress_values, self.infos, self.warnings, self.errors = [], [], [], []
        self.progressChanged.connect(self.progress_values.append)

    def pushInfo(self, info):  # noqa: N802 (QGIS API names)
        self.infos.append(info)
        super().pushInfo(info)

    def pushWarning(self, warning):  # noqa: N802
        self.warnings.append(warning)
        super().pushWarning(warning)

    def reportError(self, error, fatalError=False):  # noqa: N802,N803
        self.errors.append(error)
        super().reportError(error, fatalError)
