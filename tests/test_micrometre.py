"""The one micrometre frame of the microscopy side (geocore.raster.micrometre)."""

from __future__ import annotations

import sqlite3

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from shapely.geometry import box

from geocore.errors import GeocoreError
from geocore.files import write_vector
from geocore.raster.micrometre import (MICROMETRE_VECTOR_WKT, MICROMETRE_WKT, is_micrometre_crs, micrometre_crs,
                                       micrometre_pyproj_crs, micrometre_transform, pixel_size_um)

#: the CRSs geocore wrote before there was one builder: still recognised
OLD_PANORAMA = ('LOCAL_CS["Microscope section (micrometres)",LOCAL_DATUM["Microscope stage",0],'
                'UNIT["micrometre",1e-06],AXIS["x",EAST],AXIS["y",NORTH]]')
OLD_SEGMENT = ('ENGCRS["polished section, micrometres",EDATUM["microscope stage"],CS[Cartesian,2],'
               'AXIS["x",east,ORDER[1],LENGTHUNIT["micrometre",1E-06]],'
               'AXIS["y",north,ORDER[2],LENGTHUNIT["micrometre",1E-06]]]')
MILLIMETRE = ('LOCAL_CS["stage, millimetres",UNIT["millimetre",0.001],AXIS["x",EAST],AXIS["y",NORTH]]')


def test_transform_is_the_pixel_frame_scaled():
    t = micrometre_transform(0.5)
    # pixel (col, row) -> (col * um, -row * um): the frame QGIS gives a plain photo, scaled
    assert t * (0, 0) == (0.0, 0.0) and t * (10, 4) == (5.0, -2.0)
    with pytest.raises(GeocoreError, match="positive"):
        micrometre_transform(0)
    with pytest.raises(GeocoreError, match="positive"):
        micrometre_transform(float("nan"))


@pytest.mark.parametrize("wkt, expected", [
    (MICROMETRE_WKT, True), (MICROMETRE_VECTOR_WKT, True), (OLD_PANORAMA, True), (OLD_SEGMENT, True),
    (MILLIMETRE, False), ("EPSG:32633", False), (None, False),
    # a name that says micrometre is not enough (the old test searched the WKT for the word)
    ('LOCAL_CS["not micrometre at all",UNIT["metre",1],AXIS["x",EAST],AXIS["y",NORTH]]', False),
])
def test_recognised_by_kind_and_unit_not_by_name(wkt, expected):
    from rasterio.crs import CRS

    crs = None if wkt is None else (CRS.from_user_input(wkt) if wkt.startswith("EPSG") else wkt)
    assert is_micrometre_crs(crs) is expected


def test_geotiff_keeps_the_wkt_exactly(tmp_path):
    with rasterio.open(tmp_path / "a.tif", "w", driver="GTiff", width=4, height=3, count=1, dtype="uint8",
                       crs=micrometre_crs(), transform=micrometre_transform(2.0)) as ds:
        ds.write(np.zeros((1, 3, 4), np.uint8))
    with rasterio.open(tmp_path / "a.tif") as ds:
        assert ds.crs.to_wkt() == MICROMETRE_WKT
        assert ds.bounds == (0.0, -6.0, 8.0, 0.0)
        assert pixel_size_um(ds.crs, ds.transform) == 2.0


@pytest.mark.parametrize("ext", ["gpkg", "shp"])
def test_vectors_are_stamped_with_the_wkt_qgis_matches(tmp_path, ext):
    gdf = gpd.GeoDataFrame({"a": [1]}, geometry=[box(0, -5, 5, 0)], crs=micrometre_pyproj_crs())
    path = write_vector(gdf, tmp_path / f"v.{ext}")
    if ext == "shp":
        assert (tmp_path / "v.prj").read_text() == MICROMETRE_VECTOR_WKT
    else:
        con = sqlite3.connect(path)
        defs = [d for (d,) in con.execute("SELECT definition FROM gpkg_spatial_ref_sys WHERE srs_id > 0")]
        con.close()
        assert MICROMETRE_VECTOR_WKT in defs
    back = gpd.read_file(path)
    assert is_micrometre_crs(back.crs) and back.total_bounds.tolist() == [0, -5, 5, 0]


def test_other_crs_left_alone(tmp_path):
    gdf = gpd.GeoDataFrame({"a": [1]}, geometry=[box(0, 0, 5, 5)], crs="EPSG:32633")
    write_vector(gdf, tmp_path / "v.shp")
    assert "UTM" in (tmp_path / "v.prj").read_text()
    assert gpd.read_file(tmp_path / "v.shp").crs.to_epsg() == 32633


def test_one_micrometre_pixels_keep_their_transform(tmp_path):
    """At 1 µm per pixel the micrometre transform equals the pixel frame; with the CRS it must still be
    written (a CRS without a geotransform made GDAL and QGIS refuse the uncertainty map)."""
    from geocore.microscopy.images import write_bands

    write_bands(tmp_path / "u.tif", np.zeros((1, 4, 4), np.float32), transform=micrometre_transform(1.0),
                crs=micrometre_crs())
    with rasterio.open(tmp_path / "u.tif") as ds:
        assert ds.transform == micrometre_transform(1.0) and is_micrometre_crs(ds.crs)
        assert not ds.transform.is_identity
