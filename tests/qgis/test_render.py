"""Render the survey with the styled outputs through QGIS's own map renderer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("qgis.core", reason="QGIS Python bindings are not installed (apt-get install python3-qgis)")

from qgis.core import (  # noqa: E402
    QgsColorRampShader,
    QgsMapRendererSequentialJob,
    QgsMapSettings,
    QgsRasterLayer,
    QgsRasterShader,
    QgsSingleBandPseudoColorRenderer,
    QgsStyle,
    QgsVectorLayer,
)
from qgis.PyQt.QtCore import QSize  # noqa: E402
from qgis.PyQt.QtGui import QColor, QImage  # noqa: E402

SIZE = 800


def ramp_layer(path, name, ramp, classes: int, opacity: float) -> QgsRasterLayer:
    """A grid drawn with ``ramp`` stretched over its 2-98 % cumulative cut, as QGIS does by default."""
    layer = QgsRasterLayer(str(path), name, "gdal")
    low, high = layer.dataProvider().cumulativeCut(1, 0.02, 0.98)
    function = QgsColorRampShader(low, high, ramp, QgsColorRampShader.Type.Interpolated)
    function.classifyColorRamp(classes, 1)
    shader = QgsRasterShader(low, high)
    shader.setRasterShaderFunction(function)
    renderer = QgsSingleBandPseudoColorRenderer(layer.dataProvider(), 1, shader)
    renderer.setOpacity(opacity)
    layer.setRenderer(renderer)
    return layer


def field_layer(path) -> QgsRasterLayer:
    # Viridis has no red in it (red is for the true axes); half opacity, so the dark lineaments stand out
    return ramp_layer(path, "magnetic field", QgsStyle.defaultStyle().colorRamp("Viridis"), 9, 0.5)


def with_style(layer, style):
    """``layer`` with one of the plugin's named styles loaded (a failed load fails the test)."""
    from qgis_plugin.styles import style_path

    message, ok = layer.loadNamedStyle(str(style_path(style)))
    assert ok, message
    return layer


def styled(path, name, style) -> QgsVectorLayer:
    return with_style(QgsVectorLayer(str(path), name, "ogr"), style)


def styled_raster(path, name, style) -> QgsRasterLayer:
    return with_style(QgsRasterLayer(str(path), name, "gdal"), style)


def render(layers, reference: QgsRasterLayer) -> QImage:
    settings = QgsMapSettings()
    settings.setLayers(layers)  # top first
    settings.setDestinationCrs(reference.crs())
    settings.setExtent(reference.extent())
    settings.setOutputSize(QSize(SIZE, SIZE))
    settings.setBackgroundColor(QColor("white"))
    job = QgsMapRendererSequentialJob(settings)
    job.start()
    job.waitForFinished()
    return job.renderedImage()


def pixels(image: QImage) -> np.ndarray:
    image = image.convertToFormat(QImage.Format.Format_RGB32)
    ptr = image.constBits()
    ptr.setsize(image.sizeInBytes())
    bgra = np.frombuffer(ptr, np.uint8).reshape(image.height(), image.bytesPerLine() // 4, 4)
    return bgra[:, : image.width(), 2::-1].copy()  # RGB


def test_render_map_with_styled_lineaments(survey, detection, artefacts):
    field = field_layer(survey.result["OUTPUT_FIELD"])
    lineaments = styled(detection.result["OUTPUT_LINES"], "detected lineaments", "lineaments")
    axes = styled(survey.result["OUTPUT_AXES"], "true axes", "true_axes")
    assert field.isValid() and lineaments.isValid() and axes.isValid()

    image = render([axes, lineaments, field], field)
    png = artefacts / "detected_lineaments.png"
    assert image.save(str(png), "PNG")
    background = pixels(render([field], field))
    without_axes = pixels(render([lineaments, field], field))
    rgb = pixels(image)

    assert rgb.shape == (SIZE, SIZE, 3)
    luminance = rgb.astype(float) @ [0.299, 0.587, 0.114]
    assert (background.astype(float) @ [0.299, 0.587, 0.114]).std() > 5, "the field is blank"
    assert np.abs(rgb.astype(int) - background).max(axis=2).__gt__(30).mean() > 0.005, "no lines drawn"
    assert len(np.unique(rgb.reshape(-1, 3), axis=0)) > 100, "map has too few colours"
    # the field fills the frame: no white background left
    assert (background.min(axis=2) > 250).mean() < 0.01
    # the lineaments' dark casing appears where the field alone had no dark pixels
    dark = luminance < 50
    background_dark = (background.astype(float) @ [0.299, 0.587, 0.114]) < 50
    assert (dark & ~background_dark).mean() > 0.003
    # red true axes are drawn, and only by the axes layer
    def red(a):
        r, g, b = (a[..., i].astype(int) for i in range(3))
        return (r > 180) & (g < 80) & (b < 80)

    assert red(without_axes).sum() == 0
    assert red(rgb).sum() > 500
    assert Path(png).stat().st_size > 10_000


# ----------------------------------------------------------------------------- legibility of every style
#: Rendered previews for people (docs/img holds small copies: docs/qgis_plugin.md shows them)
PREVIEW = 400


def luminance(rgb: np.ndarray) -> np.ndarray:
    return rgb.astype(float) @ [0.299, 0.587, 0.114]


#: RGB distance (0..441) above which a drawn pixel stands out from what was under it
STANDS_OUT = 100


def line_contrast(with_lines: np.ndarray, background: np.ndarray) -> tuple[int, float]:
    """(pixels the layer changed, share of them that differ from the background by > STANDS_OUT in RGB).

    A line style is legible on a background when most of what it draws stands out: a near-black line on a
    dark raster changes pixels by little, a bright core over a dark casing always by much in one part."""
    diff = np.sqrt(((with_lines.astype(float) - background.astype(float)) ** 2).sum(axis=2))
    changed = diff > 30
    n = int(changed.sum())
    return n, float((diff > STANDS_OUT).sum() / max(n, 1))


def grey_layer(path, name, low_colour: str, high_colour: str, opacity: float = 1.0) -> QgsRasterLayer:
    """A grid drawn with a two-colour ramp (a dark grid: black to dark grey)."""
    from qgis.core import QgsGradientColorRamp

    return ramp_layer(path, name, QgsGradientColorRamp(QColor(low_colour), QColor(high_colour)), 5, opacity)


def save_preview(image: QImage, artefacts: Path, name: str) -> Path:
    """The full render in the artefacts folder and a PREVIEW-pixel copy under artefacts/docs_img."""
    from qgis.PyQt.QtCore import Qt

    assert image.save(str(artefacts / f"{name}.png"), "PNG")
    small = artefacts / "docs_img"
    small.mkdir(exist_ok=True)
    out = small / f"{name}.png"
    small_image = image.scaled(PREVIEW, PREVIEW, Qt.AspectRatioMode.KeepAspectRatio,
                               Qt.TransformationMode.SmoothTransformation)
    # 256 colours: a preview of tens of kB, small enough to commit
    assert small_image.convertToFormat(QImage.Format.Format_Indexed8).save(str(out), "PNG")
    return out


def test_lineament_styles_are_legible_on_light_dark_and_magma(survey, detection, artefacts):
    """The detections (and the true axes) stand out on a light grid, a dark grid and the Magma probability."""
    lines = styled(detection.result["OUTPUT_LINES"], "detected lineaments", "lineaments")
    axes = styled(survey.result["OUTPUT_AXES"], "true axes", "true_axes")
    backgrounds = {
        "light": field_layer(survey.result["OUTPUT_FIELD"]),
        "dark": grey_layer(survey.result["OUTPUT_FIELD"], "dark grid", "#000000", "#3a3a3a"),
        "magma": styled_raster(detection.result["OUTPUT_PROBABILITY"], "probability", "probability"),
    }
    for name, background in backgrounds.items():
        assert background.isValid()
        save_preview(render([axes, lines, background], background), artefacts, f"style_lineaments_{name}")
        alone = pixels(render([background], background))
        for layer, what in ((lines, "lineaments"), (axes, "true axes")):
            n, strong = line_contrast(pixels(render([layer, background], background)), alone)
            assert n > 2000, (name, what, n)
            print(f"{what} on {name}: {n} px, {strong:.0%} stand out")
            assert strong > 0.5, f"{what} on the {name} background: only {strong:.0%} of the line stands out"


@pytest.fixture(scope="module")
def minerals_run(geocore_plugin, tmp_path_factory):
    """A synthetic section (bright ore grains in a dark matrix) segmented by the shipped DEMO model."""
    import processing

    out = tmp_path_factory.mktemp("render_minerals")
    section = processing.run("geocore:synthesizesection", {
        "ROWS": 256, "COLS": 256, "SEED": 4, "UM_PER_PX": 1.0, "GRAIN_PX": 40.0,
        "OUTPUT_IMAGE": str(out / "section.tif"), "OUTPUT_MASK": str(out / "truth.tif")})
    result = processing.run("geocore:segmentminerals", {
        "INPUT": section["OUTPUT_IMAGE"], "UM_PER_PX": 0.0, "DEVICE": 1, "MIN_GRAIN_PX": 16,
        "OUTPUT_CLASSES": str(out / "classes.tif"), "OUTPUT_POLYGONS": str(out / "minerals.gpkg"),
        "OUTPUT_PROBABILITIES": str(out / "probabilities.tif")})
    regions = processing.run("geocore:uncertaintyregions", {
        "INPUT": result["OUTPUT_PROBABILITIES"], "SHARE": 0.08, "OUTPUT": str(out / "regions.gpkg"),
        "OUTPUT_MAP": str(out / "uncertainty.tif")})
    return section, result, regions


def photo_layer(path) -> QgsRasterLayer:
    layer = QgsRasterLayer(str(path), "photo", "gdal")
    assert layer.isValid()
    return layer


def test_mineral_styles_let_the_photo_show_through(minerals_run, artefacts):
    """Class map and polygons over the photograph: the photo's texture stays visible under them, and the
    grain outlines stand out on the bright ore and on the dark matrix."""
    import rasterio
    from scipy import ndimage

    section, result, _ = minerals_run
    photo = photo_layer(section["OUTPUT_IMAGE"])
    polygons = styled(result["OUTPUT_POLYGONS"], "mineral polygons", "minerals")
    classes = styled_raster(result["OUTPUT_CLASSES"], "mineral classes", "mineral_classes")
    assert polygons.crs() == classes.crs() == photo.crs()
    alone = pixels(render([photo], photo))
    with rasterio.open(result["OUTPUT_CLASSES"]) as ds:
        codes = ds.read(1)
    # the class map upsampled to the render: interiors of the ore grains, away from their outlines
    rows, cols = (np.arange(SIZE) * n // SIZE for n in codes.shape)
    big = codes[rows[:, None], cols[None, :]]
    for layers, name in (([polygons, photo], "style_mineral_polygons"), ([classes, photo], "style_mineral_classes")):
        image = render(layers, photo)
        save_preview(image, artefacts, name)
        rgb = pixels(image)
        for code in np.unique(codes):
            if code in (0, 255):
                continue
            inside = ndimage.binary_erosion(big == code, iterations=6)
            if inside.sum() < 500:
                continue
            # an opaque fill would flatten the photo's texture to one colour (ratio 0)
            ratio = luminance(rgb)[inside].std() / max(luminance(alone)[inside].std(), 1e-6)
            assert ratio > 0.3, (name, int(code), ratio)
    # outlines: along the grain edges the drawn pixels differ strongly from the photo (on ore and matrix)
    ore = (big != 0) & (big != 255)
    edges = ndimage.binary_dilation(ore ^ ndimage.binary_erosion(ore), iterations=1)
    with_polygons = pixels(render([polygons, photo], photo))
    diff = np.sqrt(((with_polygons.astype(float) - alone.astype(float)) ** 2).sum(axis=2))
    share = float((diff[edges] > STANDS_OUT).mean())
    print(f"mineral polygon outlines on the photo: {int(edges.sum())} px, {share:.0%} stand out")
    assert edges.sum() > 5000 and share > 0.4, share


def test_uncertainty_styles_are_legible(minerals_run, artefacts):
    """Uncertain regions over the photograph and over their own Magma map."""
    section, _, regions_result = minerals_run
    regions = styled(regions_result["OUTPUT"], "uncertain regions", "uncertainty_regions")
    assert regions.featureCount() > 0
    for background, name in ((photo_layer(section["OUTPUT_IMAGE"]), "photo"),
                             (styled_raster(regions_result["OUTPUT_MAP"], "uncertainty", "probability"), "magma")):
        image = render([regions, background], background)
        save_preview(image, artefacts, f"style_uncertainty_{name}")
        alone = pixels(render([background], background))
        n, strong = line_contrast(pixels(image), alone)
        print(f"uncertainty regions on {name}: {n} px, {strong:.0%} stand out")
        assert n > 2000 and strong > 0.5, (name, n, strong)


def test_true_axes_of_buried_dykes_are_dashed(tmp_path):
    """The true-axes style draws a dyke of visibility below 1 (buried under the rest of the survey) dashed."""
    import geopandas as gpd
    from qgis.core import QgsRectangle
    from shapely.geometry import LineString

    path = tmp_path / "axes.gpkg"
    gpd.GeoDataFrame({"visibility": [5.0, 0.3]},
                     geometry=[LineString([(1000, 3000), (9000, 3000)]), LineString([(1000, 7000), (9000, 7000)])],
                     crs="EPSG:32633").to_file(path)
    axes = styled(path, "true axes", "true_axes")
    assert axes.isValid() and axes.featureCount() == 2
    settings = QgsMapSettings()
    settings.setLayers([axes])
    settings.setDestinationCrs(axes.crs())
    settings.setExtent(QgsRectangle(0, 0, 10000, 10000))
    settings.setOutputSize(QSize(400, 400))
    settings.setBackgroundColor(QColor("white"))
    job = QgsMapRendererSequentialJob(settings)
    job.start()
    job.waitForFinished()
    rgb = pixels(job.renderedImage()).astype(int)
    red = (rgb[..., 0] > 180) & (rgb[..., 1] < 80) & (rgb[..., 2] < 80)
    cols = np.arange(60, 340)  # away from the line ends

    def drawn(row):  # share of the columns where the line's core is red
        return red[row - 3:row + 4][:, cols].any(axis=0).mean()

    visible, buried = drawn(280), drawn(120)  # y 3000 m and 7000 m in a 400 px frame of 10 km
    assert visible > 0.97
    assert 0.3 < buried < 0.9  # dashes and gaps
