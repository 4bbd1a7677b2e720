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
    QgsSimpleLineSymbolLayer,
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


def _luminance(colour: str) -> float:
    c = QColor(colour)
    return 0.299 * c.red() + 0.587 * c.green() + 0.114 * c.blue()


def casing_for(colour: str) -> str:
    """A casing that contrasts with ``colour``: near-black under light colours, near-white under dark ones.

    A line drawn as a core over its casing has one light and one dark part, so
    it stays visible on light rasters, dark rasters and colour ramps alike.
    """
    return "#101010" if _luminance(colour) >= 110 else "#f2f2f2"


def cased_line(colour: str, width: float, casing: float, dash: bool = False,
               casing_colour: str = "#101010") -> QgsLineSymbol:
    """A line of a bright ``colour`` (``width`` mm) over a dark casing ``casing`` mm wider: on a dark raster
    the core stands out, on a light one the casing, on a colour ramp at least one of them."""
    symbol = QgsLineSymbol.createSimple({"line_color": casing_colour, "line_width": str(width + casing),
                                        "line_width_unit": "MM", "capstyle": "round", "joinstyle": "round"})
    core = QgsSimpleLineSymbolLayer.create({"line_color": colour, "line_width": str(width), "line_width_unit": "MM",
                                            "capstyle": "round", "joinstyle": "round",
                                            "line_style": "dash" if dash else "solid"})
    symbol.appendSymbolLayer(core)
    return symbol


#: pen style of a true axis: dashed for the dykes no detector can be expected to see
BURIED_DASH = "CASE WHEN \"visibility\" < 1 THEN 'dash' ELSE 'solid' END"


def line_style(path: Path, colour: str, width: float, data_defined_width: bool, dash: bool = False,
               dash_expression: str | None = None) -> None:
    """Lines as a bright core over a dark casing (or the reverse for a dark colour); with
    ``data_defined_width`` both widths follow ``mean_prob``; ``dash_expression`` sets the core's pen
    style (and the casing's) per feature."""
    layer = QgsVectorLayer("LineString?crs=EPSG:32633&field=mean_prob:double", "lines", "memory")
    casing = 0.5
    symbol = cased_line(colour, width, casing, dash)
    if dash_expression:
        for i in (0, 1):
            symbol.symbolLayer(i).setDataDefinedProperty(QgsSymbolLayer.Property.PropertyStrokeStyle,
                                                         QgsProperty.fromExpression(dash_expression))
    if data_defined_width:
        symbol.symbolLayer(0).setDataDefinedProperty(
            QgsSymbolLayer.Property.PropertyStrokeWidth, QgsProperty.fromExpression(f"{WIDTH_EXPRESSION} + {casing}"))
        symbol.symbolLayer(1).setDataDefinedProperty(
            QgsSymbolLayer.Property.PropertyStrokeWidth, QgsProperty.fromExpression(WIDTH_EXPRESSION))
    layer.setRenderer(QgsSingleSymbolRenderer(symbol))
    msg, ok = layer.saveNamedStyle(str(path), categories=SYMBOLOGY)
    assert ok, msg


def save_raster_style(path: Path, name: str, gdal_type: int, make_renderer, fill: float | None = None) -> None:
    """Save to ``path`` the style of the renderer ``make_renderer(layer)`` returns.

    The renderer is built on a scratch 2 x 2 raster next to ``path`` (of GDAL
    type ``gdal_type``, filled with ``fill`` when given), removed afterwards:
    any small raster will do, as the styles store fixed classes.
    """
    from osgeo import gdal

    tif = path.with_suffix(".tmp.tif")
    ds = gdal.GetDriverByName("GTiff").Create(str(tif), 2, 2, 1, gdal_type)
    ds.SetGeoTransform((0.0, 1.0, 0.0, 2.0, 0.0, -1.0))
    if fill is not None:
        ds.GetRasterBand(1).Fill(fill)
    ds = None
    layer = QgsRasterLayer(str(tif), name)
    layer.setRenderer(make_renderer(layer))
    msg, ok = layer.saveNamedStyle(str(path), categories=SYMBOLOGY)
    del layer
    for leftover in (tif, Path(str(tif) + ".aux.xml")):
        leftover.unlink(missing_ok=True)
    assert ok, msg


def probability_style(path: Path) -> None:
    """Probability 0..1 in Magma, 11 equal classes."""
    from osgeo import gdal

    def renderer(layer):
        ramp = QgsStyle.defaultStyle().colorRamp("Magma")
        shader_fn = QgsColorRampShader(0.0, 1.0, ramp, QgsColorRampShader.Type.Interpolated,
                                       QgsColorRampShader.ClassificationMode.EqualInterval)
        shader_fn.classifyColorRamp(11, 1)
        shader = QgsRasterShader(0.0, 1.0)
        shader.setRasterShaderFunction(shader_fn)
        r = QgsSingleBandPseudoColorRenderer(layer.dataProvider(), 1, shader)
        r.setClassificationMin(0.0)
        r.setClassificationMax(1.0)
        return r

    save_raster_style(path, "probability", gdal.GDT_Float32, renderer, fill=0.5)


def _lumenstone_classes():
    """(code, label, name, colour) of the LumenStone table, from geocore itself."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from geocore.microscopy.classes import CLASSES

    return [(c.code, c.label, c.name, c.colour) for c in CLASSES]


def lumenstone_classes_style(path: Path, legend: str, opacity: float = 0.6) -> None:
    """Class map: paletted, each LumenStone class code in its display colour; 255 (unlabelled) transparent;
    the layer at ``opacity`` so that the photograph under it stays visible.

    ``legend`` formats each entry from ``code``, ``label`` and ``name``.
    """
    from osgeo import gdal
    from qgis.core import QgsPalettedRasterRenderer

    def renderer(layer):
        classes = [QgsPalettedRasterRenderer.Class(code, QColor(colour),
                                                   legend.format(code=code, label=label, name=name))
                   for code, label, name, colour in _lumenstone_classes()]
        r = QgsPalettedRasterRenderer(layer.dataProvider(), 1, classes)
        r.setOpacity(opacity)  # the photograph stays visible under the class map
        return r

    save_raster_style(path, "classes", gdal.GDT_Byte, renderer)


def lumenstone_polygons_style(path: Path, legend: str, fill_alpha: float = 0.25) -> None:
    """Polygons by ``code`` in the LumenStone colours: a see-through fill (``fill_alpha``) and an
    outline in the class colour over a contrasting casing, so that the photograph shows through and every
    grain's edge is visible on bright ore and dark matrix alike.

    ``legend`` formats each entry from ``code``, ``label`` and ``name``.
    """
    from qgis.core import (QgsCategorizedSymbolRenderer, QgsFillSymbol, QgsRendererCategory,
                           QgsSimpleFillSymbolLayer)

    layer = QgsVectorLayer("Polygon?field=code:integer&field=label:string", "polygons", "memory")
    categories = []
    for code, label, name, colour in _lumenstone_classes():
        fill = QColor(colour)
        fill.setAlphaF(fill_alpha)
        symbol = QgsFillSymbol.createSimple({"color": fill.name(QColor.NameFormat.HexArgb), "outline_style": "no"})
        for line_colour, width in ((casing_for(colour), 0.8), (colour, 0.4)):
            edge = QgsSimpleFillSymbolLayer.create({"style": "no", "outline_color": line_colour,
                                                    "outline_width": str(width), "outline_width_unit": "MM",
                                                    "joinstyle": "round"})
            symbol.appendSymbolLayer(edge)
        categories.append(QgsRendererCategory(code, symbol, legend.format(code=code, label=label, name=name)))
    layer.setRenderer(QgsCategorizedSymbolRenderer("code", categories))
    msg, ok = layer.saveNamedStyle(str(path), categories=SYMBOLOGY)
    assert ok, msg


def uncertainty_regions_style(path: Path) -> None:
    """Uncertain regions: no fill, outline from red (rank 1, least sure) to pink over a dark casing."""
    from qgis.core import QgsFillSymbol

    layer = QgsVectorLayer("Polygon?field=rank:integer", "regions", "memory")
    from qgis.core import QgsSimpleFillSymbolLayer

    # a bright red-to-pink outline over a dark casing: dark red alone was lost on a dark photo and on
    # the Magma ramp of the uncertainty map
    symbol = QgsFillSymbol.createSimple({"style": "no", "outline_color": "#101010", "outline_width": "1.3",
                                         "outline_width_unit": "MM"})
    core = QgsSimpleFillSymbolLayer.create({"style": "no", "outline_color": "#ff2a2a", "outline_width": "0.6",
                                            "outline_width_unit": "MM"})
    core.setDataDefinedProperty(
        QgsSymbolLayer.Property.PropertyStrokeColor,
        QgsProperty.fromExpression("color_mix_rgb('#ff2a2a', '#ffc0c0', scale_linear(\"rank\", 1, 30, 0, 1))"))
    symbol.appendSymbolLayer(core)
    layer.setRenderer(QgsSingleSymbolRenderer(symbol))
    msg, ok = layer.saveNamedStyle(str(path), categories=SYMBOLOGY)
    assert ok, msg


def main() -> int:
    app = QgsApplication([], False)
    app.initQgis()
    STYLES.mkdir(parents=True, exist_ok=True)
    # bright cyan over a black casing: no colour ramp geocore uses (Magma, Viridis, greys) hides both
    line_style(STYLES / "lineaments.qml", "#00e5ff", 0.6, data_defined_width=True)
    # bright red over the same dark casing, thinner: told apart from the detections by colour; dashed where
    # the dyke is buried under the rest of the survey (visibility below 1: geocore.magnetics.synthetic)
    line_style(STYLES / "true_axes.qml", "#ff2a2a", 0.5, data_defined_width=False, dash_expression=BURIED_DASH)
    probability_style(STYLES / "probability.qml")
    # the microscopy and minerals tools name their class maps and polygons differently in the legend
    lumenstone_classes_style(STYLES / "microscopy_mask.qml", "{code} {label} ({name})")
    lumenstone_classes_style(STYLES / "mineral_classes.qml", "{code} {label} {name}")
    lumenstone_polygons_style(STYLES / "microscopy_polygons.qml", "{code} {label} ({name})")
    lumenstone_polygons_style(STYLES / "minerals.qml", "{code} {label} {name}")
    uncertainty_regions_style(STYLES / "uncertainty_regions.qml")
    for qml in sorted(STYLES.glob("*.qml")):
        print(qml)
    app.exitQgis()
    return 0


if __name__ == "__main__":
    sys.exit(main())
