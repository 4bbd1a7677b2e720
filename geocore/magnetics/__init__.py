"""Magnetic forward modelling, grid transforms and synthetic surveys.

The names below load on first use (PEP 562), so that plain-data modules such
as :mod:`.params` import without numpy or harmonica.
"""

from .._lazy import lazy_exports

_EXPORTS = {
    "Prism": "forward",
    "field_direction": "forward",
    "total_field_anomaly": "forward",
    "SurveyConfig": "synthetic",
    "SyntheticSample": "synthetic",
    "synthesize_sample": "synthetic",
    "synthesize_survey": "synthetic",
}

__all__, __getattr__ = lazy_exports(__name__, _EXPORTS)
