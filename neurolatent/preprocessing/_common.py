"""Helpers shared by the preprocessing steps (frame rate, variable choice, provenance)."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import xarray as xr

from ..io._layout import append_provenance, check_fs

__all__ = ["frame_rate", "pick_var", "finish", "trace_vars"]


def frame_rate(ds: xr.Dataset) -> float:
    """``ds.attrs['fs']``, else ``1 / median(diff(time))``; raises FrameRateError when neither works."""
    if "fs" in ds.attrs:
        return check_fs(ds.attrs["fs"], "dataset attrs['fs']")
    if "time" in ds.coords and ds.sizes.get("time", 0) > 1:
        return check_fs(1.0 / float(np.median(np.diff(ds["time"].values))), "dataset time coordinate")
    return check_fs(None, "dataset without attrs['fs'] or a time coordinate")


def trace_vars(ds: xr.Dataset) -> list[str]:
    """Names of the floating-point ``(time, neuron)`` data variables."""
    return [k for k, v in ds.data_vars.items()
            if set(v.dims) == {"time", "neuron"} and np.issubdtype(v.dtype, np.floating)]


def pick_var(ds: xr.Dataset, var: str | None, preferred: Sequence[str], step: str) -> str:
    """``var`` if given (must exist), else the first of ``preferred`` present, else the only trace."""
    if var is not None:
        if var not in ds.data_vars:
            raise KeyError(f"{step}: variable {var!r} is not in the dataset (variables: {list(ds.data_vars)})")
        return var
    for name in preferred:
        if name in ds.data_vars:
            return name
    traces = trace_vars(ds)
    if len(traces) == 1:
        return traces[0]
    raise ValueError(f"{step}: cannot tell which variable to use among {traces}; pass var=")


def finish(new: xr.Dataset, old: xr.Dataset, step: str, params: Mapping[str, Any],
           attrs: Mapping[str, Any] | None = None) -> xr.Dataset:
    """Give ``new`` the attrs of ``old`` updated with ``attrs``, and ``step`` appended to the provenance."""
    new.attrs = append_provenance(old.assign_attrs(dict(attrs or {})), step, params)
    return new
