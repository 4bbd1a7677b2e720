"""Where the tests find their data (a helper, not a test module).

Two layers:

- ``FIXTURES`` (``tests/data``): small files made by the committed, seeded
  ``tests/data/make_fixtures.py``. The core tests use only these and never skip.
- ``REAL`` (``$GEOCORE_TEST_DATA``, default ``../shared/data``): real third-party
  data, never copied into the repository. Tests on it are an extra layer that
  skips, with the reason, where the folder is absent.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

FIXTURES = Path(__file__).resolve().parent / "data"
REAL = Path(os.environ.get("GEOCORE_TEST_DATA", Path(__file__).resolve().parents[1] / ".." / "shared" / "data"))

#: The fixture photograph of a polished section (960 x 1280 RGB JPEG).
SECTION_PHOTO = FIXTURES / "section_photo.jpg"
#: Fixture grids: Geosoft (compressed float, CRS in the .xml), Surfer 7 and ER Mapper of the same DEM.
GEOSOFT_GRID = FIXTURES / "tmi_geosoft.grd"
SURFER_GRID = FIXTURES / "dem_surfer7.grd"
ERS_GRID = FIXTURES / "dem.ers"


def needs_real(path: Path):
    """Skip marker for a test of the real-data layer that reads ``path``."""
    return pytest.mark.skipif(not Path(path).exists(), reason=f"real test data not found: {path} (set GEOCORE_TEST_DATA)")


def write_refined(src: Path, dst: Path, factor: int = 3) -> Path:
    """``src`` (a one-band GeoTIFF) cubic-interpolated to cells ``factor`` times smaller, as ``dst``.

    The same anomalies, ``factor`` times wider in cells: a grid sampled finer than it resolves.
    """
    import numpy as np
    import rasterio
    from scipy import ndimage

    with rasterio.open(src) as ds:
        a, profile, tr = ds.read(1).astype(np.float64), ds.profile, ds.transform
    fine = ndimage.zoom(a, factor, order=3).astype(np.float32)
    profile.update(width=fine.shape[1], height=fine.shape[0], transform=tr * tr.scale(1 / factor, 1 / factor))
    with rasterio.open(dst, "w", **profile) as out:
        out.write(fine, 1)
    return Path(dst)
