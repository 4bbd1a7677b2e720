"""Probability map -> lines: known straight lines come back as one line each."""

from __future__ import annotations

import math

import cv2
import geopandas as gpd
import numpy as np
import pyogrio
import pytest
import rasterio
from rasterio.transform import from_origin

from geocore.errors import GeocoreError
from geocore.lineaments.products import density_raster, preview_png, rose_diagram
from geocore.lineaments.vectorize import VectorizeParams, vectorize_probability, write_lines

CELL = 50.0
TRANSFORM = from_origin(400000.0, 7100000.0, CELL, CELL)


def write_prob(path, prob, crs="EPSG:32734"):
    with rasterio.open(path, "w", driver="GTiff", count=1, height=prob.shape[0], width=prob.shape[1],
                       dtype="float32", crs=crs, transform=TRANSFORM, nodata=float("nan")) as ds:
        ds.write(prob.astype(np.float32)[None])
    return path


def draw(prob, p0, p1, width=3, value=0.9):
    """Draw a soft line (row, col) p0 -> p1 of ``width`` cells."""
    img = np.zeros(prob.shape, np.uint8)
    cv2.line(img, (int(p0[1]), int(p0[0])), (int(p1[1]), int(p1[0])), 255, width)
    prob[img > 0] = np.maximum(prob[img > 0], value)


def strike(p0, p1):
    """Strike (deg, clockwise from north) of a pixel segment; north is up (row decreasing)."""
    dr, dc = p1[0] - p0[0], p1[1] - p0[1]
    return math.degrees(math.atan2(dc, -dr)) % 180.0


def az_diff(a, b):
    d = abs(a - b) % 180.0
    return min(d, 180.0 - d)


# three lines at known angles, each broken by a 4-cell gap; one with a spur
LINES = [((20, 20), (20, 280)), ((60, 40), (260, 240)), ((290, 30), (110, 120))]


@pytest.fixture()
def known_map(tmp_path):
    rng = np.random.default_rng(1)
    prob = rng.uniform(0.0, 0.2, (320, 300))
    for p0, p1 in LINES:
        draw(prob, p0, p1)
    # gaps of 4 cells across each line
    prob[14:27, 148:152] = 0.1
    for r in range(196, 202):  # across the diagonal (row - col = 20)
        prob[r, r - 20 - 4:r - 20 + 5] = 0.1
    for r in range(197, 202):
        c = int(round(30 + (r - 290) * (120 - 30) / (110 - 290)))
        prob[r, c - 4:c + 5] = 0.1
    # a 4-cell spur off the first line
    prob[21:26, 100:102] = 0.9
    # nodata in a corner far from the lines
    prob[300:, 250:] = np.nan
    return write_prob(tmp_path / "prob.tif", prob), prob


def test_known_lines_come_back_one_each(known_map):
    path, _ = known_map
    gdf = vectorize_probability(path, params=VectorizeParams(max_gap_cells=10))
    assert list(gdf.columns[:5]) == ["id", "length", "azimuth", "mean_prob", "max_prob"]
    assert gdf.crs.to_epsg() == 32734
    assert len(gdf) == len(LINES), gdf[["length", "azimuth"]]
    for p0, p1 in LINES:
        want_len = math.hypot(p1[0] - p0[0], p1[1] - p0[1]) * CELL
        want_az = strike(p0, p1)
        i = int(np.argmin([az_diff(a, want_az) for a in gdf["azimuth"]]))
        assert az_diff(gdf["azimuth"].iloc[i], want_az) < 2.0
        assert abs(gdf["length"].iloc[i] - want_len) < 8 * CELL  # the band's round caps and the joins' kinks
        # the ends reach the ends of the drawn band (its caps go 1.5 cells beyond p0 and p1), no further
        xy = np.asarray(gdf.geometry.iloc[i].coords)[[0, -1]]
        rc = np.column_stack([(7100000.0 - xy[:, 1]) / CELL - 0.5, (xy[:, 0] - 400000.0) / CELL - 0.5])
        ends = np.array([p0, p1], float)
        gaps = np.hypot(*(rc[:, None, :] - ends[None, :, :]).transpose(2, 0, 1)).min(axis=1)
        assert gaps.max() <= 2.5, (p0, p1, rc)
    assert np.all(gdf["mean_prob"].between(0.5, 1.0)) and np.all(gdf["max_prob"] >= 0.85)
    # the spur is pruned: the horizontal line is one straight piece
    horiz = gdf.iloc[int(np.argmin([az_diff(a, 90.0) for a in gdf["azimuth"]]))].geometry
    ys = np.asarray(horiz.coords)[:, 1]
    assert ys.max() - ys.min() <= 1.5 * CELL


def test_lines_are_in_map_coordinates_through_cell_centres(tmp_path):
    prob = np.zeros((40, 60))
    draw(prob, (10, 5), (10, 50), width=1)
    gdf = vectorize_probability(write_prob(tmp_path / "p.tif", prob))
    assert len(gdf) == 1
    xy = np.asarray(gdf.geometry.iloc[0].coords)
    assert np.allclose(xy[:, 1], 7100000.0 - 10.5 * CELL)
    assert sorted([xy[0, 0], xy[-1, 0]]) == pytest.approx([400000.0 + 5.5 * CELL, 400000.0 + 50.5 * CELL])
    assert gdf["azimuth"].iloc[0] == pytest.approx(90.0)
    assert gdf["length"].iloc[0] == pytest.approx(45 * CELL)


@pytest.mark.parametrize("width", [3, 7, 9])
def test_a_wide_band_gives_a_line_to_its_ends(tmp_path, width):
    """The skeleton of a band stops about half its width short of each end; the line is grown back."""
    prob = np.full((60, 140), 0.05)
    prob[30 - width // 2:31 + width // 2, 10:111] = 0.95  # columns 10 to 110
    path = write_prob(tmp_path / "p.tif", prob)
    gdf = vectorize_probability(path)
    assert len(gdf) == 1
    cols = np.asarray(gdf.geometry.iloc[0].coords)[:, 0]
    cols = (cols - 400000.0) / CELL - 0.5
    assert cols.min() == pytest.approx(10.0, abs=0.6) and cols.max() == pytest.approx(110.0, abs=0.6)
    # never beyond the band, and with spur_length 0 (no growth) the skeleton's ends as they were
    bare = vectorize_probability(path, params=VectorizeParams(spur_length_cells=0.0))
    bare_cols = (np.asarray(bare.geometry.iloc[0].coords)[:, 0] - 400000.0) / CELL - 0.5
    assert bare_cols.min() >= 10.0 and bare_cols.max() <= 110.0
    if width >= 7:
        assert bare_cols.min() >= 11.5 and bare_cols.max() <= 108.5


def test_crossing_lines_are_paired_by_direction(tmp_path):
    prob = np.zeros((200, 200))
    draw(prob, (20, 100), (180, 100))  # N-S
    draw(prob, (40, 20), (160, 180))   # NW-SE, crossing it
    gdf = vectorize_probability(write_prob(tmp_path / "p.tif", prob))
    assert len(gdf) == 2
    got = sorted(gdf["azimuth"])
    assert az_diff(got[0], 0.0) < 2.0 or az_diff(got[1], 0.0) < 2.0
    assert min(az_diff(a, strike((40, 20), (160, 180))) for a in got) < 2.0


def test_gap_larger_than_max_gap_is_not_joined(tmp_path):
    prob = np.zeros((60, 200))
    draw(prob, (30, 10), (30, 90))
    draw(prob, (30, 110), (30, 190))  # 20-cell gap
    path = write_prob(tmp_path / "p.tif", prob)
    assert len(vectorize_probability(path, params=VectorizeParams(max_gap_cells=8))) == 2
    assert len(vectorize_probability(path, params=VectorizeParams(max_gap_cells=25))) == 1


def test_nan_cells_never_make_or_bridge_lines(tmp_path):
    prob = np.full((60, 200), np.nan)
    prob[:, :95] = 0.0
    prob[:, 101:] = 0.0
    draw(prob, (30, 10), (30, 190))  # drawn over NaN too: NaN > threshold is False
    prob[:, 95:101] = np.nan
    gdf = vectorize_probability(write_prob(tmp_path / "p.tif", prob), params=VectorizeParams(max_gap_cells=12))
    assert len(gdf) == 2


def test_short_and_empty(tmp_path):
    prob = np.zeros((50, 50))
    draw(prob, (10, 10), (10, 15))
    gdf = vectorize_probability(write_prob(tmp_path / "p.tif", prob))
    assert len(gdf) == 0 and list(gdf.columns[:5]) == ["id", "length", "azimuth", "mean_prob", "max_prob"]
    for name in ("e.gpkg", "e.shp", "e.geojson"):
        write_lines(gdf, tmp_path / name)
        info = pyogrio.read_info(tmp_path / name)
        assert info["features"] == 0
        if name != "e.geojson":  # GeoJSON keeps no geometry type or field schema without features
            assert info["geometry_type"] == "LineString"
            assert {"length", "azimuth", "mean_prob", "max_prob"} <= set(info["fields"])
        assert gpd.read_file(tmp_path / name).crs.to_epsg() == 32734


def test_write_read_formats_and_bad_extension(known_map, tmp_path):
    path, _ = known_map
    gdf = vectorize_probability(path)
    for name in ("l.gpkg", "l.shp", "l.geojson"):
        out = write_lines(gdf, tmp_path / name)
        back = gpd.read_file(out)
        assert len(back) == len(gdf) and back.crs.to_epsg() == 32734
        np.testing.assert_allclose(back["length"], gdf["length"], rtol=1e-6)
        assert set(back.geom_type) == {"LineString"}
    assert (tmp_path / "l.dbf").exists() and (tmp_path / "l.prj").exists()
    with pytest.raises(GeocoreError, match="vector format"):
        write_lines(gdf, tmp_path / "l.xyz")
    assert not list(tmp_path.glob(".*partial"))


def test_threshold_out_of_range(known_map):
    with pytest.raises(GeocoreError, match=r"outside \(0, 1\)"):
        vectorize_probability(known_map[0], params=VectorizeParams(threshold=1.0))


def test_rose_density_preview(known_map, tmp_path):
    path, prob = known_map
    gdf = vectorize_probability(path)
    rose = rose_diagram(gdf, tmp_path / "rose.png")
    prev = preview_png(path, gdf, tmp_path / "preview.png")
    for p in (rose, prev):
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    dens = density_raster(gdf, path, tmp_path / "d.tif", radius_cells=10)
    with rasterio.open(dens) as ds:
        d = ds.read(1)
        assert ds.transform == TRANSFORM and ds.crs.to_epsg() == 32734 and ds.dtypes[0] == "float32"
        assert "km" in ds.descriptions[0]
    assert np.isnan(d[310, 290]) and not np.isnan(d[0, 0])
    # far from all lines the density is 0; on the middle of the horizontal line (a straight
    # line through the disk centre): length 2r over area pi r^2 -> 2 / (pi r) per km
    r_km = 10 * CELL / 1000.0
    assert abs(d[250, 20]) < 1e-9
    assert d[20, 220] == pytest.approx(2.0 / (math.pi * r_km), rel=0.12)


def test_rose_as_html_page(known_map, tmp_path):
    """An .html rose embeds the figure and tabulates length per bin; the table sums to the total."""
    import base64
    import re

    path, _ = known_map
    gdf = vectorize_probability(path)
    page = rose_diagram(gdf, tmp_path / "rose.html", bin_deg=15).read_text(encoding="utf-8")
    png = base64.b64decode(re.search(r'src="data:image/png;base64,([^"]+)"', page).group(1))
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    lengths = [float(v.replace(",", "")) for v in re.findall(r"<tr><td>[^<]+</td><td>([\d,.]+)</td>", page)]
    assert len(lengths) == 12
    assert sum(lengths) == pytest.approx(gdf["length"].sum() / 1000.0, rel=1e-3)
    assert f"{len(gdf)} lines" in page
