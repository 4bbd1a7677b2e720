"""Where geocore and its third-party libraries come from inside QGIS.

The plugin zip bundles the pure-Python ``geocore`` package under ``ext/`` so
that the plugin and the library always have the same version; it is put on
``sys.path`` only when QGIS's Python has no ``geocore`` of its own (a developer's
editable install wins).

The heavy third-party libraries (PyTorch, segmentation-models-pytorch,
rasterio, ...) cannot be bundled: the user installs them into QGIS's own
Python. :func:`missing_requirements` finds the absent ones without importing
them, and :func:`install_message` gives the exact command to run.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path
from typing import Dict, List, Optional

#: Import name -> pip requirement, for every third-party library geocore uses.
#: Kept equal to ``[project] dependencies`` of pyproject.toml by a test.
REQUIREMENTS: Dict[str, str] = {
    "numpy": "numpy>=1.24",
    "scipy": "scipy>=1.10",
    "torch": "torch>=2.1",
    "torchvision": "torchvision",
    "segmentation_models_pytorch": "segmentation-models-pytorch>=0.3",
    "safetensors": "safetensors>=0.4",
    "rasterio": "rasterio>=1.3",
    "affine": "affine<3",
    "geopandas": "geopandas>=0.14",
    "pyogrio": "pyogrio>=0.7",
    "shapely": "shapely>=2.0",
    "cv2": "opencv-python-headless>=4.8",
    "skimage": "scikit-image>=0.21",
    "harmonica": "harmonica>=0.6",
    "verde": "verde>=1.8",
    "skan": "skan>=0.11",
    "tqdm": "tqdm>=4.60",
    "matplotlib": "matplotlib>=3.7",
    "pandas": "pandas>=1.5",
    "pyproj": "pyproj>=3.4",
    "xarray": "xarray>=2022.6",
    "threadpoolctl": "threadpoolctl>=3.1",
}

PLUGIN_DIR = Path(__file__).resolve().parent
BUNDLED_DIR = PLUGIN_DIR / "ext"


def ensure_geocore_importable() -> Optional[str]:
    """Make ``import geocore`` work; return where it comes from (None: nowhere)."""
    spec = importlib.util.find_spec("geocore")
    if spec is None and (BUNDLED_DIR / "geocore" / "__init__.py").is_file():
        sys.path.insert(0, str(BUNDLED_DIR))
        importlib.invalidate_caches()
        spec = importlib.util.find_spec("geocore")
    if spec is None or spec.origin is None:
        return None
    return str(Path(spec.origin).parent)


def _has_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):  # a broken package counts as missing
        return False


def missing_requirements() -> List[str]:
    """pip requirements of the libraries QGIS's Python cannot find."""
    missing = [req for mod, req in REQUIREMENTS.items() if not _has_module(mod)]
    if ensure_geocore_importable() is None:
        missing.insert(0, "geocore")
    return missing


def python_executable() -> str:
    """The interpreter QGIS runs, for the pip command.

    Inside QGIS ``sys.executable`` is unreliable: the embedded Python guesses
    it from PATH (it was a pyenv shim on a test machine) or it is the QGIS
    binary itself (Windows). Only a ``python*`` inside ``sys.exec_prefix`` is
    trusted; otherwise the interpreter of this exact version in that prefix.
    """
    exe = Path(sys.executable) if sys.executable else None
    prefix = Path(sys.exec_prefix)
    if exe is not None and exe.name.lower().startswith("python") and prefix in exe.parents:
        return str(exe)
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    for candidate in (prefix / "python.exe", prefix / "bin" / f"python{version}", prefix / "bin" / "python3"):
        if candidate.is_file():
            return str(candidate)
    return str(exe) if exe is not None else "python3"


def install_command(missing: List[str]) -> str:
    """The pip command that installs ``missing`` into QGIS's Python."""
    reqs = " ".join(f'"{r}"' if any(c in r for c in "<>=") else r for r in missing if r != "geocore")
    return f'"{python_executable()}" -m pip install --user {reqs}'


def install_message(missing: List[str]) -> str:
    """A message naming the missing libraries and the exact command that installs them."""
    lines = [
        "geocore needs Python libraries that QGIS's Python cannot find: " + ", ".join(missing) + ".",
        "Install them into QGIS's Python with:",
        "    " + install_command(missing),
    ]
    if "geocore" in missing:
        lines.append("The geocore library itself is missing: reinstall the plugin from its zip.")
    if sys.platform.startswith("linux"):
        lines.append("On Debian/Ubuntu the system Python refuses pip installs: add --break-system-packages.")
    elif os.name == "nt":
        lines.append("On Windows run the command in the OSGeo4W Shell (Start menu), as the user who runs QGIS.")
    lines.append("Then restart QGIS.")
    return "\n".join(lines)


#: Binary wheels that bundle their own GEOS/GDAL/PROJ (under ``*.libs/``).
BUNDLED_NATIVE_MODULES = ("shapely", "pyogrio", "rasterio")


def isolate_bundled_native_libraries() -> List[str]:
    """Import wheels that bundle GEOS/GDAL with ``RTLD_DEEPBIND`` (Linux only).

    The QGIS executables (``qgis``, ``qgis_process``) link the system GEOS and
    GDAL, so their symbols sit in the process's global scope. Without this, a
    pip wheel's own copy (e.g. shapely built against GEOS 3.14) has its calls
    bound to the older system library, which fails in odd ways ("WKB output
    dimension must be 2 or 3") or crashes. ``RTLD_DEEPBIND`` makes each wheel
    resolve symbols in its own bundled libraries first. Must run before anything
    imports these modules; returns the modules imported here.
    """
    if not sys.platform.startswith("linux") or not hasattr(os, "RTLD_DEEPBIND"):
        return []
    todo = [m for m in BUNDLED_NATIVE_MODULES if m not in sys.modules and _has_module(m)]
    if not todo:
        return []
    import numpy  # noqa: F401  (numpy's own extensions load normally, before the flag)

    old_flags = sys.getdlopenflags()
    sys.setdlopenflags(os.RTLD_NOW | os.RTLD_LOCAL | os.RTLD_DEEPBIND)
    done = []
    try:
        for name in todo:
            try:
                importlib.import_module(name)
                done.append(name)
            except Exception:  # reported later by the algorithm that needs it
                pass
    finally:
        sys.setdlopenflags(old_flags)
    return done
