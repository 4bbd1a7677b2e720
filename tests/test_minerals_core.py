"""Ore minerals: class table, LumenStone reader, synthetic sections, sampler, metrics,
statistics, segmentation and training through the command line."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import numpy as np
import pytest
import rasterio
import torch

from cancelling import CancelAfter
from geocore.cli import main
from geocore.errors import Cancelled, GeocoreError
from geocore.minerals.classes import BY_CODE, CODES, S2, S3, colorize, parse_codes
from geocore.minerals.lumenstone import list_samples, load_split, read_sample
from geocore.minerals.metrics import ConfusionMatrix
from geocore.minerals.sampler import BalancedPatchSampler, PatchDataset, compare_balance
from geocore.minerals.params import SegmentParams
from geocore.minerals.segment import segment_image
from geocore.minerals.stats import contact_lengths, statistics_from_classes
from geocore.minerals.synthetic import DEMO_CODES, synthesize_section, write_sections
from geocore.models import ModelCard, build_model, save_model
from geocore.raster.micrometre import is_micrometre_crs, micrometre_transform

REPO = Path(__file__).resolve().parents[1]


# ----------------------------------------------------------------------------- classes
def test_class_table_and_sets():
    assert len(CODES) == 15 and CODES == tuple(range(15))
    assert BY_CODE[10].label == "gmt" and BY_CODE[10].name == "hematite"
    assert BY_CODE[1].colour == "#ffa500" and BY_CODE[1].rgb == (255, 165, 0)
    assert S3 == (0, 9, 10, 12, 13, 14)  # all codes not in S1 or S2, pentlandite excepted
    assert 7 in S2 and 7 not in S3
    assert parse_codes("S1+S2") == DEMO_CODES
    assert parse_codes("bg, ccp, hematite") == (0, 1, 10)
    with pytest.raises(GeocoreError, match="not a class set"):
        parse_codes("quartz")
    assert colorize(np.array([[6]], np.uint8))[0, 0].tolist() == [0x2F, 0x4F, 0x4F]


def test_lineament_card_still_loads():
    card = ModelCard.load(REPO / "geocore" / "lineaments" / "models" / "lineaments_vgg16bn_unet.json")
    assert card.task == "lineaments" and card.class_codes == []


# ----------------------------------------------------------------------------- reader
def _layout(root: Path, n=2, size=(40, 48)):
    for i in range(n):
        sec = synthesize_section(size, seed=i)
        (root / "imgs" / "train").mkdir(parents=True, exist_ok=True)
        (root / "masks" / "train").mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / "imgs" / "train" / f"a{i}.jpg"), sec.image[..., ::-1])
        cv2.imwrite(str(root / "masks" / "train" / f"a{i}.png"), sec.mask)
    return root


def test_reader_reads_layout_and_three_channel_masks(tmp_path):
    root = _layout(tmp_path / "S1")
    m = cv2.imread(str(root / "masks" / "train" / "a1.png"), cv2.IMREAD_UNCHANGED)
    m[0, 0] = 255  # ignore
    cv2.imwrite(str(root / "masks" / "train" / "a1.png"), np.dstack([m, m, m]))
    images, masks, names = load_split(root, "train")
    assert names == ["a0", "a1"]
    assert images[0].shape == (40, 48, 3) and images[0].dtype == np.uint8
    assert masks[1].shape == (40, 48) and masks[1][0, 0] == 255


@pytest.mark.parametrize("problem, message", [
    ("missing_mask", "mask .* is missing"),
    ("size", "must match"),
    ("code", r"codes \[20\] outside the class table"),
    ("grey", "grey image"),
    ("colour_mask", "colour picture"),
    ("no_masks_folder", "have no masks"),
])
def test_reader_bad_input(tmp_path, problem, message):
    root = _layout(tmp_path / "S")
    img, msk = root / "imgs" / "train" / "a0.jpg", root / "masks" / "train" / "a0.png"
    if problem == "missing_mask":
        msk.unlink()
    elif problem == "size":
        cv2.imwrite(str(msk), np.zeros((10, 10), np.uint8))
    elif problem == "code":
        cv2.imwrite(str(msk), np.full((40, 48), 20, np.uint8))
    elif problem == "grey":
        cv2.imwrite(str(img), np.zeros((40, 48), np.uint8))
    elif problem == "colour_mask":
        cv2.imwrite(str(msk), np.dstack([np.zeros((40, 48), np.uint8), np.ones((40, 48), np.uint8),
                                         np.zeros((40, 48), np.uint8)]))
    elif problem == "no_masks_folder":
        import shutil

        shutil.rmtree(root / "masks")
    with pytest.raises(GeocoreError, match=message):
        load_split(root, "train")


# ----------------------------------------------------------------------------- synthetic
def test_synthetic_sections_are_seeded_and_coloured():
    a, b = synthesize_section((128, 128), seed=4), synthesize_section((128, 128), seed=4)
    assert np.array_equal(a.image, b.image) and np.array_equal(a.mask, b.mask)
    assert not np.array_equal(a.mask, synthesize_section((128, 128), seed=5).mask)
    sections = [synthesize_section((160, 160), seed=s) for s in range(12)]
    codes = set().union(*(np.unique(s.mask).tolist() for s in sections))
    assert 0 in codes and codes <= set(DEMO_CODES) and len(codes) >= 6
    # reflected light: ore is bright, non-ore dark; pyrite brighter than sphalerite
    lum = {}
    for s in sections:
        for c in np.unique(s.mask):
            lum.setdefault(int(c), []).append(s.image[s.mask == c].mean())
    assert np.mean(lum[0]) < 70 < np.mean(lum[1])
    assert 6 in lum and 8 in lum  # the twelve seeds draw both
    assert np.mean(lum[6]) > np.mean(lum[8]) + 60


def test_write_sections_layout(tmp_path):
    res = write_sections(tmp_path / "d", 5, shape=(64, 64), seed=3, test_fraction=0.4)
    assert (res["train"], res["test"]) == (3, 2)
    samples = list_samples(tmp_path / "d", "test")
    x, y = read_sample(samples[0])
    assert x.shape == (64, 64, 3) and y.shape == (64, 64)


# ----------------------------------------------------------------------------- sampler
def test_balanced_sampler_beats_random_patches():
    masks = [synthesize_section((256, 256), seed=s).mask for s in range(10)]
    res = compare_balance(masks, DEMO_CODES, 64, n=300, seed=0)
    assert res["balanced"] > 3 * res["random"]
    assert res["balanced"] > 0.1


def test_sampler_takes_the_rarest_class_first():
    m = np.zeros((64, 64), np.uint8)
    m[40:48, 40:48] = 2
    s = BalancedPatchSampler([m], [0, 2], patch=16, seed=0)
    for _ in range(5):
        i, r, c = s.draw()
        assert (m[r:r + 16, c:c + 16] == 2).any()


def test_patch_dataset_is_deterministic_and_differs_per_worker():
    secs = [synthesize_section((96, 96), seed=s) for s in range(3)]
    def stream(worker, seed=0):
        ds = PatchDataset([s.image for s in secs], [s.mask for s in secs], DEMO_CODES, patch=32, length=4, seed=seed)
        return [y for _, y in ds.stream(worker, 2)]
    a, b, c = stream(0), stream(0), stream(1)
    assert all(np.array_equal(u, v) for u, v in zip(a, b))
    assert not all(np.array_equal(u, v) for u, v in zip(a, c))
    x, y = next(PatchDataset([s.image for s in secs], [s.mask for s in secs], DEMO_CODES, patch=32).stream())
    assert x.shape == (3, 32, 32) and x.dtype == np.float32 and 0 <= x.min() and x.max() <= 1
    assert y.dtype == np.int64 and set(np.unique(y)) <= set(range(len(DEMO_CODES))) | {255}


# ----------------------------------------------------------------------------- metrics
def test_metrics_sum_over_the_test_set():
    cm = ConfusionMatrix([0, 1, 2])
    # image 1: class 1 all right (4 px); image 2: class 1 half wrong (2 of 4 px predicted 0)
    cm.update(np.array([[1, 1], [1, 1]]), np.array([[1, 1], [1, 1]]))
    cm.update(np.array([[1, 1], [0, 0]]), np.array([[1, 0], [0, 0]]))
    iou = cm.iou()
    assert iou[1] == pytest.approx(5 / 6)  # (4 + 1) / (4 + 2): summed, not the mean of 1 and 0.5
    assert iou[0] == pytest.approx(2 / 3)
    assert 2 not in iou  # absent class left out of the mean
    assert cm.mean_iou() == pytest.approx((5 / 6 + 2 / 3) / 2)
    assert cm.pixel_accuracy() == pytest.approx(7 / 8)
    cm.update(np.array([[255]]), np.array([[2]]))  # ignored
    assert cm.matrix.sum() == 8


# ----------------------------------------------------------------------------- statistics
def test_statistics_known_answer():
    a = np.zeros((100, 100), np.uint8)
    a[10:30, 10:30] = 1           # one 20 x 20 chalcopyrite grain
    a[50:60, 50:60] = 6           # two 10 x 10 pyrite grains
    a[70:80, 70:80] = 6
    a[30:40, 10:30] = 8           # sphalerite touching the chalcopyrite along 20 px
    st = statistics_from_classes(a, pixel_size=2.0, size_classes=[10, 30, 100])
    rows = {r["code"]: r for r in st.table()}
    assert rows[1]["area_fraction"] == pytest.approx(400 / 1e4)
    assert rows[1]["area_um2"] == pytest.approx(400 * 4)
    assert rows[6]["ore_fraction"] == pytest.approx(200 / 800)
    assert rows[6]["grains"] == 2
    # ECD of a 20 x 20 px grain at 2 µm: 2 sqrt(1600 / pi)
    assert rows[1]["ecd_mean_um"] == pytest.approx(2 * np.sqrt(1600 / np.pi))
    i, j = st.codes.index(1), st.codes.index(8)
    assert st.contacts[i, j] == st.contacts[j, i] == pytest.approx(20 * 2.0)
    sizes = [r for r in st.size_table() if r["code"] == 6 and r["grains"]]
    assert len(sizes) == 1 and sizes[0]["lower_um"] == 10 and sizes[0]["grains"] == 2  # ECD 22.6 µm
    with pytest.raises(GeocoreError, match="strictly increasing"):
        statistics_from_classes(a, 1.0, size_classes=[50, 20])
    with pytest.raises(GeocoreError, match="outside the LumenStone table"):
        statistics_from_classes(np.full((4, 4), 40, np.uint8))


def test_empty_polygon_layer_keeps_fields_and_crs(tmp_path):
    import geopandas as gpd

    from geocore.files import write_vector
    from geocore.minerals.segment import polygons_from_classes
    from geocore.raster.micrometre import micrometre_crs

    gdf = polygons_from_classes(np.zeros((8, 8), np.uint8), micrometre_transform(2.0), micrometre_crs())
    write_vector(gdf, tmp_path / "none.gpkg")
    back = gpd.read_file(tmp_path / "none.gpkg")
    assert len(back) == 0 and {"code", "label", "name", "area"} <= set(back.columns)
    assert is_micrometre_crs(back.crs)
    one = polygons_from_classes(np.pad(np.ones((2, 3), np.uint8), 1), micrometre_transform(2.0), micrometre_crs())
    assert one["name"].tolist() == ["chalcopyrite"] and one["area"].tolist() == [24.0]


def test_contacts_ignore_nodata():
    a = np.array([[1, 255, 2], [1, 1, 2]], np.uint8)
    m = contact_lengths(a, [1, 2])
    assert m.tolist() == [[0.0, 1.0], [1.0, 0.0]]


# ----------------------------------------------------------------------------- segmentation
@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory):
    codes = list(DEMO_CODES)
    card = ModelCard(name="tiny", task="minerals", encoder="resnet18", in_channels=3, classes=len(codes),
                     tile_size=64, decoder_channels=[16, 16, 16, 16, 16], class_codes=codes,
                     class_names=[BY_CODE[c].name for c in codes],
                     normalization={"mode": "affine", "scale": [1 / 255] * 3, "offset": [0.0] * 3})
    torch.manual_seed(0)
    return save_model(build_model(card), card, tmp_path_factory.mktemp("model") / "tiny.safetensors")


@pytest.fixture(scope="module")
def photo(tmp_path_factory):
    path = tmp_path_factory.mktemp("photo") / "section.jpg"
    cv2.imwrite(str(path), synthesize_section((96, 128), seed=9).image[..., ::-1])
    return path


def test_segment_cli_outputs(tiny_model, photo, tmp_path, capsys):
    out = tmp_path / "seg"
    rc = main(["-q", "minerals", "segment", str(photo), "--out-dir", str(out), "--model", str(tiny_model),
               "--um-per-px", "1.5", "--probabilities", "--min-grain-px", "0"])
    assert rc == 0
    for name in ("classes.tif", "minerals.gpkg", "stats.csv", "probabilities.tif", "report.html",
                 "grain_sizes.csv", "contacts.csv"):
        assert (out / name).is_file(), name
    with rasterio.open(out / "classes.tif") as ds:
        classes = ds.read(1)
        assert is_micrometre_crs(ds.crs) and ds.transform == micrometre_transform(1.5)
        assert ds.colormap(1)[1][:3] == (255, 165, 0)
        assert ds.tags()["UM_PER_PX"] == "1.5" and ds.tags()["MODEL"] == "tiny" and "MODEL_NOTE" not in ds.tags()
    with rasterio.open(out / "probabilities.tif") as ds:
        q = ds.read()
        # compact: uint8, p = value / 254 through the GDAL scale, 255 = nodata
        assert q.dtype == np.uint8 and ds.scales == (1 / 254,) * 10 and ds.nodata == 255
        p = q * np.asarray(ds.scales)[:, None, None]
        assert p.shape == (10, 96, 128) and np.allclose(p.sum(axis=0), 1, atol=10 * 0.5 / 254)
        # the class map's class holds the largest stored probability (to one step of 1/254: rounding)
        idx = np.searchsorted(np.asarray(DEMO_CODES), classes)
        at_class = np.take_along_axis(q, idx[None], axis=0)[0].astype(int)
        assert (q.max(axis=0) - at_class <= 1).all()
        assert is_micrometre_crs(ds.crs) and ds.transform == micrometre_transform(1.5)
    # a plain JPEG with a pixel size: its lossless copy in the outputs' frame is written beside them
    with rasterio.open(out / "photo.tif") as ds, rasterio.open(photo) as src:
        assert is_micrometre_crs(ds.crs) and ds.transform == micrometre_transform(1.5)
        assert np.array_equal(ds.read(), src.read()) and ds.bounds == (0.0, -96 * 1.5, 128 * 1.5, 0.0)
    import geopandas as gpd

    gdf = gpd.read_file(out / "minerals.gpkg")
    assert {"code", "label", "name", "area", "perimeter", "ecd"} <= set(gdf.columns)
    assert is_micrometre_crs(gdf.crs)
    minx, miny, maxx, maxy = gdf.total_bounds  # on the photo copy: x in 0..192 µm, y in -144..0 µm
    assert 0 <= minx and maxx <= 192 and -144 <= miny and maxy <= 0
    # the polygons tile the ore exactly: total area = ore pixels x (1.5 µm)²
    assert gdf["area"].sum() == pytest.approx((classes != 0).sum() * 2.25)
    rows = list(csv.DictReader((out / "stats.csv").read_text().splitlines()))
    assert "area_fraction" in rows[0]
    assert sum(float(r["area_fraction"]) for r in rows) == pytest.approx(1.0)
    for r in rows:
        assert int(r["pixels"]) == (classes == int(r["code"])).sum()
    # size classes partition each mineral's grains and area; contacts are symmetric; the report shows them
    sizes = list(csv.DictReader((out / "grain_sizes.csv").read_text().splitlines()))
    for code in {r["code"] for r in sizes}:
        mine = [r for r in sizes if r["code"] == code]
        if sum(int(r["grains"]) for r in mine):
            assert sum(float(r["grain_fraction"]) for r in mine) == pytest.approx(1.0, abs=1e-4)
            assert sum(float(r["area_share"]) for r in mine) == pytest.approx(1.0, abs=1e-4)
    contacts = list(csv.DictReader((out / "contacts.csv").read_text().splitlines()))
    labels = [r["label"] for r in contacts]
    matrix = np.array([[float(r[lab]) for lab in labels] for r in contacts])
    assert np.allclose(matrix, matrix.T) and matrix.sum() > 0
    html = (out / "report.html").read_text()
    assert html.count("<img") >= 3 and all(r["name"] in html for r in rows)


def test_segment_shapefile_keeps_the_micrometre_crs(tiny_model, photo, tmp_path):
    """PROJ's ESRI WKT wrote the unit as '1E-06.0', a .prj that GDAL and QGIS could not read."""
    import geopandas as gpd

    out = tmp_path / "seg"
    assert main(["-q", "minerals", "segment", str(photo), "--out-dir", str(out), "--model", str(tiny_model),
                 "--um-per-px", "1.5", "--format", "shp"]) == 0
    assert "1E-06.0" not in (out / "minerals.prj").read_text()
    gdf = gpd.read_file(out / "minerals.shp")
    assert gdf.crs is not None and is_micrometre_crs(gdf.crs)
    from geocore.raster.micrometre import MICROMETRE_VECTOR_WKT

    assert (out / "minerals.prj").read_text() == MICROMETRE_VECTOR_WKT


@pytest.mark.parametrize("args, message", [
    (["--um-per-px", "-1"], "--um-per-px: must be a number > 0"),
    (["--tile", "50"], "multiple of 32"),
])
def test_segment_cli_errors(tiny_model, photo, tmp_path, capsys, args, message):
    out = tmp_path / "o"
    rc = main(["-q", "minerals", "segment", str(photo), "--out-dir", str(out), "--model", str(tiny_model), *args])
    err = capsys.readouterr().err
    assert rc == 2 and err.startswith("geocore: error:") and message in err and err.count("\n") == 1
    assert not out.exists() or not list(out.iterdir())


def test_segment_refuses_grey_and_16_bit(tiny_model, tmp_path, capsys):
    grey = tmp_path / "grey.png"
    cv2.imwrite(str(grey), np.zeros((64, 64), np.uint8))
    assert main(["-q", "minerals", "segment", str(grey), "--out-dir", str(tmp_path / "o"), "--model", str(tiny_model)]) == 2
    assert "grey image" in capsys.readouterr().err
    deep = tmp_path / "deep.tif"
    with rasterio.open(deep, "w", driver="GTiff", width=8, height=8, count=3, dtype="uint16") as ds:
        ds.write(np.zeros((3, 8, 8), np.uint16))
    with pytest.raises(GeocoreError, match="8-bit RGB"):
        segment_image(deep, tmp_path / "c.tif", model_path=tiny_model)


def test_panorama_too_big_for_memory_is_refused_before_work(tiny_model, photo, tmp_path, monkeypatch):
    from geocore import system
    from geocore.minerals import segment

    with pytest.raises(GeocoreError, match="cut the panorama"):
        segment.check_memory(12000, 8000, available=512 * 2**20)
    segment.check_memory(12000, 8000, available=4 * 2**30)
    monkeypatch.setattr(system, "available_memory", lambda: 10_000)
    with pytest.raises(GeocoreError, match="GiB of memory is available"):
        segment_image(photo, tmp_path / "out" / "classes.tif", model_path=tiny_model)
    assert not (tmp_path / "out").exists()


def test_segment_cancel_leaves_nothing(tiny_model, photo, tmp_path):
    cancel = CancelAfter(3)
    with pytest.raises(Cancelled):
        segment_image(photo, tmp_path / "classes.tif", polygons_path=tmp_path / "m.gpkg",
                      stats_dir=tmp_path, model_path=tiny_model, cancel=cancel)
    assert list(tmp_path.iterdir()) == []


def test_segment_with_extra_crossed_polar_image(tmp_path, photo):
    codes = [0, 1, 6]
    card = ModelCard(name="xpl", task="minerals", encoder="resnet18", in_channels=6, classes=3, tile_size=64,
                     decoder_channels=[8, 8, 8, 8, 8], class_codes=codes, class_names=["a", "b", "c"],
                     normalization={"mode": "affine", "scale": [1 / 255] * 6, "offset": [0.0] * 6})
    model = save_model(build_model(card), card, tmp_path / "xpl.safetensors")
    res = segment_image(photo, tmp_path / "c.tif", SegmentParams(min_grain_px=0), model_path=model, extra=[photo])
    with rasterio.open(res.classes) as ds:
        assert set(np.unique(ds.read(1))) <= set(codes)
    with pytest.raises(GeocoreError, match="6 channels"):
        segment_image(photo, tmp_path / "c2.tif", model_path=model)


# ----------------------------------------------------------------------------- training
def test_synth_train_evaluate_stats_cli(tmp_path, capsys):
    data = tmp_path / "data"
    assert main(["-q", "minerals", "synth", "--out-dir", str(data), "--count", "4", "--size", "96", "96",
                 "--seed", "2", "--test-fraction", "0.25"]) == 0
    model = tmp_path / "m.safetensors"
    assert main(["-q", "minerals", "train", "--data", str(data), "--out", str(model), "--encoder", "resnet18",
                 "--decoder-channels", "16", "16", "16", "16", "16", "--patch", "64", "--epochs", "1",
                 "--patches-per-epoch", "4", "--batch-size", "2", "--val-patches", "2", "--device", "cpu"]) == 0
    card = json.loads(model.with_suffix(".json").read_text())
    assert card["class_codes"][0] == 0 and card["task"] == "minerals" and card["in_channels"] == 3
    assert "--encoder resnet18" in card["training"]["command"]
    # a finished run leaves no per-epoch checkpoint folder (it was 285 MB for a VGG16 U-Net)
    assert not (tmp_path / "m.ckpt").exists()
    # trained on synthetic sections: the card says so, and every use of the model repeats it
    assert card["training"]["data"]["generator"] == "geocore.minerals.synthetic"
    bal = card["training"]["sampler"]["balance_rarest_over_commonest"]
    assert bal["balanced"] >= bal["random"]
    capsys.readouterr()
    assert main(["-q", "minerals", "evaluate", "--data", str(data), "--model", str(model), "--device", "cpu",
                 "--json", str(tmp_path / "metrics.json")]) == 0
    printed = capsys.readouterr().out
    first = printed.splitlines()[0]
    assert first.startswith("WARNING: model '") and "was trained on synthetic sections only" in first
    metrics = json.loads((tmp_path / "metrics.json").read_text())
    assert f"mean IoU: {card['metrics']['test']['mean_iou']:.4f}" in printed
    assert np.asarray(metrics["confusion_matrix"]).sum() == 96 * 96
    # statistics of a true mask through the CLI
    mask = next((data / "masks" / "test").glob("*.png"))
    tif = tmp_path / "truth.tif"
    with rasterio.open(tif, "w", driver="GTiff", width=96, height=96, count=1, dtype="uint8") as ds:
        ds.write(cv2.imread(str(mask), cv2.IMREAD_UNCHANGED), 1)
    assert main(["-q", "minerals", "stats", str(tif), "--out-dir", str(tmp_path / "st"), "--um-per-px", "3"]) == 0
    rows = list(csv.DictReader((tmp_path / "st" / "stats.csv").read_text().splitlines()))
    assert sum(float(r["area_um2"]) for r in rows) == pytest.approx(96 * 96 * 9)


def test_train_refuses_bad_data(tmp_path, capsys):
    root = _layout(tmp_path / "S", size=(64, 64))
    rc = main(["-q", "minerals", "train", "--data", str(root), "--out", str(tmp_path / "m.safetensors"),
               "--patch", "32", "--epochs", "1"])
    assert rc == 2 and "test split" in capsys.readouterr().err
    assert main(["-q", "minerals", "train", "--data", str(root), "--out", str(tmp_path / "m.safetensors"),
                 "--patch", "33"]) == 2
    assert "multiple of 32" in capsys.readouterr().err
    # an output whose folder is a file: one line before any work (was a NotADirectoryError traceback)
    (tmp_path / "afile").write_text("x")
    assert main(["-q", "minerals", "train", "--data", str(root), "--out", str(tmp_path / "afile" / "m.safetensors"),
                 "--patch", "32", "--epochs", "1"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("geocore: error: ") and "output folder" in err and "is an existing file" in err
    assert "\n" not in err


def test_sampler_explains_a_patch_as_large_as_the_images():
    masks = [np.zeros((256, 256), np.uint8), np.ones((256, 256), np.uint8)]
    with pytest.raises(GeocoreError, match="smaller patch"):
        BalancedPatchSampler(masks, [0, 1], patch=256)
    assert BalancedPatchSampler(masks, [0, 1], patch=224).draw()[0] in (0, 1)


def test_stats_of_a_plain_png_warns_once(tmp_path, capsys):
    """A class map without georeferencing: geocore's own warning only, not rasterio's as well."""
    import warnings

    from rasterio.errors import NotGeoreferencedWarning

    from geocore.minerals.stats import statistics_from_raster
    from geocore.raster import NotGeoreferencedGrid

    png = tmp_path / "classes.png"
    cv2.imwrite(str(png), np.repeat(np.array([0, 1, 6], np.uint8), 32)[None, :].repeat(48, axis=0))
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        statistics_from_raster(png)
    kinds = [w.category for w in seen]
    assert NotGeoreferencedGrid in kinds and NotGeoreferencedWarning not in kinds


def test_stats_error_on_a_photo_is_one_short_line(tmp_path, capsys):
    photo = tmp_path / "photo.png"
    cv2.imwrite(str(photo), np.arange(64 * 64, dtype=np.uint32).reshape(64, 64).astype(np.uint8))
    assert main(["-q", "minerals", "stats", str(photo), "--out-dir", str(tmp_path / "st")]) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("geocore: error: the class map holds codes 15, 16") and len(err) < 200
    assert not (tmp_path / "st").exists()


def test_train_pspnet_with_crossed_polar_channels(tmp_path):
    """The paper's PSPNet-ResNet18 by name, on RGB + one aligned extra image (6 channels)."""
    import shutil

    from geocore.minerals.train import MineralTrainConfig, evaluate_model, train_mineral_model

    data = tmp_path / "d"
    write_sections(data, 3, shape=(64, 64), seed=8, test_fraction=0.34)
    shutil.copytree(data / "imgs", data / "imgs_xpl")
    model = train_mineral_model(MineralTrainConfig(
        data=[data], out=tmp_path / "psp.safetensors", arch="PSPNet", encoder="resnet18", extra=["xpl"],
        patch=32, epochs=1, patches_per_epoch=2, batch_size=2, val_patches=1, device="cpu", classes="S1+S2"))
    card = json.loads(model.with_suffix(".json").read_text())
    assert card["architecture"] == "PSPNet" and card["in_channels"] == 6
    assert card["class_codes"] == list(DEMO_CODES)  # from --classes, not only those in the masks
    m = evaluate_model([data], model, device="cpu")
    assert m["mean_iou"] == pytest.approx(card["metrics"]["test"]["mean_iou"])
    (data / "imgs_xpl" / "test" / next((data / "imgs" / "test").iterdir()).name).unlink()
    with pytest.raises(GeocoreError, match="extra image 'xpl'"):
        evaluate_model([data], model, device="cpu")


def test_demo_model_outputs_say_so_and_overlay_the_photo_copy(photo, tmp_path, capsys):
    """The shipped DEMO model on a plain JPEG with a pixel size: every output carries the caveat, and the
    compact probabilities feed the uncertainty regions in the same micrometre frame as photo.tif."""
    import geopandas as gpd

    from geocore.microscopy.uncertainty import read_probabilities

    out = tmp_path / "seg"
    assert main(["-q", "minerals", "segment", str(photo), "--out-dir", str(out), "--um-per-px", "0.5",
                 "--probabilities", "--device", "cpu"]) == 0
    printed = capsys.readouterr().out
    assert printed.startswith("WARNING: DEMO model") and "synthetic sections" in printed
    assert "area fractions (DEMO model):" in printed
    report = (out / "report.html").read_text()
    assert 'class="warning"' in report and "DEMO model" in report
    for name in ("classes.tif", "probabilities.tif"):
        with rasterio.open(out / name) as ds:
            assert "DEMO" in ds.tags()["MODEL_NOTE"]
    # stats of the class map again (geocore minerals stats): the caveat follows the class map
    assert main(["-q", "minerals", "stats", str(out / "classes.tif"), "--out-dir", str(tmp_path / "st")]) == 0
    assert "WARNING: DEMO" in capsys.readouterr().out
    assert 'class="warning"' in (tmp_path / "st" / "report.html").read_text()
    # uncertainty from the uint8 probabilities: the scale is applied (entropy within 0..1, like float input)
    ent, mar, valid, transform, crs, georef = read_probabilities(out / "probabilities.tif")
    assert valid.all() and 0 <= ent.min() and ent.max() <= 1 and 0 <= mar.min() and mar.max() <= 1
    assert transform == micrometre_transform(0.5) and is_micrometre_crs(crs)
    assert main(["uncertainty", str(out / "probabilities.tif"), "--out", str(tmp_path / "unc.gpkg"),
                 "--share", "0.1"]) == 0
    assert capsys.readouterr().out.startswith("WARNING: DEMO model")
    regions = gpd.read_file(tmp_path / "unc.gpkg")
    with rasterio.open(out / "photo.tif") as ds:
        left, bottom, right, top = ds.bounds
    minx, miny, maxx, maxy = regions.total_bounds
    assert is_micrometre_crs(regions.crs) and left <= minx and maxx <= right and bottom <= miny and maxy <= top


@pytest.mark.parametrize("notes, generator, expected", [
    ("DEMO MODEL, trained only on synthetic polished sections", "", "DEMO model"),
    ("", "geocore.minerals.synthetic (classes S1+S2)", "trained on synthetic sections only"),
    ("trained on LumenStone S1", "", ""),
])
def test_model_notice(notes, generator, expected):
    from geocore.minerals.segment import model_notice

    card = ModelCard(name="m", task="minerals", notes=notes, training={"data": {"generator": generator}})
    notice = model_notice(card)
    assert (expected in notice) if expected else notice == ""
