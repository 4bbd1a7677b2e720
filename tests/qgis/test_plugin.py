"""Loading, registering and unloading the plugin; dependency messages."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

REPO = Path(__file__).resolve().parents[2]

pytest.importorskip("qgis.core", reason="QGIS Python bindings are not installed (apt-get install python3-qgis)")

from qgis.core import QgsApplication, QgsProcessingException  # noqa: E402

ALGORITHMS = {
    "geocore:detectlineaments": "Lineaments",
    "geocore:vectorizelineaments": "Lineaments",
    "geocore:synthesizesurvey": "Magnetics",
    "geocore:trainlineamentmodel": "Lineaments",
    "geocore:finetunelineamentmodel": "Lineaments",
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
    "geocore:installdependencies": "Setup",
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


def test_menu_opens_every_algorithm_grouped(geocore_plugin, iface):
    actions = iface.menus["&geocore"]
    groups = {a.text(): [sub.text() for sub in a.menu().actions()] for a in actions if a.menu() is not None}
    assert list(groups) == ["Magnetics", "Lineaments", "Minerals", "Microscopy"]
    registry = QgsApplication.processingRegistry()
    for algorithm_id, group in ALGORITHMS.items():
        if group == "Setup":
            continue
        text = registry.algorithmById(algorithm_id).displayName() + "…"
        assert text in groups[group], (algorithm_id, groups[group])
    assert sum(len(v) for v in groups.values()) == len(ALGORITHMS) - 1
    plain = [a.text() for a in actions if a.menu() is None]
    assert plain == ["Check / install Python libraries…", "Help"]


def test_menu_actions_open_their_algorithm(geocore_plugin, iface, monkeypatch):
    opened = []
    monkeypatch.setattr(type(geocore_plugin), "open_algorithm", staticmethod(opened.append))
    actions = iface.menus["&geocore"]
    magnetics = next(a for a in actions if a.text() == "Magnetics").menu()
    next(a for a in magnetics.actions() if a.text().startswith("Convert survey grid")).trigger()
    next(a for a in actions if a.text().startswith("Check / install")).trigger()
    assert opened == ["geocore:convertgrid", "geocore:installdependencies"]


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
    from geocore.lineaments.classical import METHODS
    from geocore.lineaments.vectorize import VectorizeParams
    from qgis_plugin.compat import FLAG_ADVANCED, FLAG_OPTIONAL

    names = [p.name() for p in algorithm.parameterDefinitions()]
    assert names[0] == "INPUT"  # the grid comes first in the dialog
    assert {"BAND", "MODEL", "TILE_SIZE", "OVERLAP", "THRESHOLD", "DEVICE", "METHOD", "INCLINATION",
            "DECLINATION", "PERCENTILE", "OUTPUT_PROBABILITY", "OUTPUT_LINES", "OUTPUT_ROSE"} <= set(names)
    assert algorithm.parameterDefinition("METHOD").options() == list(METHODS)
    from geocore.inference.tiled import AUGMENTS

    tta = algorithm.parameterDefinition("TTA")
    assert tta.options() == [str(a) for a in AUGMENTS] and AUGMENTS[tta.defaultValue()] == TileParams().augment
    assert tta.flags() & FLAG_ADVANCED
    assert algorithm.parameterDefinition("METHOD").defaultValue() == 0  # cnn
    # every option of the library is offered, with the library's default; the vectorisation ones as advanced
    tile, vector = TileParams(), VectorizeParams()
    library = {"OVERLAP": tile.overlap, "THRESHOLD": vector.threshold,
               "MIN_LENGTH": vector.min_length_cells, "SPUR_LENGTH": vector.spur_length_cells,
               "MAX_GAP": vector.max_gap_cells, "JOIN_ANGLE": vector.max_join_angle_deg,
               "SIMPLIFY": vector.simplify_cells, "MIN_MEAN_PROB": vector.min_mean_prob,
               "MIN_STRAIGHTNESS": vector.min_straightness, "MIN_FIELD_CONTRAST": vector.min_field_contrast}
    for name, default in library.items():
        if default is None:  # the library picks it for the map: an optional parameter left empty
            param = algorithm.parameterDefinition(name)
            assert param.defaultValue() is None and param.flags() & FLAG_OPTIONAL, name
            continue
        assert algorithm.parameterDefinition(name).defaultValue() == pytest.approx(default), name
    for name in ("MIN_LENGTH", "SPUR_LENGTH", "MAX_GAP", "JOIN_ANGLE", "SIMPLIFY", "MIN_MEAN_PROB",
                 "MIN_STRAIGHTNESS", "MIN_FIELD_CONTRAST", "PERCENTILE"):
        flags = algorithm.parameterDefinition(name).flags()
        assert flags & FLAG_ADVANCED, name
    lines = algorithm.parameterDefinition("OUTPUT_LINES")
    assert "shp" in lines.supportedOutputVectorLayerExtensions()
    assert "gpkg" in lines.supportedOutputVectorLayerExtensions()
    assert algorithm.parameterDefinition("DEVICE").options() == ["auto", "cpu", "cuda"]
    # the field contrast needs the field: detection offers it, vectorising a probability map does not
    vectorize = QgsApplication.processingRegistry().algorithmById("geocore:vectorizelineaments")
    assert vectorize.parameterDefinition("MIN_FIELD_CONTRAST") is None


def test_number_parameters_take_the_command_line_ranges(geocore_plugin):
    """One table of ranges (geocore.validate) bounds the QGIS parameters and the command line alike."""
    from geocore.validate import RANGES

    registry = QgsApplication.processingRegistry()
    for alg_id, name, setting in [("geocore:detectlineaments", "THRESHOLD", "threshold"),
                                  ("geocore:detectlineaments", "JOIN_ANGLE", "max_join_angle_deg"),
                                  ("geocore:flatfield", "SIGMA", "sigma"),
                                  ("geocore:comparelineaments", "TOLERANCE", "tolerance")]:
        algorithm = registry.algorithmById(alg_id)
        assert algorithm is not None, alg_id
        param = algorithm.parameterDefinition(name)
        rng = RANGES[setting]
        assert param.minimum() == pytest.approx(rng.minimum), (alg_id, name)
        if rng.maximum is not None:
            assert param.maximum() == pytest.approx(rng.maximum), (alg_id, name)
        assert rng.contains(param.defaultValue()), (alg_id, name)


@pytest.fixture
def without_torch(monkeypatch):
    from qgis_plugin import dependencies

    real = dependencies._has_module
    monkeypatch.setattr(dependencies, "_has_module", lambda name: name not in ("torch", "skan") and real(name))
    return dependencies


def test_only_the_libraries_of_the_algorithm_block_it(geocore_plugin, without_torch, tmp_path):
    import processing

    missing = without_torch.missing_requirements()
    assert missing == ["torch>=2.1", "skan>=0.11"]
    message = without_torch.install_message(missing, "Detect lineaments")
    assert f'"{sys.executable}" -m pip install --user "torch>=2.1" "skan>=0.11"' in message
    assert "--break-system-packages" in message and "Check / install Python libraries" in message

    registry = QgsApplication.processingRegistry()
    assert len(registry.providerById("geocore").algorithms()) == len(ALGORITHMS)
    # grids, transforms and photos need no PyTorch
    for name in ("convertgrid", "transformgrid", "gridflightlines", "synthesizesurvey", "flatfield",
                 "stitchpanorama", "installdependencies"):
        assert registry.algorithmById(f"geocore:{name}").canExecute() == (True, ""), name
    ok, why = registry.algorithmById("geocore:vectorizelineaments").canExecute()  # skan, not torch
    assert not ok and "skan>=0.11" in why and "torch" not in why
    ok, why = registry.algorithmById("geocore:segmentminerals").canExecute()  # torch, not skan
    assert not ok and "torch>=2.1" in why and "skan" not in why

    # running one: its message, once, and nothing written
    from qgis.core import QgsProcessingFeedback

    class Errors(QgsProcessingFeedback):
        def __init__(self):
            super().__init__()
            self.errors = []

        def reportError(self, error, fatalError=False):  # noqa: N802,N803
            self.errors.append(error)

    feedback = Errors()
    with pytest.raises(QgsProcessingException, match="pip install"):
        processing.run("geocore:detectlineaments", {
            "INPUT": str(tmp_path / "none.tif"), "OUTPUT_PROBABILITY": str(tmp_path / "p.tif"),
            "OUTPUT_LINES": str(tmp_path / "l.gpkg")}, feedback=feedback)
    assert sum(e.count("needs Python libraries") for e in feedback.errors) == 1, feedback.errors
    assert "'Detect lineaments' needs Python libraries that QGIS's Python cannot find: torch>=2.1, skan>=0.11." \
        in feedback.errors[0]
    assert not list(tmp_path.iterdir())

    # a grid converts without PyTorch
    import rasterio
    from rasterio.transform import from_origin

    src = tmp_path / "g.tif"
    with rasterio.open(src, "w", driver="GTiff", width=4, height=3, count=1, dtype="float32", crs="EPSG:32633",
                       transform=from_origin(0, 300, 100, 100)) as ds:
        ds.write(np.ones((3, 4), np.float32), 1)
    result = processing.run("geocore:convertgrid", {"INPUT": str(src), "OUTPUT": str(tmp_path / "out.tif")})
    assert Path(result["OUTPUT"]).is_file()


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
