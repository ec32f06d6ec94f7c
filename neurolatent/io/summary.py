"""A short human-readable summary of a recording Dataset (used by ``neurolatent info``)."""
from __future__ import annotations

import json

import numpy as np
import xarray as xr

__all__ = ["summarize"]


def summarize(ds: xr.Dataset) -> str:
    """Multi-line summary: source, sizes, duration, frame rate, neurons kept, data variables.

    A ``fit.nc`` written by :func:`neurolatent.fit_pipeline.fit_recording` also gets its fit
    options and whether each fit converged; any variable with NaN or inf values gets a
    ``warning:`` line (frames are counted along ``time``).

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
    if "time" in ds.coords and ds.sizes.get("time", 0) > 0 and ds["time"].attrs.get("units") == "1":
        lines.append(f"duration:     {ds.sizes['time']} bins (time is the bin index: the trials have their own "
                     "clocks, see trial_time)")
    elif "time" in ds.coords and ds.sizes.get("time", 0) > 0:
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
    if "trial" in ds.dims and "n_bins" in ds.coords:  # a joint fit of trials (fit.nc)
        per = [f"{t} ({int(n)} bins)" for t, n in zip(np.asarray(ds["trial"].values).tolist(), ds["n_bins"].values)]
        lines.append(f"trials:       {ds.sizes['trial']}: {', '.join(per)}")
    if "neurolatent_version" in a and "manifolds" in a:
        lines += _fit_lines(a)
    lines += _nonfinite_lines(ds)
    return "\n".join(lines)


def _fit_lines(a: dict) -> list[str]:
    """What a ``fit.nc`` records about its fit (attributes written by ``fit_recording``)."""
    def load(key):
        try:
            return json.loads(a.get(key, "{}"))
        except (TypeError, ValueError):
            return {}

    manifolds = load("manifolds") or []
    steps, conv = load("stop_step"), load("converged")
    per = [f"{m}: {steps.get(m, '?')} steps, {'converged' if conv.get(m) else 'NOT converged'}" for m in steps]
    lines = [f"fit:          {', '.join(manifolds)} ({a.get('likelihood', '?')} likelihood), neurolatent "
             f"{a.get('neurolatent_version', '?')}, {a.get('date_created', '?')}",
             f"fit steps:    {'; '.join(per) or '?'} (max_steps {a.get('max_steps', '?')}, early stopping "
             f"{a.get('early_stopping', '?')})"]
    if "cv_folds" in a:
        lines.append(f"cross-val:    {a['cv_folds']} folds, at most {a.get('cv_max_steps', '?')} steps per fold")
    return lines


def _nonfinite_lines(ds: xr.Dataset) -> list[str]:
    out = []
    for k, v in ds.data_vars.items():
        if not np.issubdtype(v.dtype, np.number):
            continue
        bad = ~np.isfinite(np.asarray(v.values))
        if "trial_time" in ds.coords and set(ds["trial_time"].dims) <= set(v.dims):  # NaN past a trial's end is padding
            pad = ~np.isfinite(np.asarray(ds["trial_time"].transpose(*[d for d in v.dims
                                                                       if d in ds["trial_time"].dims]).values))
            pad = np.expand_dims(pad, tuple(i for i, d in enumerate(v.dims) if d not in ds["trial_time"].dims))
            bad = bad & ~pad
        if not bad.any():
            continue
        if "time" in v.dims and v.ndim > 1:
            per_frame = bad.any(axis=tuple(i for i, d in enumerate(v.dims) if d != "time"))
            what = f"{int(per_frame.sum())} of {per_frame.size} frames"
        elif "time" in v.dims:
            what = f"{int(bad.sum())} of {bad.size} frames"
        else:
            what = f"{int(bad.sum())} of {bad.size} values"
        out.append(f"warning:      {k} has NaN or inf values in {what}; mask or interpolate them "
                   "(e.g. ds.interpolate_na('time')) before fitting")
    return out
