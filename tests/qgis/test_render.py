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


def field_layer(path) -> QgsRasterLayer:
    layer = QgsRasterLayer(str(path), "magnetic field", "gdal")
    low, high = layer.dataProvider().cumulativeCut(1, 0.02, 0.98)  # stretch as QGIS does by default
    ramp = QgsStyle.defaultStyle().colorRamp("Viridis")  # no red in it: red is for the true axes
    function = QgsColorRampShader(low, high, ramp, QgsColorRampShader.Type.Interpolated)
    function.classifyColorRamp(9, 1)
    shader = QgsRasterShader(low, high)
    shader.setRasterShaderFunction(function)
    renderer = QgsSingleBandPseudoColorRenderer(layer.dataProvider(), 1, shader)
    renderer.setOpacity(0.5)  # a light map, so the dark lineaments stand out
    layer.setRenderer(renderer)
    return layer


def styled(path, name, style) -> QgsVectorLayer:
    from qgis_plugin.styles import style_path

    layer = QgsVectorLayer(str(path), name, "ogr")
    message, ok = layer.loadNamedStyle(str(style_path(style)))
    assert ok, message
    return layer


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
    assert luminance.std() > 20, "map is blank"
    assert len(np.unique(rgb.reshape(-1, 3), axis=0)) > 100, "map has too few colours"
    # the field fills the frame: no white background left
    assert (background.min(axis=2) > 250).mean() < 0.01
    # dark lineaments appear where the field alone had no dark pixels
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
