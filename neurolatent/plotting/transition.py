"""Figure of the gated RNN's discontinuous transition (:func:`neurolatent.theory.transition_diagram`).

Examples
--------
>>> import numpy as np, xarray as xr
>>> ds = xr.Dataset({"g_static": ("alpha_r", [2.0, 1.8]), "g_chaos": ("alpha_r", [2.0, 1.9])},
...                 coords={"alpha_r": [1.0, 10.0]})
>>> fig = plot_transition(ds)
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

__all__ = ["plot_transition"]


def _title(ds) -> str:
    a = ds.attrs
    parts = [f"{k}={a['param_' + k]:g}" for k in ("alpha_z", "beta_r", "beta_h", "tau_h", "tau_r") if "param_" + k in a]
    if "sim_g_h" in ds and ds.sizes.get("sim", 0):
        parts.append(f"sim N={a.get('N', '?')}, seeds {a.get('seeds', '?')}")
    return "Gated RNN: topological vs chaos line" + (" (" + ", ".join(parts) + ")" if parts else "")


def plot_transition(ds, fig=None):
    """Both critical lines on the (g_h, α_r) plane and, when present, λ_max / Δ₀ / τ_c vs distance.

    Parameters
    ----------
    ds : xarray.Dataset
        Output of :func:`neurolatent.theory.transition_diagram`.
    fig : matplotlib Figure, optional

    Returns
    -------
    matplotlib.figure.Figure
        Panel 1: ``g_static`` and ``g_chaos`` (with its bracket) vs α_r, the tricritical α_r, the
        zero-fixed-point line (gate convention ``"subtract"``: σ_r(0) = 1/(1 + e^{β_r})), simulated
        points (filled: sustained activity, open: decayed).
        Panels 2–4 (only with a ``g_h`` grid): DMFT λ_max, Δ₀ and τ_c against ``g_h - g_chaos``
        per α_r: chaotic branch solid, quiescent branch dotted with open markers, crosses where the
        DMFT did not converge (flagged).
    """
    grid = "lambda_max" in ds and ds.sizes.get("g_h", 0) > 0
    if fig is None:
        fig = plt.figure(figsize=(14 if grid else 5.5, 4.2))
    axes = fig.subplots(1, 4 if grid else 1)
    axes = np.atleast_1d(axes)
    ax = axes[0]
    a = ds["alpha_r"].values
    ax.plot(ds["g_static"].values, a, "o-", color="tab:blue", lw=2, label="nonzero static solutions appear")
    ax.plot(ds["g_chaos"].values, a, "s--", color="tab:red", lw=2, label="DMFT chaos (λ_max > 0) appears")
    if "g_chaos_lo" in ds:
        ax.fill_betweenx(a, ds["g_chaos_lo"].values, ds["g_chaos_hi"].values, color="tab:red", alpha=0.2)
    if "param_beta_r" in ds.attrs:  # zero fixed point unstable for g_h sigma_r(0) > 1
        ax.axvline(1 + np.exp(float(ds.attrs["param_beta_r"])), color="k", lw=1, ls="-.",
                   label="zero FP unstable: g_h σ_r(0) = 1")
    if np.isfinite(float(ds.attrs.get("tricritical_alpha_r", np.inf))):
        ax.axhline(ds.attrs["tricritical_alpha_r"], color="grey", ls=":", lw=1,
                   label=f"α_r = {float(ds.attrs['tricritical_alpha_r']):.3g} (tricritical)")
    if "sim_g_h" in ds and ds.sizes.get("sim", 0):
        alive = ds["sim_final_variance"].values > 1e-6
        for on, lab, fc in ((True, "simulation: sustained", "k"), (False, "simulation: decayed to 0", "none")):
            s = alive == on
            if s.any():
                ax.scatter(ds["sim_g_h"].values[s], ds["sim_alpha_r"].values[s], marker="*", s=120,
                           facecolors=fc, edgecolors="k", zorder=5, label=lab)
    ax.set_xlabel("activation gain g_h")
    ax.set_ylabel("output-gate sensitivity α_r")
    ax.legend(fontsize=7, loc="lower left")
    if grid:
        d = ds["distance"].values
        for i, al in enumerate(a):
            c = plt.cm.viridis(i / max(len(a) - 1, 1))
            ok = ds["converged"].values[i] > 0 if "converged" in ds else np.ones(d.shape[1], bool)
            chaos = ds["phase_code"].values[i] == 3 if "phase_code" in ds else np.ones(d.shape[1], bool)
            for axk, q in zip(axes[1:], ("lambda_max", "delta0", "tau_c")):
                y = ds[q].values[i]
                # the two branches are drawn apart, so that a jump is not drawn as a ramp
                axk.plot(d[i][ok & chaos], y[ok & chaos], "o-", color=c, label=f"α_r={al:g}")
                axk.plot(d[i][ok & ~chaos], y[ok & ~chaos], "o:", color=c, mfc="none")
                axk.plot(d[i][~ok], y[~ok], "x", color=c)  # flagged: DMFT did not converge
        axes[1].axhline(0, color="k", lw=0.5)
        axes[1].axvline(0, color="grey", ls=":")
        for axk, q, lab in zip(axes[1:], ("lambda_max", "delta0", "tau_c"),
                               ("DMFT λ_max [1/τ_h]", "DMFT Δ₀ = ⟨h²⟩", "autocorrelation time τ_c [τ_h]")):
            axk.set_xlabel("distance to chaos line g_h − g_c(α_r)")
            axk.set_ylabel(lab)
            axk.axvline(0, color="grey", ls=":")
        axes[1].legend(fontsize=7)
    fig.suptitle(_title(ds), fontsize=9)
    fig.tight_layout()
    return fig
