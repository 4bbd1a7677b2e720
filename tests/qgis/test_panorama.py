"""geocore:stitchpanorama inside real QGIS: real microscope tiles, outputs, bad input."""

from __future__ import annotations

import csv
import json

import pytest

pytest.importorskip("qgis.core", reason="QGIS Python bindings are not installed (apt-get install python3-qgis)")

from qgis.core import (  # noqa: E402
    QgsProcessingException,
    QgsRasterLayer,
    QgsUnitTypes,
    QgsVectorLayer,
)

from qgis_feedback import RecordingFeedback  # noqa: E402
from testdata import REAL, needs_real  # noqa: E402 (tests/, on the path via conftest)

BSE = REAL / "tiles" / "stitch2d_bse_2x3"
TMA = REAL / "tiles" / "tma_tiles_4x3"
needs_tiles = needs_real(BSE)


def test_parameters(geocore_plugin):
    from qgis.core import QgsApplication

    from qgis_plugin.compat import FLAG_ADVANCED

    algorithm = QgsApplication.processingRegistry().algorithmById("geocore:stitchpanorama")
    assert algorithm.group() == "Microscopy"
    from geocore.panorama import StitchParams

    names = [p.name() for p in algorithm.parameterDefinitions()]
    assert names[0] == "FOLDER"  # the input comes first in the dialog
    # the library's defaults, not re-typed ones
    defaults = StitchParams()
    assert algorithm.parameterDefinition("UM_PER_PX").defaultValue() == pytest.approx(defaults.um_per_px)
    assert algorithm.parameterDefinition("MIN_SCORE").defaultValue() == pytest.approx(defaults.min_score)
    assert {"OUTPUT", "OUTPUT_REPORT", "OUTPUT_TILES", "OUTPUT_LAYOUT"} <= set(names)
    for name in ("LAYOUT", "METHOD", "MODEL", "MIN_SCORE", "OUTLIER_PX", "GAIN", "OVERVIEWS", "BLEND", "INTERPOLATION"):
        assert algorithm.parameterDefinition(name).flags() & FLAG_ADVANCED, name


@pytest.fixture(scope="module")
def cut_tiles_folder(tmp_path_factory):
    """2 x 3 RGB tiles (200 x 240) cut at known sub-pixel positions from the fixture photograph."""
    from panorama_helpers import cut_tiles, load_rgb
    from testdata import SECTION_PHOTO

    return cut_tiles(load_rgb(SECTION_PHOTO), tmp_path_factory.mktemp("cut"), rows=2, cols=3, tile_shape=(200, 240),
                     overlap=0.25, jitter=4.0, seed=6)


def test_stitch_cut_tiles_at_known_positions(geocore_plugin, cut_tiles_folder, tmp_path):
    import processing

    from panorama_helpers import position_error

    feedback = RecordingFeedback()
    params = {"FOLDER": str(cut_tiles_folder.paths[0].parent), "UM_PER_PX": 0.5, "OUTPUT": str(tmp_path / "p.tif"),
              "OUTPUT_TILES": str(tmp_path / "tiles.csv")}
    result = processing.run("geocore:stitchpanorama", params, feedback=feedback)
    # 2 x 3 grid: 4 horizontal and 3 vertical neighbours
    assert result["N_TILES"] == 6 and result["PAIRS_USED"] == 7 and result["RMS_PX"] < 0.3
    layer = QgsRasterLayer(result["OUTPUT"], "p", "gdal")
    assert layer.isValid()
    import rasterio

    with rasterio.open(result["OUTPUT"]) as ds:
        assert (ds.count, ds.dtypes[0]) == (3, "uint8")  # RGB (QGIS may show the mask as a 4th band)
    assert layer.rasterUnitsPerPixelX() == pytest.approx(0.5)
    assert layer.crs().isValid() and layer.crs().mapUnits() != QgsUnitTypes.DistanceUnit.DistanceDegrees
    assert layer.width() == pytest.approx(240 + 2 * 180, abs=12) and layer.height() == pytest.approx(200 + 150, abs=12)
    with open(tmp_path / "tiles.csv", newline="") as fh:
        found = {r["tile"]: (float(r["y_px"]), float(r["x_px"])) for r in csv.DictReader(fh)}
    names = [p.name for p in cut_tiles_folder.paths]
    assert position_error([found[n] for n in names], cut_tiles_folder.positions)[0] < 0.3
    assert feedback.progress_values and max(feedback.progress_values) == pytest.approx(100.0)


@needs_tiles
def test_stitch_real_electron_microscope_tiles(geocore_plugin, tmp_path):
    import processing

    feedback = RecordingFeedback()
    params = {"FOLDER": str(BSE), "UM_PER_PX": 0.25, "OUTPUT": str(tmp_path / "bse.tif"),
              "OUTPUT_REPORT": str(tmp_path / "pairs.csv"), "OUTPUT_TILES": str(tmp_path / "tiles.csv"),
              "OUTPUT_LAYOUT": str(tmp_path / "layout.png")}
    result = processing.run("geocore:stitchpanorama", params, feedback=feedback)
    assert result["N_TILES"] == 6 and result["PAIRS_USED"] == 7 and result["RMS_PX"] < 0.3
    layer = QgsRasterLayer(result["OUTPUT"], "bse", "gdal")
    assert layer.isValid()
    assert layer.rasterUnitsPerPixelX() == pytest.approx(0.25)
    assert layer.crs().isValid() and layer.crs().mapUnits() != QgsUnitTypes.DistanceUnit.DistanceDegrees
    # the whole 3 x 2 section: about 900 x 1240 px = 225 x 310 micrometres
    assert layer.width() == pytest.approx(903, abs=3) and layer.height() == pytest.approx(1236, abs=3)
    assert layer.extent().width() == pytest.approx(layer.width() * 0.25)
    assert layer.dataProvider().hasPyramids()  # overviews by default in QGIS
    # offsets within the original author's tolerance (10 px); measured < 1 px
    ref = json.loads((BSE / "reference_coords.json").read_text())["coords_yx"]
    with open(tmp_path / "tiles.csv", newline="") as fh:
        tiles = {r["tile"]: (float(r["y_px"]), float(r["x_px"])) for r in csv.DictReader(fh)}
    for name, (y, x) in tiles.items():
        ry, rx = ref[name]
        y0, x0 = tiles["r0_c0.jpg"]
        ry0, rx0 = ref["r0_c0.jpg"]
        assert abs((y - y0) - (ry - ry0)) < 1.5 and abs((x - x0) - (rx - rx0)) < 1.5, name
    with open(tmp_path / "pairs.csv", newline="") as fh:
        assert len(list(csv.DictReader(fh))) == 7
    assert (tmp_path / "layout.png").stat().st_size > 5000
    assert any("RMS residual" in line for line in feedback.infos)
    assert feedback.progress_values and max(feedback.progress_values) == pytest.approx(100.0)


@needs_tiles
def test_stitch_tile_files_to_another_format(geocore_plugin, tmp_path):
    """Tiles picked as layers, output in a non-GeoTIFF format (converted by GDAL); merged.png is not picked."""
    import processing

    files = sorted(str(p) for p in TMA.glob("r*-c*.png"))
    result = processing.run("geocore:stitchpanorama", {"TILES": files, "UM_PER_PX": 2.0, "BLEND": 1,
                                                       "OUTPUT": str(tmp_path / "tma.png")})
    layer = QgsRasterLayer(result["OUTPUT"], "tma", "gdal")
    assert layer.isValid() and result["N_TILES"] == 12
    assert layer.rasterUnitsPerPixelX() == pytest.approx(2.0)
    assert not list(tmp_path.glob("*.csv"))  # reports only when asked for


def test_one_tile_is_a_clear_error(geocore_plugin, cut_tiles_folder, tmp_path):
    import processing

    with pytest.raises(QgsProcessingException, match="at least two tiles"):
        processing.run("geocore:stitchpanorama", {"TILES": [str(cut_tiles_folder.paths[0])],
                                                  "OUTPUT": str(tmp_path / "p.tif")})
    assert not (tmp_path / "p.tif").exists()
    with pytest.raises(QgsProcessingException, match="folder of tiles"):
        processing.run("geocore:stitchpanorama", {"OUTPUT": str(tmp_path / "p.tif")})
    with pytest.raises(QgsProcessingException, match="distortion"):
        processing.run("geocore:stitchpanorama", {"FOLDER": str(cut_tiles_folder.paths[0].parent), "DISTORTION": "k1",
                                                  "OUTPUT": str(tmp_path / "p.tif")})


def test_synthetic_tiles_benign_note_is_info_and_frame_is_the_micrometre_one(geocore_plugin, tmp_path):
    """A preview image among the tiles is a benign note (was printed as ERROR:), and the panorama is in the
    micrometre frame every microscope output shares: top-left corner at (0, 0), y up, same CRS as a class
    map segmented from it."""
    import cv2
    import numpy as np
    import processing

    from geocore.minerals.synthetic import synthesize_section
    from panorama_helpers import cut_tiles

    scene = synthesize_section((480, 640), seed=2, grain_px=30.0).image
    tiles = cut_tiles(scene, tmp_path / "tiles", rows=2, cols=2, tile_shape=(240, 320), overlap=0.3,
                      jitter=2.0, vignette=0.0, noise=1.0, seed=3, suffix=".png")
    cv2.imwrite(str(tiles.paths[0].parent / "merged.png"), np.zeros((8, 8, 3), np.uint8))
    feedback = RecordingFeedback()
    result = processing.run("geocore:stitchpanorama", {"FOLDER": str(tiles.paths[0].parent), "UM_PER_PX": 0.5,
                                                       "OUTPUT": str(tmp_path / "pano.tif")}, feedback=feedback)
    assert not feedback.errors, feedback.errors
    assert any("ignored: merged.png" in line for line in feedback.infos)
    layer = QgsRasterLayer(result["OUTPUT"], "pano", "gdal")
    extent = layer.extent()
    assert (extent.xMinimum(), extent.yMaximum()) == (0.0, 0.0)
    assert extent.yMinimum() == pytest.approx(-layer.height() * 0.5)
    seg = processing.run("geocore:segmentminerals", {"INPUT": result["OUTPUT"], "DEVICE": 1,
                                                     "OUTPUT_CLASSES": str(tmp_path / "classes.tif"),
                                                     "OUTPUT_POLYGONS": str(tmp_path / "minerals.gpkg")})
    classes = QgsRasterLayer(seg["OUTPUT_CLASSES"], "classes", "gdal")
    polygons = QgsVectorLayer(seg["OUTPUT_POLYGONS"], "polygons", "ogr")
    assert classes.crs() == layer.crs() == polygons.crs() and classes.extent() == extent
    assert seg["OUTPUT_PHOTO"] is None  # already in micrometres: no copy
