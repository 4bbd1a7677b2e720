"""Pairwise registration of overlapping tiles.

Convention: the shift ``(dy, dx)`` of a pair ``(a, b)`` is the position of
tile ``b``'s top-left pixel in tile ``a``'s pixel frame (y down, x right), so that
pixel ``(v, u)`` of ``b`` shows what pixel ``(v + dy, u + dx)`` of ``a`` shows.

Two stages:

1. **coarse**: phase correlation of whole tiles shrunk to about 400 px; the 4
   wrap-around readings of each of the strongest peaks are scored by normalised
   cross-correlation (NCC) of the overlap they imply, and readings that contradict
   the layout (a right neighbour must lie to the right) are discarded;
2. **fine**: phase correlation at full resolution of the two overlap crops
   (high-passed to remove vignetting, Tukey-windowed), with sub-pixel peak
   location by upsampled DFT (Guizar-Sicairos et al., 2008; the same
   algorithm as ``skimage.registration.phase_cross_correlation``, written with
   ``numpy.fft`` here to keep SciPy out of memory), repeated until the integer
   crop offset agrees with the estimate.

The quality score of a pair is the NCC of the high-passed overlap at the final
shift (1: identical). Pairs with a score below ``min_score`` or an overlap below
``min_overlap`` are rejected as false matches; the global placement removes the
remaining inconsistent ones.

A feature-based alternative (``method="features"``: ORB keypoints on the
overlap, translation by RANSAC) is kept for images with little texture at
some scales; on the synthetic and real tiles in the tests phase correlation is
both more accurate and faster (see docs/panorama.md).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import numpy as np

#: Longest edge of the shrunken tiles used for the coarse search.
COARSE_EDGE = 400
#: Largest crop edge (pixels) of the overlap used for the fine, full-resolution step.
MAX_MATCH_EDGE = 1024


@dataclass
class RegisterParams:
    """Settings of the pairwise registration.

    Attributes
    ----------
    method : {"phase", "features"}
        Fine registration by phase correlation (default) or ORB features + RANSAC.
    min_score : float
        Smallest NCC (0..1) of the high-passed overlap for a pair to be used.
    min_overlap : float
        Smallest overlap as a fraction of the tile's width (left/right pairs)
        or height (up/down pairs); for unordered sets, of the smaller dimension.
    upsample : int
        Sub-pixel precision of the phase correlation peak is ``1 / upsample`` px.
    highpass_sigma : float
        Gaussian (px) whose blur is subtracted before matching: removes
        vignetting and exposure differences.
    stage_tolerance : float
        For stage positions: largest accepted distance between the measured
        and the stage-predicted shift, as a fraction of the tile size.
    """

    method: str = "phase"
    min_score: float = 0.2
    min_overlap: float = 0.03
    upsample: int = 50
    highpass_sigma: float = 8.0
    stage_tolerance: float = 0.15
    points_per_pair: int = 0  #: local shifts measured along each overlap (for the affine model; 0: none)


@dataclass
class PairResult:
    """The measured shift between two tiles and how much to trust it."""

    a: int
    b: int
    dy: float = float("nan")
    dx: float = float("nan")
    score: float = 0.0
    overlap_px: int = 0
    mean_a: float = float("nan")  #: mean grey level of the overlap in tile a (for gain compensation)
    mean_b: float = float("nan")
    used: bool = False
    reason: str = ""  #: why the pair was rejected ("" when used)
    residual: float = float("nan")  #: after global placement, px
    kind: str = ""  #: "right", "down", "stage" or "any"
    extra: Dict = field(default_factory=dict)


# ----------------------------------------------------------------------------- helpers
def highpass(img: np.ndarray, sigma: float) -> np.ndarray:
    """``img - gaussian(img, sigma)`` in float32."""
    import cv2

    img = img.astype(np.float32, copy=False)
    if sigma <= 0:
        return img - img.mean()
    return img - cv2.GaussianBlur(img, (0, 0), sigma, borderType=cv2.BORDER_REFLECT)


def ncc(a: np.ndarray, b: np.ndarray) -> float:
    """Normalised cross-correlation of two equal-shape arrays (0 when flat)."""
    a = a.astype(np.float64).ravel()
    b = b.astype(np.float64).ravel()
    a = a - a.mean()
    b = b - b.mean()
    den = np.sqrt((a * a).sum() * (b * b).sum())
    return float((a * b).sum() / den) if den > 0 else 0.0


def overlap_windows(shape: Tuple[int, int], dy: int, dx: int):
    """Slices of the overlap in tile a and tile b for integer shift ``(dy, dx)``, or None."""
    h, w = shape
    ya0, ya1 = max(0, dy), min(h, h + dy)
    xa0, xa1 = max(0, dx), min(w, w + dx)
    if ya1 <= ya0 or xa1 <= xa0:
        return None
    return (slice(ya0, ya1), slice(xa0, xa1)), (slice(ya0 - dy, ya1 - dy), slice(xa0 - dx, xa1 - dx))


def _shift_ok(kind: str, dy: float, dx: float, shape, params: RegisterParams, prior=None) -> bool:
    h, w = shape
    oy, ox = h - abs(dy), w - abs(dx)
    if oy <= 0 or ox <= 0:
        return False
    if kind == "right":
        return dx > 0 and ox >= params.min_overlap * w and abs(dy) < 0.5 * h and oy >= 0.5 * h
    if kind == "down":
        return dy > 0 and oy >= params.min_overlap * h and abs(dx) < 0.5 * w and ox >= 0.5 * w
    if kind == "stage" and prior is not None:
        tol = params.stage_tolerance * max(h, w)
        return abs(dy - prior[0]) <= tol and abs(dx - prior[1]) <= tol and min(oy / h, ox / w) >= params.min_overlap
    # unordered: any shift leaving a real overlap, but not (near) total coincidence
    return min(oy / h, ox / w) >= params.min_overlap and (abs(dy) > 0.02 * h or abs(dx) > 0.02 * w)


# ----------------------------------------------------------------------------- coarse
def coarse_shift(a_small: np.ndarray, b_small: np.ndarray, factor: Tuple[float, float], shape, kind: str,
                 params: RegisterParams, prior=None, n_peaks: int = 6) -> Tuple[float, float, float]:
    """Whole-tile phase correlation on shrunken, high-passed tiles.

    Returns ``(dy, dx, score)`` in full-resolution pixels, score = NCC of the
    implied overlap (``-1`` when no reading is consistent with ``kind``).
    """
    h, w = a_small.shape
    fa = np.fft.rfft2(a_small)
    fb = np.fft.rfft2(b_small)
    cross = fa * np.conj(fb)
    cross /= np.abs(cross) + 1e-9
    corr = np.fft.irfft2(cross, s=a_small.shape)
    order = np.argsort(corr.ravel())[::-1][: n_peaks * 4]
    best = (float("nan"), float("nan"), -1.0)
    seen = set()
    peaks = 0
    for flat in order:
        py, px = np.unravel_index(flat, corr.shape)
        if any(abs(py - qy) <= 1 and abs(px - qx) <= 1 for qy, qx in seen):
            continue
        seen.add((py, px))
        peaks += 1
        for sy in (py, py - h):
            for sx in (px, px - w):
                # corr peak at (py, px): a(y) ~ b(y - p)  ->  b sits at +p in a's frame
                dy, dx = sy * factor[0], sx * factor[1]
                if not _shift_ok(kind, dy, dx, shape, params, prior):
                    continue
                win = overlap_windows((h, w), int(sy), int(sx))
                if win is None:
                    continue
                wa, wb = win
                if min(wa[0].stop - wa[0].start, wa[1].stop - wa[1].start) < 4:
                    continue
                score = ncc(a_small[wa], b_small[wb])
                if score > best[2]:
                    best = (float(dy), float(dx), score)
        if peaks >= n_peaks:
            break
    return best


# ----------------------------------------------------------------------------- fine
def tukey(n: int, alpha: float = 0.3) -> np.ndarray:
    """Tukey window of ``n`` samples: flat middle, cosine tapers over ``alpha`` of the length."""
    if n < 2 or alpha <= 0:
        return np.ones(n)
    x = np.arange(n) / (n - 1)
    w = np.ones(n)
    edge = alpha / 2
    lo, hi = x < edge, x > 1 - edge
    w[lo] = 0.5 * (1 + np.cos(np.pi * (x[lo] / edge - 1)))
    w[hi] = 0.5 * (1 + np.cos(np.pi * ((x[hi] - 1) / edge + 1)))
    return w


def _window(shape, alpha: float = 0.3) -> np.ndarray:
    """2-D Tukey window: removes the crop-edge discontinuity without throwing away the narrow
    overlaps of 10 %-overlap tiles, as a Hann window does."""
    return np.outer(tukey(shape[0], alpha), tukey(shape[1], alpha)).astype(np.float32)


def _upsampled_dft(spectrum: np.ndarray, size: int, upsample: int, offsets) -> np.ndarray:
    """Inverse DFT of ``spectrum`` on a ``size`` x ``size`` grid of spacing ``1 / upsample`` px starting
    at ``-offsets``, by matrix products (no zero-padded FFT)."""
    out = spectrum
    # contract the last axis each time: the new axis comes first, so after both passes the order is (y, x)
    for axis in (1, 0):
        n = spectrum.shape[axis]
        kernel = np.exp(-2j * np.pi * (np.arange(size) - offsets[axis])[:, None] * np.fft.fftfreq(n, upsample)[None, :])
        out = np.tensordot(kernel, out, axes=(1, -1))
    return out


def phase_correlation(reference: np.ndarray, moving: np.ndarray, upsample: int = 50) -> np.ndarray:
    """Sub-pixel shift ``(dy, dx)`` such that ``moving`` shifted by it matches ``reference``.

    Cross-correlation peak by FFT, refined to ``1 / upsample`` px with a
    matrix-multiply DFT over a 1.5 x 1.5 px neighbourhood (Guizar-Sicairos,
    Thurman & Fienup, 2008, *Opt. Lett.* 33, 156).
    """
    # single precision (NumPy >= 2 keeps float32 in its FFT): half the memory, ample for a peak position
    spec = np.fft.fft2(np.asarray(reference, dtype=np.float32))
    spec *= np.conj(np.fft.fft2(np.asarray(moving, dtype=np.float32)))
    corr = np.abs(np.fft.ifft2(spec))
    peak = np.array(np.unravel_index(np.argmax(corr), corr.shape), dtype=float)
    shape = np.array(corr.shape)
    del corr
    peak[peak > shape // 2] -= shape[peak > shape // 2]
    if upsample <= 1:
        return peak
    shifts = np.round(peak * upsample) / upsample
    size = int(np.ceil(upsample * 1.5))
    centre = np.fix(size / 2.0)
    offsets = centre - shifts * upsample
    up = np.conj(_upsampled_dft(np.conj(spec), size, upsample, offsets))
    best = np.array(np.unravel_index(np.argmax(np.abs(up)), up.shape), dtype=float)
    return shifts + (best - centre) / upsample


def _central(sl: Tuple[slice, slice], limit: int) -> Tuple[slice, slice]:
    out = []
    for s in sl:
        n = s.stop - s.start
        if n > limit:
            start = s.start + (n - limit) // 2
            out.append(slice(start, start + limit))
        else:
            out.append(s)
    return tuple(out)


def _in_b(sl: Tuple[slice, slice], iy: int, ix: int) -> Tuple[slice, slice]:
    """Window ``sl`` of tile a as the same ground in tile b, b's origin at ``(iy, ix)`` in a's pixels."""
    return slice(sl[0].start - iy, sl[0].stop - iy), slice(sl[1].start - ix, sl[1].stop - ix)


def _window_shift(a: np.ndarray, b: np.ndarray, sa: Tuple[slice, slice], iy: int, ix: int,
                  params: RegisterParams) -> Tuple[float, float]:
    """Sub-pixel shift of b's origin in a's frame, phase-correlated on window ``sa`` of a (near ``(iy, ix)``)."""
    pa = highpass(a[sa], params.highpass_sigma)
    pb = highpass(b[_in_b(sa, iy, ix)], params.highpass_sigma)
    win2 = _window(pa.shape)
    shift = phase_correlation(pa * win2, pb * win2, params.upsample)
    # reference a, moving b: b shifted by `shift` matches a  ->  b's origin moves by +shift in a's frame
    return iy + float(shift[0]), ix + float(shift[1])


def fine_shift_phase(a: np.ndarray, b: np.ndarray, dy: float, dx: float, params: RegisterParams,
                     max_iter: int = 4) -> Tuple[float, float]:
    """Refine ``(dy, dx)`` to sub-pixel precision on full-resolution grey tiles."""
    shape = a.shape
    for _ in range(max_iter):
        iy, ix = int(round(dy)), int(round(dx))
        win = overlap_windows(shape, iy, ix)
        if win is None:
            return float("nan"), float("nan")
        wa, wb = win
        # the same central part of the overlap in both tiles
        ndy, ndx = _window_shift(a, b, _central(wa, MAX_MATCH_EDGE), iy, ix, params)
        if int(round(ndy)) == iy and int(round(ndx)) == ix:
            return ndy, ndx
        dy, dx = ndy, ndx
    return dy, dx


def fine_shift_features(a: np.ndarray, b: np.ndarray, dy: float, dx: float, params: RegisterParams,
                        margin: int = 32) -> Tuple[float, float]:
    """Refine ``(dy, dx)`` with ORB keypoints on the overlap and a RANSAC translation."""
    import cv2

    iy, ix = int(round(dy)), int(round(dx))
    h, w = a.shape
    wa = (slice(max(0, iy - margin), min(h, h + iy + margin)), slice(max(0, ix - margin), min(w, w + ix + margin)))
    wb = (slice(max(0, -iy - margin), min(h, h - iy + margin)), slice(max(0, -ix - margin), min(w, w - ix + margin)))

    def to8(img):
        img = highpass(img, 3 * params.highpass_sigma)
        lo, hi = np.percentile(img, (1, 99))
        return np.clip((img - lo) * 255.0 / max(hi - lo, 1e-6), 0, 255).astype(np.uint8)

    # ORB ignores a border of edgeThreshold (31) px: on a narrow overlap strip that leaves almost
    # nothing, so narrow strips get a smaller border and descriptor patch (wide ones keep 31)
    edge = int(np.clip(min(a[wa].shape + b[wb].shape) // 4, 8, 31))
    orb = cv2.ORB_create(nfeatures=3000, fastThreshold=5, edgeThreshold=edge, patchSize=edge)
    ka, da = orb.detectAndCompute(to8(a[wa]), None)
    kb, db = orb.detectAndCompute(to8(b[wb]), None)
    if da is None or db is None or len(ka) < 4 or len(kb) < 4:
        return float("nan"), float("nan")
    matches = cv2.BFMatcher(cv2.NORM_HAMMING, crossCheck=True).match(da, db)
    if len(matches) < 4:
        return float("nan"), float("nan")
    pa = np.array([ka[m.queryIdx].pt for m in matches]) + [wa[1].start, wa[0].start]
    pb = np.array([kb[m.trainIdx].pt for m in matches]) + [wb[1].start, wb[0].start]
    t = pa - pb  # (x, y) shift of b's frame in a's frame, one per match
    # RANSAC for a translation: the candidate with most matches within 1.5 px
    rng = np.random.default_rng(0)
    best_in = None
    for k in rng.choice(len(t), size=min(len(t), 200), replace=False):
        inl = np.hypot(*(t - t[k]).T) < 1.5
        if best_in is None or inl.sum() > best_in.sum():
            best_in = inl
    if best_in.sum() < 4:
        return float("nan"), float("nan")
    sx, sy = t[best_in].mean(axis=0)
    return float(sy), float(sx)


def local_correspondences(a: np.ndarray, b: np.ndarray, dy: float, dx: float, params: RegisterParams,
                          pieces: int = 3, min_piece: int = 64) -> List[Tuple[float, float, float, float]]:
    """Matching points along an overlap: ``(ya, xa, yb, xb)``, tile pixel coordinates.

    The overlap at the measured shift is cut into ``pieces`` parts along its
    longer side; each part is phase-correlated on its own, so that a rotation
    or scale difference between the tiles shows as shifts that vary along the
    overlap. Used by the affine placement.
    """
    iy, ix = int(round(dy)), int(round(dx))
    win = overlap_windows(a.shape, iy, ix)
    if win is None:
        return []
    wa, _ = win
    long_axis = 0 if (wa[0].stop - wa[0].start) >= (wa[1].stop - wa[1].start) else 1
    length = wa[long_axis].stop - wa[long_axis].start
    k = max(1, min(pieces, length // min_piece))
    # lens distortion bends the local shifts by a few percent of the tile size at most
    tolerance = max(3.0, 0.05 * min(a.shape))
    edges = np.linspace(wa[long_axis].start, wa[long_axis].stop, k + 1).astype(int)
    points = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        part = list(wa)
        part[long_axis] = slice(lo, hi)
        pa_sl = _central(tuple(part), MAX_MATCH_EDGE // 2)
        sy, sx = _window_shift(a, b, pa_sl, iy, ix, params)
        if abs(sy - dy) > tolerance or abs(sx - dx) > tolerance:
            continue  # a piece without texture: skip it rather than trust it
        cy = (pa_sl[0].start + pa_sl[0].stop - 1) / 2.0
        cx = (pa_sl[1].start + pa_sl[1].stop - 1) / 2.0
        points.append((cy, cx, cy - sy, cx - sx))
    return points


def overlap_score(a: np.ndarray, b: np.ndarray, dy: float, dx: float, sigma: float) -> Tuple[float, int, float, float]:
    """NCC of the high-passed overlap at a sub-pixel shift, overlap area, mean grey of a and b there."""
    import cv2

    iy, ix = int(np.floor(dy)), int(np.floor(dx))
    win = overlap_windows(a.shape, iy, ix)
    if win is None:
        return 0.0, 0, float("nan"), float("nan")
    wa, wb = win
    ca = _central(wa, MAX_MATCH_EDGE)
    cb = _in_b(ca, iy, ix)
    pa = highpass(a[ca], sigma)
    pb = highpass(b[cb], sigma)
    # resample b by the fractional part: b'(y) = b(y - f)
    fy, fx = dy - iy, dx - ix
    m = np.array([[1, 0, fx], [0, 1, fy]], dtype=np.float64)
    pb = cv2.warpAffine(pb, m, (pb.shape[1], pb.shape[0]), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
    inner = (slice(1, -1), slice(1, -1)) if min(pa.shape) > 4 else (slice(None), slice(None))
    area = (wa[0].stop - wa[0].start) * (wa[1].stop - wa[1].start)
    return ncc(pa[inner], pb[inner]), int(area), float(a[wa].mean()), float(b[wb].mean())


# ----------------------------------------------------------------------------- driver
class GreyTiles:
    """Grey full-resolution tiles (their own data type), loaded on demand with a small LRU cache, and
    their shrunken high-passed versions (all kept: a few hundred kB each)."""

    def __init__(self, loader: Callable[[int], np.ndarray], n: int, shape, params: RegisterParams,
                 cache_size: int = 8) -> None:
        self.loader = loader
        self.n = n
        self.shape = tuple(shape)
        self.params = params
        self.cache: "OrderedDict[int, np.ndarray]" = OrderedDict()
        self.cache_size = max(2, cache_size)
        self.factor = max(1.0, max(self.shape) / COARSE_EDGE)
        self.small: List[Optional[np.ndarray]] = [None] * n

    def full(self, i: int, keep: bool = True) -> np.ndarray:
        if i in self.cache:
            self.cache.move_to_end(i)
            return self.cache[i]
        from .tiles import to_grey

        g = to_grey(self.loader(i))
        if self.small[i] is None:
            self.small[i] = self._shrink(g)
        if not keep:
            return g
        self.cache[i] = g
        while len(self.cache) > self.cache_size:
            self.cache.popitem(last=False)
        return g

    def _shrink(self, g: np.ndarray) -> np.ndarray:
        import cv2

        h, w = self.shape
        size = (max(8, int(round(w / self.factor))), max(8, int(round(h / self.factor))))
        s = cv2.resize(g, size, interpolation=cv2.INTER_AREA) if self.factor > 1 else g
        return highpass(s.astype(np.float32), max(2.0, self.params.highpass_sigma * 4 / self.factor))

    def shrunk(self, i: int) -> np.ndarray:
        if self.small[i] is None:
            self.full(i, keep=False)
        return self.small[i]


def register_pairs(grey: GreyTiles, candidates: Sequence[Tuple[int, int, str, Optional[Tuple[float, float]]]],
                   params: RegisterParams, progress=None) -> List[PairResult]:
    """Measure every candidate pair ``(a, b, kind, prior)``.

    For unordered sets (kind ``"any"``) the coarse NCC decides which pairs
    overlap at all; only those are refined.
    """
    results = []
    n = max(1, len(candidates))
    small = grey.shrunk(0).shape
    factor = (grey.shape[0] / small[0], grey.shape[1] / small[1])
    tol = 2 * max(factor) + 2
    for k, (a, b, kind, prior) in enumerate(candidates):
        res = PairResult(a, b, kind=kind)
        sa, sb = grey.shrunk(a), grey.shrunk(b)
        dy, dx, cscore = coarse_shift(sa, sb, factor, grey.shape, kind, params, prior)
        res.extra["coarse_score"] = cscore
        if not np.isfinite(dy) or cscore < params.min_score * 0.5:
            res.reason = "no overlap found" if kind == "any" else "no consistent match"
            results.append(res)
            if progress is not None:
                progress((k + 1) / n)
            continue
        fa, fb = grey.full(a), grey.full(b)
        if params.method == "features":
            ndy, ndx = fine_shift_features(fa, fb, dy, dx, params)
        else:
            ndy, ndx = fine_shift_phase(fa, fb, dy, dx, params)
        if not np.isfinite(ndy) or abs(ndy - dy) > tol or abs(ndx - dx) > tol:
            res.dy, res.dx = dy, dx
            res.reason = "fine registration failed"
        else:
            res.dy, res.dx = ndy, ndx
            res.score, res.overlap_px, res.mean_a, res.mean_b = overlap_score(fa, fb, ndy, ndx, params.highpass_sigma)
            if not _shift_ok(kind if kind != "any" else "any", ndy, ndx, grey.shape, params, prior):
                res.reason = "shift contradicts the layout"
            elif res.score < params.min_score:
                res.reason = f"score {res.score:.4f} < {params.min_score:g}"  # 0.1996 < 0.2, not 0.20 < 0.20
            else:
                res.used = True
                if params.points_per_pair > 0:
                    res.extra["points"] = local_correspondences(fa, fb, ndy, ndx, params, params.points_per_pair)
        results.append(res)
        if progress is not None:
            progress((k + 1) / n)
    return results
