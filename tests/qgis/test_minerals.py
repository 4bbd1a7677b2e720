"""The mineral algorithms (group Minerals) run through ``processing.run`` inside real QGIS."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

pytest.importorskip("qgis.core", reason="QGIS Python bindings are not installed (apt-get install python3-qgis)")

from qgis.core import (  # noqa: E402
    QgsPalettedRasterRenderer,
    QgsProcessingException,
    QgsProject,
    QgsWkbTypes,
)

from qgis_layers import raster, vector  # noqa: E402

from geocore.raster.micrometre import is_micrometre_crs  # noqa: E402

UM = 2.0  # micrometres per pixel of the test section


@pytest.fixture(scope="module")
def section(geocore_plugin, tmp_path_factory):
    """geocore:synthesizesection: a 192 x 192 section at 2 µm/px and a 6-section data set."""
    import processing

    out = tmp_path_factory.mktemp("section")
    params = {"ROWS": 192, "COLS": 192, "SEED": 5, "UM_PER_PX": UM, "GRAIN_PX": 40.0, "COUNT": 6,
              "OUTPUT_IMAGE": str(out / "section.tif"), "OUTPUT_MASK": str(out / "truth.tif"),
              "OUTPUT_DATASET": str(out / "dataset")}
    result = processing.run("geocore:synthesizesection", params)
    return SimpleNamespace(params=params, result=result, folder=out)


@pytest.fixture(scope="module")
def trained(section, tmp_path_factory):
    """geocore:trainmineralmodel: a tiny U-Net, one short epoch on the synthetic data set."""
    import processing

    out = tmp_path_factory.mktemp("model")
    params = {"DATA": section.result["OUTPUT_DATASET"], "CLASSES": "", "ARCH": 0, "ENCODER": "resnet18",
              "PATCH": 64, "EPOCHS": 1, "PATCHES_PER_EPOCH": 8, "BATCH_SIZE": 4, "LEARNING_RATE": 1e-3,
              "SEED": 1, "DEVICE": 1, "OUTPUT_MODEL": str(out / "tiny.safetensors")}
    result = processing.run("geocore:trainmineralmodel", params)
    return SimpleNamespace(params=params, result=result, folder=out)


def test_synthesize_section(section):
    image, truth = raster(section.result["OUTPUT_IMAGE"]), raster(section.result["OUTPUT_MASK"])
    assert image.bandCount() == 3 and truth.bandCount() == 1
    assert (image.width(), image.height()) == (192, 192)
    # the local engineering CRS: one map unit per micrometre
    assert image.rasterUnitsPerPixelX() == pytest.approx(UM)
    assert is_micrometre_crs(image.crs().toWkt()) and image.crs() == truth.crs()
    assert image.extent() == truth.extent()
    # the micrometre frame: top-left corner at (0, 0), y up
    assert (image.extent().xMinimum(), image.extent().yMaximum()) == (0.0, 0.0)
    assert image.extent().yMinimum() == pytest.approx(-192 * UM)
    dataset = Path(section.result["OUTPUT_DATASET"])
    assert len(list((dataset / "imgs" / "train").glob("*.jpg"))) == 5
    assert len(list((dataset / "masks" / "test").glob("*.png"))) == 1


def test_train_and_evaluate(trained, section, tmp_path):
    import processing

    model = Path(trained.result["OUTPUT_MODEL"])
    card = json.loads(model.with_suffix(".json").read_text())
    assert card["task"] == "minerals" and card["class_codes"][0] == 0
    assert card["training"]["sampler"]["kind"] == "class-balanced"
    # the algorithm reports the test figures of the card it wrote
    assert trained.result["MEAN_IOU"] == pytest.approx(card["metrics"]["test"]["mean_iou"])
    assert trained.result["PIXEL_ACCURACY"] == pytest.approx(card["metrics"]["test"]["pixel_accuracy"])
    result = processing.run("geocore:evaluatemineralmodel", {
        "DATA": section.result["OUTPUT_DATASET"], "MODEL": str(model), "SPLIT": 0, "DEVICE": 1,
        "OUTPUT_JSON": str(tmp_path / "metrics.json")})
    # the same test split through the same engine: the card's figures again
    assert result["MEAN_IOU"] == pytest.approx(card["metrics"]["test"]["mean_iou"], abs=1e-6)
    assert result["PIXEL_ACCURACY"] == pytest.approx(card["metrics"]["test"]["pixel_accuracy"], abs=1e-6)
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    # one 192 x 192 test image: every labelled pixel of a model class counted once (255 = ignore is left out)
    import cv2

    truth = cv2.imread(str(next((Path(section.result["OUTPUT_DATASET"]) / "masks" / "test").glob("*.png"))),
                       cv2.IMREAD_UNCHANGED)
    assert truth.shape == (192, 192) and metrics["images"] == 1
    assert np.asarray(metrics["confusion_matrix"]).sum() == np.isin(truth, card["class_codes"]).sum()


def test_segment_minerals(section, tmp_path):
    """The shipped demo model on the synthetic section: outputs, fields, styles, micrometre areas."""
    import processing

    project = QgsProject.instance()
    params = {"INPUT": section.result["OUTPUT_IMAGE"], "UM_PER_PX": UM, "DEVICE": 1, "MIN_GRAIN_PX": 4,
              "OUTPUT_CLASSES": str(tmp_path / "classes.tif"), "OUTPUT_POLYGONS": str(tmp_path / "minerals.gpkg"),
              "OUTPUT_PROBABILITIES": str(tmp_path / "probabilities.tif"), "OUTPUT_STATS": str(tmp_path / "stats")}
    from qgis.core import QgsProcessingContext, QgsProcessingFeedback

    context = QgsProcessingContext()
    context.setProject(project)
    result = processing.run("geocore:segmentminerals", params, context=context, feedback=QgsProcessingFeedback())
    classes, polygons = raster(result["OUTPUT_CLASSES"]), vector(result["OUTPUT_POLYGONS"])
    probs = raster(result["OUTPUT_PROBABILITIES"])
    assert (classes.width(), classes.height()) == (192, 192)
    assert classes.rasterUnitsPerPixelX() == pytest.approx(UM)
    assert classes.crs().isValid() and "micrometres" in classes.crs().description()
    # one CRS for QGIS: raster and vectors compare equal (they did not: axis names differed)
    assert polygons.crs() == classes.crs() == probs.crs() == raster(section.result["OUTPUT_IMAGE"]).crs()
    assert result["OUTPUT_PHOTO"] is None  # the section is already in micrometres: no copy needed
    assert "DEMO" in result["MODEL_NOTE"] and "synthetic" in result["MODEL_NOTE"]
    assert QgsWkbTypes.geometryType(polygons.wkbType()) == QgsWkbTypes.GeometryType.PolygonGeometry
    assert {"code", "label", "name", "area", "perimeter", "ecd"} <= set(polygons.fields().names())
    assert polygons.featureCount() == result["N_GRAINS"] > 0
    for f in list(polygons.getFeatures())[:20]:
        assert f["code"] != 0  # non-ore is left out by default
        assert f["area"] == pytest.approx(f.geometry().area())  # areas in µm² of the micrometre CRS
        assert f["area"] >= 4 * UM * UM * 0.99
    assert probs.bandCount() == 10  # S1 + S2: nine minerals and non-ore
    table = list(csv.DictReader(open(Path(result["OUTPUT_STATS"]) / "stats.csv")))
    assert sum(float(r["area_fraction"]) for r in table) == pytest.approx(1.0, abs=1e-5)  # 6 digits a row
    assert Path(result["OUTPUT_REPORT"]).read_text().startswith("<!DOCTYPE html>")
    # the class map was segmented fairly: most pixels match the truth (demo model, synthetic data)
    import rasterio

    with rasterio.open(result["OUTPUT_CLASSES"]) as a, rasterio.open(section.result["OUTPUT_MASK"]) as b:
        agreement = float((a.read(1) == b.read(1)).mean())
    assert agreement > 0.6, agreement


@pytest.fixture(scope="module")
def plain_photo(tmp_path_factory):
    """A plain JPEG (no georeferencing): QGIS shows it in pixels, x = column, y = -row."""
    import cv2

    from geocore.minerals.synthetic import synthesize_section

    path = tmp_path_factory.mktemp("plain") / "photo.jpg"
    cv2.imwrite(str(path), synthesize_section((96, 160), seed=3, grain_px=24.0).image[..., ::-1])
    return path


def test_plain_photo_outputs_overlay_the_photo_in_micrometres(geocore_plugin, plain_photo, tmp_path):
    """A plain JPEG with a pixel size: every output, the copy of the photo and QGIS's CRS agree."""
    import processing
    from qgis.core import QgsProcessingContext, QgsProcessingFeedback, QgsRectangle

    project = QgsProject.instance()
    project.removeAllMapLayers()
    plain = raster(plain_photo)
    project.addMapLayer(plain)
    assert plain.extent() == QgsRectangle(0, -96, 160, 0)  # what the user sees: pixels
    um = 0.5
    context = QgsProcessingContext()
    context.setProject(project)
    params = {"INPUT": str(plain_photo), "UM_PER_PX": um, "DEVICE": 1,
              "OUTPUT_CLASSES": str(tmp_path / "classes.tif"), "OUTPUT_POLYGONS": str(tmp_path / "minerals.gpkg"),
              "OUTPUT_PROBABILITIES": str(tmp_path / "probabilities.tif"),
              "OUTPUT_PHOTO": str(tmp_path / "photo_um.tif"), "OUTPUT_STATS": str(tmp_path / "stats")}
    result = processing.runAndLoadResults("geocore:segmentminerals", params, context=context,
                                          feedback=QgsProcessingFeedback())
    photo = raster(result["OUTPUT_PHOTO"])
    classes, polygons = raster(result["OUTPUT_CLASSES"]), vector(result["OUTPUT_POLYGONS"])
    probs = raster(result["OUTPUT_PROBABILITIES"])
    assert photo.crs() == classes.crs() == polygons.crs() == probs.crs()
    assert is_micrometre_crs(photo.crs().toWkt()) and "micrometres" in photo.crs().description()
    # the photo copy is the plain photo scaled by the pixel size, and the outputs lie exactly on it
    assert photo.extent() == QgsRectangle(0, -96 * um, 160 * um, 0) == classes.extent() == probs.extent()
    assert photo.extent().contains(polygons.extent())
    assert polygons.extent().area() > 0.5 * photo.extent().area()
    # loaded in the plain photo's place: the project is in micrometres and the plain photo is hidden
    assert project.crs() == classes.crs()
    root = project.layerTreeRoot()
    assert not root.findLayer(plain.id()).isVisible()
    names = {Path(l.source().split("|")[0]).name: l.name() for l in project.mapLayers().values()}
    assert names["photo_um.tif"].startswith("photo (µm, 0.5 µm/px)")
    for name in ("classes.tif", "minerals.gpkg", "probabilities.tif"):
        assert "DEMO model" in names[name], names  # point 5: the layer names say it
    assert "DEMO" in Path(result["OUTPUT_REPORT"]).read_text()
    project.removeAllMapLayers()


def test_segment_styles_outputs_on_load(section, tmp_path):
    """Loaded outputs get the LumenStone palette (paletted raster, categorised polygons)."""
    import processing
    from qgis.core import QgsCategorizedSymbolRenderer, QgsProcessingContext, QgsProcessingFeedback

    project = QgsProject.instance()
    project.removeAllMapLayers()
    context = QgsProcessingContext()
    context.setProject(project)
    params = {"INPUT": section.result["OUTPUT_IMAGE"], "UM_PER_PX": UM, "DEVICE": 1,
              "OUTPUT_CLASSES": str(tmp_path / "classes.tif"), "OUTPUT_POLYGONS": str(tmp_path / "minerals.shp")}
    processing.runAndLoadResults("geocore:segmentminerals", params, context=context, feedback=QgsProcessingFeedback())
    layers = {Path(l.source().split("|")[0]).name: l for l in project.mapLayers().values()}
    assert isinstance(layers["classes.tif"].renderer(), QgsPalettedRasterRenderer)
    colours = {c.value: c.color.name() for c in layers["classes.tif"].renderer().classes()}
    assert colours[1] == "#ffa500" and colours[6] == "#2f4f4f"
    renderer = layers["minerals.shp"].renderer()
    assert isinstance(renderer, QgsCategorizedSymbolRenderer) and renderer.classAttribute() == "code"
    project.removeAllMapLayers()


def test_mineral_statistics(section, tmp_path):
    """Statistics of the true class map: fractions equal pixel counts, pixel size from the µm CRS."""
    import processing
    import rasterio

    result = processing.run("geocore:mineralstatistics", {
        "INPUT": section.result["OUTPUT_MASK"], "UM_PER_PX": 0.0, "SIZE_CLASSES": "10, 20, 50",
        "OUTPUT_FOLDER": str(tmp_path / "stats")})
    with rasterio.open(section.result["OUTPUT_MASK"]) as ds:
        truth = ds.read(1)
    rows = {int(r["code"]): r for r in csv.DictReader(open(result["OUTPUT_TABLE"]))}
    for code, r in rows.items():
        assert float(r["area_fraction"]) == pytest.approx((truth == code).mean(), rel=1e-5)
        assert float(r["area_um2"]) == pytest.approx((truth == code).sum() * UM * UM)
    sizes = list(csv.DictReader(open(Path(result["OUTPUT_FOLDER"]) / "grain_sizes.csv")))
    assert {r["lower_um"] for r in sizes} == {"0", "10", "20", "50"}
    for name in ("contacts.csv", "area_fractions.png", "grain_sizes.png", "contacts.png", "report.html"):
        assert (Path(result["OUTPUT_FOLDER"]) / name).stat().st_size > 0


def test_bad_input_is_refused_and_nothing_written(geocore_plugin, section, tmp_path):
    import processing

    # a grey image where RGB is expected
    grey = tmp_path / "grey.tif"
    with rasterio_open_write(grey, 1) as ds:
        ds.write(np.full((1, 64, 64), 100, np.uint8))
    out = tmp_path / "out"
    with pytest.raises(QgsProcessingException, match="grey image"):
        processing.run("geocore:segmentminerals", {"INPUT": str(grey), "DEVICE": 1,
                                                   "OUTPUT_CLASSES": str(out / "c.tif"),
                                                   "OUTPUT_POLYGONS": str(out / "p.gpkg")})
    assert not out.exists() or not list(out.iterdir())
    with pytest.raises(QgsProcessingException, match="size classes"):
        processing.run("geocore:mineralstatistics", {"INPUT": section.result["OUTPUT_MASK"],
                                                     "SIZE_CLASSES": "50,20", "OUTPUT_FOLDER": str(out / "s")})


def rasterio_open_write(path, count):
    import rasterio

    return rasterio.open(path, "w", driver="GTiff", width=64, height=64, count=count, dtype="uint8")


def test_help_texts_have_no_line_breaks_inside_paragraphs(geocore_plugin):
    """QGIS's dialog turns each line break of shortHelpString into a paragraph: one line per help text."""
    from qgis.core import QgsApplication

    algorithms = [a for a in QgsApplication.processingRegistry().algorithms() if a.provider().id() == "geocore"]
    assert len(algorithms) >= 15
    for algorithm in algorithms:
        text = algorithm.shortHelpString()
        assert text and "\n" not in text, algorithm.id()
        assert text.count("<p>") == text.count("</p>"), algorithm.id()
    segment = QgsApplication.processingRegistry().algorithmById("geocore:segmentminerals").shortHelpString()
    assert "1/254" in segment and "micrometres" in segment  # the probabilities' cost and the overlay are told
