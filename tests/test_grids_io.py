"""Reading survey grids: GDAL formats, CF netCDF, Geosoft .grd, and the convert command."""

from __future__ import annotations


import numpy as np
import pytest
import rasterio
from rasterio.transform import from_origin

from geocore.cli import main
from geocore.errors import GeocoreError, ParameterError
from geocore.grids.io import Grid, convert_grid, ers_header_crs, read_grid, write_geotiff

from testdata import ERS_GRID, FIXTURES, GEOSOFT_GRID, REAL, SURFER_GRID, needs_real

GRIDS = REAL / "grids"
needs_data = needs_real(GRIDS)

TRANSFORM = from_origin(400000.0, 6100000.0, 50.0, 50.0)


def _tif(path, data, crs="EPSG:26910", nodata=None):
    with rasterio.open(path, "w", driver="GTiff", width=data.shape[1], height=data.shape[0], count=1,
                       dtype=data.dtype.name, crs=crs, transform=TRANSFORM, nodata=nodata) as ds:
        ds.write(data, 1)
    return path


def test_geotiff_round_trip_keeps_values_nodata_and_crs(tmp_path):
    data = np.arange(12, dtype=np.float32).reshape(3, 4)
    data[1, 2] = -9999
    grid = read_grid(_tif(tmp_path / "a.tif", data, nodata=-9999))
    assert np.isnan(grid.data[1, 2]) and np.isnan(grid.data).sum() == 1
    assert grid.crs.to_epsg() == 26910 and grid.transform == TRANSFORM
    out = write_geotiff(grid, tmp_path / "b.tif")
    with rasterio.open(out) as ds:
        assert np.isnan(ds.nodata) and ds.crs.to_epsg() == 26910 and ds.transform == TRANSFORM
        back = ds.read(1)
    np.testing.assert_array_equal(np.isnan(back), np.isnan(grid.data))
    np.testing.assert_array_equal(back[~np.isnan(back)], data[data != -9999])


def test_cf_netcdf_with_grid_mapping(tmp_path):
    xr = pytest.importorskip("xarray")
    from pyproj import CRS

    x = 300000.0 + 100.0 * np.arange(5) + 50.0
    y = 5000000.0 + 100.0 * np.arange(4) + 50.0  # increasing: CF files are often south-up
    values = np.arange(20, dtype=np.float32).reshape(4, 5)
    values[0, 0] = np.nan
    ds = xr.Dataset({"tmi": (("y", "x"), values, {"units": "nT", "grid_mapping": "crs"}),
                     "crs": ((), np.int32(0), CRS.from_epsg(32633).to_cf())},
                    coords={"x": ("x", x, {"units": "m", "standard_name": "projection_x_coordinate"}),
                            "y": ("y", y, {"units": "m", "standard_name": "projection_y_coordinate"})})
    path = tmp_path / "tmi.nc"
    ds.to_netcdf(path, engine="scipy")
    grid = read_grid(path)
    assert grid.crs.to_epsg() == 32633
    assert grid.units == "nT"
    assert grid.transform == from_origin(300000.0, 5000400.0, 100.0, 100.0)
    np.testing.assert_array_equal(grid.data[::-1][0, 1:], values[0, 1:])  # north-up rows
    assert np.isnan(grid.data[-1, 0]) and np.isnan(grid.data).sum() == 1


def _fixture_maker():
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_fixtures", FIXTURES / "make_fixtures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# ----------------------------------------------------------------------------- fixture grids (tests/data)
def test_fixture_surfer_and_er_mapper_hold_the_known_dem():
    fx = _fixture_maker()
    truth = fx.dem_grid().astype(np.float64)
    surfer = read_grid(SURFER_GRID, require_crs=False)
    ers = read_grid(ERS_GRID)
    assert surfer.shape == ers.shape == truth.shape == (24, 32)
    assert surfer.transform == ers.transform == from_origin(*fx.DEM_CORNER, fx.DEM_CELL, fx.DEM_CELL)
    # the blank border is nodata (NaN), not 1.70141e38 or -99999, and the values are the generator's
    np.testing.assert_array_equal(surfer.data, truth)
    np.testing.assert_array_equal(ers.data, truth)
    assert np.isnan(truth).sum() == 24 * 3 + 2 * 29
    assert surfer.crs is None
    # GDA94 + SUTM54 in the .ers header is GDA94 / MGA zone 54
    assert ers.crs.to_epsg() == fx.DEM_EPSG == ers_header_crs(ERS_GRID).to_epsg()


def test_fixture_surfer_grid_without_crs_needs_one():
    with pytest.raises(ParameterError, match="no coordinate reference system; give it with 'crs'") as err:
        read_grid(SURFER_GRID)
    assert err.value.param == "crs"
    grid = read_grid(SURFER_GRID, crs="EPSG:28354")
    assert grid.crs.to_epsg() == 28354


def test_fixture_geosoft_grid_values_dummies_extent_and_crs():
    fx = _fixture_maker()
    truth = fx.tmi_grid().astype(np.float64)
    grid = read_grid(GEOSOFT_GRID)
    assert grid.shape == (30, 40) and grid.spacing == (50.0, 50.0)
    assert grid.crs.to_epsg() == fx.TMI_EPSG
    # the file stores rows south to north in zlib blocks; read back north-up, dummies as NaN
    np.testing.assert_array_equal(grid.data, truth)
    assert np.isnan(grid.data).sum() == 12
    east, north = grid.coordinates()
    e0, n0 = fx.TMI_ORIGIN
    assert (east[0], east[-1], north[-1], north[0]) == (e0, e0 + 39 * 50.0, n0, n0 + 29 * 50.0)


def test_fixture_convert_command_keeps_crs_nodata_and_values(tmp_path, capsys):
    out = tmp_path / "tmi.tif"
    assert main(["-q", "grid", "convert", str(GEOSOFT_GRID), str(out)]) == 0
    assert "EPSG:26910" in capsys.readouterr().out
    src = read_grid(GEOSOFT_GRID)
    with rasterio.open(out) as ds:
        assert ds.crs.to_epsg() == 26910 and ds.transform == src.transform and np.isnan(ds.nodata)
        np.testing.assert_array_equal(ds.read(1), src.data.astype(np.float32))
    bad = tmp_path / "dem.tif"
    assert main(["-q", "grid", "convert", str(SURFER_GRID), str(bad)]) == 2
    assert "no coordinate reference system" in capsys.readouterr().err and not bad.exists()
    assert main(["-q", "grid", "convert", str(SURFER_GRID), str(bad), "--crs", "EPSG:28354"]) == 0
    assert read_grid(bad).crs.to_epsg() == 28354


# ----------------------------------------------------------------------------- real grids (extra layer)
@needs_data
def test_surfer_and_er_mapper_hold_the_same_dem():
    surfer = read_grid(GRIDS / "elevation_surfer.GRD", require_crs=False)
    ers = read_grid(GRIDS / "elevation.ers")
    assert surfer.shape == ers.shape == (126, 199)
    assert surfer.transform == ers.transform
    np.testing.assert_array_equal(np.isnan(surfer.data), np.isnan(ers.data))
    assert 0.1 < np.isnan(ers.data).mean() < 0.3  # the blank border is nodata, not 1.7e38 or -999999
    np.testing.assert_allclose(surfer.data, ers.data, rtol=0, atol=1e-4, equal_nan=True)
    assert np.nanmin(ers.data) == pytest.approx(88.06, abs=0.01)
    assert np.nanmax(ers.data) == pytest.approx(339.35, abs=0.01)
    # GDA94 + SUTM54 in the .ers header is GDA94 / MGA zone 54
    assert ers.crs.to_epsg() == 28354 == ers_header_crs(GRIDS / "elevation.ers").to_epsg()


@needs_data
def test_surfer_grid_without_crs_needs_one(tmp_path):
    with pytest.raises(ParameterError, match="no coordinate reference system; give it with 'crs'") as err:
        read_grid(GRIDS / "elevation_surfer.GRD")
    assert err.value.param == "crs"
    grid = read_grid(GRIDS / "elevation_surfer.GRD", crs="EPSG:28354")
    # Surfer 7 stores doubles whatever the data; these values are exact in float32, as in the ER Mapper copy
    assert grid.crs.to_epsg() == 28354 and grid.dtype == "float32" == read_grid(GRIDS / "elevation.ers").dtype
    write_geotiff(grid, tmp_path / "dem.tif")
    with rasterio.open(tmp_path / "dem.tif") as ds:
        assert ds.dtypes == ("float32",)


@needs_data
def test_geosoft_grid_dummies_and_crs_from_xml():
    grid = read_grid(GRIDS / "wittichica_residual_tmi_50m.grd")
    assert grid.shape == (223, 224)
    assert grid.crs.to_epsg() == 26910
    assert grid.spacing == (50.0, 50.0)
    # extent in the .xml: 405800..416950 E, 6087600..6098700 N (cell centres)
    east, north = grid.coordinates()
    assert (east[0], east[-1], north[-1], north[0]) == (405800.0, 416950.0, 6087600.0, 6098700.0)
    dummies = np.isnan(grid.data).mean()
    assert 0.005 < dummies < 0.02
    assert np.nanmin(grid.data) == pytest.approx(-629.0, abs=0.1)
    assert np.nanmax(grid.data) == pytest.approx(1595.0, abs=0.1)
    bhn = read_grid(GRIDS / "bhn_tmi_250m.grd")
    assert bhn.crs.to_epsg() == 20253 and bhn.shape == (467, 399)  # AGD66 / AMG 53 from the ESRI WKT


@needs_data
def test_geotiff_from_usgs(tmp_path):
    grid = read_grid(GRIDS / "gabbs_usgs_cba_100m.tif")
    assert grid.crs.to_epsg() == 26911 and grid.shape == (221, 214)
    assert -208.0 < np.nanmin(grid.data) < np.nanmax(grid.data) < -155.0


@needs_data
def test_convert_command_writes_geotiff_with_crs_and_nodata(tmp_path, capsys):
    out = tmp_path / "witt.tif"
    assert main(["-q", "grid", "convert", str(GRIDS / "wittichica_residual_tmi_50m.grd"), str(out)]) == 0
    assert "EPSG:26910" in capsys.readouterr().out
    src = read_grid(GRIDS / "wittichica_residual_tmi_50m.grd")
    with rasterio.open(out) as ds:
        assert ds.crs.to_epsg() == 26910 and ds.transform == src.transform and np.isnan(ds.nodata)
        np.testing.assert_array_equal(ds.read(1), src.data.astype(np.float32))
    # a grid without CRS: one-line error, nothing written
    bad = tmp_path / "dem.tif"
    assert main(["-q", "grid", "convert", str(GRIDS / "elevation_surfer.GRD"), str(bad)]) == 2
    assert "no coordinate reference system" in capsys.readouterr().err and not bad.exists()
    assert main(["-q", "grid", "convert", str(GRIDS / "elevation_surfer.GRD"), str(bad), "--crs", "EPSG:28354"]) == 0
    assert read_grid(bad).crs.to_epsg() == 28354


def test_bad_inputs_are_clear_errors(tmp_path, capsys):
    junk = tmp_path / "junk.grd"
    junk.write_bytes(b"not a grid at all" * 10)
    with pytest.raises(GeocoreError, match="neither a raster GDAL reads nor a Geosoft grid"):
        read_grid(junk)
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    with pytest.raises(GeocoreError, match="not a grid format geocore reads"):
        read_grid(text)
    with pytest.raises(GeocoreError, match="does not exist"):
        read_grid(tmp_path / "missing.tif")
    nan_only = _tif(tmp_path / "nan.tif", np.full((4, 4), np.nan, np.float32))
    with pytest.raises(GeocoreError, match="no valid cell"):
        read_grid(nan_only)
    out = tmp_path / "out.tif"
    assert main(["-q", "grid", "convert", str(text), str(out)]) == 2
    assert capsys.readouterr().err.startswith("geocore: error: ") and not out.exists()
    with pytest.raises(GeocoreError, match="also an input"):
        convert_grid(nan_only, nan_only)
    with pytest.raises(GeocoreError, match="not a coordinate reference system"):
        read_grid(_tif(tmp_path / "ok.tif", np.ones((3, 3), np.float32)), crs="EPSG:nope")
    with pytest.raises(GeocoreError, match="must be a GeoTIFF"):
        write_geotiff(Grid(np.ones((2, 2)), TRANSFORM), tmp_path / "x.png")


@pytest.mark.parametrize("driver", ["GSBG", "GSAG", "GS7BG"])
def test_surfer_6_binary_and_ascii_grids(tmp_path, driver):
    from rasterio.io import MemoryFile

    data = np.arange(20, dtype=np.float32).reshape(4, 5) * 1.5
    data[2, 3] = np.nan
    path = tmp_path / f"grid_{driver}.grd"
    with MemoryFile() as mem:
        with mem.open(driver="GTiff", width=5, height=4, count=1, dtype="float32", transform=TRANSFORM,
                      nodata=1.70141e38) as ds:
            ds.write(np.where(np.isnan(data), 1.70141e38, data), 1)
        with mem.open() as src:
            profile = dict(src.profile, driver=driver)
            with rasterio.open(path, "w", **{k: v for k, v in profile.items()
                                             if k not in ("tiled", "interleave", "blockxsize", "blockysize")}) as dst:
                dst.write(src.read())
    grid = read_grid(path, crs="EPSG:26910")
    assert grid.transform == TRANSFORM and grid.crs.to_epsg() == 26910
    np.testing.assert_allclose(grid.data, data, rtol=1e-6, equal_nan=True)
    if driver == "GS7BG":  # Surfer 7 stores doubles; these values are float32 ones, so the GeoTIFF is float32
        with rasterio.open(path) as ds:
            assert ds.dtypes == ("float64",)
        assert grid.dtype == "float32"
        with rasterio.open(write_geotiff(grid, tmp_path / "s7.tif")) as ds:
            assert ds.dtypes == ("float32",)


# ----------------------------------------------------------------------------- the fatiando stack's netCDF
def _verde_grid(path, engine):
    """Two grids (tmi, gravity) as verde writes them: 1-D easting/northing (increasing), no CRS."""
    vd = pytest.importorskip("verde")
    rng = np.random.default_rng(20261203)
    # 12 columns of 100 m, 8 rows of 50 m: a swapped axis or spacing cannot pass
    east, north = vd.grid_coordinates((500000.0, 501100.0, 6000000.0, 6000350.0), spacing=(50.0, 100.0))
    ds = vd.make_xarray_grid((east, north), (rng.normal(0, 100, east.shape), rng.normal(0, 5, east.shape)),
                             data_names=["tmi", "gravity"])
    ds["tmi"].attrs["units"] = "nT"
    ds.to_netcdf(path, engine=engine)
    return ds


@pytest.mark.parametrize("engine", ["h5netcdf", "scipy"])  # netCDF-4 (HDF5) and netCDF-3 classic
def test_verde_netcdf_grid_reads_exactly(tmp_path, engine):
    path = tmp_path / f"survey_{engine}.nc"
    ds = _verde_grid(path, engine)
    assert ds.tmi.shape == (8, 12)
    with pytest.raises(ParameterError, match=r"holds several grids \(tmi, gravity\); choose one with 'variable'"):
        read_grid(path, crs="EPSG:32633")
    with pytest.raises(ParameterError, match="no coordinate reference system"):
        read_grid(path, variable="tmi")
    grid = read_grid(path, variable="tmi", crs="EPSG:32633")
    # north-up: row 0 is the largest northing; verde's rows go south to north
    np.testing.assert_array_equal(grid.data, ds.tmi.values[::-1])
    assert grid.spacing == (50.0, 100.0)  # (dy, dx)
    assert grid.transform == from_origin(500000.0 - 50.0, 6000350.0 + 25.0, 100.0, 50.0)
    east, north = grid.coordinates()
    np.testing.assert_array_equal(east, ds.easting.values)
    np.testing.assert_array_equal(north, ds.northing.values[::-1])
    assert grid.crs.to_epsg() == 32633 and grid.units == "nT" and grid.dtype == "float64"
    # GDAL's own name for one variable works too, and picks the other grid
    gravity = read_grid(f'NETCDF:"{path}":gravity', crs="EPSG:32633")
    np.testing.assert_array_equal(gravity.data, ds.gravity.values[::-1])
    with pytest.raises(ParameterError, match="has no variable 'mag'; its grids are: tmi, gravity"):
        read_grid(path, variable="mag", crs="EPSG:32633")


def test_convert_and_transform_commands_read_a_verde_grid(tmp_path, capsys):
    path = tmp_path / "survey.nc"
    ds = _verde_grid(path, "h5netcdf")
    out = tmp_path / "tmi.tif"
    assert main(["-q", "grid", "convert", str(path), str(out), "--crs", "EPSG:32633"]) == 2
    assert "choose one with --variable" in capsys.readouterr().err and not out.exists()
    assert main(["-q", "grid", "convert", str(path), str(out), "--crs", "EPSG:32633", "--variable", "tmi"]) == 0
    assert "12 x 8 cells of 100 x 50, CRS EPSG:32633, float64" in capsys.readouterr().out
    with rasterio.open(out) as tif:
        assert tif.transform == from_origin(499950.0, 6000375.0, 100.0, 50.0) and tif.dtypes == ("float64",)
        np.testing.assert_array_equal(tif.read(1), ds.tmi.values[::-1])
    dz = tmp_path / "dz.tif"
    assert main(["-q", "magnetics", "transform", str(path), str(dz), "--op", "dz", "--variable", "gravity",
                 "--crs", "EPSG:32633"]) == 0
    assert read_grid(dz).shape == (8, 12)


def test_float64_only_where_float32_would_change_values(tmp_path):
    xr = pytest.importorskip("xarray")
    exact = np.arange(12, dtype=np.float64).reshape(3, 4) * 0.5  # exact in float32, stored as doubles
    ds = xr.Dataset({"z": (("northing", "easting"), exact)},
                    coords={"northing": [0.0, 10.0, 20.0], "easting": [0.0, 10.0, 20.0, 30.0]})
    ds.to_netcdf(tmp_path / "exact.nc", engine="scipy")
    assert read_grid(tmp_path / "exact.nc", require_crs=False).dtype == "float32"
    ds["z"].values[1, 1] = 0.1  # not a float32 number
    ds.to_netcdf(tmp_path / "fine.nc", engine="scipy")
    assert read_grid(tmp_path / "fine.nc", require_crs=False).dtype == "float64"


# ----------------------------------------------------------------------------- dummies, CRS, progress
def test_common_dummies_without_nodata_are_nodata_with_a_note(tmp_path, capsys):
    data = np.arange(36, dtype=np.float32).reshape(6, 6)
    data[0, :] = -99999.0  # an exporter's blank frame, no nodata declared
    path = _tif(tmp_path / "dummy.tif", data)
    grid = read_grid(path)
    assert np.isnan(grid.data[0]).all() and np.isfinite(grid.data[1:]).all()
    assert len(grid.notes) == 1 and "-99999" in grid.notes[0]
    kept = read_grid(path, nodata=float("nan"))  # the way to keep them as data
    assert np.isfinite(kept.data).all() and kept.data.min() == -99999.0
    chosen = read_grid(path, nodata=10.0)  # an explicit nodata value replaces the detection
    assert np.isnan(chosen.data[1, 4]) and np.isnan(chosen.data).sum() == 1 and np.nanmin(chosen.data) == -99999.0
    # a real value of -9999 that is not the grid's minimum is data
    real = data.copy()
    real[0, :] = 0.0
    real[2, 2], real[3, 3] = -9999.0, -20000.0
    assert np.isfinite(read_grid(_tif(tmp_path / "real.tif", real)).data).all()
    # a declared nodata value wins: -99999 is then data like any other
    declared = read_grid(_tif(tmp_path / "declared.tif", data, nodata=35.0))
    assert np.isnan(declared.data).sum() == 1
    out = tmp_path / "out.tif"
    assert main(["-q", "grid", "convert", str(path), str(out)]) == 0
    err = capsys.readouterr().err
    assert "geocore: note: cells equal to -99999 are read as nodata" in err and "--nodata nan" in err
    with rasterio.open(out) as tif:
        assert np.isnan(tif.read(1)[0]).all()


def test_crs_given_for_a_grid_that_has_one_is_refused_unless_forced(tmp_path, capsys):
    path = _tif(tmp_path / "utm.tif", np.ones((4, 4), np.float32), crs="EPSG:26910")
    with pytest.raises(ParameterError, match="already has the CRS EPSG:26910") as err:
        read_grid(path, crs="EPSG:32633")
    assert err.value.param == "crs" and "'force_crs'" in str(err.value)
    assert read_grid(path, crs="EPSG:26910").crs.to_epsg() == 26910  # the same CRS: fine
    assert read_grid(path, crs="EPSG:32633", force_crs=True).crs.to_epsg() == 32633
    out = tmp_path / "out.tif"
    assert main(["-q", "grid", "convert", str(path), str(out), "--crs", "EPSG:32633"]) == 2
    msg = capsys.readouterr().err
    assert msg.count("\n") == 1 and "--crs EPSG:32633 would relabel it" in msg and "add --force-crs" in msg
    assert not out.exists()
    assert main(["-q", "grid", "convert", str(path), str(out), "--crs", "EPSG:32633", "--force-crs"]) == 0
    assert read_grid(out).crs.to_epsg() == 32633


def test_convert_shows_progress_and_cancel_leaves_nothing(tmp_path, capsys):
    from geocore.errors import Cancelled

    path = _tif(tmp_path / "a.tif", np.ones((8, 8), np.float32))
    out = tmp_path / "b.tif"
    assert main(["grid", "convert", str(path), str(out)]) == 0
    assert "converting grid: 100%" in capsys.readouterr().err
    seen = []
    calls = iter(range(100))
    with pytest.raises(Cancelled):  # cancelled at the last check, after the GeoTIFF was written aside
        convert_grid(path, tmp_path / "c.tif", progress=seen.append, cancel=lambda: next(calls) >= 2)
    assert not (tmp_path / "c.tif").exists() and seen == [0.05, 0.6]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.tif", "b.tif"]


def test_detect_points_undetectable_grids_to_grid_convert(tmp_path, capsys):
    nc = tmp_path / "survey.nc"
    _verde_grid(nc, "h5netcdf")
    data = np.arange(64 * 64, dtype=np.float32).reshape(64, 64)
    data[:, :4] = -99999.0
    dummy = _tif(tmp_path / "dummy.tif", data)
    junk = tmp_path / "oasis.grd"
    junk.write_bytes(b"DSAA?" * 40)
    for src, what in ((nc, "holds several variables"), (f'NETCDF:"{nc}":tmi', "coordinates GDAL does not understand"),
                      (dummy, "holds -99999 cells, a common dummy value"), (junk, "not a raster GDAL reads")):
        out = tmp_path / "out"
        assert main(["-q", "lineaments", "detect", str(src), "--out-dir", str(out)]) == 2
        err = capsys.readouterr().err
        assert what in err and "geocore grid convert" in err and err.count("\n") == 1, err
        assert not out.exists()


@needs_data
def test_detect_on_a_real_geosoft_grid_points_to_grid_convert(tmp_path, capsys):
    out = tmp_path / "out"
    assert main(["-q", "lineaments", "detect", str(GRIDS / "wittichica_residual_tmi_50m.grd"), "--out-dir", str(out)]) == 2
    err = capsys.readouterr().err
    assert "(a Geosoft .grd?); convert it to GeoTIFF first with 'geocore grid convert'" in err and not out.exists()
