"""The geocore Processing algorithms, one thin adapter per library function."""

from .lineaments import DetectLineaments, VectorizeLineaments
from .magnetics import SynthesizeSurvey
from .training import TrainLineamentModel

ALGORITHMS = (DetectLineaments, VectorizeLineaments, SynthesizeSurvey, TrainLineamentModel)

__all__ = ["ALGORITHMS", "DetectLineaments", "SynthesizeSurvey", "TrainLineamentModel", "VectorizeLineaments"]
