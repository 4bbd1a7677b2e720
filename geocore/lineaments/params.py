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

#: ``detect --min-field-contrast`` of the classical methods: a line whose anomaly across it in the field
#: is not at least twice that of the same line moved sideways is not supported by the field (the ridges
#: of smoothed noise and clutter; :func:`geocore.lineaments.profiles.line_field_contrast`). Measured on
#: nine synthetic surveys and Rio (bench/RESULTS.md, seventh session): ``tga``'s vectorised F1 on the
#: noise-dominated surveys 0.366 / 0.173 / 0.122 -> 0.910 / 0.842 / 0.701, realistic 0.272 / 0.341 / 0.283
#: -> 0.402 / 0.392 / 0.535. The CNN runs without it: it costs the shipped stage recall on buried dykes
#: (realistic F1 0.671 -> 0.577 on one seed) and gains it nothing on noise (already 1.000).
FIELD_CONTRAST = 2.0

#: Synthetic samples of 192 x 192 cells.
DEFAULT_SAMPLES = 500
DEFAULT_EPOCHS = 50
DEFAULT_BATCH_SIZE = 25
#: Adam learning rate.
DEFAULT_LR = 1e-4
#: Sample (and tile) edge in cells.
DEFAULT_TILE_SIZE = 192
DEFAULT_SEED = 0
