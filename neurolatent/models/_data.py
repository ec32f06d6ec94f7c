"""Input coercion for the models: xarray / numpy / torch -> (tensor, time coord, neuron names)."""
from __future__ import annotations

import numpy as np
import torch
import xarray as xr

__all__ = ["as_recording_matrix"]


def as_recording_matrix(Y, *, name: str = "Y", min_neurons: int = 2):
    """Return ``(Y (time, neuron) float numpy, time (T,) float numpy, neuron labels list)``.

    ``Y`` is an :class:`xarray.DataArray` with dims ``("time", "neuron")`` (any order), a
    2-D numpy array or a tensor laid out as (time, neuron).
    """
    time = None
    neurons = None
    if isinstance(Y, xr.Dataset):
        raise TypeError(
            f"{name} is an xarray.Dataset; pass one of its variables, e.g. ds['dff'] or ds['Y'] "
            f"(variables: {list(Y.data_vars)})"
        )
    if isinstance(Y, xr.DataArray):
        if set(Y.dims) != {"time", "neuron"}:
            raise ValueError(
                f"{name} must have dims ('time', 'neuron'), got {Y.dims}; rename them, e.g. "
                "Y.rename({'frame': 'time', 'roi': 'neuron'})"
            )
        Y = Y.transpose("time", "neuron")
        if "time" in Y.coords:
            try:
                time = np.asarray(Y["time"].values, dtype=float)
            except (TypeError, ValueError):
                time = None
        if "neuron" in Y.coords:
            neurons = np.asarray(Y["neuron"].values).tolist()  # python ints/strs: JSON-safe
        arr = np.asarray(Y.values, dtype=float)
    elif torch.is_tensor(Y):
        arr = Y.detach().cpu().numpy().astype(float)
    else:
        arr = np.asarray(Y, dtype=float)
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 2-D (time, neuron), got shape {arr.shape}")
    T, N = arr.shape
    if N < min_neurons:
        raise ValueError(
            f"{name} has {N} neuron(s) (shape {arr.shape}, read as (time, neuron)); the mGPLVM needs at "
            f"least {min_neurons}. If the array is (neuron, time), pass Y.T"
        )
    if T < 2:
        raise ValueError(f"{name} has {T} time point(s) (shape {arr.shape}); need at least 2")
    if not np.all(np.isfinite(arr)):
        bad_t = np.unique(np.nonzero(~np.isfinite(arr))[0])
        raise ValueError(
            f"{name} contains NaN/inf at {int((~np.isfinite(arr)).sum())} entries (time indices "
            f"{bad_t[:5].tolist()}{'...' if len(bad_t) > 5 else ''}); drop or interpolate those bins first, "
            "e.g. Y.dropna('time')"
        )
    if time is None:
        time = np.arange(T, dtype=float)
    if neurons is None:
        neurons = list(range(N))
    return arr, time, neurons
