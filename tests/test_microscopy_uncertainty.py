"""Uncertainty regions: entropy and margin, ranked polygons, and that they find the errors."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from geocore.cli import main
from geocore.errors import GeocoreError
from geocore.microscopy.synthetic import synthetic_section
from geocore.microscopy.uncertainty import (
    entropy,
    margin,
    select_regions,
    tta_probabilities,
    uncertainty,
)
from microscopy_helpers import run_error
from stand_in_model import ColourClassifier

CLASSES = (0, 1, 2, 5, 6, 7, 8)
UM = from_origin(0.0, 0.0, 1.5, 1.5)  # 1.5 micrometre pixels in a local engineering frame


@pytest.fixture(scope="module")
def model():
    train = synthetic_section((256, 256), classes=CLASSES, n_grains=40, seed=10, noise=12)
    return ColourClassifier(n_classes=9, temperature=3).fit(train.rgb, train.mask)


@pytest.fixture(scope="module")
def test_section():
    return synthetic_section((256, 256), classes=CLASSES, n_grains=40, seed=11, noise=12)


def test_entropy_and_margin_known_values():
    p = np.zeros((4, 1, 3), np.float32)
    p[:, 0, 0] = 0.25                     # uniform: entropy 1, margin 0
    p[0, 0, 1] = 1.0                      # certain: entropy 0, margin 1
    p[:2, 0, 2] = (0.7, 0.3)              # two classes
    assert entropy(p)[0].tolist() == pytest.approx([1.0, 0.0, -(0.7 * np.log(0.7) + 0.3 * np.log(0.3)) / np.log(4)])
    assert margin(p)[0].tolist() == pytest.approx([0.0, 1.0, 0.4])
    assert uncertainty(p, "margin")[0].tolist() == pytest.approx([1.0, 0.0, 0.6])


def test_selection_covers_the_share_and_ranks_regions():
    score = np.zeros((100, 100), np.float32)
    score[10:20, 10:20] = 0.9             # 1 % of the image, very uncertain
    score[60:75, 60:80] = 0.5             # 3 %, less so
    labels, means = select_regions(score, 0.04, smooth_px=0, min_area_px=1)
    assert (labels > 0).mean() == pytest.approx(0.04, abs=0.001)
    assert labels[15, 15] == 1 and labels[65, 70] == 2 and list(means) == pytest.approx([0.9, 0.5])
    with pytest.raises(GeocoreError, match="between 0 and 1"):
        select_regions(score, 7)


def test_chosen_regions_hold_far_more_errors_than_random_regions(model, test_section):
    prob = model(test_section.rgb)
    errors = prob.argmax(axis=0) != test_section.mask
    assert 0.01 < errors.mean() < 0.2
    rng = np.random.default_rng(0)
    for metric in ("entropy", "margin"):
        labels, _ = select_regions(uncertainty(prob, metric), 0.07)
        chosen = labels > 0
        # random regions of exactly the same shapes and area: the selection shifted around the image
        random = np.mean([errors[np.roll(chosen, tuple(rng.integers(0, 256, 2)), axis=(0, 1))].sum()
                          for _ in range(40)])
        assert errors[chosen].sum() > 2.5 * random, metric


def test_tta_maps_predictions_back():
    rgb = np.zeros((6, 8, 3), np.uint8)
    rgb[:, :3] = 255

    def model(img):                       # class 1 where bright: equivariant, so TTA changes nothing
        bright = img[..., 0] > 128
        return np.stack([~bright, bright]).astype(np.float32)

    p = tta_probabilities(rgb, model, augmentations=("identity", "hflip", "vflip", "rot90", "rot270"))
    assert p.shape == (2, 6, 8) and (p[1, :, :3] == 1).all() and (p[1, :, 3:] == 0).all()


def test_cli_polygons_in_micrometres(tmp_path, model, test_section, capsys):
    prob = model(test_section.rgb)
    path = tmp_path / "prob.tif"
    with rasterio.open(path, "w", driver="GTiff", count=prob.shape[0], height=256, width=256, dtype="float32",
                       transform=UM) as ds:
        ds.write(prob)
    out = tmp_path / "regions.gpkg"
    assert main(["-q", "uncertainty", str(path), "--out", str(out), "--share", "0.05", "--metric", "margin",
                 "--map", str(tmp_path / "unc.tif")]) == 0
    assert "rank 1 = least sure" in capsys.readouterr().out
    gdf = gpd.read_file(out)
    assert {"rank", "mean_unc", "max_unc", "mean_margin", "pixels", "area"} <= set(gdf.columns)
    assert list(gdf["rank"]) == list(range(1, len(gdf) + 1))
    assert list(gdf["mean_unc"]) == sorted(gdf["mean_unc"], reverse=True)
    assert gdf["area"].sum() == pytest.approx(gdf["pixels"].sum() * 1.5 ** 2)   # square micrometres
    assert gdf["pixels"].sum() / 256 ** 2 == pytest.approx(0.05, abs=0.01)
    with rasterio.open(tmp_path / "unc.tif") as ds:
        assert ds.transform == UM and 0 <= ds.read(1).min() and ds.read(1).max() <= 1



def test_cli_shapefile_in_the_micrometre_crs(tmp_path, model, test_section):
    """PROJ's ESRI WKT wrote the micrometre as '1E-06.0': the .prj could not be read back (by QGIS either)."""
    from geocore.raster.micrometre import MICROMETRE_CRS_NAME, MICROMETRE_WKT

    prob = model(test_section.rgb)
    path = tmp_path / "prob.tif"
    with rasterio.open(path, "w", driver="GTiff", count=prob.shape[0], height=256, width=256, dtype="float32",
                       transform=UM, crs=rasterio.crs.CRS.from_wkt(MICROMETRE_WKT)) as ds:
        ds.write(prob)
    assert main(["-q", "uncertainty", str(path), "--out", str(tmp_path / "r.shp"), "--share", "0.05"]) == 0
    assert "E-06.0" not in (tmp_path / "r.prj").read_text()
    gdf = gpd.read_file(tmp_path / "r.shp")
    assert gdf.crs is not None and gdf.crs.name == MICROMETRE_CRS_NAME


def test_cli_errors(tmp_path, capsys):
    one = tmp_path / "classes.tif"
    with rasterio.open(one, "w", driver="GTiff", count=1, height=8, width=8, dtype="uint8", transform=UM) as ds:
        ds.write(np.zeros((1, 8, 8), np.uint8))
    err = run_error(main, capsys, ["-q", "uncertainty", str(one), "--out", str(tmp_path / "r.gpkg")])
    assert "one band per class" in err
    logits = tmp_path / "logits.tif"
    with rasterio.open(logits, "w", driver="GTiff", count=3, height=8, width=8, dtype="float32",
                       transform=UM) as ds:
        ds.write(np.random.default_rng(0).normal(0, 3, (3, 8, 8)).astype(np.float32))
    err = run_error(main, capsys, ["-q", "uncertainty", str(logits), "--out", str(tmp_path / "r.gpkg")])
    assert "not logits" in err
    err = run_error(main, capsys, ["-q", "uncertainty", str(logits), "--out", str(tmp_path / "r.gpkg"),
                                   "--share", "1.5"])
    assert "--share: must be a number in (0, 1]" in err
    assert not (tmp_path / "r.gpkg").exists()


@pytest.fixture(scope="module")
def tiny_minerals_model(tmp_path_factory):
    import torch

    from geocore.models import ModelCard, build_model, save_model

    card = ModelCard(name="tiny", task="minerals", architecture="Unet", encoder="resnet18", in_channels=3,
                     classes=4, tile_size=64, decoder_channels=[8, 8, 8, 8, 8],
                     normalization={"mode": "affine", "scale": [1 / 255.0] * 3, "offset": [0.0] * 3},
                     class_names=["bg", "ccp", "gl", "py"])
    torch.manual_seed(0)
    return save_model(build_model(card), card, tmp_path_factory.mktemp("model") / "tiny.safetensors")


def test_cli_model_with_tta(tmp_path, tiny_minerals_model, test_section, capsys):
    import torch

    torch.set_num_threads(1)
    photo = tmp_path / "photo.tif"
    rgb = test_section.rgb[:96, :128]
    with rasterio.open(photo, "w", driver="GTiff", count=3, height=96, width=128, dtype="uint8", transform=UM) as ds:
        ds.write(np.moveaxis(rgb, -1, 0))
    prob_plain, prob_tta = tmp_path / "p.tif", tmp_path / "p_tta.tif"
    for extra, prob in (([], prob_plain), (["--tta"], prob_tta)):
        assert main(["-q", "uncertainty", str(photo), "--model", str(tiny_minerals_model), "--device", "cpu",
                     "--probability-out", str(prob), "--out", str(tmp_path / f"r{len(extra)}.gpkg"), *extra]) == 0
    with rasterio.open(prob_plain) as a, rasterio.open(prob_tta) as b:
        pa, pb = a.read(), b.read()
        assert a.count == 4 and a.transform == UM and a.descriptions[3] == "py"
    np.testing.assert_allclose(pa.sum(axis=0), 1.0, atol=1e-4)
    np.testing.assert_allclose(pb.sum(axis=0), 1.0, atol=1e-4)
    assert np.abs(pa - pb).max() > 1e-4            # a random network is not flip-invariant: TTA changed something
    assert gpd.read_file(tmp_path / "r1.gpkg")["rank"].min() == 1
    err = run_error(main, capsys, ["-q", "uncertainty", str(photo), "--tta", "--out", str(tmp_path / "x.gpkg")])
    assert "--model" in err
    grey = tmp_path / "grey.tif"
    with rasterio.open(grey, "w", driver="GTiff", count=1, height=96, width=128, dtype="uint8", transform=UM) as ds:
        ds.write(rgb[..., 0], 1)
    err = run_error(main, capsys, ["-q", "uncertainty", str(grey), "--model", str(tiny_minerals_model),
                                   "--out", str(tmp_path / "g.gpkg")])
    assert "has 1 band but the model takes 3" in err and not (tmp_path / "g.gpkg").exists()
