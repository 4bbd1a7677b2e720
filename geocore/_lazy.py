"""Names of a package that load from their submodule on first use (PEP 562).

A package whose ``params`` module must import before the scientific libraries
are installed (the QGIS plugin builds its dialogs from it) exports its main
functions this way instead of importing them in ``__init__``.
"""

from __future__ import annotations

import importlib
from typing import Callable


def lazy_exports(package: str, exports: dict) -> tuple[list, Callable]:
    """``__all__`` and the module ``__getattr__`` of ``package``.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    exports : dict of str -> str
        Exported name -> submodule holding it (e.g. ``{"stitch": "pipeline"}``).

    Examples
    --------
    In ``geocore/panorama/__init__.py``: ``__all__, __getattr__ = lazy_exports(__name__, _EXPORTS)``.
    """
    def __getattr__(name: str):
        if name in exports:
            return getattr(importlib.import_module(f".{exports[name]}", package), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return sorted(exports), __getattr__
