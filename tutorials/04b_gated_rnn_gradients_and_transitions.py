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
# # 04b · Gated RNNs: the mean-field theory of gradients, and the discontinuous transition
#
# Part 1 asks the question theorists ask after "is the network chaotic?": **how do back-propagated
# gradients grow or vanish over time lags, and how does gating shape that?** (Krishnamurthy, Can &
# Schwab, PRX 2022, the section on gradients.) A loss at time T is back-propagated to the state at
# T − τ; the per-neuron squared norm ⟨|∂L/∂h(T−τ)|²⟩/N obeys a dynamical mean-field theory of its
# own (`gradient_dmft`), which we check against gradients back-propagated through N = 1000
# networks (`adjoint_norms`, the exact transpose of the RK4 step, i.e. what autograd gives).
#
# Part 2 (the discontinuous transition to chaos in detail) is tutorial 04c.
#
# `NEUROLATENT_QUICK=1` shrinks every size (N = 150, one window, no α_z > 0 sampling DMFT) so the
# notebook runs in well under a minute; the numbers quoted in the text are from the full settings.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np

from neurolatent.plotting.gradients import plot_gradient_coherence, plot_gradient_norm, plot_gradient_rates
from neurolatent.theory import GatedRNN, VanillaRNN, adjoint_norms, dmft, gradient_dmft, gradient_rate_sweep

QUICK = bool(os.environ.get("NEUROLATENT_QUICK"))
OUT = "tutorials/_output" if os.path.isdir("tutorials") else "."
os.makedirs(OUT, exist_ok=True)
SIM = dict(N=150, T=15.0, n_windows=1, burn_in=20.0) if QUICK else dict(N=1000, T=30.0, n_windows=6, burn_in=100.0)
TAU_MAX = SIM["T"]
FIT = 5.0 if QUICK else 10.0


def fitted_rate(tau, norm2, t0=FIT):
    s = tau >= t0
    return np.polyfit(tau[s], np.log(norm2[s]), 1)[0] / 2


# %% [markdown]
# ## Part 1 · Gradients
#
# ### 1.1 The equations
# In backward time τ the adjoint a = ∂L/∂x(T−τ) obeys ∂_τ a = D(x(T−τ))ᵀ a. For the gated RNN,
# with ξ_h = J^hᵀ(σ_z a_h), ξ_z = J^zᵀ a_z, ξ_r = J^rᵀ a_r,
#
# τ_h ∂a_h = −σ_z a_h + σ_r φ' ξ_h + (τ_h/τ_z) φ' ξ_z + (τ_h/τ_r) φ' ξ_r,
# τ_z ∂a_z = −a_z + (τ_z/τ_h) σ_z'(η−h) a_h,   τ_r ∂a_r = −a_r + (τ_r/τ_h) σ_r' φ ξ_h.
#
# At large N the ξ are Gaussian, independent of the forward single-site process (built from the
# columns of J, the forward noise from its rows), with covariances ⟨σ_z a_h σ_z a_h⟩, ⟨a_z a_z⟩,
# ⟨a_r a_r⟩. For α_z = 0 this closes into two-time equations for ⟨a_h a_h⟩ and ⟨a_r a_r⟩, marched
# on a grid; their eigenproblem is similar to the transposed forward tangent problem, so **the
# asymptotic gradient rate is the mean-field λ_max**. What the adjoint adds is the approach to
# it: a random loss vector first projects on all modes, so the norm rises (or falls) through a
# transient, and at the zero fixed point with a power-law prefactor (e^{−2τ} I₀(2gτ) for SCS).
# `rate` is the slope of ½ log-norm over a finite window, `rate_asymptotic` the eigenvalue.

# %% [markdown]
# ### 1.2 SCS on both sides of g = 1

# %%
fig, axes = plt.subplots(1, 2, figsize=(10, 4))
sims = {}
for ax, g in zip(axes, (0.5, 2.0)):
    model = VanillaRNN(g)
    res = gradient_dmft(model, tau_max=TAU_MAX, fit_start=FIT, tol=0.05)
    sims[g] = sim = adjoint_norms(model, seeds=[0, 1], n_vectors=4, dt=0.1, **SIM)
    plot_gradient_norm(res, ax=ax, sim=sim)
    print(f"SCS g={g}: DMFT rate {res.rate:.4f} (asymptotic {res.rate_asymptotic:.4f} = λ_max "
          f"{res.lambda_max:.4f}); simulated {fitted_rate(sim['tau'], sim['mean_norm2']):.4f} (N={SIM['N']})")
fig.tight_layout()
fig.savefig(os.path.join(OUT, "04b_scs_gradients.png"))

# %% [markdown]
# Full settings (N = 1000, 2 networks × 6 windows × 4 loss vectors, fit over τ ∈ [10, 30]): at
# g = 0.5 the DMFT rate is −0.517 and the simulation −0.511; at g = 2 the DMFT gives 0.112
# (asymptotic 0.1125 = λ_max) and the pooled simulation 0.109 (per-window 0.102 ± 0.007). At
# N = 500 the pooled simulated rate is 0.091 and at N = 2000 0.103: the networks sit 0.01–0.02
# below the mean-field rate, as their Lyapunov exponent does (0.097 at N = 1000, 0.110 at N = 4096
# for SCS g = 2).

# %% [markdown]
# ### 1.3 Gated, α_z = 0: the output gate's r channel

# %%
fig, axes = plt.subplots(1, 3, figsize=(14, 4))
for ax, model in zip(axes[:2], (GatedRNN(1.5), GatedRNN(3.0, alpha_r=2.0))):
    res = gradient_dmft(model, tau_max=TAU_MAX, fit_start=FIT, tol=0.05)
    sim = adjoint_norms(model, seeds=[0, 1], n_vectors=4, dt=0.1, **SIM)
    plot_gradient_norm(res, ax=ax, sim=sim)
    print(f"{model.g_h=}, {model.alpha_r=}: DMFT rate {res.rate:.4f} (λ_max {res.lambda_max:.4f}); "
          f"simulated {fitted_rate(sim['tau'], sim['mean_norm2']):.4f}")
plot_gradient_coherence(res, ax=axes[2])
fig.tight_layout()
fig.savefig(os.path.join(OUT, "04b_gated_gradients.png"))

# %% [markdown]
# The right panel is the temporal coherence of the gradient (its normalised two-time
# correlation): gradients at lags a few time units apart are strongly correlated, which is what
# makes long-lag credit assignment slow to average out.
#
# ### 1.4 Gated, α_z > 0: the sampling route
# With a dynamic update gate h is not Gaussian. `gradient_dmft` then draws single-site forward
# paths from the (sampled) forward DMFT and integrates the adjoint population with ξ built from
# the population itself; `rate_std` is its Monte-Carlo spread. Skipped in quick mode (the forward
# sampling DMFT alone takes about a minute here).

# %%
if not QUICK:
    model = GatedRNN(4.0, alpha_z=2.0)
    res = gradient_dmft(model, forward=dmft(model, n_paths=1000), tau_max=TAU_MAX, fit_start=FIT,
                        n_rep=4, on_fail="return")
    sim = adjoint_norms(model, seeds=[0, 1], n_vectors=4, dt=0.1, **dict(SIM, n_windows=3))
    ax = plot_gradient_norm(res, sim=sim)
    ax.figure.savefig(os.path.join(OUT, "04b_gated_az2_gradients.png"))
    print(f"alpha_z=2: DMFT rate {res.rate:.4f} ± {res.rate_std:.4f} (converged={res.converged}); "
          f"simulated {fitted_rate(sim['tau'], sim['mean_norm2']):.4f}")

# %% [markdown]
# ### 1.5 Trainability across the transition: rate against g_h
# Below the zero-fixed-point instability (g_h σ_r(0) = 1, i.e. g_h = 2 at β_r = 0) gradients
# vanish at rate σ_z(0)(g_h σ_r(0) − 1)/τ_h; above it they explode at the (small) λ_max. The
# window rate sits below λ_max near the transition, where the transient is long.

# %%
g_grid = [1.0, 2.5, 3.5] if QUICK else [1.0, 1.5, 1.8, 2.2, 2.5, 3.0, 3.5, 4.0]
ds = gradient_rate_sweep(g_grid, alpha_z=[0.0], alpha_r=2.0,
                         gradient_kwargs=dict(tau_max=TAU_MAX, fit_start=FIT, tol=0.05))
if not QUICK:  # α_z > 0 by the sampling route (cheaper forward settings; a few minutes)
    ds_z = gradient_rate_sweep([1.5, 2.5, 3.5], alpha_z=[2.0], alpha_r=2.0, dmft_kwargs={"n_paths": 500},
                               gradient_kwargs=dict(tau_max=TAU_MAX, fit_start=FIT, tol=0.05, n_rep=2))
    ds = ds.reindex(g_h=sorted(set(g_grid) | {1.5, 2.5, 3.5}))
    import xarray as xr
    ds = xr.concat([ds, ds_z.reindex(g_h=ds.g_h)], dim="alpha_z")
print(ds["rate"].round(4).to_pandas())
ax = plot_gradient_rates(ds)
ax.figure.savefig(os.path.join(OUT, "04b_gradient_rates.png"))
ds.to_netcdf(os.path.join(OUT, "04b_gradient_rates.nc"))

# %% [markdown]
# ### 1.6 Predicted vs measured rates
# Rates of the gradient *norm* (1/time), fitted over τ ∈ [10, 30]; simulation: N = 1000, seeds 0
# and 1, consecutive 30-unit windows, 4 random loss vectors each, pooled mean of the squared norm
# (± the standard error of per-window rates). Recorded from the runs behind
# `tests/theory/test_theory_gradients.py` (slow tests).
#
# | point | phase | DMFT rate (window) | λ_max (DMFT) | simulated | N, windows |
# |---|---|---|---|---|---|
# | SCS g = 0.5 | quiescent | −0.517 | −0.500 | −0.511 | 1000, 2×1 |
# | SCS g = 1.5 | chaotic | 0.045 | 0.0467 | 0.050 (0.039 ± 0.008) | 1000, 2×6 |
# | SCS g = 2 | chaotic | 0.112 | 0.1125 | 0.109 (0.102 ± 0.007) | 1000, 2×6 |
# | SCS g = 2 | chaotic | 0.112 | 0.1125 | 0.091 (0.075 ± 0.007) | 500, 2×6 |
# | SCS g = 2 | chaotic | 0.112 | 0.1125 | 0.103 (0.100 ± 0.006) | 2000, 2×4 |
# | gated (1.5, 0, 0) | quiescent | −0.139 | −0.125 | −0.137 | 1000, 2×1 |
# | gated (1.5, 5, 0) | quiescent | −0.131 ± 0.002 (sampling) | −0.125 | −0.137 | 1000, 2×1 |
# | gated (3, 0, 2) | chaotic | 0.0704 | 0.0710 | 0.0715 (0.0709 ± 0.0033) | 1000, 2×4 |
# | gated (4, 2, 0) | chaotic | 0.054 ± 0.006 | 0.054 | 0.047 (0.044 ± 0.004) | 1000, 2×4 |
# | gated (3, 5, 2) | chaotic | 0.070 ± 0.006 | 0.066 | 0.047 (0.043 ± 0.004) | 1000, 2×4 |
#
# (g_h, α_z, α_r) for the gated points; the α_z > 0 DMFT rates come from the sampling route (± its
# Monte-Carlo spread over 4 replicas of 1500 sites). Where h is Gaussian (α_z = 0) theory and
# networks agree to within the per-window spread at N = 1000 (SCS with the ~15/N deficit its
# Lyapunov exponent also has). At α_z = 2 they agree within the errors; at α_z = 5 the prediction
# is 0.023 too high, as is the sampled forward DMFT's Δ₀ it is built on (0.098 vs 0.124 measured),
# which makes the forward α_z > 0 route the first suspect (not checked further here).

# %% [markdown]
# ## Part 2 · The discontinuous transition to chaos
#
# The characterisation of the region between the topological line (where nonzero static solutions
# appear) and the chaos line — λ_max, Δ₀ and autocorrelation times against the distance to the
# line, the DMFT against N = 1000 networks — is tutorial `04c_gated_rnn_transition`
# (`neurolatent.theory.transition_diagram`, or `neurolatent theory transition` on the command line).
