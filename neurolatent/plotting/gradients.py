"""Figures for the mean-field theory of back-propagated gradients (:func:`~neurolatent.theory.gradient_dmft`).

Every function takes an optional ``ax`` and returns it, so figures compose; the model's parameters
go in the title and the axes carry units (model time units).

Examples
--------
>>> from neurolatent.theory import VanillaRNN, gradient_dmft
>>> ax = plot_gradient_norm(gradient_dmft(VanillaRNN(2.0), tau_max=20.0))
"""
from __future__ import annotations

import dataclasses

import matplotlib.pyplot as plt
import numpy as np

__all__ = ["plot_gradient_norm", "plot_gradient_coherence", "plot_gradient_rates", "model_title"]


def _ax(ax):
    return plt.subplots(figsize=(5, 4))[1] if ax is None else ax


def model_title(model) -> str:
    """Short title: the model's non-default parameters (all of them for the gain)."""
    parts = []
    for f in dataclasses.fields(model):
        v = getattr(model, f.name)
        if f.name in ("g", "g_h") or v != f.default:
            parts.append(f"{f.name}={v:g}" if isinstance(v, float) else f"{f.name}={v}")
    return f"{type(model).__name__}(" + ", ".join(parts) + ")"


def plot_gradient_norm(result, ax=None, sim=None, label=None):
    """log of the per-neuron squared gradient norm against the lag (theory line, simulation dots).

    Parameters
    ----------
    result : GradientDMFTResult
    sim : dict, optional
        Output of :func:`~neurolatent.theory.adjoint.adjoint_norms`: the pooled mean is drawn as
        dots and the per-network means (over windows and loss vectors) as thin lines.
    label : str, optional
        Legend label of the theory line.
    """
    ax = _ax(ax)
    line, = ax.plot(result.tau, np.log(result.norm2), lw=2,
                    label=label or f"DMFT ({result.method}), rate {result.rate:.3g}")
    t = result.tau
    ax.plot(t, np.log(result.norm2[-1]) + 2 * result.rate_asymptotic * (t - t[-1]) if np.isfinite(
        result.rate_asymptotic) else np.full_like(t, np.nan), ":", color=line.get_color(), lw=1,
        label=f"asymptotic rate {result.rate_asymptotic:.3g}" if np.isfinite(result.rate_asymptotic) else None)
    if sim is not None:
        tau, L = np.asarray(sim["tau"]), np.asarray(sim["log_norm2"])
        flat = L.reshape(L.shape[0], -1, L.shape[-1])
        for b in range(flat.shape[0]):
            top = flat[b].max(0)
            ax.plot(tau, np.log(np.exp(flat[b] - top).mean(0)) + top, "-", color="0.6", lw=0.6)
        step = max(len(tau) // 40, 1)
        ax.plot(tau[::step], np.log(np.asarray(sim["mean_norm2"]))[::step], "o", ms=3, color="k",
                label=f"simulation (mean of {flat.shape[0]} networks)")
    ax.set(xlabel="lag τ (model time units)", ylabel="log ⟨|∂L/∂h(T−τ)|²⟩ / N",
           title=model_title(result.model))
    ax.title.set_fontsize(8)
    ax.legend(fontsize=7)
    ax.figure.tight_layout()
    return ax


def plot_gradient_coherence(result, ax=None):
    """Normalised two-time correlation of the gradient at the end of the window against the lag."""
    ax = _ax(ax)
    ax.plot(result.lag, result.coherence, lw=2)
    ax.axhline(0, color="0.7", lw=0.5)
    ax.set(xlabel="lag u (model time units)", ylabel="C_adj(τ, τ−u) / norm", title=model_title(result.model))
    ax.title.set_fontsize(8)
    return ax


def plot_gradient_rates(ds, ax=None, sim=None):
    """Gradient-norm rate against ``g_h`` for each ``alpha_z`` of a :func:`~neurolatent.theory.gradient_rate_sweep`.

    ``sim``: optional ``(g_h, alpha_z, rate, err)`` arrays of simulated rates (error bars).
    Non-converged points are ``nan`` in ``ds`` and leave gaps.
    """
    ax = _ax(ax)
    for az in ds["alpha_z"].values:
        sel = ds.sel(alpha_z=az)
        line, = ax.plot(sel["g_h"], sel["rate"], "-o", ms=3, label=f"α_z={az:g}: rate over the fit window")
        ax.plot(sel["g_h"], sel["lambda_max"], "--", color=line.get_color(), lw=1, label=f"α_z={az:g}: λ_max")
    if sim is not None:
        g, az, r, e = (np.asarray(a, float) for a in sim)
        ax.errorbar(g, r, yerr=e, fmt="s", color="k", ms=4, capsize=2, label="simulation N=1000")
    ax.axhline(0, color="0.6", lw=0.5)
    fixed = ", ".join(f"{k[6:]}={v:g}" for k, v in ds.attrs.items() if k.startswith("param_")
                      and isinstance(v, (int, float)))
    ax.set(xlabel="g_h", ylabel="gradient-norm rate (1/time unit)", title=f"GatedRNN({fixed})")
    ax.title.set_fontsize(8)
    ax.legend(fontsize=7)
    ax.figure.tight_layout()
    return ax
