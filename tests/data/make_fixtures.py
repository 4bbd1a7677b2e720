"""Make the small test fixtures in this folder (seeded: the same files every run).

    python tests/data/make_fixtures.py          # rewrite the fixtures
    python tests/data/make_fixtures.py --check  # exit 1 if a committed fixture differs from what this makes

The core tests read these files, so that stitching, grid reading and the like are
tested without the real third-party data of ``../shared/data`` (those tests stay
as an extra layer and skip when it is absent). Everything is made from seeded
NumPy draws and written with GDAL (through rasterio) or OpenCV, or, for the
Geosoft grid that GDAL cannot write, with the 512-byte header and zlib blocks
of the Geosoft binary grid format (version 2), as harmonica reads it.

Files
-----
section_photo.jpg
    A 960 x 1280 RGB "photograph" of a polished ore section: warped Voronoi
    grains of ore-mineral colours in a dark matrix, a multi-scale polish
    texture, scratches and pits (the stitching tests cut overlapping tiles out of it).
tmi_geosoft.grd (+ .grd.xml)
    A 30 x 40 total-magnetic-intensity grid (nT, 50 m cells, NAD83 / UTM 10N,
    EPSG:26910 in the XML companion), zlib-compressed float32 with 12 dummies.
dem_surfer7.grd, dem.ers (+ dem)
    The same 24 x 32 elevation grid (m, 25 m cells) as Surfer 7 binary (no CRS)
    and as ER Mapper (GDA94 / MGA zone 54 from ``SUTM54``), with a blank border.
"""

from __future__ import annotations

import argparse
import struct
import sys
import zlib
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent

#: Reflected-light colours (sRGB) of a few ore minerals and the non-ore matrix, exposed at 80 %
#: (as a real photograph leaves headroom: a tile 25 % brighter must not clip).
PALETTE = 0.8 * np.array([(45, 44, 48),      # matrix (silicates, dark)
                          (215, 205, 160),   # pyrite
                          (205, 185, 95),    # chalcopyrite
                          (135, 130, 125),   # magnetite
                          (95, 95, 100),     # sphalerite
                          (190, 150, 130),   # bornite
                          (225, 225, 225)],  # galena
                         dtype=np.float64)


def _smooth(rng, shape, sigma):
    from scipy.ndimage import gaussian_filter

    field = gaussian_filter(rng.standard_normal(shape), sigma, mode="reflect")
    return field / (field.std() + 1e-12)


def section_photo(shape=(960, 1280), n_grains=420, seed=0) -> np.ndarray:
    """RGB uint8 image of a synthetic polished section (see the module docstring)."""
    from scipy.ndimage import gaussian_filter
    from scipy.spatial import cKDTree

    rng = np.random.default_rng(seed)
    rows, cols = shape
    seeds = rng.uniform((0, 0), (rows, cols), size=(n_grains, 2))
    kind = np.where(rng.random(n_grains) < 0.45, 0, rng.integers(1, len(PALETTE), n_grains))
    yy, xx = np.mgrid[0:rows, 0:cols].astype(np.float64)
    amp = 0.3 * np.sqrt(rows * cols / n_grains)
    wy = yy + amp * _smooth(rng, shape, 25)
    wx = xx + amp * _smooth(rng, shape, 25)
    _, grain = cKDTree(seeds).query(np.column_stack([wy.ravel(), wx.ravel()]))
    grain = grain.reshape(shape)
    brightness = 1.0 + 0.06 * rng.standard_normal(n_grains)
    rgb = PALETTE[kind[grain]] * brightness[grain][..., None]
    # polish texture at several scales (relief, fine inclusions)
    texture = sum(w * _smooth(rng, shape, s) for w, s in ((0.05, 40), (0.04, 8), (0.03, 2)))
    rgb *= (1.0 + texture)[..., None]
    for _ in range(12):  # scratches
        r0, c0, angle = rng.uniform(0, rows), rng.uniform(0, cols), rng.uniform(0, np.pi)
        t = np.linspace(-max(shape), max(shape), 4 * max(shape))
        rr = np.round(r0 + t * np.sin(angle)).astype(int)
        cc = np.round(c0 + t * np.cos(angle)).astype(int)
        ok = (rr >= 0) & (rr < rows) & (cc >= 0) & (cc < cols)
        rgb[rr[ok], cc[ok]] *= 0.7
    for _ in range(150):  # pits
        r0, c0, rad = rng.uniform(0, rows), rng.uniform(0, cols), rng.uniform(1.0, 4.0)
        sl = np.s_[max(int(r0 - rad) - 1, 0):int(r0 + rad) + 2, max(int(c0 - rad) - 1, 0):int(c0 + rad) + 2]
        pit = (yy[sl] - r0) ** 2 + (xx[sl] - c0) ** 2 < rad ** 2
        rgb[sl][pit] = 15.0
    rgb = gaussian_filter(rgb, sigma=(0.7, 0.7, 0))  # optics
    return np.clip(np.rint(rgb), 0, 255).astype(np.uint8)


def tmi_grid(shape=(30, 40), seed=1) -> np.ndarray:
    """A magnetic-anomaly-like grid in nT (float32) with NaN dummies: two dipoles and a dyke."""
    rng = np.random.default_rng(seed)
    rows, cols = shape
    yy, xx = np.mgrid[0:rows, 0:cols].astype(np.float64)
    field = np.zeros(shape)
    for y0, x0, amp in ((10, 12, 900.0), (21, 30, -400.0)):
        r2 = (yy - y0) ** 2 + (xx - x0) ** 2
        field += amp * (1 / (1 + r2 / 9.0) - 0.6 / (1 + ((yy - y0 - 3) ** 2 + (xx - x0) ** 2) / 9.0))
    field += 150.0 * np.exp(-((xx - 0.5 * yy - 8) ** 2) / 4.0)  # a dyke
    field += 5.0 * rng.standard_normal(shape)
    data = field.astype(np.float32)
    flat = data.reshape(-1)
    flat[rng.choice(flat.size, 12, replace=False)] = np.nan
    return data


def dem_grid(shape=(24, 32), seed=2) -> np.ndarray:
    """An elevation grid in m (float32), NaN outside an irregular survey outline."""
    rng = np.random.default_rng(seed)
    rows, cols = shape
    yy, xx = np.mgrid[0:rows, 0:cols].astype(np.float64)
    dem = 150.0 + 4.0 * xx + 80.0 * np.exp(-((yy - 12) ** 2 + (xx - 20) ** 2) / 40.0)
    dem += 2.0 * _smooth(rng, shape, 2)
    dem[:, :3] = np.nan
    dem[-2:, :] = np.nan
    return dem.astype(np.float32)


#: Geosoft grid fixture: lower-left cell centre and cell size (m), CRS.
TMI_ORIGIN, TMI_CELL, TMI_EPSG = (405800.0, 6087600.0), 50.0, 26910
#: Surfer / ER Mapper fixtures: top-left corner and cell size (m), CRS of the ER Mapper header.
DEM_CORNER, DEM_CELL, DEM_EPSG = (330000.0, 6200000.0), 25.0, 28354


def write_geosoft(path: Path, data: np.ndarray, origin, cell: float, epsg: int) -> None:
    """A north-up float32 Geosoft v2 grid (zlib blocks of 10 rows) and its ``.grd.xml`` with the EPSG code.

    ``origin`` is the (easting, northing) of the south-west cell centre; rows are
    stored from south to north; NaN becomes the float dummy -1e32.
    """
    rows, cols = data.shape
    values = np.where(np.isnan(data), np.float32(-1e32), data)[::-1].astype("<f4")
    header = bytearray(512)
    struct.pack_into("<5i", header, 0, 1024 + 4, 2, cols, rows, 1)  # ES (compressed float32), SF, NE, NV, KX
    struct.pack_into("<5d", header, 20, cell, cell, origin[0], origin[1], 0.0)  # DE, DV, X0, Y0, ROT
    struct.pack_into("<2d", header, 60, 0.0, 1.0)  # ZBASE, ZMULT
    valid = data[~np.isnan(data)]
    struct.pack_into("<i", header, 156, valid.size)
    struct.pack_into("<4f", header, 160, valid.min(), valid.max(), np.median(valid), valid.mean())
    struct.pack_into("<d", header, 176, valid.var())
    per_block = 10
    blocks = [zlib.compress(values[r:r + per_block].tobytes(), 9) for r in range(0, rows, per_block)]
    n = len(blocks)
    offset = 512 + 16 + 12 * n
    offsets, sizes = [], []
    for b in blocks:
        offsets.append(offset)
        sizes.append(16 + len(b))
        offset += 16 + len(b)
    body = struct.pack("<4i", 0x4f8e_5e0b & 0x7FFFFFFF, 1, n, per_block)
    body += struct.pack(f"<{n}q", *offsets) + struct.pack(f"<{n}i", *sizes)
    for b, r in zip(blocks, range(0, rows, per_block)):
        body += struct.pack("<4i", 0, 0, min(per_block, rows - r) * cols * 4, len(b)) + b
    path.write_bytes(bytes(header) + body)
    Path(str(path) + ".xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<gmd:MD_Metadata xmlns:gmd="http://www.isotc211.org/2005/gmd">\n'
        f'  <geosoft><dataset><georeference><projection name="NAD83 / UTM zone 10N" wellknown_epsg="{epsg}"/>'
        '</georeference></dataset></geosoft>\n</gmd:MD_Metadata>\n')


def write_gdal(path: Path, data: np.ndarray, corner, cell: float, driver: str, crs=None, nodata=None) -> None:
    """A float32 grid through GDAL's ``driver`` (copied from an in-memory GeoTIFF)."""
    import rasterio
    from rasterio.io import MemoryFile
    from rasterio.transform import from_origin

    transform = from_origin(corner[0], corner[1], cell, cell)
    fill = np.float32(nodata) if nodata is not None else np.nan
    values = np.where(np.isnan(data), fill, data).astype(np.float32)
    with MemoryFile() as mem:
        with mem.open(driver="GTiff", width=data.shape[1], height=data.shape[0], count=1, dtype="float32",
                      transform=transform, crs=crs, nodata=nodata) as ds:
            ds.write(values, 1)
        with mem.open() as src:
            rasterio.shutil.copy(src, path, driver=driver)


def write_ers(path: Path, data: np.ndarray, corner, cell: float, datum: str, projection: str) -> None:
    """An ER Mapper header as survey software writes it (``Datum``/``Projection`` names, not a WKT)
    beside the raw little-endian float32 rows (north first) in the file without suffix."""
    rows, cols = data.shape
    null = -999999.0
    np.where(np.isnan(data), null, data).astype("<f4").tofile(path.with_suffix(""))
    path.write_text(f"""DatasetHeader Begin
\tVersion\t\t= "7.0"
\tName\t\t= "{path.name}"
\tDataSetType\t= ERStorage
\tDataType\t= Raster
\tByteOrder\t= LSBFirst
\tCoordinateSpace Begin
\t\tDatum\t\t= "{datum}"
\t\tProjection\t= "{projection}"
\t\tCoordinateType\t= EN
\t\tUnits\t\t= "METERS"
\t\tRotation\t= 0:0:0.0
\tCoordinateSpace End
\tRasterInfo Begin
\t\tCellType\t= IEEE4ByteReal
\t\tNullCellValue\t= {null:.0f}
\t\tCellInfo Begin
\t\t\tXdimension\t= {cell:g}
\t\t\tYdimension\t= {cell:g}
\t\tCellInfo End
\t\tNrOfLines\t= {rows}
\t\tNrOfCellsPerLine\t= {cols}
\t\tRegistrationCoord Begin
\t\t\tEastings\t= {corner[0]:g}
\t\t\tNorthings\t= {corner[1]:g}
\t\tRegistrationCoord End
\t\tNrOfBands\t= 1
\tRasterInfo End
DatasetHeader End
""")


def make(out: Path) -> list[Path]:
    """Write every fixture into ``out``; return their paths."""
    import cv2
    import rasterio.shutil  # noqa: F401 (used by write_gdal)

    out.mkdir(parents=True, exist_ok=True)
    photo = out / "section_photo.jpg"
    cv2.imwrite(str(photo), section_photo()[..., ::-1], [cv2.IMWRITE_JPEG_QUALITY, 85])
    grd = out / "tmi_geosoft.grd"
    write_geosoft(grd, tmi_grid(), TMI_ORIGIN, TMI_CELL, TMI_EPSG)
    dem = dem_grid()
    surfer = out / "dem_surfer7.grd"
    write_gdal(surfer, dem, DEM_CORNER, DEM_CELL, "GS7BG", nodata=1.70141e38)
    ers = out / "dem.ers"
    write_ers(ers, dem, DEM_CORNER, DEM_CELL, "GDA94", "SUTM54")  # GDA94 / MGA zone 54 = EPSG:28354
    for aux in out.glob("*.aux.xml"):
        aux.unlink()
    return [photo, grd, Path(str(grd) + ".xml"), surfer, ers, out / "dem"]


def _same(made: Path, committed: Path) -> bool:
    """Same bytes; for the JPEG, the same pixels within one grey level (encoders may differ by version)."""
    if not committed.is_file():
        return False
    if made.suffix != ".jpg":
        return made.read_bytes() == committed.read_bytes()
    import cv2

    a, b = cv2.imread(str(made)), cv2.imread(str(committed))
    return a.shape == b.shape and float(np.abs(a.astype(float) - b).mean()) < 1.0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="compare with the committed fixtures instead")
    args = parser.parse_args(argv)
    if not args.check:
        for p in make(HERE):
            print(f"{p.relative_to(HERE)}: {p.stat().st_size / 1024:.1f} KiB")
        return 0
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        made = make(Path(tmp))
        differ = [p.name for p in made if not _same(p, HERE / p.name)]
    if differ:
        print("differ from what make_fixtures.py makes: " + ", ".join(differ), file=sys.stderr)
        return 1
    print("fixtures are up to date")
    return 0


if __name__ == "__main__":
    sys.exit(main())
