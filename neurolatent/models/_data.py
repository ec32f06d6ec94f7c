"""Input coercion for the models: xarray / numpy / torch -> (tensor, time coord, neuron names)."""
from __future__ import annotations

import numpy as np
import torch
import xarray as xr

__all__ = ["as_recording_matrix", "as_recording", "Recording"]


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


class Recording:
    """Trials of one population stacked along time: what :class:`~neurolatent.models.MGPLVM` fits.

    Attributes
    ----------
    Y : numpy.ndarray
        ``(T, N)`` all trials' bins one after the other (trial 0 first).
    time : numpy.ndarray
        ``(T,)`` each bin's time stamp on its own trial's clock.
    neurons : list
        ``N`` neuron labels (shared by every trial).
    trials : list or None
        Trial labels, or ``None`` for a single recording without a ``trial`` dimension.
    lengths : list of int
        Bins per trial (``[T]`` without trials).
    """

    def __init__(self, Y, time, neurons, trials, lengths):
        self.Y, self.time, self.neurons = Y, time, neurons
        self.trials, self.lengths = trials, [int(n) for n in lengths]

    @property
    def starts(self) -> np.ndarray:
        """``(T,)`` bool: True at the first bin of every trial (where a temporal chain restarts)."""
        out = np.zeros(self.Y.shape[0], dtype=bool)
        out[np.cumsum([0] + self.lengths[:-1])] = True
        return out

    @property
    def trial_index(self) -> np.ndarray:
        """``(T,)`` int: the trial (position in :attr:`lengths`) of every bin."""
        return np.repeat(np.arange(len(self.lengths)), self.lengths)


def _trial_label(x):
    """A JSON-safe trial label (python int/float/str)."""
    return x.item() if isinstance(x, np.generic) else x


def as_recording(Y, *, name: str = "Y", min_neurons: int = 2) -> Recording:
    """Read ``Y`` with or without trials into a :class:`Recording`.

    Accepted layouts:

    * one recording: a ``(time, neuron)`` DataArray, 2-D array or tensor
      (:func:`as_recording_matrix`); ``trials`` is then ``None``;
    * a DataArray with dims ``("trial", "time", "neuron")`` (any order; bins that are NaN for every
      neuron at the end of a trial are padding and are dropped, so trials may differ in length);
    * a 3-D array or tensor laid out as ``(trial, time, neuron)``;
    * a list or tuple of ``(time, neuron)`` DataArrays / arrays, possibly of different lengths,
      or a dict of them keyed by trial label (e.g. ``{"light": Y1, "dark": Y2}``; each keeps its
      own ``time`` coordinate, which a ``trial`` dim could not).

    Every trial must have the same neurons (count, and labels where given).

    Examples
    --------
    >>> import numpy as np
    >>> rec = as_recording([np.ones((5, 3)), np.zeros((2, 3))])
    >>> rec.Y.shape, rec.lengths, rec.trials, rec.starts.nonzero()[0].tolist()
    ((7, 3), [5, 2], [0, 1], [0, 5])
    """
    if isinstance(Y, xr.DataArray) and "trial" in Y.dims:
        if set(Y.dims) != {"trial", "time", "neuron"}:
            raise ValueError(f"{name} has a 'trial' dim, so it must have dims ('trial', 'time', 'neuron'), "
                             f"got {Y.dims}; rename the others, e.g. Y.rename({{'frame': 'time', 'roi': 'neuron'}})")
        Y = Y.transpose("trial", "time", "neuron")
        labels = (np.asarray(Y["trial"].values).tolist() if "trial" in Y.coords
                  else list(range(Y.sizes["trial"])))
        items = []
        for k in range(Y.sizes["trial"]):
            tr = Y.isel(trial=k, drop=True)
            pad = np.isnan(np.asarray(tr.values, dtype=float)).all(1)
            keep = len(pad) - int(np.argmin(pad[::-1])) if not pad.all() else 0  # drop trailing all-NaN bins
            items.append(tr.isel(time=slice(0, keep)))
    elif isinstance(Y, (list, tuple, dict)):
        if len(Y) == 0:
            raise ValueError(f"{name} is an empty {type(Y).__name__}; pass at least one (time, neuron) trial")
        items, labels = (list(Y.values()), list(Y)) if isinstance(Y, dict) else (list(Y), list(range(len(Y))))
    elif (isinstance(Y, np.ndarray) or torch.is_tensor(Y)) and Y.ndim == 3:
        items = [Y[k] for k in range(Y.shape[0])]
        labels = list(range(len(items)))
    else:
        arr, time, neurons = as_recording_matrix(Y, name=name, min_neurons=min_neurons)
        return Recording(arr, time, neurons, None, [arr.shape[0]])
    labels = [_trial_label(x) for x in labels]
    if len(set(map(str, labels))) != len(labels):
        raise ValueError(f"{name} has repeated trial labels {labels}; give every trial its own label")
    arrs, times, neurons = [], [], None
    for lab, item in zip(labels, items):
        what = f"{name} trial {lab!r}"
        if isinstance(item, xr.DataArray) and "trial" in item.dims:
            raise ValueError(f"{what} has a 'trial' dim itself; pass a list of (time, neuron) trials")
        arr, time, nrn = as_recording_matrix(item, name=what, min_neurons=min_neurons)
        if neurons is None:
            neurons, first = nrn, lab
        elif len(nrn) != len(neurons):
            raise ValueError(f"{what} has {len(nrn)} neurons but trial {first!r} has {len(neurons)}; every trial "
                             "must record the same neurons (drop the extra ones, or fit that trial on its own)")
        elif isinstance(item, xr.DataArray) and "neuron" in item.coords and list(nrn) != list(neurons):
            raise ValueError(f"{what} has neuron labels {nrn[:5]}... but trial {first!r} has {neurons[:5]}...; "
                             "order every trial's neurons the same way, e.g. Y_k.sel(neuron=Y_0.neuron)")
        arrs.append(arr)
        times.append(time)
    return Recording(np.concatenate(arrs, 0), np.concatenate(times), neurons, labels, [a.shape[0] for a in arrs])
