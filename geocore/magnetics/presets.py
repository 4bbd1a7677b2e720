"""Names of the synthetic-survey presets of :mod:`geocore.magnetics.synthetic` (the first is the default).

Plain data: the QGIS plugin lists them before numpy or harmonica are installed.
"""

PRESET_NAMES = ("paper", "realistic", "survey")
