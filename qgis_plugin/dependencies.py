"""Where geocore and its third-party libraries come from inside QGIS, and installing them.

The plugin zip bundles the pure-Python ``geocore`` package under ``ext/`` so
that the plugin and the library always have the same version; it is put on
``sys.path`` only when QGIS's Python has no ``geocore`` of its own (a developer's
editable install wins).

The heavy third-party libraries (PyTorch, segmentation-models-pytorch,
rasterio, ...) cannot be bundled. Each algorithm needs only some of them
(:data:`ALGORITHM_NEEDS`: converting a grid needs no PyTorch), and only the
missing ones of *that* algorithm stop it, with a message naming them and the
ways to install them (:func:`install_message`).

:func:`install` puts missing libraries into a folder the plugin owns
(:func:`default_target`, ``<QGIS profile>/python/geocore-libs-pyX.Y``; added
to ``sys.path`` when the plugin loads, :func:`activate_targets`) or the user
site, with pip run by QGIS's own interpreter: ``pip install --prefix``, so
what QGIS's Python already has is not installed again. PyTorch comes from
PyTorch's CPU or CUDA wheel index, chosen for the machine
(:func:`torch_variant`: ``nvidia-smi`` and the CUDA version its driver
supports), or from the configured pip index as it is. :func:`self_test` then
reports the versions, the device and the time of one 192 x 192 tile through
the shipped lineament model.

This module imports nothing from QGIS at import time and runs as a script
(``python dependencies.py --self-test``) for the self-test in a fresh interpreter.
"""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import re
import shlex
import shutil
import site
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Dict, Iterable, List, Optional, Sequence

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
    "h5netcdf": "h5netcdf>=1.0",
    "h5py": "h5py>=3.0",
    "threadpoolctl": "threadpoolctl>=3.1",
}

#: PyTorch's own wheels, installed from its CPU or CUDA index.
TORCH_MODULES = ("torch", "torchvision")

#: What every library algorithm reaches: arrays, rasters in and out, CRSs, progress bars.
_CORE = ("numpy", "rasterio", "affine", "pyproj", "tqdm")
#: Reading survey grids of every format (netCDF-4, Geosoft, vector outlines).
_GRID_READ = ("xarray", "h5netcdf", "h5py", "harmonica", "geopandas", "pyogrio")
#: Running or training a network.
_TORCH = ("torch", "segmentation_models_pytorch", "safetensors")
#: Writing vector layers, tables and figures.
_VECTOR = ("geopandas", "pyogrio", "shapely", "pandas", "matplotlib")
#: Turning a probability raster into lines (skeletons, graphs).
_SKELETON = ("scipy", "skimage", "skan", "cv2")
#: Reading and writing photographs.
_PHOTO = ("cv2", "geopandas", "pyogrio")

#: Algorithm id -> the import names (keys of REQUIREMENTS) its library code reaches: the core, the
#: groups it uses and its own extras. A test checks each entry against the imports of the geocore
#: modules the algorithm calls.
ALGORITHM_NEEDS: Dict[str, tuple] = {
    "convertgrid": _CORE + _GRID_READ,
    "transformgrid": _CORE + _GRID_READ + ("scipy", "shapely"),
    "gridflightlines": _CORE + _GRID_READ + ("pandas", "verde", "threadpoolctl"),
    "comparelineaments": _CORE + _GRID_READ + _VECTOR + ("scipy",),
    "synthesizesurvey": _CORE + ("scipy", "harmonica", "geopandas", "pyogrio", "shapely"),
    "detectlineaments": _CORE + _GRID_READ + _TORCH + _VECTOR + _SKELETON,
    "vectorizelineaments": _CORE + _VECTOR + _SKELETON,
    "finetunelineamentmodel": _CORE + _GRID_READ + _TORCH + _VECTOR + _SKELETON,
    "trainlineamentmodel": _CORE + _TORCH + ("scipy", "harmonica", "geopandas", "pyogrio", "shapely", "skimage"),
    "segmentminerals": _CORE + _TORCH + _VECTOR + ("scipy",),
    "mineralstatistics": _CORE + ("scipy", "geopandas", "pyogrio", "matplotlib"),
    "synthesizesection": _CORE + _TORCH + _VECTOR + ("scipy", "cv2"),
    "trainmineralmodel": _CORE + _TORCH + _VECTOR + ("scipy", "cv2"),
    "evaluatemineralmodel": _CORE + _TORCH + _VECTOR + ("scipy", "cv2"),
    "stitchpanorama": _CORE + _PHOTO + ("matplotlib",),
    "flatfield": _CORE + _PHOTO,
    "colourfit": _CORE + _PHOTO + ("scipy", "skimage"),
    "colourcorrect": _CORE + _PHOTO + ("scipy", "skimage"),
    "alignpolarized": _CORE + _PHOTO,
    "superpixelannotate": _CORE + _PHOTO + ("shapely", "skimage"),
    "uncertaintyregions": _CORE + _PHOTO + _TORCH + ("scipy", "shapely", "skimage", "matplotlib"),
    "installdependencies": (),
}

PLUGIN_DIR = Path(__file__).resolve().parent
BUNDLED_DIR = PLUGIN_DIR / "ext"
#: QgsSettings key holding the extra library folders chosen in the installer.
SETTINGS_KEY = "geocore/python_folders"
#: Where PyTorch publishes its wheels: ``<base>/cpu``, ``<base>/cu124``, ...
TORCH_INDEX_BASE = "https://download.pytorch.org/whl"
#: CUDA builds of PyTorch wheels, oldest first (tag, CUDA version).
TORCH_CUDA_BUILDS = (("cu118", (11, 8)), ("cu121", (12, 1)), ("cu124", (12, 4)), ("cu126", (12, 6)),
                     ("cu128", (12, 8)))
TORCH_SOURCES = ("auto", "cpu", "cuda", "index")


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


def missing_requirements(modules: Optional[Iterable[str]] = None) -> List[str]:
    """pip requirements of the libraries (all, or of ``modules``) QGIS's Python cannot find.

    ``"geocore"`` comes first when the library itself is missing.
    """
    wanted = set(REQUIREMENTS if modules is None else modules)
    missing = [req for mod, req in REQUIREMENTS.items() if mod in wanted and not _has_module(mod)]
    if ensure_geocore_importable() is None:
        missing.insert(0, "geocore")
    return missing


def missing_for_algorithm(name: str) -> List[str]:
    """The missing requirements of one algorithm (by id, e.g. ``"convertgrid"``)."""
    needs = ALGORITHM_NEEDS.get(name)
    if needs is not None and not needs:
        return []  # the installer itself needs nothing
    return missing_requirements(needs)


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
    """The pip command that installs ``missing`` into QGIS's Python (user site)."""
    reqs = " ".join(f'"{r}"' if any(c in r for c in "<>=") else r for r in missing if r != "geocore")
    return f'"{python_executable()}" -m pip install --user {reqs}'


def install_message(missing: List[str], algorithm: Optional[str] = None) -> str:
    """A message naming the missing libraries and the ways to install them."""
    who = f"'{algorithm}' needs" if algorithm else "geocore needs"
    lines = [f"{who} Python libraries that QGIS's Python cannot find: " + ", ".join(missing) + "."]
    if [m for m in missing if m != "geocore"]:
        lines += ["Install them with Plugins > geocore > Check / install Python libraries "
                  "(Processing: geocore:installdependencies), or into QGIS's Python with:",
                  "    " + install_command(missing)]
        if sys.platform.startswith("linux"):
            lines.append("On Debian/Ubuntu the system Python refuses pip installs: add --break-system-packages.")
        elif os.name == "nt":
            lines.append("On Windows run the command in the OSGeo4W Shell (Start menu), as the user who runs QGIS.")
    if "geocore" in missing:
        lines.append("The geocore library itself is missing: reinstall the plugin from its zip.")
    lines.append("Then restart QGIS.")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- the plugin's library folder
def default_target() -> Path:
    """The folder the plugin installs libraries into: ``<QGIS profile>/python/geocore-libs-pyX.Y``."""
    name = f"geocore-libs-py{sys.version_info.major}.{sys.version_info.minor}"
    try:
        from qgis.core import QgsApplication

        profile = Path(QgsApplication.qgisSettingsDirPath())
    except ImportError:  # outside QGIS (the self-test script)
        profile = Path.home() / ".local" / "share" / "geocore"
    return profile / "python" / name


def site_dirs(target: Path) -> List[Path]:
    """The ``site-packages``/``dist-packages`` folders pip made under the prefix ``target``.

    Their place depends on the platform and on distribution patches (Debian:
    ``local/lib/python3.11/dist-packages``), so they are found, not computed.
    """
    target = Path(target)
    if not target.is_dir():
        return []
    found = []
    for pattern in ("*-packages", "*/*-packages", "*/*/*-packages", "*/*/*/*-packages"):
        found += [p for p in sorted(target.glob(pattern)) if p.is_dir() and p.name in ("site-packages", "dist-packages")]
    return found


def activate_targets(targets: Sequence[Path]) -> List[str]:
    """Put the library folders of ``targets`` on ``sys.path`` (``.pth`` files honoured); return them."""
    added = []
    for target in targets:
        for folder in site_dirs(Path(target)):
            if str(folder) not in sys.path:
                site.addsitedir(str(folder))
                added.append(str(folder))
    if added:
        importlib.invalidate_caches()
    return added


def remembered_targets() -> List[Path]:
    """The default folder and those chosen in earlier installs (QgsSettings)."""
    targets = [default_target()]
    try:
        from qgis.core import QgsSettings

        for value in QgsSettings().value(SETTINGS_KEY, [], type=list) or []:
            if value and Path(value) not in targets:
                targets.append(Path(value))
    except ImportError:
        pass
    return targets


def remember_target(target: Path) -> None:
    try:
        from qgis.core import QgsSettings
    except ImportError:
        return
    target = Path(target)
    if target == default_target():
        return
    settings = QgsSettings()
    values = [v for v in (settings.value(SETTINGS_KEY, [], type=list) or []) if v]
    if str(target) not in values:
        settings.setValue(SETTINGS_KEY, values + [str(target)])


# ----------------------------------------------------------------------------- PyTorch for this machine
def nvidia_cuda_version(timeout: float = 15.0) -> Optional[tuple]:
    """The CUDA version the NVIDIA driver supports, from ``nvidia-smi``; None without a GPU."""
    exe = shutil.which("nvidia-smi")
    if exe is None:
        return None
    try:
        out = subprocess.run([exe], capture_output=True, text=True, timeout=timeout).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    m = re.search(r"CUDA Version:\s*(\d+)\.(\d+)", out)
    return (int(m.group(1)), int(m.group(2))) if m else None


def torch_variant(source: str = "auto", cuda: Optional[tuple] = "detect") -> tuple:
    """``(variant, reason)``: ``"cpu"``, a CUDA build such as ``"cu124"``, or ``"index"``.

    ``source``: ``auto`` (CUDA build when ``nvidia-smi`` reports a driver, else
    CPU), ``cpu``, ``cuda`` (the newest build the driver supports) or
    ``index`` (whatever the configured pip index serves).
    """
    if source not in TORCH_SOURCES:
        raise ValueError(f"unknown PyTorch source {source!r}; choose one of {', '.join(TORCH_SOURCES)}")
    if source == "index":
        return "index", "PyTorch from the configured pip index, as it is"
    if source == "cpu":
        return "cpu", "CPU build of PyTorch, as asked"
    if cuda == "detect":
        cuda = nvidia_cuda_version()
    if cuda is None:
        if source == "cuda":
            return "cu124", "CUDA build asked for, but nvidia-smi found no NVIDIA driver; using cu124"
        return "cpu", "no NVIDIA GPU found (nvidia-smi): CPU build of PyTorch"
    builds = [tag for tag, version in TORCH_CUDA_BUILDS if version <= tuple(cuda)]
    if not builds:
        return "cpu", f"the NVIDIA driver supports CUDA {cuda[0]}.{cuda[1]}, older than any PyTorch build: CPU"
    return builds[-1], f"NVIDIA driver for CUDA {cuda[0]}.{cuda[1]} (nvidia-smi): PyTorch build {builds[-1]}"


def pip_commands(requirements: Sequence[str], target: Optional[Path], *, torch_source: str = "auto",
                 torch_index_base: str = TORCH_INDEX_BASE, extra_args: Sequence[str] = (),
                 python: Optional[str] = None, cuda: Optional[tuple] = "detect") -> List[List[str]]:
    """The pip commands :func:`install` runs (PyTorch's wheels first, from their own index).

    ``target`` None installs into the user site (``--user``), else under the
    prefix ``target``. ``extra_args`` go to every command (e.g. ``--index-url
    URL`` of a mirror, ``--break-system-packages`` for ``--user`` on Debian).
    """
    base = [python or python_executable(), "-m", "pip", "install", "--disable-pip-version-check", "--no-input",
            "--progress-bar", "off"]
    base += ["--user"] if target is None else ["--prefix", str(target)]
    if target is None and externally_managed() and "--break-system-packages" not in extra_args:
        base.append("--break-system-packages")  # PEP 668 (Debian/Ubuntu): pip refuses --user installs otherwise
    base += list(extra_args)
    names = [r for r in requirements if r != "geocore"]
    torch_reqs = [r for r in names if re.split(r"[<>=!~ ;\[]", r, maxsplit=1)[0] in TORCH_MODULES]
    others = [r for r in names if r not in torch_reqs]
    variant, _ = torch_variant(torch_source, cuda)
    commands = []
    if torch_reqs and variant != "index":
        commands.append(base + ["--index-url", f"{torch_index_base.rstrip('/')}/{variant}"] + torch_reqs)
    elif torch_reqs:
        others = torch_reqs + others
    if others:
        commands.append(base + others)
    return commands


def externally_managed() -> bool:
    """True when this Python is marked as managed by the system (PEP 668, e.g. Debian's)."""
    import sysconfig

    if sys.prefix != getattr(sys, "base_prefix", sys.prefix):
        return False  # a virtual environment is never externally managed
    return Path(sysconfig.get_path("stdlib"), "EXTERNALLY-MANAGED").is_file()


def _pip_env(target: Optional[Path]) -> dict:
    """pip sees what QGIS's Python sees (its whole sys.path), so satisfied libraries are not installed again."""
    env = dict(os.environ)
    paths = [str(p) for p in site_dirs(target)] if target is not None else []
    paths += [p for p in sys.path if p and os.path.isdir(p)]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    return env


class InstallError(RuntimeError):
    """pip failed, or was cancelled; the message says what to do."""


def install(requirements: Sequence[str], target: Optional[Path], *, log: Callable[[str], None] = print,
            progress: Optional[Callable[[float], None]] = None, cancel: Optional[Callable[[], bool]] = None,
            **command_options) -> List[str]:
    """Install ``requirements`` with pip into ``target`` (None: the user site); return the folders activated.

    Every command is logged before it runs, and pip's output line by line.
    ``progress`` gets the fraction done (per command, and per package pip
    collects); ``cancel`` stops pip (the packages installed so far stay).
    """
    commands = pip_commands(requirements, target, **command_options)
    if target is not None:
        Path(target).mkdir(parents=True, exist_ok=True)
    env = _pip_env(target)
    for i, cmd in enumerate(commands):
        log("$ " + " ".join(shlex.quote(c) for c in cmd))
        n_reqs = max(1, len([c for c in cmd[cmd.index("install") + 1:] if not c.startswith("-")]))
        seen, tail = 0, []
        try:
            proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
                                    bufsize=1)
        except OSError as exc:
            raise InstallError(f"could not run {cmd[0]} ({exc}); is this QGIS's Python?") from exc
        assert proc.stdout is not None
        for line in proc.stdout:
            log(line.rstrip())
            tail = (tail + [line])[-20:]
            if line.startswith("Collecting ") and progress is not None:
                seen += 1
                progress((i + min(0.9, 0.9 * seen / (n_reqs + seen))) / len(commands))
            if cancel is not None and cancel():
                proc.kill()
                proc.wait()
                proc.stdout.close()
                raise InstallError("installation cancelled; what pip installed so far stays in place")
        proc.stdout.close()
        rc = proc.wait()
        if rc != 0:
            hint = " (QGIS's Python has no pip: install it, e.g. apt-get install python3-pip)" \
                if any("No module named pip" in t for t in tail) else ""
            raise InstallError(f"pip failed with exit code {rc}; its messages are in the log above{hint}")
        if progress is not None:
            progress((i + 1) / len(commands))
    if target is not None:
        remember_target(Path(target))
        return activate_targets([Path(target)])
    return activate_targets([]) + ([site.getusersitepackages()] if hasattr(site, "getusersitepackages") else [])


# ----------------------------------------------------------------------------- self-test
def _version_of(module: str, requirement: str) -> Optional[str]:
    """The module's own ``__version__`` (PyTorch's names its build, e.g. ``2.4.1+cpu``), else the installed one."""
    from importlib import metadata

    version = getattr(sys.modules.get(module), "__version__", None)
    if version:
        return str(version)
    try:
        return metadata.version(re.split(r"[<>=!~ ;\[]", requirement, maxsplit=1)[0])
    except metadata.PackageNotFoundError:
        return None


def self_test(tile: int = 192, repeats: int = 3) -> dict:
    """Import every library, report versions, the device and one tile's time through the shipped model.

    Returns a dict: ``versions`` (import name -> version), ``failed`` (import
    name -> error), ``geocore``, ``device`` (``"cuda"``/``"cpu"``), ``gpu``,
    ``tile``, ``tile_ms`` (median of ``repeats`` forward passes after one
    warm-up; None when PyTorch or the model is unusable) and ``model``.
    """
    report: dict = {"python": sys.version.split()[0], "executable": python_executable(), "versions": {},
                    "failed": {}, "geocore": None, "device": None, "gpu": None, "tile": tile, "tile_ms": None,
                    "model": None}
    for module, requirement in REQUIREMENTS.items():
        try:
            importlib.import_module(module)
            report["versions"][module] = _version_of(module, requirement)
        except Exception as exc:  # noqa: BLE001 (any import failure is the finding)
            report["failed"][module] = f"{type(exc).__name__}: {exc}"
    try:
        ensure_geocore_importable()
        import geocore

        report["geocore"] = f"{geocore.__version__} ({Path(geocore.__file__).parent})"
    except Exception as exc:  # noqa: BLE001
        report["failed"]["geocore"] = f"{type(exc).__name__}: {exc}"
        return report
    if "torch" in report["failed"] or "torch" not in report["versions"]:
        return report
    try:
        import torch

        from geocore.lineaments.detect import default_model_path
        from geocore.models import load_model

        device = "cuda" if torch.cuda.is_available() else "cpu"
        report["device"] = device
        if device == "cuda":
            report["gpu"] = torch.cuda.get_device_name(0)
        path = default_model_path()
        model, card = load_model(path, device=device)
        report["model"] = path.name
        x = torch.randn(1, int(card.in_channels), tile, tile, device=device,
                        generator=torch.Generator(device="cpu").manual_seed(0) if device == "cpu" else None)
        times = []
        with torch.inference_mode():
            for i in range(repeats + 1):
                t0 = time.perf_counter()
                model(x)
                if device == "cuda":
                    torch.cuda.synchronize()
                if i:
                    times.append(time.perf_counter() - t0)
        report["tile_ms"] = 1000.0 * sorted(times)[len(times) // 2]
    except Exception as exc:  # noqa: BLE001
        report["failed"]["model"] = f"{type(exc).__name__}: {exc}"
    return report


def run_self_test(targets: Sequence[Path] = (), timeout: float = 600.0) -> dict:
    """:func:`self_test` in a fresh QGIS Python (what the next QGIS start will see)."""
    env = dict(os.environ)
    paths = [str(p) for t in targets for p in site_dirs(Path(t))] + [p for p in sys.path if p and os.path.isdir(p)]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    cmd = [python_executable(), str(Path(__file__).resolve()), "--self-test"]
    out = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    lines = [ln for ln in out.stdout.splitlines() if ln.startswith("{")]
    if out.returncode != 0 or not lines:
        raise InstallError(f"the self-test could not run (exit {out.returncode}): {out.stderr.strip()[-500:]}")
    return json.loads(lines[-1])


def self_test_lines(report: dict) -> List[str]:
    """The self-test report as lines for a log."""
    lines = [f"Python {report['python']} ({report['executable']}); geocore {report['geocore'] or 'missing'}"]
    lines += [f"  {m}: {v or '?'}" for m, v in sorted(report["versions"].items())]
    lines += [f"  {m}: FAILED: {e}" for m, e in sorted(report["failed"].items())]
    if report["device"]:
        gpu = f" ({report['gpu']})" if report.get("gpu") else ""
        lines.append(f"device: {report['device']}{gpu}")
    if report["tile_ms"] is not None:
        lines.append(f"one {report['tile']} x {report['tile']} tile through {report['model']}: "
                     f"{report['tile_ms']:.0f} ms on {report['device']}")
    return lines


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


if __name__ == "__main__":  # the self-test in a fresh interpreter: python dependencies.py --self-test
    if sys.argv[1:] == ["--self-test"]:
        print(json.dumps(self_test()))
    else:
        sys.exit("usage: python dependencies.py --self-test")
