"""Fixtures that run geocore's QGIS plugin inside a real, headless QGIS.

One ``QgsApplication`` per test session (QGIS allows only one per process),
with a temporary profile so that no user setting is read or written, and the
Processing framework initialised as in the desktop application.

Every test here needs the QGIS Python bindings (Debian: ``apt-get install
qgis python3-qgis``, seen by a venv made with ``--system-site-packages``);
each module skips itself, with the reason, only when ``import qgis.core`` fails.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

REPO = Path(__file__).resolve().parents[2]
PROCESSING_PLUGINS = "/usr/share/qgis/python/plugins"
#: CI artefacts (rendered maps); gitignored
ARTEFACTS = REPO / "test_output" / "qgis"

# REPO / "tests": the test helpers shared with the core tests (stand_in_model, testdata)
for path in (str(REPO), str(REPO / "tests"), PROCESSING_PLUGINS):
    if path not in sys.path:
        sys.path.insert(0, path)


class StubMessageBar:
    def __init__(self) -> None:
        self.messages = []

    def pushMessage(self, title, text, *args, **kwargs):  # noqa: N802 (QGIS API names)
        self.messages.append((title, text) + args)


class StubIface:
    """The few ``QgisInterface`` methods the plugin calls."""

    def __init__(self) -> None:
        self.menus = {}
        self.bar = StubMessageBar()

    def addPluginToMenu(self, menu, action):  # noqa: N802
        self.menus.setdefault(menu, []).append(action)

    def removePluginMenu(self, menu, action):  # noqa: N802
        self.menus[menu].remove(action)
        if not self.menus[menu]:
            del self.menus[menu]

    def messageBar(self):  # noqa: N802
        return self.bar

    def mainWindow(self):  # noqa: N802
        return None


@pytest.fixture(scope="session")
def qgis_app(tmp_path_factory):
    """A headless QgsApplication with a throw-away profile and Processing ready."""
    from qgis.core import QgsApplication

    profile = tmp_path_factory.mktemp("qgis_profile")
    os.environ["QGIS_CUSTOM_CONFIG_PATH"] = str(profile)
    app = QgsApplication([], False, str(profile))
    app.initQgis()
    from processing.core.Processing import Processing

    Processing.initialize()
    yield app
    # no exitQgis(): tearing QGIS down inside pytest crashes at interpreter exit


@pytest.fixture(scope="session")
def iface():
    return StubIface()


@pytest.fixture
def make_iface():
    """A fresh stub iface per call (for plugin instances made inside a test)."""
    return StubIface


@pytest.fixture(scope="session")
def geocore_plugin(qgis_app, iface):
    """The plugin loaded as QGIS loads it: classFactory, initProcessing, initGui."""
    import qgis_plugin

    plugin = qgis_plugin.classFactory(iface)
    plugin.initProcessing()
    plugin.initGui()
    yield plugin
    plugin.unload()


@pytest.fixture(scope="session")
def artefacts() -> Path:
    ARTEFACTS.mkdir(parents=True, exist_ok=True)
    return ARTEFACTS


@pytest.fixture(scope="session")
def survey(geocore_plugin, tmp_path_factory):
    """A 256 x 256 synthetic dyke survey made by geocore:synthesizesurvey."""
    import processing

    out = tmp_path_factory.mktemp("survey")
    params = {"ROWS": 256, "COLS": 256, "CELL_SIZE": 50.0, "SEED": 7, "PRESET": 0,
              "OUTPUT_FIELD": str(out / "field.tif"), "OUTPUT_MASK": str(out / "mask.tif"),
              "OUTPUT_AXES": str(out / "axes.gpkg")}
    result = processing.run("geocore:synthesizesurvey", params)
    return SimpleNamespace(params=params, result=result, folder=out)


@pytest.fixture(scope="session")
def detect_inputs(survey) -> dict:
    """Parameters every detection test shares: the survey's field on the CPU, shipped model."""
    return {"INPUT": survey.result["OUTPUT_FIELD"], "DEVICE": 1}


@pytest.fixture(scope="session")
def detection(detect_inputs, tmp_path_factory):
    """geocore:detectlineaments (shipped model) on the synthetic survey."""
    import processing

    out = tmp_path_factory.mktemp("detect")
    params = dict(detect_inputs, BAND=1, THRESHOLD=0.5, OVERLAP=0.5,
                  OUTPUT_PROBABILITY=str(out / "probability.tif"), OUTPUT_LINES=str(out / "lineaments.gpkg"),
                  OUTPUT_ROSE=str(out / "rose.png"))
    result = processing.run("geocore:detectlineaments", params)
    return SimpleNamespace(params=params, result=result, folder=out)
