# ---
# jupyter:
#   jupytext:
#     formats: py:percent
# ---

# %% [markdown]
# # Differentiable control: inverse LQR and Gramian design with `nl.linalg`
#
# `nl.linalg` solves Sylvester, Lyapunov and Riccati equations with exact derivatives
# (implicit differentiation, Kao & Hennequin 2020): the gradient of any function of the
# solution costs one more equation of the same kind. Here we use that to
#
# 1. **inverse optimal control**: recover a state cost `Q` whose LQR feedback gain matches
#    an observed gain `K*` (e.g. fitted to a motor controller), and
# 2. **input design**: find an input matrix `B` whose controllability Gramian (the stationary
#    covariance of a linear network driven by white noise through `B`) equals a target.

# %%
import os
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import torch

import neurolatent.linalg as L

QUICK = bool(os.environ.get("NEUROLATENT_QUICK"))
OUT = Path(tempfile.mkdtemp(prefix="nl_tutorial_05b_"))
F64 = torch.float64
g = torch.Generator().manual_seed(0)
n, m = (4, 2) if QUICK else (8, 3)

# %% [markdown]
# ## 1. Inverse LQR
# The CARE $A^\top P + PA - PBR^{-1}B^\top P + Q = 0$ gives the optimal gain $K = R^{-1}B^\top P$.
# We parametrise $Q = LL^\top + 10^{-3}I$ (positive definite) and minimise $\|K(Q) - K^*\|^2$.

# %%
A = torch.randn(n, n, dtype=F64, generator=g) / 2
B = torch.randn(n, m, dtype=F64, generator=g)
R = torch.eye(m, dtype=F64)
M = torch.randn(n, n, dtype=F64, generator=g)
Q_star = M @ M.T / n + 0.5 * torch.eye(n, dtype=F64)


def gain(Q):
    return torch.linalg.solve(R, B.T @ L.solve_continuous_are(A, B, Q, R))


K_star = gain(Q_star)
Lq = torch.eye(n, dtype=F64).requires_grad_()
history = []
opt = torch.optim.LBFGS([Lq], lr=1, max_iter=20, line_search_fn="strong_wolfe",
                        tolerance_grad=1e-14, tolerance_change=1e-16)


def closure():
    opt.zero_grad()
    loss = (gain(Lq @ Lq.T + 1e-3 * torch.eye(n, dtype=F64)) - K_star).square().sum() / K_star.square().sum()
    loss.backward()
    history.append(loss.item())
    return loss


for _ in range(5 if QUICK else 15):
    opt.step(closure)
print(f"relative gain error: start {history[0]:.3g}, end {history[-1]:.3g}")
assert history[-1] < 1e-8

# %% [markdown]
# The learned $Q$ need not equal $Q^*$: many state costs give the same gain (the inverse
# LQR problem is not identifiable), but the gain, which is what was observed, is matched.

# %%
Q_fit = (Lq @ Lq.T + 1e-3 * torch.eye(n, dtype=F64)).detach()
print("||Q_fit - Q*|| / ||Q*|| =", float((Q_fit - Q_star).norm() / Q_star.norm()))

# %% [markdown]
# ## 2. Input design from a target Gramian
# For a stable network $\dot x = Ax + B\xi$ the stationary covariance is the controllability
# Gramian $W$, solving $AW + WA^\top + BB^\top = 0$. We learn $B$ (with Adam, to show a plain
# first-order loop) so that $W(B)$ matches the Gramian of a hidden input matrix.

# %%
As = A - (torch.linalg.eigvals(A).real.max() + 0.5) * torch.eye(n, dtype=F64)
W_star = L.controllability_gramian(As, torch.randn(n, m, dtype=F64, generator=g))
B_fit = torch.randn(n, m, dtype=F64, generator=g).requires_grad_()
adam = torch.optim.Adam([B_fit], lr=0.05)
gram_hist = []
for step in range(300 if QUICK else 2000):
    adam.zero_grad()
    loss = (L.controllability_gramian(As, B_fit) - W_star).square().sum() / W_star.square().sum()
    loss.backward()
    adam.step()
    gram_hist.append(loss.item())
print(f"relative Gramian error: start {gram_hist[0]:.3g}, end {gram_hist[-1]:.3g}")
assert gram_hist[-1] < 1e-2 * gram_hist[0]

# %%
fig, ax = plt.subplots(1, 2, figsize=(9, 3.2))
ax[0].semilogy(history)
ax[0].set(xlabel="L-BFGS function evaluation", ylabel="relative gain error", title="inverse LQR")
ax[1].semilogy(gram_hist)
ax[1].set(xlabel="Adam step", ylabel="relative Gramian error", title="Gramian matching")
fig.tight_layout()
fig.savefig(OUT / "inverse_control.png", dpi=100)
print("figure written to", OUT)
