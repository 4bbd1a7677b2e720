"""Total-field anomaly of rotated right-rectangular prisms.

Coordinates are Cartesian in metres: easting, northing, upward (z up, so a
source below the observation plane has negative z). Angles are in degrees.
Inclination is positive downward (northern hemisphere), declination clockwise
from north, as in geomagnetic convention.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

MU0 = 4e-7 * np.pi  # vacuum permeability, H/m


def field_direction(inclination: float, declination: float) -> np.ndarray:
    """Unit vector (east, north, up) of a field with the given angles.

    Parameters
    ----------
    inclination : float
        Degrees below the horizontal (positive down).
    declination : float
        Degrees clockwise from geographic north.

    Examples
    --------
    >>> field_direction(90, 0).round(12).tolist()
    [0.0, 0.0, -1.0]
    """
    inc, dec = np.radians(inclination), np.radians(declination)
    return np.array([np.cos(inc) * np.sin(dec), np.cos(inc) * np.cos(dec), -np.sin(inc)])


@dataclass
class Prism:
    """A right-rectangular prism rotated about the vertical.

    Attributes
    ----------
    easting, northing : float
        Centre of the footprint (m).
    length : float
        Extent along strike (m).
    width : float
        Extent across strike (m).
    top, bottom : float
        Upward coordinates of the top and bottom faces (m; negative below the
        observation plane, ``bottom < top``).
    strike : float
        Azimuth of the long axis, degrees clockwise from north.
    magnetization : (3,) array
        Magnetisation vector (east, north, up) in A/m.
    """

    easting: float
    northing: float
    length: float
    width: float
    top: float
    bottom: float
    strike: float
    magnetization: np.ndarray

    def axis(self) -> tuple[tuple[float, float], tuple[float, float]]:
        """End points ((e0, n0), (e1, n1)) of the footprint's long centre line."""
        s = np.radians(self.strike)
        de, dn = 0.5 * self.length * np.sin(s), 0.5 * self.length * np.cos(s)
        return (self.easting - de, self.northing - dn), (self.easting + de, self.northing + dn)


def _rotation(strike: float) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors across strike (local easting) and along strike (local northing)."""
    s = np.radians(strike)
    along = np.array([np.sin(s), np.cos(s)])
    across = np.array([np.cos(s), -np.sin(s)])
    return across, along


def prism_field(prism: Prism, easting: np.ndarray, northing: np.ndarray, upward: np.ndarray,
                *, parallel: bool = True) -> np.ndarray:
    """Magnetic field B (east, north, up) of one rotated prism, in nT.

    The observation points are rotated into the prism's frame (local easting
    across strike, local northing along strike), the field is computed there
    with :func:`harmonica.prism_magnetic`, and the horizontal components are
    rotated back.

    Returns
    -------
    ndarray, shape (3,) + easting.shape
    """
    import harmonica as hm

    across, along = _rotation(prism.strike)
    de, dn = easting - prism.easting, northing - prism.northing
    u_across = de * across[0] + dn * across[1]
    u_along = de * along[0] + dn * along[1]
    m = np.asarray(prism.magnetization, dtype=float)
    m_local = (np.array([m[0] * across[0] + m[1] * across[1]]),
               np.array([m[0] * along[0] + m[1] * along[1]]),
               np.array([m[2]]))
    box = [[-prism.width / 2, prism.width / 2, -prism.length / 2, prism.length / 2, prism.bottom, prism.top]]
    b_across, b_along, b_up = hm.prism_magnetic((u_across, u_along, upward), box, m_local, field="b",
                                                parallel=parallel, disable_checks=True)
    b_e = b_across * across[0] + b_along * along[0]
    b_n = b_across * across[1] + b_along * along[1]
    return np.stack([b_e, b_n, b_up])


def total_field_anomaly(prisms: list[Prism], easting: np.ndarray, northing: np.ndarray,
                        upward: np.ndarray | float = 0.0, *, field_intensity: float = 50000.0,
                        inclination: float = 90.0, declination: float = 0.0,
                        parallel: bool = True) -> np.ndarray:
    """Total-field anomaly ``dT = |T0 + B| - |T0|`` of prisms, in nT.

    Parameters
    ----------
    prisms : list of Prism
        The sources.
    easting, northing : ndarray
        Observation coordinates (m), any matching shape.
    upward : ndarray or float
        Observation height (m, up positive).
    field_intensity : float
        Intensity of the normal (main) field ``|T0|`` in nT.
    inclination, declination : float
        Direction of the normal field in degrees.

    Notes
    -----
    The exact definition is used rather than the projection ``B . t`` (its first
    order approximation), as the lineament paper does; the two agree to
    ``|B|^2 / (2 |T0|)``, a fraction of a nT for crustal anomalies.
    """
    easting = np.asarray(easting, dtype=float)
    northing = np.asarray(northing, dtype=float)
    upward = np.broadcast_to(np.asarray(upward, dtype=float), easting.shape)
    t0 = field_intensity * field_direction(inclination, declination)
    b = np.zeros((3,) + easting.shape)
    for prism in prisms:
        b += prism_field(prism, easting, northing, upward, parallel=parallel)
    total = np.sqrt((t0[0] + b[0]) ** 2 + (t0[1] + b[1]) ** 2 + (t0[2] + b[2]) ** 2)
    return total - field_intensity


def dipole_total_field(moment: np.ndarray, source: np.ndarray, easting, northing, upward,
                       *, inclination: float, declination: float) -> np.ndarray:
    """Total-field anomaly (projection on the normal field) of a point dipole, in nT.

    A closed-form reference for tests: ``B = mu0/(4 pi) (3 (m.r) r / r^5 - m / r^3)``.

    Parameters
    ----------
    moment : (3,) array
        Dipole moment (east, north, up) in A m^2.
    source : (3,) array
        Dipole position (m).
    """
    r = np.stack([np.asarray(easting) - source[0], np.asarray(northing) - source[1],
                  np.asarray(upward) - source[2]])
    dist = np.sqrt((r ** 2).sum(axis=0))
    mdotr = (moment.reshape(3, *([1] * (r.ndim - 1))) * r).sum(axis=0)
    b = MU0 / (4 * np.pi) * (3 * mdotr * r / dist ** 5 - moment.reshape(3, *([1] * (r.ndim - 1))) / dist ** 3)
    t = field_direction(inclination, declination)
    return 1e9 * (b * t.reshape(3, *([1] * (r.ndim - 1)))).sum(axis=0)
