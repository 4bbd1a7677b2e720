"""The plugin as a user installs it: from the built zip, run by ``qgis_process``.

The zip is unzipped into the plugins folder of a throw-away QGIS profile
(``QGIS_CUSTOM_CONFIG_PATH``). QGIS's Python (/usr/bin/python3) gets the
third-party libraries from this venv's site-packages through PYTHONPATH; the
venv's editable ``geocore`` is *not* visible that way (``.pth`` files are not
read from PYTHONPATH), so the run uses the copy bundled in the zip.

Debian's ``/usr/bin/qgis_process`` wrapper passes an option the 3.22 binary
rejects, so ``qgis_process.bin`` is called directly.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest

pytest.importorskip("qgis.core", reason="QGIS Python bindings are not installed (apt-get install python3-qgis)")

from qgis.core import QgsRasterLayer, QgsVectorLayer  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
QGIS_PROCESS = shutil.which("qgis_process.bin") or shutil.which("qgis_process") or "/usr/bin/qgis_process.bin"
QGIS_PYTHON = "/usr/bin/python3"


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> SimpleNamespace:
    tmp = tmp_path_factory.mktemp("qgis_process")
    zip_path = tmp / "geocore_qgis.zip"
    subprocess.run([sys.executable, str(REPO / "scripts" / "build_plugin.py"), "--out", str(zip_path)],
                   check=True, capture_output=True, text=True)
    config = tmp / "config"
    plugins = config / "profiles" / "default" / "python" / "plugins"
    plugins.mkdir(parents=True)
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(plugins)
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", QGIS_CUSTOM_CONFIG_PATH=str(config),
               PYTHONPATH=sysconfig.get_paths()["purelib"])
    env.pop("VIRTUAL_ENV", None)
    installed = SimpleNamespace(env=env, plugins=plugins, tmp=tmp)
    out = qgis_process(installed, "plugins", "enable", "geocore_qgis")
    assert out.returncode == 0, out.stderr
    return installed


def qgis_process(installed, *args, timeout=600) -> subprocess.CompletedProcess:
    return subprocess.run([QGIS_PROCESS, *args], env=installed.env, capture_output=True, text=True,
                          timeout=timeout, cwd=installed.tmp)


def run_json(installed, algorithm, **params) -> dict:
    args = ["--json", "run", algorithm, "--"] + [f"{k}={v}" for k, v in params.items()]
    out = qgis_process(installed, *args)
    assert out.returncode == 0, f"{out.stdout[-3000:]}\n{out.stderr[-3000:]}"
    return json.loads(out.stdout[out.stdout.index("{"):])


def test_zip_layout(installed):
    folder = installed.plugins / "geocore_qgis"
    for name in ("__init__.py", "metadata.txt", "icons/geocore.svg", "styles/lineaments.qml",
                 "styles/probability.qml", "ext/geocore/__init__.py"):
        assert (folder / name).is_file(), name
    assert "hasProcessingProvider=yes" in (folder / "metadata.txt").read_text()
    assert list((folder / "ext" / "geocore").rglob("*.safetensors")), "shipped model missing from the zip"
    assert list((folder / "ext" / "geocore" / "minerals" / "models").glob("*.safetensors")), "mineral demo model"
    assert (folder / "styles" / "mineral_classes.qml").is_file() and (folder / "styles" / "minerals.qml").is_file()
    assert not list(folder.rglob("__pycache__"))


def test_qgis_python_sees_libraries_but_not_the_venv_geocore(installed):
    probe = ("import importlib.util as u; "
             "print([m for m in ('torch', 'rasterio', 'geopandas', 'skan', 'geocore') if u.find_spec(m) is None])")
    out = subprocess.run([QGIS_PYTHON, "-c", probe], env=installed.env, capture_output=True, text=True, check=True,
                         cwd=installed.tmp)
    assert out.stdout.strip() == "['geocore']"


def test_plugin_enabled_and_algorithms_listed(installed):
    plugins = qgis_process(installed, "plugins")
    assert "* geocore_qgis" in plugins.stdout
    listing = qgis_process(installed, "list")
    assert listing.returncode == 0
    for name in ("detectlineaments", "vectorizelineaments", "synthesizesurvey", "trainlineamentmodel",
                 "convertgrid", "gridflightlines", "transformgrid", "comparelineaments", "stitchpanorama",
                 "flatfield", "colourfit", "colourcorrect", "alignpolarized", "superpixelannotate",
                 "uncertaintyregions", "segmentminerals", "mineralstatistics", "synthesizesection",
                 "trainmineralmodel", "evaluatemineralmodel"):
        assert f"geocore:{name}" in listing.stdout
    help_text = qgis_process(installed, "help", "geocore:detectlineaments")
    assert "OUTPUT_LINES" in help_text.stdout


def test_synthesize_then_detect_with_qgis_process(installed):
    out = installed.tmp / "run"
    survey = run_json(installed, "geocore:synthesizesurvey", ROWS=256, COLS=256, SEED=11, PRESET=0,
                      OUTPUT_FIELD=out / "field.tif", OUTPUT_MASK=out / "mask.tif", OUTPUT_AXES=out / "axes.shp")
    assert survey["results"]["N_DYKES"] > 0
    # the run used the geocore bundled in the zip
    bundled = str(installed.plugins / "geocore_qgis" / "ext" / "geocore")
    assert any(bundled in line for line in survey["log"]["info"]), survey["log"]

    detected = run_json(installed, "geocore:detectlineaments", INPUT=out / "field.tif", DEVICE=1,
                        OUTPUT_PROBABILITY=out / "probability.tif", OUTPUT_LINES=out / "lineaments.gpkg",
                        OUTPUT_ROSE=out / "rose.png")
    results = detected["results"]
    probability = QgsRasterLayer(results["OUTPUT_PROBABILITY"], "p", "gdal")
    lines = QgsVectorLayer(results["OUTPUT_LINES"], "l", "ogr")
    assert probability.isValid() and lines.isValid()
    assert probability.crs().authid() == lines.crs().authid() == "EPSG:32633"
    assert lines.featureCount() == results["N_LINES"] > 0
    assert {"length", "azimuth", "mean_prob", "max_prob"} <= set(lines.fields().names())
    assert (out / "rose.png").stat().st_size > 1000


def test_detect_without_a_probability_output_uses_a_temporary_one(installed, tmp_path):
    import numpy as np
    import rasterio
    from rasterio.windows import Window

    survey = tmp_path / "survey"
    run_json(installed, "geocore:synthesizesurvey", ROWS=64, COLS=64, SEED=5, PRESET=0,
             OUTPUT_FIELD=survey / "field.tif", OUTPUT_MASK=survey / "mask.tif", OUTPUT_AXES=survey / "axes.gpkg")
    with rasterio.open(survey / "field.tif") as ds:
        assert ds.shape == (64, 64) and np.isfinite(ds.read(1, window=Window(0, 0, 8, 8))).all()
    detected = run_json(installed, "geocore:detectlineaments", INPUT=survey / "field.tif", DEVICE=1,
                        OUTPUT_LINES=tmp_path / "lines.gpkg")["results"]
    # qgis_process made (and, on exit, removed) a temporary probability raster
    assert Path(detected["OUTPUT_PROBABILITY"]).name == "OUTPUT_PROBABILITY.tif"
    assert not Path(detected["OUTPUT_PROBABILITY"]).is_relative_to(tmp_path)
    lines = QgsVectorLayer(detected["OUTPUT_LINES"], "l", "ogr")
    assert lines.isValid() and lines.featureCount() == detected["N_LINES"]


def test_transform_grid_with_qgis_process(installed):
    import numpy as np
    from rasterio.crs import CRS
    from rasterio.transform import from_origin

    from geocore.grids.io import Grid, read_grid, write_geotiff

    out = installed.tmp / "transform"
    x = np.arange(64) * 50.0
    field = np.tanh((x[None, :] - 1600.0) / 300.0) * np.ones((64, 1))  # a north-south step
    write_geotiff(Grid(field, from_origin(500000, 6000000, 50, 50), CRS.from_epsg(32633)), out / "step.tif")
    result = run_json(installed, "geocore:transformgrid", INPUT=out / "step.tif", OPERATION=5,
                      OUTPUT=out / "thg.tif")["results"]
    thg = read_grid(result["OUTPUT"]).data
    assert np.argmax(thg[32]) in (31, 32)  # the horizontal gradient peaks over the step


def test_stitch_panorama_with_qgis_process(installed):
    tiles = Path(os.environ.get("GEOCORE_TEST_DATA", REPO / ".." / "shared" / "data")) / "tiles" / "stitch2d_bse_2x3"
    if not tiles.is_dir():
        pytest.skip(f"real microscope tiles not found in {tiles}")
    out = installed.tmp / "pano"
    result = run_json(installed, "geocore:stitchpanorama", FOLDER=tiles, UM_PER_PX=0.5, OUTPUT=out / "bse.tif",
                      OUTPUT_REPORT=out / "pairs.csv")["results"]
    assert result["N_TILES"] == 6 and result["PAIRS_USED"] == 7
    layer = QgsRasterLayer(result["OUTPUT"], "p", "gdal")
    assert layer.isValid() and layer.rasterUnitsPerPixelX() == 0.5
    assert (out / "pairs.csv").is_file()


def test_synthesize_section_then_segment_minerals_with_qgis_process(installed):
    out = installed.tmp / "minerals"
    run_json(installed, "geocore:synthesizesection", ROWS=128, COLS=128, SEED=3, UM_PER_PX=1.5,
             OUTPUT_IMAGE=out / "section.tif", OUTPUT_MASK=out / "truth.tif")
    seg = run_json(installed, "geocore:segmentminerals", INPUT=out / "section.tif", UM_PER_PX=1.5, DEVICE=1,
                   OUTPUT_CLASSES=out / "classes.tif", OUTPUT_POLYGONS=out / "minerals.gpkg",
                   OUTPUT_STATS=out / "stats")
    polygons = QgsVectorLayer(seg["results"]["OUTPUT_POLYGONS"], "m", "ogr")
    assert polygons.isValid() and polygons.featureCount() == seg["results"]["N_GRAINS"] > 0
    assert {"code", "name", "area"} <= set(polygons.fields().names())
    assert (out / "stats" / "stats.csv").is_file()


def test_without_libraries_the_provider_loads_and_explains(installed, tmp_path):
    """QGIS's Python alone (no PYTHONPATH): algorithms are listed, running one names the pip command."""
    bare = dict(installed.env)
    bare.pop("PYTHONPATH")
    bare_install = SimpleNamespace(env=bare, plugins=installed.plugins, tmp=installed.tmp)
    listing = qgis_process(bare_install, "list")
    assert "geocore:detectlineaments" in listing.stdout
    assert "geocore:superpixelannotate" in listing.stdout  # dialogs are built without the libraries
    out = qgis_process(bare_install, "run", "geocore:synthesizesurvey", "--", f"OUTPUT_FIELD={tmp_path / 'f.tif'}",
                       f"OUTPUT_MASK={tmp_path / 'm.tif'}", f"OUTPUT_AXES={tmp_path / 'a.gpkg'}")
    assert out.returncode != 0
    text = out.stdout + out.stderr
    # QGIS's own interpreter, not whatever python3 comes first on PATH
    python = f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}"
    assert f'"{python}" -m pip install --user' in text and '"rasterio>=1.3"' in text, text[-2000:]
    assert text.count("needs Python libraries") == 1, text[-3000:]  # printed once
    # only what the survey needs: no PyTorch in its list
    assert "'Synthesize dyke survey' needs" in text and "torch" not in text
    assert not list(tmp_path.iterdir())


def test_flatfield_with_qgis_process(installed, tmp_path):
    """A microscopy algorithm from the zip: the bundled geocore, a photo series in, same names out."""
    import cv2
    import numpy as np

    y, x = np.mgrid[0:120, 0:160]
    light = (1.0 - 1.2 * (((y - 50) / 120) ** 2 + ((x - 70) / 160) ** 2))[..., None]
    cv2.imwrite(str(tmp_path / "mirror.png"), np.round(np.repeat(200 * light, 3, axis=2)).astype(np.uint8))
    cv2.imwrite(str(tmp_path / "a.jpg"), np.round(np.repeat(100 * light, 3, axis=2)).astype(np.uint8))
    out = tmp_path / "out"
    result = run_json(installed, "geocore:flatfield", INPUT=tmp_path / "a.jpg", REFERENCE=tmp_path / "mirror.png",
                      SIGMA=3, OUTPUT_FOLDER=out)
    assert [Path(p).name for p in result["results"]["OUTPUT_LAYERS"]] == ["a.jpg"]
    corrected = cv2.imread(str(out / "a.jpg")).astype(float)
    assert np.ptp(corrected[5:-5, 5:-5].mean(axis=2)) < 8


TORCH_PACKAGES = re.compile(r"^(torch|torchvision|segmentation_models_pytorch|functorch)([-_.]|$)")


def test_without_pytorch_grids_convert_and_detect_names_only_what_it_lacks(installed, tmp_path):
    """QGIS's Python with every library but PyTorch (a copy of the venv's site-packages without it)."""
    import numpy as np
    import rasterio
    from rasterio.transform import from_origin

    site = Path(sysconfig.get_paths()["purelib"])
    no_torch = tmp_path / "site-packages-without-torch"
    no_torch.mkdir()
    for entry in site.iterdir():
        if not TORCH_PACKAGES.match(entry.name):
            (no_torch / entry.name).symlink_to(entry)
    env = dict(installed.env, PYTHONPATH=str(no_torch))
    bare = SimpleNamespace(env=env, plugins=installed.plugins, tmp=installed.tmp)
    probe = subprocess.run([QGIS_PYTHON, "-c", "import importlib.util as u; print(u.find_spec('torch'), "
                            "u.find_spec('rasterio') is not None)"], env=env, capture_output=True, text=True)
    assert probe.stdout.split() == ["None", "True"]

    src = tmp_path / "grid.tif"
    with rasterio.open(src, "w", driver="GTiff", width=64, height=64, count=1, dtype="float32", crs="EPSG:32633",
                       transform=from_origin(500000, 6000000, 50, 50)) as ds:
        ds.write(np.random.default_rng(0).normal(size=(64, 64)).astype(np.float32), 1)
    converted = run_json(bare, "geocore:convertgrid", INPUT=src, OUTPUT=tmp_path / "copy.tif")
    assert Path(converted["results"]["OUTPUT"]).is_file()
    thg = run_json(bare, "geocore:transformgrid", INPUT=src, OPERATION=5, OUTPUT=tmp_path / "thg.tif")
    assert Path(thg["results"]["OUTPUT"]).is_file()

    out = qgis_process(bare, "run", "geocore:detectlineaments", "--", f"INPUT={src}",
                       f"OUTPUT_LINES={tmp_path / 'l.gpkg'}")
    text = out.stdout + out.stderr
    assert out.returncode != 0 and not (tmp_path / "l.gpkg").exists()
    assert text.count("needs Python libraries") == 1, text[-3000:]  # once, not three times
    needs = text[text.index("'Detect lineaments' needs"):].splitlines()[0]
    assert needs.endswith("cannot find: torch>=2.1, segmentation-models-pytorch>=0.3."), needs
    assert "Check / install Python libraries" in text

    # the installer runs headless: a check-only run lists what each algorithm lacks
    check = run_json(bare, "geocore:installdependencies", INSTALL="false", SELF_TEST="false")
    assert check["results"]["MISSING_BEFORE"].split() == ["torch>=2.1", "torchvision", "segmentation-models-pytorch>=0.3"]
    info = "\n".join(check["log"]["info"]) if isinstance(check["log"].get("info"), list) else str(check["log"])
    assert "Detect lineaments: needs torch>=2.1" in info and "Convert survey grid" not in info
