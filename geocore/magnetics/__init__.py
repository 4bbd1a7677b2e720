"""Magnetic forward modelling, grid transforms and synthetic surveys.

The names below load on first use (PEP 562), so that plain-data modules such
as :mod:`.params` import without numpy or harmonica.
"""

from importlib import import_module

_EXPORTS = {
    "Prism": ".forward",
    "field_direction": ".forward",
    "total_field_anomaly": ".forward",
    "SurveyConfig": ".synthetic",
    "SyntheticSample": ".synthetic",
    "synthesize_sample": ".synthetic",
    "synthesize_survey": ".synthetic",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name], __name__), name)
    msg = f"module {__name__!r} has no attribute {name!r}"
    raise AttributeError(msg)
