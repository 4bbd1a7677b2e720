"""Reading and writing microscope photographs (RGB, 8 bit).

Photographs are read through GDAL (JPEG, PNG, TIFF, GeoTIFF, ...). A photo
without georeferencing is placed the way QGIS shows it: x = column, y = -row
(one unit per pixel, origin at the top-left corner), so that strokes drawn in
QGIS over the photo and polygons written here line up with it. A georeferenced
photo (GeoTIFF, or a world file beside a JPEG) keeps its own transform and CRS,
for instance a local engineering CRS in micrometres.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
from affine import Affine

from ..errors import GeocoreError
from ..files import atomic_output
from ..raster.io import open_gdal

#: The transform QGIS gives a raster without georeferencing: x = column, y = -row.
PIXEL_TRANSFORM = Affine(1.0, 0.0, 0.0, 0.0, -1.0, 0.0)
#: Output formats written through OpenCV (keep the input's format and name).
_CV2_SUFFIXES = {".jpg": ".jpg", ".jpeg": ".jpg", ".png": ".png", ".bmp": ".bmp"}
_TIFF_SUFFIXES = (".tif", ".tiff")
JPEG_QUALITY = 95


@dataclass
class Photo:
    """An RGB photograph and where it lies.

    Attributes
    ----------
    path : Path or None
        The file it came from.
    rgb : ndarray of uint8, shape (rows, cols, 3)
        Red, green, blue.
    transform : affine.Affine
        Pixel (col, row) -> map (x, y); :data:`PIXEL_TRANSFORM` when the file
        has no georeferencing.
    crs : rasterio.crs.CRS or None
        None for photos in pixel coordinates.
    georeferenced : bool
        Whether the file carried a transform or CRS.
    """

    path: Optional[Path]
    rgb: np.ndarray
    transform: Affine = PIXEL_TRANSFORM
    crs: object = None
    georeferenced: bool = False

    @property
    def shape(self) -> tuple[int, int]:
        """``(rows, cols)``."""
        return self.rgb.shape[0], self.rgb.shape[1]


def _open(path: Path, what: str):
    return open_gdal(path, missing=what + " '{path}' does not exist; check the path",
                     folder=what + " '{path}' is a folder; give an image file",
                     unreadable=what + " '{path}' is not an image GDAL can read; give a JPEG, PNG or (Geo)TIFF")


def _georef(ds) -> tuple[Affine, object, bool]:
    georef = (not ds.transform.is_identity) or ds.crs is not None
    return (ds.transform if georef else PIXEL_TRANSFORM), ds.crs, bool(georef)


def read_rgb(path: str | os.PathLike, *, what: str = "image") -> Photo:
    """Read an 8-bit RGB photograph.

    Parameters
    ----------
    path : str or path-like
        JPEG, PNG, TIFF or any 8-bit raster GDAL reads with 3 bands (a 4th,
        alpha, band is dropped).
    what : str
        How the image is called in error messages.

    Returns
    -------
    Photo

    Raises
    ------
    GeocoreError
        Missing or unreadable file, a grey (1-band) image, or a data type
        other than 8-bit.
    """
    path = Path(path)
    with _open(path, what) as ds:
        _check_rgb(ds, path, what)
        rgb = np.moveaxis(ds.read([1, 2, 3]), 0, -1)
        transform, crs, georef = _georef(ds)
    return Photo(path, np.ascontiguousarray(rgb), transform, crs, georef)


def check_rgb(path: str | os.PathLike, *, what: str = "image") -> tuple[int, int]:
    """Check, from its header only, that ``path`` is an 8-bit RGB photograph; return ``(rows, cols)``.

    Lets a command check all its inputs before it writes its first output.
    Raises the same GeocoreError as :func:`read_rgb`.
    """
    path = Path(path)
    with _open(path, what) as ds:
        _check_rgb(ds, path, what)
        return ds.height, ds.width


def _check_rgb(ds, path: Path, what: str) -> None:
    if ds.count < 3:
        msg = (f"{what} '{path}' has {ds.count} band{'s' if ds.count > 1 else ''}; an RGB photograph "
               f"(3 bands) is expected: convert a grey image to RGB first")
        raise GeocoreError(msg)
    if ds.count > 4:
        msg = f"{what} '{path}' has {ds.count} bands; give an RGB photograph (3 bands, or 4 with alpha)"
        raise GeocoreError(msg)
    if ds.dtypes[0] != "uint8":
        msg = f"{what} '{path}' is {ds.dtypes[0]}; 8-bit RGB is expected (convert with gdal_translate -ot Byte -scale)"
        raise GeocoreError(msg)


def read_mask(path: str | os.PathLike, *, what: str = "mask") -> tuple[np.ndarray, Affine, object]:
    """Read a class mask in the LumenStone format.

    The pixel value is the class code (8-bit grey, or three equal channels of
    which the first is taken); 255 marks unlabelled pixels.

    Returns
    -------
    mask : ndarray of uint8, shape (rows, cols)
    transform, crs
        As in :class:`Photo`.
    """
    path = Path(path)
    with _open(path, what) as ds:
        if np.dtype(ds.dtypes[0]).kind not in "ui":
            msg = f"{what} '{path}' holds {ds.dtypes[0]} values; a class mask holds integer codes 0..14 (255: unlabelled)"
            raise GeocoreError(msg)
        data = ds.read(1)
        transform, crs, _ = _georef(ds)
    if data.min() < 0 or data.max() > 255:
        msg = f"{what} '{path}' has values outside 0..255; a class mask holds codes 0..14 (255: unlabelled)"
        raise GeocoreError(msg)
    return data.astype(np.uint8), transform, crs


def check_same_size(shape_a: tuple[int, int], shape_b: tuple[int, int], a: str, b: str) -> None:
    """Raise GeocoreError when two images differ in size."""
    if tuple(shape_a[:2]) != tuple(shape_b[:2]):
        msg = (f"{a} is {shape_a[1]} x {shape_a[0]} px but {b} is {shape_b[1]} x {shape_b[0]} px; "
               f"they must be the same photograph size")
        raise GeocoreError(msg)


def check_output_suffix(path: str | os.PathLike) -> None:
    """Raise GeocoreError when geocore cannot write an image with this file extension."""
    suffix = Path(path).suffix.lower()
    if suffix not in _CV2_SUFFIXES and suffix not in _TIFF_SUFFIXES:
        msg = f"cannot write '{path}': use a .jpg, .png, .bmp or .tif file name"
        raise GeocoreError(msg)


def write_rgb(path: str | os.PathLike, rgb: np.ndarray, *, like: Optional[Photo] = None) -> Path:
    """Write an RGB image atomically, in the format its extension names.

    JPEG (quality 95), PNG and BMP are written with OpenCV; TIFF as a GeoTIFF
    carrying ``like``'s transform and CRS when ``like`` is georeferenced.
    """
    import cv2

    path = Path(path)
    check_output_suffix(path)
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    suffix = path.suffix.lower()
    with atomic_output(path) as tmp:
        if suffix in _TIFF_SUFFIXES:
            write_bands(tmp, np.moveaxis(rgb, -1, 0), like=like, photometric="RGB")
        else:
            params = [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY] if suffix in (".jpg", ".jpeg") else []
            if not cv2.imwrite(str(tmp), rgb[..., ::-1], params):
                msg = f"could not write '{path}'; check the folder is writable"
                raise GeocoreError(msg)
        if like is not None and like.georeferenced and like.path is not None and suffix not in _TIFF_SUFFIXES:
            _copy_georeferencing(like.path, tmp)
    return path


def _copy_georeferencing(src: Path, tmp: Path) -> None:
    """Give a JPEG/PNG copy the world file or .aux.xml that georeferences its source."""
    import shutil

    aux = Path(str(src) + ".aux.xml")
    if aux.is_file():
        shutil.copyfile(aux, Path(str(tmp) + ".aux.xml"))
    for world in (src.with_suffix(src.suffix[:2] + src.suffix[-1] + "w"), src.with_suffix(".wld")):
        if world.is_file():
            shutil.copyfile(world, tmp.parent.parent / (tmp.stem + world.suffix))


def write_bands(path: Path, bands: np.ndarray, *, like: Optional[Photo] = None, transform: Optional[Affine] = None,
                crs=None, mask: Optional[np.ndarray] = None, photometric: Optional[str] = None,
                nodata: Optional[float] = None, descriptions: Optional[list[str]] = None) -> None:
    """Write a (bands, rows, cols) array as a tiled, deflate-compressed GeoTIFF (not atomic)."""
    import rasterio

    if like is not None and like.georeferenced:
        transform, crs = like.transform, like.crs
    from ..raster.profile import gtiff_profile

    # the pixel frame is left implicit (a plain image), unless a CRS is written: at 1 µm per pixel the
    # micrometre transform equals the pixel one, and a CRS without a transform is no georeferencing at all
    keep_transform = transform is not None and (transform != PIXEL_TRANSFORM or crs is not None)
    profile = gtiff_profile(bands.shape[2], bands.shape[1], bands.shape[0], bands.dtype.name, crs=crs,
                            transform=transform if keep_transform else None, nodata=nodata)
    if photometric:
        profile["photometric"] = photometric
    with warnings.catch_warnings():
        from rasterio.errors import NotGeoreferencedWarning

        warnings.simplefilter("ignore", NotGeoreferencedWarning)
        with rasterio.open(path, "w", **profile) as ds:
            ds.write(bands)
            if mask is not None:
                ds.write_mask(np.where(mask, 255, 0).astype(np.uint8))
            if descriptions:
                for i, d in enumerate(descriptions, start=1):
                    ds.set_band_description(i, d)


def write_mask_png(path: str | os.PathLike, mask: np.ndarray, *, like: Optional[Photo] = None) -> Path:
    """Write a class mask (uint8 codes, 255 unlabelled) as 8-bit grey PNG (or GeoTIFF), atomically.

    A GeoTIFF mask carries ``like``'s georeferencing; a PNG is plain, as in LumenStone.
    """
    import cv2

    path = Path(path)
    with atomic_output(path) as tmp:
        if path.suffix.lower() in _TIFF_SUFFIXES:
            write_bands(tmp, mask[None].astype(np.uint8), like=like)
        elif not cv2.imwrite(str(tmp), np.ascontiguousarray(mask, dtype=np.uint8)):
            msg = f"could not write '{path}'; use a .png file name in a writable folder"
            raise GeocoreError(msg)
    return path
