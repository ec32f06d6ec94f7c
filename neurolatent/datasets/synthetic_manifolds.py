"""Synthetic recordings with a known latent on any manifold (R^d, T^d, S^d, SO(3), products).

Used to check that the mGPLVM recovers latents and that cross-validation ranks the true
manifold first.
"""
from __future__ import annotations

import json

import numpy as np
import torch
import xarray as xr

from .._utils import make_generator

__all__ = ["make_manifold_recording"]


def _latent_path(manifold, n_time: int, step: float, trajectory: str, gen: torch.Generator) -> torch.Tensor:
    dt = torch.float64
    if trajectory == "iid":
        if manifold.has_uniform:
            return manifold.random_uniform(n_time, generator=gen, dtype=dt)
        return manifold.random_normal(n_time, generator=gen, dtype=dt)
    if trajectory != "random_walk":
        raise ValueError(f"trajectory must be 'random_walk' or 'iid', got {trajectory!r}")
    xi = torch.randn(n_time, manifold.dim, generator=gen, dtype=dt)
    g = torch.empty(n_time, manifold.ambient_dim, dtype=dt)
    g[0] = (manifold.random_uniform(1, generator=gen, dtype=dt) if manifold.has_uniform
            else manifold.random_normal(1, generator=gen, dtype=dt))[0]
    # a random walk in the tangent space; Euclidean coordinates are pulled back towards 0 so they
    # stay O(1) (an AR(1) with stationary std ~1 for the default step)
    pull = 0.5 * step ** 2
    for t in range(1, n_time):  # sequential by nature; n_time is moderate
        v = step * xi[t]
        if not manifold.has_uniform:
            v = v - pull * manifold.log(g[t - 1], manifold.origin(dtype=dt))
        g[t] = manifold.exp(v, g[t - 1])
    return g


def make_manifold_recording(manifold, n_neurons: int = 30, n_time: int = 300, likelihood: str = "gaussian",
                            noise: float = 0.1, seed: int | None = 0, *, fs: float = 10.0, width: float = 0.7,
                            amplitude: float = 1.0, baseline: float = 0.0, max_rate: float = 8.0,
                            base_rate: float = 0.5, step: float = 0.3, trajectory: str = "random_walk") -> xr.Dataset:
    r"""Population activity driven by a known latent on a manifold, with bump tuning curves.

    Generative model:

    - latent :math:`g_t`: a random walk :math:`g_t = \exp(s\,\xi_t, g_{t-1})`,
      :math:`\xi_t\sim N(0, I)`, from a uniform start (``trajectory="random_walk"``; Euclidean
      coordinates get a pull towards 0 so they stay O(1)), or i.i.d. uniform/normal points
      (``"iid"``);
    - preferred points :math:`c_n` uniform on the manifold (standard normal on R^d);
    - tuning :math:`h_{tn} = \exp(-d^2(g_t, c_n) / 2w^2)` with the manifold's kernel-ready
      squared distance;
    - ``"gaussian"``: :math:`y = b + A h + \sigma\epsilon`; ``"poisson"``:
      :math:`y\sim\mathrm{Poisson}(r_0 + r_{\max} h)` counts per bin.

    Parameters
    ----------
    manifold : str or Manifold
        ``"T1"``, ``"T2"``, ``"R2"``, ``"S2"``, ``"S3"``, ``"SO3"``, ``"T1xR1"``, ...
    n_neurons, n_time : int
    likelihood : {"gaussian", "poisson"}
    noise : float
        Gaussian noise std (ignored for Poisson).
    seed : int, optional
    fs : float
        Bin rate (Hz); ``time = k / fs`` seconds.
    width, amplitude, baseline, max_rate, base_rate : float
        Tuning width w, Gaussian amplitude A and baseline b, Poisson peak and base rates (per bin).
        The width is measured in the manifold's kernel-ready distance, so the same ``width`` is
        narrower in angle on SO3 (:math:`d^2 = 4(1 - \langle q, c\rangle^2) \approx 4\theta^2`
        for half-angle :math:`\theta`) than on S3 (:math:`2(1 - \cos\theta) \approx \theta^2`):
        pass twice the width on SO3 for bumps of the same angular size.
    step : float
        Random-walk step std s (radians for tori).
    trajectory : {"random_walk", "iid"}

    Returns
    -------
    xarray.Dataset
        ``Y`` (time, neuron) float64; ``latent`` (time, coord) the ground truth in the manifold's
        coordinates; ``preferred`` (neuron, coord); attrs ``manifold``, ``likelihood``, ``params``
        (JSON).

    Examples
    --------
    >>> ds = make_manifold_recording("T2", n_neurons=10, n_time=50, seed=1)
    >>> ds["Y"].shape, ds["latent"].shape
    ((50, 10), (50, 2))
    """
    from ..manifolds import get_manifold

    m = get_manifold(manifold)
    n_neurons, n_time = int(n_neurons), int(n_time)
    if n_neurons < 1 or n_time < 1:
        raise ValueError(f"n_neurons and n_time must be >= 1, got {n_neurons} and {n_time}")
    if likelihood not in ("gaussian", "poisson"):
        raise ValueError(f"likelihood must be 'gaussian' or 'poisson', got {likelihood!r}")
    if not noise >= 0 or not width > 0:
        raise ValueError(f"noise must be >= 0 and width > 0, got {noise} and {width}")
    gen = make_generator(seed, "cpu")
    g = _latent_path(m, n_time, float(step), trajectory, gen)
    centres = (m.random_uniform(n_neurons, generator=gen, dtype=torch.float64) if m.has_uniform
               else m.random_normal(n_neurons, generator=gen, dtype=torch.float64))
    h = torch.exp(-m.pairwise_sq_dist(g, centres) / (2 * width ** 2)).numpy()
    rng = np.random.default_rng(None if seed is None else int(seed) + 7919)
    if likelihood == "gaussian":
        Y = baseline + amplitude * h + noise * rng.standard_normal(h.shape)
    else:
        Y = rng.poisson(base_rate + max_rate * h).astype(np.float64)
    params = dict(manifold=m.name, n_neurons=n_neurons, n_time=n_time, likelihood=likelihood, noise=float(noise),
                  seed=seed, fs=float(fs), width=float(width), amplitude=float(amplitude), baseline=float(baseline),
                  max_rate=float(max_rate), base_rate=float(base_rate), step=float(step), trajectory=trajectory)
    coords = {"time": np.arange(n_time) / float(fs), "neuron": np.arange(n_neurons), "coord": list(m.coord_names)}
    ds = xr.Dataset(
        {"Y": (("time", "neuron"), Y), "latent": (("time", "coord"), g.numpy()),
         "preferred": (("neuron", "coord"), centres.numpy())},
        coords=coords,
        attrs={"manifold": m.name, "likelihood": likelihood, "params": json.dumps(params),
               "source": "synthetic (neurolatent.datasets.make_manifold_recording)"},
    )
    ds["time"].attrs["units"] = "s"
    ds["Y"].attrs["long_name"] = "spike counts per bin" if likelihood == "poisson" else "activity (a.u.)"
    return ds
