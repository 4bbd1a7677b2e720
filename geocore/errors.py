"""Exceptions shared by the library, the command line and the QGIS plugin."""

from __future__ import annotations


class GeocoreError(Exception):
    """A problem with the user's input or environment.

    The message names the problem and the fix in one sentence. The command line
    prints it as a single line (no traceback) and exits non-zero; the QGIS
    plugin raises it as a ``QgsProcessingException``.
    """


class Cancelled(GeocoreError):
    """The user cancelled the operation (nothing half-written is left behind)."""

    def __init__(self, msg: str = "cancelled by the user; no output was written") -> None:
        super().__init__(msg)
