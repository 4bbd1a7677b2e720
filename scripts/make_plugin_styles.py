"""Write the plugin's layer styles (qgis_plugin/styles/*.qml) with QGIS's own API.

Run with a Python that imports ``qgis`` (QT_QPA_PLATFORM=offscreen when headless)::

    python scripts/make_plugin_styles.py

The .qml files are committed; rerun this only to change a style.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from qgis.core import (  # noqa: E402
    QgsApplication,
    QgsColorRampShader,
    QgsLineSymbol,
    QgsMapLayer,
    QgsProperty,
    QgsRasterLayer,
    QgsRasterShader,
    QgsSingleBandPseudoColorRenderer,
    QgsSingleSymbolRenderer,
    QgsStyle,
    QgsSymbolLayer,
    QgsVectorLayer,
)
from qgis.PyQt.QtGui import QColor  # noqa: E402

SYMBOLOGY = QgsMapLayer.StyleCategory.Symbology
STYLES = Path(__file__).resolve().parents[1] / "qgis_plugin" / "styles"

#: Line width in mm grows with the mean probability along the axis.
WIDTH_EXPRESSION = 'scale_linear(coalesce("mean_prob", 0.5), 0.5, 1, 0.3, 1.4)'


def line_style(path: Path, colour: str, width: float, data_defined_width: bool) -> None:
    layer = QgsVectorLayer("LineString?crs=EPSG:32633&field=mean_prob:double", "lines", "memory")
    symbol = QgsLineSymbol.createSimple({"line_color": colour, "line_width": str(width),
                                        "line_width_unit": "MM", "capstyle": "round", "joinstyle": "round"})
    if data_defined_width:
        symbol.symbolLayer(0).setDataDefinedProperty(
            QgsSymbolLayer.Property.PropertyStrokeWidth, QgsProperty.fromExpression(WIDTH_EXPRESSION))
    layer.setRenderer(QgsSingleSymbolRenderer(symbol))
    msg, ok = layer.saveNamedStyle(str(path), categories=SYMBOLOGY)
    assert ok, msg


def probability_style(path: Path) -> None:
    # any small raster will do: the style stores fixed 0..1 classes
    tif = path.with_suffix(".tmp.tif")
    from osgeo import gdal

    ds = gdal.GetDriverByName("GTiff").Create(str(tif), 2, 2, 1, gdal.GDT_Float32)
    ds.SetGeoTransform((0.0, 1.0, 0.0, 2.0, 0.0, -1.0))
    ds.GetRasterBand(1).Fill(0.5)
    ds = None
    layer = QgsRasterLayer(str(tif), "probability")
    ramp = QgsStyle.defaultStyle().colorRamp("Magma")
    shader_fn = QgsColorRampShader(0.0, 1.0, ramp, QgsColorRampShader.Type.Interpolated,
                                   QgsColorRampShader.ClassificationMode.EqualInterval)
    shader_fn.classifyColorRamp(11, 1)
    shader = QgsRasterShader(0.0, 1.0)
    shader.setRasterShaderFunction(shader_fn)
    renderer = QgsSingleBandPseudoColorRenderer(layer.dataProvider(), 1, shader)
    renderer.setClassificationMin(0.0)
    renderer.setClassificationMax(1.0)
    layer.setRenderer(renderer)
    msg, ok = layer.saveNamedStyle(str(path), categories=SYMBOLOGY)
    del layer
    for leftover in (tif, Path(str(tif) + ".aux.xml")):
        leftover.unlink(missing_ok=True)
    assert ok, msg


def _lumenstone_classes():
    """(code, label, name, colour) of the LumenStone table, from geocore itself."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from geocore.microscopy.classes import CLASSES

    return [(c.code, c.label, c.name, c.colour) for c in CLASSES]


def lumenstone_classes_style(path: Path, legend: str) -> None:
    """Class map: paletted, each LumenStone class code in its display colour; 255 (unlabelled) transparent.

    ``legend`` formats each entry from ``code``, ``label`` and ``name``.
    """
    from osgeo import gdal
    from qgis.core import QgsPalettedRasterRenderer

    tif = path.with_suffix(".tmp.tif")
    ds = gdal.GetDriverByName("GTiff").Create(str(tif), 2, 2, 1, gdal.GDT_Byte)
    ds.SetGeoTransform((0.0, 1.0, 0.0, 2.0, 0.0, -1.0))
    ds = None
    layer = QgsRasterLayer(str(tif), "classes")
    classes = [QgsPalettedRasterRenderer.Class(code, QColor(colour), legend.format(code=code, label=label, name=name))
               for code, label, name, colour in _lumenstone_classes()]
    layer.setRenderer(QgsPalettedRasterRenderer(layer.dataProvider(), 1, classes))
    msg, ok = layer.saveNamedStyle(str(path), categories=SYMBOLOGY)
    del layer
    for leftover in (tif, Path(str(tif) + ".aux.xml")):
        leftover.unlink(missing_ok=True)
    assert ok, msg


def lumenstone_polygons_style(path: Path, legend: str, opacity: float = 1.0) -> None:
    """Polygons filled by ``code`` in the LumenStone colours (``opacity`` 0..1), thin dark outlines.

    ``legend`` formats each entry from ``code``, ``label`` and ``name``.
    """
    from qgis.core import QgsCategorizedSymbolRenderer, QgsFillSymbol, QgsRendererCategory

    layer = QgsVectorLayer("Polygon?field=code:integer&field=label:string", "polygons", "memory")
    categories = []
    for code, label, name, colour in _lumenstone_classes():
        symbol = QgsFillSymbol.createSimple({"color": colour, "outline_color": "#202020",
                                             "outline_width": "0.1", "outline_width_unit": "MM"})
        symbol.setOpacity(opacity)
        categories.append(QgsRendererCategory(code, symbol, legend.format(code=code, label=label, name=name)))
    layer.setRenderer(QgsCategorizedSymbolRenderer("code", categories))
    msg, ok = layer.saveNamedStyle(str(path), categories=SYMBOLOGY)
    assert ok, msg


def uncertainty_regions_style(path: Path) -> None:
    """Uncertain regions: no fill, outline from red (rank 1, least sure) to yellow."""
    from qgis.core import QgsFillSymbol

    layer = QgsVectorLayer("Polygon?field=rank:integer", "regions", "memory")
    symbol = QgsFillSymbol.createSimple({"style": "no", "outline_color": "#e31a1c", "outline_width": "0.6",
                                         "outline_width_unit": "MM"})
    symbol.symbolLayer(0).setDataDefinedProperty(
        QgsSymbolLayer.Property.PropertyStrokeColor,
        QgsProperty.fromExpression('ramp_color(\'Reds\', scale_linear("rank", 1, 30, 1, 0.4))'))
    layer.setRenderer(QgsSingleSymbolRenderer(symbol))
    msg, ok = layer.saveNamedStyle(str(path), categories=SYMBOLOGY)
    assert ok, msg


def main() -> int:
    app = QgsApplication([], False)
    app.initQgis()
    STYLES.mkdir(parents=True, exist_ok=True)
    line_style(STYLES / "lineaments.qml", "#1a1a1a", 0.6, data_defined_width=True)
    line_style(STYLES / "true_axes.qml", "#d7191c", 0.5, data_defined_width=False)
    probability_style(STYLES / "probability.qml")
    # the microscopy and minerals tools name their class maps and polygons differently in the legend
    lumenstone_classes_style(STYLES / "microscopy_mask.qml", "{code} {label} ({name})")
    lumenstone_classes_style(STYLES / "mineral_classes.qml", "{code} {label} {name}")
    lumenstone_polygons_style(STYLES / "microscopy_polygons.qml", "{code} {label} ({name})", opacity=0.6)
    lumenstone_polygons_style(STYLES / "minerals.qml", "{code} {label} {name}")
    uncertainty_regions_style(STYLES / "uncertainty_regions.qml")
    for qml in sorted(STYLES.glob("*.qml")):
        print(qml)
    app.exitQgis()
    return 0


if __name__ == "__main__":
    sys.exit(main())
