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
from ._data import as_recording_matrix
from ..manifolds import Torus
from ._init import factors
from ._latent import LatentPosterior, ReferencePrior

__all__ = ["latents_dataset", "tuning_curves_dataset", "held_out_score", "infer_latents"]


def _flat_coords(model) -> bool:
    """True when the coordinates are the tangent directions (``ambient_dim == dim``: tori, R^d, ...)."""
    return model.manifold.ambient_dim == model.manifold.dim


def latents_dataset(model) -> xr.Dataset:
    with torch.no_grad():
        loc = model.latent.loc.detach().cpu().numpy()
        L = model.latent.scale_tril().detach().cpu().numpy()
    std = np.sqrt((L ** 2).sum(-1))
    coords = {"time": model.time.cpu().numpy(), "coord": list(model.manifold.coord_names),
              "tangent": [f"v{i}" for i in range(model.manifold.dim)]}
    ds = xr.Dataset(
        {"mean": (("time", "coord"), loc), "std": (("time", "tangent"), std)}, coords=coords,
        attrs={"manifold": model.manifold.name, "likelihood": model.likelihood_name, "prior": model.prior_name,
               "elbo": float(model.history.elbo[-1]) if model.history.elbo else float("nan"),
               "description": "variational posterior q(g_t): mean in manifold coordinates, std per "
                              "tangent direction (= circular std for tori)"},
    )
    ds["mean"].attrs["units"] = "rad" if all(isinstance(p, Torus) for p in factors(model.manifold)) else ""
    if _flat_coords(model):
        ds["lower"] = (("time", "coord"), loc - 1.96 * std)
        ds["upper"] = (("time", "coord"), loc + 1.96 * std)
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
                  seed=None, init_scale: float = 0.1, time=None) -> LatentPosterior:
    """Fit q(g_t) for new time bins from the neurons ``neurons`` only, tuning curves frozen.

    The means start at the best of a candidate set (training latent means and inducing points)
    under the predictive density of those neurons, so the fit starts in the right basin. The
    latent prior is the fitted model's: a temporal prior (one with ``at_times``, e.g.
    ``prior="temporal_gp"``) is evaluated at ``time`` (the new bins' time stamps; default
    ``0, 1, ...``) with its fitted, frozen timescales, any other prior is the reference prior.
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
        prior = model.prior.at_times(torch.tensor(np.array(time, dtype=float), **model._f))
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
    arr, time, _ = as_recording_matrix(Y_test, name="Y_test")
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
        if arr.shape[0] != model.n_time:
            raise ValueError(
                f"Y_test has {arr.shape[0]} time bins but the model was fitted to {model.n_time}; to score "
                "new time bins pass infer_from=<indices of the neurons to infer the latents from>"
            )
        latent = model.latent
        scored = np.arange(N) if neurons is None else np.asarray(neurons)
    else:
        inp = np.unique(np.asarray(infer_from, dtype=int))
        if inp.size == 0 or inp.min() < 0 or inp.max() >= N:
            raise ValueError(f"infer_from must hold neuron indices in [0, {N}), got {infer_from!r}")
        scored = np.setdiff1d(np.arange(N), inp) if neurons is None else np.asarray(neurons)
        latent = infer_latents(model, Y, inp, max_steps=max_steps, lr=lr, seed=seed, time=time)
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
