"""Grid, transform and comparison algorithms run through ``processing.run`` inside QGIS."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("qgis.core", reason="QGIS Python bindings are not installed (apt-get install python3-qgis)")

from qgis.core import QgsProcessingException  # noqa: E402

from qgis_feedback import RecordingFeedback  # noqa: E402
from qgis_layers import raster  # noqa: E402

from testdata import GEOSOFT_GRID, REAL, SURFER_GRID, needs_real  # noqa: E402 (tests/, on the path via conftest)

GRIDS = REAL / "grids"
needs_data = needs_real(GRIDS)
#: grid, (width, height), share of Geosoft dummies (fixture: 12 of 1200 cells; the real grid about 1 %)
GEOSOFT = [pytest.param(GEOSOFT_GRID, (40, 30), (0.0099, 0.0101), id="fixture"),
           pytest.param(GRIDS / "wittichica_residual_tmi_50m.grd", (224, 223), (0.005, 0.02), id="real",
                        marks=needs_data)]
SURFER = [pytest.param(SURFER_GRID, id="fixture"),
          pytest.param(GRIDS / "elevation_surfer.GRD", id="real", marks=needs_data)]


@pytest.mark.parametrize("path, size, dummies", GEOSOFT)
def test_convert_geosoft_grid(geocore_plugin, tmp_path, path, size, dummies):
    import processing
    from geocore.grids.io import read_grid

    result = processing.run("geocore:convertgrid", {"INPUT": str(path), "OUTPUT": str(tmp_path / "witt.tif")})
    layer = raster(result["OUTPUT"])
    assert layer.crs().authid() == "EPSG:26910"
    assert (layer.width(), layer.height()) == size
    assert layer.rasterUnitsPerPixelX() == pytest.approx(50.0)
    assert layer.dataProvider().sourceHasNoDataValue(1)
    grid = read_grid(result["OUTPUT"])
    assert dummies[0] < np.isnan(grid.data).mean() < dummies[1]  # the Geosoft dummies


@pytest.mark.parametrize("path", SURFER)
def test_convert_surfer_grid_needs_a_crs(geocore_plugin, tmp_path, path):
    import processing

    out = tmp_path / "dem.tif"
    with pytest.raises(QgsProcessingException,
                       match="no coordinate reference system; give it with 'CRS to assign when the file has none'"):
        processing.run("geocore:convertgrid", {"INPUT": str(path), "OUTPUT": str(out)})
    assert not out.exists()
    result = processing.run("geocore:convertgrid", {"INPUT": str(path),
                                                    "CRS": "EPSG:28354", "OUTPUT": str(tmp_path / "dem.img")})
    layer = raster(result["OUTPUT"])  # converted to the format the user asked for
    assert Path(result["OUTPUT"]).suffix == ".img"
    assert "MGA zone 54" in layer.crs().toWkt()  # Erdas Imagine keeps the definition, not the EPSG code


@pytest.fixture(scope="module")
def dipole_grid(tmp_path_factory):
    """An induced dipole's total-field anomaly (inclination 50, declination 5) and its polar version."""
    from rasterio.crs import CRS
    from rasterio.transform import from_origin

    from geocore.grids.io import Grid, write_geotiff
    from geocore.magnetics.forward import dipole_total_field, field_direction

    n, cell = 96, 50.0
    grid = Grid(np.zeros((n, n)), from_origin(500000.0, 7000000.0, cell, cell), CRS.from_epsg(32633), units="nT")
    east, north = np.meshgrid(*grid.coordinates())
    source = np.array([east.mean(), north.mean(), -300.0])

    def field(inc, dec):
        return dipole_total_field(1e9 * field_direction(inc, dec), source, east, north, np.zeros(east.shape),
                                  inclination=inc, declination=dec)

    path = write_geotiff(grid.with_data(field(50, 5)), tmp_path_factory.mktemp("dipole") / "tmi.tif")
    return path, field(90, 0)


def test_transform_reduces_to_the_pole(geocore_plugin, dipole_grid, tmp_path):
    import processing
    from geocore.grids.io import read_grid

    path, polar = dipole_grid
    result = processing.run("geocore:transformgrid", {"INPUT": str(path), "OPERATION": 0, "INCLINATION": 50,
                                                      "DECLINATION": 5, "OUTPUT": str(tmp_path / "rtp.tif")})
    layer = raster(result["OUTPUT"])
    assert layer.crs().authid() == "EPSG:32633" and layer.extent() == raster(path).extent()
    rtp = read_grid(result["OUTPUT"]).data
    inner = (slice(20, -20), slice(20, -20))
    assert np.abs(rtp - polar)[inner].max() < 0.01 * np.abs(polar).max()


def test_transform_tilt_and_missing_option(geocore_plugin, dipole_grid, tmp_path):
    import processing
    from geocore.grids.io import read_grid

    path, _ = dipole_grid
    result = processing.run("geocore:transformgrid", {"INPUT": str(path), "OPERATION": 7,
                                                      "OUTPUT": str(tmp_path / "tilt.tif")})
    tilt = read_grid(result["OUTPUT"]).data
    assert -90 <= np.nanmin(tilt) < 0 < np.nanmax(tilt) <= 90
    with pytest.raises(QgsProcessingException, match=r"needs 'Continuation height \(m, positive up\)'") as err:
        processing.run("geocore:transformgrid", {"INPUT": str(path), "OPERATION": 1,
                                                 "OUTPUT": str(tmp_path / "up.tif")})
    assert "--" not in str(err.value)  # QGIS names its parameters, not the command line's flags
    assert not (tmp_path / "up.tif").exists()


@pytest.fixture(scope="module")
def line_layers(tmp_path_factory):
    import geopandas as gpd
    from shapely.geometry import LineString

    x0, y0 = 500000.0, 7000000.0 - 4800.0
    folder = tmp_path_factory.mktemp("lines")
    expert = gpd.GeoDataFrame(geometry=[LineString([(x0 + 1000, y0), (x0 + 1000, y0 + 4800)]),
                                        LineString([(x0 + 3000, y0), (x0 + 3000, y0 + 4800)])], crs="EPSG:32633")
    detected = gpd.GeoDataFrame(geometry=[LineString([(x0 + 1080, y0), (x0 + 1080, y0 + 4800)])], crs="EPSG:32633")
    expert.to_crs("EPSG:4326").to_file(folder / "expert.geojson")
    detected.to_file(folder / "detected.gpkg")
    return folder / "detected.gpkg", folder / "expert.geojson"


def test_compare_lineaments(geocore_plugin, line_layers, dipole_grid, tmp_path):
    import pandas as pd
    import processing

    detected, expert = line_layers
    result = processing.run("geocore:comparelineaments", {
        "DETECTED": str(detected), "EXPERT": str(expert), "TOLERANCE": 200.0, "GRID": str(dipole_grid[0]),
        "SHIFT": 1500.0, "OUTPUT_SCORES": str(tmp_path / "scores.csv"), "OUTPUT_TABLE": str(tmp_path / "lines.csv"),
        "OUTPUT_FIGURE": str(tmp_path / "overlay.png")})
    assert result["RECALL"] == pytest.approx(0.5, abs=0.01)
    assert result["PRECISION"] == pytest.approx(1.0)
    assert result["F1"] == pytest.approx(2 / 3, abs=0.01)
    assert result["LIFT_SHIFTED"] > 3 and result["LIFT_ROTATED"] > 3
    scores = pd.read_csv(result["OUTPUT_SCORES"])
    assert len(scores) == 3 and scores.loc[0, "f1"] == pytest.approx(result["F1"])
    table = pd.read_csv(result["OUTPUT_TABLE"])
    assert list(table.matched_fraction.round(2)) == [1.0, 0.0]
    assert "anomaly_contrast" in table.columns  # a projected grid: does each expert line carry an anomaly
    assert Path(result["OUTPUT_FIGURE"]).stat().st_size > 10000


def test_compare_empty_layer_is_refused(geocore_plugin, line_layers, tmp_path):
    import geopandas as gpd
    import processing

    detected, expert = line_layers
    empty = tmp_path / "empty.gpkg"
    gpd.read_file(detected).iloc[:0].to_file(empty)
    with pytest.raises(QgsProcessingException, match="holds no features"):
        processing.run("geocore:comparelineaments", {"DETECTED": str(empty), "EXPERT": str(expert),
                                                     "TOLERANCE": 200.0, "OUTPUT_SCORES": str(tmp_path / "s.csv")})
    assert not (tmp_path / "s.csv").exists()


def test_grid_flight_lines(geocore_plugin, tmp_path):
    import pandas as pd
    import processing
    from pyproj import Transformer

    from geocore.grids.io import read_grid

    # east-west lines 500 m apart over 5 km, a plane of 0.01 nT/m eastward, given in longitude/latitude
    e, n = np.meshgrid(400000.0 + np.arange(0, 5001, 50.0), 5600000.0 + np.arange(0, 5001, 500.0))
    lon, lat = Transformer.from_crs("EPSG:32632", "EPSG:4326", always_xy=True).transform(e.ravel(), n.ravel())
    table = tmp_path / "lines.csv.gz"
    pd.DataFrame({"lon": lon, "lat": lat, "mag": 0.01 * (e.ravel() - 400000.0)}).to_csv(table, index=False)
    result = processing.run("geocore:gridflightlines", {"INPUT": str(table), "VALUE": "mag", "CRS": "EPSG:32632",
                                                        "CELL_SIZE": 250.0, "BLANK": 600.0,
                                                        "OUTPUT": str(tmp_path / "mag.tif")})
    layer = raster(result["OUTPUT"])
    assert layer.crs().authid() == "EPSG:32632" and layer.rasterUnitsPerPixelX() == pytest.approx(250.0)
    grid = read_grid(result["OUTPUT"])
    east, _ = grid.coordinates()
    expected = 0.01 * (np.broadcast_to(east, grid.shape) - 400000.0)
    valid = np.isfinite(grid.data)
    assert valid.mean() > 0.9
    error = np.abs(grid.data - expected)
    assert error[1:-1, 1:-1][valid[1:-1, 1:-1]].max() < 0.05  # linear inside the lines' hull
    assert error[valid].max() <= 0.5 + 1e-6  # the border cells take the nearest cell median (50 m away)
    with pytest.raises(QgsProcessingException, match="no column 'tmi'"):
        processing.run("geocore:gridflightlines", {"INPUT": str(table), "VALUE": "tmi", "CELL_SIZE": 250.0,
                                                   "OUTPUT": str(tmp_path / "bad.tif")})
    assert not (tmp_path / "bad.tif").exists()


def test_cancel_leaves_no_output(geocore_plugin, dipole_grid, tmp_path):
    import processing
    from qgis.core import QgsProcessingFeedback

    feedback = QgsProcessingFeedback()
    feedback.cancel()
    with pytest.raises(QgsProcessingException, match="cancelled"):
        processing.run("geocore:transformgrid", {"INPUT": str(dipole_grid[0]), "OPERATION": 6,
                                                 "OUTPUT": str(tmp_path / "tga.tif")}, feedback=feedback)
    assert not list(tmp_path.iterdir())


# ----------------------------------------------------------------------------- netCDF, band, CRS, dummies, progress
def test_convert_verde_netcdf_with_a_variable_and_progress(geocore_plugin, tmp_path):
    import processing
    import verde as vd

    from geocore.grids.io import read_grid

    rng = np.random.default_rng(7)
    east, north = vd.grid_coordinates((600000.0, 601500.0, 7000000.0, 7000900.0), spacing=(100.0, 150.0))
    ds = vd.make_xarray_grid((east, north), (rng.normal(size=east.shape), rng.normal(size=east.shape)),
                             data_names=["tmi", "residual"])
    nc = tmp_path / "survey.nc"
    ds.to_netcdf(nc, engine="h5netcdf")
    with pytest.raises(QgsProcessingException, match=r"holds several grids \(tmi, residual\); choose one with "
                                                     r"'netCDF variable \(empty: the only grid\)'"):
        processing.run("geocore:convertgrid", {"INPUT": str(nc), "CRS": "EPSG:32633",
                                               "OUTPUT": str(tmp_path / "x.tif")})
    feedback = RecordingFeedback()
    result = processing.run("geocore:convertgrid", {"INPUT": str(nc), "VARIABLE": "residual", "CRS": "EPSG:32633",
                                                    "OUTPUT": str(tmp_path / "residual.tif")}, feedback=feedback)
    layer = raster(result["OUTPUT"])
    assert layer.crs().authid() == "EPSG:32633" and (layer.width(), layer.height()) == (11, 10)
    assert (layer.rasterUnitsPerPixelX(), layer.rasterUnitsPerPixelY()) == (150.0, 100.0)
    assert layer.extent().xMinimum() == 600000.0 - 75.0 and layer.extent().yMaximum() == 7000900.0 + 50.0
    np.testing.assert_array_equal(read_grid(result["OUTPUT"]).data, ds.residual.values[::-1])
    # the progress bar moves (and ends full)
    assert len(set(feedback.progress_values)) >= 3 and max(feedback.progress_values) == 100.0


def test_convert_refuses_to_replace_a_crs_and_reads_dummies(geocore_plugin, tmp_path):
    import processing
    import rasterio
    from rasterio.transform import from_origin

    data = np.arange(100, dtype=np.float32).reshape(10, 10)
    data[:, 0] = -99999.0
    src = tmp_path / "dummies.tif"
    with rasterio.open(src, "w", driver="GTiff", width=10, height=10, count=1, dtype="float32", crs="EPSG:26910",
                       transform=from_origin(400000, 6100000, 50, 50)) as ds:
        ds.write(data, 1)
    out = tmp_path / "out.tif"
    with pytest.raises(QgsProcessingException, match="already has the CRS EPSG:26910") as err:
        processing.run("geocore:convertgrid", {"INPUT": str(src), "CRS": "EPSG:32633", "OUTPUT": str(out)})
    assert "'Replace the file's CRS (relabel, no reprojection)'" in str(err.value) and "--" not in str(err.value)
    assert not out.exists()
    feedback = RecordingFeedback()
    result = processing.run("geocore:convertgrid", {"INPUT": str(src), "CRS": "EPSG:32633", "FORCE_CRS": True,
                                                    "OUTPUT": str(out)}, feedback=feedback)
    assert raster(result["OUTPUT"]).crs().authid() == "EPSG:32633"
    with rasterio.open(out) as ds:
        assert np.isnan(ds.read(1)[:, 0]).all() and np.isfinite(ds.read(1)[:, 1:]).all()
    assert any("-99999 are read as nodata" in w and "'Nodata value" in w for w in feedback.warnings)
    kept = processing.run("geocore:convertgrid", {"INPUT": str(src), "NODATA": "nan",
                                                  "OUTPUT": str(tmp_path / "kept.tif")})
    with rasterio.open(kept["OUTPUT"]) as ds:
        assert ds.read(1).min() == -99999.0


def test_transform_grid_band_choice(geocore_plugin, dipole_grid, tmp_path):
    import processing
    import rasterio

    from geocore.grids.io import read_grid

    path, _ = dipole_grid
    with rasterio.open(path) as ds:
        field = ds.read(1)
        profile = dict(ds.profile, count=2)
    two = tmp_path / "two_bands.tif"
    with rasterio.open(two, "w", **profile) as ds:
        ds.write(np.zeros_like(field), 1)
        ds.write(field, 2)
    with pytest.raises(QgsProcessingException, match=r"has 2 bands; choose one with 'Band' \(1..2\)"):
        processing.run("geocore:transformgrid", {"INPUT": str(two), "OPERATION": 4,
                                                 "OUTPUT": str(tmp_path / "dz0.tif")})
    second = processing.run("geocore:transformgrid", {"INPUT": str(two), "BAND": 2, "OPERATION": 4,
                                                      "OUTPUT": str(tmp_path / "dz2.tif")})
    single = processing.run("geocore:transformgrid", {"INPUT": str(path), "OPERATION": 4,
                                                      "OUTPUT": str(tmp_path / "dz1.tif")})
    np.testing.assert_array_equal(read_grid(second["OUTPUT"]).data, read_grid(single["OUTPUT"]).data)
