"""Colour correction: 4 x 3 affine matrix fitted by CIEDE2000 least squares."""

from __future__ import annotations

import json

import numpy as np
import pytest

from geocore.cli import main
from geocore.errors import GeocoreError
from geocore.microscopy.colour import (
    ColourCorrection,
    delta_e,
    fit_colour_correction,
    fit_matrix,
    linearize,
)
from geocore.microscopy.synthetic import synthetic_section
from microscopy_helpers import SECTIONS, needs_sections, read_png, run_error, write_png

#: A camera with a blue-poor, slightly cross-talking response and a black offset (linear RGB).
DISTORTION = np.array([[0.80, 0.05, 0.00],
                       [0.10, 0.70, 0.05],
                       [0.00, 0.10, 0.55],
                       [0.02, 0.015, 0.03]])


def distort(rgb: np.ndarray) -> np.ndarray:
    lin = linearize(rgb)
    out = np.concatenate([lin, np.ones(lin.shape[:2] + (1,))], axis=-1) @ DISTORTION
    return np.clip(np.clip(out, 0, 1) ** (1 / 2.2) * 255 + 0.5, 0, 255).astype(np.uint8)


def partial(mask: np.ndarray, share: float, seed: int) -> np.ndarray:
    ann = np.full(mask.shape, 255, np.uint8)
    pick = np.random.default_rng(seed).random(mask.shape) < share
    ann[pick] = mask[pick]
    return ann


@pytest.fixture(scope="module")
def scene():
    truth = synthetic_section((200, 200), classes=(0, 1, 2, 6, 8), seed=1)
    reference = synthetic_section((200, 200), classes=(0, 1, 2, 6, 8), seed=2)
    return truth, distort(truth.rgb), reference


def test_exact_affine_is_recovered_from_enough_colours():
    rng = np.random.default_rng(0)
    target = rng.uniform(0.05, 0.8, (12, 3))
    true_inverse = np.linalg.lstsq(np.c_[target @ DISTORTION[:3] + DISTORTION[3], np.ones(12)], target, rcond=None)[0]
    source = target @ DISTORTION[:3] + DISTORTION[3]
    matrix, start = fit_matrix(source, target, regularization=0.0)
    assert np.abs(start[3]).max() == 0 and np.count_nonzero(start[:3] - np.diag(np.diag(start[:3]))) == 0
    after = delta_e(np.c_[source, np.ones(12)] @ matrix, target)
    assert after.max() < 0.05
    assert np.abs(matrix - true_inverse).max() < 0.02


def test_partial_annotation_corrects_held_out_pixels(scene):
    truth, distorted, reference = scene
    ann = partial(truth.mask, 0.05, seed=3)
    corr = fit_colour_correction(distorted, ann, reference.rgb, partial(reference.mask, 0.05, seed=4))
    assert corr.classes == [0, 1, 2, 6, 8]
    corrected = corr.apply(distorted)
    held = ann == 255
    before = delta_e(linearize(distorted[held]), linearize(truth.rgb[held])).mean()
    after = delta_e(linearize(corrected[held]), linearize(truth.rgb[held])).mean()
    assert before > 5 and after < 2.5 and after < before / 3
    assert max(corr.delta_e_after.values()) < max(corr.delta_e_before.values())


def test_json_round_trip_and_apply(tmp_path, scene):
    truth, distorted, reference = scene
    corr = fit_colour_correction(distorted, partial(truth.mask, 0.05, 3), reference.rgb,
                                 partial(reference.mask, 0.05, 4))
    path = corr.save(tmp_path / "m.json")
    assert json.loads(path.read_text())["format"] == "geocore-colour-matrix"
    back = ColourCorrection.load(path)
    np.testing.assert_allclose(back.matrix, corr.matrix, atol=1e-7)
    assert np.abs(back.apply(distorted).astype(int) - corr.apply(distorted).astype(int)).max() <= 1


def test_identity_matrix_keeps_the_photo(scene):
    _, distorted, _ = scene
    ident = ColourCorrection(matrix=np.vstack([np.eye(3), np.zeros(3)]))
    assert np.abs(ident.apply(distorted).astype(int) - distorted).max() <= 1


def test_too_few_common_classes_is_explained(scene):
    truth, distorted, reference = scene
    only_bg = np.where(truth.mask == 0, 0, 255).astype(np.uint8)
    with pytest.raises(GeocoreError, match="at least two of the same classes"):
        fit_colour_correction(distorted, only_bg, reference.rgb, reference.mask)


def test_cli_fit_then_apply_calibration_mode(tmp_path, scene, capsys):
    truth, distorted, reference = scene
    img = write_png(tmp_path / "photo.png", distorted)
    ann = write_png(tmp_path / "photo_ann.png", partial(truth.mask, 0.05, 3))
    ref = write_png(tmp_path / "ref.png", reference.rgb)
    ref_ann = write_png(tmp_path / "ref_ann.png", partial(reference.mask, 0.05, 4))
    matrix = tmp_path / "m.json"
    assert main(["-q", "colour", "fit", str(img), "--annotation", str(ann), "--reference", str(ref),
                 "--reference-annotation", str(ref_ann), "--out", str(matrix),
                 "--corrected", str(tmp_path / "photo_corrected.png")]) == 0
    printed = capsys.readouterr().out
    assert "5 classes" in printed and "WARNING" not in printed  # a real improvement: no warning
    per_image = read_png(tmp_path / "photo_corrected.png")
    series = tmp_path / "series"
    assert main(["-q", "microscopy", "colour", "apply", str(img), "--matrix", str(matrix),
                 "--out-dir", str(series)]) == 0
    np.testing.assert_array_equal(read_png(series / "photo.png"), per_image)
    err = delta_e(linearize(per_image), linearize(truth.rgb)).mean()
    assert err < 2.5


def test_cli_errors(tmp_path, scene, capsys):
    truth, distorted, reference = scene
    img = write_png(tmp_path / "photo.png", distorted)
    ann = write_png(tmp_path / "ann.png", partial(truth.mask, 0.05, 3))
    small = write_png(tmp_path / "small.png", np.zeros((10, 10), np.uint8))
    err = run_error(main, capsys, ["-q", "colour", "fit", str(img), "--annotation", str(small), "--reference", str(img),
                                   "--reference-annotation", str(ann), "--out", str(tmp_path / "m.json")])
    assert "same photograph size" in err
    bad = tmp_path / "bad.json"
    bad.write_text('{"matrix": [[1, 0], [0, 1]]}')
    err = run_error(main, capsys, ["-q", "colour", "apply", str(img), "--matrix", str(bad), "--out-dir",
                                   str(tmp_path / "o")])
    assert "4 x 3" in err
    assert not (tmp_path / "m.json").exists() and not (tmp_path / "o").exists()
    # a grey photo after a good one: nothing written (the good one was corrected first before the fix)
    matrix = tmp_path / "id.json"
    ColourCorrection(np.vstack([np.eye(3), np.zeros((1, 3))])).save(matrix)
    err = run_error(main, capsys, ["-q", "colour", "apply", str(img), str(small), "--matrix", str(matrix),
                                   "--out-dir", str(tmp_path / "o")])
    assert "1 band" in err and not (tmp_path / "o").exists()


@needs_sections()
def test_real_photos_colour_clusters_as_classes():
    """Reality check on the real photographs (reduced 4 x): k-means colour clusters stand in for minerals."""
    import cv2
    from skimage.color import rgb2lab

    from geocore.microscopy.images import read_rgb

    def load(name):
        rgb = read_rgb(SECTIONS / name).rgb
        return cv2.resize(rgb, (rgb.shape[1] // 4, rgb.shape[0] // 4), interpolation=cv2.INTER_AREA)

    photo, ref = load("calibration_out_02.jpg"), load("calibration_out_01.jpg")
    cv2.setRNGSeed(0)
    _, _, centres = cv2.kmeans(rgb2lab(ref).reshape(-1, 3).astype(np.float32), 6, None,
                               (cv2.TERM_CRITERIA_EPS + cv2.TERM_CRITERIA_MAX_ITER, 50, 0.1), 3, cv2.KMEANS_PP_CENTERS)

    def classes(rgb):
        return ((rgb2lab(rgb)[..., None, :] - centres) ** 2).sum(-1).argmin(-1).astype(np.uint8)

    seen = distort(photo)
    ann = partial(classes(photo), 0.05, 1)
    corr = fit_colour_correction(seen, ann, ref, partial(classes(ref), 0.05, 2))
    held = ann == 255
    before = delta_e(linearize(seen[held]), linearize(photo[held])).mean()
    after = delta_e(linearize(corr.apply(seen)[held]), linearize(photo[held])).mean()
    assert before > 5 and after < before / 1.8     # measured on the full-size photos: 5.75 -> 2.53


def test_a_fit_that_does_not_improve_is_flagged(tmp_path, scene, capsys):
    """Two photos that already match: the fit cannot lower the mean ΔE (0.44 -> 0.46 was seen silently)."""
    _, _, reference = scene
    worse = ColourCorrection(matrix=np.eye(4, 3), classes=[1, 2], delta_e_before={1: 0.4, 2: 0.48},
                             delta_e_after={1: 0.45, 2: 0.47})
    assert worse.mean_delta_e == pytest.approx((0.44, 0.46))
    assert "does not improve" in worse.warning() and "0.44 -> 0.46" in worse.warning()
    better = ColourCorrection(matrix=np.eye(4, 3), classes=[1], delta_e_before={1: 3.0}, delta_e_after={1: 1.0})
    assert better.warning() == ""
    img = write_png(tmp_path / "photo.png", reference.rgb)
    ann = write_png(tmp_path / "photo_ann.png", partial(reference.mask, 0.05, 4))
    assert main(["-q", "colour", "fit", str(img), "--annotation", str(ann), "--reference", str(img),
                 "--reference-annotation", str(ann), "--out", str(tmp_path / "m.json")]) == 0
    assert "WARNING: the colour correction does not improve the match" in capsys.readouterr().out
