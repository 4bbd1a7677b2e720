"""The potential-field transforms by name, with the labels front ends show.

Plain data, importable without numpy or harmonica (the QGIS plugin builds its
operation list from it before the dependencies are installed);
:mod:`geocore.magnetics.transforms` computes them.
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
