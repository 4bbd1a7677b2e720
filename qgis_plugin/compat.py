"""Enum spellings that work in QGIS 3.22 (Qt5) and QGIS 4 (Qt6).

QGIS 3.36 moved many enums into ``Qgis`` and QGIS 4 drops the old names; QGIS
3.22 only has the old ones, reached here through their scoped form
(``QgsProcessing.SourceType.TypeVectorLine``), which PyQt6 requires too.
"""

from __future__ import annotations

from qgis.core import (
    Qgis,
    QgsProcessing,
    QgsProcessingParameterDefinition,
    QgsProcessingParameterFile,
    QgsProcessingParameterNumber,
)


def _pick(new_enum: str, new_member: str, old_enum, old_member: str):
    enum = getattr(Qgis, new_enum, None)
    if enum is not None and hasattr(enum, new_member):
        return getattr(enum, new_member)
    return getattr(old_enum, old_member)


NUMBER_INTEGER = _pick("ProcessingNumberParameterType", "Integer", QgsProcessingParameterNumber.Type, "Integer")
NUMBER_DOUBLE = _pick("ProcessingNumberParameterType", "Double", QgsProcessingParameterNumber.Type, "Double")
FILE_BEHAVIOR_FILE = _pick("ProcessingFileParameterBehavior", "File", QgsProcessingParameterFile.Behavior, "File")
FILE_BEHAVIOR_FOLDER = _pick("ProcessingFileParameterBehavior", "Folder", QgsProcessingParameterFile.Behavior, "Folder")
SOURCE_RASTER = _pick("ProcessingSourceType", "Raster", QgsProcessing.SourceType, "TypeRaster")
SOURCE_VECTOR_LINE = _pick("ProcessingSourceType", "VectorLine", QgsProcessing.SourceType, "TypeVectorLine")
SOURCE_VECTOR_POLYGON = _pick("ProcessingSourceType", "VectorPolygon", QgsProcessing.SourceType, "TypeVectorPolygon")
FLAG_ADVANCED = _pick("ProcessingParameterFlag", "Advanced", QgsProcessingParameterDefinition.Flag, "FlagAdvanced")
FLAG_OPTIONAL = _pick("ProcessingParameterFlag", "Optional", QgsProcessingParameterDefinition.Flag, "FlagOptional")

MSG_INFO = Qgis.MessageLevel.Info
MSG_WARNING = Qgis.MessageLevel.Warning
MSG_CRITICAL = Qgis.MessageLevel.Critical
