"""Tile-by-tile inference on rasters of any size."""

from .tiled import TileParams, blend_window, predict_raster, tile_origins

__all__ = ["TileParams", "blend_window", "predict_raster", "tile_origins"]
