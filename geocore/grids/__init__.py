"""Survey grids: reading the formats geophysicists exchange, gridding flight lines."""

from .io import Grid, read_grid, write_geotiff

__all__ = ["Grid", "read_grid", "write_geotiff"]
