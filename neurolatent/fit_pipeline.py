"""End-to-end fit of a recording: read -> preprocess -> mGPLVM(s) -> ``fit.nc`` + PNG figures.

This is what ``neurolatent fit`` and ``neurolatent demo`` call. It sits at the top of the package
because it joins io/preprocessing -> models -> plotting (data flows one way).
"""
from __future__ import annotations

import dataclasses
import datetime
import json
import os
from pathlib import Path

import numpy as np
import xarray as xr

from . import preprocessing
from ._utils import atomic_path, resolve_device
from ._version import __version__
from ._fit_trials import (check_same_neurons, is_trials, reference_errors, trial_data, trial_labels,
                          trial_latents)
from .fit_metadata import annotate_cv, annotate_data, annotate_elbo, annotate_latents, annotate_tuning
from .inference import Checkpoint, EarlyStopping
from .manifolds import align_latents
from .models.crossval import compare_manifolds, cv_splits, trial_cv_splits
from .models.mgplvm import MGPLVM
from .plotting.mgplvm import plot_cv, plot_elbo, plot_latents, plot_tuning_curves

__all__ = ["fit_recording", "pick_activity", "checkpoint_paths"]

_PREFERRED = ("Y", "dff", "spikes", "counts", "F", "activity")


def pick_activity(ds: xr.Dataset, variable: str | None = None) -> xr.DataArray:
    """The (time, neuron) variable to model: ``variable`` or the first of Y, dff, spikes, counts, F."""
    cands = [v for v in ds.data_vars if set(ds[v].dims) == {"time", "neuron"}]
    if variable is not None:
        if variable not in ds.data_vars:
            raise KeyError(f"variable {variable!r} is not in the recording; (time, neuron) variables: {cands}")
        return ds[variable]
    for v in _PREFERRED:
        if v in cands:
            return ds[v]
    if cands:
        return ds[cands[0]]
    raise ValueError(f"the recording has no (time, neuron) variable (variables: {list(ds.data_vars)}); "
                     "pass a Dataset with dims ('time', 'neuron')")


#: Variables that, when a recording carries them, are drawn over the fitted latent (aligned to it):
#: the ground truth of synthetic recordings, and the animal's heading.
_REFERENCES = ("latent", "heading")


def _reference(ds: xr.Dataset, lat: xr.Dataset, manifold) -> tuple[np.ndarray | None, str]:
    """A reference variable of ``ds`` moved into the frame of the fitted latent, if one fits.

    The reference is aligned to the posterior mean with :func:`align_latents` (the best global
    isometry), so that the figure shows the fit in its own coordinates with the reference over it.
    Only references with the latent's time axis and coordinate count are used.
    """
    mean = lat["mean"].values
    for name in _REFERENCES:
        if name not in ds or ds[name].dims[:1] != ("time",) or ds[name].sizes["time"] != mean.shape[0]:
            continue
        ref = np.asarray(ds[name].values, dtype=float).reshape(mean.shape[0], -1)
        if ref.shape[1] != mean.shape[1] or not np.all(np.isfinite(ref)):
            continue
        aligned, _, _ = align_latents(ref, mean, manifold)
        return np.asarray(aligned).reshape(mean.shape), name
    return None, ""


def _load(ds_or_path, *, dff: bool, bin_s, zscore: bool, variable) -> tuple[xr.Dataset, xr.DataArray]:
    if isinstance(ds_or_path, (str, os.PathLike)):
        from .io import read

        ds = read(ds_or_path)
    elif isinstance(ds_or_path, xr.DataArray):
        ds = ds_or_path.to_dataset(name=ds_or_path.name or "Y")
    elif isinstance(ds_or_path, xr.Dataset):
        ds = ds_or_path
    else:
        raise TypeError(f"fit_recording needs a path, an xarray.Dataset or a DataArray, got {type(ds_or_path).__name__}")
    if dff:
        ds = preprocessing.dff(ds)
        variable = variable or "dff"
    if bin_s is not None:
        ds = preprocessing.bin_time(ds, bin_s)
    if zscore:
        ds = preprocessing.zscore(ds)
    da = pick_activity(ds, variable).transpose("time", "neuron")
    if "time" not in da.coords:
        da = da.assign_coords(time=np.arange(da.sizes["time"], dtype=float))
    return ds, da.astype(float)


#: Dims and coordinates every manifold's results share in ``fit.nc`` (the trial layout included).
_SHARED_DIMS = ("time", "neuron", "trial")
_SHARED_COORDS = _SHARED_DIMS + ("trial_time", "n_bins")


def _suffixed(ds: xr.Dataset, m: str, prefix: str) -> xr.Dataset:
    """Rename variables to ``{prefix}_{var}_{m}`` and every non-shared dim to ``{dim}_{m}``."""
    dims = {d: f"{d}_{m}" for d in ds.dims if d not in _SHARED_DIMS}
    out = ds.rename({v: f"{prefix}_{v}_{m}" for v in ds.data_vars})
    out = out.rename({d: n for d, n in dims.items()})
    extra = {c: f"{c}_{m}" for c in out.coords if c not in _SHARED_COORDS and c not in dims.values()}
    out = out.rename(extra)
    out.attrs = {}
    return out


def _save_fig(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    return path


def checkpoint_paths(out_dir, manifolds) -> dict[str, Path]:
    """``{manifold name: out_dir/checkpoint_<name>.pt}``: where ``fit_recording`` keeps each fit's
    checkpoint until ``fit.nc`` is written (an interrupted fit leaves it for ``resume=True``)."""
    from .manifolds import get_manifold

    specs = [manifolds] if isinstance(manifolds, str) else list(manifolds)
    return {get_manifold(s).name: Path(out_dir) / f"checkpoint_{get_manifold(s).name}.pt" for s in specs}


def _early_stopping(spec) -> EarlyStopping | bool:
    if spec is True:
        return EarlyStopping()
    if isinstance(spec, EarlyStopping):  # a fresh copy per fit: the criterion keeps state
        return dataclasses.replace(spec)
    if spec is None or spec is False:
        return False
    raise TypeError(f"early_stopping must be True, False or an EarlyStopping, got {type(spec).__name__}")


def _y_units(ds: xr.Dataset, Y: xr.DataArray, *, dff: bool, zscore: bool, likelihood: str) -> str:
    """CF units of the modelled activity: dF/F and z-scores are ratios ("1"), counts are counts."""
    if zscore or dff or Y.name == "dff":
        return "1"
    if str(likelihood) in ("poisson", "negbinom"):
        return "count"
    units = Y.attrs.get("units") or (ds[Y.name].attrs.get("units") if Y.name in ds else None)
    return str(units) if units else "a.u."


def _check_options(specs, *, likelihood, max_steps, lr, folds, cv_steps, bin_s, device, prior, n_inducing,
                   neuron_batch_size=None):
    """Every option that can be checked without data, so that nothing starts on a bad one."""
    if not specs:
        raise ValueError("manifolds is empty; pass e.g. 'T1' or ['T1', 'R1']")
    for name, value in (("max_steps", max_steps), ("cv_steps", cv_steps), ("neuron_batch_size", neuron_batch_size)):
        if value is not None and (isinstance(value, bool) or int(value) != value or int(value) < 1):
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if not float(lr) > 0:
        raise ValueError(f"lr must be > 0, got {lr!r}")
    if bin_s is not None and not float(bin_s) > 0:
        raise ValueError(f"bin_s must be > 0 seconds, got {bin_s!r}")
    if len(specs) > 1 and int(folds) < 2:
        raise ValueError(f"folds={folds!r}: cross-validating {len(specs)} manifolds needs folds >= 2")
    resolve_device(device)  # a clear message when CUDA is asked for and absent
    names = []
    for s in specs:  # bad manifold specs, likelihoods and priors fail here
        names.append(MGPLVM(s, likelihood=likelihood, prior=prior, n_inducing=n_inducing).manifold.name)
    if len(set(names)) != len(names):
        raise ValueError(f"manifolds must be distinct, got {names}")
    return names


def fit_recording(ds_or_path, manifolds="T1", likelihood: str = "gaussian", out_dir="results", *, dff: bool = False,
                  bin_s: float | None = None, zscore: bool = False, max_steps: int = 2000, early_stopping=True,
                  seed: int | None = 0, progress: bool = True, variable: str | None = None, folds: int = 3,
                  lr: float = 0.02, n_inducing: int | None = None, prior: str = "uniform", cv_steps: int | None = None,
                  client=None, device=None, resume: bool = False, checkpoint_every: int = 100,
                  history: str | None = None, neuron_batch_size: int | None = None) -> dict[str, Path]:
    """Fit mGPLVM(s) to a recording and write ``fit.nc`` plus figures into ``out_dir``.

    Parameters
    ----------
    ds_or_path : str, Path, xarray.Dataset or DataArray, or a list or dict of them
        Anything :func:`neurolatent.io.read` reads, or an in-memory recording. Several recordings
        of the same neurons (a list, or a dict ``{label: recording}``) are fitted jointly as
        trials: shared tuning curves, one latent path per trial (:meth:`MGPLVM.fit` with a dict).
        A trial's label is its dict key, else its file stem, else its position (``"0"``, ...).
        Each recording is preprocessed on its own.
    manifolds : str or list of str
        One spec (``"T1"``) or several (then a cross-validated comparison is run too).
    likelihood : {"gaussian", "poisson", "negbinom"}
    out_dir : str or Path
        Created (after every option and the data were checked) if missing.
    dff, bin_s, zscore :
        Preprocessing, in this order: dF/F, averaging into ``bin_s``-second bins, then z-scoring.
    max_steps : int
        Upper bound on the optimisation steps of each fit.
    early_stopping : bool or EarlyStopping
        ``True`` (default): stop each fit once its ELBO plateaus
        (:class:`~neurolatent.inference.EarlyStopping` defaults); an ``EarlyStopping`` sets the
        criterion; ``False`` runs ``max_steps`` steps.
    seed, progress, lr, n_inducing, prior, device :
        Passed to :class:`MGPLVM` / :meth:`MGPLVM.fit`.
    variable : str, optional
        The (time, neuron) variable to model (default: Y, dff, spikes, counts, F in that order).
    folds, cv_steps, client :
        Cross-validation (several manifolds) by :func:`compare_manifolds`: ``cv_steps`` bounds
        the steps of each fold's fit and held-out inference (default: that function's, with early
        stopping); ``client`` is a ``dask.distributed.Client`` to run the folds on.
    resume : bool
        Continue from the checkpoints an interrupted call left in ``out_dir``
        (``checkpoint_<manifold>.pt``). Without it, such checkpoints are an error (nothing is
        overwritten silently).
    checkpoint_every : int
        Steps between checkpoints (Ctrl-C also writes one at the step it stops).
    history : str, optional
        The command that produced the file (the CLI passes its command line), stored in the
        ``history`` attribute.
    neuron_batch_size : int, optional
        Neurons per step of each main fit (:meth:`MGPLVM.fit`'s ``neuron_batch_size``: an
        unbiased minibatch bound, each step about ``neuron_batch_size / N`` of a full one); the
        cross-validation fits use all neurons. Default: all neurons.

    Returns
    -------
    dict
        ``{"fit": out_dir/fit.nc, "model_<m>": .pt, "latents_<m>": .png, "tuning_<m>": .png,
        "elbo_<m>": .png, "cv": .png (several manifolds)}``; with trials ``"latents_<m>_<label>"``
        (one figure per trial) replaces ``"latents_<m>"``.

    Raises
    ------
    neurolatent.inference.FitInterrupted
        Ctrl-C: the fit in progress stopped at a step boundary; its checkpoint stays in
        ``out_dir`` and ``resume=True`` continues it.

    Notes
    -----
    ``fit.nc`` holds the modelled data ``Y`` (time, neuron); per manifold ``m``:
    ``latent_mean_m`` (time, coord_m), ``latent_std_m`` (time, tangent_m), ``latent_lower_m`` /
    ``latent_upper_m`` where defined, ``tuning_mean_m`` / ``tuning_std_m`` (neuron, grid dims
    suffixed with ``_m``), ``elbo_m`` (step_m; attributes ``stop_step``, ``stop_reason``,
    ``converged``); and with several manifolds ``cv_log_likelihood``, ``cv_mse`` and ``cv_elbo``
    (manifold, fold).

    With trials, ``Y`` and the latents get a leading ``trial`` dim, (trial, time, ...), shorter
    trials NaN-padded at their end, with the coordinates ``n_bins`` (trial) and ``trial_time``
    (trial, time) of :meth:`MGPLVM.latents` (``time`` is the shared clock or, when the trials'
    clocks differ, the bin index); tuning curves and ELBO are shared. Where the trials carry a
    reference (``latent`` or ``heading``), ``reference_median_error_m`` and ``reference_rmse_m``
    (trial) hold its geodesic error after each trial's own best alignment; cross-validation splits
    every trial's bins into the folds. The attributes ``trials`` and ``trial_sources`` list the
    labels and where each trial came from. Every variable and coordinate has CF ``units`` and ``long_name``; the
    global attributes record the source, the frame rate ``fs``, the package version, the date and
    every option. Read it with ``xarray.open_dataset(path, engine="h5netcdf")`` or
    ``neurolatent info fit.nc``.

    Examples
    --------
    >>> import tempfile
    >>> from neurolatent.fit_pipeline import fit_recording
    >>> from neurolatent.datasets.synthetic_manifolds import make_manifold_recording
    >>> ds = make_manifold_recording("T1", n_neurons=6, n_time=40, seed=0)
    >>> paths = fit_recording(ds, "T1", out_dir=tempfile.mkdtemp(), max_steps=5, progress=False)
    >>> sorted(paths)[:2]
    ['elbo_T1', 'fit']

    Two trials of the same neurons, fitted jointly:

    >>> other = make_manifold_recording("T1", n_neurons=6, n_time=30, seed=1)
    >>> paths = fit_recording({"a": ds, "b": other}, "T1", out_dir=tempfile.mkdtemp(), max_steps=5, progress=False)
    >>> sorted(p for p in paths if p.startswith("latents"))
    ['latents_T1_a', 'latents_T1_b']
    """
    specs = [manifolds] if isinstance(manifolds, str) else list(manifolds)
    names = _check_options(specs, likelihood=likelihood, max_steps=max_steps, lr=lr, folds=folds, cv_steps=cv_steps,
                           bin_s=bin_s, device=device, prior=prior, n_inducing=n_inducing,
                           neuron_batch_size=neuron_batch_size)
    es_spec = _early_stopping(early_stopping)
    from .likelihoods import get_likelihood

    trials = None
    if is_trials(ds_or_path):  # several recordings: fitted jointly as trials
        labels, items, descs = trial_labels(ds_or_path)
        loaded = [_load(x, dff=dff, bin_s=bin_s, zscore=zscore, variable=variable) for x in items]
        check_same_neurons([y for _, y in loaded], descs)
        for desc, (_, y) in zip(descs, loaded):
            get_likelihood(likelihood, y.shape[1]).validate(y.values, f"the activity of {desc}")
        trials = {"labels": labels, "descs": descs, "datasets": [d for d, _ in loaded]}
        ds, Y = loaded[0][0], {lab: y for lab, (_, y) in zip(labels, loaded)}
        if len(specs) > 1:  # too few time bins for the folds fails now, not after the fits
            trial_cv_splits([y.shape[0] for y in Y.values()], loaded[0][1].shape[1], folds, seed)
    else:
        ds, Y = _load(ds_or_path, dff=dff, bin_s=bin_s, zscore=zscore, variable=variable)
        get_likelihood(likelihood, Y.shape[1]).validate(Y.values, "the recording's activity")
        if len(specs) > 1:  # too few time bins for the folds fails now, not after the fits
            cv_splits(Y.shape[0], Y.shape[1], folds, seed)
    out_dir = Path(out_dir)
    ckpts = {n: out_dir / f"checkpoint_{n}.pt" for n in names}
    found = [p for p in ckpts.values() if p.exists()]
    if found and not resume:
        raise FileExistsError(f"{found[0]} is the checkpoint of an interrupted fit; pass resume=True (CLI: --resume) "
                              "to continue it, or delete it to start again")
    if resume and not found:
        raise FileNotFoundError(f"resume=True but {out_dir} holds no checkpoint_<manifold>.pt to continue from")
    created = not out_dir.exists()
    out_dir.mkdir(parents=True, exist_ok=True)
    try:
        return _fit_and_write(ds, ds_or_path, Y, specs, names, out_dir, ckpts, es_spec, trials, history=history,
                              likelihood=likelihood, max_steps=max_steps, seed=seed, progress=progress, folds=folds,
                              lr=lr, n_inducing=n_inducing, prior=prior, cv_steps=cv_steps, client=client,
                              device=device, dff=dff, zscore=zscore, bin_s=bin_s, early_stopping=early_stopping,
                              checkpoint_every=checkpoint_every, neuron_batch_size=neuron_batch_size)
    except Exception:
        if created and not any(out_dir.iterdir()):  # a failed fit leaves no empty folder behind
            out_dir.rmdir()
        raise


def _clean(Y: xr.DataArray) -> xr.DataArray:
    return Y.drop_vars([c for c in Y.coords if c not in ("time", "neuron")]).rename("Y")


def _fit_and_write(ds, ds_or_path, Y, specs, names, out_dir, ckpts, es_spec, trials, *, history, likelihood, max_steps,
                   seed, progress, folds, lr, n_inducing, prior, cv_steps, client, device, dff, zscore, bin_s,
                   early_stopping, checkpoint_every, neuron_batch_size=None) -> dict[str, Path]:
    """The work of :func:`fit_recording` once everything was checked and ``out_dir`` exists.

    ``trials`` is ``None`` for one recording, else ``{"labels", "descs", "datasets"}`` and ``Y``
    is a dict ``{label: (time, neuron) DataArray}``.
    """
    y_units = _y_units(ds, next(iter(Y.values())) if trials else Y, dff=dff, zscore=zscore, likelihood=likelihood)
    paths: dict[str, Path] = {}
    if trials:
        Yc = {lab: _clean(y) for lab, y in Y.items()}
        parts = []  # the data go in once the first fit gave the (trial, time) layout
    else:
        Yc = _clean(Y)
        parts = [annotate_data(xr.Dataset({"Y": Yc}), y_units)]
    stops = {}
    for s, name in zip(specs, names):
        model = MGPLVM(s, likelihood=likelihood, seed=seed, n_inducing=n_inducing, prior=prior, device=device)
        es = es_spec if es_spec is False else dataclasses.replace(es_spec)
        model.fit(Yc if trials else Y, max_steps=max_steps, lr=lr, progress=progress, early_stopping=es,
                  checkpoint=Checkpoint(ckpts[name], every=checkpoint_every), neuron_batch_size=neuron_batch_size)
        elbo = model.elbo_history
        if es is not False and es.stopped_at is not None:
            stop = {"stop_step": int(len(elbo)), "stop_reason": "early_stopping", "converged": 1}
        else:  # ran to max_steps: did the ELBO plateau anyway? (the default criterion, replayed)
            plateau = EarlyStopping().first_plateau(elbo)
            stop = {"stop_step": int(len(elbo)), "stop_reason": "max_steps", "converged": int(plateau is not None)}
        stops[name] = stop
        lat = model.latents()
        tc = model.tuning_curves(50 if model.manifold.dim == 1 else 25)
        parts.append(_suffixed(annotate_latents(lat, model.manifold), name, "latent"))
        parts.append(_suffixed(annotate_tuning(tc, model.manifold, y_units), name, "tuning"))
        parts.append(annotate_elbo(elbo, name, stop))
        paths[f"model_{name}"] = out_dir / f"model_{name}.pt"
        model.save(paths[f"model_{name}"])
        if trials:
            if name == names[0]:
                parts.insert(0, annotate_data(trial_data(Yc, lat).to_dataset(), y_units))
            errs, refs = reference_errors(trials["datasets"], lat, model.manifold)
            parts.append(_suffixed(errs, name, "reference"))
            for k, (lab, ref) in enumerate(zip(trials["labels"], refs)):
                fig = plot_latents(trial_latents(lat, k), reference=ref, reference_label=f"{errs.attrs['reference']} "
                                   "(aligned)", title=f"trial {lab}: posterior latent on {name} (mean, 95% band)")
                paths[f"latents_{name}_{lab}"] = _save_fig(fig, out_dir / f"latents_{name}_{lab}.png")
        else:
            ref, ref_name = _reference(ds, lat, model.manifold)
            fig = plot_latents(lat, reference=ref, reference_label=f"{ref_name} (aligned)")
            paths[f"latents_{name}"] = _save_fig(fig, out_dir / f"latents_{name}.png")
        paths[f"tuning_{name}"] = _save_fig(plot_tuning_curves(tc, units=y_units), out_dir / f"tuning_{name}.png")
        stopped = stop["stop_step"] if stop["stop_reason"] == "early_stopping" else None
        paths[f"elbo_{name}"] = _save_fig(plot_elbo(model.elbo_history, stopped_at=stopped, max_steps=max_steps),
                                          out_dir / f"elbo_{name}.png")
    cv_attrs = {}
    if len(specs) > 1:
        cv_kw = {} if cv_steps is None else {"max_steps": int(cv_steps), "infer_steps": int(cv_steps)}
        cv = compare_manifolds(Yc if trials else Y, specs, folds=folds, seed=0 if seed is None else seed,
                               likelihood=likelihood,
                               lr=lr, progress=progress, client=client, early_stopping=early_stopping,
                               model_kwargs={"n_inducing": n_inducing, "prior": prior, "device": device}, **cv_kw)
        cv_attrs = {"cv_folds": int(folds), "cv_max_steps": int(cv.attrs["max_steps"]),
                    "cv_infer_steps": int(cv.attrs["infer_steps"]), "cv_method": str(cv.attrs.get("method", ""))}
        parts.append(annotate_cv(cv, y_units))
        paths["cv"] = _save_fig(plot_cv(cv), out_dir / "cv.png")
    out = xr.merge(parts, compat="override", join="outer", combine_attrs="drop_conflicts")
    out.attrs = _provenance(ds, ds_or_path, specs, stops, cv_attrs, history=history, likelihood=likelihood,
                            max_steps=max_steps, early_stopping=es_spec, seed=seed, lr=lr, dff=dff, zscore=zscore,
                            bin_s=bin_s, variable=str(next(iter(Y.values())).name if trials else Y.name),
                            prior=prior, n_inducing=n_inducing, device=device)
    if trials:
        out.attrs.update(_trial_provenance(trials))
    paths["fit"] = out_dir / "fit.nc"
    with atomic_path(paths["fit"], suffix=".nc.tmp") as tmp:
        out.to_netcdf(tmp, engine="h5netcdf")
    for p in ckpts.values():  # the results are complete: the checkpoints have served
        p.unlink(missing_ok=True)
    return paths


def _trial_provenance(trials) -> dict:
    """Global attributes of a joint fit of trials: their labels and where each came from."""
    srcs = []
    for desc, d in zip(trials["descs"], trials["datasets"]):
        src = f"dataset:{d.attrs['dataset']}" if d.attrs.get("dataset") else d.attrs.get("source_path")
        srcs.append(str(src) if src and src != "-" else desc)
    fs = [float(d.attrs["fs"]) if d.attrs.get("fs") is not None else float("nan") for d in trials["datasets"]]
    return {"trials": json.dumps(trials["labels"]), "trial_sources": json.dumps(srcs),
            "source_path": "; ".join(srcs), "trial_fs": json.dumps(fs)}


def _provenance(ds, ds_or_path, specs, stops, cv_attrs, *, history, early_stopping, **options) -> dict:
    """Global attributes of ``fit.nc``: JSON-safe (str, int, float), so netCDF round-trips them."""
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    src = f"dataset:{ds.attrs['dataset']}" if ds.attrs.get("dataset") else ds.attrs.get("source_path")
    if not src or src == "-":
        src = str(ds_or_path) if isinstance(ds_or_path, (str, os.PathLike)) else "in-memory recording"
    es = early_stopping
    es_txt = "off" if es is False else json.dumps({k: getattr(es, k) for k in
                                                    ("patience", "window", "rel_tol", "abs_tol", "min_steps")})
    fs = ds.attrs.get("fs")
    attrs = {
        "title": "mGPLVM fit (neurolatent)",
        "Conventions": "CF-1.8",
        "source": f"neurolatent {__version__}: neurolatent.fit_pipeline.fit_recording",
        "history": f"{now}: {history or 'neurolatent.fit_pipeline.fit_recording'}",
        "date_created": now,
        "neurolatent_version": str(__version__),
        "source_path": str(src),
        "recording_source": str(ds.attrs.get("source", "?")),
        "fs": float(fs) if fs is not None else float("nan"),
        "fs_origin": str(ds.attrs.get("fs_origin", "")),
        "manifolds": json.dumps([s if isinstance(s, str) else s.name for s in specs]),
        "early_stopping": es_txt,
        "stop_step": json.dumps({k: v["stop_step"] for k, v in stops.items()}),
        "converged": json.dumps({k: v["converged"] for k, v in stops.items()}),
        "all_converged": int(all(v["converged"] for v in stops.values())),
    }
    for k, v in options.items():
        if v is None:
            v = "none"
        elif isinstance(v, bool):
            v = int(v)
        elif not isinstance(v, (int, float, str)):
            v = str(v)
        attrs[k] = v
    attrs.update(cv_attrs)
    return attrs
