"""The geocore Processing algorithms, one thin adapter per library function."""

from .grids import CompareLineaments, ConvertGrid, GridFlightLines, TransformGrid
from .lineaments import DetectLineaments, VectorizeLineaments
from .magnetics import SynthesizeSurvey
from .training import TrainLineamentModel

ALGORITHMS = (DetectLineaments, VectorizeLineaments, SynthesizeSurvey, TrainLineamentModel, ConvertGrid,
              GridFlightLines, TransformGrid, CompareLineaments)

__all__ = ["ALGORITHMS", "CompareLineaments", "ConvertGrid", "DetectLineaments", "GridFlightLines", "SynthesizeSurvey",
           "TrainLineamentModel", "TransformGrid", "VectorizeLineaments"]
