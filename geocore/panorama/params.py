"""Choices and defaults of panorama stitching, and the parsing of a distortion argument.

Standard library only, so that the QGIS plugin can build its dialog before the
scientific libraries are installed. The first entry of each choice is the
default of :class:`geocore.panorama.StitchParams`.
"""

from __future__ import annotations

from typing import List, Sequence, Union

from ..errors import ParameterError

LAYOUTS = ("auto", "grid", "unordered")
METHODS = ("phase", "features")
MODELS = ("translation", "affine")
BLENDS = ("feather", "nearest")
INTERPOLATIONS = ("cubic", "linear", "nearest")
#: Pixel size (micrometres), smallest overlap correlation of a used pair, outlier threshold (px).
DEFAULT_UM_PER_PX = 1.0
DEFAULT_MIN_SCORE = 0.2
DEFAULT_OUTLIER_PX = 2.0


def parse_distortion(words: Union[None, str, Sequence[str]]) -> Union[None, str, List[float]]:
    """Lens distortion from words: None (none given), ``"estimate"``, or coefficients k1 [k2 [p1 [p2 [k3]]]].

    ``words`` is a list (command-line arguments) or one text (a QGIS field;
    commas or spaces between the numbers).
    """
    if isinstance(words, str):
        words = words.replace(",", " ").split()
    words = list(words or [])
    if not words:
        return None
    if len(words) == 1 and words[0].lower() == "estimate":
        return "estimate"
    try:
        return [float(v) for v in words]
    except ValueError as exc:
        msg = (f"{{param}} takes numbers k1 [k2 [p1 [p2 [k3]]]] or the word 'estimate', "
               f"not {' '.join(words)!r}")
        raise ParameterError(msg, param="distortion") from exc

