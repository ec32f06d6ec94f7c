"""Figures for the gated-RNN theory: autocorrelation, spectra, Lyapunov spectra, phase diagrams.

Every function takes an optional ``ax`` and returns it, so figures compose. Titles name the model
and its parameters (those that differ from the defaults, and the required ones), taken from the
result or from ``model=``. Phase diagrams of 0/1 or few-valued quantities (stability, phase code,
number of static solutions, convergence) use a categorical colour map with named categories; the
critical lines are drawn with a halo so that they stay readable on any background.

Examples
--------
>>> from neurolatent.theory import VanillaRNN, dmft
>>> ax = plot_autocorrelation(dmft(VanillaRNN(2.0)))
>>> ax.get_title().splitlines()[0]
'VanillaRNN(g=2)'
"""
from __future__ import annotations

import dataclasses
import json

import matplotlib.pyplot as plt
import numpy as np
from matplotlib import patheffects
from matplotlib.colors import BoundaryNorm, ListedColormap

__all__ = ["plot_autocorrelation", "plot_spectrum", "plot_lyapunov_spectrum", "plot_phase_diagram", "model_title"]

#: Paul Tol's "bright" qualitative scheme (colour-blind safe): categories 0, 1, 2, ...
CATEGORY_COLOURS = ("#4477AA", "#EE6677", "#228833", "#CCBB44", "#66CCEE", "#AA3377", "#BBBBBB")

#: Names of the categories of the phase-diagram quantities that are categorical.
_CATEGORY_NAMES = {
    "zero_fp_stable": {0: "unstable", 1: "stable"},
    "converged": {0: "not converged", 1: "converged"},
}

#: Colours of named categories where a convention helps (stable blue, unstable red; failures grey).
_CATEGORY_FIXED_COLOURS = {
    "zero_fp_stable": {0: "#EE6677", 1: "#4477AA"},
    "converged": {0: "#BBBBBB", 1: "#4477AA"},
}

_LONG_NAMES = {
    "zero_fp_stable": "zero fixed point", "zero_fp_edge": "rightmost edge of the zero-FP Jacobian spectrum",
    "n_static": "number of static solutions", "delta0": "Δ₀ (variance of h)", "lambda_max": "λ_max (DMFT)",
    "phase_code": "phase", "converged": "DMFT solution", "residual": "DMFT residual",
}


def _fmt(v) -> str:
    return f"{v:g}" if isinstance(v, float) else str(v)


def model_title(model, exclude=()) -> str:
    """``"GatedRNN(g_h=3, alpha_z=5)"``: the class and every parameter that is required or not at its default.

    Parameters named in ``exclude`` (e.g. the axes of a phase diagram) are left out.

    Examples
    --------
    >>> from neurolatent.theory import GatedRNN
    >>> model_title(GatedRNN(3.0, alpha_z=5.0))
    'GatedRNN(g_h=3, alpha_z=5)'
    """
    if model is None:
        return ""
    if not dataclasses.is_dataclass(model):
        return str(model)
    shown = []
    for f in dataclasses.fields(model):
        if f.name in exclude:
            continue
        v = getattr(model, f.name)
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        if required or v != f.default:
            shown.append(f"{f.name}={_fmt(v)}")
    if not shown:
        return f"{type(model).__name__} (other parameters at their defaults)" if exclude else f"{type(model).__name__}()"
    return f"{type(model).__name__}({', '.join(shown)})"


def _ax(ax):
    return plt.subplots(figsize=(5.5, 4.2))[1] if ax is None else ax


def _title(ax, model, extra: str = "", title: str | None = None) -> None:
    if title is not None:
        ax.set_title(title)
        return
    head = model_title(model)
    ax.set_title("\n".join(t for t in (head, extra) if t), fontsize=10)


def plot_autocorrelation(result, ax=None, sim_tau=None, sim_C=None, tau_max=None, *, title: str | None = None):
    """DMFT autocorrelation C(τ) (line), optionally with a simulated one (dots).

    The title names the model and its parameters (``result.model``), Δ₀ and λ_max.
    """
    ax = _ax(ax)
    tau_max = tau_max or min(result.tau[-1], 30.0)
    sel = result.tau <= tau_max
    ax.plot(result.tau[sel], result.autocorrelation[sel], lw=1.8, label=f"DMFT ({result.method})")
    if sim_tau is not None:
        s = np.asarray(sim_tau) <= tau_max
        ax.plot(np.asarray(sim_tau)[s], np.asarray(sim_C)[s], ".", ms=3, color="k", label="simulation")
    ax.axhline(0, color="0.7", lw=0.5)
    ax.set(xlabel="lag τ (model time units)", ylabel="C(τ) = ⟨h(t) h(t+τ)⟩")
    _title(ax, getattr(result, "model", None),
           f"Δ₀ = {result.delta0:.3g}, λ_max = {result.lambda_max:.3g}, phase: {result.phase}", title)
    ax.legend(fontsize=8)
    return ax


def plot_spectrum(prediction, eigenvalues=None, ax=None, *, model=None, title: str | None = None):
    """Empirical Jacobian eigenvalues (dots) with the predicted support boundary (line).

    ``model`` (optional) names the model and its parameters in the title.
    """
    ax = _ax(ax)
    if eigenvalues is not None:
        ev = np.asarray(eigenvalues).ravel()
        ax.plot(ev.real, ev.imag, ".", ms=2, alpha=0.5, color="C0", label="empirical")
    b = np.append(prediction.boundary, prediction.boundary[:1])
    ax.plot(b.real, b.imag, "k-", lw=1.4, label="predicted support")
    ax.axvline(0, color="0.6", lw=0.6, ls=":")
    ax.set(xlabel="Re λ", ylabel="Im λ", aspect="equal")
    _title(ax, model, f"Jacobian spectrum (rightmost Re λ = {prediction.rightmost:.3g})", title)
    ax.legend(loc="upper left", fontsize=8)
    return ax


def plot_lyapunov_spectrum(result, ax=None, *, model=None, title: str | None = None):
    """Lyapunov exponents against their normalised index i/k, one line per network.

    ``model`` (optional) names the model and its parameters in the title.
    """
    ax = _ax(ax)
    k = result.exponents.shape[1]
    for j, row in enumerate(result.exponents):
        ax.plot(np.arange(1, k + 1) / k, row, "-", lw=1, alpha=0.7, color="C0",
                label="one network each" if j == 0 else None)
    ax.axhline(0, color="0.6", lw=0.6)
    ax.set(xlabel="i / k", ylabel="λ_i (1 / time unit)")
    _title(ax, model, f"Lyapunov spectrum (λ_1 = {float(np.max(result.exponents[:, 0])):.3g})", title)
    ax.legend(fontsize=8)
    return ax


def _categories(ds, quantity: str, values: np.ndarray) -> dict[int, str] | None:
    """``{code: name}`` when ``quantity`` is categorical (0/1, phase codes, few integer counts), else None."""
    finite = values[np.isfinite(values)]
    if values.dtype == bool:
        return {0: "false", 1: "true"}
    if finite.size == 0 or not np.all(finite == np.round(finite)):
        return None
    if quantity == "phase_code" and "phase_codes" in ds.attrs:
        codes = json.loads(ds.attrs["phase_codes"])
        return {int(v): k for k, v in sorted(codes.items(), key=lambda kv: kv[1])}
    if quantity in _CATEGORY_NAMES:
        return _CATEGORY_NAMES[quantity]
    uniq = np.unique(finite).astype(int)
    if set(uniq) <= {0, 1}:
        return {0: "0 (false)", 1: "1 (true)"}
    if quantity == "n_static" or (len(uniq) <= len(CATEGORY_COLOURS) and uniq.min() >= 0):
        return {int(v): str(int(v)) for v in range(int(uniq.min()), int(uniq.max()) + 1)}
    return None


def _fixed_params(ds, dims) -> str:
    """Parameters the dataset's attrs record for its model that are not grid axes."""
    params = {}
    if "model_params" in ds.attrs:
        try:
            params = dict(json.loads(ds.attrs["model_params"]))
        except (TypeError, ValueError):
            params = {}
    params = {k: v for k, v in params.items() if k not in dims}
    return ", ".join(f"{k}={_fmt(v)}" for k, v in params.items())


def plot_phase_diagram(ds, quantity=None, ax=None, sim_points=None, *, model=None, title: str | None = None):
    """2-D map of one quantity with the critical lines (zero-FP stability, static solutions, λ=0).

    Categorical quantities (``zero_fp_stable``, ``converged``, ``phase_code``, ``n_static`` and any
    0/1 or few-valued integer quantity) get a categorical colour map with one named colour per
    category; continuous ones get viridis with a labelled colour bar. Critical lines are drawn
    dark with a white halo, each with its own line style.

    Parameters
    ----------
    ds : xarray.Dataset
        From :func:`~neurolatent.theory.phase_diagram` (two grid dims).
    quantity : str, optional
        Variable to map (default ``lambda_max`` when present, else the first).
    ax : matplotlib Axes, optional
    sim_points : tuple (x, y, chaotic_bool), optional
        Markers from simulations.
    model : object, optional
        A model of the family (its non-grid parameters go in the title); default: the dataset's
        ``model`` attribute (and ``model_params`` when recorded).
    title : str, optional

    Returns
    -------
    matplotlib Axes
    """
    ax = _ax(ax)
    dims = list(ds.dims)
    if len(dims) != 2:
        raise ValueError(f"plot_phase_diagram needs a 2-D grid, got dims {dims}")
    ydim, xdim = dims
    quantity = quantity or ("lambda_max" if "lambda_max" in ds else list(ds.data_vars)[0])
    if quantity not in ds:
        raise KeyError(f"plot_phase_diagram: {quantity!r} is not in the dataset; it has {list(ds.data_vars)}")
    X, Y = np.meshgrid(ds[xdim].values, ds[ydim].values)
    values = ds[quantity].transpose(ydim, xdim).values
    cats = _categories(ds, quantity, np.asarray(values))
    label = _LONG_NAMES.get(quantity, quantity)
    if cats is not None:
        codes = sorted(cats)
        fixed = _CATEGORY_FIXED_COLOURS.get(quantity, {})
        colours = [fixed.get(c, CATEGORY_COLOURS[i % len(CATEGORY_COLOURS)]) for i, c in enumerate(codes)]
        cmap = ListedColormap(colours)
        norm = BoundaryNorm([c - 0.5 for c in codes] + [codes[-1] + 0.5], cmap.N)
        im = ax.pcolormesh(X, Y, values.astype(float), shading="auto", cmap=cmap, norm=norm)
        cb = plt.colorbar(im, ax=ax, ticks=codes)
        cb.ax.set_yticklabels([cats[c] for c in codes])
        cb.set_label(label)
    else:
        im = ax.pcolormesh(X, Y, values, shading="auto", cmap="viridis")
        plt.colorbar(im, ax=ax, label=label)
    halo = [patheffects.withStroke(linewidth=3.5, foreground="white")]
    styles = {"zero_fp_stable": ("k", "-", 0.5, "zero-FP instability"),
              "n_static": ("#AA3377", "--", 0.5, "static solutions appear"),
              "lambda_max": ("#222222", ":", 0.0, "λ_max = 0")}
    for var, (color, ls, level, name) in styles.items():
        if var in ds:
            v = ds[var].transpose(ydim, xdim).values
            if np.nanmin(v) < level < np.nanmax(v):
                cs = ax.contour(X, Y, v, levels=[level], colors=color, linestyles=ls, linewidths=1.8)
                cs.set(path_effects=halo)
                ax.plot([], [], color=color, ls=ls, lw=1.8, label=name)
    if sim_points is not None:
        x, y, c = (np.asarray(a) for a in sim_points)
        c = c.astype(bool)
        ax.scatter(x[c], y[c], marker="x", color="k", s=40, lw=2, label="sim: chaotic", path_effects=halo)
        ax.scatter(x[~c], y[~c], marker="o", facecolors="white", edgecolors="k", s=40, label="sim: decays")
    ax.set(xlabel=xdim, ylabel=ydim)
    fam = model_title(model, exclude=dims) if model is not None else str(ds.attrs.get("model", ""))
    fixed = _fixed_params(ds, dims) if model is None else ""
    head = f"{fam} ({fixed})" if fixed else fam
    ax.set_title(title if title is not None else "\n".join(t for t in (head, f"{label} over ({xdim}, {ydim})") if t),
                 fontsize=10)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="upper right", framealpha=0.85)
    return ax
