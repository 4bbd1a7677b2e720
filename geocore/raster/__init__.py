"""Raster reading with clear checks, NaN-aware windowed reads, and the micrometre frame of microscopy."""

from .io import NotGeoreferencedGrid, RasterInfo, has_valid_cells, open_raster_checked, read_window
from .micrometre import (MICROMETRE_VECTOR_WKT, MICROMETRE_WKT, is_micrometre_crs, micrometre_crs,
                         micrometre_transform, stamp_vector_crs)

__all__ = ["MICROMETRE_VECTOR_WKT", "MICROMETRE_WKT", "NotGeoreferencedGrid", "RasterInfo", "has_valid_cells",
           "is_micrometre_crs", "micrometre_crs", "micrometre_transform", "open_raster_checked", "read_window",
           "stamp_vector_crs"]
