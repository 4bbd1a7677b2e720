"""Plain data of the lineament commands: detection method names and training defaults
(the paper's protocol, Shklyaruk & Kuznetsov 2025).

Standard library only, so that the QGIS plugin builds its dialog from them
before the scientific libraries are installed, and the vectoriser tells a
classical ridge map without importing the transforms;
:class:`geocore.lineaments.train.TrainConfig` takes its defaults from here.
"""

#: Detection methods of ``geocore lineaments detect --method``; ``cnn`` is the network.
METHODS = ("cnn", "tga", "tilt", "vdr", "thg")
CLASSICAL_METHODS = METHODS[1:]

#: Synthetic samples of 192 x 192 cells.
DEFAULT_SAMPLES = 500
DEFAULT_EPOCHS = 50
DEFAULT_BATCH_SIZE = 25
#: Adam learning rate.
DEFAULT_LR = 1e-4
#: Sample (and tile) edge in cells.
DEFAULT_TILE_SIZE = 192
DEFAULT_SEED = 0
