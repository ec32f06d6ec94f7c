"""Read-outs of a fitted :class:`~neurolatent.models.MGPLVM`: latents, tuning curves, held-out scores.

Kept apart from ``mgplvm.py`` so the model file stays about the bound and the fit.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import xarray as xr

from .._utils import make_generator
from ..inference import run_optimisation
from ._data import as_recording
from ..manifolds import Torus
from ._init import factors
from ._latent import LatentPosterior, ReferencePrior

__all__ = ["latents_dataset", "tuning_curves_dataset", "held_out_score", "infer_latents", "by_trial"]


def _flat_coords(model) -> bool:
    """True when the coordinates are the tangent directions (``ambient_dim == dim``: tori, R^d, ...)."""
    return model.manifold.ambient_dim == model.manifold.dim


def by_trial(model, values: np.ndarray, dims: tuple, fill=np.nan) -> tuple[np.ndarray, tuple]:
    """Reshape per-bin values ``(T, ...)`` of a model fitted to trials into ``(trial, time, ...)``.

    Trials shorter than the longest are padded with ``fill`` at their end. Returns the array and
    its dims (``("trial",) + dims``).
    """
    lengths = model.trial_lengths
    out = np.full((len(lengths), max(lengths)) + values.shape[1:], fill, dtype=values.dtype)
    for k, (a, n) in enumerate(zip(np.cumsum([0] + lengths[:-1]), lengths)):
        out[k, :n] = values[a:a + n]
    return out, ("trial",) + dims


def _trial_coords(model) -> dict:
    """Coordinates of the (trial, time) layout: labels, lengths, each bin's time stamp, a shared time axis.

    ``trial_time`` (trial, time) holds each trial's own time stamps (NaN past its end). The
    ``time`` index is the time stamps of the longest trial when every trial's stamps are a prefix of
    them (trials on a common clock, e.g. equal-length trials of one protocol), else the bin index.
    """
    stamps, _ = by_trial(model, model.time.detach().cpu().numpy(), ("time",))
    longest = stamps[int(np.argmax(model.trial_lengths))]
    shared = all(np.array_equal(row[:n], longest[:n]) for row, n in zip(stamps, model.trial_lengths))
    return {"trial": list(model.trial_names), "time": longest if shared else np.arange(stamps.shape[1], dtype=float),
            "trial_time": (("trial", "time"), stamps), "n_bins": ("trial", np.asarray(model.trial_lengths))}


def latents_dataset(model) -> xr.Dataset:
    with torch.no_grad():
        loc = model.latent.loc.detach().cpu().numpy()
        L = model.latent.scale_tril().detach().cpu().numpy()
    std = np.sqrt((L ** 2).sum(-1))
    trials = getattr(model, "trial_names", None) is not None
    if trials:
        (loc, tdims), (std, _) = by_trial(model, loc, ("time", "coord")), by_trial(model, std, ("time", "tangent"))
        sdims = ("trial", "time", "tangent")
        coords = _trial_coords(model)
    else:
        tdims, sdims = ("time", "coord"), ("time", "tangent")
        coords = {"time": model.time.cpu().numpy()}
    coords.update({"coord": list(model.manifold.coord_names), "tangent": [f"v{i}" for i in range(model.manifold.dim)]})
    ds = xr.Dataset(
        {"mean": (tdims, loc), "std": (sdims, std)}, coords=coords,
        attrs={"manifold": model.manifold.name, "likelihood": model.likelihood_name, "prior": model.prior_name,
               "elbo": float(model.history.elbo[-1]) if model.history.elbo else float("nan"),
               "description": "variational posterior q(g_t): mean in manifold coordinates, std per "
                              "tangent direction (= circular std for tori)"
                              + ("; one latent path per trial, NaN past a trial's end" if trials else "")},
    )
    ds["mean"].attrs["units"] = "rad" if all(isinstance(p, Torus) for p in factors(model.manifold)) else ""
    if _flat_coords(model):
        ds["lower"] = (tdims, loc - 1.96 * std)
        ds["upper"] = (tdims, loc + 1.96 * std)
        ds["lower"].attrs["description"] = ds["upper"].attrs["description"] = "mean -/+ 1.96 std (95% band, unwrapped)"
    return ds


def _grid_points(model, grid):
    """Points (G, amb), output dims and coords for tuning_curves."""
    names = list(model.manifold.coord_names)
    if isinstance(grid, (int, np.integer)):
        n = int(grid)
        if n < 2:
            raise ValueError(f"grid must be an int >= 2 or an array of points, got {grid!r}")
        if _flat_coords(model):
            loc = model.latent.loc.detach().cpu().numpy()
            axes, j = [], 0
            for part in factors(model.manifold):
                for _ in range(part.dim):
                    if isinstance(part, Torus):
                        axes.append(np.linspace(-math.pi, math.pi, n, endpoint=False))
                    else:
                        lo, hi = loc[:, j].min(), loc[:, j].max()
                        pad = 0.05 * (hi - lo + 1e-9)
                        axes.append(np.linspace(lo - pad, hi + pad, n))
                    j += 1
            mesh = np.meshgrid(*axes, indexing="ij")
            pts = np.stack([m.ravel() for m in mesh], -1)
            return pts, tuple(names), {nm: ax for nm, ax in zip(names, axes)}, tuple(len(a) for a in axes)
        pts = model.latent.loc.detach().cpu().numpy()
    else:
        pts = np.asarray(grid, dtype=float)
        if pts.ndim != 2 or pts.shape[1] != model.manifold.ambient_dim:
            raise ValueError(
                f"grid points must have shape (G, {model.manifold.ambient_dim}) for {model.manifold.name}, "
                f"got {pts.shape}"
            )
    coords = {f"{nm}": ("point", pts[:, i]) for i, nm in enumerate(names)}
    return pts, ("point",), coords, (pts.shape[0],)


def tuning_curves_dataset(model, grid) -> xr.Dataset:
    pts, dims, coords, shape = _grid_points(model, grid)
    means, stds = [], []
    for start in range(0, len(pts), 2048):  # chunks bound the (N, M, chunk) intermediate
        m, s = model.predict(pts[start:start + 2048])
        means.append(m)
        stds.append(s)
    mean = np.concatenate(means, 0).T.reshape((model.n_neurons,) + shape)
    std = np.concatenate(stds, 0).T.reshape((model.n_neurons,) + shape)
    coords = dict(coords)
    coords["neuron"] = model.neuron_names
    ds = xr.Dataset({"mean": (("neuron",) + dims, mean), "std": (("neuron",) + dims, std)}, coords=coords,
                    attrs={"manifold": model.manifold.name, "likelihood": model.likelihood_name,
                           "description": "E[y | g] under q(f): mean and std across the GP posterior"})
    return ds


def infer_latents(model, Y: torch.Tensor, neurons, *, max_steps: int = 300, lr: float = 0.05, n_mc: int = 5,
                  seed=None, init_scale: float = 0.1, time=None, starts=None) -> LatentPosterior:
    """Fit q(g_t) for new time bins from the neurons ``neurons`` only, tuning curves frozen.

    The means start at the best of a candidate set (training latent means and inducing points)
    under the predictive density of those neurons, so the fit starts in the right basin. The
    latent prior is the fitted model's: a temporal prior (one with ``at_times``, e.g.
    ``prior="temporal_gp"``) is evaluated at ``time`` (the new bins' time stamps; default
    ``0, 1, ...``) with its fitted, frozen timescales, one chain per trial when ``starts`` ((T',)
    bool, True at each trial's first bin) is given; any other prior is the reference prior.
    """
    gen = make_generator(0 if seed is None else int(seed), model.device_)
    nidx = torch.as_tensor(neurons, device=model.device_)
    with torch.no_grad():
        cand = torch.cat([model.latent.loc, model.Z], 0)
        if cand.shape[0] > 600:
            cand = cand[torch.randperm(cand.shape[0], generator=gen, device=cand.device)[:600]]
        m, v = model._marginals(cand.unsqueeze(0), nidx)  # (1, C, n)
        y = Y[:, nidx]
        lp = model.likelihood.predictive_log_prob(y.unsqueeze(1), m, v, nidx).sum(-1)  # (T', C)
        loc0 = cand[lp.argmax(1)]
    latent = LatentPosterior(model.manifold, loc0, init_scale)
    if hasattr(model.prior, "at_times"):
        time = np.arange(Y.shape[0]) if time is None else time
        stamps = torch.tensor(np.array(time, dtype=float), **model._f)
        several = starts is not None and int(torch.as_tensor(starts).sum()) > 1
        prior = model.prior.at_times(stamps, starts=starts) if several else model.prior.at_times(stamps)
    else:
        prior = ReferencePrior(model.manifold)
    frozen = [p for p in model.parameters() if p.requires_grad]
    for p in frozen:
        p.requires_grad_(False)
    idx = torch.arange(Y.shape[0], device=model.device_)
    try:
        def step_fn(step):
            ell, lat = model._elbo_parts(Y, idx, n_mc, gen, latent=latent, prior=prior, neurons=nidx)
            out = ell + lat
            return out, float(out.detach())

        run_optimisation(step_fn, latent, list(latent.parameters()), max_steps=max_steps, lr=lr,
                         progress=False, post_step=latent.project_)
    finally:
        for p in frozen:
            p.requires_grad_(True)
    return latent


def held_out_score(model, Y_test, *, infer_from=None, neurons=None, n_samples=64, max_steps=300, lr=0.05,
                   seed=None, return_mse=False):
    rec = as_recording(Y_test, name="Y_test")
    arr, time = rec.Y, rec.time
    if arr.shape[1] != model.n_neurons:
        raise ValueError(
            f"Y_test has {arr.shape[1]} neurons (shape {arr.shape}, read as (time, neuron)) but the model was "
            f"fitted to {model.n_neurons}; pass all neurons in the training order and choose subsets with "
            "infer_from= / neurons="
        )
    model.likelihood.validate(arr, "Y_test")
    Y = torch.as_tensor(arr, **model._f)
    N = model.n_neurons
    if infer_from is None:
        if arr.shape[0] != model.n_time or (rec.trials is not None and rec.lengths != model.trial_lengths):
            raise ValueError(
                f"Y_test has {arr.shape[0]} time bins (trials of {rec.lengths}) but the model was fitted to "
                f"{model.n_time} (trials of {model.trial_lengths}); to score new time bins pass "
                "infer_from=<indices of the neurons to infer the latents from>"
            )
        latent = model.latent
        scored = np.arange(N) if neurons is None else np.asarray(neurons)
    else:
        inp = np.unique(np.asarray(infer_from, dtype=int))
        if inp.size == 0 or inp.min() < 0 or inp.max() >= N:
            raise ValueError(f"infer_from must hold neuron indices in [0, {N}), got {infer_from!r}")
        scored = np.setdiff1d(np.arange(N), inp) if neurons is None else np.asarray(neurons)
        latent = infer_latents(model, Y, inp, max_steps=max_steps, lr=lr, seed=seed, time=time,
                               starts=torch.as_tensor(rec.starts, device=model.device_))
    if scored.size == 0:
        raise ValueError("no neurons left to score: infer_from covers every neuron; pass neurons= explicitly")
    sidx = torch.as_tensor(scored, device=model.device_)
    gen = make_generator((0 if seed is None else int(seed)) + 1, model.device_)
    with torch.no_grad():
        g, _ = latent.rsample(int(n_samples), torch.arange(Y.shape[0], device=model.device_), gen)
        m, v = model._marginals(g, sidx)  # (S, T, n)
        y = Y[:, sidx]
        lp = model.likelihood.predictive_log_prob(y, m, v, sidx)
        # joint over the scored neurons of one time bin (they share g_t), then summed over time
        ll = float((torch.logsumexp(lp.sum(-1), 0) - math.log(int(n_samples))).sum())
        pred = model.likelihood.predictive_mean(m, v, sidx).mean(0)
        mse = float(((y - pred) ** 2).mean())
    return (ll, mse) if return_mse else ll
