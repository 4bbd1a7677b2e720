"""What each algorithm needs, and the *Check / install Python libraries* algorithm in real QGIS.

The installer test installs a small pure-Python package that nothing here has
(tomli-w) from the configured pip index into a fresh folder, then imports it.
"""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("qgis.core", reason="QGIS Python bindings are not installed (apt-get install python3-qgis)")

from qgis.core import QgsProcessingFeedback  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
SMALL_PACKAGE = ("tomli-w", "tomli_w")


def _module_file(name: str):
    base = REPO.joinpath(*name.split("."))
    for candidate in (base / "__init__.py", base.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


def _imports(name: str) -> set:
    """Every module ``name`` imports, at module level or inside functions (relative ones resolved)."""
    path = _module_file(name)
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                parts = package.split(".")
                module = ".".join(parts[:len(parts) - node.level + 1] + ([node.module] if node.module else []))
            else:
                module = node.module
            found.add(module)
            found |= {f"{module}.{a.name}" for a in node.names if _module_file(f"{module}.{a.name}")}
    return found


def library_imports(start: set) -> set:
    """Third-party top-level modules reached from the geocore modules ``start``."""
    seen, third, todo = set(), set(), list(start)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        parts = name.split(".")
        todo += [".".join(parts[:i]) for i in range(1, len(parts))]
        if parts[0] == "geocore":
            if _module_file(name):
                todo += sorted(_imports(name))
        else:
            third.add(parts[0])
    return third


def test_each_algorithm_declares_the_libraries_its_code_imports():
    from qgis_plugin.algorithms import ALGORITHMS
    from qgis_plugin.dependencies import ALGORITHM_NEEDS, REQUIREMENTS

    assert set(ALGORITHM_NEEDS) == {a.NAME for a in ALGORITHMS}
    for algorithm in ALGORITHMS:
        tree = ast.parse("if 1:\n" + inspect.getsource(algorithm.call_geocore)) \
            if algorithm.NAME != "installdependencies" else ast.parse("")
        start = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module
                 and n.module.startswith("geocore")}
        reached = library_imports(start) & set(REQUIREMENTS)
        declared = set(ALGORITHM_NEEDS[algorithm.NAME])
        assert declared <= set(REQUIREMENTS), algorithm.NAME
        assert reached <= declared, f"{algorithm.NAME} imports {sorted(reached - declared)} without declaring them"
    # the point of it: converting and transforming grids needs no PyTorch
    for name in ("convertgrid", "transformgrid", "gridflightlines", "comparelineaments", "synthesizesurvey"):
        assert "torch" not in ALGORITHM_NEEDS[name], name
    for name in ("convertgrid", "transformgrid"):
        assert {"xarray", "h5netcdf", "h5py"} <= set(ALGORITHM_NEEDS[name])  # netCDF-4 grids


class LogFeedback(QgsProcessingFeedback):
    def __init__(self):
        super().__init__()
        self.lines, self.progress_values = [], []
        self.progressChanged.connect(self.progress_values.append)

    def pushInfo(self, info):  # noqa: N802
        self.lines.append(info)

    def pushConsoleInfo(self, info):  # noqa: N802
        self.lines.append(info)


def test_installer_installs_a_missing_package_into_a_fresh_folder_then_self_tests(geocore_plugin, tmp_path,
                                                                                   monkeypatch):
    import processing
    from qgis.core import QgsSettings

    from qgis_plugin import dependencies

    requirement, module = SMALL_PACKAGE
    probe = subprocess.run([sys.executable, "-c", f"import {module}"], capture_output=True)
    assert probe.returncode != 0, f"{module} is installed already; the test needs a missing package"
    monkeypatch.setattr(sys, "path", list(sys.path))  # the folder leaves sys.path after the test
    settings = QgsSettings()
    monkeypatch.setattr(dependencies, "remember_target", lambda t: settings.setValue("geocore/test_folder", str(t)))
    target = tmp_path / "fresh libs"  # a space in the path, as under Windows profiles
    feedback = LogFeedback()
    result = processing.run("geocore:installdependencies", {
        "FOLDER": str(target), "PACKAGES": requirement, "TORCH": 3, "SELF_TEST": True}, feedback=feedback)
    log = "\n".join(feedback.lines)
    # the exact pip command, into the fresh folder, and pip's own output
    assert f"-m pip install --disable-pip-version-check --no-input --progress-bar off --prefix '{target}'" \
           f" {requirement}" in log, log[-3000:]
    assert "Successfully installed tomli-w" in log
    assert result["MISSING_BEFORE"] == result["MISSING_AFTER"] == ""
    assert result["LIBRARY_FOLDER"] == str(target)
    site = dependencies.site_dirs(target)
    assert len(site) == 1 and (site[0] / module).is_dir()
    mod = __import__(module)  # importable in this QGIS now, from the fresh folder
    assert Path(mod.__file__).is_relative_to(target) and mod.dumps({"a": 1}) == "a = 1\n"
    assert settings.value("geocore/test_folder") == str(target)
    # the self-test ran in a fresh interpreter that sees the folder too
    import torch

    assert result["DEVICE"] == ("cuda" if torch.cuda.is_available() else "cpu")
    assert result["TILE_MS"] > 0
    assert f"one 192 x 192 tile through lineaments_vgg16bn_unet.safetensors: {result['TILE_MS']:.0f} ms" in log
    assert "  torch: " + torch.__version__ in log
    assert max(feedback.progress_values) == 100.0 and any(0 < v < 100 for v in feedback.progress_values)
    # a fresh Python given the folder imports it
    out = subprocess.run([sys.executable, "-c", f"import sys; sys.path[:0] = {[str(p) for p in site]}; "
                                                f"import {module}; print({module}.__file__)"],
                         capture_output=True, text=True, check=True)
    assert str(target) in out.stdout


def test_installer_check_only_reports_what_each_algorithm_lacks(geocore_plugin, monkeypatch):
    import processing

    from qgis_plugin import dependencies

    real = dependencies._has_module
    monkeypatch.setattr(dependencies, "_has_module", lambda name: name != "torch" and real(name))
    feedback = LogFeedback()
    result = processing.run("geocore:installdependencies", {"INSTALL": False, "SELF_TEST": False},
                            feedback=feedback)
    assert result["MISSING_BEFORE"] == result["MISSING_AFTER"] == "torch>=2.1"
    log = "\n".join(feedback.lines)
    assert "not installing (check only)" in log
    assert "  Detect lineaments: needs torch>=2.1" in log and "Convert survey grid" not in log
    blocked = [ln for ln in feedback.lines if ln.startswith("  ") and "needs torch" in ln]
    from qgis_plugin.dependencies import ALGORITHM_NEEDS

    n = len(ALGORITHM_NEEDS) - 1  # every algorithm but the installer itself
    assert n >= 21
    assert f"{n - len(blocked)} of {n} geocore algorithms have every library they need" in log


def test_plugin_load_puts_the_library_folders_on_the_path(qgis_app, make_iface, tmp_path, monkeypatch):
    from qgis.core import QgsSettings

    from qgis_plugin import dependencies
    from qgis_plugin.plugin import GeocorePlugin

    monkeypatch.setattr(sys, "path", list(sys.path))
    chosen = tmp_path / "chosen" / "lib" / "python3.11" / "site-packages"
    default = tmp_path / "default" / "local" / "lib" / "python3.11" / "dist-packages"
    for folder, name in ((chosen, "probe_chosen_lib"), (default, "probe_default_lib")):
        folder.mkdir(parents=True)
        (folder / f"{name}.py").write_text("OK = True\n")
    monkeypatch.setattr(dependencies, "default_target", lambda: tmp_path / "default")
    settings = QgsSettings()
    old = settings.value(dependencies.SETTINGS_KEY, [], type=list)
    settings.setValue(dependencies.SETTINGS_KEY, [str(tmp_path / "chosen")])
    try:
        plugin = GeocorePlugin(make_iface())
    finally:
        settings.setValue(dependencies.SETTINGS_KEY, old)
    assert plugin.library_folders == [str(default), str(chosen)]
    import probe_chosen_lib
    import probe_default_lib

    assert probe_chosen_lib.OK and probe_default_lib.OK
    sys.modules.pop("probe_chosen_lib")
    sys.modules.pop("probe_default_lib")
