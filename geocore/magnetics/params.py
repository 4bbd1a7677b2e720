"""Choices of the magnetics commands that front ends list: transforms and synthetic-survey presets.

Standard library only, so that the QGIS plugin builds its dialogs from them
before numpy or harmonica are installed; :mod:`geocore.magnetics.transforms`
computes the transforms, :mod:`geocore.magnetics.synthetic` defines the presets.
"""

#: Transform names (``magnetics transform --op``) and their labels, in menu order.
OPERATION_LABELS = {
    "rtp": "Reduction to the pole",
    "up": "Upward continuation",
    "dx": "Derivative east (dx)",
    "dy": "Derivative north (dy)",
    "dz": "Derivative up (dz)",
    "thg": "Total horizontal gradient",
    "tga": "Total gradient amplitude (analytic signal)",
    "tilt": "Tilt angle (degrees)",
    "highpass": "Gaussian high-pass",
    "lowpass": "Gaussian low-pass",
}
OPERATIONS = tuple(OPERATION_LABELS)

#: Names of the synthetic-survey presets (the first is the default).
PRESET_NAMES = ("paper", "realistic", "survey")
