"""Moving library outputs to the destinations the user chose, in any GDAL/OGR format."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

from qgis.core import QgsProcessingException, QgsProcessingUtils, QgsRasterFileWriter, QgsVectorFileWriter


def _same_format(src: Path, dest: Path) -> bool:
    return src.suffix.lower() == dest.suffix.lower() or {src.suffix.lower(), dest.suffix.lower()} == {".tif", ".tiff"}


def _move_or_convert(src: str | os.PathLike, dest: str, writer, what: str, choose: str, convert) -> None:
    """Move ``src`` to ``dest`` when both have the same format, else ``convert(src, target, driver)``.

    ``writer`` (QgsRasterFileWriter or QgsVectorFileWriter) names the driver for
    ``dest``'s extension; when there is none the error names ``what`` looked
    for and the extensions to ``choose`` instead.
    """
    src, target = Path(src), Path(dest)
    target.parent.mkdir(parents=True, exist_ok=True)
    if _same_format(src, target):
        shutil.move(str(src), str(target))
        return
    driver = writer.driverForExtension(target.suffix)
    if not driver:
        raise QgsProcessingException(f"no {what} writes '{target.suffix}' files; choose {choose}")
    convert(src, target, driver)


def _gdal_translate(src: Path, target: Path, driver: str) -> None:
    from osgeo import gdal

    if gdal.Translate(str(target), str(src), format=driver) is None:
        raise QgsProcessingException(f"GDAL could not write {target}: {gdal.GetLastErrorMsg()}")


def _ogr_translate(src: Path, target: Path, driver: str) -> None:
    from osgeo import gdal

    if target.exists() and driver != "ESRI Shapefile":
        target.unlink()
    options = gdal.VectorTranslateOptions(format=driver, accessMode="overwrite" if driver == "ESRI Shapefile" else None)
    if gdal.VectorTranslate(str(target), str(src), options=options) is None:
        raise QgsProcessingException(f"OGR could not write {target}: {gdal.GetLastErrorMsg()}")


def move_raster(src: str | os.PathLike, dest: str) -> None:
    """Move a GeoTIFF to ``dest``, converting with GDAL when ``dest`` has another extension."""
    _move_or_convert(src, dest, QgsRasterFileWriter, "GDAL raster driver", ".tif", _gdal_translate)


def move_vector(src: str | os.PathLike, dest: str) -> None:
    """Move a GeoPackage to ``dest``, converting with OGR when ``dest`` has another extension."""
    _move_or_convert(src, dest, QgsVectorFileWriter, "OGR driver", ".gpkg or .shp", _ogr_translate)


@contextlib.contextmanager
def geotiff_output(dest: str) -> Iterator[str]:
    """A GeoTIFF path for a library that writes GeoTIFFs; converted to ``dest``'s format afterwards."""
    if Path(dest).suffix.lower() in (".tif", ".tiff"):
        yield dest
        return
    with tempfile.TemporaryDirectory(prefix="geocore", dir=QgsProcessingUtils.tempFolder()) as tmp:
        tif = Path(tmp) / (Path(dest).stem + ".tif")
        yield str(tif)
        move_raster(tif, dest)
