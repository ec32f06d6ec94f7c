# ---
# jupyter:
#   jupytext:
#     formats: py:percent
# ---

# %% [markdown]
# # Continual learning: EWC, SI, MAS and the square root of the Fisher
#
# A network trained on task A and then on task B usually forgets A. Importance-based regularisers
# protect what A needs: after each task they score every parameter and pull the important ones back
# to their old values with
#
# $$R(\theta) = \frac{\lambda}{2} \sum_i \Omega_i (\theta_i - \theta_i^\ast)^2 .$$
#
# EWC scores with the Fisher information, SI with a path integral of the loss decrease, MAS with the
# sensitivity of the output norm. Benzing (AISTATS 2022) showed that all three measure, up to scale,
# the *square root* of the Fisher -- and that SI does so only through a bias of its minibatch
# estimate (the part called SIB here), not through the path integral it was designed to compute
# (SIU). This tutorial uses `neurolatent.methods.continual` on offline digits to
#
# 1. run every method on the same stream of permuted-digit tasks and plot the accuracy matrices,
# 2. compare average final accuracy and forgetting,
# 3. scatter each importance against $\sqrt{F}$ across parameters, with Spearman's $\rho$,
# 4. train a recurrent network on a stream of cognitive tasks with natural continual learning (NCL;
#    Kao et al. 2021) and compare how much each task's activity subspace moves.
#
# `NEUROLATENT_QUICK=1` (used when the docs are built) shortens the stream and the training.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np
import torch
from scipy.stats import spearmanr

from neurolatent.methods.common import MLP, load_digits, permuted_tasks
from neurolatent.methods.continual import (
    RNNClassifier,
    activity_subspace,
    cognitive_tasks,
    importance,
    run,
    subspace_overlap,
)

QUICK = bool(os.environ.get("NEUROLATENT_QUICK"))
N_TASKS = 3 if QUICK else 5
EPOCHS = 3 if QUICK else 5
device = "cuda" if torch.cuda.is_available() else "cpu"

digits = load_digits(device=device)
tasks = permuted_tasks(digits, N_TASKS, seed=0)
print(len(tasks), "tasks;", tasks[1].name, tuple(tasks[1].x_train.shape))

# %% [markdown]
# ## One call per method, the same stream and the same initial network
#
# `run` trains a copy of the network, so one initial `MLP` serves every method. It returns an
# `xarray.Dataset` holding the accuracy matrix $R_{ij}$ (accuracy on task $j$ after training on
# task $i$) and its summaries.

# %%
methods = ["finetune", "ewc", "af", "mas", "si", "sib", "siu"]
net0 = MLP(64, (100, 100), 10, seed=0)
results = {m: run(net0, tasks, m, epochs=EPOCHS, lr=1e-3, seed=0, device=device, progress=False) for m in methods}
print(results["ewc"])

# %%
fig, axes = plt.subplots(1, len(methods), figsize=(2.3 * len(methods), 2.6), sharey=True)
for ax, m in zip(axes, methods):
    im = ax.imshow(results[m].accuracy.values, vmin=0, vmax=1, cmap="viridis")
    ax.set_title(f"{m}\navg {float(results[m].average_accuracy):.2f}", fontsize=9)
    ax.set_xlabel("on task")
axes[0].set_ylabel("after task")
fig.colorbar(im, ax=axes, shrink=0.8, label="test accuracy")
plt.show()

# %% [markdown]
# Fine-tuning keeps the diagonal (each task is learnt) but loses the lower triangle; the
# regularisers trade a little of the diagonal for much less forgetting.

# %%
avg = [float(results[m].average_accuracy) for m in methods]
forget = [float(results[m].average_forgetting) for m in methods]
fig, ax = plt.subplots(figsize=(6, 2.8))
x = np.arange(len(methods))
ax.bar(x - 0.2, avg, 0.4, label="average final accuracy")
ax.bar(x + 0.2, forget, 0.4, label="average forgetting")
ax.set_xticks(x, methods)
ax.legend(fontsize=8)
plt.show()
for m, a, f in zip(methods, avg, forget):
    print(f"{m:9s} accuracy {a:.3f}  forgetting {f:.3f}  backward transfer {float(results[m].backward_transfer):+.3f}")

# %% [markdown]
# ## Importances against $\sqrt{F}$
#
# We train a fresh network on the first task while accumulating SI's running sums (SI, its
# unbiased part SIU and its bias SIB follow the same trajectory for the same seed), then compute the
# Fisher, the absolute Fisher and MAS at the end point. Small minibatches (16) make the gradient
# noise -- SI's bias -- dominate, the regime Benzing analyses.

# %%
raw = {}
for kind in ("si", "siu", "sib"):
    net = MLP(64, (100, 100), 10, seed=0).to(device)
    raw[kind] = importance(net, tasks[0], kind=kind, epochs=EPOCHS, lr=1e-3, batch_size=16, normalise=False)
for kind in ("af", "mas"):
    raw[kind] = importance(net, tasks[0], kind=kind)
flat = {k: torch.cat([v.flatten() for v in imp.values()]).cpu().numpy() for k, imp in raw.items()}
root_f = np.sqrt(torch.cat([v.flatten() for v in importance(net, tasks[0], kind="fisher").values()]).cpu().numpy())

fig, axes = plt.subplots(1, 5, figsize=(13, 2.8))
for ax, k in zip(axes, ["mas", "af", "si", "sib", "siu"]):
    keep = (flat[k] > 0) & (root_f > 0)  # log axes: SIU and SIB have a few negative entries
    ax.loglog(root_f[keep], flat[k][keep], ".", ms=1, alpha=0.3)
    ax.set_title(f"{k.upper()}  rho = {spearmanr(flat[k], root_f)[0]:.2f}", fontsize=9)
    ax.set_xlabel(r"$\sqrt{F}$")
plt.tight_layout()
plt.show()

# %% [markdown]
# MAS, AF, SI and SIB line up with $\sqrt{F}$; SIU -- the unbiased path integral SI set out to
# compute -- scatters much more. At the runner's default minibatch of 64 and with SI's normalisation
# $\omega/((\Delta\theta)^2+\xi)$ the separation between SIB and SIU disappears on this small problem
# (the test suite records those numbers as a non-reproduced claim).

# %% [markdown]
# ## Recurrent networks: natural continual learning on cognitive tasks
#
# Five procedurally generated tasks (delayed go, delayed anti-go, delayed match-to-sample and a
# context-dependent decision in each of two contexts) share one input layout: fixation, two stimulus
# modalities and a one-hot rule. A leaky tanh RNN reads its answer out at the last step.
# NCL keeps a Kronecker-factored Laplace posterior and *preconditions* every step by its inverse
# precision; KFAC uses the same posterior only as a penalty. For each task we also compare the
# top-5 principal subspace of its hidden activity right after learning it and at the end.

# %%
N_COG = 3 if QUICK else 5
cog = cognitive_tasks(n_train=256 if QUICK else 384, n_test=128 if QUICK else 256, seed=0, device=device)[:N_COG]
rnn_methods = {"finetune": {}, "ewc": {"strength": 1e3}, "kfac": {}, "ncl": {}}
rows = {}
for m, kw in rnn_methods.items():
    subs = {}

    def keep(state, subs=subs):
        k = state["task"]
        subs[k] = activity_subspace(state["model"], cog[k].x_test, dim=5)
        if k == len(cog) - 1:
            subs["final"] = [activity_subspace(state["model"], t.x_test, dim=5) for t in cog]

    res = run(RNNClassifier(10, 64, 8, seed=0), cog, m, epochs=4 if QUICK else 10, lr=3e-3, seed=0, device=device,
              progress=False, callback=keep, **kw)
    overlap = np.mean([subspace_overlap(subs[k], subs["final"][k]) for k in range(len(cog) - 1)])
    rows[m] = (res, overlap)
    print(f"{m:9s} accuracy {float(res.average_accuracy):.3f}  forgetting {float(res.average_forgetting):.3f}  "
          f"subspace overlap {overlap:.2f}")

fig, axes = plt.subplots(1, len(rows), figsize=(2.4 * len(rows), 2.6), sharey=True)
for ax, (m, (res, ov)) in zip(axes, rows.items()):
    ax.imshow(res.accuracy.values, vmin=0, vmax=1, cmap="viridis")
    ax.set_title(f"{m}\noverlap {ov:.2f}", fontsize=9)
    ax.set_xlabel("on task")
axes[0].set_ylabel("after task")
plt.show()

# %% [markdown]
# At this small scale the regularised networks keep most of each task's activity subspace while
# fine-tuning rotates it away. NCL beats EWC on two of the three seeds the test suite runs and
# forgets task 0 on the third; no method learns the anti-go task right after the go task (see the
# recorded, non-strict expected failure in `tests/methods/continual/test_continual_ncl_claims.py`).
