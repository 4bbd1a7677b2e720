"""PPL/XPL alignment: known rotations and shifts must be recovered to well under a pixel."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
import rasterio

from geocore.cli import main
from geocore.errors import GeocoreError
from geocore.microscopy.align import align_pair, transform_error, warp_to_reference
from geocore.microscopy.images import read_rgb
from geocore.microscopy.synthetic import MINERAL_RGB, synthetic_section
from microscopy_helpers import SECTIONS, needs_sections, run_error, write_png

SHAPE = (240, 320)
ANISOTROPIC = (5, 9, 13)


def crossed_polars(mask: np.ndarray, stage_deg: float, seed: int) -> np.ndarray:
    """Crossed polars: isotropic minerals dark, anisotropic ones brighten and dim with the stage angle."""
    lut = np.array([MINERAL_RGB[c] for c in range(15)], float) * 0.15
    for c in ANISOTROPIC:
        lut[c] = np.array(MINERAL_RGB[c]) * (0.3 + 0.6 * np.sin(np.radians(2 * stage_deg + 30 * c)) ** 2)
    img = cv2.GaussianBlur(lut[mask], (0, 0), 0.8) + np.random.default_rng(seed).normal(0, 3, mask.shape + (3,))
    return np.clip(img, 0, 255).astype(np.uint8)


def rotated_view(big: np.ndarray, truth: np.ndarray, shape, offset) -> np.ndarray:
    """What the camera sees after the stage rotation: the crop at ``offset`` of ``big``, moved by ``truth``.

    ``truth`` maps crop (reference) pixels to pixels of the rotated photo; the
    photo is cut from a larger scene so that it is full to its edges, as a real one is.
    """
    to_big = np.vstack([[1, 0, offset[1]], [0, 1, offset[0]], [0, 0, 1]]) @ np.vstack(
        [cv2.invertAffineTransform(truth), [0, 0, 1]])
    return cv2.warpAffine(big, to_big[:2], shape[::-1], flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP)


def stage_rotation(shape, angle, shift) -> np.ndarray:
    """Reference -> rotated pixel mapping: rotation about a point off the image centre, then a shift."""
    rows, cols = shape
    m = cv2.getRotationMatrix2D(((cols - 1) / 2 + 12, (rows - 1) / 2 - 9), angle, 1.0)
    m[:, 2] += shift
    return m


OFFSET = (90, 120)


class Scene:
    def __init__(self) -> None:
        self.big = synthetic_section((SHAPE[0] + 180, SHAPE[1] + 240), classes=(0, 1, 5, 6, 9, 13),
                                     n_grains=130, seed=3)
        window = (slice(OFFSET[0], OFFSET[0] + SHAPE[0]), slice(OFFSET[1], OFFSET[1] + SHAPE[1]))
        self.rgb, self.mask = self.big.rgb[window], self.big.mask[window]

    def xpl(self, angle, shift, seed=0):
        truth = stage_rotation(SHAPE, angle, shift)
        return rotated_view(crossed_polars(self.big.mask, angle, seed), truth, SHAPE, OFFSET), truth


@pytest.fixture(scope="module")
def section():
    return Scene()


@pytest.mark.parametrize("angle, shift", [(5, (3.3, -2.6)), (15, (-6.1, 4.4)), (30, (0.7, 8.2)), (-45, (2.5, 1.5))])
def test_known_rotation_is_recovered(section, angle, shift):
    moving, truth = section.xpl(angle, shift, seed=angle % 7)
    found = align_pair(section.rgb, moving)
    _, valid = warp_to_reference(moving, found, SHAPE)
    assert transform_error(found.matrix, truth, SHAPE, mask=valid) < 0.5
    assert found.rotation_deg == pytest.approx(angle, abs=0.2)
    assert found.score > 0.5


def test_sift_method_is_also_available(section):
    moving, truth = section.xpl(15, (2.0, -3.0), seed=1)
    found = align_pair(section.rgb, moving, method="sift+ecc")
    assert transform_error(found.matrix, truth, SHAPE) < 0.5


def test_cli_stacks_bands_and_masks_shared_area(tmp_path, section, capsys):
    ppl = write_png(tmp_path / "ppl.png", section.rgb)
    xpl = []
    truths = []
    for k, angle in enumerate((15, 30, 45)):
        moving, truth = section.xpl(angle, (1.5 * k, -k), seed=k)
        truths.append(truth)
        xpl.append(write_png(tmp_path / f"xpl{angle}.png", moving))
    out = tmp_path / "stack.tif"
    assert main(["-q", "xpl", "align", str(ppl), *map(str, xpl), "--out", str(out)]) == 0
    assert "12 bands" in capsys.readouterr().out
    with rasterio.open(out) as ds:
        assert ds.count == 12 and (ds.height, ds.width) == SHAPE and ds.dtypes[0] == "uint8"
        stack = ds.read()
        shared = ds.read_masks(1) > 0
    np.testing.assert_array_equal(stack[:3][:, shared], np.moveaxis(section.rgb, -1, 0)[:, shared])
    assert 0.3 < shared.mean() < 0.9 and not stack[:, ~shared].any()
    # the aligned XPL bands line up with the truth mask: anisotropic grains are bright where the mask says
    bright = stack[3:6].mean(axis=0)
    aniso = np.isin(section.mask, ANISOTROPIC) & shared
    iso = ~np.isin(section.mask, ANISOTROPIC) & shared
    assert np.median(bright[aniso]) > 2 * np.median(bright[iso])
    report = json.loads((tmp_path / "stack.tif.alignment.json").read_text())
    assert [round(p["rotation_deg"]) for p in report["photos"]] == [15, 30, 45]
    for p, t in zip(report["photos"], truths):
        assert transform_error(np.array(p["matrix"]), t, SHAPE, mask=shared) < 0.5


def test_errors(tmp_path, section, capsys):
    ppl = write_png(tmp_path / "ppl.png", section.rgb)
    small = write_png(tmp_path / "small.png", section.rgb[:100, :100])
    err = run_error(main, capsys, ["-q", "xpl", "align", str(ppl), str(small), "--out", str(tmp_path / "s.tif")])
    assert "same size" in err
    err = run_error(main, capsys, ["-q", "xpl", "align", str(ppl), str(ppl), "--out", str(tmp_path / "s.png")])
    assert "GeoTIFF" in err
    assert not (tmp_path / "s.tif").exists()
    with pytest.raises(GeocoreError, match="unknown"):
        align_pair(section.rgb, section.rgb, method="orb")


@needs_sections()
def test_real_photo_rotated_and_recoloured():
    big = read_rgb(SECTIONS / "calibration_out_01.jpg").rgb
    shape, offset = (800, 1000), (800, 1200)
    photo = big[offset[0]:offset[0] + shape[0], offset[1]:offset[1] + shape[1]]
    grey = cv2.cvtColor(big, cv2.COLOR_RGB2GRAY).astype(float)
    # another illumination: contrast inverted and compressed, tinted
    other = np.clip(np.stack([255 - grey, 0.8 * (255 - grey), 0.6 * (255 - grey)], -1) ** 0.9, 0, 255)
    truth = stage_rotation(shape, 15, (4.2, -7.7))
    moving = rotated_view(other.astype(np.uint8), truth, shape, offset)
    found = align_pair(photo, moving)
    _, valid = warp_to_reference(moving, found, shape)
    assert transform_error(found.matrix, truth, shape, mask=valid) < 0.5
