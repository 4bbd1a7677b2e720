"""Colour correction of microscope photographs with a 4 x 3 affine matrix.

The method of the LumenStone paper (Korshunov, Khvostikov et al., 2025): the
mean colours of the minerals and of the background are taken from a partial
annotation of the distorted photo and of a reference photo (from the training
set); colours are linearised with gamma 2.2; a 4 x 3 affine matrix ``M`` maps
linear ``[r, g, b, 1]`` of the distorted photo to linear RGB of the reference,
fitted by least squares of the CIEDE2000 colour differences in CIELAB,
starting from the white-balance solution; the photo is then multiplied by it.

Two ways to use it: *per image* (fit on the photo itself, apply to it) and
*calibration* (fit once on a calibration photo, save the matrix as JSON and
apply it to every photo of the same series).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Dict, Optional, Sequence

import numpy as np

from ..errors import GeocoreError
from ..files import all_or_nothing, atomic_output, check_not_input, prepare_out_dir
from ..progress import Progress
from .classes import BY_CODE, IGNORE
from .images import check_output_suffix, check_rgb, check_same_size, read_mask, read_rgb, write_rgb

#: Display gamma used to linearise 8-bit values.
GAMMA = 2.2
#: Fewest annotated pixels for a class's mean colour to count.
MIN_PIXELS = 20
#: Weight of the pull towards the white-balance solution (keeps the 12
#: parameters determined when fewer than 4 classes are annotated).
REGULARIZATION = 1e-3
#: Linear sRGB (D65) -> CIE XYZ.
SRGB_TO_XYZ = np.array([[0.4124564, 0.3575761, 0.1804375],
                        [0.2126729, 0.7151522, 0.0721750],
                        [0.0193339, 0.1191920, 0.9503041]])
_ENCODE_LEVELS = 65536
FORMAT = "geocore-colour-matrix"


def linearize(rgb: np.ndarray, gamma: float = GAMMA) -> np.ndarray:
    """8-bit (or 0..1 float) RGB -> linear RGB 0..1: ``(v / 255) ** gamma``."""
    v = np.asarray(rgb, dtype=np.float64)
    if np.asarray(rgb).dtype == np.uint8:
        v = v / 255.0
    return np.power(np.clip(v, 0.0, None), gamma)


def linear_to_lab(linear: np.ndarray) -> np.ndarray:
    """Linear RGB (..., 3) -> CIELAB (D65), without clipping (smooth for the optimiser)."""
    from skimage.color import xyz2lab

    return xyz2lab(np.asarray(linear, dtype=np.float64) @ SRGB_TO_XYZ.T)


def class_mean_colours(rgb: np.ndarray, mask: np.ndarray, *, gamma: float = GAMMA,
                       min_pixels: int = MIN_PIXELS) -> Dict[int, np.ndarray]:
    """Mean linear colour of every annotated class.

    Parameters
    ----------
    rgb : ndarray of uint8, shape (rows, cols, 3)
    mask : ndarray of uint8, shape (rows, cols)
        Class codes, 255 for unannotated pixels.

    Returns
    -------
    dict
        Class code -> mean linear RGB (3 floats, 0..1), for classes with at
        least ``min_pixels`` annotated pixels.
    """
    check_same_size(rgb.shape, mask.shape, "the photo", "its annotation")
    lut = linearize(np.arange(256, dtype=np.uint8), gamma)
    annotated = mask.ravel() != IGNORE
    codes = mask.ravel()[annotated].astype(np.int64)
    pixels = rgb.reshape(-1, 3)[annotated]
    counts = np.bincount(codes, minlength=256)
    sums = np.stack([np.bincount(codes, weights=lut[pixels[:, ch]], minlength=256) for ch in range(3)], axis=1)
    return {int(c): sums[c] / counts[c] for c in np.flatnonzero(counts >= max(1, min_pixels))}


def white_balance_matrix(source: np.ndarray, target: np.ndarray) -> np.ndarray:
    """The 4 x 3 matrix of per-channel gains (no offset) best mapping ``source`` to ``target`` colours."""
    gains = (source * target).sum(axis=0) / np.maximum((source * source).sum(axis=0), 1e-12)
    m = np.zeros((4, 3))
    m[:3, :3] = np.diag(gains)
    return m


def _homogeneous(linear: np.ndarray) -> np.ndarray:
    return np.concatenate([linear, np.ones(linear.shape[:-1] + (1,))], axis=-1)


def fit_matrix(source: np.ndarray, target: np.ndarray, *, weights: Optional[np.ndarray] = None,
               regularization: float = REGULARIZATION) -> tuple[np.ndarray, np.ndarray]:
    """Fit the 4 x 3 affine colour matrix by least squares of CIEDE2000.

    Parameters
    ----------
    source, target : ndarray, shape (K, 3)
        Corresponding linear RGB colours (0..1) of the distorted and the
        reference photo.
    weights : ndarray (K,) or None
        Weight of each colour pair (e.g. the class's pixel count); equal by default.
    regularization : float
        Weight of a pull of the matrix towards the white-balance start.

    Returns
    -------
    matrix : ndarray (4, 3)
        ``linear_corrected = [r, g, b, 1] @ matrix``.
    start : ndarray (4, 3)
        The white-balance start.
    """
    from scipy.optimize import minimize
    from skimage.color import deltaE_ciede2000

    source, target = np.asarray(source, float), np.asarray(target, float)
    w = np.ones(len(source)) if weights is None else np.asarray(weights, float)
    w = w / w.sum()
    start = white_balance_matrix(source, target)
    src_h = _homogeneous(source)
    target_lab = linear_to_lab(target)
    lam = float(regularization)
    x0 = start.ravel()
    step = 1e-6

    def costs(params: np.ndarray) -> np.ndarray:
        # params: (n, 12) -> n costs; one vectorised CIEDE2000 call for all of them
        m = params.reshape(-1, 4, 3)
        lab = linear_to_lab(np.einsum("kc,ncd->nkd", src_h, m))
        de = deltaE_ciede2000(lab, np.broadcast_to(target_lab, lab.shape))
        return (de ** 2 * w).sum(axis=1) + lam * 1e4 * ((params - x0) ** 2).sum(axis=1)

    def fun_and_grad(p: np.ndarray) -> tuple[float, np.ndarray]:
        batch = np.vstack([p, p + step * np.eye(12), p - step * np.eye(12)])
        c = costs(batch)
        return float(c[0]), (c[1:13] - c[13:]) / (2 * step)

    res = minimize(fun_and_grad, x0, jac=True, method="BFGS", options={"gtol": 1e-7, "maxiter": 500})
    return res.x.reshape(4, 3), start


def delta_e(linear_a: np.ndarray, linear_b: np.ndarray) -> np.ndarray:
    """CIEDE2000 between two arrays of linear RGB colours."""
    from skimage.color import deltaE_ciede2000

    return deltaE_ciede2000(linear_to_lab(linear_a), linear_to_lab(linear_b))


@dataclass
class ColourCorrection:
    """A fitted colour-correction matrix and how well it fits.

    Attributes
    ----------
    matrix : ndarray (4, 3)
        Linear ``[r, g, b, 1] @ matrix`` -> linear corrected RGB (0..1).
    gamma : float
        Gamma used to linearise (2.2).
    classes : list of int
        Classes whose mean colours were matched.
    delta_e_before, delta_e_after : dict
        Class code -> CIEDE2000 between the class's mean colours before and
        after correction.
    """

    matrix: np.ndarray
    gamma: float = GAMMA
    classes: list = field(default_factory=list)
    delta_e_before: dict = field(default_factory=dict)
    delta_e_after: dict = field(default_factory=dict)
    source: str = ""
    reference: str = ""

    def to_json(self) -> str:
        d = asdict(self)
        d["matrix"] = np.asarray(self.matrix).round(8).tolist()
        d["delta_e_before"] = {str(k): round(float(v), 4) for k, v in self.delta_e_before.items()}
        d["delta_e_after"] = {str(k): round(float(v), 4) for k, v in self.delta_e_after.items()}
        d["format"] = FORMAT
        d["convention"] = "linear = (value/255)**gamma; corrected_linear = [r, g, b, 1] @ matrix"
        return json.dumps(d, indent=2)

    def save(self, path: str | os.PathLike) -> Path:
        """Write the matrix as JSON (atomically)."""
        path = Path(path)
        with atomic_output(path) as tmp:
            tmp.write_text(self.to_json())
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> "ColourCorrection":
        """Read a matrix written by :meth:`save`."""
        path = Path(path)
        if not path.is_file():
            msg = f"colour matrix '{path}' does not exist; make one with 'geocore colour fit'"
            raise GeocoreError(msg)
        try:
            d = json.loads(path.read_text())
            matrix = np.asarray(d["matrix"], dtype=float)
        except (ValueError, KeyError, TypeError) as exc:
            msg = f"'{path}' is not a geocore colour matrix (JSON with a 4 x 3 'matrix'); make one with 'geocore colour fit'"
            raise GeocoreError(msg) from exc
        if matrix.shape != (4, 3) or not np.isfinite(matrix).all():
            msg = f"'{path}' holds a matrix of shape {matrix.shape}; a 4 x 3 matrix of finite numbers is expected"
            raise GeocoreError(msg)
        return cls(matrix=matrix, gamma=float(d.get("gamma", GAMMA)), classes=list(d.get("classes", [])),
                   delta_e_before={int(k): v for k, v in d.get("delta_e_before", {}).items()},
                   delta_e_after={int(k): v for k, v in d.get("delta_e_after", {}).items()},
                   source=d.get("source", ""), reference=d.get("reference", ""))

    def apply(self, rgb: np.ndarray, *, progress=None, cancel=None) -> np.ndarray:
        """Correct an 8-bit RGB photo; returns 8-bit RGB of the same size.

        Linearising and re-encoding go through look-up tables, and the photo is
        processed in strips of rows, so memory stays a few times one strip.
        """
        bar = Progress.wrap(progress, cancel)
        lut = linearize(np.arange(256, dtype=np.uint8), self.gamma).astype(np.float32)
        levels = np.linspace(0.0, 1.0, _ENCODE_LEVELS)
        encode = np.clip(np.power(levels, 1.0 / self.gamma) * 255.0 + 0.5, 0, 255).astype(np.uint8)
        m = np.asarray(self.matrix, np.float32)
        out = np.empty(rgb.shape, np.uint8)
        step = 256
        for r0 in range(0, rgb.shape[0], step):
            lin = lut[rgb[r0:r0 + step]]
            corrected = lin @ m[:3] + m[3]
            np.clip(corrected, 0.0, 1.0, out=corrected)
            corrected *= _ENCODE_LEVELS - 1
            corrected += 0.5
            out[r0:r0 + step] = encode[corrected.astype(np.uint16)]
            bar.update(min(1.0, (r0 + step) / rgb.shape[0]))
        return out


def fit_colour_correction(rgb: np.ndarray, mask: np.ndarray, reference_rgb: Optional[np.ndarray] = None,
                          reference_mask: Optional[np.ndarray] = None, *,
                          reference_colours: Optional[Dict[int, np.ndarray]] = None, gamma: float = GAMMA,
                          min_pixels: int = MIN_PIXELS, regularization: float = REGULARIZATION) -> ColourCorrection:
    """Fit the colour correction of a photo from partial annotations.

    Parameters
    ----------
    rgb, mask : ndarray
        The distorted photo (uint8, rows x cols x 3) and its partial
        annotation (class codes, 255 unannotated).
    reference_rgb, reference_mask : ndarray
        A reference photo with the wanted colours (e.g. from the training set)
        and its partial annotation; they need not show the same place.
    reference_colours : dict, optional
        Instead of a reference photo: class code -> linear RGB.

    Returns
    -------
    ColourCorrection

    Raises
    ------
    GeocoreError
        When fewer than two classes are annotated in both.
    """
    source = class_mean_colours(rgb, mask, gamma=gamma, min_pixels=min_pixels)
    if reference_colours is None:
        if reference_rgb is None or reference_mask is None:
            raise GeocoreError("give a reference photo with its annotation, or reference colours")
        reference_colours = class_mean_colours(reference_rgb, reference_mask, gamma=gamma, min_pixels=min_pixels)
    common = sorted(set(source) & set(reference_colours))
    if len(common) < 2:
        names = lambda d: ", ".join(BY_CODE[c].label if c in BY_CODE else str(c) for c in sorted(d)) or "none"  # noqa: E731
        msg = (f"the photo's annotation has classes [{names(source)}] and the reference's [{names(reference_colours)}]"
               f" (each with at least {min_pixels} pixels); annotate at least two of the same classes in both "
               f"(e.g. the background and one mineral)")
        raise GeocoreError(msg)
    counts = np.array([np.count_nonzero(mask == c) for c in common], float)
    src = np.array([source[c] for c in common])
    tgt = np.array([reference_colours[c] for c in common])
    matrix, _ = fit_matrix(src, tgt, weights=np.sqrt(counts), regularization=regularization)
    before = delta_e(src, tgt)
    after = delta_e(_homogeneous(src) @ matrix, tgt)
    return ColourCorrection(matrix=matrix, gamma=gamma, classes=common,
                            delta_e_before=dict(zip(common, before.tolist())),
                            delta_e_after=dict(zip(common, after.tolist())))


def fit_colour_files(image: str | os.PathLike, annotation: str | os.PathLike, reference: str | os.PathLike,
                     reference_annotation: str | os.PathLike, matrix_out: str | os.PathLike, *,
                     corrected_out: Optional[str | os.PathLike] = None, progress=None,
                     cancel=None) -> ColourCorrection:
    """Fit a colour correction from files, save it as JSON, optionally correct the photo itself.

    Parameters
    ----------
    image, annotation : path
        The photo to correct and its partial annotation (LumenStone mask: class
        codes, 255 unannotated; e.g. from ``geocore annotate``).
    reference, reference_annotation : path
        A photo with the wanted colours and its partial annotation.
    matrix_out : path
        JSON file for the matrix (apply it to a series with ``geocore colour apply``).
    corrected_out : path, optional
        Per-image mode: also write the corrected photo here.
    """
    bar = Progress.wrap(progress, cancel)
    inputs = [image, annotation, reference, reference_annotation]
    check_not_input([matrix_out, corrected_out], inputs)
    if Path(matrix_out).suffix.lower() != ".json":
        msg = f"matrix file '{matrix_out}' should end in .json"
        raise GeocoreError(msg)
    if corrected_out is not None:
        check_output_suffix(corrected_out)
    photo = read_rgb(image)
    mask, _, _ = read_mask(annotation, what="annotation")
    check_same_size(photo.shape, mask.shape, f"image '{image}'", f"annotation '{annotation}'")
    ref = read_rgb(reference, what="reference image")
    ref_mask, _, _ = read_mask(reference_annotation, what="reference annotation")
    check_same_size(ref.shape, ref_mask.shape, f"reference '{reference}'", f"annotation '{reference_annotation}'")
    bar.update(0.2)
    corr = fit_colour_correction(photo.rgb, mask, ref.rgb, ref_mask)
    corr.source, corr.reference = str(image), str(reference)
    bar.update(0.5)
    if corrected_out is not None:
        write_rgb(corrected_out, corr.apply(photo.rgb, progress=bar.sub(0.5, 0.95)), like=photo)
    corr.save(matrix_out)
    return corr


@all_or_nothing
def apply_colour_files(images: Sequence[str | os.PathLike], matrix: str | os.PathLike, out_dir: str | os.PathLike,
                       *, progress=None, cancel=None) -> list[Path]:
    """Calibration mode: apply a saved matrix to photos; outputs keep their names in ``out_dir``."""
    bar = Progress.wrap(progress, cancel)
    corr = ColourCorrection.load(matrix)
    images = [Path(p) for p in images]
    if not images:
        raise GeocoreError("no photographs given; name at least one image to correct")
    targets = [Path(out_dir) / p.name for p in images]
    if len({t.name for t in targets}) != len(targets):
        raise GeocoreError("several inputs have the same file name; outputs keep input names, so use separate runs")
    check_not_input(targets, images + [Path(matrix)])
    for p, t in zip(images, targets):
        check_output_suffix(t)
        if not p.is_file():
            msg = f"image '{p}' does not exist; check the path"
            raise GeocoreError(msg)
        check_rgb(p)  # every photo is checked before the first is written
    prepare_out_dir(out_dir)
    written = []
    for i, (src, dst) in enumerate(zip(images, targets)):
        photo = read_rgb(src)
        sub = bar.sub(i / len(images), (i + 1) / len(images))
        written.append(write_rgb(dst, corr.apply(photo.rgb, progress=sub), like=photo))
    return written


def apply_colour_file(image: str | os.PathLike, matrix: str | os.PathLike | ColourCorrection,
                      out: str | os.PathLike, *, progress=None, cancel=None) -> Path:
    """Apply a colour matrix (JSON path or :class:`ColourCorrection`) to one photo, writing ``out``."""
    corr = matrix if isinstance(matrix, ColourCorrection) else ColourCorrection.load(matrix)
    check_not_input([out], [image] + ([] if isinstance(matrix, ColourCorrection) else [matrix]))
    check_output_suffix(out)
    photo = read_rgb(image)
    return write_rgb(out, corr.apply(photo.rgb, progress=progress, cancel=cancel), like=photo)
