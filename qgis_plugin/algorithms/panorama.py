"""Microscopy algorithms: panorama stitching of overlapping tiles."""

from __future__ import annotations

from typing import Dict

from qgis.core import (
    QgsProcessingException,
    QgsProcessingOutputNumber,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterString,
)

from ..compat import FILE_BEHAVIOR_FILE, FILE_BEHAVIOR_FOLDER, FLAG_ADVANCED, NUMBER_DOUBLE, SOURCE_RASTER
from .base import GeocoreAlgorithm, number_range
from .outputs import geotiff_output



def _params():
    """geocore's stitching choices and defaults (a standard-library module: fine before the libraries are
    installed); imported when the algorithm is built, once the plugin has put its geocore on ``sys.path``."""
    from geocore.panorama import params

    return params


class StitchPanorama(GeocoreAlgorithm):
    NAME = "stitchpanorama"
    DISPLAY_NAME = "Stitch microscope panorama"
    GROUP = "microscopy"
    HELP = """<p>Stitches overlapping microscope photographs (tiles) of a polished section into one
panorama, written block by block as a tiled, compressed GeoTIFF whose pixel size is the micrometres
per pixel you give, in a local engineering CRS (micrometres, origin at the panorama's lower-left
corner): ready for mineral segmentation and for measuring lengths and areas in QGIS.</p>
<h3>Inputs</h3>
<ul><li><b>Folder of tiles</b> and/or <b>tile files</b>: grey or RGB, 8 or 16 bit, any format GDAL reads.
Neighbours come from a stage-positions CSV when given, else from row/column numbers in the names
(<code>r3_c7</code>, <code>r3-c7</code>, <code>3.7</code>), else every pair is tried (unordered set).
In a folder of named tiles, other images (a preview, a merged result) are ignored and reported.</li>
<li><b>Pixel size</b> in micrometres.</li>
<li><b>Stage positions</b> (optional CSV): <code>file,x_px,y_px</code> or <code>file,x_um,y_um</code>
(y down); approximate is enough.</li>
<li><b>Flat-field reference</b> (optional): a photograph of a mirror or an empty field with the same
optics; corrects vignetting before matching and blending.</li>
<li><b>Lens distortion</b> (optional): Brown-Conrady <code>k1 k2 p1 p2 k3</code> (OpenCV convention,
focal length half the tile diagonal), or <code>estimate</code>: the radial k1 that makes every overlap
move as one piece.</li></ul>
<h3>Outputs</h3>
<ul><li><b>Panorama</b>: GeoTIFF in the tiles' data type, uncovered corners masked.</li>
<li><b>Pairs report</b> (CSV): for every measured pair the shift (px), score (overlap correlation,
0..1), whether it was used and why not, and its residual after global placement.</li>
<li><b>Tiles report</b> (CSV): each tile's position (px and micrometres), gain and group.</li>
<li><b>Layout</b> (PNG): tile outlines and pairs coloured by residual.</li>
<li><b>RMS residual</b> (px), <b>pairs used</b>, <b>tiles</b>.</li></ul>
<h3>Method</h3>
<p>Sub-pixel phase correlation of the overlaps (or ORB features + RANSAC), global weighted least
squares with robust outlier removal so that one bad pair cannot bend the mosaic (translation per tile,
or an affine map per tile from local shifts along each overlap when the camera is rotated; tiles that
overlap nothing are reported and placed by the grid), per-tile gain compensation and feathering that leaves no seams and
invents no detail.</p>"""

    def initAlgorithm(self, config=None) -> None:  # noqa: N802
        P = _params()  # noqa: N806 (the library's constants)
        self.addParameter(QgsProcessingParameterFile("FOLDER", "Folder of tiles", behavior=FILE_BEHAVIOR_FOLDER,
                                                     optional=True))
        self.addParameter(QgsProcessingParameterMultipleLayers("TILES", "Tile files", layerType=SOURCE_RASTER,
                                                               optional=True))
        self.addParameter(QgsProcessingParameterNumber("UM_PER_PX", "Pixel size (micrometres)", type=NUMBER_DOUBLE,
                                                       defaultValue=P.DEFAULT_UM_PER_PX, minValue=1e-6))
        self.addParameter(QgsProcessingParameterFile("POSITIONS", "Stage positions (CSV)", behavior=FILE_BEHAVIOR_FILE,
                                                     extension="csv", optional=True))
        self.addParameter(QgsProcessingParameterFile("FLAT_FIELD", "Flat-field reference image",
                                                     behavior=FILE_BEHAVIOR_FILE, optional=True))
        self.addParameter(QgsProcessingParameterString("DISTORTION", "Lens distortion k1 k2 p1 p2 k3, or 'estimate' (optional)",
                                                       optional=True))
        advanced = [
            QgsProcessingParameterEnum("LAYOUT", "Layout", options=list(P.LAYOUTS), defaultValue=0),
            QgsProcessingParameterEnum("METHOD", "Registration", options=list(P.METHODS), defaultValue=0),
            QgsProcessingParameterEnum("MODEL", "Tile motion", options=list(P.MODELS), defaultValue=0),
            QgsProcessingParameterNumber("MIN_SCORE", "Smallest overlap correlation of a used pair",
                                         type=NUMBER_DOUBLE, defaultValue=P.DEFAULT_MIN_SCORE, **number_range("min_score")),
            QgsProcessingParameterNumber("OUTLIER_PX", "Outlier threshold (px)", type=NUMBER_DOUBLE,
                                         defaultValue=P.DEFAULT_OUTLIER_PX, minValue=0.1),
            QgsProcessingParameterBoolean("GAIN", "Exposure (gain) compensation", defaultValue=True),
            QgsProcessingParameterBoolean("OVERVIEWS", "Build overviews (quicker display)", defaultValue=True),
            QgsProcessingParameterEnum("BLEND", "Blending", options=list(P.BLENDS), defaultValue=0),
            QgsProcessingParameterEnum("INTERPOLATION", "Sub-pixel resampling", options=list(P.INTERPOLATIONS),
                                       defaultValue=0),
        ]
        for param in advanced:
            param.setFlags(param.flags() | FLAG_ADVANCED)
            self.addParameter(param)
        self.addParameter(QgsProcessingParameterRasterDestination("OUTPUT", "Panorama"))
        self.addParameter(QgsProcessingParameterFileDestination("OUTPUT_REPORT", "Pairs report",
                                                                fileFilter="CSV files (*.csv)", optional=True))
        self.addParameter(QgsProcessingParameterFileDestination("OUTPUT_TILES", "Tiles report",
                                                                fileFilter="CSV files (*.csv)", optional=True,
                                                                createByDefault=False))
        self.addParameter(QgsProcessingParameterFileDestination("OUTPUT_LAYOUT", "Tile layout",
                                                                fileFilter="PNG files (*.png)", optional=True,
                                                                createByDefault=False))
        self.addOutput(QgsProcessingOutputNumber("RMS_PX", "RMS residual (px)"))
        self.addOutput(QgsProcessingOutputNumber("PAIRS_USED", "Pairs used"))
        self.addOutput(QgsProcessingOutputNumber("N_TILES", "Tiles"))

    def call_geocore(self, parameters: Dict, context, feedback) -> Dict:
        from geocore.panorama import StitchParams, stitch

        P = _params()  # noqa: N806
        inputs = []
        folder = self.parameterAsFile(parameters, "FOLDER", context)
        if folder:
            inputs.append(folder)
        for layer in self.parameterAsLayerList(parameters, "TILES", context) or []:
            inputs.append(layer.source().split("|")[0])
        if not inputs:
            raise QgsProcessingException("give a folder of tiles or the tile files")
        params = StitchParams(
            um_per_px=self.parameterAsDouble(parameters, "UM_PER_PX", context),
            positions=self.parameterAsFile(parameters, "POSITIONS", context) or None,
            layout=P.LAYOUTS[self.parameterAsEnum(parameters, "LAYOUT", context)],
            flat_field=self.parameterAsFile(parameters, "FLAT_FIELD", context) or None,
            distortion=P.parse_distortion(self.parameterAsString(parameters, "DISTORTION", context)),
            method=P.METHODS[self.parameterAsEnum(parameters, "METHOD", context)],
            model=P.MODELS[self.parameterAsEnum(parameters, "MODEL", context)],
            min_score=self.parameterAsDouble(parameters, "MIN_SCORE", context),
            outlier_px=self.parameterAsDouble(parameters, "OUTLIER_PX", context),
            gain=self.parameterAsBoolean(parameters, "GAIN", context),
            blend=P.BLENDS[self.parameterAsEnum(parameters, "BLEND", context)],
            interpolation=P.INTERPOLATIONS[self.parameterAsEnum(parameters, "INTERPOLATION", context)],
            overviews=self.parameterAsBoolean(parameters, "OVERVIEWS", context),
        )
        output = self.parameterAsOutputLayer(parameters, "OUTPUT", context)
        report = self.parameterAsFileOutput(parameters, "OUTPUT_REPORT", context) or None
        tiles_report = self.parameterAsFileOutput(parameters, "OUTPUT_TILES", context) or None
        layout = self.parameterAsFileOutput(parameters, "OUTPUT_LAYOUT", context) or None
        with geotiff_output(output) as tif:
            result = stitch(inputs, tif, params, report=report, tiles_report=tiles_report, layout_png=layout,
                            progress=self.progress(feedback), cancel=feedback.isCanceled)
        for line in result.summary().splitlines():  # the notes ("note: ...") are among these lines
            feedback.pushInfo(line)
        for note in result.placement.notes:  # tiles not placed by registration deserve a warning
            feedback.pushWarning(f"WARNING: {note}")
        return {"OUTPUT": output, "OUTPUT_REPORT": report, "OUTPUT_TILES": tiles_report, "OUTPUT_LAYOUT": layout,
                "RMS_PX": result.rms, "PAIRS_USED": result.n_pairs_used, "N_TILES": result.n_tiles}
