"""Magnetic algorithms: synthetic dyke surveys with their true axes."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Dict

from qgis.core import (
    QgsProcessingOutputNumber,
    QgsProcessingParameterEnum,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterVectorDestination,
    QgsProcessingUtils,
)

from ..compat import NUMBER_DOUBLE, NUMBER_INTEGER, SOURCE_VECTOR_LINE
from .base import GeocoreAlgorithm, number_range, presets
from .outputs import move_raster, move_vector


class SynthesizeSurvey(GeocoreAlgorithm):
    NAME = "synthesizesurvey"
    DISPLAY_NAME = "Synthesize dyke survey"
    GROUP = "magnetics"
    HELP = """<p>Computes a synthetic total-field magnetic survey over randomly placed vertical dykes
(right-rectangular prisms) together with the true dyke axes: test data with a known
answer, the same generator that trains the lineament models.</p>
<h3>Inputs</h3>
<ul><li><b>Rows, columns</b>: grid size in cells (at least 32); <b>cell size</b> in metres. The grid is in
WGS 84 / UTM 33N (EPSG:32633).</li>
<li><b>Seed</b>: the same seed gives the same survey.</li>
<li><b>Preset</b>: <i>paper</i>: vertical magnetisation, dykes only (as in the training data of the
paper); <i>realistic</i>: inclined field, remanence, regional trend, noise and non-dyke distractors.</li></ul>
<h3>Outputs</h3>
<ul><li><b>Magnetic field</b>: float raster in nT.</li>
<li><b>Dyke mask</b>: 1 inside the mapped width of a dyke, 0 elsewhere.</li>
<li><b>True axes</b>: one line per dyke (red when loaded) with its width, depth, magnetisation and
<i>visibility</i>: its own gradient over the median gradient of the rest of the survey around it. Below 1
(drawn dashed) the dyke is buried: no detector can be expected to see it in the field.</li></ul>
<p>Method: total-field anomaly of right-rectangular prisms; the <i>paper</i> preset follows the training
data of Shklyaruk &amp; Kuznetsov (2025).</p>"""

    def initAlgorithm(self, config=None) -> None:  # noqa: N802
        self.addParameter(QgsProcessingParameterNumber("ROWS", "Rows", type=NUMBER_INTEGER, defaultValue=256,
                                                       minValue=32, maxValue=20000))
        self.addParameter(QgsProcessingParameterNumber("COLS", "Columns", type=NUMBER_INTEGER, defaultValue=256,
                                                       minValue=32, maxValue=20000))
        self.addParameter(QgsProcessingParameterNumber("CELL_SIZE", "Cell size (m)", type=NUMBER_DOUBLE,
                                                       defaultValue=50.0, **number_range("cell_size")))
        self.addParameter(QgsProcessingParameterNumber("SEED", "Random seed", type=NUMBER_INTEGER, defaultValue=0,
                                                       **number_range("seed")))
        self.addParameter(QgsProcessingParameterEnum("PRESET", "Preset", options=presets(), defaultValue=0))
        self.addParameter(QgsProcessingParameterRasterDestination("OUTPUT_FIELD", "Magnetic field"))
        self.addParameter(QgsProcessingParameterRasterDestination("OUTPUT_MASK", "Dyke mask"))
        axes = QgsProcessingParameterVectorDestination("OUTPUT_AXES", "True axes", type=SOURCE_VECTOR_LINE)
        axes.setSupportsNonFileBasedOutput(False)
        self.addParameter(axes)
        self.addOutput(QgsProcessingOutputNumber("N_DYKES", "Number of dykes"))

    def call_geocore(self, parameters: Dict, context, feedback) -> Dict:
        from geocore.magnetics.synthetic import SurveyConfig, synthesize_survey

        field = self.parameterAsOutputLayer(parameters, "OUTPUT_FIELD", context)
        mask = self.parameterAsOutputLayer(parameters, "OUTPUT_MASK", context)
        axes = self.parameterAsOutputLayer(parameters, "OUTPUT_AXES", context)
        with tempfile.TemporaryDirectory(prefix="synthesizesurvey", dir=QgsProcessingUtils.tempFolder()) as tmp:
            survey = synthesize_survey(
                Path(tmp),
                rows=self.parameterAsInt(parameters, "ROWS", context),
                cols=self.parameterAsInt(parameters, "COLS", context),
                cell_size=self.parameterAsDouble(parameters, "CELL_SIZE", context),
                seed=self.parameterAsInt(parameters, "SEED", context),
                config=SurveyConfig.from_preset(presets()[self.parameterAsEnum(parameters, "PRESET", context)]),
                progress=self.progress(feedback),
                cancel=feedback.isCanceled,
            )
            move_raster(survey.field_path, field)
            move_raster(survey.mask_path, mask)
            move_vector(survey.axes_path, axes)
        feedback.pushInfo(f"{survey.n_dykes} dykes")
        self.style_output(axes, "true_axes")
        return {"OUTPUT_FIELD": field, "OUTPUT_MASK": mask, "OUTPUT_AXES": axes, "N_DYKES": survey.n_dykes}
