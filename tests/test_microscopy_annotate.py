"""Superpixel-assisted annotation: strokes -> LumenStone mask and polygons."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest

pytestmark = pytest.mark.filterwarnings("ignore:'crs' was not provided")
from affine import Affine
from shapely.affinity import scale
from shapely.geometry import LineString, Point

from geocore.cli import main
from geocore.errors import GeocoreError
from geocore.microscopy.annotate import (
    annotate_array,
    mean_iou,
    propagate,
    rasterize_strokes,
    segmentations,
)
from geocore.microscopy.classes import BY_CODE, class_code
from geocore.microscopy.synthetic import simulate_strokes, synthetic_section
from microscopy_helpers import read_png, run_error, write_png

SHAPE = (256, 256)


@pytest.fixture(scope="module")
def section():
    return synthetic_section(SHAPE, classes=(0, 1, 2, 6, 8), n_grains=30, seed=5)


@pytest.fixture(scope="module")
def levels(section):
    return segmentations(section.rgb)


def qgis_coordinates(strokes):
    """Pixel (col, row) strokes -> the coordinates QGIS gives a photo without georeferencing (y = -row)."""
    return [(c, scale(g, 1.0, -1.0, origin=(0, 0))) for c, g in strokes]


def write_strokes(path, strokes, field="class", as_labels=False):
    values = [BY_CODE[c].label if as_labels else c for c, _ in strokes]
    gpd.GeoDataFrame({field: values}, geometry=[g for _, g in strokes]).to_file(path)
    return path


def test_propagate_fills_agreeing_superpixels_and_splits_disagreeing_ones():
    coarse = np.zeros((4, 6), np.int32)            # one superpixel over everything
    fine = np.repeat(np.array([[0, 0, 0, 1, 1, 1]]), 4, axis=0).astype(np.int32)
    strokes = np.full((4, 6), 255, np.uint8)
    strokes[1, 1] = 6
    out = propagate(strokes, [coarse, fine])
    assert (out == 6).all()                        # one class: the whole coarse superpixel takes it
    strokes[2, 4] = 1
    out = propagate(strokes, [coarse, fine])
    assert (out[:, :3] == 6).all() and (out[:, 3:] == 1).all()   # disagreement: finer superpixels decide


def test_unstroked_regions_stay_unlabelled():
    labels = np.repeat(np.arange(3)[None], 2, axis=0).astype(np.int32)
    strokes = np.full((2, 3), 255, np.uint8)
    strokes[0, 0] = 2
    assert propagate(strokes, [labels]).tolist() == [[2, 255, 255], [2, 255, 255]]


def test_more_strokes_give_better_masks(section, levels):
    ious = []
    for share in (0.002, 0.01, 0.04):
        strokes = simulate_strokes(section.mask, share, seed=1)
        burnt = rasterize_strokes([g for _, g in strokes], [c for c, _ in strokes], SHAPE, Affine.identity())
        assert (burnt != 255).mean() == pytest.approx(share, rel=0.3, abs=0.001)
        mask, _, _ = annotate_array(section.rgb, [g for _, g in strokes], [c for c, _ in strokes], levels=levels)
        labelled = mask != 255
        assert (mask[labelled] == section.mask[labelled]).mean() > 0.95
        ious.append(mean_iou(mask, section.mask))
    assert ious[0] < ious[1] < ious[2]
    assert ious[1] > 0.5 and ious[2] > 0.8


def test_colour_check_stops_a_coarse_superpixel_painting_another_mineral():
    rgb = np.zeros((10, 20, 3), np.uint8)
    rgb[:, :10] = (230, 220, 170)                  # pyrite
    rgb[:, 10:] = (40, 40, 45)                     # matrix
    coarse = np.where(np.arange(20) < 15, 0, 1)[None].repeat(10, axis=0).astype(np.int32)  # swallows matrix
    fine = (np.arange(20)[None] // 5 * np.ones((10, 1))).astype(np.int32)
    strokes = np.full((10, 20), 255, np.uint8)
    strokes[5, 1:4] = 6
    strokes[5, 16:19] = 0
    plain = propagate(strokes, [coarse, fine])
    checked = propagate(strokes, [coarse, fine], rgb=rgb)
    assert (plain[:, :15] == 6).all()                       # the matrix at columns 10..14 painted as pyrite
    assert (checked[:, :10] == 6).all() and (checked[:, 10:15] == 255).all()
    assert (checked[:, 15:] == 0).all()


def test_class_codes_and_labels():
    assert class_code("py") == class_code("Pyrite") == class_code(6) == class_code("6") == 6
    with pytest.raises(GeocoreError, match="not a LumenStone class"):
        class_code("quartz")


def test_cli_mask_and_polygons_line_up_in_qgis_coordinates(tmp_path, section, capsys):
    photo = write_png(tmp_path / "section.png", section.rgb)
    strokes = qgis_coordinates(simulate_strokes(section.mask, 0.02, seed=2))
    gpkg = write_strokes(tmp_path / "strokes.gpkg", strokes, field="mineral", as_labels=True)
    out = tmp_path / "out"
    assert main(["-q", "annotate", str(photo), "--strokes", str(gpkg), "--class-field", "mineral",
                 "--out-dir", str(out)]) == 0
    assert "% labelled" in capsys.readouterr().out
    mask = read_png(out / "section.png")
    assert mask.dtype == np.uint8 and mask.shape == SHAPE
    labelled = mask != 255
    assert labelled.mean() > 0.6 and (mask[labelled] == section.mask[labelled]).mean() > 0.95
    polygons = gpd.read_file(out / "section_polygons.gpkg")
    assert {"code", "label", "name", "area"} <= set(polygons.columns)
    assert polygons.total_bounds[1] >= -SHAPE[0] - 1e-6 and polygons.total_bounds[3] <= 1e-6  # y = -row
    # polygons cover the labelled pixels, with the right class at each place
    assert polygons.area.sum() == pytest.approx(labelled.sum(), rel=0.01)
    for _, row in polygons.sample(10, random_state=0).iterrows():
        p = row.geometry.representative_point()
        assert mask[int(-p.y), int(p.x)] == row["code"]


def test_cli_errors(tmp_path, section, capsys):
    photo = write_png(tmp_path / "section.png", section.rgb)
    strokes = qgis_coordinates(simulate_strokes(section.mask, 0.01, seed=2))
    gpkg = write_strokes(tmp_path / "strokes.gpkg", strokes)
    out = str(tmp_path / "out")
    err = run_error(main, capsys, ["-q", "annotate", str(photo), "--strokes", str(gpkg), "--class-field", "mineral",
                                   "--out-dir", out])
    assert "no field 'mineral'" in err and "class" in err
    far = write_strokes(tmp_path / "far.gpkg", [(6, LineString([(1000, 1000), (1100, 1100)]))])
    err = run_error(main, capsys, ["-q", "annotate", str(photo), "--strokes", str(far), "--out-dir", out])
    assert "no stroke falls on the photo" in err
    bad = tmp_path / "bad.gpkg"
    gpd.GeoDataFrame({"class": ["quartz"]}, geometry=[LineString([(1, -1), (5, -5)])]).to_file(bad)
    err = run_error(main, capsys, ["-q", "annotate", str(photo), "--strokes", str(bad), "--out-dir", out])
    assert "quartz" in err
    pts = tmp_path / "pts.gpkg"
    gpd.GeoDataFrame({"class": [6]}, geometry=[Point(3, -3)]).to_file(pts)
    err = run_error(main, capsys, ["-q", "annotate", str(photo), "--strokes", str(pts), "--out-dir", out])
    assert "not points" in err
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_rerun_with_more_strokes_reuses_superpixels_and_refines(tmp_path, section, monkeypatch):
    from geocore.microscopy import annotate

    photo = write_png(tmp_path / "section.png", section.rgb)
    few = write_strokes(tmp_path / "few.gpkg", qgis_coordinates(simulate_strokes(section.mask, 0.003, seed=4)))
    more = write_strokes(tmp_path / "more.gpkg", qgis_coordinates(simulate_strokes(section.mask, 0.02, seed=4)))
    first = annotate.annotate_image(photo, few, tmp_path / "m1.png")
    calls = []
    monkeypatch.setattr(annotate, "segmentations", lambda *a, **k: calls.append(1))
    second = annotate.annotate_image(photo, more, tmp_path / "m2.png")
    assert not calls                                      # superpixels came from the cache
    assert second.labelled_fraction > first.labelled_fraction


def test_georeferenced_photo_in_micrometres(tmp_path, section):
    """A photo in a local engineering frame (0.5 um pixels): strokes in that frame, areas in square micrometres."""
    import rasterio
    from rasterio.transform import from_origin

    from geocore.microscopy import annotate

    transform = from_origin(100.0, 500.0, 0.5, 0.5)
    photo = tmp_path / "section.tif"
    with rasterio.open(photo, "w", driver="GTiff", count=3, height=SHAPE[0], width=SHAPE[1], dtype="uint8",
                       transform=transform) as ds:
        ds.write(np.moveaxis(section.rgb, -1, 0))
    strokes = [(c, LineString([(100.0 + 0.5 * x, 500.0 - 0.5 * y) for x, y in g.coords]))
               for c, g in simulate_strokes(section.mask, 0.02, seed=2)]
    gpkg = write_strokes(tmp_path / "strokes.gpkg", strokes)
    res = annotate.annotate_image(photo, gpkg, tmp_path / "mask.tif", tmp_path / "polygons.gpkg")
    with rasterio.open(tmp_path / "mask.tif") as ds:
        mask = ds.read(1)
        assert ds.transform == transform
    labelled = mask != 255
    assert res.labelled_fraction > 0.6 and (mask[labelled] == section.mask[labelled]).mean() > 0.95
    polygons = gpd.read_file(tmp_path / "polygons.gpkg")
    assert polygons["area"].sum() == pytest.approx(labelled.sum() * 0.25, rel=0.01)
    assert polygons.total_bounds[0] >= 100.0 and polygons.total_bounds[3] <= 500.0
