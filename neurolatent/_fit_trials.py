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

__all__ = ["is_trials", "trial_labels", "check_same_neurons", "trial_data", "trial_latents", "trial_reference",
           "reference_errors"]


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
        if not lab or "/" in lab or "\\" in lab or lab in (".", ".."):
            raise ValueError(f"trial label {lab!r} (of {desc}) cannot name the trial's figure file; use labels "
                             "without slashes, e.g. {'light': ..., 'dark': ...}")
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


#: Variables that, when a trial carries them, are its reference: a synthetic recording's true latent
#: and the animal's heading (as in the single-recording figures).
REFERENCES = ("latent", "heading")


def trial_reference(ds: xr.Dataset, n_time: int, n_coord: int) -> tuple[np.ndarray | None, str]:
    """The first of :data:`REFERENCES` in ``ds`` laid out as (time, coord) with ``n_time`` bins, or ``None``.

    Bins where the reference is missing (NaN, e.g. heading outside the behaviour recording) stay
    NaN; a reference with fewer than 3 finite bins is not used.
    """
    for name in REFERENCES:
        if name not in ds or ds[name].dims[:1] != ("time",) or ds[name].sizes["time"] != n_time:
            continue
        ref = np.asarray(ds[name].values, dtype=float).reshape(n_time, -1)
        if ref.shape[1] == n_coord and np.isfinite(ref).all(1).sum() >= 3:
            return ref, name
    return None, ""


def reference_errors(dss: list[xr.Dataset], lat: xr.Dataset, manifold) -> tuple[xr.Dataset, list]:
    r"""Per-trial reference error of the fitted latent, and each trial's aligned reference (or ``None``).

    Each trial's reference (:func:`trial_reference`) is aligned to that trial's posterior mean by
    its own best isometry (:func:`~neurolatent.manifolds.align_latents`, on the bins where the
    reference is finite), so that a different offset between the latent and the reference in each
    trial (a drifting compass) is not counted as error. The error of trial ``k`` is the median
    over those bins of the geodesic distance :math:`d(\hat g_t, R_k\,\mathrm{ref}_t)` (radians on
    tori and spheres), and its root mean square.

    Returns
    -------
    errors : xarray.Dataset
        ``median_error`` and ``rmse`` (trial,) (``reference_median_error_<m>`` and
        ``reference_rmse_<m>`` in ``fit.nc``), NaN for trials without a usable reference; the
        attribute ``reference`` names the variables used.
    aligned : list
        Per trial, the aligned reference (time, coord), NaN where it is missing, or ``None``.
    """
    med, rmse, aligned, names = [], [], [], set()
    for k, ds in enumerate(dss):
        mean = trial_latents(lat, k)["mean"].values
        ref, name = trial_reference(ds, mean.shape[0], mean.shape[1])
        if ref is None:
            aligned.append(None)
            med.append(np.nan)
            rmse.append(np.nan)
            continue
        names.add(name)
        ok = np.isfinite(ref).all(1)
        moved, err, _ = align_latents(ref[ok], mean[ok], manifold)
        full = np.full(ref.shape, np.nan)
        full[ok] = np.asarray(moved).reshape(int(ok.sum()), -1)
        aligned.append(full)
        err = np.asarray(err, dtype=float)
        med.append(float(np.median(err)))
        rmse.append(float(np.sqrt(np.mean(err ** 2))))
    units = "1" if isinstance(manifold, Euclid) else "rad"
    ref_name = ", ".join(sorted(names)) or "none"
    what = (f"the posterior mean on {manifold.name} and the recording's {ref_name}, each trial aligned by its own "
            "best isometry")
    out = xr.Dataset({
        "median_error": ("trial", np.asarray(med),
                         {"long_name": f"median over bins of the geodesic distance between {what}", "units": units}),
        "rmse": ("trial", np.asarray(rmse),
                 {"long_name": f"root mean square geodesic distance between {what}", "units": units}),
    }, coords={"trial": lat["trial"].values}, attrs={"reference": ref_name})
    return out, aligned
