"""The geocore Processing algorithms, one thin adapter per library function."""

from .grids import CompareLineaments, ConvertGrid, TransformGrid
from .lineaments import DetectLineaments, VectorizeLineaments
from .magnetics import SynthesizeSurvey
from .training import TrainLineamentModel

ALGORITHMS = (DetectLineaments, VectorizeLineaments, SynthesizeSurvey, TrainLineamentModel, ConvertGrid,
              TransformGrid, CompareLineaments)

__all__ = ["ALGORITHMS", "CompareLineaments", "ConvertGrid", "DetectLineaments", "SynthesizeSurvey",
           "TrainLineamentModel", "TransformGrid", "VectorizeLineaments"]
