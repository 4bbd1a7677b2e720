"""Every geocore algorithm run through ``processing.run`` inside QGIS."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("qgis.core", reason="QGIS Python bindings are not installed (apt-get install python3-qgis)")

from qgis.core import (  # noqa: E402
    QgsProcessingException,
    QgsProcessingFeedback,
    QgsProject,
    QgsRasterLayer,
    QgsWkbTypes,
)

from qgis_feedback import RecordingFeedback  # noqa: E402
from qgis_layers import raster, vector  # noqa: E402

LINE_FIELDS = {"length", "azimuth", "mean_prob", "max_prob"}
SURVEY_CRS = "EPSG:32633"


def band_range(layer: QgsRasterLayer):
    from qgis.core import QgsRasterBandStats

    stats = layer.dataProvider().bandStatistics(1, QgsRasterBandStats.Stats.All)
    return stats.minimumValue, stats.maximumValue


# ----------------------------------------------------------------------------- synthesize
def test_synthesize_survey(survey):
    field, mask = raster(survey.result["OUTPUT_FIELD"]), raster(survey.result["OUTPUT_MASK"])
    axes = vector(survey.result["OUTPUT_AXES"])
    for layer in (field, mask, axes):
        assert layer.crs().authid() == SURVEY_CRS
    assert (field.width(), field.height()) == (256, 256)
    assert field.rasterUnitsPerPixelX() == pytest.approx(50.0)
    assert mask.extent() == field.extent()
    assert band_range(mask) == (0.0, 1.0)
    assert survey.result["N_DYKES"] == axes.featureCount() > 0
    assert QgsWkbTypes.geometryType(axes.wkbType()) == QgsWkbTypes.GeometryType.LineGeometry
    assert field.extent().contains(axes.extent())


def test_synthesize_survey_converts_to_other_formats(geocore_plugin, survey, tmp_path):
    import processing

    params = dict(survey.params, OUTPUT_FIELD=str(tmp_path / "field.img"),
                  OUTPUT_MASK=str(tmp_path / "mask.tiff"), OUTPUT_AXES=str(tmp_path / "axes.shp"))
    result = processing.run("geocore:synthesizesurvey", params)
    field = raster(result["OUTPUT_FIELD"])
    assert field.dataProvider().description().startswith("GDAL") and Path(result["OUTPUT_FIELD"]).suffix == ".img"
    assert field.crs().authid() == SURVEY_CRS
    axes = vector(result["OUTPUT_AXES"])
    assert axes.storageType() == "ESRI Shapefile"
    assert axes.crs().authid() == SURVEY_CRS
    # same seed, same survey, whatever the format
    assert axes.featureCount() == survey.result["N_DYKES"]
    assert band_range(field) == pytest.approx(band_range(raster(survey.result["OUTPUT_FIELD"])))


def test_library_errors_become_processing_exceptions(geocore_plugin, tmp_path):
    import processing

    with pytest.raises(QgsProcessingException, match="40 million cells"):
        processing.run("geocore:synthesizesurvey", {
            "ROWS": 20000, "COLS": 20000, "OUTPUT_FIELD": str(tmp_path / "f.tif"),
            "OUTPUT_MASK": str(tmp_path / "m.tif"), "OUTPUT_AXES": str(tmp_path / "a.gpkg")})


def test_cancel_stops_without_outputs(geocore_plugin, tmp_path):
    import processing

    feedback = QgsProcessingFeedback()
    feedback.cancel()
    with pytest.raises(QgsProcessingException, match="cancelled"):
        processing.run("geocore:synthesizesurvey", {
            "ROWS": 64, "COLS": 64, "OUTPUT_FIELD": str(tmp_path / "f.tif"),
            "OUTPUT_MASK": str(tmp_path / "m.tif"), "OUTPUT_AXES": str(tmp_path / "a.gpkg")}, feedback=feedback)
    assert not list(tmp_path.iterdir())


# ----------------------------------------------------------------------------- detect
def test_detect_lineaments(detection, survey):
    field = raster(survey.result["OUTPUT_FIELD"])
    probability = raster(detection.result["OUTPUT_PROBABILITY"])
    assert probability.crs().authid() == SURVEY_CRS
    assert probability.extent() == field.extent()
    assert (probability.width(), probability.height()) == (256, 256)
    low, high = band_range(probability)
    assert low < 0.5 < high  # background and lineaments

    lines = vector(detection.result["OUTPUT_LINES"])
    assert lines.crs().authid() == SURVEY_CRS
    assert QgsWkbTypes.geometryType(lines.wkbType()) == QgsWkbTypes.GeometryType.LineGeometry
    assert LINE_FIELDS <= set(lines.fields().names())
    assert lines.featureCount() == detection.result["N_LINES"] > 0
    for feature in lines.getFeatures():
        assert feature["length"] == pytest.approx(feature.geometry().length(), rel=0.01)
        assert 0.0 <= feature["azimuth"] <= 180.0
        assert 0.0 < feature["mean_prob"] <= feature["max_prob"]
        assert feature["max_prob"] >= 0.5  # every axis passes through cells above the threshold
        assert feature["contrast"] > 0  # the anomaly across it, measured on the survey's field
    assert Path(detection.result["OUTPUT_ROSE"]).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_detect_lineaments_to_shapefile_with_options(geocore_plugin, detect_inputs, tmp_path):
    import processing

    feedback = RecordingFeedback()
    result = processing.run("geocore:detectlineaments", dict(
        detect_inputs, TILE_SIZE=128, OVERLAP=0.25, THRESHOLD=0.6, DEVICE=0, TTA=1,
        OUTPUT_PROBABILITY=str(tmp_path / "probability.img"), OUTPUT_LINES=str(tmp_path / "lineaments.shp")),
        feedback=feedback)
    from osgeo import gdal

    assert gdal.Open(result["OUTPUT_PROBABILITY"]).GetDriver().ShortName == "HFA"  # Erdas Imagine, as asked
    assert raster(result["OUTPUT_PROBABILITY"]).crs().authid() == SURVEY_CRS
    lines = vector(result["OUTPUT_LINES"])
    assert lines.storageType() == "ESRI Shapefile"
    assert lines.crs().authid() == SURVEY_CRS
    assert LINE_FIELDS <= set(lines.fields().names())
    assert lines.featureCount() == result["N_LINES"]
    assert result["OUTPUT_ROSE"] is None
    assert feedback.progress_values and max(feedback.progress_values) == pytest.approx(100.0)
    assert all(b >= a for a, b in zip(feedback.progress_values, feedback.progress_values[1:]))
    # the automatic resolution is reported: a synthetic survey is no smoother than the training data
    note = [i for i in feedback.infos if i.startswith("the grid resolves ")]
    assert len(note) == 1 and "CNN at the grid's resolution" in note[0]


def test_detect_rejects_a_bad_model_file(geocore_plugin, survey, tmp_path):
    import processing

    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"not a model")
    with pytest.raises(QgsProcessingException, match="safetensors"):
        processing.run("geocore:detectlineaments", {
            "INPUT": survey.result["OUTPUT_FIELD"], "MODEL": str(bad),
            "OUTPUT_PROBABILITY": str(tmp_path / "p.tif"), "OUTPUT_LINES": str(tmp_path / "l.gpkg")})


# ----------------------------------------------------------------------------- vectorize
def test_vectorize_lineaments(geocore_plugin, detection, tmp_path):
    import processing

    result = processing.run("geocore:vectorizelineaments", {
        "INPUT": detection.result["OUTPUT_PROBABILITY"], "BAND": 1, "THRESHOLD": 0.5,
        "OUTPUT_LINES": str(tmp_path / "axes.gpkg"), "OUTPUT_ROSE": str(tmp_path / "rose.png")})
    lines = vector(result["OUTPUT_LINES"])
    assert lines.crs().authid() == SURVEY_CRS
    assert LINE_FIELDS <= set(lines.fields().names())
    # the same probability and threshold give the axes detection wrote
    assert lines.featureCount() == result["N_LINES"] == detection.result["N_LINES"]
    assert (tmp_path / "rose.png").stat().st_size > 1000
    # the advanced parameters reach the vectoriser: no line is 10^5 cells long
    none = processing.run("geocore:vectorizelineaments", {
        "INPUT": detection.result["OUTPUT_PROBABILITY"], "THRESHOLD": 0.5, "MIN_LENGTH": 1e5,
        "OUTPUT_LINES": str(tmp_path / "none.gpkg"), "OUTPUT_ROSE": str(tmp_path / "rose.html")})
    assert none["N_LINES"] == 0 < result["N_LINES"]
    assert "0 lines, total length 0.000" in (tmp_path / "rose.html").read_text(encoding="utf-8")


# ----------------------------------------------------------------------------- train
def test_train_lineament_model_then_detect_with_it(geocore_plugin, survey, tmp_path):
    import processing

    feedback = RecordingFeedback()
    result = processing.run("geocore:trainlineamentmodel", {
        "SAMPLES": 8, "EPOCHS": 1, "BATCH_SIZE": 4, "LEARNING_RATE": 1e-3, "TILE_SIZE": 64, "SEED": 1,
        "PRESET": 0, "DEVICE": 1, "OUTPUT_MODEL": str(tmp_path / "tiny.safetensors")}, feedback=feedback)
    model = Path(result["OUTPUT_MODEL"])
    assert model == tmp_path / "tiny.safetensors" and model.stat().st_size > 0
    assert model.with_suffix(".json").is_file()
    assert any("epoch 1/1" in line for line in feedback.infos), feedback.infos

    detected = processing.run("geocore:detectlineaments", {
        "INPUT": survey.result["OUTPUT_FIELD"], "MODEL": str(model), "DEVICE": 1,
        "OUTPUT_PROBABILITY": str(tmp_path / "p.tif"), "OUTPUT_LINES": str(tmp_path / "l.gpkg")})
    probability = raster(detected["OUTPUT_PROBABILITY"])
    low, high = band_range(probability)
    assert probability.extent() == raster(survey.result["OUTPUT_FIELD"]).extent()
    assert low < high  # the tiny model's map still follows the field


# ----------------------------------------------------------------------------- styles
def test_outputs_load_with_styles(geocore_plugin, detect_inputs, tmp_path):
    import processing
    from qgis.core import QgsSingleBandPseudoColorRenderer, QgsSymbolLayer

    project = QgsProject.instance()
    project.removeAllMapLayers()
    processing.runAndLoadResults("geocore:detectlineaments", dict(
        detect_inputs, OUTPUT_PROBABILITY=str(tmp_path / "probability.tif"),
        OUTPUT_LINES=str(tmp_path / "lineaments.gpkg")))
    layers = {Path(layer.source().split("|")[0]).name: layer for layer in project.mapLayers().values()}
    try:
        probability = layers["probability.tif"]
        renderer = probability.renderer()
        assert isinstance(renderer, QgsSingleBandPseudoColorRenderer)
        assert (renderer.classificationMin(), renderer.classificationMax()) == (0.0, 1.0)

        lines = layers["lineaments.gpkg"]
        symbol_layer = lines.renderer().symbol().symbolLayer(0)
        assert symbol_layer.color().lightness() < 60  # dark lines
        width = symbol_layer.dataDefinedProperties().property(QgsSymbolLayer.Property.PropertyStrokeWidth)
        assert width.isActive() and '"mean_prob"' in width.expressionString()
    finally:
        project.removeAllMapLayers()


# ----------------------------------------------------------------------------- classical methods and fine-tuning
def test_detect_with_a_classical_method(geocore_plugin, survey, tmp_path):
    import processing

    result = processing.run("geocore:detectlineaments", {
        "INPUT": survey.result["OUTPUT_FIELD"], "METHOD": 1,  # tga
        "OUTPUT_PROBABILITY": str(tmp_path / "ridge.tif"), "OUTPUT_LINES": str(tmp_path / "l.gpkg")})
    lines = vector(result["OUTPUT_LINES"])
    assert lines.featureCount() == result["N_LINES"] > 0
    assert {"straight", "mean_prob"} <= set(lines.fields().names())
    from osgeo import gdal

    ds = gdal.Open(result["OUTPUT_PROBABILITY"])
    assert "tga" in ds.GetRasterBand(1).GetDescription()
    # tilt needs the field direction: refused with the parameter to give
    with pytest.raises(QgsProcessingException, match="inclination"):
        processing.run("geocore:detectlineaments", {
            "INPUT": survey.result["OUTPUT_FIELD"], "METHOD": 2,
            "OUTPUT_PROBABILITY": str(tmp_path / "t.tif"), "OUTPUT_LINES": str(tmp_path / "t.gpkg")})
    result = processing.run("geocore:detectlineaments", {
        "INPUT": survey.result["OUTPUT_FIELD"], "METHOD": 2, "INCLINATION": 90.0, "DECLINATION": 0.0,
        "OUTPUT_PROBABILITY": str(tmp_path / "t.tif"), "OUTPUT_LINES": str(tmp_path / "t.gpkg")})
    assert result["N_LINES"] > 0
    with pytest.raises(QgsProcessingException, match="must be auto or fractions"):
        processing.run("geocore:detectlineaments", {
            "INPUT": survey.result["OUTPUT_FIELD"], "SCALES": "1, half",
            "OUTPUT_PROBABILITY": str(tmp_path / "s.tif"), "OUTPUT_LINES": str(tmp_path / "s.gpkg")})


def test_finetune_on_interpreted_lines_then_detect(geocore_plugin, survey, tmp_path):
    import processing
    from tiny_models import tiny_lineament_model

    from geocore.models import load_model

    init = tiny_lineament_model(tmp_path / "tiny.safetensors")
    feedback = RecordingFeedback()
    result = processing.run("geocore:finetunelineamentmodel", {
        "INPUT": survey.result["OUTPUT_FIELD"], "EXPERT": survey.result["OUTPUT_AXES"], "INIT": str(init),
        "STEPS": 3, "SYNTHETIC_SHARE": 0.0, "OUTPUT_MODEL": str(tmp_path / "ft.safetensors")}, feedback=feedback)
    model, card = load_model(result["OUTPUT_MODEL"])
    assert card.training["finetuned_on"]["grid"] == "field.tif"
    assert card.training["optimizer"]["steps_run"] == 3
    detected = processing.run("geocore:detectlineaments", {
        "INPUT": survey.result["OUTPUT_FIELD"], "MODEL": result["OUTPUT_MODEL"], "DEVICE": 1,
        "OUTPUT_PROBABILITY": str(tmp_path / "p.tif"), "OUTPUT_LINES": str(tmp_path / "l.gpkg")})
    assert Path(detected["OUTPUT_PROBABILITY"]).is_file()
