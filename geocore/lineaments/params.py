"""Defaults of lineament training: the paper's protocol (Shklyaruk & Kuznetsov 2025).

Standard library only, so that the QGIS plugin builds its dialog from them
before the scientific libraries are installed; :class:`geocore.lineaments.train.TrainConfig`
takes its defaults from here.
"""

#: Synthetic samples of 192 x 192 cells.
DEFAULT_SAMPLES = 500
DEFAULT_EPOCHS = 50
DEFAULT_BATCH_SIZE = 25
#: Adam learning rate.
DEFAULT_LR = 1e-4
#: Sample (and tile) edge in cells.
DEFAULT_TILE_SIZE = 192
DEFAULT_SEED = 0
