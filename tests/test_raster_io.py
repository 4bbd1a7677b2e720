"""Raster opening checks and NaN-aware windowed reads."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin
from rasterio.windows import Window

from geocore.errors import GeocoreError
from geocore.raster import NotGeoreferencedGrid, open_raster_checked, read_window

TRANSFORM = from_origin(500000.0, 7000000.0, 50.0, 50.0)


def write_tif(path, data, *, nodata=None, crs="EPSG:32733", transform=TRANSFORM):
    data = np.asarray(data)
    if data.ndim == 2:
        data = data[None]
    kw = dict(driver="GTiff", count=data.shape[0], height=data.shape[1], width=data.shape[2],
              dtype=data.dtype.name, nodata=nodata)
    if crs is not None:
        kw.update(crs=crs, transform=transform)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        with rasterio.open(path, "w", **kw) as ds:
            ds.write(data)
    return path


def test_float_grid_opens_with_its_georeferencing(tmp_path):
    p = write_tif(tmp_path / "g.tif", np.ones((30, 40), np.float32))
    info = open_raster_checked(p)
    assert (info.band, info.width, info.height, info.count) == (1, 40, 30, 1)
    assert info.crs.to_epsg() == 32733
    assert info.transform == TRANSFORM
    assert info.georeferenced and info.dtype == "float32"
    assert info.cell_size == 50.0


def test_missing_file(tmp_path):
    with pytest.raises(GeocoreError, match="does not exist"):
        open_raster_checked(tmp_path / "nope.tif")


def test_not_a_raster(tmp_path):
    p = tmp_path / "notes.tif"
    p.write_text("this is not a raster\n")
    with pytest.raises(GeocoreError, match="is not a raster GDAL can read"):
        open_raster_checked(p)


def test_multiband_needs_band_and_band_in_range(tmp_path):
    p = write_tif(tmp_path / "m.tif", np.ones((3, 10, 10), np.float32))
    with pytest.raises(GeocoreError, match=r"has 3 bands; choose one with 'band' \(1..3\)"):
        open_raster_checked(p)
    with pytest.raises(GeocoreError, match="band 4 is out of range"):
        open_raster_checked(p, band=4)
    assert open_raster_checked(p, band=2).band == 2


def test_integer_grid_refused_unless_allowed(tmp_path):
    p = write_tif(tmp_path / "i.tif", np.ones((10, 10), np.int16))
    with pytest.raises(GeocoreError, match=r"integer raster \(int16\).*gdal_translate -ot Float32"):
        open_raster_checked(p)
    assert open_raster_checked(p, allow_integer=True).dtype == "int16"


def test_all_nan_and_all_nodata_grids_refused(tmp_path):
    p = write_tif(tmp_path / "n.tif", np.full((50, 50), np.nan, np.float32))
    with pytest.raises(GeocoreError, match="contains no valid cells"):
        open_raster_checked(p)
    q = write_tif(tmp_path / "nd.tif", np.full((50, 50), -9999.0, np.float32), nodata=-9999.0)
    with pytest.raises(GeocoreError, match="contains no valid cells"):
        open_raster_checked(q)


def test_single_valid_cell_in_large_grid_is_found(tmp_path):
    # the decimated read misses an isolated cell; the block scan must find it
    a = np.full((2100, 2100), np.nan, np.float32)
    a[1001, 1333] = 7.0
    p = write_tif(tmp_path / "one.tif", a)
    assert open_raster_checked(p).width == 2100


def test_ungeoreferenced_raster_warns_and_works(tmp_path):
    p = write_tif(tmp_path / "u.tif", np.ones((10, 12), np.float32), crs=None)
    with pytest.warns(NotGeoreferencedGrid, match="pixel coordinates"):
        info = open_raster_checked(p)
    assert not info.georeferenced and info.transform.is_identity


def test_read_window_nodata_and_nan_become_nan(tmp_path):
    a = np.arange(100, dtype=np.float32).reshape(10, 10)
    a[2, 3] = -9999.0
    a[5, 5] = np.nan
    p = write_tif(tmp_path / "w.tif", a, nodata=-9999.0)
    with rasterio.open(p) as ds:
        w = read_window(ds, Window(2, 1, 5, 6))
        full = read_window(ds, None, [1])
    assert w.dtype == np.float64 and w.shape == (6, 5)
    assert np.isnan(w[1, 1]) and np.isnan(w[4, 3])
    assert w[0, 0] == a[1, 2]
    assert full.shape == (1, 10, 10) and np.isnan(full).sum() == 2


def test_gtiff_profile_tiles_only_rasters_of_a_block_or_more(tmp_path):
    import rasterio
    from rasterio.transform import from_origin

    from geocore.raster.profile import gtiff_profile

    small = gtiff_profile(300, 100, 1, "uint8")
    assert "tiled" not in small and "crs" not in small and "nodata" not in small
    big = gtiff_profile(300, 256, 2, "float32", crs="EPSG:32633", transform=from_origin(0, 0, 1, 1),
                        nodata=float("nan"), predictor=3)
    with rasterio.open(tmp_path / "b.tif", "w", **big) as ds:
        ds.write(np.ones((2, 256, 300), np.float32))
    with rasterio.open(tmp_path / "b.tif") as ds:
        assert ds.block_shapes[0] == (256, 256) and ds.compression.name.lower() == "deflate"
        assert ds.crs.to_epsg() == 32633 and np.isnan(ds.nodata) and ds.count == 2
    assert gtiff_profile(10, 10, tiled=True)["blockxsize"] == 256
