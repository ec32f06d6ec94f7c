"""Neuropil subtraction."""
from __future__ import annotations

import numpy as np
import xarray as xr

from ._common import finish

__all__ = ["neuropil_correct"]

DEFAULT_COEF = 0.7  # suite2p's default neucoeff


def neuropil_correct(ds: xr.Dataset, coef: float | None = None, *, var: str = "F", neuropil: str = "Fneu",
                     out: str = "F_corrected") -> xr.Dataset:
    r"""Subtract scaled neuropil: :math:`F_\mathrm{corr} = F - c\,F_\mathrm{neu}`.

    Parameters
    ----------
    ds : xarray.Dataset
        Recording with ``var`` and ``neuropil`` traces (``F``/``Fneu`` from suite2p).
    coef : float, optional
        The coefficient :math:`c`; default: the one recorded by the source (``attrs["neucoeff"]``,
        suite2p's ``ops["neucoeff"]``), else 0.7.
    var, neuropil, out : str
        Input and output variable names.

    Returns
    -------
    xarray.Dataset
        A new Dataset with ``out`` (float32, computed in float64) added; provenance appended.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> from neurolatent.preprocessing import neuropil_correct
    >>> ds = xr.Dataset({"F": (("time", "neuron"), np.full((3, 2), 10.0, np.float32)),
    ...                  "Fneu": (("time", "neuron"), np.full((3, 2), 5.0, np.float32))}, attrs={"fs": 1.0})
    >>> float(neuropil_correct(ds, 0.5).F_corrected[0, 0])
    7.5
    """
    for name in (var, neuropil):
        if name not in ds.data_vars:
            raise KeyError(f"neuropil_correct: variable {name!r} is missing (variables: {list(ds.data_vars)}); "
                           "it needs the ROI trace and its neuropil trace, e.g. suite2p's F and Fneu")
    origin = "argument"
    if coef is None:
        coef, origin = (float(ds.attrs["neucoeff"]), "attrs['neucoeff']") if "neucoeff" in ds.attrs \
            else (DEFAULT_COEF, "default 0.7")
    coef = float(coef)
    if not np.isfinite(coef) or coef < 0:
        raise ValueError(f"neuropil_correct: coef must be a finite number >= 0, got {coef}")
    corrected = ds[var].astype(np.float64) - coef * ds[neuropil].astype(np.float64)
    new = ds.assign({out: corrected.astype(np.float32)})
    return finish(new, ds, "neuropil_correct", {"coef": coef, "coef_origin": origin, "var": var,
                                                 "neuropil": neuropil, "out": out})
