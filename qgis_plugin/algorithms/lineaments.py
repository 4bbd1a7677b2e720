"""Lineament algorithms: detection with a trained network, and vectorisation of
a probability raster into lineament axes."""

from __future__ import annotations

from typing import Dict

from qgis.core import (
    QgsProcessingOutputNumber,
    QgsProcessingParameterBand,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterVectorDestination,
)

from ..compat import FILE_BEHAVIOR_FILE, FLAG_ADVANCED, NUMBER_DOUBLE, NUMBER_INTEGER, SOURCE_VECTOR_LINE
from .base import DEVICES, GeocoreAlgorithm, number_range
from .outputs import geotiff_output

LINE_FIELDS = "<code>length</code> (map units), <code>azimuth</code> (degrees clockwise from north, 0..180), " \
              "<code>mean_prob</code> and <code>max_prob</code> (probability along the axis)"


def _lines_output(description: str) -> QgsProcessingParameterVectorDestination:
    param = QgsProcessingParameterVectorDestination("OUTPUT_LINES", description, type=SOURCE_VECTOR_LINE)
    param.setSupportsNonFileBasedOutput(False)  # the library writes files (any OGR format)
    return param


def _rose_output() -> QgsProcessingParameterFileDestination:
    return QgsProcessingParameterFileDestination(
        "OUTPUT_ROSE", "Rose diagram", fileFilter="PNG files (*.png);;HTML files (*.html)", optional=True, createByDefault=False)


def _threshold_param() -> QgsProcessingParameterNumber:
    return QgsProcessingParameterNumber("THRESHOLD", "Probability threshold for axes", type=NUMBER_DOUBLE,
                                        defaultValue=0.5, **number_range("threshold"))


#: Advanced vectorisation parameters: (name, label, VectorizeParams field)
VECTOR_PARAMS = (
    ("MIN_LENGTH", "Drop lines shorter than (cells)", "min_length_cells"),
    ("SPUR_LENGTH", "Prune end branches shorter than (cells)", "spur_length_cells"),
    ("MAX_GAP", "Join collinear pieces across gaps up to (cells; 0: no joining)", "max_gap_cells"),
    ("JOIN_ANGLE", "Largest direction change for a join (degrees)", "max_join_angle_deg"),
    ("SIMPLIFY", "Simplification tolerance (cells)", "simplify_cells"),
)
VECTOR_HELP = """<h3>Advanced</h3><p>Lines shorter than the minimum length are dropped, end branches
shorter than the spur length pruned, collinear pieces joined across small gaps when their directions
differ by less than the join angle, and the lines simplified (Douglas-Peucker); lengths in raster
cells.</p>"""


def _add_vector_params(alg) -> None:
    from geocore.lineaments.vectorize import VectorizeParams

    defaults = VectorizeParams()
    for name, label, attr in VECTOR_PARAMS:
        param = QgsProcessingParameterNumber(name, label, type=NUMBER_DOUBLE, defaultValue=getattr(defaults, attr),
                                             **number_range(attr))
        param.setFlags(param.flags() | FLAG_ADVANCED)
        alg.addParameter(param)


def _vector_params(alg, parameters: Dict, context):
    from geocore.lineaments.vectorize import VectorizeParams

    values = {attr: alg.parameterAsDouble(parameters, name, context) for name, _, attr in VECTOR_PARAMS}
    return VectorizeParams(threshold=alg.parameterAsDouble(parameters, "THRESHOLD", context), **values)


class DetectLineaments(GeocoreAlgorithm):
    NAME = "detectlineaments"
    DISPLAY_NAME = "Detect lineaments"
    GROUP = "lineaments"
    HELP = f"""<p>Finds linear magnetic anomalies (dyke-like lineaments) in a magnetic grid with a U-Net
(VGG-16 encoder) trained on synthetic dyke surveys, and turns them into vector axes.</p>
<p>The grid is cut into overlapping tiles (tile size in cells, overlap as a fraction); each cell is
normalised by the statistics of its own neighbourhood, so the units of the grid (nT, pT, 0..1) do not
matter and tile borders leave no seams; overlapping predictions are blended with a smooth window.</p>
<h3>Inputs</h3>
<ul><li><b>Magnetic grid</b>: any raster GDAL reads, in a projected CRS; nodata is kept.</li>
<li><b>Band</b>: the band holding the field.</li>
<li><b>Model</b>: a geocore <code>.safetensors</code> model with its <code>.json</code> card beside it;
empty uses the model shipped with geocore.</li>
<li><b>Tile size</b>: 0 uses the model's training tile size.</li>
<li><b>Threshold</b>: probability above which cells belong to a lineament before thinning to axes.</li>
<li><b>Device</b>: auto uses a CUDA GPU when PyTorch sees one.</li></ul>
<h3>Outputs</h3>
<ul><li><b>Lineament probability</b>: float raster 0..1 on the input grid (same CRS, transform, nodata);
loaded with a colour ramp fixed to 0..1.</li>
<li><b>Lineaments</b>: line axes with {LINE_FIELDS}; loaded as dark lines whose width follows
<code>mean_prob</code>.</li>
<li><b>Rose diagram</b> (optional): length-weighted azimuth rose as PNG, or as an HTML page
(figure and table of length per 10&deg; bin) when the file name ends in <code>.html</code>.</li></ul>
<p>Method: U-Net segmentation trained on synthetic dyke surveys, after Shklyaruk &amp; Kuznetsov (2025);
axes by skeletonisation of the thresholded probability.</p>""" + VECTOR_HELP

    def initAlgorithm(self, config=None) -> None:  # noqa: N802
        self.addParameter(QgsProcessingParameterRasterLayer("INPUT", "Magnetic grid"))
        self.addParameter(QgsProcessingParameterBand("BAND", "Band", defaultValue=1, parentLayerParameterName="INPUT",
                                                     optional=True))
        self.addParameter(QgsProcessingParameterFile("MODEL", "Model (.safetensors; empty: shipped model)",
                                                     behavior=FILE_BEHAVIOR_FILE, extension="safetensors",
                                                     optional=True))
        self.addParameter(QgsProcessingParameterNumber("TILE_SIZE", "Tile size in cells (0: the model's)",
                                                       type=NUMBER_INTEGER, defaultValue=0, minValue=0,
                                                       optional=True))
        self.addParameter(QgsProcessingParameterNumber("OVERLAP", "Tile overlap (fraction)", type=NUMBER_DOUBLE,
                                                       defaultValue=0.5, **number_range("overlap")))
        self.addParameter(_threshold_param())
        self.addParameter(QgsProcessingParameterEnum("DEVICE", "Device", options=DEVICES, defaultValue=0))
        self.addParameter(QgsProcessingParameterRasterDestination("OUTPUT_PROBABILITY", "Lineament probability"))
        self.addParameter(_lines_output("Lineaments"))
        self.addParameter(_rose_output())
        _add_vector_params(self)
        self.addOutput(QgsProcessingOutputNumber("N_LINES", "Number of lineaments"))

    def call_geocore(self, parameters: Dict, context, feedback) -> Dict:
        from geocore.lineaments.detect import detect_lineaments

        grid = self.raster_source(parameters, "INPUT", context)
        tile = self.parameterAsInt(parameters, "TILE_SIZE", context)
        probability = self.parameterAsOutputLayer(parameters, "OUTPUT_PROBABILITY", context)
        lines = self.parameterAsOutputLayer(parameters, "OUTPUT_LINES", context)
        rose = self.parameterAsFileOutput(parameters, "OUTPUT_ROSE", context) or None
        with geotiff_output(probability) as probability_tif:
            result = detect_lineaments(
                grid,
                probability_path=probability_tif,
                lines_paths=[lines],
                rose_path=rose,
                model_path=self.parameterAsFile(parameters, "MODEL", context) or None,
                band=self.parameterAsInt(parameters, "BAND", context) or 1,
                tile_size=tile if tile > 0 else None,
                overlap=self.parameterAsDouble(parameters, "OVERLAP", context),
                threshold=self.parameterAsDouble(parameters, "THRESHOLD", context),
                device=DEVICES[self.parameterAsEnum(parameters, "DEVICE", context)],
                vector_params=_vector_params(self, parameters, context),
                progress=self.progress(feedback),
                cancel=feedback.isCanceled,
            )
        feedback.pushInfo(f"{result.n_lines} lineaments written to {lines}")
        self.style_output(probability, "probability")
        self.style_output(lines, "lineaments")
        return {"OUTPUT_PROBABILITY": probability, "OUTPUT_LINES": lines, "OUTPUT_ROSE": rose,
                "N_LINES": result.n_lines}


class VectorizeLineaments(GeocoreAlgorithm):
    NAME = "vectorizelineaments"
    DISPLAY_NAME = "Vectorize lineament probability"
    GROUP = "lineaments"
    HELP = f"""<p>Turns a lineament probability raster (0..1, e.g. the output of <i>Detect lineaments</i>
or of another model) into vector lineament axes: cells above the threshold are thinned to one-cell
skeletons, which are traced, split at junctions and simplified.</p>
<h3>Inputs</h3>
<ul><li><b>Probability raster</b>: values 0..1 in a projected CRS.</li>
<li><b>Band</b>: the band holding the probability.</li>
<li><b>Threshold</b>: probability above which a cell belongs to a lineament.</li></ul>
<h3>Outputs</h3>
<ul><li><b>Lineaments</b>: line axes with {LINE_FIELDS}.</li>
<li><b>Rose diagram</b> (optional): length-weighted azimuth rose as PNG, or as an HTML page
(figure and table of length per 10&deg; bin) when the file name ends in <code>.html</code>.</li></ul>
<p>Method: morphological skeletonisation (scikit-image) and skeleton graph tracing (skan).</p>""" + VECTOR_HELP

    def initAlgorithm(self, config=None) -> None:  # noqa: N802
        self.addParameter(QgsProcessingParameterRasterLayer("INPUT", "Probability raster"))
        self.addParameter(QgsProcessingParameterBand("BAND", "Band", defaultValue=1, parentLayerParameterName="INPUT",
                                                     optional=True))
        self.addParameter(_threshold_param())
        self.addParameter(_lines_output("Lineaments"))
        self.addParameter(_rose_output())
        _add_vector_params(self)
        self.addOutput(QgsProcessingOutputNumber("N_LINES", "Number of lineaments"))

    def call_geocore(self, parameters: Dict, context, feedback) -> Dict:
        from geocore.lineaments.vectorize import rose_diagram, vectorize_probability, write_lines

        lines = self.parameterAsOutputLayer(parameters, "OUTPUT_LINES", context)
        rose = self.parameterAsFileOutput(parameters, "OUTPUT_ROSE", context) or None
        gdf = vectorize_probability(
            self.raster_source(parameters, "INPUT", context),
            params=_vector_params(self, parameters, context),
            band=self.parameterAsInt(parameters, "BAND", context) or 1,
            progress=self.progress(feedback),
            cancel=feedback.isCanceled,
        )
        write_lines(gdf, lines)
        if rose:
            rose_diagram(gdf, rose)
        n_lines = len(gdf)
        feedback.pushInfo(f"{n_lines} lineaments written to {lines}")
        self.style_output(lines, "lineaments")
        return {"OUTPUT_LINES": lines, "OUTPUT_ROSE": rose, "N_LINES": n_lines}
