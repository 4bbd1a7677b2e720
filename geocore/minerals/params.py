"""Parameters and defaults of mineral segmentation and training.

Standard library only, so that the QGIS plugin can build its dialogs from them
before the scientific libraries are installed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional, Sequence

#: segmentation-models-pytorch architectures offered (the first is the default).
ARCHITECTURES = ("Unet", "PSPNet", "FPN", "DeepLabV3Plus", "UnetPlusPlus")
#: Training defaults (the LumenStone paper's settings, VGG16-U-Net).
DEFAULT_ENCODER = "vgg16"
DEFAULT_PATCH = 256
DEFAULT_EPOCHS = 50
DEFAULT_PATCHES_PER_EPOCH = 1000
DEFAULT_BATCH_SIZE = 8
DEFAULT_LR = 1e-3


@dataclass
class SegmentParams:
    """How :func:`geocore.minerals.segment.segment_image` segments a photograph.

    Attributes
    ----------
    um_per_px : float, optional
        Pixel size in micrometres. The outputs are then in the micrometre
        frame of :mod:`geocore.raster.micrometre` (origin at the top-left
        corner, x right, y up). Without it, a georeferenced image keeps its
        CRS and a plain photograph is in its pixel frame (x = column,
        y = -row, as QGIS shows it).
    tile_size, overlap, batch_size, device
        Tiling of the shared inference engine (tile default: the model card's).
    min_grain_px : int
        Patches smaller than this many pixels are merged into their neighbour
        before polygons and statistics (0: raw arg-max).
    include_background : bool
        Give polygons for non-ore too.
    size_classes : list of float, optional
        Grain-size class edges in micrometres for the statistics.
    """

    um_per_px: Optional[float] = None
    tile_size: Optional[int] = None
    overlap: float = 0.5
    batch_size: int = 4
    device: str = "auto"
    min_grain_px: int = 16
    include_background: bool = False
    size_classes: Optional[Sequence[float]] = None

    def tile_params(self):
        """The :class:`geocore.inference.tiled.TileParams` of the inference, checked."""
        from ..inference.tiled import TileParams

        params = TileParams(tile_size=self.tile_size, overlap=self.overlap, batch_size=self.batch_size,
                            device=self.device)
        params.check()
        return params
