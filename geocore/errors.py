"""Exceptions shared by the library, the command line and the QGIS plugin.

Every problem a user can fix is a :class:`GeocoreError`, in one line that
names the problem and the fix. Three subclasses say where the fix lies:

* :class:`InputError`: an input file or its content (missing, unreadable,
  no georeferencing, no valid cell, ...);
* :class:`ParameterError`: an option of the call (a missing or bad value);
  it carries the parameter's library name (``param="crs"``), so that each
  front end names it its own way: the command line as ``--crs``, QGIS by the
  parameter's label;
* :class:`OutputError`: an output path (a folder, an input, not writable, ...).

A message may mention parameters with the placeholder ``{param}`` (the
exception's own parameter) or ``{param:NAME}`` (another one, e.g. a flag that
forces the operation); :meth:`GeocoreError.phrase` fills them in with a front
end's names, ``str(exc)`` with the library's (``'crs'``).
"""

from __future__ import annotations

import re
from typing import Callable, Optional

_PLACEHOLDER = re.compile(r"\{param(?::(\w+))?\}")


def library_name(param: str) -> str:
    """How a parameter is named to a caller of the Python library."""
    return f"'{param}'"


class GeocoreError(Exception):
    """A problem with the user's input or environment.

    The message names the problem and the fix in one sentence. The command line
    prints it as a single line (no traceback) and exits non-zero; the QGIS
    plugin raises it as a ``QgsProcessingException``.

    Parameters
    ----------
    message : str
        The sentence; may hold ``{param}`` / ``{param:NAME}`` placeholders.
    param : str or None
        Library name of the parameter the message is about (e.g. ``"band"``).
    """

    def __init__(self, message: str = "", param: Optional[str] = None) -> None:
        self.template = str(message)
        self.param = param
        super().__init__(self.phrase(library_name))

    def params(self) -> list[str]:
        """Library names of every parameter the message mentions (``param`` first)."""
        names = [self.param] if self.param else []
        for m in _PLACEHOLDER.finditer(self.template):
            if m.group(1) and m.group(1) not in names:
                names.append(m.group(1))
        return names

    def phrase(self, name: Callable[[str], str]) -> str:
        """The message with every parameter named by ``name(param) -> str``."""
        def fill(match: "re.Match[str]") -> str:
            param = match.group(1) or self.param
            return name(param) if param else match.group(0)

        return _PLACEHOLDER.sub(fill, self.template)


class InputError(GeocoreError):
    """An input file or its content is not usable (the fix is in the data)."""


class ParameterError(GeocoreError):
    """A parameter is missing or has a bad value; ``param`` names it."""


class OutputError(GeocoreError):
    """An output path cannot be written as asked."""


class Cancelled(GeocoreError):
    """The user cancelled the operation (nothing half-written is left behind)."""

    def __init__(self, msg: str = "cancelled by the user; no output was written") -> None:
        super().__init__(msg)


def cli_option(param: str) -> str:
    """Default command-line spelling of a library parameter: ``band`` -> ``--band``."""
    return "--" + param.replace("_", "-")
