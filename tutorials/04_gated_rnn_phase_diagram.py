# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 04 · The phase diagram of a gated RNN: theory and simulation on the same axes
#
# The gated RNN of Krishnamurthy, Can & Schwab (PRX 2022) has an update gate z (a per-neuron
# adaptive time constant) and an output gate r (scales each neuron's output). This notebook
#
# 1. checks the mean-field theory on the classical SCS network (Δ₀, λ_max),
# 2. draws the (g_h, α_r) phase diagram: the zero-fixed-point instability line g_h σ_r(0) = 1,
#    the discontinuous appearance of nonzero static solutions at large α_r below g_h = 2, and
#    the mean-field λ_max, with finite-network simulations as markers,
# 3. shows the Jacobian spectrum (random-matrix prediction over empirical eigenvalues) and the
#    slow modes that the z gate creates as α_z grows.
#
# `NEUROLATENT_QUICK=1` shrinks every size so the notebook runs in about a minute.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

from neurolatent.plotting.theory import plot_autocorrelation, plot_phase_diagram, plot_spectrum
from neurolatent.theory import (GatedRNN, VanillaRNN, dmft, empirical_spectrum, jacobian_spectrum,
                                lyapunov_max, phase_diagram, simulate)

QUICK = bool(os.environ.get("NEUROLATENT_QUICK"))
OUT = "tutorials/_output" if os.path.isdir("tutorials") else "."
os.makedirs(OUT, exist_ok=True)

# %% [markdown]
# ## 1. SCS baseline: DMFT vs simulation

# %%
scs = dmft(VanillaRNN(2.0))
N = 200 if QUICK else 1000
traj = simulate(VanillaRNN(2.0), N=N, T=60.0 if QUICK else 200.0, dt=0.1, seeds=[1, 2], burn_in=40.0)
x = traj.states.numpy()
lags = np.arange(0, 150)
C_sim = np.array([np.mean(x[:, : x.shape[1] - k] * x[:, k:]) for k in lags])
print(f"DMFT Δ0 = {scs.delta0:.3f}, simulated <x^2> = {np.mean(x ** 2):.3f} (N = {N}); "
      f"λ_max DMFT = {scs.lambda_max:.3f}")
plot_autocorrelation(scs, sim_tau=lags * 0.1, sim_C=C_sim)

# %% [markdown]
# ## 2. Phase diagram over (g_h, α_r) at α_z = 0
#
# Cheap quantities (zero-FP stability, number of static solutions) on a fine grid, λ_max from the
# DMFT on a coarser one.

# %%
class Factory:
    def __call__(self, g_h, alpha_r):
        return GatedRNN(g_h, 0.0, alpha_r)


n = 9 if QUICK else 41
pd_static = phase_diagram(Factory(), {"g_h": f"1:3:{n}", "alpha_r": f"0:30:{n}"},
                          ["zero_fp_stable", "n_static"], progress=False)
nl = 3 if QUICK else 9
pd_dyn = phase_diagram(Factory(), {"g_h": f"1.6:3:{nl}", "alpha_r": f"0:30:{nl}"},
                       ["lambda_max", "delta0", "converged"], progress=False)
print(pd_dyn.lambda_max.round(3).values)

# %% [markdown]
# Simulations at a few points: does a network started from a large random state keep moving?

# %%
pts = [(1.8, 5.0), (1.8, 30.0), (2.5, 5.0)] if QUICK else [(g, a) for g in (1.6, 1.8, 2.2, 2.6) for a in (5.0, 15.0, 30.0)]
chaotic = []
for g, a in pts:
    tr = simulate(GatedRNN(g, 0.0, a), N=150 if QUICK else 500, T=50.0, dt=0.1, seeds=[0], burn_in=100.0,
                  init_std=3.0)
    h = tr.states[0, :, : tr.states.shape[2] // 3]
    chaotic.append(bool(h.var(dim=0).mean() > 1e-6))
fig, axes = plt.subplots(1, 2, figsize=(11, 4))
plot_phase_diagram(pd_static, "n_static", ax=axes[0],
                   sim_points=([p[1] for p in pts], [p[0] for p in pts], np.array(chaotic)))
plot_phase_diagram(pd_dyn, "lambda_max", ax=axes[1])
fig.savefig(os.path.join(OUT, "04_phase_diagram.png"))

# %% [markdown]
# ## 3. Jacobian spectra and slow modes

# %%
m = GatedRNN(3.0, 0.0, 4.0)
pred = jacobian_spectrum(m)
emp = empirical_spectrum(m, N=150 if QUICK else 600, burn_in=60.0)
print("fraction of empirical eigenvalues inside the predicted support:",
      np.mean(pred.contains(emp.eigenvalues)))
plot_spectrum(pred, emp.eigenvalues)

alphas = [0.0, 5.0, 40.0] if QUICK else [0.0, 2.0, 5.0, 10.0, 20.0, 40.0, 100.0]
slow = [empirical_spectrum(GatedRNN(3.0, a, 0.0), N=150 if QUICK else 400, burn_in=60.0).slow_fraction(0.02)
        for a in alphas]
print("slow-mode fraction vs alpha_z:", dict(zip(alphas, np.round(slow, 3))), "limit 1/6")
lam = lyapunov_max(GatedRNN(3.0, 0.0, 4.0), N=150 if QUICK else 500, T=50.0 if QUICK else 200.0,
                   burn_in=30.0, progress=False)
print(f"λ_max: simulation {lam.mean():.3f} vs DMFT {dmft(GatedRNN(3.0, 0.0, 4.0)).lambda_max:.3f}")
