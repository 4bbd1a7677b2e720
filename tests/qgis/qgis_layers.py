"""Layer loaders shared by the QGIS tests: a file as a valid layer, or a failed assertion."""

from __future__ import annotations

from pathlib import Path

from qgis.core import QgsRasterLayer, QgsVectorLayer


def raster(path) -> QgsRasterLayer:
    layer = QgsRasterLayer(str(path), Path(path).stem, "gdal")
    assert layer.isValid(), path
    return layer


def vector(path) -> QgsVectorLayer:
    layer = QgsVectorLayer(str(path), Path(path).stem, "ogr")
    assert layer.isValid(), path
    return layer
