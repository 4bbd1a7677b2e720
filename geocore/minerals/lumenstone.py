"""Reading data sets in the LumenStone layout.

::

    <set>/imgs/train/NAME.jpg    <set>/masks/train/NAME.png
    <set>/imgs/test/NAME.jpg     <set>/masks/test/NAME.png

A mask's pixel value is the class code (8-bit grey, or three equal channels,
of which the first is taken); 255 means "ignore". Images are RGB (JPEG, PNG
or TIFF). Optional extra images (e.g. aligned crossed-polar photographs) sit
in ``<set>/imgs_<tag>/<split>/NAME.*`` and are stacked after the RGB bands.
LumenStone itself is downloaded by the user; nothing here needs it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from ..errors import GeocoreError
from .classes import CODES, IGNORE

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp")
SPLITS = ("train", "test")


@dataclass
class Sample:
    """One image of a data set with its mask paths (read lazily)."""

    name: str
    image: Path
    mask: Path
    extra: list = field(default_factory=list)


class SplitNotFound(GeocoreError):
    """A data folder has no such split: its ``imgs/<split>`` or ``masks/<split>`` folder is missing or empty."""


def _find_image(folder: Path, stem: str) -> Optional[Path]:
    for s in IMAGE_SUFFIXES:
        for cand in (folder / (stem + s), folder / (stem + s.upper())):
            if cand.is_file():
                return cand
    return None


def list_samples(root: str | os.PathLike, split: str = "train", extra: Sequence[str] = ()) -> list[Sample]:
    """The samples of one split of a LumenStone-layout folder, sorted by name.

    Raises
    ------
    GeocoreError
        Missing folders, an image without its mask, or an empty split.
    """
    root = Path(root)
    if split not in SPLITS:
        raise GeocoreError(f"split '{split}' is not one of {', '.join(SPLITS)}")
    imgs, masks = root / "imgs" / split, root / "masks" / split
    if not root.is_dir():
        raise GeocoreError(f"data folder '{root}' does not exist; give a folder holding imgs/ and masks/")
    if not imgs.is_dir():
        raise SplitNotFound(f"'{imgs}' is missing; a LumenStone-layout folder holds imgs/{split}/NAME.jpg "
                           f"and masks/{split}/NAME.png")
    if not masks.is_dir():
        raise SplitNotFound(f"'{masks}' is missing: the images in '{imgs}' have no masks")
    out = []
    for img in sorted(p for p in imgs.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
        mask = masks / (img.stem + ".png")
        if not mask.is_file():
            raise GeocoreError(f"mask '{mask}' of image '{img}' is missing; add it or remove the image")
        extras = []
        for tag in extra:
            e = _find_image(root / f"imgs_{tag}" / split, img.stem)
            if e is None:
                raise GeocoreError(f"extra image '{tag}' of '{img.name}' is missing: expected "
                                   f"{root / f'imgs_{tag}' / split / img.stem}.jpg")
            extras.append(e)
        out.append(Sample(img.stem, img, mask, extras))
    if not out:
        raise SplitNotFound(f"'{imgs}' holds no images (.jpg, .png, .tif); check the folder")
    return out


def read_rgb(path: str | os.PathLike) -> np.ndarray:
    """Read an RGB photograph as (rows, cols, 3) uint8; grey or 16-bit images are refused."""
    import cv2

    path = Path(path)
    arr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if arr is None:
        raise GeocoreError(f"'{path}' is not an image OpenCV can read; give a JPEG, PNG or TIFF photograph")
    if arr.ndim == 2 or arr.shape[2] == 1:
        raise GeocoreError(f"'{path}' is a grey image; the models need RGB colour photographs "
                           f"(colour is what tells the minerals apart)")
    if arr.dtype != np.uint8:
        raise GeocoreError(f"'{path}' is {arr.dtype}; convert it to 8-bit RGB")
    return cv2.cvtColor(arr[:, :, :3], cv2.COLOR_BGR2RGB)


def read_mask(path: str | os.PathLike, allowed: Sequence[int] = CODES) -> np.ndarray:
    """Read a class mask as (rows, cols) uint8 and check its codes.

    Three-channel masks must have equal channels; the first is taken. Values
    must be class codes in ``allowed`` or 255 (ignore).
    """
    import cv2

    path = Path(path)
    arr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    if arr is None:
        raise GeocoreError(f"mask '{path}' is not an image OpenCV can read; masks are 8-bit PNG")
    if arr.dtype != np.uint8:
        raise GeocoreError(f"mask '{path}' is {arr.dtype}; masks hold 8-bit class codes")
    if arr.ndim == 3:
        if arr.shape[2] >= 3 and not (np.array_equal(arr[..., 0], arr[..., 1]) and np.array_equal(arr[..., 0], arr[..., 2])):
            raise GeocoreError(f"mask '{path}' is a colour picture; masks hold class codes as grey values "
                               f"(or three equal channels)")
        arr = arr[..., 0]
    bad = np.setdiff1d(np.unique(arr), np.array(list(allowed) + [IGNORE]))
    if bad.size:
        raise GeocoreError(f"mask '{path}' holds codes {bad.tolist()} outside the class table "
                           f"(allowed {sorted(allowed)} and 255 = ignore); fix the mask or choose its classes")
    return arr


def read_sample(sample: Sample, allowed: Sequence[int] = CODES) -> tuple[np.ndarray, np.ndarray]:
    """Image (rows, cols, 3 + 3N) uint8 and mask (rows, cols) uint8 of a sample, checked."""
    img = read_rgb(sample.image)
    mask = read_mask(sample.mask, allowed)
    if img.shape[:2] != mask.shape:
        raise GeocoreError(f"image '{sample.image.name}' is {img.shape[1]} x {img.shape[0]} px but its mask is "
                           f"{mask.shape[1]} x {mask.shape[0]}; they must match")
    parts = [img]
    for e in sample.extra:
        x = read_rgb(e)
        if x.shape != img.shape:
            raise GeocoreError(f"extra image '{e}' is {x.shape[1]} x {x.shape[0]} px, its RGB image "
                               f"{img.shape[1]} x {img.shape[0]}; extra images must be aligned and the same size")
        parts.append(x)
    return np.concatenate(parts, axis=2) if len(parts) > 1 else img, mask


def load_split(roots: Sequence[str | os.PathLike] | str | os.PathLike, split: str = "train",
               extra: Sequence[str] = (), allowed: Sequence[int] = CODES, progress=None):
    """Read every sample of ``split`` in one or more folders: (images, masks, names)."""
    from ..progress import Progress

    if isinstance(roots, (str, os.PathLike)):
        roots = [roots]
    samples = [s for r in roots for s in list_samples(r, split, extra)]
    prog = Progress.wrap(progress)
    images, masks = [], []
    for i, s in enumerate(samples):
        x, y = read_sample(s, allowed)
        images.append(x)
        masks.append(y)
        prog.update((i + 1) / len(samples))
    return images, masks, [s.name for s in samples]
