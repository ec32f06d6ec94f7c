"""Figures for the gated-RNN theory: autocorrelation, spectra, Lyapunov spectra, phase diagrams.

Every function takes an optional ``ax`` and returns it, so figures compose.

Examples
--------
>>> from neurolatent.theory import VanillaRNN, dmft
>>> ax = plot_autocorrelation(dmft(VanillaRNN(2.0)))
"""
from __future__ import annotations


import matplotlib.pyplot as plt
import numpy as np

__all__ = ["plot_autocorrelation", "plot_spectrum", "plot_lyapunov_spectrum", "plot_phase_diagram"]


def _ax(ax):
    return plt.subplots(figsize=(5, 4))[1] if ax is None else ax


def plot_autocorrelation(result, ax=None, sim_tau=None, sim_C=None, tau_max=None):
    """DMFT autocorrelation C(τ) (line), optionally with a simulated one (dots)."""
    ax = _ax(ax)
    tau_max = tau_max or min(result.tau[-1], 30.0)
    sel = result.tau <= tau_max
    ax.plot(result.tau[sel], result.autocorrelation[sel], label=f"DMFT ({result.method})")
    if sim_tau is not None:
        s = np.asarray(sim_tau) <= tau_max
        ax.plot(np.asarray(sim_tau)[s], np.asarray(sim_C)[s], ".", ms=3, label="simulation")
    ax.set(xlabel="lag τ", ylabel="C(τ)", title=f"Δ₀={result.delta0:.3g}, λ_max={result.lambda_max:.3g}")
    ax.legend()
    return ax


def plot_spectrum(prediction, eigenvalues=None, ax=None):
    """Empirical eigenvalues (dots) with the predicted support boundary (line)."""
    ax = _ax(ax)
    if eigenvalues is not None:
        ev = np.asarray(eigenvalues).ravel()
        ax.plot(ev.real, ev.imag, ".", ms=2, alpha=0.5, label="empirical")
    b = np.append(prediction.boundary, prediction.boundary[:1])
    ax.plot(b.real, b.imag, "k-", lw=1.2, label="predicted support")
    ax.axvline(0, color="0.7", lw=0.5)
    ax.set(xlabel="Re λ", ylabel="Im λ", aspect="equal")
    ax.legend(loc="upper left", fontsize=8)
    return ax


def plot_lyapunov_spectrum(result, ax=None):
    """Lyapunov exponents against their normalised index i/k."""
    ax = _ax(ax)
    k = result.exponents.shape[1]
    for row in result.exponents:
        ax.plot(np.arange(1, k + 1) / k, row, "-", lw=1, alpha=0.7)
    ax.axhline(0, color="0.6", lw=0.5)
    ax.set(xlabel="i / k", ylabel="λ_i")
    return ax


def plot_phase_diagram(ds, quantity=None, ax=None, sim_points=None):
    """2-D map of one quantity with the critical lines (zero-FP stability, static solutions, λ=0).

    ``sim_points``: optional ``(x, y, chaotic_bool)`` markers from simulations.
    """
    ax = _ax(ax)
    dims = list(ds.dims)
    if len(dims) != 2:
        raise ValueError(f"plot_phase_diagram needs a 2-D grid, got dims {dims}")
    ydim, xdim = dims
    quantity = quantity or ("lambda_max" if "lambda_max" in ds else list(ds.data_vars)[0])
    X, Y = np.meshgrid(ds[xdim].values, ds[ydim].values)
    im = ax.pcolormesh(X, Y, ds[quantity].values, shading="auto", cmap="viridis")
    plt.colorbar(im, ax=ax, label=quantity)
    styles = {"zero_fp_stable": ("w", 0.5), "n_static": ("r", 0.5), "lambda_max": ("orange", 0.0)}
    for var, (color, level) in styles.items():
        if var in ds and np.nanmin(ds[var].values) < level < np.nanmax(ds[var].values):
            ax.contour(X, Y, ds[var].values, levels=[level], colors=color, linewidths=1.5)
            ax.plot([], [], color=color, label={"zero_fp_stable": "zero-FP instability",
                                                "n_static": "static solutions appear", "lambda_max": "λ_max = 0"}[var])
    if sim_points is not None:
        x, y, c = (np.asarray(a) for a in sim_points)
        ax.scatter(x[c], y[c], marker="x", color="r", label="sim: chaotic")
        ax.scatter(x[~c], y[~c], marker="o", facecolors="none", edgecolors="w", label="sim: decays")
    ax.set(xlabel=xdim, ylabel=ydim)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="upper right")
    return ax
