# ---
# jupyter:
#   jupytext:
#     formats: py:percent
# ---

# %% [markdown]
# # Online gradients for RNNs: exact RTRL, UORO, KF-RTRL, OK(r) and truncated BPTT
#
# `neurolatent.methods.rtrl` trains recurrent networks **online**: every method is an object that
# consumes one time step, `learner.step(x_t, target_t) -> loss`, and hands back a gradient estimate,
# `learner.gradient()` or `learner.set_grad()` followed by any `torch.optim` optimiser. The methods
# differ in how they carry the *influence matrix* $G_t = \partial h_t / \partial \theta$ forward:
#
# * **exact RTRL** (Williams & Zipser 1989) carries all of it: $O(n^3)$ memory, $O(n^4)$ time per step;
# * **UORO** (Tallec & Ollivier 2017) keeps one random outer product $\tilde u \tilde\theta^\top$;
# * **KF-RTRL** (Mujika, Meier & Steger 2018) keeps one Kronecker product $A \otimes u^\top$;
# * **OK(r)** (Benzing et al. 2019) keeps a sum of $r$ Kronecker products, re-compressed each step by
#   the *optimal* unbiased rank reduction;
# * **TBPTT(h)** backpropagates each loss through the last $h$ steps only.
#
# This tutorial checks exact RTRL against BPTT, measures each estimator's variance around the exact
# gradient, trains online on a delayed-recall task whose lag exceeds TBPTT's horizon and on the
# embedded Reber grammar, and shows the memory that exact RTRL would need as the network grows.
# `NEUROLATENT_QUICK=1` shrinks everything to a few seconds.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np
import torch

from neurolatent.methods.rtrl import (
    KFRTRL,
    OKRTRL,
    RTRL,
    TBPTT,
    UORO,
    CopyTask,
    ExactRTRLTooLarge,
    GatedCell,
    ReberGrammar,
    TanhCell,
    bptt_gradient,
    gradient_variance,
    rtrl_memory_bytes,
    train_online,
)

QUICK = bool(os.environ.get("NEUROLATENT_QUICK"))
torch.set_num_threads(1)

# %% [markdown]
# ## 1. Exact RTRL is BPTT, one step at a time
#
# Without parameter updates, the sum of the per-step RTRL gradients equals the gradient of the whole
# sequence's loss by backpropagation through time (float64, both cells).

# %%
task = CopyTask(n_symbols=4, length=2, delay=6)
x, y = task.sample(4, seed=0)
for Cell in (TanhCell, GatedCell):
    cell = Cell(task.n_input, 12, seed=0, dtype=torch.float64)
    readout = torch.nn.Linear(12, task.n_output, dtype=torch.float64)
    learner = RTRL(cell, readout)
    learner.reset(batch_size=4)
    for t in range(x.shape[0]):
        learner.step(x[t].double(), y[t])
    reference = bptt_gradient(cell, readout, x.double(), y)
    err = max(float((learner.gradient()[k] - reference[k]).abs().max()) for k in reference)
    print(f"{Cell.__name__}: max |RTRL - BPTT| = {err:.1e}")

# %% [markdown]
# ## 2. Variance around the exact gradient
#
# `gradient_variance` runs an estimator on one sequence with many independent noise draws and
# reports $\mathbb E\|\tilde g - g\|^2 / \|g\|^2$. The papers' ordering is UORO $\gg$ KF-RTRL $>$
# OK(r), falling with $r$. KF-RTRL and OK(1) differ by only 15-45 % (`test_rtrl_claims.py` measures
# it with 100 draws on three networks); with the 40 draws of the quick mode the two can swap.

# %%
seeds = [0] if QUICK else [0, 1, 2]
ranks = [1, 2, 4] if QUICK else [1, 2, 4, 8]
n_noise = 40 if QUICK else 200
task = CopyTask(n_symbols=4, length=2, delay=10)
table = {}
for seed in seeds:
    cell = TanhCell(task.n_input, 16, seed=seed, dtype=torch.float64)
    readout = torch.nn.Linear(16, task.n_output, dtype=torch.float64)
    methods = {"UORO": UORO(cell, readout, seed=1), "KF-RTRL": KFRTRL(cell, readout, seed=1)}
    methods.update({f"OK({r})": OKRTRL(cell, readout, r=r, seed=1) for r in ranks})
    for name, learner in methods.items():
        table.setdefault(name, []).append(float(gradient_variance(learner, task, n_noise=n_noise, seed=seed).variance))
for name, v in table.items():
    print(f"{name:8s} normalised variance {np.mean(v):9.4f}  (seeds: {', '.join(f'{a:.3g}' for a in v)})")

fig, ax = plt.subplots(figsize=(5, 3))
ax.bar(list(table), [np.mean(v) for v in table.values()], color="tab:blue")
ax.set_yscale("log")
ax.set_ylabel(r"$E\|\tilde g - g\|^2 / \|g\|^2$")
ax.set_title("gradient variance, tanh RNN n = 16")
fig.tight_layout()

# %% [markdown]
# ## 3. A dependency longer than the truncation horizon
#
# Delayed recall with distractors: a symbol, seven distractor symbols, then a cue; the target is the
# first symbol, 8 steps back. With online Adam updates after every step, OK(2) gets a gradient
# across the lag, while TBPTT with horizon 2 cannot (chance is 0.25). The recurrent weights start
# small (gain 0.3), so the random network does not keep the symbol by itself.

# %%
task = CopyTask(n_symbols=4, length=1, delay=7, distractors=True)
n_batches = 30 if QUICK else 150
makers = {"OK(2)": lambda c, r: OKRTRL(c, r, r=2, seed=0), "TBPTT(2)": lambda c, r: TBPTT(c, r, h=2)}
if not QUICK:
    makers = {"exact RTRL": lambda c, r: RTRL(c, r), **makers, "KF-RTRL": lambda c, r: KFRTRL(c, r, seed=0),
              "UORO": lambda c, r: UORO(c, r, seed=0)}
curves = {}
for name, make in makers.items():
    cell = TanhCell(task.n_input, 16, seed=0, gain=0.3)
    torch.manual_seed(0)
    learner = make(cell, torch.nn.Linear(16, task.n_output))
    opt = torch.optim.Adam(learner.parameters(), lr=0.01)
    curves[name] = train_online(learner, task, opt, n_batches=n_batches, batch_size=16,
                                eval_every=max(n_batches // 6, 1), seed=0)
    print(f"{name:10s} final recall accuracy {float(curves[name].eval_accuracy[-1]):.2f}")

fig, ax = plt.subplots(figsize=(5, 3))
for name, ds in curves.items():
    ax.plot(ds.evaluated_at, ds.eval_accuracy, marker="o", label=name)
ax.axhline(0.25, color="grey", ls=":", label="chance")
ax.set_xlabel("batches of 16 sequences")
ax.set_ylabel("recall accuracy (lag 8)")
ax.legend(fontsize=8)
fig.tight_layout()

# %% [markdown]
# ## 4. A character-level task: the embedded Reber grammar
#
# Next-symbol prediction on strings of the embedded Reber grammar, whose second-to-last symbol
# repeats the second one across the whole string. We compare OK(2) with TBPTT(4) by the held-out
# cross-entropy per symbol. Ten batches (quick mode) only show the start, where TBPTT is ahead; after
# 100 batches (`benchmarks/rtrl.py --learning`, three seeds) OK(2) reaches 0.505 nats per symbol
# against TBPTT(4)'s 0.558 and exact RTRL's 0.473.

# %%
task = ReberGrammar(embedded=True, max_length=20)
n_batches = 10 if QUICK else 150
reber = {}
for name, make in {"OK(2)": lambda c, r: OKRTRL(c, r, r=2, seed=0), "TBPTT(4)": lambda c, r: TBPTT(c, r, h=4)}.items():
    cell = GatedCell(task.n_input, 16, seed=0)
    torch.manual_seed(0)
    learner = make(cell, torch.nn.Linear(16, task.n_output))
    opt = torch.optim.Adam(learner.parameters(), lr=0.01)
    reber[name] = train_online(learner, task, opt, n_batches=n_batches, batch_size=16,
                               eval_every=max(n_batches // 5, 1), seed=0)
    print(f"{name:9s} held-out loss {float(reber[name].eval_loss[-1]):.3f} nats/symbol")

fig, ax = plt.subplots(figsize=(5, 3))
for name, ds in reber.items():
    ax.plot(ds.evaluated_at, ds.eval_loss, marker="o", label=name)
ax.set_xlabel("batches of 16 strings")
ax.set_ylabel("cross-entropy (nats/symbol)")
ax.legend()
fig.tight_layout()

# %% [markdown]
# ## 5. What exact RTRL costs
#
# The influence matrix of a tanh RNN with $n$ units has $n \cdot p \approx n^3$ entries; exact RTRL
# refuses, with the estimate, when that exceeds a memory limit (by default half the free memory)
# and suggests an approximation. `benchmarks/rtrl.py` times every method for n = 16 ... 256.

# %%
for n in (16, 32, 64, 128, 256):
    print(f"n = {n:3d}: exact RTRL needs {rtrl_memory_bytes(TanhCell(1, n), dtype=torch.float32) / 2**20:8.1f} MiB "
          "per sequence")
try:
    RTRL(TanhCell(1, 256), torch.nn.Linear(256, 2), memory_limit=2**26)
except ExactRTRLTooLarge as err:
    print("refused:", err)
