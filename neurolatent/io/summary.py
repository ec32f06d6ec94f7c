"""A short human-readable summary of a recording Dataset (used by ``neurolatent info``)."""
from __future__ import annotations

import numpy as np
import xarray as xr

__all__ = ["summarize"]


def summarize(ds: xr.Dataset) -> str:
    """Multi-line summary: source, sizes, duration, frame rate, neurons kept, data variables.

    Parameters
    ----------
    ds : xarray.Dataset
        A recording in the standard layout (any Dataset works; missing items print as ``?``).

    Returns
    -------
    str

    Examples
    --------
    >>> from neurolatent.datasets import make_ring_recording
    >>> from neurolatent.io import summarize
    >>> print(summarize(make_ring_recording(n_neurons=8, n_time=100, fs=10.0)))  # doctest: +ELLIPSIS
    source:       synthetic ring recording (make_ring_recording)
    path:         -
    dims:         time: 100, neuron: 8
    duration:     9.9 s (0 to 9.9 s)
    frame rate:   10 Hz
    neurons:      8
    data vars:    dff (time, neuron) float32, latent (time) float32
    """
    a = ds.attrs
    dims = ", ".join(f"{k}: {v}" for k, v in ds.sizes.items())
    lines = [f"source:       {a.get('source', '?')}", f"path:         {a.get('source_path', '-')}", f"dims:         {dims}"]
    if "time" in ds.coords and ds.sizes.get("time", 0) > 0:
        t = np.asarray(ds["time"].values, dtype=np.float64)
        lines.append(f"duration:     {t[-1] - t[0]:.4g} s ({t[0]:.4g} to {t[-1]:.4g} s)")
    fs = a.get("fs")
    fs_txt = f"{float(fs):.6g} Hz" if fs is not None else "?"
    if a.get("fs_origin"):
        fs_txt += f" (from {a['fs_origin']})"
    if a.get("fs_note"):
        fs_txt += f" -- {a['fs_note']}"
    lines.append(f"frame rate:   {fs_txt}")
    n = ds.sizes.get("neuron")
    if n is not None:
        total = a.get("n_rois_total", n)
        txt = f"{n}" if total == n else f"{n} of {total} ROIs"
        for label in ("iscell", "accepted"):
            if label in ds.coords:
                kept = int(np.asarray(ds[label].values, dtype=bool).sum())
                txt += f"; {kept} of {n} labelled cells ({label})"
        lines.append(f"neurons:      {txt}")
    vars_txt = ", ".join(f"{k} ({', '.join(map(str, v.dims))}) {v.dtype}" for k, v in ds.data_vars.items())
    lines.append(f"data vars:    {vars_txt or '-'}")
    return "\n".join(lines)
