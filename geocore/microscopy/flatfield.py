"""Flat-field correction of reflected-light photographs from a mirror photograph.

A polished mirror under the same microscope, objective and lamp settings shows
only the uneven illumination (vignetting, an off-centre lamp) and its colour
cast. The mirror photograph is smoothed, turned into a gain per pixel and per
channel, and every photograph is multiplied by it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ..errors import GeocoreError
from ..files import all_or_nothing, check_not_input, prepare_out_dir
from ..progress import Progress
from .images import check_output_suffix, check_rgb, check_same_size, read_rgb, write_rgb
from .params import DEFAULT_SIGMA

#: The mirror is smoothed on a copy reduced to about this many pixels on its long edge.
_SMOOTH_EDGE = 1024
#: Smallest smoothed mirror level (0..1) accepted; darker pixels would get huge gains.
MIN_LEVEL = 0.02


@dataclass
class FlatField:
    """A flat-field gain, ready to apply.

    Attributes
    ----------
    gain : ndarray of float32, shape (rows, cols, 3) or (rows, cols, 1)
        Multiplier per pixel (and per channel); the corrected value is
        ``clip(value * gain)``.
    per_channel : bool
        Whether each channel has its own gain (corrects the lamp's colour cast
        as it varies over the field) or one grey gain serves all three.
    normalize : str
        ``"mean"``: the gain averages 1 over the field (mean brightness kept);
        ``"max"``: the brightest part of the field keeps its value and the rest
        is raised to it.
    """

    gain: np.ndarray
    per_channel: bool = True
    normalize: str = "mean"

    @property
    def shape(self) -> tuple[int, int]:
        return self.gain.shape[0], self.gain.shape[1]

    def apply(self, rgb: np.ndarray) -> np.ndarray:
        """Correct one photograph (uint8 RGB of the gain's size); returns uint8 RGB."""
        check_same_size(rgb.shape, self.gain.shape, "the photograph", "the mirror photograph")
        out = np.empty(rgb.shape, dtype=np.uint8)
        step = 256
        for r0 in range(0, rgb.shape[0], step):  # row strips keep the float copy small
            block = rgb[r0:r0 + step].astype(np.float32) * self.gain[r0:r0 + step]
            np.clip(block + 0.5, 0.0, 255.0, out=block)
            out[r0:r0 + step] = block.astype(np.uint8)
        return out


def smooth_illumination(mirror: np.ndarray, sigma: float = DEFAULT_SIGMA) -> np.ndarray:
    """The mirror photograph smoothed by a Gaussian of ``sigma`` pixels, as floats 0..1.

    Parameters
    ----------
    mirror : ndarray of uint8, shape (rows, cols, 3) or (rows, cols)
        Photograph of a mirror.
    sigma : float
        Gaussian standard deviation in pixels of the full-size photograph.
        Illumination varies slowly, so smoothing is done on a reduced copy
        (about 1024 px long edge) and interpolated back: the result differs
        from smoothing at full size by far less than one grey level.

    Returns
    -------
    ndarray of float32, same shape as ``mirror``
    """
    import cv2

    if sigma <= 0:
        msg = f"smoothing sigma must be positive (got {sigma}); try {DEFAULT_SIGMA:g} pixels"
        raise GeocoreError(msg)
    img = mirror.astype(np.float32) / 255.0
    rows, cols = img.shape[:2]
    factor = max(1.0, max(rows, cols) / _SMOOTH_EDGE, sigma / 4.0) if sigma >= 8 else 1.0
    if factor > 1.0:
        small = cv2.resize(img, (max(1, round(cols / factor)), max(1, round(rows / factor))),
                           interpolation=cv2.INTER_AREA)
        small = cv2.GaussianBlur(small, (0, 0), sigmaX=sigma / factor, borderType=cv2.BORDER_REFLECT)
        out = cv2.resize(small, (cols, rows), interpolation=cv2.INTER_LINEAR)
    else:
        out = cv2.GaussianBlur(img, (0, 0), sigmaX=sigma, borderType=cv2.BORDER_REFLECT)
    return out.reshape(img.shape)


def flat_field_from_mirror(mirror: np.ndarray, *, sigma: float = DEFAULT_SIGMA, per_channel: bool = True,
                           normalize: str = "mean") -> FlatField:
    """The flat-field gain of a mirror photograph.

    Parameters
    ----------
    mirror : ndarray of uint8, shape (rows, cols, 3)
        Photograph of a mirror, taken like the photographs to correct.
    sigma : float
        Gaussian smoothing in pixels (removes dust, scratches and noise of the
        mirror).
    per_channel : bool
        One gain per channel (default) or one grey gain (luminance) for all.
    normalize : {"mean", "max"}
        Scale of the gain: ``"mean"`` keeps the mean brightness of the field,
        ``"max"`` brings every pixel up to the brightest part of the field.

    Returns
    -------
    FlatField

    Notes
    -----
    With ``L_c(x)`` the smoothed mirror in channel ``c`` (0..1), the gain is
    ``g_c(x) = N_c / L_c(x)`` where ``N_c`` is the mean (or maximum) of
    ``L_c`` over the field: the camera response is taken as linear in the
    8-bit values, like the usual flat-field division.
    """
    if normalize not in ("mean", "max"):
        msg = f"normalize must be 'mean' or 'max', not '{normalize}'"
        raise GeocoreError(msg)
    if mirror.ndim != 3 or mirror.shape[2] != 3:
        msg = "the mirror photograph must be RGB (rows, cols, 3)"
        raise GeocoreError(msg)
    source = mirror if per_channel else (mirror.astype(np.float32) @ np.array([0.299, 0.587, 0.114],
                                                                             np.float32))[..., None]
    level = smooth_illumination(source, sigma)
    if level.ndim == 2:
        level = level[..., None]
    dark = float((level < MIN_LEVEL).mean())
    if dark > 0.01:
        msg = (f"{100 * dark:.0f} % of the mirror photograph is black (below {MIN_LEVEL:.0%} of full scale); "
               f"it cannot serve as a flat-field reference: photograph a mirror with the lamp on")
        raise GeocoreError(msg)
    level = np.maximum(level, MIN_LEVEL)
    axes = (0, 1)
    norm = level.mean(axis=axes) if normalize == "mean" else level.max(axis=axes)
    gain = (norm / level).astype(np.float32)
    return FlatField(gain=gain, per_channel=per_channel, normalize=normalize)


def flat_field_petroscope(mirror: np.ndarray, *, sigma: float = DEFAULT_SIGMA) -> FlatField:
    """The correction the petroscope library applies, for comparison.

    petroscope smooths the grey mirror (sigma 25 px), shifts it so that its
    maximum is 1 (``m + 1 - max m``: an additive, not a multiplicative,
    normalisation), divides all three channels by it and truncates to 8 bits.
    """
    import cv2

    grey = cv2.cvtColor(mirror[..., ::-1].copy(), cv2.COLOR_BGR2GRAY)
    level = cv2.GaussianBlur(grey, (0, 0), sigmaX=sigma, sigmaY=sigma).astype(np.float32) / 255.0
    level = level + (1.0 - level.max())
    return FlatField(gain=(1.0 / level)[..., None].astype(np.float32), per_channel=False, normalize="petroscope")


@dataclass
class FlatFieldResult:
    """Paths written by :func:`flatfield_to_folder`."""

    outputs: list[Path]
    gain_min: float
    gain_max: float

    def summary(self) -> str:
        return (f"{len(self.outputs)} image(s) corrected (gain {self.gain_min:.3f}..{self.gain_max:.3f}): "
                + ", ".join(str(p) for p in self.outputs))


@all_or_nothing
def flatfield_to_folder(images: Sequence[str | os.PathLike], reference: str | os.PathLike,
                        out_dir: str | os.PathLike, *, sigma: float = DEFAULT_SIGMA, per_channel: bool = True,
                        normalize: str = "mean", progress=None, cancel=None) -> FlatFieldResult:
    """Flat-field correct photographs with a mirror photograph; outputs keep their names.

    Parameters
    ----------
    images : sequence of paths
        Photographs taken like the mirror (same size).
    reference : path
        The mirror photograph.
    out_dir : path
        Output folder; each corrected photo is written under its own file name
        and format (JPEG quality 95, PNG, or GeoTIFF with the input's
        georeferencing). It must not be the folder of an input.
    sigma, per_channel, normalize
        See :func:`flat_field_from_mirror`.

    Returns
    -------
    FlatFieldResult
    """
    bar = Progress.wrap(progress, cancel)
    images = [Path(p) for p in images]
    if not images:
        raise GeocoreError("no photographs given; name at least one image to correct")
    names = [p.name for p in images]
    if len(set(names)) != len(names):
        dup = sorted({n for n in names if names.count(n) > 1})
        msg = f"several inputs are named {', '.join(dup)}; outputs keep input names, so correct them in separate runs"
        raise GeocoreError(msg)
    out = Path(out_dir)
    targets = [out / p.name for p in images]
    check_not_input(targets, list(images) + [reference])
    for t in targets:
        check_output_suffix(t)
    mirror = read_rgb(reference, what="mirror photograph")
    for p in images:  # check everything before writing anything
        if not p.is_file():
            msg = f"image '{p}' does not exist; check the path"
            raise GeocoreError(msg)
        check_same_size(check_rgb(p), mirror.shape, f"image '{p}'", f"the mirror photograph '{reference}'")
    flat = flat_field_from_mirror(mirror.rgb, sigma=sigma, per_channel=per_channel, normalize=normalize)
    prepare_out_dir(out)
    bar.update(0.1)
    written = []
    for i, (src, dst) in enumerate(zip(images, targets)):
        photo = read_rgb(src)
        check_same_size(photo.shape, mirror.shape, f"image '{src}'", f"the mirror photograph '{reference}'")
        bar.check()
        written.append(write_rgb(dst, flat.apply(photo.rgb), like=photo))
        bar.update(0.1 + 0.9 * (i + 1) / len(images))
    return FlatFieldResult(written, float(flat.gain.min()), float(flat.gain.max()))


def compare_images(a: np.ndarray, b: np.ndarray) -> dict:
    """Pearson correlation and mean absolute difference (grey levels) of two images."""
    fa, fb = a.astype(np.float64).ravel(), b.astype(np.float64).ravel()
    return {"correlation": float(np.corrcoef(fa, fb)[0, 1]), "mean_abs_diff": float(np.abs(fa - fb).mean())}
