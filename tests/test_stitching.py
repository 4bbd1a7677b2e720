"""Panorama stitching: known-answer tiles, real microscope tiles, bad input."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import rasterio

from cancelling import CancelAfter
from geocore.cli import main
from geocore.errors import Cancelled, GeocoreError
from geocore.panorama import StitchParams, stitch
from geocore.panorama.blend import composite_strips, gain_compensation
from geocore.panorama.corrections import Corrections, Distortion
from geocore.panorama.placement import place_tiles
from geocore.panorama.register import PairResult
from geocore.panorama.tiles import discover_tiles, parse_row_col
from geocore.raster.micrometre import is_micrometre_crs, micrometre_transform
from panorama_helpers import cut_tiles, load_rgb, position_error, rigid_error, vignetting
from testdata import REAL, SECTION_PHOTO, needs_real

SECTIONS = REAL / "sections"
TILES = REAL / "tiles"
needs_sections = needs_real(SECTIONS)
needs_tiles = needs_real(TILES)
QUIET = dict(report=False, tiles_report=False, layout_png=False)


@pytest.fixture(scope="module", params=["fixture", pytest.param("real", marks=needs_sections)])
def photo(request):
    """The scene tiles are cut from: the seeded fixture photograph of a synthetic polished section
    (960 x 1280, ``tests/data/make_fixtures.py``), and, as an extra layer where the real data is
    present, a real reflected-light photograph of an ore section (RGB, 3396 x 2547) at half size."""
    if request.param == "fixture":
        return load_rgb(SECTION_PHOTO)
    return load_rgb(SECTIONS / "calibration_src_01.jpg", scale=0.5)


@pytest.fixture(scope="module")
def rgb_tiles(photo, tmp_path_factory):
    """3 x 3 RGB JPEG tiles, 25 % overlap, sub-pixel jitter, 30 % vignetting, noise."""
    return cut_tiles(photo, tmp_path_factory.mktemp("rgb"), rows=3, cols=3, tile_shape=(360, 480), overlap=0.25,
                     jitter=6.0, vignette=0.3, noise=2.0, seed=1, suffix=".jpg")


@pytest.fixture(scope="module")
def rgb_stitched(rgb_tiles, tmp_path_factory):
    out = tmp_path_factory.mktemp("rgb_out") / "panorama.tif"
    return stitch([rgb_tiles.paths[0].parent], out, StitchParams(um_per_px=0.65, overviews=True))


# ----------------------------------------------------------------------------- names and discovery
@pytest.mark.parametrize("name, rc", [("r003_c006.tiff", (3, 6)), ("r1-c12.png", (1, 12)), ("Scan_R2_C3.jpg", (2, 3)),
                                      ("tile_4.5.tif", (4, 5)), ("IMG_0042.jpg", None), ("field3.png", None)])
def test_row_col_from_names(name, rc):
    assert parse_row_col(name) == rc


@pytest.fixture(scope="module")
def small_tiles(tmp_path_factory):
    """2 x 3 grey PNG tiles (200 x 240) cut from the fixture photograph, 25 % overlap, known positions."""
    grey = load_rgb(SECTION_PHOTO).mean(axis=2).astype(np.uint8)
    return cut_tiles(grey, tmp_path_factory.mktemp("small"), rows=2, cols=3, tile_shape=(200, 240), overlap=0.25,
                     jitter=4.0, seed=3)


def test_discovery_ignores_non_tiles_in_a_grid_folder_of_cut_tiles(small_tiles, tmp_path):
    import cv2

    for p in small_tiles.paths:
        shutil.copy(p, tmp_path / p.name)
    cv2.imwrite(str(tmp_path / "merged.png"), np.zeros((400, 700), np.uint8))  # a mosaic someone left there
    (tmp_path / "notes.txt").write_text("not an image")
    ts = discover_tiles([tmp_path])
    assert ts.layout == "grid" and len(ts) == 6 and ts.shape == (200, 240)
    assert "merged.png" in [p.name for p in ts.ignored]
    assert {(t.row, t.col) for t in ts.tiles} == {(r, c) for r in range(2) for c in range(3)}


@needs_tiles
def test_discovery_ignores_non_tiles_in_a_grid_folder():
    ts = discover_tiles([TILES / "tma_tiles_4x3"])
    assert ts.layout == "grid" and len(ts) == 12 and ts.shape == (512, 512)
    assert [p.name for p in ts.ignored] == ["merged.png"]
    assert {(t.row, t.col) for t in ts.tiles} == {(r, c) for r in range(4) for c in range(3)}


# ----------------------------------------------------------------------------- accuracy with a known answer
def test_subpixel_accuracy_on_cut_photograph(rgb_tiles, rgb_stitched):
    rms, worst = position_error(rgb_stitched.positions, rgb_tiles.positions)
    assert rms <= 0.3  # the target (paper: 0.5-0.6 px)
    assert rms <= 0.15 and worst <= 0.3  # measured about 0.03 px
    assert rgb_stitched.n_pairs_used == 12 and rgb_stitched.rms < 0.2
    # vignetting is symmetric: gains stay close to 1 and the same for all
    assert np.ptp(rgb_stitched.gains) < 0.05


def test_geotiff_is_tiled_compressed_rgb_in_micrometres(rgb_tiles, rgb_stitched):
    with rasterio.open(rgb_stitched.panorama) as ds:
        assert (ds.count, ds.dtypes[0]) == (3, "uint8")
        assert ds.profile["tiled"] and ds.block_shapes[0] == (256, 256)
        assert ds.compression.name.lower() == "deflate"
        assert ds.res == (0.65, 0.65)
        # the one micrometre frame of the microscopy side: top-left corner at (0, 0), y up
        assert ds.transform == micrometre_transform(0.65) and is_micrometre_crs(ds.crs)
        assert ds.bounds == pytest.approx((0.0, -ds.height * 0.65, ds.width * 0.65, 0.0))
        assert ds.overviews(1)
        assert ds.tags()["UM_PER_PX"] == "0.65"
        data = ds.read()
        mask = ds.dataset_mask()
    assert (ds.height, ds.width) == (rgb_stitched.rows, rgb_stitched.cols)
    # about 2 x 360 x 0.75 + 360 rows: the whole section, no more
    assert abs(ds.height - (360 + 2 * 270)) < 20 and abs(ds.width - (480 + 2 * 360)) < 20
    assert mask.mean() > 0.97 * 255 and mask.min() == 0  # jitter leaves ragged, masked borders
    # the panorama shows the photograph: compare with the source, flat-field-free centre of tile r1_c1
    y, x = rgb_stitched.positions[4]
    ty, tx = rgb_tiles.positions[4]
    cy, cx = int(round(y)) + 120, int(round(x)) + 160
    crop = data[:, cy:cy + 100, cx:cx + 100].astype(float)
    assert crop.std() > 5


def test_reports(rgb_stitched):
    res = rgb_stitched
    with open(res.report, newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 12 and all(r["used"] == "1" for r in rows)
    assert {"tile_a", "tile_b", "dy_px", "dx_px", "score", "residual_px"} <= set(rows[0])
    assert all(float(r["score"]) > 0.5 and float(r["residual_px"]) < 0.5 for r in rows)
    with open(res.tiles_report, newline="") as fh:
        tiles = list(csv.DictReader(fh))
    assert [t["tile"] for t in tiles] == res.names and all(t["placed_by"] == "registration" for t in tiles)
    assert res.layout_png.stat().st_size > 5000
    assert "RMS residual" in res.summary()


def test_sixteen_bit_grey_unordered_names(photo, tmp_path):
    grey = photo.mean(axis=2).astype(np.uint8)
    cut = cut_tiles(grey, tmp_path / "cut", rows=2, cols=3, tile_shape=(320, 400), overlap=0.3, jitter=5,
                    seed=4, suffix=".tif", dtype="uint16")
    # names without row/column, in a shuffled order: every pair is tried
    shuffled = tmp_path / "shuffled"
    shuffled.mkdir()
    order = [4, 0, 5, 2, 1, 3]
    for k, i in enumerate(order):
        shutil.copy(cut.paths[i], shuffled / f"field_{k:02d}.tif")
    res = stitch([shuffled], tmp_path / "out.tif", StitchParams(), **QUIET)
    assert res.layout == "unordered" and res.n_pairs_used >= 7
    rms, _ = position_error(res.positions, cut.positions[order])
    assert rms < 0.3
    with rasterio.open(res.panorama) as ds:
        assert (ds.count, ds.dtypes[0]) == (1, "uint16")
        assert ds.read(1).max() > 20000


def test_stage_positions_csv_in_micrometres(photo, tmp_path):
    cut = cut_tiles(photo, tmp_path / "cut", rows=2, cols=2, tile_shape=(300, 400), overlap=0.25, jitter=4, seed=5)
    csv_path = tmp_path / "stage.csv"
    with open(csv_path, "w") as fh:
        fh.write("file,x_um,y_um\n")
        for p, (y, x) in zip(cut.paths, cut.positions):
            # stage readings 10 px off, in micrometres at 0.5 um/px
            fh.write(f"{p.name},{(x + 10) * 0.5},{(y - 10) * 0.5}\n")
    res = stitch(cut.paths, tmp_path / "out.tif", StitchParams(positions=str(csv_path), um_per_px=0.5), **QUIET)
    assert res.layout == "stage"
    assert position_error(res.positions, cut.positions)[0] < 0.2
    # diagonal neighbours (small corner overlaps) are measured too
    assert len(res.pairs) == 6 and res.n_pairs_used >= 4


def test_features_method_also_works(rgb_tiles, tmp_path):
    res = stitch([rgb_tiles.paths[0].parent], tmp_path / "f.tif", StitchParams(method="features"), **QUIET)
    assert position_error(res.positions, rgb_tiles.positions)[0] < 0.5


def _largest_step(panorama: Path, res, photo, truth, left: int, right: int) -> float:
    """Largest column-to-column jump (grey levels) of the brightness difference between the panorama
    and the true scene across the overlap of two side-by-side tiles: a seam is a jump shared by all
    rows; feathering spreads an exposure difference over the whole overlap."""
    with rasterio.open(panorama) as ds:
        img = ds.read().astype(float).mean(axis=0)
    scene = photo.astype(float).mean(axis=2)
    oy, ox = np.round(truth[0] - res.positions[0]).astype(int)  # panorama pixel + o = scene pixel
    yl, xl = res.positions[left]
    yr, xr = res.positions[right]
    r0, r1 = int(max(yl, yr)) + 40, int(min(yl, yr)) + 360 - 40
    c0, c1 = int(xr) - 10, int(xl) + 480 + 10
    diff = img[r0:r1, c0:c1] - scene[r0 + oy:r1 + oy, c0 + ox:c1 + ox]
    profile = diff.mean(axis=0)
    return float(np.abs(np.diff(profile)).max())


def test_exposure_step_leaves_no_seam(photo, rgb_tiles, tmp_path):
    """One tile photographed 25 % brighter: gains + feathering leave no step at its edges,
    while taking each pixel from one tile without gains shows it."""
    import cv2

    folder = tmp_path / "tiles"
    folder.mkdir()
    for p in rgb_tiles.paths:
        img = cv2.imread(str(p))
        if p.name == "r1_c1.jpg":
            img = np.clip(img * 1.25, 0, 255).astype(np.uint8)
        cv2.imwrite(str(folder / p.name), img, [cv2.IMWRITE_JPEG_QUALITY, 95])
    good = stitch([folder], tmp_path / "good.tif", StitchParams(), **QUIET)
    bad = stitch([folder], tmp_path / "bad.tif", StitchParams(gain=False, blend="nearest"), **QUIET)
    assert good.gains[4] == pytest.approx(0.8, abs=0.04) and np.delete(good.gains, 4).std() < 0.03
    step_good = _largest_step(good.panorama, good, photo, rgb_tiles.positions, 3, 4)
    step_bad = _largest_step(bad.panorama, bad, photo, rgb_tiles.positions, 3, 4)
    assert step_good < 2.0 and step_bad > 5 * step_good


def test_affine_model_follows_rotated_tiles(photo, tmp_path):
    """Tiles rotated by up to 0.5 degree (camera not aligned with the stage): the affine model finds the
    angles and places the tile centres 5 times better than the translation model."""
    cut = cut_tiles(photo, tmp_path / "rot", rows=3, cols=3, tile_shape=(360, 480), overlap=0.25, jitter=5, seed=2,
                    rotation_deg=0.5)
    centre = np.array([(360 - 1) / 2, (480 - 1) / 2])
    true_centres = np.array([t[:, :2] @ centre + t[:, 2] for t in cut.transforms])
    true_angles = np.degrees(np.arctan2(cut.transforms[:, 1, 0], cut.transforms[:, 0, 0]))
    plain = stitch([tmp_path / "rot"], tmp_path / "t.tif", StitchParams(), **QUIET)
    affine = stitch([tmp_path / "rot"], tmp_path / "a.tif", StitchParams(model="affine"), **QUIET)
    t = affine.placement.transforms
    centres = np.array([m[:, :2] @ centre + m[:, 2] for m in t])
    angles = np.degrees(np.arctan2(t[:, 1, 0], t[:, 0, 0]))
    # the mosaic's own rotation is free (the model fixes tile 0's angle): compare after removing the mean
    angle_error = angles - true_angles
    assert np.abs(angle_error - angle_error.mean()).max() < 0.1
    err_affine = rigid_error(centres, true_centres)[0]
    err_plain = rigid_error(plain.positions + centre, true_centres)[0]
    assert err_affine < 0.3 and err_plain > 5 * err_affine  # measured 0.14 vs 0.87 px
    assert affine.rms < 0.3 < plain.rms
    with rasterio.open(affine.panorama) as ds:
        assert ds.dataset_mask().mean() > 0.9 * 255


def test_tile_that_matches_nothing_is_reported_and_placed_by_the_grid(rgb_tiles, tmp_path):
    import cv2

    folder = tmp_path / "tiles"
    folder.mkdir()
    for p in rgb_tiles.paths:
        shutil.copy(p, folder / p.name)
    blank = np.random.default_rng(3).integers(0, 255, (360, 480, 3), dtype=np.uint8)  # a failed exposure
    cv2.imwrite(str(folder / "r2_c2.jpg"), blank)
    res = stitch([folder], tmp_path / "p.tif", StitchParams())
    assert res.n_tiles == 9 and res.placement.n_components == 2
    assert any("r2_c2.jpg" in note and "layout" in note for note in res.notes)
    assert "r2_c2.jpg" in res.summary()
    with open(res.tiles_report, newline="") as fh:
        placed = {r["tile"]: r["placed_by"] for r in csv.DictReader(fh)}
    assert placed["r2_c2.jpg"] == "layout" and list(placed.values()).count("registration") == 8
    rejected = [p for p in res.pairs if "r2_c2.jpg" in (res.names[p.a], res.names[p.b])]
    assert len(rejected) == 2 and not any(p.used for p in rejected)
    # the grid puts it within the stage error (+-6 px jitter) of its true place
    err = (res.positions[8] - res.positions[0]) - (rgb_tiles.positions[8] - rgb_tiles.positions[0])
    assert np.abs(err).max() < 15


# ----------------------------------------------------------------------------- placement and blending
def _pairs_from_truth(truth, links, rng, noise=0.05):
    out = []
    for a, b, kind in links:
        d = truth[b] - truth[a] + rng.normal(0, noise, 2)
        out.append(PairResult(a, b, dy=d[0], dx=d[1], score=0.9, used=True, kind=kind))
    return out


def _grid_links(rows, cols):
    links = []
    for r in range(rows):
        for c in range(cols):
            i = r * cols + c
            if c + 1 < cols:
                links.append((i, i + 1, "right"))
            if r + 1 < rows:
                links.append((i, i + cols, "down"))
    return links


def test_one_bad_pair_cannot_bend_the_mosaic():
    rng = np.random.default_rng(0)
    truth = np.array([(r * 450.0 + rng.uniform(-5, 5), c * 600.0 + rng.uniform(-5, 5))
                      for r in range(3) for c in range(3)])
    pairs = _pairs_from_truth(truth, _grid_links(3, 3), rng)
    pairs[5].dy += 40.0  # a false match that still passed the score test
    placement = place_tiles(9, pairs, layout="grid")
    assert placement.removed == 1 and not pairs[5].used and "outlier" in pairs[5].reason
    err = (placement.positions - placement.positions[0]) - (truth - truth[0])
    assert np.abs(err).max() < 0.2
    assert placement.rms < 0.15


def test_disconnected_tiles_are_reported_and_placed_by_the_grid():
    rng = np.random.default_rng(1)
    truth = np.array([(r * 400.0, c * 500.0) for r in range(2) for c in range(3)])
    links = [link for link in _grid_links(2, 3) if 2 not in link[:2]]  # tile 2 matched nothing
    pairs = _pairs_from_truth(truth, links, rng)
    rc = [(r, c) for r in range(2) for c in range(3)]
    placement = place_tiles(6, pairs, layout="grid", grid_rc=rc, names=[f"t{i}" for i in range(6)])
    assert placement.placed_by[2] == "layout" and placement.n_components == 2
    assert any("t2" in note for note in placement.notes)
    assert np.allclose(placement.positions[2] - placement.positions[0], truth[2], atol=1.0)
    with pytest.raises(GeocoreError, match="t2"):
        place_tiles(6, _pairs_from_truth(truth, links, rng), layout="unordered", names=[f"t{i}" for i in range(6)])


def test_gain_compensation_equalises_overlaps():
    pairs = [PairResult(0, 1, mean_a=100.0, mean_b=125.0, overlap_px=10000, used=True),
             PairResult(1, 2, mean_a=125.0, mean_b=100.0, overlap_px=10000, used=True)]
    g = gain_compensation(3, pairs, 255.0)
    assert g[0] * 100 == pytest.approx(g[1] * 125, rel=0.04)
    assert g[2] == pytest.approx(g[0], rel=1e-6)


def test_feathering_leaves_no_step_and_invents_nothing():
    tiles = [np.full((64, 100, 1), 100, np.uint8), np.full((64, 100, 1), 140, np.uint8)]
    pos = np.array([[0.0, 0.0], [0.0, 60.3]])
    strips = list(composite_strips(pos, (64, 100), (64, 160), 1, "uint8", lambda i, r0, r1: tiles[i][r0:r1],
                                   strip_rows=32))
    img = np.concatenate([s[1] for s in strips])[..., 0].astype(int)
    valid = np.concatenate([s[2] for s in strips])
    assert valid.all()
    assert img.min() >= 100 and img.max() <= 140  # a convex combination of the tiles
    row = img[32]
    assert np.all(np.diff(row) >= 0) and np.abs(np.diff(row)).max() <= 2  # a ramp, not a step
    assert row[:55].max() == 100 and row[-55:].min() == 140


def test_flat_field_removes_vignetting(tmp_path):
    import cv2

    vig = vignetting((120, 160), 0.4)
    cv2.imwrite(str(tmp_path / "mirror.png"), np.rint(200 * vig).astype(np.uint8))
    corr = Corrections((120, 160), 1, "uint8", flat_field=tmp_path / "mirror.png", flat_sigma=0)
    tile = np.rint(150 * vig).astype(np.uint8)[..., None]
    out = corr.apply(tile)
    assert out.dtype == np.uint8 and np.ptp(tile) > 30 and np.ptp(out) <= 3
    with pytest.raises(GeocoreError, match="same camera"):
        Corrections((100, 100), 1, "uint8", flat_field=tmp_path / "mirror.png")
    with pytest.raises(GeocoreError, match="'.*missing.jpg' does not exist"):  # was a FileNotFoundError traceback
        Corrections((120, 160), 1, "uint8", flat_field=tmp_path / "missing.jpg")


@needs_sections
def test_flat_field_matches_petroscope_on_real_photograph():
    """The mirror photograph of the same microscope gives the same illumination pattern as the
    petroscope library's own flat-field correction of a real section photograph (its output is in the
    data folder): gain maps correlate > 0.98 (measured 0.993). petroscope corrects about half as
    strongly (its gain is ~1 in the centre, 1.15 in the corners; ours 0.96 and 1.28, mean 1)."""
    import cv2

    from geocore.panorama.corrections import flat_field_gain
    from geocore.panorama.tiles import read_tile

    raw = read_tile(SECTIONS / "calibration_src_01.jpg")
    theirs = read_tile(SECTIONS / "calibration_out_01.jpg").astype(np.float32)
    ours = Corrections(raw.shape[:2], 3, "uint8", flat_field=SECTIONS / "mirror1200.jpg").apply(raw)
    assert ours.dtype == np.uint8 and ours.shape == raw.shape

    def coarse(a):
        return cv2.resize(a, (8, 6), interpolation=cv2.INTER_AREA).ravel()

    rawf = raw.astype(np.float32).mean(axis=2)
    their_gain = cv2.GaussianBlur(theirs.mean(axis=2), (0, 0), 40) / cv2.GaussianBlur(rawf, (0, 0), 40)
    our_gain = flat_field_gain(SECTIONS / "mirror1200.jpg", raw.shape[:2], 3).mean(axis=2)
    assert np.corrcoef(coarse(their_gain), coarse(our_gain))[0, 1] > 0.98
    # the mirror shows real vignetting: the gain varies by more than 20 % across the field
    assert np.ptp(coarse(our_gain)) > 0.2


@pytest.mark.parametrize("k1", [-0.08, 0.05])
def test_lens_distortion_is_estimated_from_the_overlaps(photo, tmp_path, k1):
    """Barrel (k1 < 0) or pincushion (k1 > 0) distortion bends the shifts along each overlap; the
    estimate finds k1 and the positions of the undistorted tiles come out as without distortion."""
    cut = cut_tiles(photo, tmp_path / "cut", rows=2, cols=3, tile_shape=(360, 480), overlap=0.3, jitter=5, seed=4,
                    distortion=Distortion(k1=k1))
    plain = stitch([tmp_path / "cut"], tmp_path / "plain.tif", StitchParams(), **QUIET)
    res = stitch([tmp_path / "cut"], tmp_path / "est.tif", StitchParams(distortion="estimate"), **QUIET)
    note = next(n for n in res.notes if "estimated lens distortion" in n)
    estimate = float(note.split("k1 = ")[1].split()[0])
    assert estimate == pytest.approx(k1, abs=0.005)  # measured -0.0800 and 0.0500
    assert position_error(res.positions, cut.positions)[0] < 0.1
    assert position_error(plain.positions, cut.positions)[0] > 1.0
    assert res.rms < 0.1


def test_cli_distortion_argument(tmp_path, capsys):
    assert main(["-q", "panorama", "stitch", str(tmp_path), "--out", str(tmp_path / "p.tif"),
                 "--distortion", "k1"]) == 2
    assert "estimate" in capsys.readouterr().err


def test_distortion_correction_keeps_centre_moves_corners():
    img = np.zeros((101, 121, 1), np.uint8)
    img[50, 60] = 255
    img[5, 5] = 255
    corr = Corrections((101, 121), 1, "uint8", distortion=Distortion(k1=-0.2))
    out = corr.apply(img)[..., 0]
    assert out[50, 60] > 200
    assert out[5, 5] < 128  # the corner point moved
    assert Distortion.from_sequence([0.0]).is_identity


# ----------------------------------------------------------------------------- real tiles
@needs_tiles
def test_real_optical_metal_section(tmp_path):
    res = stitch([TILES / "primo_metal_3x3"], tmp_path / "metal.tif", StitchParams(um_per_px=1.0), **QUIET)
    assert res.n_pairs_used == 12 and res.placement.removed == 0
    assert res.rms < 0.3  # measured 0.08 px
    assert all(p.score > 0.6 for p in res.pairs)
    with rasterio.open(res.panorama) as ds:
        assert (ds.count, ds.dtypes[0]) == (1, "uint8")


@needs_tiles
def test_real_electron_microscope_tiles_match_author_offsets(tmp_path):
    folder = TILES / "stitch2d_bse_2x3"
    ref = json.loads((folder / "reference_coords.json").read_text())["coords_yx"]
    res = stitch([folder], tmp_path / "bse.tif", StitchParams(), **QUIET)
    expected = np.array([ref[n] for n in res.names])
    err = (res.positions - res.positions[0]) - (expected - expected[0])
    assert np.abs(err).max() < 10  # the author's tolerance
    assert np.abs(err).max() < 1.5  # measured 0.74 px
    assert res.n_pairs_used == 7



@needs_tiles
def test_features_register_narrow_overlaps(tmp_path):
    """The BSE tiles overlap by 46 px vertically: ORB's default 31-px border left no keypoints there."""
    folder = TILES / "stitch2d_bse_2x3"
    ref = json.loads((folder / "reference_coords.json").read_text())["coords_yx"]
    res = stitch([folder], tmp_path / "bse.tif", StitchParams(method="features"), **QUIET)
    assert res.n_pairs_used == 7
    expected = np.array([ref[n] for n in res.names])
    err = (res.positions - res.positions[0]) - (expected - expected[0])
    assert np.abs(err).max() < 1.5


@needs_tiles
def test_real_tissue_tiles_match_author_mosaic(tmp_path):
    import cv2

    folder = TILES / "tma_tiles_4x3"
    res = stitch([folder], tmp_path / "tma.tif", StitchParams(), **QUIET)
    merged = cv2.imread(str(folder / "merged.png"), cv2.IMREAD_GRAYSCALE)
    # where the author's mosaic put each tile: template matching of the tile's centre
    found = []
    for name in res.names:
        tile = cv2.imread(str(folder / name), cv2.IMREAD_GRAYSCALE)
        patch = tile[128:384, 128:384]
        score = cv2.matchTemplate(merged, patch, cv2.TM_CCOEFF_NORMED)
        _, best, _, (x, y) = cv2.minMaxLoc(score)
        assert best > 0.9
        found.append((y - 128, x - 128))
    found = np.array(found, dtype=float)
    err = (res.positions - res.positions[0]) - (found - found[0])
    # the author's mosaic puts every tile on one regular grid (all offsets are multiples of 454 px);
    # the measured steps vary by +-2 px between rows with loops that close to 0.1 px, hence 3 px here
    assert np.all(np.mod(found, 454) == 0)
    assert np.abs(err).max() <= 3.0
    assert res.rms < 0.5
    assert abs(res.rows - merged.shape[0]) <= 3 and abs(res.cols - merged.shape[1]) <= 3


# ----------------------------------------------------------------------------- bad input
def _noise_tiles(folder: Path, n: int, shape=(96, 128), seed=0, names=None):
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(n):
        p = folder / (names[i] if names else f"r0_c{i}.png")
        cv2.imwrite(str(p), rng.integers(0, 255, shape, dtype=np.uint8))
        paths.append(p)
    return paths


def _assert_nothing_written(folder: Path):
    assert not list(folder.iterdir()), list(folder.iterdir())


@pytest.mark.parametrize("n, match", [(1, "at least two tiles"), (3, "no two tiles overlap")],
                         ids=["one tile", "no overlap"])
def test_tile_sets_that_cannot_be_stitched(tmp_path, n, match):
    paths = _noise_tiles(tmp_path / "in", n)
    (tmp_path / "out").mkdir()
    with pytest.raises(GeocoreError, match=match):
        stitch(paths, tmp_path / "out" / "p.tif")
    _assert_nothing_written(tmp_path / "out")


def test_tiles_of_different_sizes(tmp_path):
    paths = _noise_tiles(tmp_path / "in", 2)
    paths += _noise_tiles(tmp_path / "in", 1, shape=(80, 128), names=["r0_c2.png"])
    with pytest.raises(GeocoreError, match="differ in size.*r0_c2.png"):
        stitch(paths, tmp_path / "out" / "p.tif")


def test_corrupt_image(tmp_path):
    import cv2

    paths = _noise_tiles(tmp_path / "in", 2, names=["r0_c0.png", "r0_c1.png"])
    good = tmp_path / "in" / "r0_c2.jpg"
    cv2.imwrite(str(good), np.zeros((96, 128), np.uint8) + 7)
    data = good.read_bytes()
    good.write_bytes(data[: len(data) // 3])  # truncated JPEG
    text = tmp_path / "in" / "r0_c3.png"
    text.write_text("not an image")
    (tmp_path / "out").mkdir()
    with pytest.raises(GeocoreError, match=r"r0_c[23]\.(jpg|png).*(corrupt|not an image)"):
        stitch(paths + [good, text], tmp_path / "out" / "p.tif")
    _assert_nothing_written(tmp_path / "out")


def test_cli_one_line_error_and_exit_code(tmp_path, capsys):
    paths = _noise_tiles(tmp_path / "in", 1)
    code = main(["-q", "panorama", "stitch", str(paths[0]), "--out", str(tmp_path / "p.tif")])
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("geocore: error:") and len(err.strip().splitlines()) == 1
    assert main(["-q", "panorama", "stitch", str(tmp_path / "in"), "--out", str(tmp_path / "p.png")]) == 2
    assert "GeoTIFF" in capsys.readouterr().err


def test_cli_stitches_cut_tiles(small_tiles, tmp_path, capsys):
    out = tmp_path / "small.tif"
    folder = small_tiles.paths[0].parent
    assert main(["-q", "panorama", "stitch", str(folder), "--out", str(out), "--um-per-px", "0.25"]) == 0
    text = capsys.readouterr().out
    assert "6 tiles" in text and "RMS residual" in text
    assert (tmp_path / "small_pairs.csv").stat().st_size > 0 and (tmp_path / "small_layout.png").stat().st_size > 0
    with rasterio.open(out) as ds:
        assert ds.res == (0.25, 0.25) and (ds.count, ds.dtypes[0]) == (1, "uint8")
        # 2 x 3 tiles of 200 x 240 at 25 % overlap: about 350 x 600 px
        assert abs(ds.height - 350) < 15 and abs(ds.width - 600) < 15


@needs_tiles
def test_cli_stitches_real_tiles(tmp_path, capsys):
    out = tmp_path / "bse.tif"
    code = main(["-q", "panorama", "stitch", str(TILES / "stitch2d_bse_2x3"), "--out", str(out), "--um-per-px", "0.25"])
    assert code == 0
    text = capsys.readouterr().out
    assert "6 tiles" in text and "RMS residual" in text
    assert out.exists() and (tmp_path / "bse_pairs.csv").exists() and (tmp_path / "bse_layout.png").exists()
    with rasterio.open(out) as ds:
        assert ds.res == (0.25, 0.25)


@pytest.mark.parametrize("source", ["cut", pytest.param("real", marks=needs_tiles)])
def test_cancel_leaves_nothing(source, small_tiles, tmp_path):
    """Cancel after 20 checks: the cut fixture tiles, and the real electron-microscope tiles."""
    folder = small_tiles.paths[0].parent if source == "cut" else TILES / "stitch2d_bse_2x3"
    cancel = CancelAfter(20)
    (tmp_path / "out").mkdir()
    with pytest.raises(Cancelled):
        stitch([folder], tmp_path / "out" / "p.tif", cancel=cancel)
    assert cancel.calls == 21  # stopped at the first check after the 20th
    _assert_nothing_written(tmp_path / "out")
