"""Figures of an mGPLVM fit: latents over time, tuning curves on the manifold, CV comparison.

Every function takes xarray results (``MGPLVM.latents()``, ``MGPLVM.tuning_curves()``,
``compare_manifolds(...)``), draws with matplotlib and returns the :class:`~matplotlib.figure.Figure`.
"""
from __future__ import annotations

import math

import numpy as np
import xarray as xr

__all__ = ["plot_latents", "plot_tuning_curves", "plot_cv", "plot_elbo"]


def _plt():
    import matplotlib.pyplot as plt

    return plt


def _is_angle(ds: xr.Dataset | xr.DataArray, coord: str) -> bool:
    man = str(ds.attrs.get("manifold", ""))
    return coord.startswith("theta") or (man.startswith("T") and "x" not in man)


def plot_latents(latents: xr.Dataset, reference=None, *, reference_label: str = "reference", ax=None,
                 max_coords: int = 4, title: str | None = None):
    """Posterior mean of each latent coordinate against time, with the 95% band and a reference.

    Parameters
    ----------
    latents : xarray.Dataset
        From :meth:`MGPLVM.latents` (``mean``, optional ``lower``/``upper``).
    reference : array (time,) or (time, coord), optional
        Overlaid (e.g. ground truth or population-vector phase, already aligned).
    ax : matplotlib Axes or sequence of Axes, optional
        One per plotted coordinate.
    max_coords : int
        Plot at most this many coordinates.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> ds = xr.Dataset({"mean": (("time", "coord"), np.zeros((5, 1)))},
    ...                 coords={"time": np.arange(5), "coord": ["theta"]}, attrs={"manifold": "T1"})
    >>> fig = plot_latents(ds)
    """
    plt = _plt()
    coords = list(latents["coord"].values)[:max_coords]
    if ax is None:
        fig, axes = plt.subplots(len(coords), 1, figsize=(8, 2.2 * len(coords)), sharex=True, squeeze=False)
        axes = axes[:, 0]
    else:
        axes = np.atleast_1d(ax)
        fig = axes[0].figure
    t = np.asarray(latents["time"].values, dtype=float)
    ref = None if reference is None else np.asarray(reference, dtype=float)
    if ref is not None and ref.ndim == 1:
        ref = ref[:, None]
    for j, (c, a) in enumerate(zip(coords, axes)):
        mean = latents["mean"].sel(coord=c).values
        angle = _is_angle(latents, str(c))
        if "lower" in latents:
            lo, hi = latents["lower"].sel(coord=c).values, latents["upper"].sel(coord=c).values
            shifts = (-2 * math.pi, 0.0, 2 * math.pi) if angle else (0.0,)
            for s in shifts:
                a.vlines(t, lo + s, hi + s, color="C0", alpha=0.25, lw=1.0,
                         label="95% band" if s == 0.0 else None)
        a.plot(t, mean, ".", color="C0", ms=3, label="posterior mean")
        if ref is not None and j < ref.shape[1]:
            a.plot(t, ref[:, j], ".", color="C3", ms=2, alpha=0.7, label=reference_label)
        if angle:
            a.set_ylim(-math.pi, math.pi)
            a.set_yticks([-math.pi, 0, math.pi], ["-π", "0", "π"])
        a.set_ylabel(str(c))
    axes[0].legend(loc="upper right", fontsize=7, markerscale=3)
    axes[len(coords) - 1].set_xlabel("time")
    axes[0].set_title(title or f"latent on {latents.attrs.get('manifold', '')}")
    fig.tight_layout()
    return fig


def plot_tuning_curves(tc: xr.Dataset, *, max_neurons: int = 16, ncols: int = 4):
    """Tuning curves from :meth:`MGPLVM.tuning_curves`.

    One-dimensional grids (T1, R1): curves with +-2 std bands, all neurons on one axis.
    Two-dimensional grids (T2, R2, T1xR1): one heat map of the mean per neuron.
    Point sets (spheres, SO3): neurons x points heat map, points ordered by their first coordinate.

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = _plt()
    dims = [d for d in tc["mean"].dims if d != "neuron"]
    neurons = tc["neuron"].values[:max_neurons]
    mean = tc["mean"].sel(neuron=neurons)
    std = tc["std"].sel(neuron=neurons)
    if len(dims) == 1 and dims[0] != "point":
        x = tc[dims[0]].values
        fig, a = plt.subplots(figsize=(6, 3.5))
        for i in range(len(neurons)):
            m, s = mean.values[i], std.values[i]
            a.plot(x, m, color=f"C{i % 10}", lw=1)
            a.fill_between(x, m - 2 * s, m + 2 * s, color=f"C{i % 10}", alpha=0.15)
        a.set_xlabel(dims[0])
        a.set_ylabel("E[y | latent]")
        a.set_title(f"tuning curves on {tc.attrs.get('manifold', '')} (mean +- 2 std)")
    elif len(dims) == 2:
        n = len(neurons)
        nr = int(math.ceil(n / ncols))
        fig, axes = plt.subplots(nr, min(ncols, n), figsize=(2.2 * min(ncols, n), 2.0 * nr), squeeze=False)
        x0, x1 = tc[dims[0]].values, tc[dims[1]].values
        for i, a in enumerate(axes.ravel()):
            if i >= n:
                a.axis("off")
                continue
            a.pcolormesh(x1, x0, mean.values[i], shading="auto")
            a.set_title(f"neuron {neurons[i]}", fontsize=8)
            a.set_xticks([])
            a.set_yticks([])
        fig.suptitle(f"tuning curves on {tc.attrs.get('manifold', '')} ({dims[0]} vs {dims[1]})")
    else:
        first = [c for c in tc.coords if c not in ("neuron",) and "point" in tc[c].dims]
        order = np.argsort(tc[first[0]].values) if first else slice(None)
        fig, a = plt.subplots(figsize=(6, 3.5))
        im = a.imshow(mean.values[:, order], aspect="auto", interpolation="nearest")
        fig.colorbar(im, ax=a, label="E[y | latent]")
        a.set_xlabel(f"points (sorted by {first[0] if first else 'index'})")
        a.set_ylabel("neuron")
        a.set_title(f"tuning on {tc.attrs.get('manifold', '')}")
    fig.tight_layout()
    return fig


def plot_cv(cv: xr.Dataset, *, axes=None):
    """Held-out log-likelihood and MSE per manifold (fold points, mean +- s.e.m.).

    Parameters
    ----------
    cv : xarray.Dataset
        From :func:`neurolatent.models.compare_manifolds`.

    Returns
    -------
    matplotlib.figure.Figure
    """
    plt = _plt()
    if axes is None:
        fig, axes = plt.subplots(1, 2, figsize=(8, 3.2))
    else:
        fig = axes[0].figure
    names = [str(m) for m in cv["manifold"].values]
    x = np.arange(len(names))
    for a, var, lab in ((axes[0], "log_likelihood", "held-out log-lik / entry (nats)"),
                        (axes[1], "mse", "held-out MSE")):
        vals = cv[var].values
        k = vals.shape[1]
        for i in range(len(names)):
            a.plot(np.full(k, x[i]) + np.linspace(-0.1, 0.1, k), vals[i], "o", color="0.6", ms=4)
        sem = vals.std(1, ddof=1) / np.sqrt(k) if k > 1 else np.zeros(len(names))
        a.errorbar(x, vals.mean(1), yerr=sem, fmt="s", color="C0", capsize=4)
        a.set_xticks(x, names)
        a.set_ylabel(lab)
    best = names[int(np.argmax(cv["log_likelihood"].mean("fold").values))]
    axes[0].set_title(f"cross-validation (best: {best})")
    fig.tight_layout()
    return fig


def plot_elbo(elbo_history, *, ax=None):
    """ELBO against optimisation step."""
    plt = _plt()
    if ax is None:
        fig, ax = plt.subplots(figsize=(5, 3))
    else:
        fig = ax.figure
    ax.plot(np.arange(1, len(elbo_history) + 1), elbo_history, lw=1)
    ax.set_xlabel("step")
    ax.set_ylabel("ELBO")
    fig.tight_layout()
    return fig
