"""The geocore Processing algorithms, one thin adapter per library function."""

from .lineaments import DetectLineaments, VectorizeLineaments
from .magnetics import SynthesizeSurvey
from .microscopy import AlignPolarized, ColourCorrect, ColourFit, FlatField, SuperpixelAnnotate, UncertaintyRegions
from .training import TrainLineamentModel

ALGORITHMS = (DetectLineaments, VectorizeLineaments, SynthesizeSurvey, TrainLineamentModel,
              FlatField, ColourFit, ColourCorrect, AlignPolarized, SuperpixelAnnotate, UncertaintyRegions)

__all__ = ["ALGORITHMS", "AlignPolarized", "ColourCorrect", "ColourFit", "DetectLineaments", "FlatField",
           "SuperpixelAnnotate", "SynthesizeSurvey", "TrainLineamentModel", "UncertaintyRegions",
           "VectorizeLineaments"]
