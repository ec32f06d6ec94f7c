"""Figures of an mGPLVM fit: latents over time, tuning curves on the manifold, CV comparison.

Every function takes xarray results (``MGPLVM.latents()``, ``MGPLVM.tuning_curves()``,
``compare_manifolds(...)``), draws with matplotlib and returns the :class:`~matplotlib.figure.Figure`.
"""
from __future__ import annotations

import math

import numpy as np
import xarray as xr

from ._axes import (MAX_COLOURS, circular_coords, coord_label, looks_wrapped, manifold_of, neuron_colours,
                    set_pi_ticks, time_label, wrap)

__all__ = ["plot_latents", "plot_tuning_curves", "plot_cv", "plot_elbo"]


def _plt():
    import matplotlib.pyplot as plt

    return plt


def _reference_array(reference, n_time: int) -> tuple[np.ndarray, bool | None]:
    """``(time, k)`` float array of the reference, and whether its own attrs say it is an angle."""
    circ = None
    if isinstance(reference, xr.DataArray):
        units = str(reference.attrs.get("units", ""))
        circ = units in ("rad", "radian", "radians") or bool(reference.attrs.get("circular", False))
    ref = np.asarray(reference, dtype=float)
    if ref.ndim == 1:
        ref = ref[:, None]
    if ref.ndim != 2 or ref.shape[0] != n_time:
        raise ValueError(f"plot_latents: reference must have shape (time,) or (time, coord) with time={n_time}, "
                         f"got {np.shape(reference)}")
    return ref, circ


def _unwrap_onto(angle: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Unwrap ``angle`` and move it rigidly (sign and offset) onto ``target`` by least squares."""
    u = np.unwrap(angle)
    ok = np.isfinite(u) & np.isfinite(target)
    best = None
    for sign in (1.0, -1.0):
        off = np.mean(target[ok] - sign * u[ok])
        err = np.sum((target[ok] - sign * u[ok] - off) ** 2)
        if best is None or err < best[0]:
            best = (err, sign * u + off)
    return best[1]


def plot_latents(latents: xr.Dataset, reference=None, *, reference_label: str = "reference", ax=None,
                 max_coords: int = 4, title: str | None = None, reference_circular: bool | None = None,
                 circular_on_euclidean: str = "unwrap", time_units: str | None = None):
    """Posterior mean of each latent coordinate against time (s), with the 95% band and a reference.

    Circular coordinates (torus factors of the manifold named by ``latents.attrs["manifold"]``) are
    drawn in radians on ``[-π, π]`` with π ticks, the band repeated across the wrap. Other
    coordinates are drawn in their own units. The time axis is labelled with the ``time``
    coordinate's ``units`` (seconds by default).

    A circular reference (e.g. the animal's heading) is drawn as wrapped dots over a circular
    coordinate only. Over a Euclidean coordinate a wrapped angle would draw false jumps of 2π, so it
    is unwrapped and moved onto the posterior mean by a sign and an offset (``circular_on_euclidean=
    "unwrap"``, a line labelled "unwrapped") or left out (``"omit"``).

    Parameters
    ----------
    latents : xarray.Dataset
        From :meth:`MGPLVM.latents` (``mean``, optional ``lower``/``upper``; ``attrs["manifold"]``).
    reference : array (time,) or (time, coord), or xarray.DataArray, optional
        Overlaid (e.g. ground truth or population-vector phase, aligned to the latent).
    reference_label : str
        Legend label of the reference.
    ax : matplotlib Axes or sequence of Axes, optional
        One per plotted coordinate.
    max_coords : int
        Plot at most this many coordinates.
    title : str, optional
    reference_circular : bool, optional
        Whether the reference is an angle. ``None``: a DataArray with ``units="rad"`` is; otherwise
        the reference is taken to live on the latent's manifold, except that a series over a
        Euclidean coordinate that looks wrapped (steps > 1.5π within a 2π range whose unwrapping
        halves the total variation) is treated as an angle.
    circular_on_euclidean : {"unwrap", "omit"}
        What to do with a circular reference over a Euclidean coordinate.
    time_units : str, optional
        Units of the time axis; default the ``time`` coordinate's ``units`` attribute, else ``"s"``.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> ds = xr.Dataset({"mean": (("time", "coord"), np.zeros((5, 1)))},
    ...                 coords={"time": np.arange(5) / 10, "coord": ["theta"]}, attrs={"manifold": "T1"})
    >>> fig = plot_latents(ds)
    >>> fig.axes[0].get_ylabel(), fig.axes[0].get_xlabel()
    ('theta (rad)', 'time (s)')
    """
    if circular_on_euclidean not in ("unwrap", "omit"):
        raise ValueError(f"plot_latents: circular_on_euclidean must be 'unwrap' or 'omit', got {circular_on_euclidean!r}")
    plt = _plt()
    coords = [str(c) for c in latents["coord"].values][:max_coords]
    circular = circular_coords(latents, latents["coord"].values)
    manifold = manifold_of(latents)
    if ax is None:
        fig, axes = plt.subplots(len(coords), 1, figsize=(8, 2.2 * len(coords) + 0.4), sharex=True, squeeze=False)
        axes = axes[:, 0]
    else:
        axes = np.atleast_1d(ax)
        fig = axes[0].figure
    t = np.asarray(latents["time"].values, dtype=float)
    ref, ref_circ = (None, None) if reference is None else _reference_array(reference, len(t))
    if reference_circular is not None:
        ref_circ = bool(reference_circular)
    for j, (c, a) in enumerate(zip(coords, axes)):
        mean = latents["mean"].sel(coord=c).values
        angle = circular[c]
        if "lower" in latents:
            lo, hi = latents["lower"].sel(coord=c).values, latents["upper"].sel(coord=c).values
            shifts = (-2 * math.pi, 0.0, 2 * math.pi) if angle else (0.0,)
            for s in shifts:
                a.vlines(t, lo + s, hi + s, color="C0", alpha=0.25, lw=1.0,
                         label="95% band" if s == 0.0 else None)
        a.plot(t, mean, ".", color="C0", ms=3, label="posterior mean")
        if ref is not None and j < ref.shape[1]:
            r = ref[:, j]
            r_circ = ref_circ if ref_circ is not None else (angle or looks_wrapped(r))
            if angle:
                a.plot(t, wrap(r) if r_circ else r, ".", color="C3", ms=2, alpha=0.7, label=reference_label)
            elif not r_circ:
                a.plot(t, r, "-", color="C3", lw=1, alpha=0.8, label=reference_label)
            elif circular_on_euclidean == "unwrap":
                a.plot(t, _unwrap_onto(r, mean), "-", color="C3", lw=1, alpha=0.8,
                       label=f"{reference_label}, unwrapped")
        if angle:
            a.set_ylim(-math.pi, math.pi)
            set_pi_ticks(a.yaxis)
        a.set_ylabel(coord_label(c, angle, manifold))
    axes[0].legend(loc="upper right", fontsize=7, markerscale=3)
    axes[len(coords) - 1].set_xlabel(f"time ({time_units})" if time_units else time_label(latents))
    axes[0].set_title(title or f"posterior latent on {latents.attrs.get('manifold', '')} (mean, 95% band)")
    fig.tight_layout()
    return fig


def _data_units(tc: xr.Dataset, units: str | None) -> str:
    if units:
        return units
    for src in (tc["mean"].attrs, tc.attrs):
        for key in ("units", "data_units"):
            if src.get(key):
                return str(src[key])
    lik = str(tc.attrs.get("likelihood", "")).lower()
    return "counts / bin" if ("poisson" in lik or "binomial" in lik) else "data units"


def plot_tuning_curves(tc: xr.Dataset, *, max_neurons: int = 16, ncols: int = 4, units: str | None = None):
    r"""Tuning curves :math:`E[y \mid g]` from :meth:`MGPLVM.tuning_curves`.

    One-dimensional grids (T1, R1): curves with +-2 std bands on one axis, one distinguishable colour
    per neuron (up to 20, with a legend); more neurons get one small panel each. Two-dimensional
    grids (T2, R2, T1xR1): one heat map per neuron, each scaled to its own range. Point sets
    (spheres, SO3): neurons x points heat map, points ordered by their first coordinate. Circular
    axes are in radians with π ticks.

    Parameters
    ----------
    tc : xarray.Dataset
        ``mean`` and ``std`` with dims ``("neuron", <grid dims>)``; ``attrs["manifold"]``.
    max_neurons : int
        Plot the first ``max_neurons`` neurons.
    ncols : int
        Columns of small multiples.
    units : str, optional
        Units of the data ``y`` for the label; default from ``tc``'s ``units`` attributes, else
        "counts / bin" for count likelihoods and "data units" otherwise.

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> th = np.linspace(-np.pi, np.pi, 20, endpoint=False)
    >>> tc = xr.Dataset({"mean": (("neuron", "theta"), np.cos(th - np.arange(3)[:, None])),
    ...                  "std": (("neuron", "theta"), np.full((3, 20), 0.1))},
    ...                 coords={"neuron": [0, 1, 2], "theta": th}, attrs={"manifold": "T1"})
    >>> fig = plot_tuning_curves(tc, units="ΔF/F")
    >>> fig.axes[0].get_ylabel()
    'E[y | latent] (ΔF/F)'
    """
    plt = _plt()
    dims = [d for d in tc["mean"].dims if d != "neuron"]
    neurons = tc["neuron"].values[:max_neurons]
    mean = tc["mean"].sel(neuron=neurons)
    std = tc["std"].sel(neuron=neurons)
    ylab = f"E[y | latent] ({_data_units(tc, units)})"
    man = manifold_of(tc)
    name = tc.attrs.get("manifold", "")
    n = len(neurons)
    if len(dims) == 1 and dims[0] != "point":
        x = np.asarray(tc[dims[0]].values, dtype=float)
        circ = circular_coords(tc, dims)[dims[0]]
        xlab = coord_label(dims[0], circ, man)
        if n <= MAX_COLOURS:
            fig, a = plt.subplots(figsize=(7.5, 3.8))
            panels = [a] * n
            colours = neuron_colours(n)
        else:
            nr = int(math.ceil(n / ncols))
            fig, grid = plt.subplots(nr, ncols, figsize=(2.4 * ncols, 1.9 * nr), sharex=True, squeeze=False)
            panels = list(grid.ravel())
            colours = ["C0"] * n
            for extra in panels[n:]:
                extra.axis("off")
        for i in range(n):
            m, s = mean.values[i], std.values[i]
            a = panels[i]
            a.plot(x, m, color=colours[i], lw=1.3, label=str(neurons[i]))
            a.fill_between(x, m - 2 * s, m + 2 * s, color=colours[i], alpha=0.12 if n <= 10 else 0.06, lw=0)
            if circ:
                a.set_xlim(-math.pi, math.pi)
                set_pi_ticks(a.xaxis)
            if n > MAX_COLOURS:
                a.set_title(f"neuron {neurons[i]}", fontsize=8)
        if n <= MAX_COLOURS:
            a = panels[0] if n else plt.gca()
            a.set_xlabel(xlab)
            a.set_ylabel(ylab)
            a.set_title(f"tuning curves on {name} (mean ± 2 std)")
            if n:
                a.legend(title="neuron", fontsize=7, title_fontsize=7, loc="center left", bbox_to_anchor=(1.01, 0.5),
                         ncol=2 if n > 10 else 1, frameon=False)
        else:
            fig.supxlabel(xlab)
            fig.supylabel(ylab)
            fig.suptitle(f"tuning curves on {name} (mean ± 2 std)")
    elif len(dims) == 2:
        nr = int(math.ceil(n / ncols))
        nc = min(ncols, n)
        fig, axes = plt.subplots(nr, nc, figsize=(2.3 * nc + 0.8, 2.1 * nr + 0.6), squeeze=False,
                                 sharex=True, sharey=True)
        x0, x1 = np.asarray(tc[dims[0]].values, float), np.asarray(tc[dims[1]].values, float)
        circ = circular_coords(tc, dims)
        im = None
        for i, a in enumerate(axes.ravel()):
            if i >= n:
                a.axis("off")
                continue
            v = mean.values[i]
            lo, hi = np.nanmin(v), np.nanmax(v)
            im = a.pcolormesh(x1, x0, (v - lo) / (hi - lo if hi > lo else 1.0), shading="auto",
                              cmap="viridis", vmin=0, vmax=1)
            a.set_title(f"neuron {neurons[i]}", fontsize=8)
            if circ[dims[1]]:
                a.set_xlim(-math.pi, math.pi)
                set_pi_ticks(a.xaxis, (-math.pi, math.pi), step=2)
            if circ[dims[0]]:
                a.set_ylim(-math.pi, math.pi)
                set_pi_ticks(a.yaxis, (-math.pi, math.pi), step=2)
            a.tick_params(labelsize=7)
        fig.supxlabel(coord_label(dims[1], circ[dims[1]], man))
        fig.supylabel(coord_label(dims[0], circ[dims[0]], man))
        fig.suptitle(f"tuning curves on {name}")
        fig.tight_layout()
        if im is not None:
            cb = fig.colorbar(im, ax=axes.ravel().tolist(), shrink=0.8, pad=0.02)
            cb.set_label(f"{ylab}\nscaled per neuron: min → max", fontsize=8)
            cb.set_ticks([0, 1], labels=["min", "max"])
        return fig
    else:
        first = [c for c in tc.coords if c not in ("neuron",) and "point" in tc[c].dims]
        order = np.argsort(tc[first[0]].values) if first else slice(None)
        fig, a = plt.subplots(figsize=(6.5, 3.8))
        im = a.imshow(mean.values[:, order], aspect="auto", interpolation="nearest", cmap="viridis")
        fig.colorbar(im, ax=a, label=ylab)
        a.set_xlabel(f"points on {name} (sorted by {first[0] if first else 'index'})")
        a.set_ylabel("neuron")
        a.set_yticks(range(n), [str(v) for v in neurons], fontsize=7)
        a.set_title(f"tuning on {name}")
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
                        (axes[1], "mse", "held-out MSE (data units²)")):
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


def plot_elbo(elbo_history, *, ax=None, stopped_at: int | None = None, max_steps: int | None = None):
    """ELBO (nats) against optimisation step, with the early-stopping step marked.

    Parameters
    ----------
    elbo_history : array (steps,) or History
        ``MGPLVM.elbo_history`` or an :class:`~neurolatent.inference.History` (its ``step`` and
        ``elbo``).
    ax : matplotlib Axes, optional
    stopped_at : int, optional
        The step at which early stopping ended the fit. Default: the history's own ``stopped_at``
        attribute when it has one, else the last step when the history is shorter than
        ``max_steps``.
    max_steps : int, optional
        The step budget of the fit (to tell an early stop from a full run).

    Returns
    -------
    matplotlib.figure.Figure

    Examples
    --------
    >>> fig = plot_elbo([-50.0, -20.0, -12.0, -11.5, -11.4], max_steps=100)
    >>> fig.axes[0].get_ylabel()
    'ELBO (nats)'
    """
    plt = _plt()
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.5, 3.2))
    else:
        fig = ax.figure
    if hasattr(elbo_history, "elbo"):
        elbo = np.asarray(elbo_history.elbo, dtype=float)
        steps = np.asarray(getattr(elbo_history, "step", None) or np.arange(1, len(elbo) + 1), dtype=float)
    else:
        elbo = np.asarray(elbo_history, dtype=float).ravel()
        steps = np.arange(1, len(elbo) + 1, dtype=float)
    if stopped_at is None:
        stopped_at = getattr(elbo_history, "stopped_at", None)
    if stopped_at is None and max_steps is not None and len(elbo) and steps[-1] < max_steps:
        stopped_at = int(steps[-1])
    ax.plot(steps, elbo, lw=1, color="C0")
    if len(elbo) > 20:  # a running mean makes the trend readable under Monte-Carlo noise
        w = max(5, len(elbo) // 50)
        smooth = np.convolve(elbo, np.ones(w) / w, mode="valid")
        ax.plot(steps[w // 2: w // 2 + len(smooth)], smooth, lw=1.8, color="C1", label=f"running mean ({w} steps)")
    if stopped_at is not None:
        ax.axvline(stopped_at, color="k", ls="--", lw=1, label=f"early stop at step {int(stopped_at)}")
    if len(elbo) > 20 or stopped_at is not None:
        ax.legend(fontsize=7, loc="lower right")
    lo = np.nanpercentile(elbo, 5) if len(elbo) > 20 else None
    if lo is not None and np.isfinite(lo):  # the first steps' very low ELBO would flatten the rest
        top = np.nanmax(elbo)
        ax.set_ylim(lo - 0.05 * (top - lo + 1e-12), top + 0.05 * (top - lo + 1e-12))
    ax.set_xlabel("optimisation step")
    ax.set_ylabel("ELBO (nats)")
    ax.set_title("evidence lower bound")
    fig.tight_layout()
    return fig
