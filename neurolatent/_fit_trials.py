"""Several recordings fitted jointly as trials by :func:`neurolatent.fit_pipeline.fit_recording`.

The pieces that differ from a single recording: reading and labelling the trials (a trial's label
is its file's stem or its key in a dict), checking they record the same neurons, laying the data
out as (trial, time, neuron) for ``fit.nc``, the per-trial reference errors and the per-trial
latent figures. The model itself (shared tuning curves, one latent path per trial) is
:class:`~neurolatent.models.MGPLVM` fitted to a dict of (time, neuron) DataArrays.
"""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import xarray as xr

from .manifolds import Euclid, align_latents

__all__ = ["is_trials", "trial_labels", "check_same_neurons", "trial_data", "trial_latents", "reference_errors"]


def is_trials(source) -> bool:
    """True when ``source`` is several recordings: a list, tuple or dict (not one path or Dataset)."""
    return isinstance(source, (list, tuple, dict))


def _describe(item) -> str:
    if isinstance(item, (str, os.PathLike)):
        return str(item)
    return f"an in-memory {type(item).__name__}"


def trial_labels(source) -> tuple[list[str], list, list[str]]:
    """``(labels, items, descriptions)`` of several recordings.

    Labels are the dict keys, else the file stems of paths (``light.nc`` -> ``"light"``), else the
    position (``"0"``, ``"1"``, ...) of in-memory recordings. Labels become file names of the
    figures and the ``trial`` coordinate of ``fit.nc``, so they must be distinct.
    """
    if len(source) == 0:
        raise ValueError(f"fit_recording got an empty {type(source).__name__} of recordings; pass one path or "
                         "Dataset, or at least one in the list")
    if isinstance(source, dict):
        labels, items = [str(k) for k in source], list(source.values())
    else:
        items = list(source)
        labels = [Path(x).stem if isinstance(x, (str, os.PathLike)) else str(k) for k, x in enumerate(items)]
    descs = [_describe(x) for x in items]
    seen: dict[str, str] = {}
    for lab, desc in zip(labels, descs):
        if lab in seen:
            raise ValueError(f"two recordings have the trial label {lab!r} ({seen[lab]} and {desc}); trials are "
                             "labelled by file stem, so rename one file, or pass a dict {label: path}")
        seen[lab] = desc
    return labels, items, descs


def check_same_neurons(Ys: list[xr.DataArray], descs: list[str]) -> None:
    """A clear error naming the recordings when their neuron counts differ."""
    counts = [int(Y.sizes["neuron"]) for Y in Ys]
    if len(set(counts)) > 1:
        listing = ", ".join(f"{d} has {n}" for d, n in zip(descs, counts))
        raise ValueError(f"the recordings have different neuron counts ({listing}); trials are fitted with shared "
                         "tuning curves, so every recording must hold the same neurons in the same order (fit "
                         "them separately, or select the common neurons first)")


def trial_data(Ys: dict[str, xr.DataArray], lat: xr.Dataset) -> xr.DataArray:
    """The modelled data as ``Y`` (trial, time, neuron) on the trial layout of ``lat`` (NaN past a trial's end).

    ``lat`` is ``model.latents()`` of the joint fit: its ``time`` index, ``trial_time`` and
    ``n_bins`` coordinates are reused, so ``Y`` and the latents share one layout in ``fit.nc``.
    """
    first = next(iter(Ys.values()))
    out = np.full((lat.sizes["trial"], lat.sizes["time"], first.sizes["neuron"]), np.nan)
    for k, Y in enumerate(Ys.values()):
        out[k, :Y.sizes["time"]] = Y.values
    coords = {c: lat[c] for c in ("trial", "time", "trial_time", "n_bins")}
    return xr.DataArray(out, dims=("trial", "time", "neuron"), coords={**coords, "neuron": first["neuron"].values},
                        name="Y")


def trial_latents(lat: xr.Dataset, k: int) -> xr.Dataset:
    """Trial ``k`` of a trial-layout ``latents()`` Dataset: (time, ...) on that trial's own clock."""
    n = int(lat["n_bins"].values[k])
    one = lat.isel(trial=k, time=slice(0, n))
    t = np.asarray(one["trial_time"].values, dtype=float)
    one = one.drop_vars(["trial", "trial_time", "n_bins"]).assign_coords(time=t)
    one["time"].attrs.update(lat["time"].attrs)
    return one


def reference_errors(dss: list[xr.Dataset], lat: xr.Dataset, manifold, reference_fn) -> tuple[xr.Dataset, list]:
    """Per-trial reference error of the fitted latent, and each trial's aligned reference (or ``None``).

    Each trial's reference (``reference_fn(ds, latents, manifold)``, e.g. the heading aligned by
    :func:`~neurolatent.manifolds.align_latents`) is aligned to that trial's posterior mean on its
    own, so that a different offset between the latent and the reference in each trial (a drifting
    compass) is not counted as error. The error of trial ``k`` is the median over its bins of the
    geodesic distance :math:`d(\\hat g_t, R_k\\,\\mathrm{ref}_t)` (radians on tori and spheres).

    Returns
    -------
    errors : xarray.Dataset
        ``median_error`` and ``rmse`` (trial,) (``reference_median_error_<m>`` and
        ``reference_rmse_<m>`` in ``fit.nc``), NaN for trials without a
        usable reference; the attribute ``reference`` names the variable used.
    aligned : list
        Per trial, the aligned reference (time, coord) or ``None``.
    """
    med, rmse, aligned, names = [], [], [], set()
    for k, ds in enumerate(dss):
        one = trial_latents(lat, k)
        ref, name = reference_fn(ds, one, manifold)
        aligned.append(ref)
        if ref is None:
            med.append(np.nan)
            rmse.append(np.nan)
            continue
        names.add(name)
        _, err, _ = align_latents(ref, one["mean"].values, manifold)
        err = np.asarray(err, dtype=float)
        med.append(float(np.median(err)))
        rmse.append(float(np.sqrt(np.mean(err ** 2))))
    units = "1" if isinstance(manifold, Euclid) else "rad"
    ref_name = ", ".join(sorted(names)) or "none"
    coords = {"trial": lat["trial"].values}
    what = (f"the latent on {manifold.name} and the recording's {ref_name}, each trial aligned by its own best "
            "isometry")
    out = xr.Dataset({
        "median_error": ("trial", np.asarray(med),
                                   {"long_name": f"median over bins of the geodesic distance between {what}",
                                    "units": units}),
        "rmse": ("trial", np.asarray(rmse),
                           {"long_name": f"root mean square geodesic distance between {what}", "units": units}),
    }, coords=coords, attrs={"reference": ref_name})
    return out, aligned
