"""Lineament algorithms: detection with a trained network, vectorisation of
a probability raster into lineament axes, and the comparison of detected
lineaments with an expert interpretation."""

from __future__ import annotations

from typing import Dict

from qgis.core import (
    QgsProcessingOutputNumber,
    QgsProcessingParameterBand,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFeatureSource,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterVectorDestination,
)

from ..compat import FILE_BEHAVIOR_FILE, FLAG_ADVANCED, NUMBER_DOUBLE, NUMBER_INTEGER, SOURCE_VECTOR_LINE
from .base import DEVICES, GeocoreAlgorithm
from .grids import optional_double
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
                                        defaultValue=0.5, minValue=0.0, maxValue=1.0)


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
                                             minValue=0.0, maxValue=90.0 if attr == "max_join_angle_deg" else 1e6)
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
                                                       defaultValue=0.5, minValue=0.0, maxValue=0.9))
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


class CompareLineaments(GeocoreAlgorithm):
    NAME = "comparelineaments"
    DISPLAY_NAME = "Compare lineaments with an expert interpretation"
    GROUP = "lineaments"
    HELP = """<p>Measures how well detected lineaments agree with lines mapped by an expert, by length:
<b>recall</b> is the share of the expert's length within the distance tolerance of a detected line,
<b>precision</b> the share of the detected length within the tolerance of an expert line, and <b>F1</b>
their harmonic mean. Optionally a match must also run within a strike tolerance.</p>
<p>To tell agreement from chance, the same scores are computed against the expert lines moved where they
cannot be right: shifted sideways by a few kilometres, and rotated 90&deg; about their centres. The
<b>lift</b> is the real F1 over the chance F1: well above 1 means the agreement beats chance.</p>
<h3>Inputs</h3>
<ul><li><b>Detected lineaments</b>, <b>expert lineaments</b>: line layers in any CRS (reprojected; lengths in
metres in the grid's CRS, else the first projected one).</li>
<li><b>Distance tolerance</b> in metres; <b>strike tolerance</b> in degrees (empty: any strike).</li>
<li><b>Grid</b> (optional): drawn under the overlay; the chance lines are clipped to its extent.</li></ul>
<h3>Outputs</h3>
<ul><li><b>Scores table</b> (CSV): recall, precision, F1 and lengths for the real comparison and both chance
baselines, with the lift.</li>
<li><b>Per-line table</b> (CSV, optional): for each expert line, its length, matched length and fraction, the
detected line holding most of the match, mean distance and strike difference.</li>
<li><b>Overlay</b> (PNG, optional): the grid, expert lines in yellow, detected lines in black.</li>
<li>Recall, precision, F1 and the two lifts as numbers.</li></ul>"""

    def initAlgorithm(self, config=None) -> None:  # noqa: N802
        self.addParameter(QgsProcessingParameterFeatureSource("DETECTED", "Detected lineaments",
                                                              types=[SOURCE_VECTOR_LINE]))
        self.addParameter(QgsProcessingParameterFeatureSource("EXPERT", "Expert lineaments",
                                                              types=[SOURCE_VECTOR_LINE]))
        self.addParameter(QgsProcessingParameterNumber("TOLERANCE", "Distance tolerance (m)", type=NUMBER_DOUBLE,
                                                       defaultValue=500.0, minValue=0.001))
        self.addParameter(QgsProcessingParameterNumber("STRIKE_TOLERANCE", "Strike tolerance (degrees; empty: any)",
                                                       type=NUMBER_DOUBLE, optional=True, minValue=0.001,
                                                       maxValue=90.0))
        self.addParameter(QgsProcessingParameterRasterLayer("GRID", "Grid (for the overlay)", optional=True))
        shift = QgsProcessingParameterNumber("SHIFT", "Sideways shift of the chance baseline (m; empty: 3 km)",
                                             type=NUMBER_DOUBLE, optional=True, minValue=0.001)
        shift.setFlags(shift.flags() | FLAG_ADVANCED)
        self.addParameter(shift)
        self.addParameter(QgsProcessingParameterFileDestination("OUTPUT_SCORES", "Scores table",
                                                                fileFilter="CSV files (*.csv)"))
        self.addParameter(QgsProcessingParameterFileDestination("OUTPUT_TABLE", "Per-line table",
                                                                fileFilter="CSV files (*.csv)", optional=True,
                                                                createByDefault=False))
        self.addParameter(QgsProcessingParameterFileDestination("OUTPUT_FIGURE", "Overlay", optional=True,
                                                                fileFilter="PNG files (*.png)",
                                                                createByDefault=False))
        for name, label in (("RECALL", "Recall"), ("PRECISION", "Precision"), ("F1", "F1"),
                            ("LIFT_SHIFTED", "Lift over the shifted baseline"),
                            ("LIFT_ROTATED", "Lift over the rotated baseline")):
            self.addOutput(QgsProcessingOutputNumber(name, label))

    def call_geocore(self, parameters: Dict, context, feedback) -> Dict:
        from geocore.lineaments.compare import CompareParams, compare_files, overlay_png, write_tables

        params = CompareParams(tolerance=self.parameterAsDouble(parameters, "TOLERANCE", context),
                               strike_tolerance=optional_double(self, parameters, "STRIKE_TOLERANCE", context),
                               shift=optional_double(self, parameters, "SHIFT", context))
        paths = [self.parameterAsCompatibleSourceLayerPath(parameters, name, context, ["gpkg", "shp", "geojson"],
                                                            "gpkg", feedback) for name in ("DETECTED", "EXPERT")]
        grid = self.raster_source(parameters, "GRID", context) if parameters.get("GRID") else None
        scores_csv = self.parameterAsFileOutput(parameters, "OUTPUT_SCORES", context)
        table_csv = self.parameterAsFileOutput(parameters, "OUTPUT_TABLE", context) or None
        figure = self.parameterAsFileOutput(parameters, "OUTPUT_FIGURE", context) or None
        result, grid_obj = compare_files(paths[0], paths[1], params, grid_path=grid,
                                         progress=self.progress(feedback), cancel=feedback.isCanceled)
        write_tables(result, scores_csv, table_csv)
        if figure:
            overlay_png(result, figure, grid_obj)
        for line in result.summary().splitlines():
            feedback.pushInfo(line)
        s = result.scores
        return {"OUTPUT_SCORES": scores_csv, "OUTPUT_TABLE": table_csv, "OUTPUT_FIGURE": figure,
                "RECALL": s.recall, "PRECISION": s.precision, "F1": s.f1,
                "LIFT_SHIFTED": result.lift("shifted"), "LIFT_ROTATED": result.lift("rotated")}
