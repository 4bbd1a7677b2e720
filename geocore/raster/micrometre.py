"""The one micrometre frame of the microscopy side: CRS, transform, recognition.

Every microscope output of geocore (panoramas, class maps, probabilities,
polygons, annotation masks, uncertainty regions) that is placed in micrometres
uses the same local engineering CRS and the same transform convention:

- **origin** at the top-left corner of the image, **x** to the right and
  **y up** (north), so that pixel ``(col, row)`` lies at
  ``(col * um, -row * um)`` micrometres. This is the pixel frame QGIS gives a
  photo without georeferencing (x = column, y = -row), scaled by the pixel
  size: strokes and polygons drawn in one frame map to the other by a scale.
- **unit**: the micrometre (``1E-06`` metre).

QGIS compares two CRSs by their WKT2. A GeoTIFF keeps a local CRS's name and
unit size but not the unit's name, and GDAL's GeoTIFF reader names the axes
``(E)`` and ``(N)``; GeoPackage and Shapefile keep WKT1 as written. So rasters
are written with :data:`MICROMETRE_WKT` (what a GeoTIFF gives back exactly)
and vector files are stamped afterwards with :data:`MICROMETRE_VECTOR_WKT`
(:func:`stamp_vector_crs`), the WKT1 that QGIS reads as the very same CRS. The
CRS name carries the unit for people ("micrometres"); recognition
(:func:`is_micrometre_crs`) looks at the CRS type and unit size, never at the
name, and also accepts the earlier geocore variants (the panorama's
``LOCAL_CS`` with a bottom-left origin, segmentation's WKT2 ``ENGCRS``).
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Optional

#: Name of the micrometre CRS (QGIS shows it as the layer's CRS description).
MICROMETRE_CRS_NAME = "Microscope section, micrometres (geocore; x right, y up, origin top-left)"

#: WKT1 of the micrometre CRS as written to and read back from a GeoTIFF.
MICROMETRE_WKT = (f'LOCAL_CS["{MICROMETRE_CRS_NAME}",UNIT["unknown",1E-06],'
                  'AXIS["Easting",EAST],AXIS["Northing",NORTH]]')

#: The same CRS as stored in vector files (.prj, GeoPackage), so that QGIS sees
#: raster and vectors in one CRS (``layer.crs() == other.crs()``).
MICROMETRE_VECTOR_WKT = (f'LOCAL_CS["{MICROMETRE_CRS_NAME}",UNIT["unknown",1E-06],'
                         'AXIS["(E)",EAST],AXIS["(N)",NORTH]]')

#: Metres per unit of the micrometre CRS.
MICROMETRE = 1e-6


def micrometre_crs():
    """The micrometre CRS as a :class:`rasterio.crs.CRS`."""
    from rasterio.crs import CRS

    return CRS.from_wkt(MICROMETRE_WKT)


def micrometre_pyproj_crs():
    """The micrometre CRS as a :class:`pyproj.CRS` (for GeoDataFrames)."""
    import pyproj

    return pyproj.CRS.from_wkt(MICROMETRE_WKT)


def micrometre_transform(um_per_px: float):
    """Pixel -> micrometre transform: origin at the top-left corner, x right, y up.

    Parameters
    ----------
    um_per_px : float
        Pixel edge in micrometres (positive).

    Returns
    -------
    affine.Affine
        ``Affine(um, 0, 0, 0, -um, 0)``: pixel ``(col, row)`` -> ``(col * um, -row * um)``.
    """
    from affine import Affine

    um = float(um_per_px)
    if not (um > 0 and um < float("inf")):
        from ..errors import GeocoreError

        raise GeocoreError(f"pixel size {um_per_px} µm is not a positive number; give e.g. 1.1 µm per pixel")
    return Affine(um, 0.0, 0.0, 0.0, -um, 0.0)


def _pyproj(crs):
    import pyproj

    if crs is None:
        return None
    if isinstance(crs, pyproj.CRS):
        return crs
    wkt = crs if isinstance(crs, str) else crs.to_wkt()
    try:
        return pyproj.CRS.from_wkt(wkt)
    except pyproj.exceptions.CRSError:
        return None


def is_micrometre_crs(crs) -> bool:
    """True when ``crs`` is a local (engineering) CRS whose unit is the micrometre.

    Parameters
    ----------
    crs : rasterio CRS, pyproj CRS, WKT string or None

    Recognition is by the CRS kind and the unit's size (1E-06 m), not by any
    name, so the geocore variants written before :data:`MICROMETRE_WKT`, and
    a micrometre CRS another program wrote, are all recognised.
    """
    c = _pyproj(crs)
    if c is None or c.type_name != "Engineering CRS":
        return False
    axes = c.axis_info
    return bool(axes) and all(a.unit_conversion_factor and abs(a.unit_conversion_factor / MICROMETRE - 1) < 1e-9
                              for a in axes)


def pixel_size_um(crs, transform) -> Optional[float]:
    """Pixel edge in micrometres of a raster in a micrometre CRS, else None."""
    if not is_micrometre_crs(crs):
        return None
    return float((abs(transform.a) + abs(transform.e)) / 2.0) if (transform.a and transform.e) \
        else float((transform.a ** 2 + transform.b ** 2) ** 0.5)


def stamp_vector_crs(path: str | os.PathLike) -> bool:
    """Give a vector file just written in a micrometre CRS the WKT QGIS matches with the rasters.

    Rewrites the ``.prj`` of a Shapefile, or the CRS definition of a
    GeoPackage, with :data:`MICROMETRE_VECTOR_WKT` when the CRS there is a
    micrometre CRS (see the module notes); any other file or CRS is left as it
    is. Returns True when something was rewritten.
    """
    path = Path(path)
    if path.suffix.lower() == ".shp":
        prj = path.with_suffix(".prj")
        if not prj.is_file():
            return False
        text = re.sub(r"(\d[eE][-+]?\d+)\.0\b", r"\1", prj.read_text(encoding="utf-8", errors="replace"))
        if not is_micrometre_crs(text):
            return False
        prj.write_text(MICROMETRE_VECTOR_WKT, encoding="utf-8")
        return True
    if path.suffix.lower() == ".gpkg" and path.is_file():
        import sqlite3

        con = sqlite3.connect(str(path))
        try:
            rows = con.execute("SELECT srs_id, definition FROM gpkg_spatial_ref_sys WHERE srs_id > 0").fetchall()
            ids = [sid for sid, definition in rows if definition and is_micrometre_crs(definition)]
            for sid in ids:
                con.execute("UPDATE gpkg_spatial_ref_sys SET definition = ?, srs_name = ? WHERE srs_id = ?",
                            (MICROMETRE_VECTOR_WKT, MICROMETRE_CRS_NAME, sid))
            con.commit()
        finally:
            con.close()
        return bool(ids)
    return False
