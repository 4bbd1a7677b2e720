"""Filling nodata cells: the nearest cell with data, so that no step is made along a nodata edge."""

from __future__ import annotations

import numpy as np


def fill_nearest(arr: np.ndarray, nodata: np.ndarray) -> np.ndarray:
    """Give each nodata cell of ``arr`` the value of the nearest cell with data.

    A constant fill (the neutral value of a normalisation, or the mean) makes
    a step along every nodata edge, and to a network or a derivative a step is
    what a contact or the flank of a dyke looks like: lines were drawn along
    survey outlines. Extending the nearest values leaves no step (outputs over
    nodata are masked anyway). The tiled inference fills each normalised tile
    so (:func:`geocore.inference.predict_raster`); measured on a 576 x 576
    synthetic survey with an irregular outline: vectorised F1 0.663 -> 0.758
    (realistic preset), 0.869 -> 0.941 (paper preset); length of line within
    300 m of the outline 25 % -> 10 % and 13 % -> 5 %.

    Also what the potential-field transforms fill gaps with
    (:func:`geocore.magnetics.transforms.fill_nan_nearest`) and what a grid
    is refined from (:func:`geocore.lineaments.scale.refine_rows`).

    Parameters
    ----------
    arr : ndarray (..., rows, cols)
        Values (every leading slice is filled alike).
    nodata : ndarray (rows, cols) of bool
        Cells without data.

    Returns
    -------
    ndarray
        ``arr`` itself when there is nothing to fill (no nodata, or no data at
        all), else a filled copy.
    """
    if not nodata.any() or nodata.all():
        return arr
    from scipy import ndimage

    _, (ii, jj) = ndimage.distance_transform_edt(nodata, return_indices=True)
    out = arr.copy()
    out[..., nodata] = arr[..., ii[nodata], jj[nodata]]
    return out
