"""Aligning rotated crossed-polar (XPL) photos onto the plane-polar (PPL) photo.

Anisotropic ore minerals (marcasite, arsenopyrite, pyrrhotite, ...) are told
apart from isotropic ones in crossed polars by rotating the stage. Each rotated
XPL photo is registered onto the PPL reference, the area all photos share is
masked, and the aligned photos are stacked into one 3 + 3N band raster that a
segmentation model takes as input.

Registration works on gradient-magnitude images, which show the grain
boundaries whatever the contrast of the two illuminations:

1. *coarse*: every rotation (1 degree steps by default) of the moving photo is
   tried at low resolution, with the shift found by phase correlation; the
   rotation with the strongest correlation peak wins;
2. *fine*: ECC maximisation (Evangelidis & Psarakis, 2008; OpenCV
   ``findTransformECC``) from coarse to fine resolution with a Euclidean
   (rotation + shift) or affine model.

The paper's method (SIFT keypoints matched and an affine transform fitted by
RANSAC) is available as ``method="sift"``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from ..errors import GeocoreError, ParameterError
from ..files import atomic_output, check_not_input
from ..progress import Progress
from .images import read_rgb, write_bands
from .params import ALIGN_METHODS, ALIGN_MODELS

METHODS = ALIGN_METHODS
MODELS = ALIGN_MODELS
#: Long edge (px) of the images used by the coarse rotation search.
COARSE_EDGE = 256
#: Long edge (px) of the finest ECC level (larger photos are refined at reduced size).
FINE_EDGE = 2048


@dataclass
class Alignment:
    """Where a moving photo lies on the reference.

    Attributes
    ----------
    matrix : ndarray (2, 3)
        Maps reference pixel coordinates (col, row) to moving pixel
        coordinates: the aligned photo at reference pixel ``p`` is the moving
        photo sampled at ``matrix @ [p, 1]`` (OpenCV ``WARP_INVERSE_MAP``).
    rotation_deg : float
        Rotation of the moving photo relative to the reference, degrees
        counter-clockwise as seen on screen.
    score : float
        Quality: the ECC correlation coefficient (0..1) of the gradient images,
        or the RANSAC inlier share for ``method="sift"``.
    method : str
    """

    matrix: np.ndarray
    rotation_deg: float
    score: float
    method: str = "ecc"

    def forward(self) -> np.ndarray:
        """The inverse matrix: moving pixel -> reference pixel."""
        import cv2

        return cv2.invertAffineTransform(self.matrix.astype(np.float64))


def _grey(rgb: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.cvtColor(np.ascontiguousarray(rgb), cv2.COLOR_RGB2GRAY) if rgb.ndim == 3 else rgb


def _gradient(grey: np.ndarray, scale: float) -> np.ndarray:
    """Gradient magnitude of ``grey`` resized by ``scale``, z-scored, float32."""
    import cv2

    img = grey.astype(np.float32)
    if scale != 1.0:
        img = cv2.resize(img, (max(8, round(img.shape[1] * scale)), max(8, round(img.shape[0] * scale))),
                         interpolation=cv2.INTER_AREA)
    img = cv2.GaussianBlur(img, (0, 0), 1.0)
    gx = cv2.Sobel(img, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(img, cv2.CV_32F, 0, 1, ksize=3)
    mag = np.sqrt(gx * gx + gy * gy)
    return (mag - mag.mean()) / (mag.std() + 1e-6)


def _rotation_about(center: tuple[float, float], angle_deg: float) -> np.ndarray:
    import cv2

    return cv2.getRotationMatrix2D(center, angle_deg, 1.0)


def _compose(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """2 x 3 affine ``a`` after ``b``."""
    a3 = np.vstack([a, [0, 0, 1]])
    b3 = np.vstack([b, [0, 0, 1]])
    return (a3 @ b3)[:2]


def _scale_matrix(m: np.ndarray, s: float) -> np.ndarray:
    """The same mapping expressed on images resized by ``s``."""
    out = m.astype(np.float64).copy()
    out[:, 2] *= s
    return out


def coarse_rotation_search(reference: np.ndarray, moving: np.ndarray, *, step_deg: float = 1.0,
                           angles: Optional[Sequence[float]] = None) -> tuple[np.ndarray, float, float]:
    """Best rotation and shift at low resolution.

    Parameters
    ----------
    reference, moving : ndarray
        Grey (or RGB) photos of the same size.
    step_deg : float
        Rotation step of the exhaustive search over 360 degrees.
    angles : sequence of float, optional
        Only these rotations (degrees counter-clockwise) are tried.

    Returns
    -------
    matrix : ndarray (2, 3)
        Reference -> moving pixel coordinates at full size.
    angle : float
        Degrees counter-clockwise.
    response : float
        Phase-correlation peak of the winner.
    """
    import cv2

    ref_g, mov_g = _grey(reference), _grey(moving)
    scale = min(1.0, COARSE_EDGE / max(ref_g.shape))
    ref = _gradient(ref_g, scale)
    mov = _gradient(mov_g, scale)
    h, w = ref.shape
    window = cv2.createHanningWindow((w, h), cv2.CV_32F)
    center = ((w - 1) / 2.0, (h - 1) / 2.0)
    candidates = np.arange(0.0, 360.0, step_deg) if angles is None else np.asarray(angles, float)
    best = (-1.0, 0.0, (0.0, 0.0))
    for angle in candidates:
        rot = _rotation_about(center, angle)  # moving -> rotated
        rotated = cv2.warpAffine(mov, rot, (w, h), flags=cv2.INTER_LINEAR)
        # copies: some OpenCV builds (5.0) multiply the inputs by the window in place
        (dx, dy), response = cv2.phaseCorrelate(ref.copy(), rotated, window)
        if response > best[0]:
            best = (response, float(angle), (dx, dy))
    response, angle, (dx, dy) = best
    # rotated(x) = ref(x - d): reference point p sits at p + d in the rotated moving image
    shift = np.array([[1.0, 0.0, dx], [0.0, 1.0, dy]])
    forward_rot = _rotation_about(center, angle)
    ref_to_rotated = shift
    rotated_to_moving = cv2.invertAffineTransform(forward_rot)
    small = _compose(rotated_to_moving, ref_to_rotated)
    return _scale_matrix(_to_full(small, scale), 1.0), angle, float(response)


def _to_full(m_small: np.ndarray, scale: float) -> np.ndarray:
    """A matrix found on images resized by ``scale`` (pixel centres kept) -> full size."""
    # x_small = s * (x + 0.5) - 0.5 ; the mapping conjugated by that change of coordinates
    s3 = np.array([[scale, 0, 0.5 * scale - 0.5], [0, scale, 0.5 * scale - 0.5], [0, 0, 1.0]])
    m3 = np.vstack([m_small, [0, 0, 1]])
    return (np.linalg.inv(s3) @ m3 @ s3)[:2]


def _to_small(m_full: np.ndarray, scale: float) -> np.ndarray:
    s3 = np.array([[scale, 0, 0.5 * scale - 0.5], [0, scale, 0.5 * scale - 0.5], [0, 0, 1.0]])
    m3 = np.vstack([m_full, [0, 0, 1]])
    return (s3 @ m3 @ np.linalg.inv(s3))[:2]


def refine_ecc(reference: np.ndarray, moving: np.ndarray, start: np.ndarray, *, model: str = "euclidean",
               iterations: int = 100, eps: float = 1e-6) -> tuple[np.ndarray, float]:
    """Refine a reference -> moving matrix by ECC maximisation, coarse to fine.

    Returns the refined matrix (full size) and the final correlation coefficient.
    """
    import cv2

    if model not in MODELS:
        msg = f"alignment model '{model}' is unknown; use one of {', '.join(MODELS)}"
        raise GeocoreError(msg)
    motion = cv2.MOTION_EUCLIDEAN if model == "euclidean" else cv2.MOTION_AFFINE
    ref_g, mov_g = _grey(reference), _grey(moving)
    top = min(1.0, FINE_EDGE / max(ref_g.shape))
    scales = [s for s in (top / 8, top / 4, top / 2, top) if max(ref_g.shape) * s >= 96] or [top]
    m = np.asarray(start, np.float64)
    cc = 0.0
    criteria = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, iterations, eps)
    for s in scales:
        ref = _gradient(ref_g, s)
        mov = _gradient(mov_g, s)
        warp = _to_small(m, s).astype(np.float32)
        try:
            cc, warp = cv2.findTransformECC(ref, mov, warp, motion, criteria, None, 5)
        except cv2.error:  # did not converge at this level: keep the previous estimate
            continue
        m = _to_full(warp.astype(np.float64), s)
    return m, float(cc)


def sift_ransac(reference: np.ndarray, moving: np.ndarray, *, model: str = "affine") -> tuple[np.ndarray, float]:
    """The paper's registration: SIFT keypoints, ratio-test matches, RANSAC affine.

    Returns the reference -> moving matrix and the inlier share of the matches.
    """
    import cv2

    ref_g, mov_g = _grey(reference), _grey(moving)
    scale = min(1.0, FINE_EDGE / 2 / max(ref_g.shape))
    clahe = cv2.createCLAHE(clipLimit=2.0, tileGridSize=(8, 8))

    def prep(g):
        small = cv2.resize(g, (round(g.shape[1] * scale), round(g.shape[0] * scale)), interpolation=cv2.INTER_AREA)
        return clahe.apply(small)

    sift = cv2.SIFT_create(nfeatures=4000)
    kr, dr = sift.detectAndCompute(prep(ref_g), None)
    km, dm = sift.detectAndCompute(prep(mov_g), None)
    if dr is None or dm is None or len(kr) < 3 or len(km) < 3:
        raise ParameterError("too few SIFT keypoints to align the photos; try {param} ecc", param="method")
    matches = cv2.BFMatcher(cv2.NORM_L2).knnMatch(dr, dm, k=2)
    good = [p[0] for p in matches if len(p) == 2 and p[0].distance < 0.75 * p[1].distance]
    if len(good) < 6:
        raise ParameterError(f"only {len(good)} SIFT matches between the photos; try {{param}} ecc", param="method")
    src = np.float32([kr[g.queryIdx].pt for g in good])
    dst = np.float32([km[g.trainIdx].pt for g in good])
    estimate = cv2.estimateAffine2D if model == "affine" else cv2.estimateAffinePartial2D
    m, inliers = estimate(src, dst, method=cv2.RANSAC, ransacReprojThreshold=3.0)
    if m is None:
        raise ParameterError("RANSAC found no consistent transform between the photos; try {param} ecc",
                             param="method")
    return _to_full(m, scale), float(inliers.mean())


def align_pair(reference: np.ndarray, moving: np.ndarray, *, method: str = "ecc", model: str = "euclidean",
               step_deg: float = 1.0, angles: Optional[Sequence[float]] = None) -> Alignment:
    """Register ``moving`` onto ``reference`` (same size, RGB or grey).

    Parameters
    ----------
    method : {"ecc", "sift", "sift+ecc"}
        ``ecc``: rotation search then ECC refinement (default, the most
        accurate in our measurements); ``sift``: the paper's SIFT + RANSAC
        affine; ``sift+ecc``: SIFT start, ECC refinement.
    model : {"euclidean", "affine"}
        Transform refined by ECC (stage rotation is a rotation plus a shift:
        euclidean; affine also absorbs a small tilt or scale change).
    step_deg, angles
        Coarse search: rotation step, or the only rotations to try (e.g. the
        nominal stage angles).
    """
    if method not in METHODS:
        msg = f"alignment method '{method}' is unknown; use one of {', '.join(METHODS)}"
        raise GeocoreError(msg)
    if reference.shape[:2] != moving.shape[:2]:
        msg = (f"the crossed-polar photo is {moving.shape[1]} x {moving.shape[0]} px but the plane-polar one is "
               f"{reference.shape[1]} x {reference.shape[0]} px; they must be the same size")
        raise GeocoreError(msg)
    if method == "ecc":
        start, _, _ = coarse_rotation_search(reference, moving, step_deg=step_deg, angles=angles)
        m, score = refine_ecc(reference, moving, start, model=model)
    else:
        m, score = sift_ransac(reference, moving, model="affine" if method == "sift" else model)
        if method == "sift+ecc":
            m, score = refine_ecc(reference, moving, m, model=model)
    # rotation of the moving photo as seen on screen (rows grow downwards)
    angle = float(np.degrees(np.arctan2(-m[1, 0], m[0, 0])))
    return Alignment(matrix=m, rotation_deg=angle, score=score, method=method)


def warp_to_reference(moving: np.ndarray, alignment: Alignment, shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Resample ``moving`` on the reference grid; returns (image, valid mask)."""
    import cv2

    rows, cols = shape
    flags = cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP
    m = alignment.matrix.astype(np.float64)
    out = cv2.warpAffine(moving, m, (cols, rows), flags=flags, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    ones = np.full(moving.shape[:2], 255, np.uint8)
    valid = cv2.warpAffine(ones, m, (cols, rows), flags=cv2.INTER_NEAREST | cv2.WARP_INVERSE_MAP,
                           borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    valid = cv2.erode(valid, np.ones((3, 3), np.uint8)) > 0  # interpolation at the edge mixes in the border
    return out, valid


def transform_error(estimated: np.ndarray, truth: np.ndarray, shape: tuple[int, int], *,
                    mask: Optional[np.ndarray] = None, spacing: int = 16) -> float:
    """Mean distance (px) between two reference -> moving mappings over a grid of reference pixels."""
    rows, cols = shape
    yy, xx = np.mgrid[0:rows:spacing, 0:cols:spacing]
    pts = np.stack([xx.ravel(), yy.ravel(), np.ones(xx.size)])
    if mask is not None:
        keep = mask[yy.ravel(), xx.ravel()]
        pts = pts[:, keep]
    d = (np.asarray(estimated) - np.asarray(truth)) @ pts
    return float(np.sqrt((d ** 2).sum(axis=0)).mean())


@dataclass
class StackResult:
    """What :func:`align_and_stack` wrote."""

    stack_path: Path
    alignments: list = field(default_factory=list)
    shared_fraction: float = 0.0
    report_path: Optional[Path] = None

    def summary(self) -> str:
        lines = [f"stack: {self.stack_path} ({3 + 3 * len(self.alignments)} bands; "
                 f"{100 * self.shared_fraction:.1f} % of the frame seen by every photo)"]
        for i, a in enumerate(self.alignments, start=1):
            lines.append(f"  XPL {i}: rotation {a.rotation_deg:+.2f} deg, score {a.score:.3f} ({a.method})")
        return "\n".join(lines)


def align_and_stack(ppl: str | os.PathLike, xpl: Sequence[str | os.PathLike], out: str | os.PathLike, *,
                    method: str = "ecc", model: str = "euclidean", step_deg: float = 1.0,
                    crop: bool = False, progress=None, cancel=None) -> StackResult:
    """Align crossed-polar photos on the plane-polar one and stack them.

    Parameters
    ----------
    ppl : path
        Plane-polarised photo: the reference grid of the output.
    xpl : sequence of paths
        Crossed-polar photos at several stage rotations (the paper found six best).
    out : path
        GeoTIFF with 3 + 3N bands (PPL R, G, B, then R, G, B of each XPL in the
        given order), uint8, the PPL's georeferencing, a mask of the area
        every photo covers (GDAL dataset mask; outside it the bands are 0).
        A JSON report with the matrices is written beside it
        (``<out>.alignment.json``).
    method, model, step_deg
        See :func:`align_pair`.
    crop : bool
        Crop the stack to the bounding box of the shared area.
    """
    bar = Progress.wrap(progress, cancel)
    out = Path(out)
    xpl = [Path(p) for p in xpl]
    if not xpl:
        raise GeocoreError("no crossed-polar photos given; name at least one")
    if out.suffix.lower() not in (".tif", ".tiff"):
        msg = f"stack '{out}' must be a GeoTIFF (.tif)"
        raise GeocoreError(msg)
    report = out.with_name(out.name + ".alignment.json")
    check_not_input([out, report], [ppl, *xpl])
    reference = read_rgb(ppl, what="plane-polar photo")
    photos = [read_rgb(p, what="crossed-polar photo") for p in xpl]  # check them all before the work
    for p, photo in zip(xpl, photos):
        if photo.shape != reference.shape:
            msg = (f"crossed-polar photo '{p}' is {photo.shape[1]} x {photo.shape[0]} px but the plane-polar "
                   f"photo is {reference.shape[1]} x {reference.shape[0]} px; they must be the same size")
            raise GeocoreError(msg)
    bands = [np.moveaxis(reference.rgb, -1, 0)]
    shared = np.ones(reference.shape, bool)
    alignments = []
    for i, photo in enumerate(photos):
        bar.update(0.05 + 0.85 * i / len(photos))
        a = align_pair(reference.rgb, photo.rgb, method=method, model=model, step_deg=step_deg)
        warped, valid = warp_to_reference(photo.rgb, a, reference.shape)
        alignments.append(a)
        shared &= valid
        bands.append(np.moveaxis(warped, -1, 0))
    bar.update(0.92)
    if not shared.any():
        raise GeocoreError("the photos share no common area after alignment; check they show the same field")
    stack = np.concatenate(bands, axis=0)
    stack[:, ~shared] = 0
    transform = reference.transform
    if crop:
        rows, cols = np.nonzero(shared)
        r0, r1, c0, c1 = rows.min(), rows.max() + 1, cols.min(), cols.max() + 1
        stack, shared = stack[:, r0:r1, c0:c1], shared[r0:r1, c0:c1]
        transform = transform * transform.translation(c0, r0)
    names = ["PPL red", "PPL green", "PPL blue"] + [f"XPL{i} {c}" for i in range(1, len(photos) + 1)
                                                    for c in ("red", "green", "blue")]
    with atomic_output(out) as tmp:
        write_bands(tmp, stack, transform=transform,
                    crs=reference.crs if reference.georeferenced else None, mask=shared, descriptions=names)
    with atomic_output(report) as tmp:
        tmp.write_text(json.dumps({
            "reference": str(ppl),
            "convention": "matrix maps reference pixel (col, row, 1) to the crossed-polar photo's pixel",
            "photos": [{"path": str(p), "matrix": a.matrix.round(6).tolist(), "rotation_deg": round(a.rotation_deg, 4),
                        "score": round(a.score, 5), "method": a.method} for p, a in zip(xpl, alignments)],
            "shared_fraction": round(float(shared.mean()), 5),
        }, indent=2))
    bar.update(1.0)
    return StackResult(out, alignments, float(shared.mean()), report)
