"""Profiles across lines: does a mapped line carry a magnetic anomaly of its own?

A geological map's dykes (or any interpreter's lines) are not all visible in a magnetic grid: some
dykes are thin, deep or weakly magnetised, some lines are mapped from outcrop a few hundred metres
from where their anomaly lies. At stations along a line, the field is sampled across it (the
interpreter's profile); the typical (median) size of the anomaly near the line, against that of
the same line moved sideways to where it does not lie, is a signal-to-clutter ratio that does not
depend on any detector: about 1 for a line that stands out no more than its surroundings, several
for a line with a clear anomaly of its own.

On synthetic surveys it follows the forward-modelled :func:`geocore.magnetics.synthetic.dyke_visibility`
(``tests/test_profiles.py``); the benchmark uses it to score detectors on the mapped lines of a real
survey that the field shows (``bench/bench_real_lineaments.py``).
"""

from __future__ import annotations

from typing import Optional, Sequence

import numpy as np

from ..errors import GeocoreError

#: A line with a profile contrast at or above this counts as carrying an anomaly (the
#: benchmark's "recall (with anomaly)" column). Chosen on synthetic surveys against the
#: forward-modelled visibility (``tests/test_profiles.py``), not on a real survey.
ANOMALOUS = 1.5
# (on three realistic synthetic surveys, lines of contrast >= 1.5 and of forward-modelled visibility
# >= 1 agree on 92 % of the dyke length; 1.2: 84 %, 2: 91 %, 3: 79 %)

#: Sideways shifts of the chance copies, in units of the profile's full width.
DEFAULT_SHIFTS = (-3.0, -2.0, -1.0, 1.0, 2.0, 3.0)


def _sampler(grid):
    """Bilinear sampling of the grid at (x, y) in its CRS, NaN outside the grid or near nodata."""
    from scipy.ndimage import map_coordinates

    data = np.asarray(grid.data, dtype=np.float64)
    valid = np.isfinite(data)
    filled = np.where(valid, data, 0.0)
    weight = valid.astype(np.float64)
    inv = ~grid.transform

    def sample(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        col, row = inv * (np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64))
        coords = np.vstack([np.ravel(row) - 0.5, np.ravel(col) - 0.5])
        v = map_coordinates(filled, coords, order=1, mode="constant", cval=0.0)
        w = map_coordinates(weight, coords, order=1, mode="constant", cval=0.0)
        out = np.where(w > 0.999, v / np.maximum(w, 1e-12), np.nan)
        return out.reshape(np.shape(x))

    return sample


def _stations(geom, step: float):
    """Points every ``step`` along each part of a (multi)line and the unit normal at each: (xy, normals)."""
    parts = list(getattr(geom, "geoms", [geom]))
    xy, nrm = [], []
    for part in parts:
        length = float(part.length)
        if length <= 0:
            continue
        s = np.arange(step / 2.0, length, step) if length > step else np.array([length / 2.0])
        pts = np.array([part.interpolate(v).coords[0][:2] for v in s])
        a = np.array([part.interpolate(max(v - step, 0.0)).coords[0][:2] for v in s])
        b = np.array([part.interpolate(min(v + step, length)).coords[0][:2] for v in s])
        t = b - a
        t /= np.maximum(np.hypot(t[:, 0], t[:, 1]), 1e-12)[:, None]
        xy.append(pts)
        nrm.append(np.column_stack([-t[:, 1], t[:, 0]]))
    if not xy:
        return np.empty((0, 2)), np.empty((0, 2))
    return np.vstack(xy), np.vstack(nrm)


def _profiles(sample, xy: np.ndarray, normals: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """The grid across the line at every station: shape ``(offsets, stations)``, NaN off the data."""
    x = xy[:, 0][None, :] + offsets[:, None] * normals[:, 0][None, :]
    y = xy[:, 1][None, :] + offsets[:, None] * normals[:, 1][None, :]
    return sample(x, y)


def _anomaly(offsets: np.ndarray, values: np.ndarray, reach: float) -> float:
    """Median over the stations of the peak-to-trough of each detrended profile within ``reach``.

    Each station's profile has its straight trend removed (a regional field, the flank of a body),
    fitted to the samples on data; a station counts when every sample within ``reach`` and at least
    half of the whole profile are on data (a line along a survey's edge is still measured). NaN with
    fewer than 2 such stations.
    """
    valid = np.isfinite(values)
    near = np.abs(offsets) <= reach
    if near.sum() < 2:
        return float("nan")
    ok = valid[near].all(axis=0) & (valid.sum(axis=0) >= 0.5 * len(offsets))
    if ok.sum() < 2:
        return float("nan")
    w = valid[:, ok].astype(np.float64)
    v = np.where(valid, values, 0.0)[:, ok]
    x = offsets[:, None]
    n, sx, sxx = w.sum(axis=0), (w * x).sum(axis=0), (w * x * x).sum(axis=0)
    sy, sxy = (w * v).sum(axis=0), (w * x * v).sum(axis=0)
    slope = (n * sxy - sx * sy) / np.maximum(n * sxx - sx * sx, 1e-12)
    intercept = (sy - slope * sx) / n
    resid = v - (slope[None, :] * x + intercept[None, :])
    return float(np.median(np.ptp(resid[near], axis=0)))


def line_anomaly_contrast(grid, lines, *, tolerance: float, window: Optional[float] = None,
                          shifts: Sequence[float] = DEFAULT_SHIFTS) -> np.ndarray:
    """Anomaly of each line across its strike over that of the same line moved sideways.

    At stations every cell along the line, the grid is sampled on a profile across it out to
    ``window`` on either side; each profile loses its straight trend over that width (a regional
    field, the flank of a body), and its peak-to-trough within ``1.5 * tolerance`` of the line is the
    anomaly there (a dipolar anomaly at low magnetic latitude, a line mapped up to the tolerance off
    its anomaly: both are caught). The line's anomaly is the median over its stations. The same is
    measured on copies of the line shifted sideways (perpendicular to its end-to-end strike) by
    ``shifts`` times ``2 * window``; the contrast is the line's anomaly over their median.

    Parameters
    ----------
    grid : geocore.grids.io.Grid
        A projected grid (metres), e.g. the total-field anomaly (nT). Nodata cells are NaN.
    lines : GeoDataFrame
        Lines in any CRS (reprojected to the grid's).
    tolerance : float
        How far, metres, a line may lie from its anomaly (the comparison's tolerance).
    window : float or None
        Half-width of the profile, metres (default ``4 * tolerance``, at least 4 cells).
    shifts : sequence of float
        Sideways shifts of the chance copies, in units of the profile's full width ``2 * window``.

    Returns
    -------
    ndarray of float, one contrast per row of ``lines`` (dimensionless; NaN for a line with fewer
    than 2 chance copies on data, or not on the grid). About 1: no more anomaly than its
    surroundings; :data:`ANOMALOUS` (1.5) or more: a line with an anomaly of its own.

    Raises
    ------
    GeocoreError
        A grid without a projected CRS, or a tolerance that is not positive.
    """
    from shapely.affinity import translate

    if not (tolerance > 0):
        msg = f"tolerance must be a positive distance in metres, got {tolerance!r}"
        raise GeocoreError(msg)
    if grid.crs is None or not grid.crs.is_projected:
        msg = ("profiles across lines need a grid in a projected CRS (metres); reproject it first, "
               "e.g. gdalwarp -t_srs EPSG:<UTM zone> IN OUT.tif")
        raise GeocoreError(msg)
    step = min(grid.spacing)
    if window is None:
        window = max(4.0 * tolerance, 4.0 * step)
    offsets = np.arange(-window, window + step / 2.0, step)
    reach = 1.5 * tolerance
    sample = _sampler(grid)
    gdf = lines.to_crs(grid.crs) if lines.crs is not None and lines.crs != grid.crs else lines
    out = np.full(len(gdf), np.nan)
    for k, geom in enumerate(gdf.geometry):
        if geom is None or geom.is_empty:
            continue
        xy, normals = _stations(geom, step)
        if len(xy) == 0:
            continue
        own = _anomaly(offsets, _profiles(sample, xy, normals, offsets), reach)
        if not np.isfinite(own):
            continue
        (x0, y0), (x1, y1) = xy[0], xy[-1]
        t = np.array([x1 - x0, y1 - y0], dtype=np.float64)
        t = t / np.hypot(*t) if np.hypot(*t) > 0 else np.array([1.0, 0.0])
        n = np.array([-t[1], t[0]])
        chance = []
        for s in shifts:
            dx, dy = n * (s * 2.0 * window)
            moved = translate(geom, dx, dy)
            mxy, mn = _stations(moved, step)
            a = _anomaly(offsets, _profiles(sample, mxy, mn, offsets), reach)
            if np.isfinite(a):
                chance.append(a)
        if len(chance) >= 2 and np.median(chance) > 0:
            out[k] = own / float(np.median(chance))
    return out


#: How far, in cells, a detected line may lie from its anomaly (the contrast's tolerance).
FIELD_TOLERANCE_CELLS = 2.0


def line_field_contrast(grid_path, lines, *, band: int = 1, tolerance_cells: float = FIELD_TOLERANCE_CELLS,
                        progress=None) -> np.ndarray:
    """:func:`line_anomaly_contrast` of each line on a grid file, read one window per line.

    Memory stays bounded on grids of any size: each line reads only the window its profiles and
    their sideways copies reach (the line's extent plus ``28 * tolerance_cells`` cells each side).

    Parameters
    ----------
    grid_path : path
        The field (any GDAL raster) in the lines' CRS: the grid ``detect`` ran on.
    lines : GeoDataFrame
        Lines in the grid's CRS.
    band : int
        Band of the grid.
    tolerance_cells : float
        How far, cells, a line may lie from its anomaly.
    progress : callable or Progress, optional

    Returns
    -------
    ndarray of float, one per line; all NaN for a grid without a projected CRS (pixel space).
    """
    import rasterio
    from rasterio.windows import Window, from_bounds

    from ..grids.io import Grid
    from ..progress import Progress

    prog = Progress.wrap(progress)
    out = np.full(len(lines), np.nan)
    with rasterio.open(grid_path) as ds:
        if ds.crs is None or not ds.crs.is_projected or len(lines) == 0:
            return out
        cell = min(abs(ds.transform.a), abs(ds.transform.e))
        tol = float(tolerance_cells) * cell
        window = max(4.0 * tol, 4.0 * cell)
        margin = (2.0 * max(abs(s) for s in DEFAULT_SHIFTS) + 1.0) * window + 2.0 * cell
        full = Window(0, 0, ds.width, ds.height)
        for k, geom in enumerate(lines.geometry):
            prog.check()
            if geom is None or geom.is_empty:
                continue
            x0, y0, x1, y1 = geom.bounds
            win = from_bounds(x0 - margin, y0 - margin, x1 + margin, y1 + margin, ds.transform)
            win = win.round_offsets(op="floor").round_lengths(op="ceil")
            try:
                win = win.intersection(full)
            except Exception:  # rasterio.errors.WindowError: the line lies off the grid
                continue
            data = ds.read(band, window=win, masked=True).astype(np.float64).filled(np.nan)
            grid = Grid(data=data, transform=ds.window_transform(win), crs=ds.crs)
            out[k] = line_anomaly_contrast(grid, lines.iloc[[k]], tolerance=tol, window=window)[0]
            prog.update((k + 1) / len(lines))
    return out
