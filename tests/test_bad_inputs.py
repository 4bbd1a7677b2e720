"""Bad input over every ``geocore`` subcommand, tried as a hostile user would.

The promise: one line ``geocore: error: ...`` on stderr, exit code 2, no
traceback, the inputs byte-identical afterwards, and nothing half-written
(no ``.partial`` folder, no output folder with files in it). The catalogue is
a table of (case, command line, expected fragment of the message); the
command line runs in-process through :func:`geocore.cli.main`. Ctrl-C, SIGTERM,
re-runs and multi-output commands have their own tests below.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
from pathlib import Path

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from geocore.cli import build_parser, main

ROOT = Path(__file__).resolve().parents[1]
MINERAL_MODEL = ROOT / "geocore/minerals/models/minerals_demo_mobilenetv2_unet.safetensors"


# ----------------------------------------------------------------------------- the workspace
def _tif(path, data, crs="EPSG:32735", cell=100.0):
    data = np.asarray(data)
    data = data[None] if data.ndim == 2 else data
    with rasterio.open(path, "w", driver="GTiff", count=data.shape[0], height=data.shape[1], width=data.shape[2],
                       dtype=data.dtype.name, crs=crs, transform=from_origin(600000.0, 7500000.0, cell, cell)) as ds:
        ds.write(data)
    return path


def _png(path, rgb):
    import cv2

    arr = np.asarray(rgb)
    if arr.ndim == 3:
        arr = arr[..., ::-1]
    assert cv2.imwrite(str(path), arr)
    return path


def _truncate(src, dst, keep=0.5):
    data = Path(src).read_bytes()
    Path(dst).write_bytes(data[: int(len(data) * keep)])
    return dst


@pytest.fixture(scope="module")
def ws(tmp_path_factory):
    """Small inputs of every kind, made here (seeded)."""
    import geopandas as gpd
    import torch
    from shapely.geometry import LineString

    from geocore.models import ModelCard, build_model, save_model

    d = tmp_path_factory.mktemp("inputs")
    rng = np.random.default_rng(7)
    y, x = np.mgrid[0:64, 0:64]
    field = (100 * np.exp(-((x - 32.0) ** 2) / 20.0) + rng.normal(0, 1, (64, 64))).astype(np.float32)
    _tif(d / "grid.tif", field)
    prob = np.zeros((64, 64), np.float32)
    prob[32, 5:60] = 0.9
    _tif(d / "prob.tif", prob)
    _tif(d / "one.tif", np.ones((1, 1), np.float32))
    _tif(d / "three.tif", np.ones((3, 3), np.float32) * 0.9)
    _tif(d / "row.tif", np.linspace(0, 1, 64, dtype=np.float32)[None, :])
    big = rng.normal(0, 1, (256, 256)).astype(np.float32)
    _tif(d / "big.tif", big)
    _truncate(d / "big.tif", d / "truncated.tif", 0.3)
    _tif(d / "big_classes.tif", rng.integers(0, 5, (256, 256), dtype=np.uint8), crs=None, cell=1.0)
    _truncate(d / "big_classes.tif", d / "truncated_classes.tif", 0.3)
    (d / "huge.vrt").write_text(
        '<VRTDataset rasterXSize="1000000" rasterYSize="1000000">'
        '<SRS>EPSG:32735</SRS><GeoTransform>600000, 100, 0, 7500000, 0, -100</GeoTransform>'
        '<VRTRasterBand dataType="Float32" band="1"><SimpleSource><SourceFilename relativeToVRT="1">grid.tif'
        '</SourceFilename><SourceBand>1</SourceBand></SimpleSource></VRTRasterBand></VRTDataset>')
    photo = rng.integers(40, 220, (96, 96, 3), dtype=np.uint8)
    _png(d / "photo.png", photo)
    _png(d / "mirror.png", np.full((96, 96, 3), 200, np.uint8))
    _png(d / "tiny.png", photo[:1, :1])
    _png(d / "tiny3.png", photo[:3, :3])
    _png(d / "row.png", photo[:1])
    import cv2

    cv2.imwrite(str(d / "photo.jpg"), photo[:, :, ::-1])
    _truncate(d / "photo.jpg", d / "truncated.jpg", 0.4)
    mask = np.full((96, 96), 255, np.uint8)
    _png(d / "mask255.png", mask)
    half = mask.copy()
    half[:48] = 1
    half[48:] = 3
    _png(d / "mask.png", half)
    classes = np.zeros((32, 32), np.uint8)
    classes[8:20, 8:20] = 1
    _tif(d / "classes.tif", classes, crs=None, cell=1.0)
    crs = "EPSG:32735"
    gpd.GeoDataFrame({"id": [1]}, geometry=[LineString([(600500, 7496000), (605000, 7496000)])],
                     crs=crs).to_file(d / "lines.gpkg")
    gpd.GeoDataFrame({"id": [1, 2]}, geometry=[LineString([(600500, 7496000), (600500, 7496000)]),
                                                LineString([(600500, 7496000), (605000, 7496000)])],
                     crs=crs).to_file(d / "zero_length.gpkg")
    gpd.GeoDataFrame({"id": [1]}, geometry=[LineString([(600500, 7496000), (600500, 7496000)])],
                     crs=crs).to_file(d / "zero_only.gpkg")
    gpd.GeoDataFrame({"class": ["py"]}, geometry=[LineString([(10, -10), (40, -10)])]).to_file(d / "strokes.gpkg")
    (d / "lines.csv").write_text("x,y,mag\n" + "".join(f"{600000 + 50 * i},{7500000 + 30 * (i % 7)},{i}\n"
                                                      for i in range(60)))
    (d / "not_xz.csv.xz").write_text("x,y,mag\n1,2,3\n")
    (d / "pickle.pt").write_bytes(b"\x80\x04\x95\x05\x00\x00\x00\x00\x00\x00\x00K\x01.")
    (d / "folder").mkdir()
    card = ModelCard(tile_size=64, encoder="resnet18", decoder_channels=[16, 16, 16, 16, 16],
                     normalization={"mode": "local_zscore", "window": 31, "clip": 3.0})
    torch.manual_seed(0)
    save_model(build_model(card), card, d / "m.safetensors")
    shutil.copy(MINERAL_MODEL, d / "minerals.safetensors")
    shutil.copy(MINERAL_MODEL.with_suffix(".json"), d / "minerals.json")
    (d / "bad_matrix.json").write_text("not json")
    (d / "matrix.json").write_text(json.dumps({"matrix": [[1, 0, 0], [0, 1, 0], [0, 0, 1], [0, 0, 0]]}))
    (d / "tiles").mkdir()
    for r in range(2):
        for c in range(2):
            _png(d / "tiles" / f"r{r}_c{c}.png", photo[r * 30:r * 30 + 64, c * 30:c * 30 + 64])
    return d


def _snapshot(folder: Path) -> dict:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _leftovers(folder: Path) -> list:
    return [str(p) for p in folder.rglob("*") if ".partial" in p.name or p.name.startswith(".geocore")]


def run_cli(argv, capsys):
    """Run ``geocore argv`` in-process; return (exit code, stdout, stderr)."""
    capsys.readouterr()
    try:
        rc = main(["-q", *argv])
    except SystemExit as exc:  # argparse --help / --version only
        rc = exc.code
    out, err = capsys.readouterr()
    return rc, out, err


def assert_one_line_error(rc, err, fragment):
    assert rc == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("geocore: error: "), err
    assert "Traceback" not in err
    assert fragment.lower() in lines[0].lower(), lines[0]


# ----------------------------------------------------------------------------- the catalogue
# {ws}: the inputs folder; {out}: a fresh output folder or file stem of the case
CASES = [
    # lineaments synth
    ("synth-cell-inf", "lineaments synth --cell inf --out-dir {out}", "--cell: must be a number > 0"),
    ("synth-seed-neg", "lineaments synth --seed -1 --out-dir {out}", "--seed: must be an integer in [0,"),
    ("synth-size-zero", "lineaments synth --size 0 10 --out-dir {out}", "--size: must be an integer in [16"),
    ("synth-outdir-file", "lineaments synth --out-dir {ws}/grid.tif", "is an existing file"),
    # lineaments train
    ("train-lr-neg", "lineaments train --out {out}/m.safetensors --lr -1", "--lr: must be a number in (0, 10]"),
    ("train-seed-neg", "lineaments train --out {out}/m.safetensors --seed -1", "--seed: must be an integer"),
    ("train-dykes", "lineaments train --out {out}/m.safetensors --min-dykes 10 --max-dykes 2",
     "--min-dykes 10 is larger than --max-dykes 2"),
    ("train-out-is-init", "lineaments train --out {ws}/m.safetensors --init {ws}/m.safetensors",
     "is also an input"),
    ("train-out-folder", "lineaments train --out {ws}/folder", "is a folder"),
    ("train-epochs-zero", "lineaments train --out {out}/m.safetensors --epochs 0", "--epochs: must be an integer"),
    # lineaments evaluate
    ("evaluate-grids-zero", "lineaments evaluate --grids 0", "--grids: must be an integer"),
    ("evaluate-threshold", "lineaments evaluate --threshold 2", "--threshold: must be a number in (0, 1)"),
    ("evaluate-dykes", "lineaments evaluate --min-dykes 10 --max-dykes 2", "is larger than --max-dykes"),
    ("evaluate-model-folder", "lineaments evaluate --model {ws}/folder", "is a folder; give a file"),
    # lineaments detect
    ("detect-truncated", "lineaments detect {ws}/truncated.tif --model {ws}/m.safetensors --out-dir {out}",
     "truncated or damaged"),
    ("detect-1x1", "lineaments detect {ws}/one.tif --model {ws}/m.safetensors --out-dir {out}", "too small"),
    ("detect-3x3", "lineaments detect {ws}/three.tif --model {ws}/m.safetensors --out-dir {out}", "too small"),
    ("detect-row", "lineaments detect {ws}/row.tif --model {ws}/m.safetensors --out-dir {out}", "too small"),
    ("detect-huge-vrt", "lineaments detect {ws}/huge.vrt --model {ws}/m.safetensors --out-dir {out}", "memory"),
    ("detect-tile-huge", "lineaments detect {ws}/grid.tif --tile 100000 --out-dir {out}",
     "--tile: must be an integer in [32, 8192]"),
    # a folder is a batch of its rasters (docs/scale_out.md): an empty one is the error
    ("detect-grid-folder", "lineaments detect {ws}/folder --out-dir {out}", "holds no input files"),
    ("detect-outdir-file", "lineaments detect {ws}/grid.tif --out-dir {ws}/grid.tif", "is an existing file"),
    ("detect-threshold", "lineaments detect {ws}/grid.tif --threshold 2 --out-dir {out}", "--threshold"),
    ("detect-min-length", "lineaments detect {ws}/grid.tif --min-length -1 --out-dir {out}", "--min-length"),
    ("detect-batch-zero", "lineaments detect {ws}/grid.tif --batch-size 0 --out-dir {out}", "--batch-size"),
    ("detect-overlap-nan", "lineaments detect {ws}/grid.tif --overlap nan --out-dir {out}", "--overlap"),
    # lineaments vectorize
    ("vectorize-1x1", "lineaments vectorize {ws}/one.tif --out-dir {out}", "too small"),
    ("vectorize-3x3", "lineaments vectorize {ws}/three.tif --out-dir {out}", "too small"),
    ("vectorize-row", "lineaments vectorize {ws}/row.tif --out-dir {out}", "too small"),
    ("vectorize-truncated", "lineaments vectorize {ws}/truncated.tif --out-dir {out}", "truncated or damaged"),
    ("vectorize-threshold", "lineaments vectorize {ws}/prob.tif --threshold 2 --out-dir {out}", "--threshold"),
    ("vectorize-join-angle", "lineaments vectorize {ws}/prob.tif --join-angle 120 --out-dir {out}",
     "--join-angle: must be a number in [0, 90]"),
    # lineaments compare
    ("compare-zero-length", "lineaments compare {ws}/lines.gpkg {ws}/zero_only.gpkg --tolerance 100 "
                            "--out-dir {out}", "only lines of zero length"),
    ("compare-tolerance-neg", "lineaments compare {ws}/lines.gpkg {ws}/lines.gpkg --tolerance -1 --out-dir {out}",
     "--tolerance: must be a number > 0"),
    ("compare-tolerance-nan", "lineaments compare {ws}/lines.gpkg {ws}/lines.gpkg --tolerance nan "
                              "--out-dir {out}", "--tolerance"),
    ("compare-strike", "lineaments compare {ws}/lines.gpkg {ws}/lines.gpkg --tolerance 100 --strike-tolerance 100 "
                       "--out-dir {out}", "--strike-tolerance"),
    ("compare-folder", "lineaments compare {ws}/lines.gpkg {ws}/folder --tolerance 100 --out-dir {out}",
     "is a folder; give a file"),
    ("compare-missing", "lineaments compare {ws}/lines.gpkg {ws}/nope.gpkg --tolerance 100 --out-dir {out}",
     "does not exist"),
    # demo
    ("demo-size", "demo --size 0 --out-dir {out}", "--size: must be an integer in [64"),
    ("demo-seed", "demo --seed -5 --out-dir {out}", "--seed"),
    # grid convert / lines
    ("convert-truncated", "grid convert {ws}/truncated.tif {out}.tif", "truncated or damaged"),
    ("convert-output-folder", "grid convert {ws}/grid.tif {ws}/folder", "is a folder"),
    ("convert-input-folder", "grid convert {ws}/folder {out}.tif", "is a folder; give a file"),
    ("convert-band", "grid convert {ws}/grid.tif {out}.tif --band 0", "--band: must be an integer"),
    ("lines-not-xz", "grid lines {ws}/not_xz.csv.xz --out {out}.tif --cell 50 --value mag", "xz"),
    ("lines-cell-inf", "grid lines {ws}/lines.csv --out {out}.tif --cell inf --value mag", "--cell"),
    ("lines-cell-zero", "grid lines {ws}/lines.csv --out {out}.tif --cell 0 --value mag", "--cell"),
    ("lines-blank-neg", "grid lines {ws}/lines.csv --out {out}.tif --cell 50 --blank -1 --value mag", "--blank"),
    ("lines-threads", "grid lines {ws}/lines.csv --out {out}.tif --cell 50 --threads 0 --value mag", "--threads"),
    # magnetics transform
    ("transform-truncated", "magnetics transform {ws}/truncated.tif {out}.tif --op dx", "truncated or damaged"),
    ("transform-height-nan", "magnetics transform {ws}/grid.tif {out}.tif --op up --height nan", "--height"),
    ("transform-wavelength", "magnetics transform {ws}/grid.tif {out}.tif --op lowpass --wavelength 0",
     "--wavelength"),
    ("transform-inclination", "magnetics transform {ws}/grid.tif {out}.tif --op rtp --inclination 95 "
                              "--declination 0", "--inclination"),
    ("transform-output-folder", "magnetics transform {ws}/grid.tif {ws}/folder --op dx", "is a folder"),
    # minerals synth / train / evaluate / segment / stats
    ("msynth-count", "minerals synth --out-dir {out} --count 0", "--count"),
    ("msynth-grain", "minerals synth --out-dir {out} --grain-px 0", "--grain-px"),
    ("msynth-fraction", "minerals synth --out-dir {out} --test-fraction 2", "--test-fraction"),
    ("msynth-size", "minerals synth --out-dir {out} --size -5 10", "--size"),
    ("mtrain-lr", "minerals train --data {ws} --out {out}/m.safetensors --lr -1", "--lr"),
    ("mtrain-patch", "minerals train --data {ws} --out {out}/m.safetensors --patch 0", "--patch"),
    ("mtrain-out-folder", "minerals train --data {ws} --out {ws}/folder", "is a folder"),
    ("mtrain-data-missing", "minerals train --data {ws}/nope --out {out}/m.safetensors", "does not exist"),
    ("mevaluate-json-card", "minerals evaluate --data {ws} --model {ws}/minerals.safetensors "
                            "--json {ws}/minerals.json", "is also an input"),
    ("mevaluate-tile", "minerals evaluate --data {ws} --tile 0", "--tile"),
    ("segment-truncated", "minerals segment {ws}/truncated.jpg --out-dir {out}", "truncated or damaged"),
    ("segment-1x1", "minerals segment {ws}/tiny.png --out-dir {out}", "too small"),
    ("segment-3x3", "minerals segment {ws}/tiny3.png --out-dir {out}", "too small"),
    ("segment-row", "minerals segment {ws}/row.png --out-dir {out}", "too small"),
    ("segment-um", "minerals segment {ws}/photo.png --um-per-px -1 --out-dir {out}", "--um-per-px"),
    ("segment-grain", "minerals segment {ws}/photo.png --min-grain-px -1 --out-dir {out}", "--min-grain-px"),
    ("segment-sizes", "minerals segment {ws}/photo.png --size-classes -5 --out-dir {out}", "--size-classes"),
    ("segment-tile", "minerals segment {ws}/photo.png --tile 100000 --out-dir {out}", "--tile"),
    ("segment-folder", "minerals segment {ws}/folder --out-dir {out}", "holds no input files"),
    ("stats-um", "minerals stats {ws}/classes.tif --um-per-px 0 --out-dir {out}", "--um-per-px"),
    ("stats-truncated", "minerals stats {ws}/truncated_classes.tif --out-dir {out}", "truncated or damaged"),
    # panorama stitch
    ("stitch-report-is-out", "panorama stitch {ws}/tiles --out {out}.tif --report {out}.tif",
     "argument --report: '{out}.tif' must end in .csv"),
    ("stitch-same-report", "panorama stitch {ws}/tiles --out {out}.tif --report {out}.csv --tiles-report {out}.csv",
     "are the same file"),
    ("stitch-um", "panorama stitch {ws}/tiles --out {out}.tif --um-per-px 0", "--um-per-px"),
    ("stitch-score", "panorama stitch {ws}/tiles --out {out}.tif --min-score 2", "--min-score"),
    ("stitch-out-folder", "panorama stitch {ws}/tiles --out {ws}/folder", "is a folder"),
    ("stitch-missing", "panorama stitch {ws}/nope --out {out}.tif", "does not exist"),
    # flatfield / colour / xpl / annotate / uncertainty
    ("flatfield-sigma-nan", "flatfield {ws}/photo.png --reference {ws}/mirror.png --out-dir {out} --sigma nan",
     "--sigma"),
    ("flatfield-sigma-zero", "flatfield {ws}/photo.png --reference {ws}/mirror.png --out-dir {out} --sigma 0",
     "--sigma"),
    ("flatfield-truncated", "flatfield {ws}/truncated.jpg --reference {ws}/mirror.png --out-dir {out}",
     "truncated or damaged"),
    ("flatfield-reference-folder", "flatfield {ws}/photo.png --reference {ws}/folder --out-dir {out}",
     "is a folder; give a file"),
    ("flatfield-into-input", "flatfield {ws}/photo.png --reference {ws}/mirror.png --out-dir {ws}",
     "is also an input"),
    ("colour-fit-all-255", "colour fit {ws}/photo.png --annotation {ws}/mask255.png --reference {ws}/photo.png "
                           "--reference-annotation {ws}/mask.png --out {out}.json", "has classes [none]"),
    ("colour-fit-same-out", "colour fit {ws}/photo.png --annotation {ws}/mask.png --reference {ws}/photo.png "
                            "--reference-annotation {ws}/mask.png --out {out}.json --corrected {out}.json",
     "are the same file"),
    ("colour-apply-bad-matrix", "colour apply {ws}/photo.png --matrix {ws}/bad_matrix.json --out-dir {out}",
     "is not a geocore colour matrix"),
    ("colour-apply-into-input", "colour apply {ws}/photo.png --matrix {ws}/matrix.json --out-dir {ws}",
     "is also an input"),
    ("xpl-step-zero", "xpl align {ws}/photo.png {ws}/photo.png --out {out}.tif --step 0", "--step"),
    ("xpl-step-nan", "xpl align {ws}/photo.png {ws}/photo.png --out {out}.tif --step nan", "--step"),
    ("xpl-out-suffix", "xpl align {ws}/photo.png {ws}/photo.png --out {out}.png", "must end in .tif"),
    ("train-out-is-init-card", "lineaments train --out {ws}/m --init {ws}/m.safetensors", "is also an input"),
    ("annotate-slic-zero", "annotate {ws}/photo.png --strokes {ws}/strokes.gpkg --out-dir {out} --slic-sizes 0",
     "--slic-sizes"),
    ("annotate-work-edge", "annotate {ws}/photo.png --strokes {ws}/strokes.gpkg --out-dir {out} --work-edge 0",
     "--work-edge"),
    ("annotate-strokes-folder", "annotate {ws}/photo.png --strokes {ws}/folder --out-dir {out}",
     "is a folder; give a file"),
    ("uncertainty-map-is-out", "uncertainty {ws}/prob.tif --out {out}.gpkg --map {out}.gpkg", "--map"),
    ("uncertainty-out-txt", "uncertainty {ws}/prob.tif --out {out}.txt", "must end in .gpkg"),
    ("uncertainty-share", "uncertainty {ws}/prob.tif --out {out}.gpkg --share 0", "--share"),
    ("uncertainty-min-area", "uncertainty {ws}/prob.tif --out {out}.gpkg --min-area -1", "--min-area"),
    ("uncertainty-smooth-nan", "uncertainty {ws}/prob.tif --out {out}.gpkg --smooth nan", "--smooth"),
    ("microscopy-alias", "microscopy uncertainty {ws}/prob.tif --out {out}.gpkg --share 2", "--share"),
    # argparse's own refusals are one line too
    ("unknown-option", "lineaments detect {ws}/grid.tif --out-dir {out} --nope 1", "unrecognized arguments"),
    ("missing-required", "lineaments detect {ws}/grid.tif", "required: --out-dir"),
    ("bad-choice", "magnetics transform {ws}/grid.tif {out}.tif --op nope", "invalid choice"),
    ("not-a-number", "flatfield {ws}/photo.png --reference {ws}/mirror.png --out-dir {out} --sigma abc",
     "--sigma: must be a number"),
]


@pytest.mark.parametrize("case,command,fragment", CASES, ids=[c[0] for c in CASES])
def test_bad_input_is_one_clean_line(ws, tmp_path, capsys, case, command, fragment):
    before = _snapshot(ws)
    out = tmp_path / "out"
    argv = command.format(ws=ws, out=out).split()
    fragment = fragment.format(ws=ws, out=out)
    rc, stdout, err = run_cli(argv, capsys)
    assert_one_line_error(rc, err, fragment)
    assert _snapshot(ws) == before, "an input was changed"
    assert not _leftovers(ws) and not _leftovers(tmp_path)
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert written == [], f"outputs left behind: {written}"


def test_every_numeric_option_has_a_range_that_holds_its_default():
    """Every int/float option of every subcommand is checked at parse time; NaN and inf are refused."""
    checked = 0

    def walk(parser):
        nonlocal checked
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub in dict.fromkeys(action.choices.values()):
                    walk(sub)
                continue
            rng = getattr(action, "range", None)
            if rng is None:
                assert action.type not in (int, float), f"{parser.prog} {action.dest} has no range"
                continue
            checked += 1
            for bad in ("nan", "inf", "-inf", "abc"):
                with pytest.raises(argparse.ArgumentTypeError):
                    action.type(bad)
            defaults = action.default if isinstance(action.default, (list, tuple)) else [action.default]
            for d in defaults:
                assert d is None or rng.contains(d), f"{parser.prog} {action.dest}: default {d} outside {rng}"

    walk(build_parser())
    assert checked >= 80


def test_ranges_give_bounds_for_the_qgis_parameters():
    """Open bounds become the nearest accepted value (QGIS bounds are inclusive); see tests/qgis/test_plugin.py."""
    from geocore.validate import RANGES

    assert 0 < RANGES["lr"].minimum < 1e-300 and RANGES["lr"].maximum == 10.0
    assert RANGES["threshold"].contains(RANGES["threshold"].minimum)
    assert RANGES["threshold"].contains(RANGES["threshold"].maximum) and RANGES["threshold"].maximum < 1
    assert RANGES["seed"].minimum == 0 and RANGES["band"].minimum == 1 and RANGES["smooth"].maximum is None


# ----------------------------------------------------------------------------- inputs never replaced
def test_segment_refuses_to_replace_a_photo_named_like_an_output(ws, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    photo = shutil.copy(ws / "photo.png", out / "area_fractions.png")
    before = Path(photo).read_bytes()
    rc, _, err = run_cli(["minerals", "segment", str(photo), "--out-dir", str(out), "--device", "cpu"], capsys)
    assert_one_line_error(rc, err, "would replace the input")
    assert Path(photo).read_bytes() == before
    assert sorted(p.name for p in out.iterdir()) == ["area_fractions.png"]


def test_stats_refuses_to_replace_a_class_map_named_like_an_output(ws, tmp_path, capsys):
    out = tmp_path / "out"
    out.mkdir()
    classes = shutil.copy(ws / "classes.tif", out / "contacts.png")  # GDAL reads it by content
    before = Path(classes).read_bytes()
    rc, _, err = run_cli(["minerals", "stats", str(classes), "--out-dir", str(out)], capsys)
    assert_one_line_error(rc, err, "would replace the input")
    assert Path(classes).read_bytes() == before
    assert sorted(p.name for p in out.iterdir()) == ["contacts.png"]


def test_zero_length_lines_are_ignored_by_compare(ws, tmp_path, capsys):
    rc, out, err = run_cli(["lineaments", "compare", str(ws / "lines.gpkg"), str(ws / "zero_length.gpkg"),
                            "--tolerance", "100", "--out-dir", str(tmp_path / "c")], capsys)
    assert rc == 0, err
    assert "expert 1 lines" in out


def test_a_pickled_checkpoint_is_refused_in_one_line(ws, tmp_path, capsys):
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    shutil.copy(ws / "pickle.pt", ckpt / "last.pt")
    rc, _, err = run_cli(["lineaments", "train", "--out", str(tmp_path / "m.safetensors"), "--samples", "2",
                          "--tile-size", "32", "--epochs", "1", "--batch-size", "1", "--encoder", "resnet18",
                          "--decoder-channels", "8", "8", "8", "8", "8", "--device", "cpu",
                          "--checkpoint-dir", str(ckpt), "--resume"], capsys)
    assert_one_line_error(rc, err, "is not a geocore training checkpoint")
    assert not (tmp_path / "m.safetensors").exists()


def test_a_read_only_folder_is_one_line(ws, tmp_path, capsys, monkeypatch):
    """Tests may run as root, who may write anywhere: the refusal of the OS is simulated."""
    import geocore.files

    def refuse(*a, dir=None, **k):
        raise PermissionError(13, "Permission denied", str(dir))

    monkeypatch.setattr(geocore.files.tempfile, "mkdtemp", refuse)
    rc, _, err = run_cli(["grid", "convert", str(ws / "grid.tif"), str(tmp_path / "g.tif")], capsys)
    assert_one_line_error(rc, err, "Permission denied; choose a folder you may write to")
    assert list(tmp_path.iterdir()) == []


# ----------------------------------------------------------------------------- Ctrl-C and SIGTERM
def _interrupt_on(monkeypatch, module, name, call=1, action=None):
    """Make ``module.name`` raise KeyboardInterrupt on its ``call``-th call (the others run)."""
    real = getattr(module, name)
    calls = {"n": 0}

    def wrapper(*a, **k):
        calls["n"] += 1
        if calls["n"] >= call:
            if action is not None:
                action()
            else:
                raise KeyboardInterrupt
        return real(*a, **k)

    monkeypatch.setattr(module, name, wrapper)
    return calls


def _assert_nothing_left(rc, err, folder):
    assert rc == 130, err
    assert "Traceback" not in err and "no output was written" in err
    left = [p for p in folder.rglob("*")] if folder.exists() else []
    assert left == [], left


def test_ctrl_c_in_minerals_synth_leaves_no_sections(tmp_path, capsys, monkeypatch):
    import geocore.minerals.synthetic as synth

    _interrupt_on(monkeypatch, synth, "synthesize_section", call=3)
    out = tmp_path / "sections"
    rc, _, err = run_cli(["minerals", "synth", "--out-dir", str(out), "--count", "30", "--size", "32", "32"], capsys)
    _assert_nothing_left(rc, err, out)


def test_ctrl_c_in_flatfield_and_colour_apply_leaves_no_first_outputs(ws, tmp_path, capsys, monkeypatch):
    import geocore.microscopy.colour as colour
    import geocore.microscopy.flatfield as flatfield

    photos = [str(shutil.copy(ws / "photo.png", tmp_path / f"p{i}.png")) for i in range(3)]
    _interrupt_on(monkeypatch, flatfield, "write_rgb", call=3)
    rc, _, err = run_cli(["flatfield", *photos, "--reference", str(ws / "mirror.png"),
                          "--out-dir", str(tmp_path / "ff")], capsys)
    _assert_nothing_left(rc, err, tmp_path / "ff")
    _interrupt_on(monkeypatch, colour, "write_rgb", call=2)
    rc, _, err = run_cli(["colour", "apply", *photos, "--matrix", str(ws / "matrix.json"),
                          "--out-dir", str(tmp_path / "ca")], capsys)
    _assert_nothing_left(rc, err, tmp_path / "ca")


def test_ctrl_c_in_stitch_leaves_no_reports(ws, tmp_path, capsys, monkeypatch):
    import geocore.panorama.pipeline as pipeline

    _interrupt_on(monkeypatch, pipeline, "plot_layout")  # after the pairs and tiles tables are written
    out = tmp_path / "pano"
    rc, _, err = run_cli(["panorama", "stitch", str(ws / "tiles"), "--out", str(out / "p.tif")], capsys)
    _assert_nothing_left(rc, err, out)


def test_ctrl_c_in_lineaments_synth_leaves_no_field(tmp_path, capsys, monkeypatch):
    import geopandas as gpd

    _interrupt_on(monkeypatch, gpd.GeoDataFrame, "to_file")  # the axes, written after field and mask
    out = tmp_path / "survey"
    rc, _, err = run_cli(["lineaments", "synth", "--size", "32", "32", "--out-dir", str(out)], capsys)
    _assert_nothing_left(rc, err, out)


def test_sigterm_in_detect_cleans_up_like_ctrl_c(ws, tmp_path, capsys, monkeypatch):
    """SIGTERM (a killed job, a closed terminal) leaves no nested .partial folders and no outputs."""
    import geocore.lineaments.detect as detect

    _interrupt_on(monkeypatch, detect, "rose_diagram", action=lambda: os.kill(os.getpid(), signal.SIGTERM))
    out = tmp_path / "det"
    handler = signal.getsignal(signal.SIGTERM)
    rc, _, err = run_cli(["lineaments", "detect", str(ws / "grid.tif"), "--model", str(ws / "m.safetensors"),
                          "--device", "cpu", "--out-dir", str(out)], capsys)
    _assert_nothing_left(rc, err, out)
    assert signal.getsignal(signal.SIGTERM) == handler  # main() puts the caller's handler back


def test_ctrl_c_in_training_says_what_was_kept(tmp_path, capsys, monkeypatch):
    import geocore.lineaments.train as train

    def interrupted(config, **kw):
        (tmp_path / "m.ckpt").mkdir()
        raise KeyboardInterrupt

    monkeypatch.setattr(train, "train_lineament_model", interrupted)
    rc, _, err = run_cli(["lineaments", "train", "--out", str(tmp_path / "m.safetensors")], capsys)
    assert rc == 130 and "no model was written" in err and "kept" in err and "--resume" in err
    assert not (tmp_path / "m.safetensors").exists()


def test_cancel_part_way_leaves_no_part_of_sections_or_of_a_survey(tmp_path, monkeypatch):
    """The library's own all-or-nothing (what QGIS relies on): a cancel part-way leaves no file."""
    import geocore.files as files
    from geocore.errors import Cancelled
    from geocore.magnetics.synthetic import synthesize_survey
    from geocore.minerals.synthetic import write_sections

    calls = {"n": 0}

    def cancel():  # the QGIS feedback's isCanceled(), true from the 5th check on
        calls["n"] += 1
        return calls["n"] > 4

    with pytest.raises(Cancelled):
        write_sections(tmp_path / "sec", 10, shape=(32, 32), cancel=cancel)
    assert calls["n"] == 5 and not (tmp_path / "sec").exists()

    original, made = files.atomic_output, []

    def third_is_cancelled(path):  # field and mask are in place when the axes are cancelled
        made.append(Path(path).name)
        if len(made) == 3:
            raise Cancelled()
        return original(path)

    monkeypatch.setattr(files, "atomic_output", third_is_cancelled)
    with pytest.raises(Cancelled):
        synthesize_survey(tmp_path / "survey", rows=32, cols=32, seed=1)
    assert made == ["field.tif", "mask.tif", "axes.gpkg"] and not (tmp_path / "survey").exists()


# ----------------------------------------------------------------------------- re-runs replace the whole set
def test_rerun_into_the_same_folder_replaces_the_whole_set(tmp_path, capsys):
    out = tmp_path / "sections"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    base = ["minerals", "synth", "--out-dir", str(out), "--size", "32", "32", "--test-fraction", "0"]
    assert run_cli([*base, "--count", "3"], capsys)[0] == 0
    assert len(list((out / "imgs" / "train").glob("*.jpg"))) == 3
    assert run_cli([*base, "--count", "1", "--seed", "5"], capsys)[0] == 0
    assert [p.name for p in (out / "imgs" / "train").glob("*.jpg")] == ["synth_0000.jpg"]
    assert [p.name for p in (out / "masks" / "train").glob("*.png")] == ["synth_0000.png"]
    assert (out / "notes.txt").read_text() == "mine"  # files that are not the command's are never touched
