"""Mineral algorithms: segmentation of polished-section photographs, mineral
statistics, synthetic sections, training and evaluation of mineral models."""

from __future__ import annotations

from pathlib import Path
from typing import Dict

import contextlib

from qgis.core import (
    QgsProcessingOutputFile,
    QgsProcessingOutputHtml,
    QgsProcessingOutputNumber,
    QgsProcessingOutputString,
    QgsProcessingParameterBoolean,
    QgsProcessingParameterEnum,
    QgsProcessingParameterFile,
    QgsProcessingParameterFileDestination,
    QgsProcessingParameterFolderDestination,
    QgsProcessingParameterNumber,
    QgsProcessingParameterRasterDestination,
    QgsProcessingParameterRasterLayer,
    QgsProcessingParameterString,
    QgsProcessingParameterVectorDestination,
)

from ..compat import FILE_BEHAVIOR_FILE, FILE_BEHAVIOR_FOLDER, NUMBER_DOUBLE, NUMBER_INTEGER, SOURCE_VECTOR_POLYGON
from .base import DEVICES, GeocoreAlgorithm, advanced, integer_param, number_range
from .outputs import geotiff_output

SPLITS = ["test", "train"]


def _minerals_params():
    """geocore's mineral defaults (a standard-library module: fine before the libraries are installed);
    imported when an algorithm is built, once the plugin has put its geocore on ``sys.path``."""
    from geocore.minerals import params

    return params


CLASS_TABLE = """<p>Classes (LumenStone codes): 0 non-ore, 1 chalcopyrite, 2 galena, 3 magnetite, 4 bornite,
5 pyrrhotite, 6 pyrite, 7 pentlandite, 8 sphalerite, 9 arsenopyrite, 10 hematite, 11 tennantite,
12 covellite, 13 marcasite, 14 native gold.</p>"""

POLYGON_FIELDS = ("<code>code</code> (LumenStone class code), <code>label</code>, <code>name</code>, "
                  "<code>area</code> (µm² with a pixel size), <code>perimeter</code> and <code>ecd</code> "
                  "(equivalent circle diameter, µm)")


def demo_tag(notice: str) -> str:
    """Suffix for layer names and log lines of outputs of a DEMO / synthetic-trained model."""
    if not notice:
        return ""
    return " (DEMO model, synthetic training)" if "DEMO" in notice else " (model trained on synthetic sections)"


def name_loaded_outputs(context, names: Dict[str, str], unwritten=()) -> None:
    """Give the outputs QGIS loads at the end these layer names; drop those not written."""
    loads = context.layersToLoadOnCompletion()
    if any(u in loads for u in unwritten):
        context.setLayersToLoadOnCompletion({k: v for k, v in loads.items() if k not in unwritten})
    for destination, name in names.items():
        if destination and context.willLoadLayerOnCompletion(destination):
            context.layerToLoadOnCompletionDetails(destination).name = name


def show_in_micrometres(context, image: str, classes: str, feedback) -> None:
    """Outputs in micrometres over a plain photograph: hide the plain photo's layer (its copy in
    micrometres is loaded in its place) and set the project CRS to the micrometre CRS."""
    from qgis.core import QgsRasterLayer

    project = context.project()
    if project is None:
        return
    crs = QgsRasterLayer(classes, "classes", "gdal").crs()
    if crs.isValid() and project.crs() != crs:
        project.setCrs(crs)
        feedback.pushInfo(f"project CRS set to {crs.description()} (the outputs' micrometre CRS)")
    root = project.layerTreeRoot()
    for layer in project.mapLayers().values():
        if layer.source() == image and root.findLayer(layer.id()) is not None:
            root.findLayer(layer.id()).setItemVisibilityChecked(False)


def _size_classes(text: str):
    from geocore.errors import GeocoreError

    text = (text or "").strip()
    if not text:
        return None
    try:
        return [float(v) for v in text.replace(";", ",").replace(" ", ",").split(",") if v]
    except ValueError as exc:
        raise GeocoreError(f"size classes '{text}' must be numbers in µm separated by commas, e.g. 10,20,50,100") from exc


def _size_param() -> QgsProcessingParameterString:
    return QgsProcessingParameterString("SIZE_CLASSES", "Grain-size class edges in µm (comma-separated; empty: "
                                        "0,5,10,20,50,100,200,500,1000)", defaultValue="", optional=True)


class SegmentMinerals(GeocoreAlgorithm):
    NAME = "segmentminerals"
    DISPLAY_NAME = "Segment ore minerals"
    GROUP = "minerals"
    HELP = f"""<p>Segments a reflected-light photograph or panorama of a polished section into ore minerals
with a neural network (after Korshunov, Khvostikov et al. 2025, LumenStone), and turns the class map into
grain polygons and mineral statistics.</p>
<p>The image is processed in overlapping tiles, so panoramas of any size run in bounded memory. With a
pixel size in micrometres the outputs are placed in geocore's micrometre CRS (origin at the image's top-left
corner, x right, y up): areas are in µm² and QGIS measures in micrometres. QGIS shows a plain photograph
(JPEG, PNG without georeferencing) in pixels, so the algorithm then also writes a copy of the photograph in the
same micrometre CRS (<b>Photograph in micrometres</b>), loads it in the plain photograph's place (the plain
one is hidden) and sets the project CRS to it: the outputs lie on it.</p>
<p><b>The model shipped with geocore is a DEMO trained on synthetic sections only</b>: its outputs say so
(log, layer names, report, file metadata). For real work train a model on LumenStone
(<i>Train mineral model</i>) and give it here.</p>
<h3>Inputs</h3>
<ul><li><b>Photograph</b>: 8-bit RGB image (JPEG, PNG, TIFF).</li>
<li><b>Model</b>: a geocore mineral model (<code>.safetensors</code> with its <code>.json</code> card);
empty uses the shipped demo model.</li>
<li><b>Pixel size</b>: micrometres per pixel; 0 keeps the image's own georeferencing (pixels for a plain
photograph).</li>
<li><b>Tile size</b> (0: the model's), <b>overlap</b>, <b>device</b>.</li>
<li><b>Smallest grain</b>: patches smaller than this many pixels are merged into their neighbour.</li></ul>
<h3>Outputs</h3>
<ul><li><b>Mineral classes</b>: 8-bit class map (LumenStone codes, 255 = nodata), loaded with the
LumenStone colours.</li>
<li><b>Mineral polygons</b>: one polygon per grain with {POLYGON_FIELDS}; non-ore left out unless asked.</li>
<li><b>Class probabilities</b> (optional): one band per model class, stored compactly as 8-bit values
0..254 with a GDAL scale of 1/254 (QGIS and <i>Uncertainty regions</i> read probabilities 0..1): one byte per
pixel and class before compression, written in the same pass as the class map: measured on a 1698 x 1273 px
photo with 10 classes, 3.3 MB and no measurable extra time (the float32 bands used to cost 40 s -> 175 s and
260 MB on a 3396 x 2547 photo).</li>
<li><b>Photograph in micrometres</b>: the photograph in the outputs' micrometre CRS (only for a plain photo
with a pixel size).</li>
<li><b>Statistics folder</b> (optional): <code>stats.csv</code> (area fractions, grain counts, ECD),
<code>grain_sizes.csv</code>, <code>contacts.csv</code>, PNG charts and <code>report.html</code>.</li></ul>
{CLASS_TABLE}"""

    def initAlgorithm(self, config=None) -> None:  # noqa: N802
        defaults = _minerals_params().SegmentParams()
        self.addParameter(QgsProcessingParameterRasterLayer("INPUT", "Photograph (8-bit RGB)"))
        self.addParameter(QgsProcessingParameterFile("MODEL", "Model (.safetensors; empty: shipped DEMO model)",
                                                     behavior=FILE_BEHAVIOR_FILE, extension="safetensors",
                                                     optional=True))
        self.addParameter(QgsProcessingParameterNumber("UM_PER_PX", "Pixel size (µm; 0: keep the image's georeferencing)",
                                                       type=NUMBER_DOUBLE, defaultValue=0.0, minValue=0.0))
        self.addParameter(QgsProcessingParameterNumber("TILE_SIZE", "Tile size in pixels (0: the model's)",
                                                       type=NUMBER_INTEGER, defaultValue=0, minValue=0))
        self.addParameter(QgsProcessingParameterNumber("OVERLAP", "Tile overlap (fraction)", type=NUMBER_DOUBLE,
                                                       defaultValue=defaults.overlap, minValue=0.0, maxValue=0.9))
        self.addParameter(QgsProcessingParameterNumber("MIN_GRAIN_PX", "Smallest grain (pixels; smaller patches are merged)",
                                                       type=NUMBER_INTEGER, defaultValue=defaults.min_grain_px,
                                                       minValue=0))
        self.addParameter(QgsProcessingParameterEnum("DEVICE", "Device", options=DEVICES, defaultValue=0))
        self.addParameter(advanced(QgsProcessingParameterBoolean("WITH_BACKGROUND", "Polygons for non-ore too",
                                                                 defaultValue=defaults.include_background)))
        self.addParameter(advanced(_size_param()))
        self.addParameter(QgsProcessingParameterRasterDestination("OUTPUT_CLASSES", "Mineral classes"))
        polygons = QgsProcessingParameterVectorDestination("OUTPUT_POLYGONS", "Mineral polygons",
                                                           type=SOURCE_VECTOR_POLYGON)
        polygons.setSupportsNonFileBasedOutput(False)
        self.addParameter(polygons)
        self.addParameter(QgsProcessingParameterRasterDestination("OUTPUT_PROBABILITIES", "Class probabilities",
                                                                  optional=True, createByDefault=False))
        self.addParameter(QgsProcessingParameterFolderDestination("OUTPUT_STATS", "Statistics folder",
                                                                  optional=True, createByDefault=False))
        self.addParameter(QgsProcessingParameterRasterDestination(
            "OUTPUT_PHOTO", "Photograph in micrometres (for a plain photo with a pixel size)", optional=True,
            createByDefault=True))
        self.addOutput(QgsProcessingOutputNumber("N_GRAINS", "Number of grain polygons"))
        self.addOutput(QgsProcessingOutputString("MODEL_NOTE", "Model caveat (DEMO / synthetic training)"))
        self.addOutput(QgsProcessingOutputHtml("OUTPUT_REPORT", "Mineral statistics report"))

    def call_geocore(self, parameters: Dict, context, feedback) -> Dict:
        from geocore.minerals.segment import segment_image

        image = self.raster_source(parameters, "INPUT", context)
        classes = self.parameterAsOutputLayer(parameters, "OUTPUT_CLASSES", context)
        polygons = self.parameterAsOutputLayer(parameters, "OUTPUT_POLYGONS", context)
        probs = self.parameterAsOutputLayer(parameters, "OUTPUT_PROBABILITIES", context) or None
        photo = self.parameterAsOutputLayer(parameters, "OUTPUT_PHOTO", context) or None
        stats = self.parameterAsString(parameters, "OUTPUT_STATS", context) or None
        um = self.parameterAsDouble(parameters, "UM_PER_PX", context)
        tile = self.parameterAsInt(parameters, "TILE_SIZE", context)
        params = _minerals_params().SegmentParams(
            um_per_px=um if um > 0 else None, tile_size=tile if tile > 0 else None,
            overlap=self.parameterAsDouble(parameters, "OVERLAP", context),
            device=DEVICES[self.parameterAsEnum(parameters, "DEVICE", context)],
            min_grain_px=self.parameterAsInt(parameters, "MIN_GRAIN_PX", context),
            include_background=self.parameterAsBool(parameters, "WITH_BACKGROUND", context),
            size_classes=_size_classes(self.parameterAsString(parameters, "SIZE_CLASSES", context)))
        with contextlib.ExitStack() as stack:
            classes_tif = stack.enter_context(geotiff_output(classes))
            probs_tif = stack.enter_context(geotiff_output(probs)) if probs else None
            photo_tif = stack.enter_context(geotiff_output(photo)) if photo else None
            result = segment_image(
                image, classes_tif, params, polygons_path=polygons, probabilities_path=probs_tif,
                photo_path=photo_tif, stats_dir=stats,
                model_path=self.parameterAsFile(parameters, "MODEL", context) or None,
                progress=self.progress(feedback), cancel=feedback.isCanceled)
        if result.notice:
            feedback.pushWarning(f"WARNING: {result.notice}")
        feedback.pushInfo(f"{result.n_polygons} grain polygons written to {polygons}")
        tag = demo_tag(result.notice)
        for label, f in sorted(result.fractions.items(), key=lambda kv: -kv[1]):
            feedback.pushInfo(f"{label}: {100 * f:.2f} %{tag}")
        self.style_output(classes, "mineral_classes")
        self.style_output(polygons, "minerals")
        self._names = {classes: f"Mineral classes{tag}", polygons: f"Mineral polygons{tag}"}
        if probs:
            self._names[probs] = f"Class probabilities{tag}"
        self._frame = None
        if result.photo is not None:
            self._names[photo] = f"{Path(image).stem} (µm, {result.um_per_px:g} µm/px)"
            self._frame = (image, classes)
            feedback.pushInfo(f"the outputs are in micrometres ({result.um_per_px:g} µm per pixel); the plain "
                              f"photograph is shown by QGIS in pixels, so its copy in micrometres is loaded in "
                              f"its place: {photo}")
        elif photo and um > 0:
            feedback.pushInfo("the image is already in micrometres: no copy of it was needed")
        out = {"OUTPUT_CLASSES": classes, "OUTPUT_POLYGONS": polygons, "OUTPUT_PROBABILITIES": probs,
               "OUTPUT_STATS": stats, "N_GRAINS": result.n_polygons,
               "OUTPUT_PHOTO": photo if result.photo is not None else None, "MODEL_NOTE": result.notice,
               "OUTPUT_REPORT": str(Path(stats) / "report.html") if stats else None}
        self._unwritten = [photo] if photo and result.photo is None else []
        return out

    def postProcessAlgorithm(self, context, feedback) -> Dict:  # noqa: N802
        super().postProcessAlgorithm(context, feedback)
        name_loaded_outputs(context, getattr(self, "_names", {}), getattr(self, "_unwritten", []))
        frame = getattr(self, "_frame", None)
        if frame is not None:
            show_in_micrometres(context, *frame, feedback)
        return {}


class MineralStatistics(GeocoreAlgorithm):
    NAME = "mineralstatistics"
    DISPLAY_NAME = "Mineral statistics"
    GROUP = "minerals"
    HELP = f"""<p>Mineral statistics of a class map (e.g. the output of <i>Segment ore minerals</i>): area
fraction of each class (of the whole section and of the ore), grain-size distribution of each mineral
(grains are 4-connected patches; size is the equivalent circle diameter ECD = 2&radic;(A/&pi;) in
micrometres, counted in the size classes you choose), and the contact (association) matrix: the length
of boundary each pair of minerals shares.</p>
<h3>Inputs</h3>
<ul><li><b>Class map</b>: 8-bit raster of LumenStone codes (255 = nodata).</li>
<li><b>Pixel size</b>: micrometres per pixel; 0 takes it from the map's micrometre CRS (1 otherwise).</li>
<li><b>Size classes</b>: class edges in µm.</li></ul>
<h3>Outputs</h3>
<ul><li><b>Output folder</b>: <code>stats.csv</code> (one row per class: pixels, area_um2,
area_fraction, ore_fraction, grains, ECD mean/median/D10/D90/max, boundary), <code>grain_sizes.csv</code>,
<code>contacts.csv</code>, <code>area_fractions.png</code>, <code>grain_sizes.png</code>,
<code>contacts.png</code> and <code>report.html</code> (all in one page, to attach to a report).</li>
<li><b>Report</b>: the HTML report, shown in the Results Viewer.</li></ul>
{CLASS_TABLE}"""

    def initAlgorithm(self, config=None) -> None:  # noqa: N802
        self.addParameter(QgsProcessingParameterRasterLayer("INPUT", "Class map"))
        self.addParameter(QgsProcessingParameterNumber("UM_PER_PX", "Pixel size (µm; 0: from the map's CRS)",
                                                       type=NUMBER_DOUBLE, defaultValue=0.0, minValue=0.0))
        self.addParameter(_size_param())
        self.addParameter(QgsProcessingParameterFolderDestination("OUTPUT_FOLDER", "Output folder"))
        self.addOutput(QgsProcessingOutputHtml("OUTPUT_REPORT", "Mineral statistics report"))
        self.addOutput(QgsProcessingOutputFile("OUTPUT_TABLE", "Statistics table (stats.csv)"))

    def call_geocore(self, parameters: Dict, context, feedback) -> Dict:
        from geocore.minerals.stats import class_map_note, statistics_from_raster, write_statistics

        source = self.raster_source(parameters, "INPUT", context)
        folder = self.parameterAsString(parameters, "OUTPUT_FOLDER", context)
        um = self.parameterAsDouble(parameters, "UM_PER_PX", context)
        st = statistics_from_raster(source, um_per_px=um if um > 0 else None,
                                    size_classes=_size_classes(self.parameterAsString(parameters, "SIZE_CLASSES", context)),
                                    progress=self.progress(feedback), cancel=feedback.isCanceled)
        note = class_map_note(source)
        if note:
            feedback.pushWarning(f"WARNING: {note}")
        paths = write_statistics(st, folder, source=f"Class map: {Path(source).name}", warning=note)
        for c, f in sorted(st.area_fraction.items(), key=lambda kv: -kv[1]):
            feedback.pushInfo(f"class {c}: {100 * f:.2f} %")
        return {"OUTPUT_FOLDER": folder, "OUTPUT_REPORT": str(paths["report.html"]),
                "OUTPUT_TABLE": str(paths["stats.csv"])}


class SynthesizeSection(GeocoreAlgorithm):
    NAME = "synthesizesection"
    DISPLAY_NAME = "Synthesize polished section"
    GROUP = "minerals"
    HELP = f"""<p>Makes a synthetic reflected-light photograph of a polished section with its true class
map: ore grains (blob aggregates cut into irregular grains, inclusions, euhedral crystals) of two to four
minerals of LumenStone sets S1 + S2 with realistic reflected-light colours, in a dark non-ore matrix, with
texture, polishing scratches, pits, uneven illumination and noise. For trying the mineral tools on an image
with a known answer, and for training data.</p>
<h3>Inputs</h3>
<ul><li><b>Rows</b>, <b>columns</b> in pixels; <b>seed</b> (the same seed gives the same section).</li>
<li><b>Pixel size</b> in µm (places the images in the local micrometre CRS).</li>
<li><b>Grain size</b>: typical grain diameter in pixels.</li>
<li><b>Data set sections</b>: with an output data set folder, that many further sections (seeds
seed, seed + 1, ...) are written in the LumenStone layout for <i>Train mineral model</i>.</li></ul>
<h3>Outputs</h3>
<ul><li><b>Photograph</b>: RGB GeoTIFF.</li>
<li><b>True classes</b>: class map (LumenStone codes), loaded with the LumenStone colours.</li>
<li><b>Data set folder</b> (optional): <code>imgs/{{train,test}}/*.jpg</code> and
<code>masks/{{train,test}}/*.png</code>.</li></ul>
{CLASS_TABLE}"""

    def initAlgorithm(self, config=None) -> None:  # noqa: N802
        self.addParameter(integer_param("ROWS", "Rows (pixels)", 512, 16))
        self.addParameter(integer_param("COLS", "Columns (pixels)", 512, 16))
        self.addParameter(integer_param("SEED", "Random seed", 0, 0))
        self.addParameter(QgsProcessingParameterNumber("UM_PER_PX", "Pixel size (µm)", type=NUMBER_DOUBLE,
                                                       defaultValue=1.0, minValue=1e-6))
        self.addParameter(QgsProcessingParameterNumber("GRAIN_PX", "Typical grain diameter (pixels)",
                                                       type=NUMBER_DOUBLE, defaultValue=48.0, minValue=4.0))
        self.addParameter(integer_param("COUNT", "Data set sections (with a data set folder)", 20, 1))
        self.addParameter(QgsProcessingParameterRasterDestination("OUTPUT_IMAGE", "Photograph"))
        self.addParameter(QgsProcessingParameterRasterDestination("OUTPUT_MASK", "True classes"))
        self.addParameter(QgsProcessingParameterFolderDestination("OUTPUT_DATASET", "Data set folder (LumenStone layout)",
                                                                  optional=True, createByDefault=False))

    def call_geocore(self, parameters: Dict, context, feedback) -> Dict:
        from geocore.minerals.synthetic import write_section_rasters, write_sections

        image = self.parameterAsOutputLayer(parameters, "OUTPUT_IMAGE", context)
        mask = self.parameterAsOutputLayer(parameters, "OUTPUT_MASK", context)
        dataset = self.parameterAsString(parameters, "OUTPUT_DATASET", context) or None
        seed = self.parameterAsInt(parameters, "SEED", context)
        grain = self.parameterAsDouble(parameters, "GRAIN_PX", context)
        shape = (self.parameterAsInt(parameters, "ROWS", context), self.parameterAsInt(parameters, "COLS", context))
        with contextlib.ExitStack() as stack:
            image_tif = stack.enter_context(geotiff_output(image))
            mask_tif = stack.enter_context(geotiff_output(mask))
            write_section_rasters(image_tif, mask_tif, shape=shape, seed=seed,
                                  um_per_px=self.parameterAsDouble(parameters, "UM_PER_PX", context), grain_px=grain)
        if dataset:
            res = write_sections(dataset, self.parameterAsInt(parameters, "COUNT", context), shape=shape, seed=seed,
                                 grain_px=grain, progress=self.progress(feedback), cancel=feedback.isCanceled)
            feedback.pushInfo(f"{res['train']} training and {res['test']} test sections in {dataset}")
        self.style_output(mask, "mineral_classes")
        return {"OUTPUT_IMAGE": image, "OUTPUT_MASK": mask, "OUTPUT_DATASET": dataset}


class TrainMineralModel(GeocoreAlgorithm):
    NAME = "trainmineralmodel"
    DISPLAY_NAME = "Train mineral model"
    GROUP = "minerals"
    HELP = f"""<p>Trains an ore-mineral segmentation model on data sets in the LumenStone layout
(<code>imgs/{{train,test}}/NAME.jpg</code>, <code>masks/{{train,test}}/NAME.png</code> holding class
codes, 255 = ignore), with the paper's settings: class-balanced patches, cross-entropy, Adam with the
learning rate halved on plateau, rotation/scale/brightness/colour augmentation. The model is written as a
<code>.safetensors</code> file with a <code>.json</code> card beside it (classes, training command,
test mean IoU and pixel accuracy); give it to <i>Segment ore minerals</i>.</p>
<h3>Inputs</h3>
<ul><li><b>Data set folder</b> and optionally a <b>second data set folder</b> (e.g. LumenStone S1 and S2).</li>
<li><b>Classes</b>: a set (S1, S2, S1+S2), labels or codes; empty: the classes found in the masks.</li>
<li><b>Architecture</b> and <b>encoder</b> (segmentation-models-pytorch names): U-Net + vgg16 is the
default, PSPNet + resnet18 the paper's best.</li>
<li><b>Patch size</b>, <b>epochs</b>, <b>patches per epoch</b>, <b>batch size</b>, <b>learning rate</b>,
<b>seed</b>, <b>device</b> (training on a CPU is slow).</li></ul>
<h3>Outputs</h3>
<ul><li><b>Model</b>: the <code>.safetensors</code> weights (fp16); the card is beside it (<code>.json</code>).</li>
<li><b>Mean IoU</b>, <b>pixel accuracy</b> on the test split.</li></ul>
{CLASS_TABLE}"""

    def initAlgorithm(self, config=None) -> None:  # noqa: N802
        P = _minerals_params()  # noqa: N806 (the library's defaults)
        self.addParameter(QgsProcessingParameterFile("DATA", "Data set folder (LumenStone layout)",
                                                     behavior=FILE_BEHAVIOR_FOLDER))
        self.addParameter(QgsProcessingParameterFile("DATA2", "Second data set folder", behavior=FILE_BEHAVIOR_FOLDER,
                                                     optional=True))
        self.addParameter(QgsProcessingParameterString("CLASSES", "Classes (S1, S1+S2, codes; empty: from the masks)",
                                                       defaultValue="", optional=True))
        self.addParameter(QgsProcessingParameterEnum("ARCH", "Architecture", options=list(P.ARCHITECTURES),
                                                     defaultValue=0))
        self.addParameter(QgsProcessingParameterString("ENCODER", "Encoder", defaultValue=P.DEFAULT_ENCODER))
        self.addParameter(integer_param("PATCH", "Patch size (pixels, multiple of 32)", P.DEFAULT_PATCH, 32))
        self.addParameter(integer_param("EPOCHS", "Epochs", P.DEFAULT_EPOCHS))
        self.addParameter(integer_param("PATCHES_PER_EPOCH", "Patches per epoch", P.DEFAULT_PATCHES_PER_EPOCH))
        self.addParameter(integer_param("BATCH_SIZE", "Batch size", P.DEFAULT_BATCH_SIZE))
        self.addParameter(QgsProcessingParameterNumber("LEARNING_RATE", "Learning rate", type=NUMBER_DOUBLE,
                                                       defaultValue=P.DEFAULT_LR, **number_range("lr")))
        self.addParameter(integer_param("SEED", "Random seed", 0, 0))
        self.addParameter(QgsProcessingParameterEnum("DEVICE", "Device", options=DEVICES, defaultValue=0))
        self.addParameter(QgsProcessingParameterFileDestination("OUTPUT_MODEL", "Model",
                                                                fileFilter="geocore models (*.safetensors)"))
        self.addOutput(QgsProcessingOutputNumber("MEAN_IOU", "Test mean IoU"))
        self.addOutput(QgsProcessingOutputNumber("PIXEL_ACCURACY", "Test pixel accuracy"))

    def call_geocore(self, parameters: Dict, context, feedback) -> Dict:
        from geocore.minerals.train import MineralTrainConfig, train_mineral_model
        from geocore.models.card import ModelCard

        data = [self.parameterAsFile(parameters, "DATA", context)]
        second = self.parameterAsFile(parameters, "DATA2", context)
        if second:
            data.append(second)
        arch = _minerals_params().ARCHITECTURES[self.parameterAsEnum(parameters, "ARCH", context)]
        config = MineralTrainConfig(
            data=data, out=Path(self.parameterAsFileOutput(parameters, "OUTPUT_MODEL", context)),
            classes=self.parameterAsString(parameters, "CLASSES", context) or None, arch=arch,
            encoder=self.parameterAsString(parameters, "ENCODER", context),
            patch=self.parameterAsInt(parameters, "PATCH", context),
            epochs=self.parameterAsInt(parameters, "EPOCHS", context),
            patches_per_epoch=self.parameterAsInt(parameters, "PATCHES_PER_EPOCH", context),
            batch_size=self.parameterAsInt(parameters, "BATCH_SIZE", context),
            lr=self.parameterAsDouble(parameters, "LEARNING_RATE", context),
            seed=self.parameterAsInt(parameters, "SEED", context),
            device=DEVICES[self.parameterAsEnum(parameters, "DEVICE", context)])
        model = train_mineral_model(config, progress=self.progress(feedback), cancel=feedback.isCanceled,
                                    log=feedback.pushInfo)
        test = ModelCard.load(Path(model).with_suffix(".json")).metrics["test"]
        feedback.pushInfo(f"model: {model}\ncard: {Path(model).with_suffix('.json')}")
        return {"OUTPUT_MODEL": str(model), "MEAN_IOU": test["mean_iou"], "PIXEL_ACCURACY": test["pixel_accuracy"]}


class EvaluateMineralModel(GeocoreAlgorithm):
    NAME = "evaluatemineralmodel"
    DISPLAY_NAME = "Evaluate mineral model"
    GROUP = "minerals"
    HELP = """<p>Measures a mineral model on a data set in the LumenStone layout exactly as the LumenStone
paper does: IoU of each class summed over the whole split (sum of intersections over sum of unions), mean
IoU over the classes present, pixel accuracy over labelled pixels (255 = ignore left out), and the
confusion matrix. A model trained on LumenStone S1 + S2 can so be compared with the paper's 0.88 mean IoU
and 0.96 pixel accuracy.</p>
<h3>Inputs</h3>
<ul><li><b>Data set folder</b>: <code>imgs/&lt;split&gt;/</code> and <code>masks/&lt;split&gt;/</code>.</li>
<li><b>Model</b>: empty uses the shipped DEMO model.</li>
<li><b>Split</b>: test (default) or train.</li></ul>
<h3>Outputs</h3>
<ul><li><b>Mean IoU</b>, <b>pixel accuracy</b>.</li>
<li><b>Metrics</b> (optional): JSON with per-class IoU and the confusion matrix.</li></ul>"""

    def initAlgorithm(self, config=None) -> None:  # noqa: N802
        self.addParameter(QgsProcessingParameterFile("DATA", "Data set folder (LumenStone layout)",
                                                     behavior=FILE_BEHAVIOR_FOLDER))
        self.addParameter(QgsProcessingParameterFile("MODEL", "Model (.safetensors; empty: shipped DEMO model)",
                                                     behavior=FILE_BEHAVIOR_FILE, extension="safetensors",
                                                     optional=True))
        self.addParameter(QgsProcessingParameterEnum("SPLIT", "Split", options=SPLITS, defaultValue=0))
        self.addParameter(QgsProcessingParameterEnum("DEVICE", "Device", options=DEVICES, defaultValue=0))
        self.addParameter(QgsProcessingParameterFileDestination("OUTPUT_JSON", "Metrics (JSON)",
                                                                fileFilter="JSON files (*.json)", optional=True,
                                                                createByDefault=False))
        self.addOutput(QgsProcessingOutputNumber("MEAN_IOU", "Mean IoU"))
        self.addOutput(QgsProcessingOutputNumber("PIXEL_ACCURACY", "Pixel accuracy"))

    def call_geocore(self, parameters: Dict, context, feedback) -> Dict:
        import json

        from geocore.files import atomic_output
        from geocore.minerals.train import evaluate_model

        m = evaluate_model([self.parameterAsFile(parameters, "DATA", context)],
                           self.parameterAsFile(parameters, "MODEL", context) or None,
                           split=SPLITS[self.parameterAsEnum(parameters, "SPLIT", context)],
                           device=DEVICES[self.parameterAsEnum(parameters, "DEVICE", context)],
                           progress=self.progress(feedback), cancel=feedback.isCanceled)
        if m.get("model_note"):
            feedback.pushWarning(f"WARNING: {m['model_note']}")
        feedback.pushInfo(f"mean IoU {m['mean_iou']:.4f}, pixel accuracy {m['pixel_accuracy']:.4f} "
                          f"on {m['images']} images")
        for label, v in m["iou"].items():
            feedback.pushInfo(f"IoU {label}: {v:.4f}")
        out_json = self.parameterAsFileOutput(parameters, "OUTPUT_JSON", context) or None
        if out_json:
            with atomic_output(out_json) as tmp:
                tmp.write_text(json.dumps(m, indent=2) + "\n")
        return {"MEAN_IOU": m["mean_iou"], "PIXEL_ACCURACY": m["pixel_accuracy"], "OUTPUT_JSON": out_json}
