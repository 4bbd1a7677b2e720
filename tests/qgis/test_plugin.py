"""Loading, registering and unloading the plugin; dependency messages."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

pytest.importorskip("qgis.core", reason="QGIS Python bindings are not installed (apt-get install python3-qgis)")

from qgis.core import QgsApplication, QgsProcessingException  # noqa: E402

ALGORITHMS = {
    "geocore:detectlineaments": "Lineaments",
    "geocore:vectorizelineaments": "Lineaments",
    "geocore:synthesizesurvey": "Magnetics",
    "geocore:trainlineamentmodel": "Lineaments",
    "geocore:convertgrid": "Magnetics",
    "geocore:gridflightlines": "Magnetics",
    "geocore:transformgrid": "Magnetics",
    "geocore:comparelineaments": "Lineaments",
    "geocore:stitchpanorama": "Microscopy",
    "geocore:flatfield": "Microscopy",
    "geocore:colourfit": "Microscopy",
    "geocore:colourcorrect": "Microscopy",
    "geocore:alignpolarized": "Microscopy",
    "geocore:superpixelannotate": "Microscopy",
    "geocore:uncertaintyregions": "Microscopy",
    "geocore:segmentminerals": "Minerals",
    "geocore:mineralstatistics": "Minerals",
    "geocore:synthesizesection": "Minerals",
    "geocore:trainmineralmodel": "Minerals",
    "geocore:evaluatemineralmodel": "Minerals",
}


def test_provider_and_algorithms_register(geocore_plugin):
    registry = QgsApplication.processingRegistry()
    provider = registry.providerById("geocore")
    assert provider is not None
    assert provider.name() == "geocore"
    # the plugin's metadata and the library it carries agree on the version, and the provider names it
    import geocore

    metadata = (REPO / "metadata.txt").read_text()
    assert f"version={geocore.__version__}" in metadata.replace(" ", "")
    assert provider.longName() == f"geocore {geocore.__version__}"
    assert sorted(a.id() for a in provider.algorithms()) == sorted(ALGORITHMS)
    for algorithm_id, group in ALGORITHMS.items():
        algorithm = registry.algorithmById(algorithm_id)
        assert algorithm is not None, algorithm_id
        assert algorithm.group() == group
        assert algorithm.groupId() == group.lower()
        assert "<h3>Outputs</h3>" in algorithm.shortHelpString()
        assert type(algorithm.createInstance()) is type(algorithm)
        assert algorithm.canExecute() == (True, "")
    # only groups holding algorithms exist
    assert {a.group() for a in provider.algorithms()} == set(ALGORITHMS.values())


def test_menu_entries(geocore_plugin, iface):
    texts = [a.text() for a in iface.menus["&geocore"]]
    assert "Detect lineaments…" in texts and "Check Python libraries" in texts and "Help" in texts
    assert "Segment ore minerals…" in texts


def test_unload_removes_provider_and_menu(geocore_plugin, iface):
    registry = QgsApplication.processingRegistry()
    geocore_plugin.unload()
    try:
        assert registry.providerById("geocore") is None
        assert registry.algorithmById("geocore:detectlineaments") is None
        assert "&geocore" not in iface.menus
    finally:
        geocore_plugin.initProcessing()
        geocore_plugin.initGui()
    assert registry.algorithmById("geocore:detectlineaments") is not None


def test_parameters_of_detect(geocore_plugin):
    algorithm = QgsApplication.processingRegistry().algorithmById("geocore:detectlineaments")
    from geocore.inference.tiled import TileParams
    from geocore.lineaments.vectorize import VectorizeParams
    from qgis_plugin.compat import FLAG_ADVANCED

    names = [p.name() for p in algorithm.parameterDefinitions()]
    assert names[0] == "INPUT"  # the grid comes first in the dialog
    assert {"OUTPUT_PROBABILITY", "OUTPUT_LINES", "OUTPUT_ROSE"} <= set(names)
    # every option of the library is offered, with the library's default; the vectorisation ones as advanced
    tile, vector = TileParams(), VectorizeParams()
    library = {"OVERLAP": tile.overlap, "THRESHOLD": vector.threshold,
               "MIN_LENGTH": vector.min_length_cells, "SPUR_LENGTH": vector.spur_length_cells,
               "MAX_GAP": vector.max_gap_cells, "JOIN_ANGLE": vector.max_join_angle_deg,
               "SIMPLIFY": vector.simplify_cells}
    for name, default in library.items():
        assert algorithm.parameterDefinition(name).defaultValue() == pytest.approx(default), name
    for name in ("MIN_LENGTH", "SPUR_LENGTH", "MAX_GAP", "JOIN_ANGLE", "SIMPLIFY"):
        flags = algorithm.parameterDefinition(name).flags()
        assert flags & FLAG_ADVANCED, name
    lines = algorithm.parameterDefinition("OUTPUT_LINES")
    assert "shp" in lines.supportedOutputVectorLayerExtensions()
    assert "gpkg" in lines.supportedOutputVectorLayerExtensions()
    assert algorithm.parameterDefinition("DEVICE").options() == ["auto", "cpu", "cuda"]


@pytest.fixture
def without_torch(monkeypatch):
    from qgis_plugin import dependencies

    real = dependencies._has_module
    monkeypatch.setattr(dependencies, "_has_module", lambda name: name not in ("torch", "skan") and real(name))
    return dependencies


def test_missing_libraries_are_named_with_the_install_command(geocore_plugin, without_torch, tmp_path):
    import processing

    missing = without_torch.missing_requirements()
    assert missing == ["torch>=2.1", "skan>=0.11"]
    message = without_torch.install_message(missing)
    assert f'"{sys.executable}" -m pip install --user "torch>=2.1" "skan>=0.11"' in message
    assert "--break-system-packages" in message

    # the provider still lists every algorithm; running one explains what to install
    registry = QgsApplication.processingRegistry()
    assert len(registry.providerById("geocore").algorithms()) == len(ALGORITHMS)
    algorithm = registry.algorithmById("geocore:synthesizesurvey")
    ok, why = algorithm.canExecute()
    assert not ok and "pip install" in why
    with pytest.raises(QgsProcessingException, match="pip install"):
        processing.run("geocore:synthesizesurvey", {
            "OUTPUT_FIELD": str(tmp_path / "f.tif"), "OUTPUT_MASK": str(tmp_path / "m.tif"),
            "OUTPUT_AXES": str(tmp_path / "a.gpkg")})
    assert not list(tmp_path.iterdir())


def test_missing_libraries_reach_the_message_bar(qgis_app, without_torch, make_iface):
    from qgis_plugin.plugin import GeocorePlugin

    iface = make_iface()
    missing = GeocorePlugin(iface).report_dependencies()
    assert missing == ["torch>=2.1", "skan>=0.11"]
    (title, text, details, *_), = iface.bar.messages
    assert title == "geocore" and "torch" in text and "-m pip install --user" in details


def test_requirements_match_pyproject():
    import tomllib

    from qgis_plugin.dependencies import REQUIREMENTS

    pyproject = tomllib.loads((Path(__file__).resolve().parents[2] / "pyproject.toml").read_text())
    assert sorted(REQUIREMENTS.values()) == sorted(pyproject["project"]["dependencies"])


def test_plugin_imports_qt_only_through_qgis_pyqt():
    root = Path(__file__).resolve().parents[2] / "qgis_plugin"
    for source in root.rglob("*.py"):
        text = source.read_text()
        for banned in ("import PyQt5", "from PyQt5", "import PyQt6", "from PyQt6"):
            assert banned not in text, f"{source}: {banned}"
