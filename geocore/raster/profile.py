"""The creation options of the GeoTIFFs geocore writes, in one place."""

from __future__ import annotations

from typing import Optional

#: Edge of the internal tiles (pixels).
BLOCK = 256


def gtiff_profile(width: int, height: int, count: int = 1, dtype: str = "float32", *, crs=None, transform=None,
                  nodata=None, tiled: Optional[bool] = None, block: int = BLOCK, predictor: Optional[int] = None,
                  **options) -> dict:
    """A rasterio profile for a deflate-compressed GeoTIFF (BigTIFF when it may pass 4 GiB).

    Parameters
    ----------
    width, height, count : int
        Size in pixels and number of bands.
    dtype : str
    crs, transform, nodata
        Left out of the profile when None.
    tiled : bool or None
        Internal ``block`` x ``block`` tiles; None: only when the raster is at
        least one block each way (a small raster stays in strips).
    predictor : int, optional
        Deflate predictor: 2 (integers), 3 (floating point).
    options
        Further creation options (e.g. ``zlevel``, ``photometric``, ``interleave``).
    """
    profile = dict(driver="GTiff", width=int(width), height=int(height), count=int(count), dtype=dtype,
                   compress="deflate", BIGTIFF="IF_SAFER")
    for key, value in (("crs", crs), ("transform", transform), ("nodata", nodata), ("predictor", predictor)):
        if value is not None:
            profile[key] = value
    if tiled is None:
        tiled = width >= block and height >= block
    if tiled:
        profile.update(tiled=True, blockxsize=block, blockysize=block)
    profile.update(options)
    return profile
