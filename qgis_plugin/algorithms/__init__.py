"""The geocore Processing algorithms, one thin adapter per library function."""

from .lineaments import DetectLineaments, VectorizeLineaments
from .magnetics import SynthesizeSurvey
from .panorama import StitchPanorama
from .training import TrainLineamentModel

ALGORITHMS = (DetectLineaments, VectorizeLineaments, SynthesizeSurvey, TrainLineamentModel, StitchPanorama)

__all__ = ["ALGORITHMS", "DetectLineaments", "StitchPanorama", "SynthesizeSurvey", "TrainLineamentModel", "VectorizeLineaments"]
