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
# # 04c · The discontinuous transition of the gated RNN: complexity without chaos
#
# In the classical random network (Sompolinsky, Crisanti & Sommers 1988) unstable fixed points
# proliferate exactly where chaos begins. Krishnamurthy, Can & Schwab (PRX 2022) show that the
# output gate r decouples the two: at large α_r nonzero static mean-field solutions (topological
# complexity) appear by a saddle-node at g_h*(α_r) < 2, while chaos starts only at a larger
# g_c(α_r) < 2, with a finite amplitude, and coexists with the stable zero fixed point.
#
# This notebook maps both lines on the (g_h, α_r) plane (α_z = 0, where the DMFT is exact),
# characterises the DMFT between and beyond them (λ_max, Δ₀, autocorrelation time vs the distance
# to the chaos line) and checks points with N = 1000 networks (Benettin λ_max).
#
# `NEUROLATENT_QUICK=1` shrinks every size (two α_r values, no bisection, N = 200).

# %%
import os

from neurolatent.plotting.transition import plot_transition
from neurolatent.theory import static_line, transition_diagram
from neurolatent.theory.transition import TRICRITICAL_ALPHA_R

QUICK = bool(os.environ.get("NEUROLATENT_QUICK"))
OUT = "tutorials/_output" if os.path.isdir("tutorials") else "."
os.makedirs(OUT, exist_ok=True)

# %% [markdown]
# ## 1. The topological line: a saddle-node above the tricritical point
#
# The static equation's small-Δ expansion, F(Δ) ≈ (g_h²/4 − 1)Δ + g_h⁴(α_r²/16 − 1/2)Δ², puts a
# tricritical point at (g_h, α_r) = (2, 2√2): below it the nonzero branch grows continuously out
# of zero at g_h = 2, above it it is born at a finite Δ below g_h = 2.

# %%
for a in ([1.0, 4.0, 16.0] if QUICK else [1.0, 2.0, 2.5, 3.0, 4.0, 8.0, 16.0, 32.0]):
    print(f"alpha_r = {a:5.1f} (tricritical {TRICRITICAL_ALPHA_R:.3f}): g_h* = {static_line(a):.4f}")

# %% [markdown]
# ## 2. Both lines, the DMFT grid and simulations
#
# The chaos line is bracketed by bisection on "the DMFT, iterated from a large initial variance,
# converges to a chaotic solution". Near the line the iteration slows down (a discontinuous
# transition); points that do not converge are counted as not chaotic (`n_unconverged`).

# %%
if QUICK:
    ds = transition_diagram(alpha_r=[2.0, 16.0], g_h=[1.7, 1.9], xtol=1.0, point_kwargs={"max_iter": 80},
                            sim_points=[(1.9, 16.0)], N=200,
                            sim_kwargs={"burn_in": 30.0, "T_var": 20.0, "T_lyap": 30.0}, progress=False)
else:
    ds = transition_diagram(alpha_r=[2.0, 4.0, 8.0, 16.0, 32.0], g_h=[1.6, 1.7, 1.8, 1.9, 2.0, 2.1],
                            sim_points=[(1.7, 16.0), (1.9, 16.0), (2.5, 2.0)], N=1000, progress=False)
print(ds[["g_static", "g_chaos", "g_chaos_lo", "g_chaos_hi", "lambda_onset", "delta0_onset",
          "lambda_zero_fp"]].to_dataframe().round(4))
ds.to_netcdf(os.path.join(OUT, "transition.nc"))

# %% [markdown]
# Reading the table: at α_r = 2 both lines sit at g_h = 2 (the continuous, SCS-like transition);
# for larger α_r the static line moves well below 2 and the chaos line lies between it and 2.
# `lambda_onset` is the DMFT λ_max just above the chaos line and `lambda_zero_fp` the exponent of
# the coexisting zero fixed point there: their gap is the jump of λ_max across the line. In the
# full run (β = 0): g_h* = 2, 1.964, 1.805, 1.663, 1.569 and g_c = 2.002, 1.994, 1.897, 1.786,
# 1.717 at α_r = 2, 4, 8, 16, 32; the jump is 0.02, 0.09, 0.14, 0.19 for α_r = 4 … 32 and zero
# at α_r = 2. Just above the line the chaotic state has a finite amplitude (Δ₀ ≈ 0.015) and a
# finite autocorrelation time (τ_c ≈ 7–9): no critical slowing down on the chaotic side.

# %%
fig = plot_transition(ds)
fig.savefig(os.path.join(OUT, "transition.png"), dpi=120)

# %% [markdown]
# ## 3. Finite networks between and beyond the lines
#
# Between the lines the networks, started from a large random state, fall onto the zero fixed
# point (the static solutions are unstable saddles), after a chaotic-looking transient that
# lengthens toward the chaos line (at α_r = 16, N = 1000: within 100 time units at g_h = 1.7,
# after 164–244 at g_h = 1.76–1.78); above the chaos line they stay chaotic with λ_max close to
# the DMFT's (0.1224 vs 0.1222 at (1.9, 16); finite-N estimates often sit ~0.01 below it).

# %%
for i in range(ds.sizes["sim"]):
    p = ds.isel(sim=i)
    print(f"g_h = {float(p.sim_g_h):.2f}, alpha_r = {float(p.sim_alpha_r):4.1f}: "
          f"simulated lambda_max = {float(p.sim_lambda_max):+.4f}, DMFT {float(p.dmft_lambda_max):+.4f}; "
          f"<h^2> = {float(p.sim_variance):.4f} (final {float(p.sim_final_variance):.2e}), "
          f"DMFT Delta0 = {float(p.dmft_delta0):.4f}")

# %% [markdown]
# ## 4. How long do the transients last?
#
# `transient_lifetimes` starts a batch of seeded networks from var h = 1 at several g_h between the
# lines and records when ⟨h²⟩ first falls below 1e-4 (the zero fixed point). Full run (α_r = 16,
# g_c = 1.786, N = 50 / 100 / 200, 8 seeds, T_max = 400): median lifetimes 41.5 / 60.5 / 61.5 at
# g_h = 1.70 (distance −0.086), 48.5 / 76.5 / 73.0 at 1.74 (−0.046), 62 / 77.5 / 84.5 at 1.77
# (−0.016); at N = 400, 64.5 at 1.70 and 114 at 1.77. They lengthen toward the chaos line at every
# N and the gap widens with N, but slowly: T ∝ |d|^(−ν) with ν = 0.13–0.34, and over N = 50–400 a
# power law T ∝ N^c (c = 0.19 at 1.70, 0.28 at 1.77) fits better than an exponential in N. At these
# sizes the transients last 6–16 autocorrelation times; no divergence at the line and no
# exponential-in-N lifetimes are visible.

# %%
from neurolatent.theory.transition import transient_lifetimes  # noqa: E402

life = transient_lifetimes(16.0, [1.70, 1.77] if QUICK else [1.70, 1.74, 1.77],
                           N=[40] if QUICK else [50, 100, 200], seeds=range(3 if QUICK else 8),
                           T_max=100.0 if QUICK else 400.0, g_chaos=1.786, progress=False)
print(life.median_lifetime.to_pandas())
print("power law in N, exponent c per g_h:", life.power.values.round(3))
life.to_netcdf(f"{OUT}/04c_transient_lifetimes.nc")
