"""Microscopy algorithms: flat-field and colour correction, PPL/XPL alignment,
superpixel-assisted annotation and uncertainty regions for reflected-light
photographs of polished sections."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Dict, List

from qgis.core import (
    QgsProcessingException,
    QgsProcessingOutputMultipleLayers,
    QgsProcessingOutputNumber,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterEnum,
    QgsProcessingParameterField,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterMultipleLayers,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterVectorDestination,
    QgsProcessingParameterString,
    QgsProcessingParameterVectorLayer,
    QgsProcessingUtils,
)

from ..compat import (FILE_BEHAVIOR_FILE, NUMBER_DOUBLE, NUMBER_INTEGER, SOURCE_RASTER, SOURCE_VECTOR_LINE,
                      SOURCE_VECTOR_POLYGON)
from .base import DEVICES, GeocoreAlgorithm, advanced, number_range
from .outputs import geotiff_output, move_raster

#: Formats the photo writers handle directly (others go through a GeoTIFF and GDAL).
PHOTO_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")
NORMALIZE = ["mean", "max"]


def _params():
    """geocore's microscopy defaults (a standard-library module: fine before the libraries are installed).

    Imported when an algorithm is built, not with this module, because the
    plugin puts its bundled geocore on ``sys.path`` only once it starts.
    """
    from geocore.microscopy import params

    return params

COORDINATES_HELP = """<p>A photo without georeferencing is placed as QGIS shows it: x = column, y = -row
(one unit per pixel); a georeferenced photo (e.g. in a local engineering CRS in micrometres) keeps its
own coordinates.</p>"""


class MicroscopyAlgorithm(GeocoreAlgorithm):
    GROUP = "microscopy"

    def layer_sources(self, parameters: Dict, name: str, context) -> List[str]:
        """File paths of a multiple-raster-layer parameter."""
        layers = self.parameterAsLayerList(parameters, name, context)
        if not layers:
            raise QgsProcessingException(f"no layer given for {name}")
        paths = []
        for layer in layers:
            if layer.providerType() != "gdal":
                raise QgsProcessingException(f"{layer.name()} is not a file raster; save it as a GeoTIFF first")
            paths.append(layer.source())
        return paths


def _photo_output(dest: str):
    """A path the photo writers accept for ``dest`` (converted by GDAL afterwards when needed)."""
    if Path(dest).suffix.lower() in PHOTO_SUFFIXES:
        from contextlib import nullcontext

        return nullcontext(dest)
    return geotiff_output(dest)


def _string_param(name: str, description: str, default: str):
    return QgsProcessingParameterString(name, description, defaultValue=default)


# ----------------------------------------------------------------------------- flat field
class FlatField(MicroscopyAlgorithm):
    NAME = "flatfield"
    DISPLAY_NAME = "Flat-field correction (mirror)"
    HELP = """<p>Removes uneven illumination (vignetting, an off-centre lamp) and its colour cast from
reflected-light photographs, using a photograph of a mirror taken with the same microscope, objective
and lamp settings.</p>
<h3>Inputs</h3>
<ul><li><b>Photographs</b>: RGB photos (JPEG, PNG, TIFF) of the same size as the mirror photo.</li>
<li><b>Mirror photograph</b>: the flat-field reference.</li>
<li><b>Smoothing</b>: Gaussian sigma in pixels applied to the mirror (removes its dust and noise).</li>
<li><b>One gain per channel</b>: also corrects a colour cast that varies over the field; off: one grey gain.</li>
<li><b>Normalisation</b>: <i>mean</i> keeps the mean brightness; <i>max</i> raises the field to its brightest part.</li></ul>
<h3>Outputs</h3>
<ul><li><b>Output folder</b>: the corrected photos, with the same file names and formats as the inputs
(JPEG quality 95; GeoTIFFs keep their georeferencing).</li></ul>
<p>Method: gain = normalised / smoothed mirror, per pixel and channel. Unlike petroscope's calibration
(which shifts the grey mirror additively so its maximum is 1), the division is exact, so a mirror
photo comes out flat.</p>"""

    def initAlgorithm(self, config=None) -> None:  # noqa: N802
        self.addParameter(QgsProcessingParameterMultipleLayers("INPUT", "Photographs", layerType=SOURCE_RASTER))
        self.addParameter(QgsProcessingParameterRasterLayer("REFERENCE", "Mirror photograph"))
        self.addParameter(advanced(QgsProcessingParameterNumber(
            "SIGMA", "Smoothing of the mirror (pixels)", type=NUMBER_DOUBLE, defaultValue=_params().DEFAULT_SIGMA,
            **number_range("sigma"))))
        self.addParameter(QgsProcessingParameterBoolean("PER_CHANNEL", "One gain per colour channel",
                                                        defaultValue=True))
        self.addParameter(QgsProcessingParameterEnum("NORMALIZE", "Normalisation", options=NORMALIZE,
                                                     defaultValue=0))
        self.addParameter(QgsProcessingParameterFolderDestination("OUTPUT_FOLDER", "Output folder"))
        self.addOutput(QgsProcessingOutputMultipleLayers("OUTPUT_LAYERS", "Corrected photographs"))

    def call_geocore(self, parameters: Dict, context, feedback) -> Dict:
        from geocore.microscopy.flatfield import flatfield_to_folder

        folder = self.parameterAsString(parameters, "OUTPUT_FOLDER", context)
        result = flatfield_to_folder(
            self.layer_sources(parameters, "INPUT", context),
            self.raster_source(parameters, "REFERENCE", context),
            folder,
            sigma=self.parameterAsDouble(parameters, "SIGMA", context),
            per_channel=self.parameterAsBool(parameters, "PER_CHANNEL", context),
            normalize=NORMALIZE[self.parameterAsEnum(parameters, "NORMALIZE", context)],
            progress=self.progress(feedback),
            cancel=feedback.isCanceled,
        )
        feedback.pushInfo(result.summary())
        return {"OUTPUT_FOLDER": folder, "OUTPUT_LAYERS": [str(p) for p in result.outputs]}


# ----------------------------------------------------------------------------- colour
class ColourFit(MicroscopyAlgorithm):
    NAME = "colourfit"
    DISPLAY_NAME = "Fit colour correction"
    HELP = """<p>Fits the colour correction that makes a photo from another microscope or camera look like
the photos a segmentation model was trained on (models lose most of their accuracy on shifted colours).</p>
<h3>Inputs</h3>
<ul><li><b>Photo</b> and its <b>annotation</b>: a partial LumenStone mask (class code per pixel, 255
unlabelled), e.g. from <i>Superpixel-assisted annotation</i>; a few minerals and the background suffice.</li>
<li><b>Reference photo</b> and its <b>annotation</b>: a photo with the wanted colours (e.g. from the
training set); it need not show the same place.</li></ul>
<h3>Outputs</h3>
<ul><li><b>Colour matrix</b>: JSON with the 4 x 3 matrix; apply it to a whole series with <i>Apply colour
correction</i> (calibration mode).</li>
<li><b>Corrected photo</b> (optional): the photo itself corrected (per-image mode).</li>
<li>The mean CIEDE2000 between class colours before and after.</li></ul>
<p>Method (Korshunov, Khvostikov et al., 2025): mean colours of the annotated classes, linearised with
gamma 2.2; a 4 x 3 affine matrix fitted by least squares of CIEDE2000 differences in CIELAB, starting
from the white-balance solution.</p>"""

    def initAlgorithm(self, config=None) -> None:  # noqa: N802
        self.addParameter(QgsProcessingParameterRasterLayer("INPUT", "Photo to correct"))
        self.addParameter(QgsProcessingParameterRasterLayer("ANNOTATION", "Annotation of the photo (LumenStone mask)"))
        self.addParameter(QgsProcessingParameterRasterLayer("REFERENCE", "Reference photo"))
        self.addParameter(QgsProcessingParameterRasterLayer("REFERENCE_ANNOTATION", "Annotation of the reference"))
        self.addParameter(QgsProcessingParameterFileDestination("OUTPUT_MATRIX", "Colour matrix",
                                                                fileFilter="JSON files (*.json)"))
        self.addParameter(QgsProcessingParameterRasterDestination("OUTPUT", "Corrected photo", optional=True,
                                                                  createByDefault=False))
        self.addOutput(QgsProcessingOutputNumber("DELTA_E_BEFORE", "Mean CIEDE2000 of class colours before"))
        self.addOutput(QgsProcessingOutputNumber("DELTA_E_AFTER", "Mean CIEDE2000 of class colours after"))

    def call_geocore(self, parameters: Dict, context, feedback) -> Dict:
        from geocore.microscopy.colour import apply_colour_file, fit_colour_files

        matrix = self.parameterAsFileOutput(parameters, "OUTPUT_MATRIX", context)
        corrected = self.parameterAsOutputLayer(parameters, "OUTPUT", context) or None
        image = self.raster_source(parameters, "INPUT", context)
        bar = self.progress(feedback)
        corr = fit_colour_files(image, self.raster_source(parameters, "ANNOTATION", context),
                                self.raster_source(parameters, "REFERENCE", context),
                                self.raster_source(parameters, "REFERENCE_ANNOTATION", context), matrix,
                                progress=lambda f: bar(0.5 * f), cancel=feedback.isCanceled)
        if corrected:
            with _photo_output(corrected) as path:
                apply_colour_file(image, corr, path, progress=lambda f: bar(0.5 + 0.5 * f),
                                  cancel=feedback.isCanceled)
        before, after = corr.mean_delta_e
        feedback.pushInfo(f"{len(corr.classes)} classes; mean CIEDE2000 of class colours {before:.2f} -> {after:.2f}")
        if corr.warning():
            feedback.pushWarning(f"WARNING: {corr.warning()}")
        return {"OUTPUT_MATRIX": matrix, "OUTPUT": corrected, "DELTA_E_BEFORE": before, "DELTA_E_AFTER": after}


class ColourCorrect(MicroscopyAlgorithm):
    NAME = "colourcorrect"
    DISPLAY_NAME = "Apply colour correction"
    HELP = """<p>Applies a colour matrix made by <i>Fit colour correction</i> to a photo (calibration mode:
fit once on one photo of a series, apply to all).</p>
<h3>Inputs</h3>
<ul><li><b>Photo</b>: RGB photo.</li><li><b>Colour matrix</b>: the JSON file.</li></ul>
<h3>Outputs</h3>
<ul><li><b>Corrected photo</b>: same size; GeoTIFF keeps the photo's georeferencing.</li></ul>
<p>Method: linearise (gamma 2.2), multiply <code>[r, g, b, 1]</code> by the 4 x 3 matrix, re-encode.</p>"""

    def initAlgorithm(self, config=None) -> None:  # noqa: N802
        self.addParameter(QgsProcessingParameterRasterLayer("INPUT", "Photo"))
        self.addParameter(QgsProcessingParameterFile("MATRIX", "Colour matrix (.json)", behavior=FILE_BEHAVIOR_FILE,
                                                     extension="json"))
        self.addParameter(QgsProcessingParameterRasterDestination("OUTPUT", "Corrected photo"))

    def call_geocore(self, parameters: Dict, context, feedback) -> Dict:
        from geocore.microscopy.colour import apply_colour_file

        out = self.parameterAsOutputLayer(parameters, "OUTPUT", context)
        with _photo_output(out) as path:
            apply_colour_file(self.raster_source(parameters, "INPUT", context),
                              self.parameterAsFile(parameters, "MATRIX", context), path,
                              progress=self.progress(feedback), cancel=feedback.isCanceled)
        return {"OUTPUT": out}


# ----------------------------------------------------------------------------- alignment
class AlignPolarized(MicroscopyAlgorithm):
    NAME = "alignpolarized"
    DISPLAY_NAME = "Align crossed-polar photos (PPL/XPL stack)"
    HELP = """<p>Aligns photos taken in crossed polars at several stage rotations onto the plane-polarised
photo, masks the area they all share and stacks them into one raster of 3 + 3N bands (PPL red, green,
blue, then each XPL photo's), the input that tells anisotropic minerals (marcasite, arsenopyrite,
pyrrhotite) from isotropic ones.</p>
<h3>Inputs</h3>
<ul><li><b>Plane-polarised photo</b>: the reference grid of the output.</li>
<li><b>Crossed-polar photos</b>: same size, any rotations (the paper found six best).</li>
<li><b>Method</b>: <i>ecc</i> (rotation search, then ECC refinement on gradient images: the most accurate
and robust to the changed contrast of crossed polars); <i>sift</i>: the paper's SIFT keypoints + RANSAC
affine; <i>sift+ecc</i>.</li>
<li><b>Transform</b>: euclidean (rotation + shift, a stage rotation) or affine.</li>
<li><b>Crop</b>: crop the stack to the bounding box of the shared area.</li></ul>
<h3>Outputs</h3>
<ul><li><b>Aligned stack</b>: uint8 GeoTIFF, 3 + 3N bands, the PPL photo's georeferencing, with a mask
of the shared area (outside it all bands are 0). A <code>.alignment.json</code> report (matrices,
rotations, scores) is written beside a GeoTIFF output.</li></ul>
<p>Method: ECC image alignment (Evangelidis &amp; Psarakis, 2008) with OpenCV.</p>"""

    def initAlgorithm(self, config=None) -> None:  # noqa: N802
        self.addParameter(QgsProcessingParameterRasterLayer("PPL", "Plane-polarised photo"))
        self.addParameter(QgsProcessingParameterMultipleLayers("XPL", "Crossed-polar photos", layerType=SOURCE_RASTER))
        self.addParameter(QgsProcessingParameterEnum("METHOD", "Method", options=list(_params().ALIGN_METHODS), defaultValue=0))
        self.addParameter(QgsProcessingParameterEnum("MODEL", "Transform", options=list(_params().ALIGN_MODELS), defaultValue=0))
        self.addParameter(advanced(QgsProcessingParameterNumber(
            "STEP", "Rotation search step (degrees)", type=NUMBER_DOUBLE, defaultValue=1.0,
            **number_range("step"))))
        self.addParameter(QgsProcessingParameterBoolean("CROP", "Crop to the shared area", defaultValue=False))
        self.addParameter(QgsProcessingParameterRasterDestination("OUTPUT", "Aligned stack"))
        self.addOutput(QgsProcessingOutputNumber("SHARED_FRACTION", "Share of the frame seen by every photo"))

    def call_geocore(self, parameters: Dict, context, feedback) -> Dict:
        from geocore.microscopy.align import align_and_stack

        out = self.parameterAsOutputLayer(parameters, "OUTPUT", context)
        with geotiff_output(out) as tif:
            result = align_and_stack(
                self.raster_source(parameters, "PPL", context), self.layer_sources(parameters, "XPL", context), tif,
                method=_params().ALIGN_METHODS[self.parameterAsEnum(parameters, "METHOD", context)],
                model=_params().ALIGN_MODELS[self.parameterAsEnum(parameters, "MODEL", context)],
                step_deg=self.parameterAsDouble(parameters, "STEP", context),
                crop=self.parameterAsBool(parameters, "CROP", context),
                progress=self.progress(feedback), cancel=feedback.isCanceled)
        feedback.pushInfo(result.summary())
        return {"OUTPUT": out, "SHARED_FRACTION": result.shared_fraction}


# ----------------------------------------------------------------------------- annotation
def export_strokes(layer, folder: str) -> str:
    """Write a vector layer (a scratch layer drawn in QGIS included) to a GeoPackage geocore can read."""
    from qgis.core import QgsCoordinateTransformContext, QgsVectorFileWriter

    path = str(Path(folder) / "strokes.gpkg")
    options = QgsVectorFileWriter.SaveVectorOptions()
    options.driverName = "GPKG"
    writer = getattr(QgsVectorFileWriter, "writeAsVectorFormatV3", None) or QgsVectorFileWriter.writeAsVectorFormatV2
    result = writer(layer, path, QgsCoordinateTransformContext(), options)
    if result[0] != QgsVectorFileWriter.WriterError.NoError:
        raise QgsProcessingException(f"could not export the strokes layer {layer.name()}: {result[1]}")
    return path


class SuperpixelAnnotate(MicroscopyAlgorithm):
    NAME = "superpixelannotate"
    DISPLAY_NAME = "Superpixel-assisted annotation"
    HELP = """<p>Turns a few strokes per mineral into a full annotation: draw lines (or polygons) over the
photo in a vector layer with a class field; every superpixel (SLIC and Felzenszwalb, several scales) whose
strokes agree takes their class; where strokes disagree, finer superpixels decide. Add strokes and run
again to refine.</p>
<h3>Inputs</h3>
<ul><li><b>Photo</b>: RGB photo.</li>
<li><b>Strokes</b>: line or polygon layer (a scratch layer works) drawn over the photo.</li>
<li><b>Class field</b>: LumenStone code (0 non-ore, 1 ccp, 2 gl, 3 mag, 4 br, 5 po, 6 py, 7 pn, 8 sh,
9 apy, 10 gmt, 11 tnt, 12 cv, 13 mrc, 14 au) or its label / mineral name.</li></ul>""" + COORDINATES_HELP + """
<h3>Outputs</h3>
<ul><li><b>Mask</b>: LumenStone format (8-bit, class code per pixel, 255 unlabelled; PNG or GeoTIFF),
loaded with the LumenStone colours.</li>
<li><b>Polygons</b> (optional): labelled areas with <code>code</code>, <code>label</code>, <code>name</code>
and <code>area</code> (square map units).</li></ul>
<h3>Advanced</h3><p>SLIC sizes and Felzenszwalb scales (pixels of the working copy, whose long edge is
the working size); the colour check stops a coarse superpixel painting an unscribbled grain of another
colour.</p>"""

    def initAlgorithm(self, config=None) -> None:  # noqa: N802
        d = _params().SuperpixelParams()
        self.addParameter(QgsProcessingParameterRasterLayer("INPUT", "Photo"))
        self.addParameter(QgsProcessingParameterVectorLayer("STROKES", "Strokes",
                                                            types=[SOURCE_VECTOR_LINE, SOURCE_VECTOR_POLYGON]))
        self.addParameter(QgsProcessingParameterField("CLASS_FIELD", "Class field", defaultValue="class",
                                                      parentLayerParameterName="STROKES"))
        self.addParameter(advanced(_string_param("SLIC_SIZES", "SLIC sizes (pixels)",
                                                                  " ".join(f"{v:g}" for v in d.slic_sizes))))
        self.addParameter(advanced(_string_param("FZ_SCALES", "Felzenszwalb scales",
                                                                  " ".join(f"{v:g}" for v in d.felzenszwalb_scales))))
        self.addParameter(advanced(QgsProcessingParameterNumber(
            "WORK_EDGE", "Working size (long edge, pixels)", type=NUMBER_INTEGER, defaultValue=d.work_edge,
            minValue=64)))
        self.addParameter(advanced(QgsProcessingParameterBoolean("COLOUR_CHECK", "Colour check",
                                                                  defaultValue=d.colour_check)))
        self.addParameter(QgsProcessingParameterRasterDestination("OUTPUT_MASK", "Mask (LumenStone)"))
        polygons = QgsProcessingParameterVectorDestination("OUTPUT_POLYGONS", "Polygons", type=SOURCE_VECTOR_POLYGON,
                                                           optional=True, createByDefault=True)
        polygons.setSupportsNonFileBasedOutput(False)
        self.addParameter(polygons)
        self.addOutput(QgsProcessingOutputNumber("LABELLED_FRACTION", "Share of pixels labelled"))

    def call_geocore(self, parameters: Dict, context, feedback) -> Dict:
        from geocore.microscopy.annotate import annotate_image

        def numbers(name):
            text = self.parameterAsString(parameters, name, context).replace(",", " ")
            try:
                return tuple(float(v) for v in text.split())
            except ValueError as exc:
                raise QgsProcessingException(f"{name} must be numbers separated by spaces, not '{text}'") from exc

        settings = _params().SuperpixelParams(
            slic_sizes=numbers("SLIC_SIZES"), felzenszwalb_scales=numbers("FZ_SCALES"),
            work_edge=self.parameterAsInt(parameters, "WORK_EDGE", context),
            colour_check=self.parameterAsBool(parameters, "COLOUR_CHECK", context))
        if not settings.slic_sizes and not settings.felzenszwalb_scales:
            raise QgsProcessingException("give at least one SLIC size or Felzenszwalb scale")
        strokes_layer = self.parameterAsVectorLayer(parameters, "STROKES", context)
        mask = self.parameterAsOutputLayer(parameters, "OUTPUT_MASK", context)
        polygons = self.parameterAsOutputLayer(parameters, "OUTPUT_POLYGONS", context) or None
        with tempfile.TemporaryDirectory(prefix="superpixelannotate", dir=QgsProcessingUtils.tempFolder()) as tmp:
            strokes = export_strokes(strokes_layer, tmp)
            mask_is_direct = Path(mask).suffix.lower() in (".png", ".tif", ".tiff")
            mask_path = mask if mask_is_direct else str(Path(tmp) / "mask.tif")
            result = annotate_image(self.raster_source(parameters, "INPUT", context), strokes, mask_path, polygons,
                                    class_field=self.parameterAsString(parameters, "CLASS_FIELD", context),
                                    params=settings, progress=self.progress(feedback), cancel=feedback.isCanceled)
            if not mask_is_direct:
                move_raster(mask_path, mask)
        feedback.pushInfo(result.summary())
        self.style_output(mask, "microscopy_mask")
        if polygons:
            self.style_output(polygons, "microscopy_polygons")
        return {"OUTPUT_MASK": mask, "OUTPUT_POLYGONS": polygons, "LABELLED_FRACTION": result.labelled_fraction}


# ----------------------------------------------------------------------------- uncertainty
class UncertaintyRegions(MicroscopyAlgorithm):
    NAME = "uncertaintyregions"
    DISPLAY_NAME = "Uncertainty regions for annotation"
    HELP = """<p>Finds where a segmentation model is least sure and outputs polygons covering a chosen
share of the image, ranked by uncertainty: the places to annotate next (active learning; the paper
annotates 5-10 %).</p>
<h3>Inputs</h3>
<ul><li><b>Class probabilities</b>: raster with one band per class, values 0..1 (a model's softmax output);
or, with a <b>model</b>, the photo (or 3 + 3N band stack) the model segments.</li>
<li><b>Model</b> (optional): a geocore minerals model (<code>.safetensors</code> with its card); its
probabilities are computed first through the tiled engine, averaged over flips and a quarter turn when
<b>test-time augmentation</b> is on.</li>
<li><b>Share</b>: fraction of the image to select (default 0.07).</li>
<li><b>Metric</b>: <i>entropy</i> (normalised, 0..1) or <i>margin</i> (1 minus the difference of the two most
probable classes).</li></ul>
<h3>Outputs</h3>
<ul><li><b>Regions</b>: polygons with <code>rank</code> (1: least sure), <code>mean_unc</code>,
<code>max_unc</code>, <code>mean_margin</code>, <code>pixels</code> and <code>area</code> (square map units,
e.g. square micrometres in an engineering CRS).</li>
<li><b>Uncertainty map</b> (optional): float raster 0..1.</li></ul>
<h3>Advanced</h3><p>The map is smoothed (Gaussian, pixels) so that regions are patches, not speckle;
regions smaller than the minimum area are dropped.</p>"""

    def initAlgorithm(self, config=None) -> None:  # noqa: N802
        self.addParameter(QgsProcessingParameterRasterLayer("INPUT", "Class probabilities (or the photo, with a model)"))
        self.addParameter(QgsProcessingParameterFile("MODEL", "Model (.safetensors; optional)",
                                                     behavior=FILE_BEHAVIOR_FILE, extension="safetensors",
                                                     optional=True))
        self.addParameter(QgsProcessingParameterBoolean("TTA", "Test-time augmentation (with a model)",
                                                        defaultValue=False))
        self.addParameter(QgsProcessingParameterEnum("DEVICE", "Device", options=DEVICES, defaultValue=0))
        self.addParameter(QgsProcessingParameterNumber("SHARE", "Share of the image to select", type=NUMBER_DOUBLE,
                                                       defaultValue=_params().DEFAULT_SHARE, minValue=0.001, maxValue=0.9))
        self.addParameter(QgsProcessingParameterEnum("METRIC", "Metric", options=list(_params().METRICS), defaultValue=0))
        self.addParameter(advanced(QgsProcessingParameterNumber(
            "SMOOTH", "Smoothing (pixels)", type=NUMBER_DOUBLE, defaultValue=_params().DEFAULT_SMOOTH_PX, **number_range("smooth"))))
        self.addParameter(advanced(QgsProcessingParameterNumber(
            "MIN_AREA", "Smallest region (pixels)", type=NUMBER_INTEGER, defaultValue=_params().DEFAULT_MIN_AREA_PX, minValue=1)))
        regions = QgsProcessingParameterVectorDestination("OUTPUT", "Uncertain regions", type=SOURCE_VECTOR_POLYGON)
        regions.setSupportsNonFileBasedOutput(False)
        self.addParameter(regions)
        self.addParameter(QgsProcessingParameterRasterDestination("OUTPUT_MAP", "Uncertainty map", optional=True,
                                                                  createByDefault=False))
        self.addOutput(QgsProcessingOutputNumber("N_REGIONS", "Number of regions"))

    def call_geocore(self, parameters: Dict, context, feedback) -> Dict:
        from contextlib import nullcontext

        from geocore.inference.tiled import TileParams
        from geocore.microscopy.uncertainty import find_uncertain_regions

        regions = self.parameterAsOutputLayer(parameters, "OUTPUT", context)
        map_out = self.parameterAsOutputLayer(parameters, "OUTPUT_MAP", context) or None
        model = self.parameterAsFile(parameters, "MODEL", context) or None
        params = _params().RegionParams(
            share=self.parameterAsDouble(parameters, "SHARE", context),
            metric=_params().METRICS[self.parameterAsEnum(parameters, "METRIC", context)],
            smooth_px=self.parameterAsDouble(parameters, "SMOOTH", context),
            min_area_px=self.parameterAsInt(parameters, "MIN_AREA", context))
        with (geotiff_output(map_out) if map_out else nullcontext(None)) as map_tif:
            result = find_uncertain_regions(
                self.raster_source(parameters, "INPUT", context), regions, params, model=model,
                tta=bool(model) and self.parameterAsBool(parameters, "TTA", context),
                tile_params=TileParams(device=DEVICES[self.parameterAsEnum(parameters, "DEVICE", context)]),
                map_out=map_tif, progress=self.progress(feedback), cancel=feedback.isCanceled)
        from .minerals import demo_tag

        if result.notice:
            feedback.pushWarning(f"WARNING: {result.notice}")
        feedback.pushInfo(result.summary().replace(f"WARNING: {result.notice}\n", ""))
        self.style_output(regions, "uncertainty_regions")
        tag = demo_tag(result.notice)
        self._names = {regions: f"Uncertain regions{tag}"}
        if map_out:
            self.style_output(map_out, "probability")
            self._names[map_out] = f"Uncertainty map{tag}"
        return {"OUTPUT": regions, "OUTPUT_MAP": map_out, "N_REGIONS": result.n_regions}

    def postProcessAlgorithm(self, context, feedback) -> Dict:  # noqa: N802
        from .minerals import name_loaded_outputs

        super().postProcessAlgorithm(context, feedback)
        name_loaded_outputs(context, getattr(self, "_names", {}))
        return {}


MICROSCOPY_ALGORITHMS = (FlatField, ColourFit, ColourCorrect, AlignPolarized, SuperpixelAnnotate, UncertaintyRegions)
