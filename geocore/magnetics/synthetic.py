"""Synthetic aeromagnetic surveys of dykes with known axes.

Two presets:

``paper`` (default; Shklyaruk & Kuznetsov 2025)
    192 x 192 cells, 1-10 vertical dykes (right rectangular prisms with random
    position, width, length, height and strike), vertical normal field and
    magnetisation, total-field anomaly ``|T0 + B| - |T0|``, plus the paper's noise:
    a random value per cell of 10-50 % of the anomaly amplitude smoothed by a
    30 x 30 moving average.

``realistic`` (what the shipped model is trained on)
    Adds what real surveys contain and a dyke detector must *not* fire on:
    normal fields at any inclination and declination (low and southern
    latitudes too), induced plus remanent magnetisation (Koenigsberger ratio
    up to 3, reversed remanence included), compact bodies (plugs, pipes),
    contacts (edges of wide blocks), regional trends, flight-line levelling
    noise (corrugations parallel to a random line direction) and white noise.
    Labels stay 1 over dyke footprints only.

Geometry is drawn in cell units and scaled by the cell size, so a survey at
25 m or 100 m cells looks like one at 50 m cells.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
from scipy import ndimage

from ..errors import GeocoreError
from ..files import all_or_nothing
from ..progress import Progress
from .forward import Prism, field_direction, total_field_anomaly

#: cells of a training sample (the paper's grid)
SAMPLE_SIZE = 192


@dataclass
class SurveyConfig:
    """Random ranges of a synthetic dyke survey (cell units unless stated).

    Ranges are ``(low, high)`` drawn uniformly. ``dykes`` is the number of dykes
    per 192 x 192 cells; larger surveys get proportionally more.
    """

    preset: str = "paper"
    dykes: tuple = (1, 10)
    dyke_width: tuple = (1.0, 4.0)
    dyke_length: tuple = (40.0, 300.0)
    dyke_depth_to_top: tuple = (0.3, 2.0)
    dyke_height: tuple = (5.0, 60.0)
    dyke_magnetization: tuple = (0.5, 5.0)  # A/m
    field_intensity: tuple = (25000.0, 65000.0)  # nT
    field_inclination: tuple = (90.0, 90.0)  # degrees
    field_declination: tuple = (0.0, 0.0)
    vertical_field_share: float = 0.0  # share of samples forced to a vertical field (RTP-like)
    remanence_q: tuple = (0.0, 0.0)  # Koenigsberger ratio
    paper_noise: tuple = (0.10, 0.50)  # share of the anomaly amplitude
    paper_noise_window: int = 30
    compact_bodies: tuple = (0, 0)
    contacts: tuple = (0, 0)
    regional_share: tuple = (0.0, 0.0)  # regional amplitude / anomaly amplitude
    line_noise_share: tuple = (0.0, 0.0)  # flight-line level errors / anomaly amplitude
    line_spacing: tuple = (3.0, 8.0)
    white_noise_share: tuple = (0.0, 0.0)
    # -- what the ``survey`` preset adds (all off by default; see _geology_background, _grid_from_lines)
    fractal_share: tuple = (0.0, 0.0)  # std of the fractal basement field / dyke anomaly amplitude
    fractal_beta: tuple = (1.5, 3.5)  # power-law exponent of the magnetisation power spectrum
    fractal_elongation: tuple = (1.0, 6.0)  # anisotropy of the fabric (foliation), ratio of correlation lengths
    fractal_depth: tuple = (0.5, 4.0)  # depth to the top of the magnetised basement layer, cells
    fabric_along_dykes: float = 0.0  # share of samples whose fabric strikes like the dykes (within 20 deg)
    gridded_share: float = 0.0  # share of samples gridded from flight lines
    flight_spacing: tuple = (3.0, 10.0)  # flight-line spacing of gridded samples, cells
    swarm_share: float = 0.0  # share of samples whose dykes form one swarm of near-parallel strikes
    thin_dyke_share: float = 0.0  # share of dykes thinner than a cell (0.1-1 cells; labelled 1 cell wide)

    @classmethod
    def preset_names(cls) -> tuple[str, ...]:
        from .params import PRESET_NAMES

        return PRESET_NAMES

    @classmethod
    def from_preset(cls, name: str) -> "SurveyConfig":
        """``"paper"`` or ``"realistic"`` (see the module docstring)."""
        if name == "paper":
            return cls()
        if name == "realistic":
            return cls(
                preset="realistic",
                field_inclination=(-90.0, 90.0),
                field_declination=(-180.0, 180.0),
                vertical_field_share=0.35,
                remanence_q=(0.0, 3.0),
                dyke_magnetization=(0.3, 5.0),
                dyke_depth_to_top=(0.5, 5.0),
                compact_bodies=(0, 4),
                contacts=(0, 2),
                regional_share=(0.0, 1.0),
                line_noise_share=(0.0, 0.04),
                white_noise_share=(0.0, 0.02),
            )
        if name == "survey":
            # realistic, plus what real surveys hold and the synthetic prisms lack: a magnetised
            # basement with a power-law (fractal) spectrum and an anisotropic fabric, often
            # parallel to the dykes; grids interpolated from flight lines; swarms of parallel
            # dykes; dykes thinner than a cell; weaker dykes against the background
            return dataclasses.replace(
                cls.from_preset("realistic"), preset="survey",
                dyke_magnetization=(0.3, 5.0),
                dyke_depth_to_top=(0.5, 8.0),
                fractal_share=(0.0, 0.6),
                fabric_along_dykes=0.4,
                gridded_share=0.6,
                swarm_share=0.5,
                thin_dyke_share=0.4,
            )
        msg = f"unknown survey preset {name!r}; use 'paper', 'realistic' or 'survey'"
        raise GeocoreError(msg)

    def with_dykes(self, low: int, high: int) -> "SurveyConfig":
        return dataclasses.replace(self, dykes=(low, high))


@dataclass
class SyntheticSample:
    """A synthetic survey in memory.

    Attributes
    ----------
    field : ndarray (rows, cols), float32
        Total-field anomaly in nT; row 0 is the northern edge.
    mask : ndarray (rows, cols), uint8
        1 over dyke footprints.
    dykes : list of Prism
        The labelled sources (easting/northing in metres from the grid's
        south-west corner).
    distractors : list of Prism
        Unlabelled sources (compact bodies, contact blocks).
    cell_size : float
        Metres.
    inclination, declination : float
        Normal field direction used (degrees).
    """

    field: np.ndarray
    mask: np.ndarray
    dykes: list
    distractors: list
    cell_size: float
    inclination: float
    declination: float

    def axes_pixels(self) -> list[np.ndarray]:
        """Dyke axes as (2, 2) arrays of (col, row) pixel coordinates (cell centres at .5)."""
        rows = self.field.shape[0]
        out = []
        for d in self.dykes:
            (e0, n0), (e1, n1) = d.axis()
            c = self.cell_size
            out.append(np.array([[e0 / c, rows - n0 / c], [e1 / c, rows - n1 / c]]))
        return out


def _u(rng: np.random.Generator, lo_hi) -> float:
    lo, hi = lo_hi
    return float(lo) if lo == hi else float(rng.uniform(lo, hi))


def _random_direction(rng: np.random.Generator) -> np.ndarray:
    v = rng.normal(size=3)
    return v / np.linalg.norm(v)


def _magnetization(rng, intensity, field_dir, q_range) -> np.ndarray:
    induced = intensity * field_dir
    q = _u(rng, q_range)
    if q <= 0:
        return induced
    # remanence: often near-antiparallel (reversed polarity), otherwise anywhere
    if rng.random() < 0.4:
        rem_dir = -field_dir + 0.3 * _random_direction(rng)
        rem_dir /= np.linalg.norm(rem_dir)
    else:
        rem_dir = _random_direction(rng)
    return induced + q * intensity * rem_dir


def _footprint_mask(prisms, east, north, cell) -> np.ndarray:
    mask = np.zeros(east.shape, dtype=bool)
    for p in prisms:
        s = np.radians(p.strike)
        de, dn = east - p.easting, north - p.northing
        along = de * np.sin(s) + dn * np.cos(s)
        across = de * np.cos(s) - dn * np.sin(s)
        half_w = max(p.width / 2, 0.5 * cell)
        mask |= (np.abs(along) <= p.length / 2) & (np.abs(across) <= half_w)
    return mask


def synthesize_sample(rng: np.random.Generator, rows: int = SAMPLE_SIZE, cols: int = SAMPLE_SIZE,
                      cell_size: float = 50.0, config: Optional[SurveyConfig] = None,
                      *, parallel: bool = True) -> SyntheticSample:
    """Draw one synthetic survey.

    Parameters
    ----------
    rng : numpy Generator
        Source of randomness (seed it for reproducible samples).
    rows, cols : int
        Grid shape in cells.
    cell_size : float
        Cell size in metres.
    config : SurveyConfig
        Random ranges (default: the paper's recipe).
    parallel : bool
        Let harmonica use all cores (turn off inside worker processes).
    """
    cfg = config or SurveyConfig()
    c = float(cell_size)
    east = (np.arange(cols) + 0.5) * c
    north = (rows - np.arange(rows) - 0.5) * c
    E, N = np.meshgrid(east, north)
    scale_area = rows * cols / SAMPLE_SIZE**2

    if cfg.vertical_field_share > 0 and rng.random() < cfg.vertical_field_share:
        inc, dec = 90.0, 0.0
    else:
        inc = _u(rng, cfg.field_inclination)
        dec = _u(rng, cfg.field_declination)
    t_int = _u(rng, cfg.field_intensity)
    fdir = field_direction(inc, dec)

    lo, hi = cfg.dykes
    n_dykes = max(1, int(round(rng.uniform(lo, hi + 1 - 1e-9) * scale_area))) if scale_area > 1 else int(rng.integers(lo, hi + 1))
    # a swarm: the dykes share one strike within +-12 degrees (drawn only when enabled, so the
    # other presets keep their random sequence)
    swarm = float(rng.uniform(0, 180)) if cfg.swarm_share > 0 and rng.random() < cfg.swarm_share else None
    dykes = []
    for _ in range(n_dykes):
        top = -_u(rng, cfg.dyke_depth_to_top) * c
        dykes.append(Prism(
            easting=rng.uniform(0, cols) * c,
            northing=rng.uniform(0, rows) * c,
            length=_u(rng, cfg.dyke_length) * c,
            width=_u(rng, cfg.dyke_width) * c,
            top=top,
            bottom=top - _u(rng, cfg.dyke_height) * c,
            strike=rng.uniform(0, 180),
            magnetization=_magnetization(rng, _u(rng, cfg.dyke_magnetization), fdir, cfg.remanence_q),
        ))
        if swarm is not None:
            dykes[-1] = dataclasses.replace(dykes[-1], strike=(swarm + rng.uniform(-12, 12)) % 180)
        if cfg.thin_dyke_share > 0 and rng.random() < cfg.thin_dyke_share:
            # thinner than a cell: the anomaly keeps its shape and loses amplitude (thin-sheet limit)
            dykes[-1] = dataclasses.replace(dykes[-1], width=rng.uniform(0.1, 1.0) * c)

    distractors = []
    n_bodies = int(round(rng.integers(cfg.compact_bodies[0], cfg.compact_bodies[1] + 1) * max(scale_area, 1)))
    for _ in range(n_bodies):
        size = rng.uniform(4, 25) * c
        top = -rng.uniform(0.5, 6) * c
        distractors.append(Prism(
            easting=rng.uniform(0, cols) * c, northing=rng.uniform(0, rows) * c,
            length=size * rng.uniform(1.0, 2.2), width=size, top=top,
            bottom=top - rng.uniform(5, 80) * c, strike=rng.uniform(0, 180),
            magnetization=_magnetization(rng, rng.uniform(0.2, 3.0), fdir, cfg.remanence_q),
        ))
    # contacts are long: their number grows with the survey's extent, not its area
    n_contacts = int(round(rng.integers(cfg.contacts[0], cfg.contacts[1] + 1) * np.sqrt(max(scale_area, 1))))
    for _ in range(n_contacts):
        # a wide block whose one edge crosses the grid: a contact, not a dyke
        strike = rng.uniform(0, 180)
        width = rng.uniform(3, 6) * max(rows, cols) * c
        s = np.radians(strike)
        across = np.array([np.cos(s), -np.sin(s)])
        edge_e, edge_n = rng.uniform(0.1, 0.9) * cols * c, rng.uniform(0.1, 0.9) * rows * c
        side = rng.choice([-1.0, 1.0])
        top = -rng.uniform(0.5, 5) * c
        distractors.append(Prism(
            easting=edge_e + side * across[0] * width / 2, northing=edge_n + side * across[1] * width / 2,
            length=width, width=width, top=top, bottom=top - rng.uniform(20, 200) * c, strike=strike,
            magnetization=_magnetization(rng, rng.uniform(0.1, 1.5), fdir, cfg.remanence_q),
        ))

    dT = total_field_anomaly(dykes + distractors, E, N, 0.0, field_intensity=t_int,
                             inclination=inc, declination=dec, parallel=parallel)
    amp = float(np.ptp(dT)) or 1.0

    frac = _u(rng, cfg.fractal_share)
    if frac > 0:
        fabric = None
        if dykes and cfg.fabric_along_dykes > 0 and rng.random() < cfg.fabric_along_dykes:
            fabric = dykes[0].strike + rng.uniform(-20, 20)
        dyke_amp = float(np.ptp(total_field_anomaly(dykes, E, N, 0.0, field_intensity=t_int, inclination=inc,
                                                    declination=dec, parallel=parallel))) or amp
        dT = dT + frac * dyke_amp * _geology_background(rng, rows, cols, cfg, inc, dec, fabric)

    # the paper's noise: per-cell random values smoothed by a 30 x 30 moving average
    share = _u(rng, cfg.paper_noise)
    if share > 0:
        noise = rng.uniform(-1.0, 1.0, size=dT.shape) * share * amp
        dT = dT + ndimage.uniform_filter(noise, size=cfg.paper_noise_window, mode="reflect")

    reg = _u(rng, cfg.regional_share)
    if reg > 0:
        # a planar trend plus one long-wavelength undulation
        az = rng.uniform(0, 2 * np.pi)
        ramp = (E * np.sin(az) + N * np.cos(az)) / (max(rows, cols) * c)
        wl = rng.uniform(2, 6) * max(rows, cols) * c
        az2 = rng.uniform(0, 2 * np.pi)
        wave = np.sin(2 * np.pi * (E * np.sin(az2) + N * np.cos(az2)) / wl + rng.uniform(0, 2 * np.pi))
        trend = rng.uniform(0.3, 1.0) * ramp + rng.uniform(0.0, 0.7) * wave
        dT = dT + reg * amp * trend / (np.ptp(trend) or 1.0)

    line_share = _u(rng, cfg.line_noise_share)
    if line_share > 0:
        dT = dT + _line_noise(rng, E, N, c, line_share * amp, cfg.line_spacing)

    white = _u(rng, cfg.white_noise_share)
    if white > 0:
        dT = dT + rng.normal(0.0, white * amp, size=dT.shape)

    if cfg.gridded_share > 0 and rng.random() < cfg.gridded_share:
        dT = _grid_from_lines(rng, dT, _u(rng, cfg.flight_spacing))

    mask = _footprint_mask(dykes, E, N, c).astype(np.uint8)
    return SyntheticSample(dT.astype(np.float32), mask, dykes, distractors, c, inc, dec)


def _geology_background(rng, rows: int, cols: int, cfg: SurveyConfig, inc: float, dec: float,
                        fabric: Optional[float]) -> np.ndarray:
    """Total-field anomaly of a magnetised basement layer with a fractal, anisotropic fabric.

    The magnetisation is a Gaussian random field whose power spectrum falls as
    ``k**-beta`` (Pilkington & Todoeschuck, 1993) in coordinates stretched along
    a fabric strike (foliation); the layer's top lies ``fractal_depth`` cells
    below the sensor (upward continuation ``exp(-|k| d)``), and the field is
    rotated from the pole to the survey's inclination and declination by the
    usual phase factors (induced magnetisation). Returned with unit standard
    deviation; cell units throughout.
    """
    pad_r, pad_c = rows // 2, cols // 2
    R, C = rows + 2 * pad_r, cols + 2 * pad_c
    ky = 2 * np.pi * np.fft.fftfreq(R)[:, None]  # northward wavenumber (rows grow south: sign below)
    kx = 2 * np.pi * np.fft.fftfreq(C)[None, :]
    ky = -ky
    k = np.hypot(kx, ky)
    k[0, 0] = 1.0
    beta = _u(rng, cfg.fractal_beta)
    strike = np.radians(fabric if fabric is not None else rng.uniform(0, 180))
    elong = _u(rng, cfg.fractal_elongation)
    # wavenumber along and across the strike; stretching along the strike elongates features along it
    k_along = kx * np.sin(strike) + ky * np.cos(strike)
    k_across = kx * np.cos(strike) - ky * np.sin(strike)
    k_aniso = np.hypot(k_along * elong, k_across)
    k_aniso[0, 0] = 1.0
    white = np.fft.fft2(rng.normal(size=(R, C)))
    depth = _u(rng, cfg.fractal_depth)
    spec = white * k_aniso ** (-beta / 2.0) * np.exp(-k * depth)
    f = field_direction(inc, dec)  # (east, north, up); the phase factor wants the downward component
    theta = 1j * (kx * f[0] + ky * f[1]) + k * (-f[2])
    theta_pole = k  # vertical field and magnetisation
    spec = spec * (theta * theta) / (theta_pole * theta_pole)
    spec[0, 0] = 0.0
    out = np.real(np.fft.ifft2(spec))[pad_r:pad_r + rows, pad_c:pad_c + cols]
    return out / (np.std(out) or 1.0)


def _grid_from_lines(rng, field: np.ndarray, spacing: float) -> np.ndarray:
    """The grid a survey flown in straight lines ``spacing`` cells apart would give.

    The field is sampled along the lines (densely along each line) and
    interpolated across them with a cubic spline through the four nearest
    lines, as minimum-curvature and bicubic gridding do: features between
    lines lose detail, and dykes oblique to the lines get beaded.
    """
    rows, cols = field.shape
    az = np.radians(rng.choice([0.0, 90.0, 45.0, 135.0]) + rng.normal(0, 5))
    r, c = np.mgrid[0:rows, 0:cols].astype(np.float64)
    # across-line (u) and along-line (v) coordinates in cells; lines run along azimuth az
    u = c * np.cos(az) + r * np.sin(az)
    v = -c * np.sin(az) + r * np.cos(az)
    offset = rng.uniform(0, spacing)
    t = (u - u.min() - offset) / spacing
    i0 = np.floor(t)
    out = np.zeros_like(field, dtype=np.float64)
    ft = t - i0
    # Catmull-Rom weights through lines i0-1 .. i0+2
    w = [(-ft ** 3 + 2 * ft ** 2 - ft) / 2, (3 * ft ** 3 - 5 * ft ** 2 + 2) / 2,
         (-3 * ft ** 3 + 4 * ft ** 2 + ft) / 2, (ft ** 3 - ft ** 2) / 2]
    for j, wj in zip(range(-1, 3), w):
        uj = (i0 + j) * spacing + offset + u.min()
        # back to (row, col) on line j at the same along-line position
        cc = uj * np.cos(az) - v * np.sin(az)
        rr = uj * np.sin(az) + v * np.cos(az)
        out += wj * ndimage.map_coordinates(field, [rr, cc], order=1, mode="reflect")
    return out.astype(field.dtype)


def _line_noise(rng, E, N, cell, level, spacing_range) -> np.ndarray:
    """Levelling errors of a survey flown in lines: each line has its own slowly
    drifting offset, linearly interpolated between lines as gridding does."""
    az = np.radians(rng.choice([0.0, 90.0, 45.0, 135.0]) + rng.normal(0, 10))
    spacing = rng.uniform(*spacing_range) * cell
    across = E * np.cos(az) - N * np.sin(az)
    along = E * np.sin(az) + N * np.cos(az)
    pos = (across - across.min()) / spacing
    n_lines = int(np.ceil(pos.max())) + 2
    along_n = (along - along.min()) / (np.ptp(along) or 1.0)
    knots = 8
    offsets = rng.normal(0, 1, size=(n_lines, knots)).cumsum(axis=1) / np.sqrt(knots)
    offsets += rng.normal(0, 1, size=(n_lines, 1))
    k = np.clip(along_n * (knots - 1), 0, knots - 1)
    k0 = np.floor(k).astype(int)
    k1 = np.minimum(k0 + 1, knots - 1)
    fk = k - k0
    i0 = np.floor(pos).astype(int)
    i1 = i0 + 1
    fi = pos - i0
    def at(i):
        return offsets[i, k0] * (1 - fk) + offsets[i, k1] * fk
    values = at(i0) * (1 - fi) + at(i1) * fi
    return level * values / (np.std(values) or 1.0)


@dataclass
class SurveyResult:
    field_path: Path
    mask_path: Path
    axes_path: Path
    n_dykes: int


#: cells each side of a dyke's axis over which :func:`dyke_visibility` compares gradients
VISIBILITY_BAND = 8
#: visibility from which a dyke counts as one a detector can see in the field (its own gradient
#: above the median gradient of everything else around it)
VISIBLE = 1.0


def dyke_visibility(sample: SyntheticSample, band_cells: float = VISIBILITY_BAND) -> np.ndarray:
    """How far each labelled dyke stands out of the rest of its survey: a gradient signal-to-clutter ratio.

    For dyke ``k``: its own anomaly ``A`` (the prism alone, with its magnetisation, in the survey's
    field direction) and the rest of the survey ``R = field - A`` (other dykes, bodies, contacts,
    trends, noise). Over the cells within ``band_cells`` of its axis, the 95th percentile of
    ``|grad A|`` divided by the median of ``|grad R|``. Below about 1 the dyke's own gradient is
    weaker than the clutter around it: no detector can be expected to find it from the field alone;
    above 4 it is plain. It scores detectors on what they can see (``bench/bench_real_lineaments.py``:
    recall on dykes of visibility 1 or more).

    Parameters
    ----------
    sample : SyntheticSample
    band_cells : float
        Half-width of the band around each axis, cells.

    Returns
    -------
    ndarray of float, one value per dyke of ``sample.dykes`` (NaN for a dyke with fewer than 4 cells
    of its band inside the grid). Computed on a window around each dyke (one prism forward model).
    """
    field = np.asarray(sample.field, dtype=np.float64)
    rows, cols = field.shape
    c = float(sample.cell_size)
    out = np.full(len(sample.dykes), np.nan)
    margin = band_cells + 2
    for k, d in enumerate(sample.dykes):
        (e0, n0), (e1, n1) = d.axis()
        x0, y0, x1, y1 = e0 / c, rows - n0 / c, e1 / c, rows - n1 / c  # (col, row), cell centres at .5
        ca, cb = max(0, int(np.floor(min(x0, x1) - margin))), min(cols, int(np.ceil(max(x0, x1) + margin)))
        ra, rb = max(0, int(np.floor(min(y0, y1) - margin))), min(rows, int(np.ceil(max(y0, y1) + margin)))
        if cb - ca < 3 or rb - ra < 3:
            continue
        cc, rr = np.meshgrid(np.arange(ca, cb) + 0.5, np.arange(ra, rb) + 0.5)
        own = total_field_anomaly([d], cc * c, (rows - rr) * c, 0.0, inclination=sample.inclination,
                                  declination=sample.declination, parallel=False)
        # distance of each cell centre to the axis segment, cells
        dx, dy = x1 - x0, y1 - y0
        t = np.clip(((cc - x0) * dx + (rr - y0) * dy) / max(dx * dx + dy * dy, 1e-12), 0.0, 1.0)
        near = np.hypot(cc - (x0 + t * dx), rr - (y0 + t * dy)) <= band_cells
        if near.sum() < 4:
            continue
        g_own = np.hypot(*np.gradient(own))[near]
        g_rest = np.hypot(*np.gradient(field[ra:rb, ca:cb] - own))[near]
        out[k] = np.percentile(g_own, 95) / max(float(np.median(g_rest)), 1e-12 * (np.abs(g_own).max() + 1e-30))
    return out


def label_mask(sample: SyntheticSample, ignore_buried: bool = False) -> np.ndarray:
    """Training labels of a sample: 1 over dyke footprints, 0 elsewhere; with ``ignore_buried``, 2 (to be
    ignored by the loss) over the footprints of dykes of :func:`dyke_visibility` below :data:`VISIBLE`,
    where they do not overlap a visible dyke's. A network is then not taught to mark dykes that nothing in
    the field shows, nor taught that they are background."""
    if not ignore_buried or not sample.dykes:
        return sample.mask.copy()
    rows, cols = sample.mask.shape
    c = float(sample.cell_size)
    E, N = np.meshgrid((np.arange(cols) + 0.5) * c, (rows - np.arange(rows) - 0.5) * c)
    buried = dyke_visibility(sample) < VISIBLE  # NaN (hardly inside the grid): kept as labelled
    if not buried.any():
        return sample.mask.copy()
    seen = [d for d, b in zip(sample.dykes, buried) if not b]
    out = _footprint_mask(seen, E, N, c).astype(np.uint8) if seen else np.zeros((rows, cols), np.uint8)
    hidden = _footprint_mask([d for d, b in zip(sample.dykes, buried) if b], E, N, c) & (out == 0)
    out[hidden] = 2
    return out


def _default_crs():
    from rasterio.crs import CRS

    return CRS.from_epsg(32633)  # WGS 84 / UTM 33N: a projected CRS in metres


@all_or_nothing
def synthesize_survey(out_dir, *, rows: int = SAMPLE_SIZE, cols: int = SAMPLE_SIZE, cell_size: float = 50.0,
                      seed: int = 0, config: Optional[SurveyConfig] = None, origin=(500000.0, 6000000.0),
                      progress=None, cancel=None) -> SurveyResult:
    """Write a synthetic survey: ``field.tif`` (nT), ``mask.tif`` and ``axes.gpkg``.

    Parameters
    ----------
    out_dir : path
        Folder to write into (created).
    rows, cols : int
        Grid shape in cells (any size, at least 32 x 32).
    cell_size : float
        Cell size in metres.
    seed : int
        Seed of the random generator: the same seed gives the same survey.
    config : SurveyConfig
        Preset or custom ranges (default: the paper's recipe).
    origin : (float, float)
        Easting and northing (m) of the south-west corner, in WGS 84 / UTM 33N.

    Returns
    -------
    SurveyResult
        Paths of the three files and the number of dykes. ``axes.gpkg`` holds one line per dyke
        with ``id``, ``width_m``, ``depth_top_m``, ``height_m``, ``strike``, ``magnetization_am``
        and ``visibility`` (:func:`dyke_visibility`).
    """
    import geopandas as gpd
    import rasterio
    from rasterio.transform import from_origin
    from shapely.geometry import LineString, box

    from ..files import atomic_output, prepare_out_dir

    if rows < 32 or cols < 32:
        msg = f"survey size {rows} x {cols} is too small; give at least 32 x 32 cells"
        raise GeocoreError(msg)
    if not cell_size > 0:
        msg = f"cell size must be positive metres, got {cell_size}"
        raise GeocoreError(msg)
    if rows * cols > 40_000_000:
        msg = f"survey size {rows} x {cols} is above 40 million cells; synthesise smaller surveys"
        raise GeocoreError(msg)
    prog = Progress.wrap(progress, cancel)
    out = prepare_out_dir(out_dir)
    prog.update(0.02)
    sample = synthesize_sample(np.random.default_rng(seed), rows, cols, cell_size, config)
    prog.update(0.8)
    x0, y0 = origin
    transform = from_origin(x0, y0 + rows * cell_size, cell_size, cell_size)
    crs = _default_crs()
    profile = dict(driver="GTiff", width=cols, height=rows, count=1, crs=crs, transform=transform,
                   tiled=True, blockxsize=256, blockysize=256, compress="deflate")
    field_path, mask_path, axes_path = out / "field.tif", out / "mask.tif", out / "axes.gpkg"
    with atomic_output(field_path) as tmp:
        with rasterio.open(tmp, "w", dtype="float32", nodata=float("nan"), predictor=3, **profile) as dst:
            dst.write(sample.field, 1)
            dst.set_band_description(1, "total-field anomaly (nT)")
            dst.update_tags(units="nT", seed=str(seed), preset=(config or SurveyConfig()).preset,
                            inclination=f"{sample.inclination:.2f}", declination=f"{sample.declination:.2f}")
    prog.update(0.88)
    with atomic_output(mask_path) as tmp:
        with rasterio.open(tmp, "w", dtype="uint8", nodata=None, **profile) as dst:
            dst.write(sample.mask, 1)
            dst.set_band_description(1, "dyke footprint (1) / background (0)")
    prog.update(0.94)
    extent = box(x0, y0, x0 + cols * cell_size, y0 + rows * cell_size)
    visibility = dyke_visibility(sample)
    records = []
    for i, d in enumerate(sample.dykes):
        (e0, n0), (e1, n1) = d.axis()
        line = LineString([(x0 + e0, y0 + n0), (x0 + e1, y0 + n1)]).intersection(extent)
        if line.is_empty or line.length == 0:
            continue
        records.append(dict(id=i + 1, width_m=d.width, depth_top_m=-d.top, height_m=d.top - d.bottom,
                            strike=d.strike % 180.0, magnetization_am=float(np.linalg.norm(d.magnetization)),
                            visibility=float(visibility[i]), geometry=line))
    gdf = gpd.GeoDataFrame(records, geometry="geometry", crs=crs.to_wkt()) if records else gpd.GeoDataFrame(
        {"id": [], "width_m": [], "depth_top_m": [], "height_m": [], "strike": [], "magnetization_am": [],
         "visibility": []},
        geometry=gpd.GeoSeries([], crs=crs.to_wkt()))
    with atomic_output(axes_path) as tmp:
        gdf.to_file(tmp, driver="GPKG", layer="axes", engine="pyogrio")
    prog.update(1.0)
    return SurveyResult(field_path, mask_path, axes_path, len(records))
