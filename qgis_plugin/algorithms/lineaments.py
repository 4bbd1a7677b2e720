"""Lineament algorithms: detection with a trained network, vectorisation of
a probability raster into lineament axes, and the comparison of detected
lineaments with an expert interpretation, and fine-tuning a model on interpreted lines."""

from __future__ import annotations

from typing import Dict

from qgis.core import (
    QgsProcessing,
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
from .base import DEVICES, GeocoreAlgorithm, number_range
from .grids import optional_double
from .outputs import geotiff_output

LINE_FIELDS = "<code>length</code> (map units), <code>azimuth</code> (degrees clockwise from north, 0..180), " \
              "<code>mean_prob</code> and <code>max_prob</code> (probability along the axis), " \
              "<code>straight</code> (end-to-end distance over length, 1 for a straight line)"


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
    ("MIN_MEAN_PROB", "Drop lines whose mean probability is below (0..1; empty: 0.8 for the network, "
                      "0 for a classical ridge map)", "min_mean_prob"),
    ("MIN_STRAIGHTNESS", "Drop lines whose straightness (end-to-end / length) is below (0..1)", "min_straightness"),
)
#: Detection only (it has the field): (name, label, VectorizeParams field)
FIELD_PARAM = ("MIN_FIELD_CONTRAST", "Drop lines whose anomaly across them is below this many times that of the "
                                     "line moved sideways (empty: 2 for a classical method, 0 for the network)",
               "min_field_contrast")

VECTOR_HELP = """<h3>Advanced</h3><p>Lines shorter than the minimum length are dropped, end branches
shorter than the spur length pruned, collinear pieces joined across small gaps when their directions
differ by less than the join angle, and the lines simplified (Douglas-Peucker); lengths in raster
cells. Lines whose mean probability, or straightness (distance between the end points over the length),
is below the given minimum are dropped (0 keeps all). Left empty, the minimum mean probability is 0.8
on the network's probability (lines it is not confident about are mostly the edges of noise) and 0 on a
classical ridge map, whose values are percentile ranks.</p>"""

FIELD_HELP = """<p>Detection also measures, for every line, the anomaly across it in the grid against the same
line moved sideways (peak-to-trough of detrended profiles; <code>contrast</code>, 1 for plain
noise) and drops lines below the minimum field contrast. Left empty it is 2 for the classical methods,
whose ridges follow the ridges of noise too, and 0 (keep every line) for the network, which was trained
to tell them apart.</p>"""


def _vector_param_rows(field: bool) -> tuple:
    """The advanced vectorisation parameters (``field``: with the minimum field contrast of detection)."""
    return VECTOR_PARAMS + ((FIELD_PARAM,) if field else ())


def _add_vector_params(alg, field: bool = False) -> None:
    from geocore.lineaments.vectorize import VectorizeParams

    defaults = VectorizeParams()
    for name, label, attr in _vector_param_rows(field):
        default = getattr(defaults, attr)  # None: the library picks it for the map (min_mean_prob)
        param = QgsProcessingParameterNumber(name, label, type=NUMBER_DOUBLE, defaultValue=default,
                                             optional=default is None, **number_range(attr))
        param.setFlags(param.flags() | FLAG_ADVANCED)
        alg.addParameter(param)


def _add_lines_outputs(alg, field: bool = False) -> None:
    """What detecting and vectorising share: lines, optional rose, advanced vectorisation parameters, N_LINES
    (``field``: also the minimum field contrast, which detection alone can measure)."""
    alg.addParameter(_lines_output("Lineaments"))
    alg.addParameter(_rose_output())
    _add_vector_params(alg, field)
    alg.addOutput(QgsProcessingOutputNumber("N_LINES", "Number of lineaments"))


def _vector_params(alg, parameters: Dict, context, field: bool = False):
    from geocore.lineaments.vectorize import VectorizeParams

    values = {attr: alg.parameterAsDouble(parameters, name, context)
              for name, _, attr in _vector_param_rows(field)
              if parameters.get(name) not in (None, "")}
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
loaded with a colour ramp fixed to 0..1. Its metadata (Layer Properties, Information) records how it
was made: the method, and the model and scales of the network or the reduction and percentile of a
classical method.</li>
<li><b>Lineaments</b>: line axes with {LINE_FIELDS} and <code>contrast</code> (the anomaly across
the line in the grid over that of the line moved sideways; see Advanced); loaded as dark lines whose
width follows <code>mean_prob</code>.</li>
<li><b>Rose diagram</b> (optional): length-weighted azimuth rose as PNG, or as an HTML page
(figure and table of length per 10&deg; bin) when the file name ends in <code>.html</code>.</li></ul>
<h3>Method</h3>
<p><b>cnn</b> (default): U-Net segmentation trained on synthetic dyke surveys, after Shklyaruk &amp;
Kuznetsov (2025). The classical detectors interpreters use are there too, and write the same outputs
(a ridge value 0..1 in place of the probability): <b>tga</b>, ridges of the total gradient amplitude
(analytic signal; no field direction needed); <b>tilt</b>, <b>vdr</b>, ridges of the tilt angle and of
the first vertical derivative, and <b>thg</b>, maxima of the horizontal gradient (source edges), all
three on the field reduced to the pole (|inclination| &ge; 30&deg;) or to the equator (below): give
the main-field <b>inclination</b> and <b>declination</b> for them. The ridge <b>percentile</b> maps to
0.5: with the default threshold the lines are the ridges stronger than that share of the grid.
<b>Scales</b> (advanced, CNN): <code>auto</code> (default) measures up to which wavenumber the grid
carries information (survey grids are often sampled 3-5 times finer than their flight lines
resolve) and runs the network on the grid averaged to the cell size where it resolves as much as
the grids the network learned; grids that already do run as they are, and grids coarser than their
anomalies (one or two cells wide) run interpolated to smaller cells (the log says which; the outputs
stay on the grid's cells). Give factors (e.g. <code>1, 0.5, 0.25</code>, or <code>2</code> for cells
twice as small) to run at each and keep the largest probability, or <code>1</code> for the grid as it
is (docs/model_lineaments.md). <b>Test-time augmentation</b> (advanced, CNN): the probability averaged
over 2, 4 or 8 rotations and mirror images of each tile; 4 drops most lines drawn along smoothed
noise, at 4 times the computing time. Nodata around the survey is extended from the nearest data
before the network sees it, so the survey outline is not drawn as a lineament.
Axes by skeletonisation of the thresholded map.</p>
<p>The grid must be in a projected CRS in metres: a geographic (lat/lon) grid is refused with the UTM
zone to reproject it to.</p>""" + VECTOR_HELP + FIELD_HELP

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
        from geocore.inference.tiled import AUGMENTS
        from geocore.lineaments.classical import METHODS

        self.addParameter(QgsProcessingParameterEnum("METHOD", "Method", options=list(METHODS), defaultValue=0))
        for name, label in (("INCLINATION", "Main-field inclination (degrees, positive down; tilt, vdr, thg)"),
                            ("DECLINATION", "Main-field declination (degrees, clockwise from north)")):
            self.addParameter(QgsProcessingParameterNumber(name, label, type=NUMBER_DOUBLE, optional=True,
                                                           minValue=-360.0 if name == "DECLINATION" else -90.0,
                                                           maxValue=360.0 if name == "DECLINATION" else 90.0))
        from qgis.core import QgsProcessingParameterString

        scales = QgsProcessingParameterString("SCALES", "CNN resolution (auto, or factors such as 1, 0.5, 0.25; 2 = cells twice as small)",
                                              defaultValue="auto", optional=True)
        scales.setFlags(scales.flags() | FLAG_ADVANCED)
        self.addParameter(scales)
        tta = QgsProcessingParameterEnum("TTA", "CNN test-time augmentation (rotations averaged; each one more pass)",
                                         options=[str(a) for a in AUGMENTS], defaultValue=0)
        tta.setFlags(tta.flags() | FLAG_ADVANCED)
        self.addParameter(tta)
        pct = QgsProcessingParameterNumber("PERCENTILE", "Classical methods: ridge percentile that maps to 0.5",
                                           type=NUMBER_DOUBLE, defaultValue=70.0, minValue=1.0, maxValue=99.0)
        pct.setFlags(pct.flags() | FLAG_ADVANCED)
        self.addParameter(pct)
        # optional with a temporary default: qgis_process insists on every mandatory output otherwise
        self.addParameter(QgsProcessingParameterRasterDestination("OUTPUT_PROBABILITY", "Lineament probability",
                                                                  defaultValue=QgsProcessing.TEMPORARY_OUTPUT,
                                                                  optional=True, createByDefault=True))
        _add_lines_outputs(self, field=True)

    def call_geocore(self, parameters: Dict, context, feedback) -> Dict:
        from geocore.inference import TileParams
        from geocore.inference.tiled import AUGMENTS
        from geocore.lineaments.classical import METHODS, ClassicalParams
        from geocore.lineaments.detect import detect_lineaments
        from geocore.lineaments.scale import parse_scales

        grid = self.raster_source(parameters, "INPUT", context)
        method = METHODS[self.parameterAsEnum(parameters, "METHOD", context)]
        direction = {}
        for name in ("INCLINATION", "DECLINATION"):
            value = parameters.get(name)
            direction[name.lower()] = (self.parameterAsDouble(parameters, name, context)
                                       if value is not None and value != "" else None)
        classical = ClassicalParams(method=method if method != "cnn" else "tga",
                                    percentile=self.parameterAsDouble(parameters, "PERCENTILE", context),
                                    **direction)
        if method != "cnn":
            feedback.pushInfo(f"classical detector: {classical.describe()}")
        scales = parse_scales(self.parameterAsString(parameters, "SCALES", context))
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
                tiles=TileParams(tile_size=tile if tile > 0 else None,
                                 overlap=self.parameterAsDouble(parameters, "OVERLAP", context),
                                 device=DEVICES[self.parameterAsEnum(parameters, "DEVICE", context)],
                                 augment=AUGMENTS[self.parameterAsEnum(parameters, "TTA", context)]),
                vector_params=_vector_params(self, parameters, context, field=True),
                method=method,
                classical=classical if method != "cnn" else None,
                scales=scales,
                progress=self.progress(feedback),
                cancel=feedback.isCanceled,
            )
        note = result.scale_note()
        if note:
            feedback.pushInfo(note)
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
        _add_lines_outputs(self)

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


class FinetuneLineamentModel(GeocoreAlgorithm):
    NAME = "finetunelineamentmodel"
    DISPLAY_NAME = "Fine-tune lineament model on interpreted lines"
    GROUP = "lineaments"
    HELP = """<p>Teaches the lineament model from your own interpretation: draw lineaments over part of a
survey, fine-tune the shipped model (or another) on them, then run <i>Detect lineaments</i> with the new
model over the rest of the survey or over neighbouring ones. The grid is taught at the resolution
<i>Detect lineaments</i> will run the model at (its automatic scale: a grid sampled finer than it
resolves is averaged to larger cells first), and the new model keeps that choice.</p>
<h3>Inputs</h3>
<ul><li><b>Magnetic grid</b>: the survey, in a projected CRS.</li>
<li><b>Interpreted lines</b>: your lineaments (any line layer; reprojected to the grid).</li>
<li><b>Interpreted area</b> (optional): polygons where your interpretation is complete; elsewhere the
grid teaches nothing. Empty: the whole grid.</li>
<li><b>Start from model</b>: empty uses the shipped model.</li>
<li><b>Steps</b>, <b>learning rate</b>: the optimiser's; a few hundred steps take minutes on a GPU,
tens of minutes on a CPU.</li>
<li><b>Synthetic share</b>: share of synthetic dyke samples in each batch, so the model does not
forget what it knew.</li>
<li><b>Weight of unmapped cells</b>: maps are incomplete, so cells far from every line are only
<i>uncertain</i> negatives with this small loss weight; cells 1-4 cells from a line are ignored.</li>
<li><b>Score outside the area</b>: detect with the model before and after and score both against your
lines outside the interpreted area (held out); the figures go to the log and the model card.</li></ul>
<h3>Outputs</h3>
<ul><li><b>Model</b>: <code>.safetensors</code> weights with a <code>.json</code> card beside it that
records the grid, the lines, the settings and the held-out scores.</li></ul>"""

    def initAlgorithm(self, config=None) -> None:  # noqa: N802
        from qgis.core import QgsProcessingParameterBoolean, QgsProcessingParameterFeatureSource

        from geocore.lineaments.finetune import FinetuneConfig

        from ..compat import SOURCE_VECTOR_POLYGON

        d = FinetuneConfig()
        self.addParameter(QgsProcessingParameterRasterLayer("INPUT", "Magnetic grid"))
        self.addParameter(QgsProcessingParameterBand("BAND", "Band", defaultValue=1, parentLayerParameterName="INPUT",
                                                     optional=True))
        self.addParameter(QgsProcessingParameterFeatureSource("EXPERT", "Interpreted lines", [SOURCE_VECTOR_LINE]))
        self.addParameter(QgsProcessingParameterFeatureSource("AREA", "Interpreted area (empty: the whole grid)",
                                                              [SOURCE_VECTOR_POLYGON], optional=True))
        self.addParameter(QgsProcessingParameterFile("INIT", "Start from model (.safetensors; empty: shipped model)",
                                                     behavior=FILE_BEHAVIOR_FILE, extension="safetensors",
                                                     optional=True))
        self.addParameter(QgsProcessingParameterNumber("STEPS", "Steps", type=NUMBER_INTEGER, defaultValue=d.steps,
                                                       minValue=1, maxValue=100000))
        self.addParameter(QgsProcessingParameterNumber("LEARNING_RATE", "Learning rate", type=NUMBER_DOUBLE,
                                                       defaultValue=d.lr, minValue=1e-8, maxValue=1.0))
        self.addParameter(QgsProcessingParameterNumber("SYNTHETIC_SHARE", "Synthetic share of each batch",
                                                       type=NUMBER_DOUBLE, defaultValue=d.synthetic_share,
                                                       minValue=0.0, maxValue=0.95))
        self.addParameter(QgsProcessingParameterNumber("NEGATIVE_WEIGHT", "Weight of unmapped cells",
                                                       type=NUMBER_DOUBLE, defaultValue=d.negative_weight,
                                                       minValue=0.001, maxValue=1.0))
        self.addParameter(QgsProcessingParameterNumber("SEED", "Random seed", type=NUMBER_INTEGER, defaultValue=0,
                                                       minValue=0))
        self.addParameter(QgsProcessingParameterEnum("DEVICE", "Device", options=DEVICES, defaultValue=0))
        self.addParameter(QgsProcessingParameterBoolean("SCORE", "Score outside the area (needs an area)",
                                                        defaultValue=False))
        self.addParameter(QgsProcessingParameterFileDestination("OUTPUT_MODEL", "Model",
                                                                fileFilter="geocore models (*.safetensors)"))

    def call_geocore(self, parameters: Dict, context, feedback) -> Dict:
        from pathlib import Path

        from geocore.errors import GeocoreError
        from geocore.lineaments.finetune import FinetuneConfig, finetune_model, score_finetuned

        grid = self.raster_source(parameters, "INPUT", context)
        expert = self.parameterAsCompatibleSourceLayerPath(parameters, "EXPERT", context, ["gpkg", "shp", "geojson"],
                                                           "gpkg", feedback)
        area = None
        if parameters.get("AREA"):
            area = self.parameterAsCompatibleSourceLayerPath(parameters, "AREA", context, ["gpkg", "shp", "geojson"],
                                                             "gpkg", feedback)
        init = self.parameterAsFile(parameters, "INIT", context) or None
        score = self.parameterAsBool(parameters, "SCORE", context)
        if score and area is None:
            raise GeocoreError("scoring outside the area needs an interpreted area")
        config = FinetuneConfig(
            out=Path(self.parameterAsFileOutput(parameters, "OUTPUT_MODEL", context)), init=init,
            steps=self.parameterAsInt(parameters, "STEPS", context),
            lr=self.parameterAsDouble(parameters, "LEARNING_RATE", context),
            synthetic_share=self.parameterAsDouble(parameters, "SYNTHETIC_SHARE", context),
            negative_weight=self.parameterAsDouble(parameters, "NEGATIVE_WEIGHT", context),
            seed=self.parameterAsInt(parameters, "SEED", context),
            device=DEVICES[self.parameterAsEnum(parameters, "DEVICE", context)])
        band = self.parameterAsInt(parameters, "BAND", context) or 1
        model = finetune_model(grid, expert, config, area_path=area, band=band,
                               progress=self.progress(feedback), cancel=feedback.isCanceled, log=feedback.pushInfo)
        feedback.pushInfo(f"model: {model}")
        if score:
            scores = score_finetuned(grid, expert, area, model, init=init, band=band, device=config.device)
            for label, s in scores.items():
                feedback.pushInfo(f"held out ({label}): recall {s['recall']:.3f}, precision {s['precision']:.3f}, "
                                  f"F1 {s['f1']:.3f}")
        return {"OUTPUT_MODEL": str(model)}


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
<li><b>Grid</b> (optional): drawn under the overlay; the chance lines are clipped to its extent; a projected
magnetic grid also tells which expert lines carry an anomaly of their own (below).</li></ul>
<h3>Outputs</h3>
<ul><li><b>Scores table</b> (CSV): recall, precision, F1 and lengths for the real comparison and both chance
baselines, with the lift.</li>
<li><b>Per-line table</b> (CSV, optional): for each expert line, its length, matched length and fraction, the
detected line holding most of the match, mean distance and strike difference; with a projected grid also
<i>anomaly_contrast</i>: the field's anomaly across the line against the same line moved sideways (about 1: the
line stands out no more than its surroundings; 1.5 or more: an anomaly of its own). The log gives how many
expert lines have one and the recall on them: a detector cannot be blamed for mapped dykes the field does not
show.</li>
<li><b>Overlay</b> (PNG, optional): the grid, expert lines in yellow, detected lines in black.</li>
<li>Recall, precision, F1 and the two lifts as numbers.</li></ul>"""

    def initAlgorithm(self, config=None) -> None:  # noqa: N802
        self.addParameter(QgsProcessingParameterFeatureSource("DETECTED", "Detected lineaments",
                                                              types=[SOURCE_VECTOR_LINE]))
        self.addParameter(QgsProcessingParameterFeatureSource("EXPERT", "Expert lineaments",
                                                              types=[SOURCE_VECTOR_LINE]))
        self.addParameter(QgsProcessingParameterNumber("TOLERANCE", "Distance tolerance (m)", type=NUMBER_DOUBLE,
                                                       defaultValue=500.0, **number_range("tolerance")))
        self.addParameter(QgsProcessingParameterNumber("STRIKE_TOLERANCE", "Strike tolerance (degrees; empty: any)",
                                                       type=NUMBER_DOUBLE, optional=True,
                                                       **number_range("strike_tolerance")))
        self.addParameter(QgsProcessingParameterRasterLayer("GRID", "Grid (overlay; anomaly along each expert line)", optional=True))
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
