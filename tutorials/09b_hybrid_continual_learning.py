# ---
# jupyter:
#   jupytext:
#     formats: py:percent
# ---

# %% [markdown]
# # Hybrid continual learning: a flow that classifies, replays and notices new tasks
#
# HCL (Kirichenko et al. 2021, "Task-agnostic continual learning with hybrid probabilistic
# models") models the inputs themselves: a RealNVP normalizing flow $z = f_\theta(x)$ with one
# Gaussian $\mathcal N(\mu_{t,y}, I)$ per task and class in latent space. The exact likelihood
#
# $$\log p(x \mid t, y) = \log \mathcal N(f_\theta(x); \mu_{t,y}, I) + \log\lvert\det \partial f_\theta / \partial x\rvert$$
#
# does three jobs at once:
#
# 1. **classification** -- the class whose components give $x$ the highest likelihood;
# 2. **protection of old tasks** -- a frozen copy of the flow generates samples of old classes,
#    which are either learnt again (*generative replay*, HCL-GR) or used to keep the new flow's
#    latent codes where the old flow put them (*functional regularisation*, HCL-FR);
# 3. **task-change detection** -- a batch of a new task is *atypical* under the current task's
#    components, so a typicality test on the batch log-likelihood flags the boundary.
#
# This tutorial runs the three training modes on split digits (5 tasks of 2 classes, the 8x8
# scikit-learn digits, class-incremental: at test time the model chooses among every class seen so
# far), plots the accuracy matrices, and then the detector's trace along the stream.
# `NEUROLATENT_QUICK=1` (used when the docs are built) trains a smaller flow on the first three
# tasks only.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np
import torch

from neurolatent.methods.common import load_digits, split_tasks
from neurolatent.methods.continual import TypicalityDetector, run_hcl

QUICK = bool(os.environ.get("NEUROLATENT_QUICK"))
# the full run uses run_hcl's defaults (8 couplings of width 128, 6 epochs per task)
SIZE = dict(n_couplings=4, hidden=64) if QUICK else {}
device = "cuda" if torch.cuda.is_available() else "cpu"
torch.set_num_threads(1)

tasks = split_tasks(load_digits(device=device), 2)[:3 if QUICK else None]
print(len(tasks), "tasks;", [t.name for t in tasks])
print("task 1 classes:", sorted(set(tasks[1].y_train.tolist())), "inputs", tuple(tasks[1].x_train.shape))

# %% [markdown]
# ## Fine-tuning, HCL-GR and HCL-FR on the same stream
#
# `run_hcl` trains a fresh flow (seeded) through the stream and evaluates it on every task's test
# split after each task, giving the same accuracy-matrix `Dataset` as `run`. A
# `TypicalityDetector` rides along: before each training step it scores the incoming batch by its
# mean log-likelihood per dimension under the current task.

# %%
results, models = {}, {}
for mode in ("finetune", "gr", "fr"):
    results[mode] = run_hcl(tasks, mode, seed=0, device=device, progress=False, detector=TypicalityDetector(),
                            callback=lambda info, m=mode: models.__setitem__(m, info["model"]), **SIZE)
    r = results[mode]
    print(f"{mode:8s} average final accuracy {float(r.average_accuracy):.3f}   "
          f"average forgetting {float(r.average_forgetting):.3f}")

# %%
fig, axes = plt.subplots(1, 3, figsize=(11, 3.6), constrained_layout=True)
for ax, (mode, r) in zip(axes, results.items()):
    acc = r.accuracy.values
    ax.imshow(acc, vmin=0, vmax=1, cmap="viridis")
    for i in range(acc.shape[0]):
        for j in range(i + 1):
            ax.text(j, i, f"{acc[i, j]:.2f}", ha="center", va="center", fontsize=7,
                    color="white" if acc[i, j] < 0.6 else "black")
    ax.set_title(f"{mode}: avg {float(r.average_accuracy):.2f}")
    ax.set_xlabel("on task")
    ax.set_ylabel("after task")
fig.suptitle("Accuracy matrices on split digits (class-incremental)")
plt.show()

# %% [markdown]
# Fine-tuning keeps only the last task: the flow is refitted to the two newest classes and the old
# components no longer describe the old digits. Both HCL mechanisms keep most of the old tasks:
# replayed samples of the frozen flow stand in for the data that is gone.
#
# ## What the replay looks like
#
# The samples HCL-FR replays are $f_{\theta^\ast}^{-1}(\mu_k + \varepsilon)$ for old components
# $k$. Here we draw them from the final model (every class has a component by then).

# %%
model = models["fr"]  # the callback after the last task handed us the trained model
comps = torch.arange(model.n_components, device=device).repeat_interleave(4)
with torch.no_grad():
    x, _ = model.sample(comps, temperature=0.8, generator=torch.Generator().manual_seed(0))
fig, axes = plt.subplots(4, model.n_components, figsize=(model.n_components * 0.8, 3.4))
for k in range(model.n_components):
    for r in range(4):
        axes[r, k].imshow(x[4 * k + r].reshape(8, 8).cpu(), cmap="gray_r")
        axes[r, k].axis("off")
    axes[0, k].set_title(str(int(model.component_class[k])), fontsize=8)
fig.suptitle("Samples of each class component (temperature 0.8)")
plt.show()

# %% [markdown]
# ## The detection trace
#
# The statistic of each batch is its mean log-likelihood per dimension under the current task's
# components; the detector standardises it against the last 12 in-task batches and flags
# $|a| > 4$. Dashed lines are the true task boundaries, red dots the flags.

# %%
r = results["fr"]
score, flagged, true_task = r.score.values, r.flagged.values, r.true_task.values
bounds = np.flatnonzero(np.diff(true_task)) + 1
fig, ax = plt.subplots(figsize=(9, 3), constrained_layout=True)
ax.plot(score, lw=1)
ax.scatter(np.flatnonzero(flagged), score[flagged], color="red", zorder=3, label="flagged")
for b in bounds:
    ax.axvline(b, color="k", ls="--", lw=0.8)
ax.set_xlabel("batch")
ax.set_ylabel("mean log-likelihood / dim")
ax.legend()
plt.show()
print("delay at each boundary (batches):", r.detection_delay.values,
      "| false alarms:", int(r.false_alarms), f"({float(r.false_alarm_rate):.3f} per batch)")

# %% [markdown]
# ## Letting the detector set the boundaries
#
# In the task-agnostic setting nobody announces a new task: with `boundaries="detected"` each
# flag freezes a copy of the flow and opens a new set of components. A missed boundary means the
# old classes are not replayed; a false alarm only adds components to a class.

# %%
agnostic = run_hcl(tasks, "fr", seed=0, device=device, progress=False, boundaries="detected",
                   detector=TypicalityDetector(), **SIZE)
print(f"task-agnostic HCL-FR: average final accuracy {float(agnostic.average_accuracy):.3f}; "
      f"{agnostic.attrs['model_tasks']} tasks found for {len(tasks)} true ones")

# %% [markdown]
# ## A task that comes back
#
# When a change is flagged, `recognise=True` first asks whether the new batch is typical of an
# *earlier* task (by that task's own in-task statistics). If so, the model returns to that task's
# components instead of opening new ones. On the stream A, B, A:

# %%
recurring = [tasks[0], tasks[1], tasks[0]]
for recognise in (False, True):
    r = run_hcl(recurring, "fr", seed=0, device=device, progress=False, boundaries="detected",
                detector=TypicalityDetector(), recognise=recognise, **SIZE)
    print(f"recognise={recognise}: {r.attrs['model_tasks']} model tasks, {r.attrs['components']} components, "
          f"average final accuracy {float(r.average_accuracy):.3f}")
