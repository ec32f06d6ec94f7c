"""Z-scoring over time."""
from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np
import xarray as xr

from ..io.errors import RecordingDataWarning
from ._common import finish, trace_vars

__all__ = ["zscore"]


def zscore(ds: xr.Dataset, vars: Sequence[str] | str | None = None) -> xr.Dataset:
    r"""Standardise each ROI over time: :math:`z = (x - \bar x) / s`, :math:`s` the population std (ddof=0).

    NaN frames are ignored in the mean and std and stay NaN. A constant trace (:math:`s = 0`) becomes
    all zeros, with a :class:`~neurolatent.io.errors.RecordingDataWarning` naming it.

    Parameters
    ----------
    ds : xarray.Dataset
    vars : str or list of str, optional
        Variables to standardise in place (in the returned copy); default every floating
        ``(time, neuron)`` variable.

    Returns
    -------
    xarray.Dataset

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> from neurolatent.preprocessing import zscore
    >>> ds = xr.Dataset({"F": (("time", "neuron"), np.array([[1.0], [3.0]], np.float32))})
    >>> zscore(ds).F.values.ravel().tolist()
    [-1.0, 1.0]
    """
    names = trace_vars(ds) if vars is None else ([vars] if isinstance(vars, str) else list(vars))
    new = ds.copy()
    for name in names:
        da = ds[name]
        x = da.values.astype(np.float64)
        axis = da.dims.index("time")
        mean = np.nanmean(x, axis=axis, keepdims=True)
        sd = np.nanstd(x, axis=axis, keepdims=True)
        flat = ~(sd > 0)
        if flat.any():
            warnings.warn(f"zscore: {int(flat.sum())} constant trace(s) in {name!r} set to 0",
                          RecordingDataWarning, stacklevel=2)
        z = (x - mean) / np.where(flat, 1.0, sd)
        new[name] = da.copy(data=z.astype(da.dtype))
    return finish(new, ds, "zscore", {"vars": names})
