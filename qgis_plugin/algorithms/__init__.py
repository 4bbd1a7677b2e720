"""The geocore Processing algorithms, one thin adapter per library function."""

from .lineaments import DetectLineaments, VectorizeLineaments
from .magnetics import SynthesizeSurvey
from .minerals import EvaluateMineralModel, MineralStatistics, SegmentMinerals, SynthesizeSection, TrainMineralModel
from .training import TrainLineamentModel

ALGORITHMS = (DetectLineaments, VectorizeLineaments, SynthesizeSurvey, TrainLineamentModel)
ALGORITHMS += (SegmentMinerals, MineralStatistics, SynthesizeSection, TrainMineralModel, EvaluateMineralModel)

__all__ = ["ALGORITHMS", "DetectLineaments", "SynthesizeSurvey", "TrainLineamentModel", "VectorizeLineaments"]
__all__ += ["EvaluateMineralModel", "MineralStatistics", "SegmentMinerals", "SynthesizeSection", "TrainMineralModel"]
