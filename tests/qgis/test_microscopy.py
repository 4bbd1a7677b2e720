"""The Microscopy algorithms run through ``processing.run`` inside a real QGIS."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("qgis.core", reason="QGIS Python bindings are not installed (apt-get install python3-qgis)")

import cv2  # noqa: E402
import rasterio  # noqa: E402
from qgis.core import (  # noqa: E402
    QgsFeature,
    QgsGeometry,
    QgsPointXY,
    QgsProcessingException,
    QgsRectangle,
    QgsVectorLayer,
)

from geocore.microscopy.classes import BY_CODE  # noqa: E402
from geocore.microscopy.synthetic import (  # noqa: E402
    MINERAL_RGB,
    simulate_strokes,
    synthetic_section,
)
from microscopy_helpers import read_png, write_png  # noqa: E402 (tests/, on the path via conftest)
from qgis_layers import raster  # noqa: E402
from stand_in_model import ColourClassifier  # noqa: E402 (tests/, on the path via conftest)

SHAPE = (192, 256)


def png(path: Path, array) -> str:
    """:func:`write_png`, returning the path as a string (a Processing parameter)."""
    return str(write_png(path, array))


@pytest.fixture(scope="module")
def section():
    return synthetic_section(SHAPE, classes=(0, 1, 2, 6, 8), n_grains=30, seed=5)


@pytest.fixture(scope="module")
def photo(section, tmp_path_factory) -> str:
    return png(tmp_path_factory.mktemp("photo") / "section.png", section.rgb)


def test_flatfield_keeps_names(geocore_plugin, tmp_path):
    import processing

    y, x = np.mgrid[0:SHAPE[0], 0:SHAPE[1]]
    light = (1.0 - 1.2 * (((y - 80) / SHAPE[0]) ** 2 + ((x - 110) / SHAPE[1]) ** 2))[..., None] * [1.0, 0.9, 0.8]
    mirror = png(tmp_path / "mirror.png", np.round(200 * light))
    a = png(tmp_path / "a.png", np.round(100 * light))
    b = png(tmp_path / "b.jpg", np.round(120 * light))
    out = tmp_path / "out"
    result = processing.run("geocore:flatfield", {"INPUT": [a, b], "REFERENCE": mirror, "SIGMA": 3.0,
                                                  "PER_CHANNEL": True, "NORMALIZE": 0, "OUTPUT_FOLDER": str(out)})
    assert sorted(Path(p).name for p in result["OUTPUT_LAYERS"]) == ["a.png", "b.jpg"]
    flat = read_png(out / "a.png").astype(float)
    assert np.ptp(flat[5:-5, 5:-5], axis=(0, 1)).max() <= 4


def test_colour_fit_then_correct(geocore_plugin, section, tmp_path):
    import processing

    from geocore.microscopy.colour import delta_e, linearize

    lin = linearize(section.rgb)
    distortion = np.array([[0.8, 0.05, 0.0], [0.1, 0.7, 0.05], [0.0, 0.1, 0.55], [0.02, 0.015, 0.03]])
    distorted = np.clip(np.clip(np.c_[lin.reshape(-1, 3), np.ones(lin[..., 0].size)] @ distortion, 0, 1)
                        ** (1 / 2.2) * 255 + 0.5, 0, 255).astype(np.uint8).reshape(section.rgb.shape)
    ann = np.full(SHAPE, 255, np.uint8)
    pick = np.random.default_rng(0).random(SHAPE) < 0.05
    ann[pick] = section.mask[pick]
    reference = synthetic_section(SHAPE, classes=(0, 1, 2, 6, 8), n_grains=30, seed=6)
    params = {"INPUT": png(tmp_path / "photo.png", distorted), "ANNOTATION": png(tmp_path / "ann.png", ann),
              "REFERENCE": png(tmp_path / "ref.png", reference.rgb),
              "REFERENCE_ANNOTATION": png(tmp_path / "ref_ann.png", reference.mask),
              "OUTPUT_MATRIX": str(tmp_path / "matrix.json"), "OUTPUT": str(tmp_path / "corrected.tif")}
    result = processing.run("geocore:colourfit", params)
    assert result["DELTA_E_AFTER"] < result["DELTA_E_BEFORE"] / 2
    assert json.loads(Path(result["OUTPUT_MATRIX"]).read_text())["format"] == "geocore-colour-matrix"
    corrected = raster(result["OUTPUT"])
    assert corrected.bandCount() == 3 and (corrected.width(), corrected.height()) == SHAPE[::-1]
    applied = processing.run("geocore:colourcorrect", {"INPUT": params["INPUT"], "MATRIX": result["OUTPUT_MATRIX"],
                                                       "OUTPUT": str(tmp_path / "series" / "photo.png")})
    out = read_png(applied["OUTPUT"])
    assert delta_e(linearize(out), lin).mean() < 2.5 < delta_e(linearize(distorted), lin).mean()


def test_colour_fit_bad_annotation_is_explained(geocore_plugin, photo, tmp_path):
    import processing

    small = png(tmp_path / "small.png", np.zeros((10, 10), np.uint8))
    with pytest.raises(QgsProcessingException, match="same photograph size"):
        processing.run("geocore:colourfit", {"INPUT": photo, "ANNOTATION": small, "REFERENCE": photo,
                                             "REFERENCE_ANNOTATION": small, "OUTPUT_MATRIX": str(tmp_path / "m.json")})
    assert not (tmp_path / "m.json").exists()


def test_align_polarized_stack(geocore_plugin, tmp_path):
    import processing

    big = synthetic_section((SHAPE[0] + 120, SHAPE[1] + 160), classes=(0, 1, 5, 9, 13), n_grains=80, seed=3)
    window = (slice(60, 60 + SHAPE[0]), slice(80, 80 + SHAPE[1]))
    ppl = png(tmp_path / "ppl.png", big.rgb[window])
    lut = np.array([MINERAL_RGB[c] for c in range(15)], float) * 0.15
    xpl = []
    for k, angle in enumerate((15, 30)):
        lut[[5, 9, 13]] = np.array([MINERAL_RGB[c] for c in (5, 9, 13)]) * (0.4 + 0.2 * k)
        seen = cv2.GaussianBlur(lut[big.mask], (0, 0), 0.8).astype(np.uint8)
        rot = cv2.getRotationMatrix2D((80 + SHAPE[1] / 2, 60 + SHAPE[0] / 2), angle, 1.0)
        rotated = cv2.warpAffine(seen, rot, seen.shape[1::-1])
        xpl.append(png(tmp_path / f"xpl{angle}.png", rotated[window]))
    result = processing.run("geocore:alignpolarized", {"PPL": ppl, "XPL": xpl, "METHOD": 0, "MODEL": 0,
                                                       "CROP": False, "OUTPUT": str(tmp_path / "stack.tif")})
    stack = raster(result["OUTPUT"])
    with rasterio.open(result["OUTPUT"]) as ds:
        assert ds.count == 9
    # QGIS shows the shared-area mask as one more (alpha) band
    assert stack.bandCount() in (9, 10) and (stack.width(), stack.height()) == SHAPE[::-1]
    assert 0.4 < result["SHARED_FRACTION"] < 1.0
    report = json.loads((tmp_path / "stack.tif.alignment.json").read_text())
    assert [round(p["rotation_deg"]) for p in report["photos"]] == [15, 30]


def strokes_layer(section, share=0.02) -> QgsVectorLayer:
    """A scratch layer of strokes, as a geologist draws it over the photo in QGIS (y = -row)."""
    layer = QgsVectorLayer("LineString?field=mineral:string", "strokes", "memory")
    features = []
    for code, line in simulate_strokes(section.mask, share, seed=2):
        f = QgsFeature(layer.fields())
        f.setGeometry(QgsGeometry.fromPolylineXY([QgsPointXY(x, -y) for x, y in line.coords]))
        f.setAttribute("mineral", BY_CODE[code].label)
        features.append(f)
    layer.dataProvider().addFeatures(features)
    layer.updateExtents()
    return layer


def test_photo_without_georeferencing_is_shown_with_y_minus_row(geocore_plugin, photo):
    # the coordinate convention strokes rely on
    assert raster(photo).extent() == QgsRectangle(0, -SHAPE[0], SHAPE[1], 0)


def test_superpixel_annotation_from_a_scratch_layer(geocore_plugin, section, photo, tmp_path):
    import processing

    layer = strokes_layer(section)
    result = processing.run("geocore:superpixelannotate", {
        "INPUT": photo, "STROKES": layer, "CLASS_FIELD": "mineral",
        "OUTPUT_MASK": str(tmp_path / "mask.png"), "OUTPUT_POLYGONS": str(tmp_path / "polygons.gpkg")})
    mask = read_png(result["OUTPUT_MASK"])
    labelled = mask != 255
    assert result["LABELLED_FRACTION"] == pytest.approx(labelled.mean())
    assert labelled.mean() > 0.6 and (mask[labelled] == section.mask[labelled]).mean() > 0.95
    polygons = QgsVectorLayer(result["OUTPUT_POLYGONS"], "p", "ogr")
    assert polygons.isValid() and polygons.featureCount() > 0
    assert {"code", "label", "name", "area"} <= set(polygons.fields().names())
    assert raster(photo).extent().contains(polygons.extent())
    # re-running with more strokes refines
    more = processing.run("geocore:superpixelannotate", {
        "INPUT": photo, "STROKES": strokes_layer(section, 0.05), "CLASS_FIELD": "mineral",
        "OUTPUT_MASK": str(tmp_path / "mask2.tif")})
    assert more["LABELLED_FRACTION"] > result["LABELLED_FRACTION"]
    assert raster(more["OUTPUT_MASK"]).bandCount() == 1


def test_uncertainty_regions(geocore_plugin, section, tmp_path):
    import processing
    from rasterio.transform import from_origin

    train = synthetic_section(SHAPE, classes=(0, 1, 2, 5, 6, 7, 8), n_grains=30, seed=10, noise=12)
    model = ColourClassifier(n_classes=9, temperature=3).fit(train.rgb, train.mask)
    test = synthetic_section(SHAPE, classes=(0, 1, 2, 5, 6, 7, 8), n_grains=30, seed=11, noise=12)
    prob = model(test.rgb)
    path = tmp_path / "prob.tif"
    with rasterio.open(path, "w", driver="GTiff", count=prob.shape[0], height=SHAPE[0], width=SHAPE[1],
                       dtype="float32", transform=from_origin(0, 0, 2.0, 2.0)) as ds:
        ds.write(prob)
    result = processing.run("geocore:uncertaintyregions", {
        "INPUT": str(path), "SHARE": 0.05, "METRIC": 1, "OUTPUT": str(tmp_path / "regions.shp"),
        "OUTPUT_MAP": str(tmp_path / "unc.tif")})
    regions = QgsVectorLayer(result["OUTPUT"], "r", "ogr")
    assert regions.isValid() and regions.featureCount() == result["N_REGIONS"] > 0
    ranks = sorted(f["rank"] for f in regions.getFeatures())
    assert ranks == list(range(1, result["N_REGIONS"] + 1))
    area = sum(f.geometry().area() for f in regions.getFeatures())
    assert area / (SHAPE[0] * SHAPE[1] * 4.0) == pytest.approx(0.05, abs=0.01)
    assert raster(result["OUTPUT_MAP"]).bandCount() == 1


def test_uncertainty_regions_from_a_model_with_tta(geocore_plugin, section, tmp_path):
    import processing
    import torch
    from rasterio.transform import from_origin

    from geocore.models import ModelCard, build_model, save_model

    torch.set_num_threads(1)
    card = ModelCard(name="tiny", task="minerals", encoder="resnet18", in_channels=3, classes=4, tile_size=64,
                     decoder_channels=[8, 8, 8, 8, 8],
                     normalization={"mode": "affine", "scale": [1 / 255.0] * 3, "offset": [0.0] * 3},
                     class_names=["bg", "ccp", "gl", "py"])
    torch.manual_seed(0)
    model = save_model(build_model(card), card, tmp_path / "tiny.safetensors")
    photo = tmp_path / "photo.tif"
    with rasterio.open(photo, "w", driver="GTiff", count=3, height=96, width=128, dtype="uint8",
                       transform=from_origin(0, 0, 2.0, 2.0)) as ds:
        ds.write(np.moveaxis(section.rgb[:96, :128], -1, 0))
    result = processing.run("geocore:uncertaintyregions", {
        "INPUT": str(photo), "MODEL": str(model), "TTA": True, "DEVICE": 1, "SHARE": 0.1,
        "OUTPUT": str(tmp_path / "regions.gpkg")})
    regions = QgsVectorLayer(result["OUTPUT"], "r", "ogr")
    assert regions.isValid() and regions.featureCount() == result["N_REGIONS"] > 0
