"""The detect / vectorize pipeline through the command line: outputs, and one-line errors."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from cancelling import CancelAfter
from geocore.cli import main
from geocore.errors import Cancelled
from geocore.inference import TileParams
from geocore.lineaments.detect import default_model_path, detect_to_folder

TRANSFORM = from_origin(600000.0, 7500000.0, 100.0, 100.0)
OUTPUTS = {"probability.tif", "lineaments.gpkg", "lineaments.shp", "lineaments.shx", "lineaments.dbf",
           "lineaments.prj", "lineaments.cpg", "rose.png", "density.tif", "preview.png"}


def write_tif(path, data, nodata=None):
    data = np.asarray(data)
    if data.ndim == 2:
        data = data[None]
    with rasterio.open(path, "w", driver="GTiff", count=data.shape[0], height=data.shape[1],
                       width=data.shape[2], dtype=data.dtype.name, crs="EPSG:32735", transform=TRANSFORM,
                       nodata=nodata) as ds:
        ds.write(data)
    return path


@pytest.fixture(scope="module")
def model_path(tmp_path_factory):
    from tiny_models import tiny_lineament_model

    return tiny_lineament_model(tmp_path_factory.mktemp("model") / "m.safetensors", decoder=16)


@pytest.fixture()
def grid(tmp_path):
    y, x = np.mgrid[0:96, 0:110].astype(np.float32)
    g = 200.0 * np.exp(-((x - 50 - 0.3 * y) ** 2) / 20.0) + 0.1 * x
    g[:5, :7] = np.nan
    return write_tif(tmp_path / "grid.tif", g.astype(np.float32))


def run_error(capsys, argv):
    rc = main(argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert len(err) == 1 and err[0].startswith("geocore: error: "), err
    return err[0]


def test_detect_writes_all_outputs(tmp_path, grid, model_path, capsys):
    before = grid.read_bytes()
    rc = main(["-q", "lineaments", "detect", str(grid), "--out-dir", str(tmp_path / "out"),
               "--model", str(model_path), "--threshold", "0.5", "--batch-size", "4"])
    out = capsys.readouterr().out
    assert rc == 0
    names = {p.name for p in (tmp_path / "out").iterdir()}
    assert OUTPUTS <= names and not [n for n in names if n.startswith(".")]
    assert "lineaments, total length" in out and "probability:" in out
    with rasterio.open(tmp_path / "out" / "probability.tif") as ds:
        p = ds.read(1)
        assert ds.crs.to_epsg() == 32735 and ds.transform == TRANSFORM
    assert np.isnan(p[:5, :7]).all() and np.isfinite(p[5:]).all()
    assert grid.read_bytes() == before


def test_vectorize_command(tmp_path, capsys):
    prob = np.zeros((80, 90), np.float32)
    prob[40, 10:80] = 0.9
    src = write_tif(tmp_path / "prob.tif", prob)
    assert main(["-q", "lineaments", "vectorize", str(src), "--out-dir", str(tmp_path / "v")]) == 0
    assert "1 lineaments, total length 6.90 km" in capsys.readouterr().out
    names = {p.name for p in (tmp_path / "v").iterdir()}
    assert (OUTPUTS - {"probability.tif"}) <= names


def test_vectorize_options_reach_the_vectoriser(tmp_path, capsys):
    """Two collinear segments 6 cells apart: joined by default, kept apart with --max-gap 0,
    and both dropped when --min-length exceeds the joined length (70 cells)."""
    prob = np.zeros((80, 100), np.float32)
    prob[40, 10:45] = prob[40, 51:90] = 0.9
    src = write_tif(tmp_path / "prob.tif", prob)
    counts = {}
    for name, extra in {"default": [], "nojoin": ["--max-gap", "0"], "long": ["--min-length", "200"]}.items():
        assert main(["-q", "lineaments", "vectorize", str(src), "--out-dir", str(tmp_path / name), *extra]) == 0
        counts[name] = int(capsys.readouterr().out.split("\n")[-2].split()[0])
    assert counts == {"default": 1, "nojoin": 2, "long": 0}
    assert main(["-q", "lineaments", "vectorize", str(src), "--out-dir", str(tmp_path / "bad"),
                 "--join-angle", "120"]) == 2
    assert "--join-angle: must be a number in [0, 90]" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()


@pytest.mark.parametrize("case,match", [
    ("not_raster", "is not a raster GDAL can read"),
    ("all_nan", "contains no valid cells"),
    ("multiband", "has 3 bands; choose one with --band (1..3)"),
    ("out_is_file", "is an existing file"),
    ("corrupt_model", "is not a safetensors model file"),
    ("overlap", "--overlap: must be a number in [0, 1)"),
    ("threshold", "--threshold: must be a number in (0, 1)"),
    ("tile", "tile size 48 is not a positive multiple of 32"),
    ("missing", "does not exist"),
])
def test_detect_bad_input_is_one_line(tmp_path, grid, model_path, capsys, case, match):
    out_dir = tmp_path / "out"
    model = model_path
    extra = []
    src = grid
    if case == "not_raster":
        src = tmp_path / "g.tif"
        src.write_bytes(b"\x00garbage" * 50)
    elif case == "all_nan":
        src = write_tif(tmp_path / "n.tif", np.full((64, 64), np.nan, np.float32))
    elif case == "multiband":
        src = write_tif(tmp_path / "m.tif", np.ones((3, 64, 64), np.float32))
    elif case == "out_is_file":
        out_dir = tmp_path / "afile"
        out_dir.write_text("x")
    elif case == "corrupt_model":
        model = tmp_path / "bad.safetensors"
        model.write_bytes(b"not a model at all")
    elif case == "overlap":
        extra = ["--overlap", "1.0"]
    elif case == "threshold":
        extra = ["--threshold", "1.5"]
    elif case == "tile":
        extra = ["--tile", "48"]
    elif case == "missing":
        src = tmp_path / "nope.tif"
    inputs_before = {p: p.read_bytes() for p in tmp_path.iterdir() if p.is_file()}
    msg = run_error(capsys, ["-q", "lineaments", "detect", str(src), "--out-dir", str(out_dir),
                             "--model", str(model), *extra])
    assert match in msg
    if case != "out_is_file":
        assert not out_dir.exists() or not any(out_dir.iterdir())
    assert {p: p.read_bytes() for p in inputs_before} == inputs_before


def test_vectorize_bad_threshold(tmp_path, capsys):
    src = write_tif(tmp_path / "prob.tif", np.zeros((40, 40), np.float32))
    msg = run_error(capsys, ["-q", "lineaments", "vectorize", str(src), "--out-dir", str(tmp_path / "v"),
                             "--threshold", "0"])
    assert "--threshold: must be a number in (0, 1)" in msg and not (tmp_path / "v").exists()


def test_shipped_model_missing_is_explained(capsys, grid, tmp_path, monkeypatch):
    import geocore.lineaments.detect as detect_module

    monkeypatch.setattr(detect_module, "SHIPPED_MODEL", "no_such_model.safetensors")
    msg = run_error(capsys, ["-q", "lineaments", "detect", str(grid), "--out-dir", str(tmp_path / "o")])
    assert "the shipped lineament model is missing" in msg and "--model" in msg


def test_shipped_model_is_installed_and_loads():
    from geocore.models import load_model

    model, card = load_model(default_model_path())
    assert card.encoder == "vgg16_bn" and card.tile_size == 192 and card.in_channels == 1
    assert card.metrics, "the shipped card must state its measured metrics"


def test_cancel_leaves_no_output(tmp_path, grid, model_path):
    cancel = CancelAfter(3)
    with pytest.raises(Cancelled):
        detect_to_folder(grid, tmp_path / "out", model_path=model_path, tiles=TileParams(batch_size=2),
                         cancel=cancel)
    out = tmp_path / "out"
    assert not out.exists() or not list(out.iterdir())


def test_cancel_during_postprocessing_leaves_no_output(tmp_path, grid, model_path):
    seen = []

    def progress(f):
        seen.append(f)

    def cancel():
        return bool(seen) and seen[-1] > 0.9  # after the network, while vectorising / writing

    with pytest.raises(Cancelled):
        detect_to_folder(grid, tmp_path / "out", model_path=model_path, progress=progress, cancel=cancel)
    assert max(seen) > 0.9
    assert not list((tmp_path / "out").iterdir())


def test_matplotlib_axes3d_warning_is_silenced_and_filters_restored(tmp_path, capsys):
    """A system matplotlib beside the pip one warns about Axes3D at import; geocore draws 2-D only.
    The command's filters hold while it runs and leave the caller's untouched."""
    import warnings

    from geocore.cli import command_warnings

    before = list(warnings.filters)
    assert main(["-q", "lineaments", "vectorize", str(tmp_path / "missing.tif"), "--out-dir", str(tmp_path / "o")]) == 2
    assert warnings.filters == before
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        with command_warnings():
            warnings.warn("Unable to import Axes3D. This may be due to multiple versions of Matplotlib", UserWarning)
            warnings.warn("another warning", UserWarning)
    assert [str(w.message) for w in seen] == ["another warning"]


@pytest.mark.parametrize("method,scales", [("cnn", ["--scales", "1", "0.5"]), ("tga", [])])
def test_every_nodata_encoding_gives_one_map(tmp_path, model_path, method, scales):
    """The same survey as int16 with a nodata value (some agencies publish nT so), as float32 with
    a nodata value, with NaN declared as nodata, and with NaN alone: one probability map. GDAL
    averages an integer raster in its own type and lets an undeclared NaN spread over every coarse
    cell it touches; the coarse passes of --scales must see neither."""
    y, x = np.mgrid[0:96, 0:110].astype(np.float64)
    g = np.round(200.0 * np.exp(-((x - 50 - 0.3 * y) ** 2) / 20.0) + 0.1 * x)
    hole = (y < 5) & (x < 7) | (np.hypot(y - 60, x - 80) < 6)
    gi = np.where(hole, -32768, g).astype(np.int16)
    encodings = (("int16", gi, -32768), ("float32", gi.astype(np.float32), -32768),
                 ("nan_declared", np.where(hole, np.nan, g).astype(np.float32), float("nan")),
                 ("nan_only", np.where(hole, np.nan, g).astype(np.float32), None))
    maps = []
    for name, data, nodata in encodings:
        src = write_tif(tmp_path / f"{name}.tif", data, nodata=nodata)
        out = tmp_path / f"out_{name}"
        rc = main(["-q", "lineaments", "detect", str(src), "--out-dir", str(out), "--model", str(model_path),
                   "--method", method, "--batch-size", "4", *scales])
        assert rc == 0
        with rasterio.open(out / "probability.tif") as ds:
            maps.append(ds.read(1))
    assert np.isnan(maps[0][hole]).all() and not np.isnan(maps[0][~hole]).any()
    assert np.nanmax(maps[0]) > 0
    for (name, _, _), m in zip(encodings[1:], maps[1:]):
        np.testing.assert_array_equal(np.isnan(m), hole, err_msg=name)
        np.testing.assert_allclose(np.nan_to_num(m), np.nan_to_num(maps[0]), atol=1e-6, err_msg=name)


def test_demo_runs_end_to_end_and_scores_the_visible_dykes_apart(tmp_path, capsys):
    """`geocore demo` (README's first command) on a small survey: outputs, and both recalls worded."""
    rc = main(["demo", "--size", "160", "--seed", "7", "--out-dir", str(tmp_path / "demo")])
    out = capsys.readouterr().out
    assert rc == 0
    assert (tmp_path / "demo" / "survey" / "axes.gpkg").is_file()
    assert OUTPUTS <= {p.name for p in (tmp_path / "demo" / "detection").iterdir()}
    line = next(s for s in out.splitlines() if s.startswith("axis recall"))
    assert "dykes visible in the field" in line
    overall, visible = (float(x) for x in __import__("re").findall(r"(\d\.\d{3})", line)[:2])
    assert 0.0 <= overall <= 1.0 and 0.0 <= visible <= 1.0


def test_detect_measures_the_field_across_each_line_and_drops_unsupported_ones(tmp_path, capsys):
    """A ridge that stands out of smooth noise is kept by the default and at 0, measured on every line;
    a minimum no line reaches drops them all; ``vectorize`` (no field) does not offer the option."""
    import geopandas as gpd
    from scipy.ndimage import gaussian_filter

    y, x = np.mgrid[0:96, 0:110].astype(np.float32)
    noise = gaussian_filter(np.random.default_rng(0).normal(0.0, 1.0, x.shape), 2.0)
    g = 6.0 * np.exp(-((x - 50 - 0.3 * y) ** 2) / 8.0) + noise / noise.std()
    grid = write_tif(tmp_path / "grid.tif", g.astype(np.float32))

    counts = {}
    for name, extra in {"default": [], "all": ["--min-field-contrast", "0"], "none": ["--min-field-contrast", "100"]}.items():
        assert main(["-q", "lineaments", "detect", str(grid), "--method", "tga", "--out-dir", str(tmp_path / name),
                     *extra]) == 0
        capsys.readouterr()
        counts[name] = gpd.read_file(tmp_path / name / "lineaments.gpkg")
    print({k: len(v) for k, v in counts.items()}, counts["all"]["contrast"].round(2).tolist())
    # tga follows the ridges of the noise too: the default (2 for a classical method) drops them, keeps the dyke
    assert len(counts["default"]) >= 1 and len(counts["all"]) > len(counts["default"])
    assert counts["default"].length.max() == pytest.approx(counts["all"].length.max())
    assert "contrast" in counts["all"].columns and (counts["default"]["contrast"] >= 2.0).all()
    assert len(counts["none"]) == 0
    assert main(["-q", "lineaments", "detect", str(grid), "--method", "tga", "--out-dir", str(tmp_path / "bad"),
                 "--min-field-contrast", "-1"]) == 2
    assert "--min-field-contrast" in capsys.readouterr().err and not (tmp_path / "bad").exists()
    assert main(["-q", "lineaments", "vectorize", str(grid), "--out-dir", str(tmp_path / "v"),
                 "--min-field-contrast", "2"]) == 2
    assert "unrecognized arguments: --min-field-contrast" in capsys.readouterr().err
