"""The geocore Processing algorithms, one thin adapter per library function."""

from .grids import ConvertGrid, GridFlightLines, TransformGrid
from .libraries import InstallDependencies
from .lineaments import CompareLineaments, DetectLineaments, FinetuneLineamentModel, VectorizeLineaments
from .magnetics import SynthesizeSurvey
from .microscopy import AlignPolarized, ColourCorrect, ColourFit, FlatField, SuperpixelAnnotate, UncertaintyRegions
from .minerals import EvaluateMineralModel, MineralStatistics, SegmentMinerals, SynthesizeSection, TrainMineralModel
from .panorama import StitchPanorama
from .training import TrainLineamentModel

ALGORITHMS = (DetectLineaments, VectorizeLineaments, SynthesizeSurvey, TrainLineamentModel, FinetuneLineamentModel,
              ConvertGrid,
              GridFlightLines, TransformGrid, CompareLineaments,
              SegmentMinerals, MineralStatistics, SynthesizeSection, TrainMineralModel, EvaluateMineralModel,
              StitchPanorama, FlatField, ColourFit, ColourCorrect, AlignPolarized, SuperpixelAnnotate,
              UncertaintyRegions, InstallDependencies)

__all__ = ["ALGORITHMS"] + [a.__name__ for a in ALGORITHMS]
