"""Raster reading with clear checks, NaN-aware windowed reads."""

from .io import NotGeoreferencedGrid, RasterInfo, has_valid_cells, open_raster_checked, read_window

__all__ = ["NotGeoreferencedGrid", "RasterInfo", "has_valid_cells", "open_raster_checked", "read_window"]
