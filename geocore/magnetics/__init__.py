"""Magnetic forward modelling and synthetic surveys."""

from .forward import Prism, field_direction, total_field_anomaly
from .synthetic import SurveyConfig, SyntheticSample, synthesize_sample, synthesize_survey

__all__ = [
    "Prism",
    "SurveyConfig",
    "SyntheticSample",
    "field_direction",
    "synthesize_sample",
    "synthesize_survey",
    "total_field_anomaly",
]
