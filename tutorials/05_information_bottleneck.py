# ---
# jupyter:
#   jupytext:
#     formats: py:percent
# ---

# %% [markdown]
# # Information-bottleneck theory with `nl.methods.infotheory`
#
# Four exact results, each with its numerical check and a figure:
#
# 1. **Gaussian IB** (Chechik et al. 2005) and its Rényi-α / Jeffreys generalisations: the
#    critical trade-offs $\beta_{c,i} = 1/(1-\lambda_i)$ are shared, and the generalised
#    encoders are nearly optimal for the original objective.
# 2. **Discrete IB onset**: Blahut--Arimoto with annealing against the perturbation theory
#    of the learning onset, $\beta_c = 1/\rho_m^2$.
# 3. **Regression**: residual information of randomised ridge peaks at $n \approx d$;
#    randomised ridge lies near the optimal relevant/residual bound.
# 4. **Double descent as an optimisation effect**: the test-error peak at $d \approx n$ grows
#    with the number of gradient steps; the smallest non-zero sample-covariance eigenvalue
#    is smallest at $d = n$.

# %%
import os
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import neurolatent.methods.infotheory as it

QUICK = bool(os.environ.get("NEUROLATENT_QUICK"))
OUT = Path(tempfile.mkdtemp(prefix="nl_tutorial_05_"))
rng = np.random.default_rng(0)

# %% [markdown]
# ## 1. Gaussian IB and its generalisations
# A random jointly Gaussian $(X, Y)$ with $\dim X = 3$, $\dim Y = 2$ (so one eigenvalue of
# $\Sigma_{x|y}\Sigma_x^{-1}$ equals 1 and that direction is never encoded).

# %%
M = rng.standard_normal((5, 5))
S = M @ M.T + 0.5 * np.eye(5)
Sx, Sxy, Sy = S[:3, :3], S[:3, 3:], S[3:, 3:]
spec = it.gaussian_ib_spectrum(Sx, Sxy, Sy)
print("lambda_i =", spec.lam.values.round(4), " beta_c =", spec.beta_c.values.round(4))
betas = np.linspace(1.0, 12.0, 120 if QUICK else 600)
measures = {"MI (original)": ("mi", 0.5), "Rényi α=0.5": ("renyi", 0.5), "Rényi α=2": ("renyi", 2.0),
            "Jeffreys": ("jeffreys", 0.5)}
curves = {k: it.gaussian_ib_curve(Sx, Sxy, Sy, betas, *v) for k, v in measures.items()}

fig, ax = plt.subplots(1, 2, figsize=(10, 3.6))
for (name, c), ls in zip(curves.items(), ["-", "--", ":", "-."]):
    for i in range(2):
        ax[0].plot(betas, np.log1p(c.snr.isel(component=i)), ls, color=f"C{i}", label=name if i == 0 else None)
    ax[1].plot(c.I_xt, c.I_ty, ls, label=name)
for b in spec.beta_c.values[:2]:
    ax[0].axvline(b, color="k", lw=0.6)
ax[0].set(xlabel=r"$\beta$", ylabel=r"$\log(1 + \mathrm{SNR}_i)$",
          title=r"components switch on at the same $\beta_{c,i}$ (black)")
ax[0].legend(fontsize=7)
ax[1].set(xlabel="I(X;T) [nats]", ylabel="I(T;Y) [nats]", title="information plane (original MI)")
ax[1].legend(fontsize=7)
fig.tight_layout()
fig.savefig(OUT / "gaussian_ib.png", dpi=100)

# %% [markdown]
# The generalised encoders are scored on the original IB curve: the loss of relevant
# information at equal compression is small (and never negative).

# %%
for name, c in curves.items():
    m = c.I_xt.values > 1e-3
    best = it.optimal_relevance(Sx, Sxy, Sy, c.I_xt.values[m])
    gap = (best - c.I_ty.values[m]) / best
    print(f"{name:14s} worst relative loss of I(T;Y): {gap.max():.2e}")
    assert gap.min() > -1e-10

# %% [markdown]
# ## 2. Learning onset of the discrete IB
# A centrosymmetric joint distribution (continuous onset) and a random one (the cubic term
# of the expansion makes the onset discontinuous).

# %%
x, y = np.arange(6), np.arange(4)
py_x = np.exp(-(y[None, :] - (x / 5 * 3)[:, None]) ** 2 / (2 * 0.9 ** 2))
py_x /= py_x.sum(1, keepdims=True)
p_sym = (np.array([1, 2, 3, 3, 2, 1.0]) / 12)[:, None] * py_x
p_rand = rng.dirichlet(np.ones(20)).reshape(5, 4)

fig, ax = plt.subplots(1, 2, figsize=(10, 3.6))
for a, p, title in ((ax[0], p_sym, "symmetric joint: continuous onset"),
                    (ax[1], p_rand, "random joint: discontinuous onset")):
    on = it.ib_onset(p)
    bc = float(on.beta_c)
    grid = bc * np.linspace(0.8, 1.6, 9 if QUICK else 33)
    cur = it.ib_curve(p, grid, n_clusters=2 if bool(on.continuous) else 3,
                      max_iter=20000 if QUICK else 200000, tol=1e-11)
    a.plot(cur.beta / bc, cur.I_xt, "o-", label="Blahut-Arimoto (annealed)")
    if bool(on.continuous):
        fine = bc * np.linspace(0.8, 1.2, 200)               # leading order: valid near onset
        pred = it.ib_onset_prediction(p, fine)
        a.plot(fine / bc, pred.I_xt, "k--", label="perturbation theory")
    a.axvline(1.0, color="k", lw=0.6)
    a.set(xlabel=r"$\beta / \beta_c$", ylabel="I(X;T) [nats]", title=title)
    a.legend(fontsize=7)
    print(f"{title}: beta_c = {bc:.4f}, rho_m^2 = {float(on.rho2):.4f}")
fig.tight_layout()
fig.savefig(OUT / "discrete_ib_onset.png", dpi=100)

# %% [markdown]
# ## 3. Relevant vs residual information in ridge regression
# Residual information (bits of label noise kept in the weights) of randomised ridge with
# isotropic injected noise, across the sample-to-parameter ratio $n/d$.

# %%
ratios = np.linspace(0.2, 3.0, 15 if QUICK else 57)
ridges = [1e-4, 1e-2, 1e-1, 1.0]
ds = it.ridge_information(ratios, ridges, d=100 if QUICK else 400, n_draws=2)
mp = it.ridge_information(ratios, ridges, asymptotic=True)
fig, ax = plt.subplots(1, 2, figsize=(10, 3.6))
for j, lam in enumerate(ridges):
    ax[0].plot(ratios, ds.residual.sel(ridge=lam), "o", ms=3, color=f"C{j}")
    ax[0].plot(ratios, mp.residual.sel(ridge=lam), "-", color=f"C{j}", label=f"λ={lam:g}")
ax[0].axvline(1.0, color="k", lw=0.6)
ax[0].set(xlabel="n / d", ylabel="residual information [nats/parameter]",
          title="dots: finite d; lines: Marchenko-Pastur limit")
ax[0].legend(fontsize=7)
taus = np.logspace(-3, 1, 12 if QUICK else 40)
for n, col in ((50, "C0"), (100, "C1"), (200, "C2")):
    e = it.ridge_efficiency(n, 100, 0.25, taus, noise="posterior", n_draws=2)
    ax[1].plot(e.residual, e.relevant, "o", ms=3, color=col, label=f"randomised ridge n/d={n / 100:g}")
    s2, w = it.regression_spectrum(n, 100, n_draws=2)
    beta_c = 1 / (1 - 0.25 / (s2.max() + 0.25))            # first mode switches on here
    b = it.optimal_regression_bound(s2, w, 0.25, beta_c * (1 + np.logspace(-6, 6, 400)))
    ax[1].plot(b.residual, b.relevant, "-", color=col)
ax[1].set(xscale="log", xlim=(1e-3, 10), xlabel="residual information", ylabel="relevant information",
          title="lines: optimal (IB) bound")
ax[1].legend(fontsize=7)
fig.tight_layout()
fig.savefig(OUT / "regression_ib.png", dpi=100)
peak = float(ds.residual.sel(ridge=1e-4).idxmax("n_over_d"))
print(f"residual information peaks at n/d = {peak:.2f}")

# %% [markdown]
# ## 4. Double descent as an optimisation effect

# %%
n = 100
dims = np.unique(np.concatenate([np.linspace(10, 300, 16 if QUICK else 60).astype(int), [90, 100, 110]]))
steps = [10, 100, 300, 1000, np.inf]
dd = it.double_descent_curve(n, dims, steps, n_draws=3 if QUICK else 20)
sm = it.smallest_nonzero_eigenvalue(n, dims, n_draws=3 if QUICK else 20)
fig, ax = plt.subplots(1, 2, figsize=(10, 3.6))
for t in steps:
    ax[0].plot(dims, dd.risk.sel(steps=t), label=f"t={t:g}" if np.isfinite(t) else "min-norm")
ax[0].set(yscale="log", xlabel="d (n = 100)", ylabel="excess risk", title="GD after t steps vs min-norm")
ax[0].legend(fontsize=7)
ax[1].plot(dims, sm.mu_min_mean, "o", ms=3, label="smallest non-zero eigenvalue")
ax[1].plot(dims, sm.marchenko_pastur, "k-", label=r"$(1-\sqrt{d/n})^2$")
ax[1].set(yscale="log", xlabel="d", title="sample covariance")
ax[1].legend(fontsize=7)
fig.tight_layout()
fig.savefig(OUT / "double_descent.png", dpi=100)
print("peak d per step count:", dict(zip([str(s) for s in steps], dd.peak_d.values.tolist())))
print("figures written to", OUT)
