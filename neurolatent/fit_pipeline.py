"""End-to-end fit of a recording: read -> preprocess -> mGPLVM(s) -> ``fit.nc`` + PNG figures.

This is what ``neurolatent fit`` and ``neurolatent demo`` call. It sits at the top of the package
because it joins io/preprocessing -> models -> plotting (data flows one way).
"""
from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import xarray as xr

from . import preprocessing
from ._utils import atomic_path
from .manifolds import align_latents
from .models.crossval import compare_manifolds
from .models.mgplvm import MGPLVM
from .plotting.mgplvm import plot_cv, plot_elbo, plot_latents, plot_tuning_curves

__all__ = ["fit_recording", "pick_activity"]

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


def _suffixed(ds: xr.Dataset, m: str, prefix: str) -> xr.Dataset:
    """Rename variables to ``{prefix}_{var}_{m}`` and every non-shared dim to ``{dim}_{m}``."""
    shared = {"time", "neuron"}
    dims = {d: f"{d}_{m}" for d in ds.dims if d not in shared}
    out = ds.rename({v: f"{prefix}_{v}_{m}" for v in ds.data_vars})
    out = out.rename({d: n for d, n in dims.items()})
    extra = {c: f"{c}_{m}" for c in out.coords if c not in shared and c not in dims.values()}
    out = out.rename(extra)
    out.attrs = {}
    return out


def _save_fig(fig, path: Path) -> Path:
    import matplotlib.pyplot as plt

    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, format="png", dpi=110)
    plt.close(fig)
    return path


def fit_recording(ds_or_path, manifolds="T1", likelihood: str = "gaussian", out_dir="results", *, dff: bool = False,
                  bin_s: float | None = None, zscore: bool = False, max_steps: int = 1000, seed: int | None = 0,
                  progress: bool = True, variable: str | None = None, folds: int = 3, lr: float = 0.02,
                  n_inducing: int | None = None, prior: str = "uniform", cv_steps: int | None = None,
                  client=None) -> dict[str, Path]:
    """Fit mGPLVM(s) to a recording and write ``fit.nc`` plus figures into ``out_dir``.

    Parameters
    ----------
    ds_or_path : str, Path, xarray.Dataset or DataArray
        Anything :func:`neurolatent.io.read` reads, or an in-memory recording.
    manifolds : str or list of str
        One spec (``"T1"``) or several (then a cross-validated comparison is run too).
    likelihood : {"gaussian", "poisson", "negbinom"}
    out_dir : str or Path
        Created if missing.
    dff, bin_s, zscore :
        Preprocessing, in this order: dF/F, averaging into ``bin_s``-second bins, then z-scoring.
    max_steps, seed, progress, lr, n_inducing, prior :
        Passed to :class:`MGPLVM` / :meth:`MGPLVM.fit`.
    variable : str, optional
        The (time, neuron) variable to model (default: Y, dff, spikes, counts, F in that order).
    folds, cv_steps, client :
        Cross-validation settings: ``cv_steps`` (default ``max_steps``) is used both to fit each
        fold and to infer its held-out latents.

    Returns
    -------
    dict
        ``{"fit": out_dir/fit.nc, "model_<m>": .pt, "latents_<m>": .png, "tuning_<m>": .png,
        "elbo_<m>": .png, "cv": .png (several manifolds)}``.

    Notes
    -----
    ``fit.nc`` holds the modelled data ``Y`` (time, neuron); per manifold ``m``:
    ``latent_mean_m`` (time, coord_m), ``latent_std_m`` (time, tangent_m), ``latent_lower_m`` /
    ``latent_upper_m`` where defined, ``tuning_mean_m`` / ``tuning_std_m`` (neuron, grid dims
    suffixed with ``_m``), ``elbo_m`` (step_m); and with several manifolds ``cv_log_likelihood``
    and ``cv_mse`` (manifold, fold). Read it with ``xarray.open_dataset(path, engine="h5netcdf")``.

    Examples
    --------
    >>> import tempfile
    >>> from neurolatent.fit_pipeline import fit_recording
    >>> from neurolatent.datasets.synthetic_manifolds import make_manifold_recording
    >>> ds = make_manifold_recording("T1", n_neurons=6, n_time=40, seed=0)
    >>> paths = fit_recording(ds, "T1", out_dir=tempfile.mkdtemp(), max_steps=5, progress=False)
    >>> sorted(paths)[:2]
    ['elbo_T1', 'fit']
    """
    specs = [manifolds] if isinstance(manifolds, str) else list(manifolds)
    if not specs:
        raise ValueError("manifolds is empty; pass e.g. 'T1' or ['T1', 'R1']")
    for s in specs:  # fail on a bad spec before any work
        MGPLVM(s, likelihood=likelihood)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ds, Y = _load(ds_or_path, dff=dff, bin_s=bin_s, zscore=zscore, variable=variable)
    paths: dict[str, Path] = {}
    parts = [xr.Dataset({"Y": Y.drop_vars([c for c in Y.coords if c not in ("time", "neuron")])})]
    for s in specs:
        model = MGPLVM(s, likelihood=likelihood, seed=seed, n_inducing=n_inducing, prior=prior)
        model.fit(Y, max_steps=max_steps, lr=lr, progress=progress)
        name = model.manifold.name
        lat = model.latents()
        tc = model.tuning_curves(50 if model.manifold.dim == 1 else 25)
        parts.append(_suffixed(lat, name, "latent"))
        parts.append(_suffixed(tc, name, "tuning"))
        parts.append(xr.Dataset({f"elbo_{name}": (f"step_{name}", model.elbo_history)}))
        paths[f"model_{name}"] = out_dir / f"model_{name}.pt"
        model.save(paths[f"model_{name}"])
        ref, ref_name = _reference(ds, lat, model.manifold)
        fig = plot_latents(lat, reference=ref, reference_label=f"{ref_name} (aligned)")
        paths[f"latents_{name}"] = _save_fig(fig, out_dir / f"latents_{name}.png")
        paths[f"tuning_{name}"] = _save_fig(plot_tuning_curves(tc), out_dir / f"tuning_{name}.png")
        paths[f"elbo_{name}"] = _save_fig(plot_elbo(model.elbo_history), out_dir / f"elbo_{name}.png")
    if len(specs) > 1:
        cv = compare_manifolds(Y, specs, folds=folds, seed=0 if seed is None else seed, likelihood=likelihood,
                               max_steps=cv_steps or max_steps, infer_steps=cv_steps or max_steps, lr=lr,
                               progress=progress, client=client,
                               model_kwargs={"n_inducing": n_inducing, "prior": prior})
        parts.append(cv.rename({v: f"cv_{v}" for v in cv.data_vars}).drop_attrs())
        paths["cv"] = _save_fig(plot_cv(cv), out_dir / "cv.png")
    out = xr.merge(parts, compat="override", join="outer", combine_attrs="drop")
    out.attrs = {"manifolds": json.dumps(specs), "likelihood": str(likelihood), "max_steps": int(max_steps),
                 "seed": -1 if seed is None else int(seed), "dff": int(bool(dff)), "zscore": int(bool(zscore)),
                 "bin_s": float(bin_s) if bin_s is not None else float("nan"),
                 "source": "neurolatent.models.fit_recording"}
    paths["fit"] = out_dir / "fit.nc"
    with atomic_path(paths["fit"], suffix=".nc.tmp") as tmp:
        out.to_netcdf(tmp, engine="h5netcdf")
    return paths
