# ---
# jupyter:
#   jupytext:
#     formats: py:percent
# ---

# %% [markdown]
# # Pruning and sparsity: magnitude, OBD, OBS, the FishLeg surgeon and Powerpropagation
#
# `neurolatent.methods.sparsity` prunes the weights of `nn.Linear` / `nn.Conv*d` layers with one call
# per method, `pruner.prune(model, sparsity, scope="global" | "layer")`, which installs boolean masks
# that stay in force through further training. This tutorial
#
# 1. trains a small MLP on the offline digits and draws **one-shot sparsity curves** (test accuracy vs
#    sparsity, no fine-tuning) for magnitude pruning, Optimal Brain Damage with the diagonal Fisher,
#    exact Optimal Brain Surgeon (explicit damped inverse Fisher, Hassibi & Stork 1993) and the
#    **FishLeg surgeon** (OBS with FishLeg's learned inverse Fisher $Q$, McGowan, Garcia et al. 2024);
# 2. checks how well $Q g$ points along the exact $(F + \gamma I)^{-1} g$;
# 3. prunes **gradually** during training with the cubic schedule of Zhu & Gupta (2017);
# 4. trains with **Powerpropagation**, $w = v|v|^{\alpha-1}$ (Schwarz et al. 2021), and shows the weight
#    mass moving towards zero and the network surviving magnitude pruning to higher sparsity, then packs
#    several tasks into one network with a Powerprop-trained mask per task;
# 5. draws the **rewinding curve** of iterative magnitude pruning (Frankle, Schwab & Morcos 2020) and the
#    effect of perturbing the rewound weights, then pre-trains on blurred inputs or on rotation
#    prediction before IMP instead of rewinding;
# 6. trains **only BatchNorm's** $\gamma, \beta$ on a random network (Frankle, Schwab & Morcos 2021) and
#    shows the histogram of $\gamma$.
#
# `NEUROLATENT_QUICK=1` shrinks everything to a few seconds.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np
import torch
import xarray as xr

from neurolatent.methods.common import MLP, evaluate, load_digits, train
from neurolatent.methods.optim import FishLeg
from neurolatent.methods.sparsity import (
    PERTURBATIONS,
    FishLegSurgeon,
    MagnitudePruner,
    OBDPruner,
    OBSPruner,
    freeze_all_but_batchnorm,
    gamma_near_zero,
    gradual_prune,
    imp,
    inverse_fisher_cosine,
    powerpropagate,
    prunable_layers,
    random_parameter_subset,
    remove_powerprop,
    retrain_masked,
    sparsity_curve,
)

QUICK = bool(os.environ.get("NEUROLATENT_QUICK"))
EPOCHS = 10 if QUICK else 30
Q_STEPS = 100 if QUICK else 300
LEVELS = [0.5, 0.7, 0.8, 0.9, 0.95] if QUICK else [0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95]
GAMMA = 1e-2
torch.set_num_threads(1)
device = "cpu"  # the exact-OBS oracle is a dense float64 inverse: CPU is fine at this size

digits = load_digits(device=device)
net = MLP(64, (32,), 10, seed=0, device=device)
train(net, digits, epochs=EPOCHS, lr=1e-3, seed=0)
print("dense test accuracy:", round(evaluate(net, digits.x_test, digits.y_test)["accuracy"], 3))

# %% [markdown]
# ## Fit FishLeg's inverse Fisher on the trained network
#
# FishLeg learns a Kronecker-factored $Q(\lambda) \approx (F + \gamma I)^{-1}$ by minimising an auxiliary
# loss that needs only Fisher-vector products. Here we only fit $Q$ (no parameter steps); the surgeon
# refuses an unfitted $Q$ rather than silently falling back to magnitude pruning. The cosine below
# compares $Q g$ with the exact per-layer $(F + \gamma I)^{-1} g$; with the 100 auxiliary steps of the quick
# mode $Q$ is barely better aligned than the plain gradient, after 300 steps (the slow tests, three
# seeds) it measures 0.55-0.64 against 0.46-0.50.

# %%
fishleg = FishLeg(net, damping=GAMMA, aux_lr=0.02, seed=0)
gen = torch.Generator().manual_seed(0)
for _ in range(Q_STEPS):
    fishleg.update_q(digits.x_train[torch.randint(0, len(digits.x_train), (256,), generator=gen)], steps=1)
x_sub, y_sub = digits.x_train[:512], digits.y_train[:512]
print("cos(Q g, F^-1 g)  =", round(inverse_fisher_cosine(fishleg, net, x_sub, y_sub), 3))
print("cos(g, F^-1 g)    =", round(inverse_fisher_cosine(FishLeg(net, damping=GAMMA), net, x_sub, y_sub), 3),
      "(Q = I, for reference)")

# %% [markdown]
# ## One-shot sparsity curves
#
# `sparsity_curve` prunes a copy of the network at each sparsity and returns an `xarray.Dataset`.
# OBS uses the exact Fisher of 512 training inputs, one block per layer (the structure FishLeg
# approximates), removing 2 % of the weights per greedy step with the joint compensation.

# %%
methods = {
    "magnitude": MagnitudePruner(),
    "OBD (diag. Fisher)": OBDPruner(x_sub),
    "OBS (exact)": OBSPruner(x_sub, damping=GAMMA, block="layer", chunk=0.02),
    "FishLeg surgeon": FishLegSurgeon(fishleg, n_steps=10),
}
curves = xr.concat([sparsity_curve(net, digits, m, LEVELS).expand_dims(pruner=[name])
                    for name, m in methods.items()], dim="pruner")
print(curves.accuracy.to_pandas().round(3))

fig, ax = plt.subplots(figsize=(5, 3.5))
for name in curves.pruner.values:  # (a dimension called "method" would clash with .sel's own argument)
    ax.plot(curves.sparsity, curves.accuracy.sel(pruner=name), "o-", label=name)
ax.set(xlabel="sparsity", ylabel="test accuracy (one-shot)", title="digits, MLP 64-32-10")
ax.legend()
plt.show()

# %% [markdown]
# ## Gradual pruning with the cubic schedule
#
# $s_t = s_f + (s_i - s_f)(1 - (t - t_0)/(n\Delta t))^3$: the sparsity rises fast, then levels off, and
# training continues between pruning steps with the masks kept.

# %%
gnet = MLP(64, (32,), 10, seed=0)
hist = gradual_prune(gnet, digits, MagnitudePruner(), 0.95, epochs=EPOCHS + 5, start=2, n_steps=EPOCHS // 2)
fig, ax = plt.subplots(figsize=(5, 3.5))
ax.plot(hist["epoch"], hist["sparsity"], label="sparsity")
ax.plot(hist["epoch"], hist["eval_accuracy"], label="test accuracy")
ax.set(xlabel="epoch", title="gradual magnitude pruning to 95 %")
ax.legend()
plt.show()
print("final: sparsity", round(hist["sparsity"][-1], 3), "accuracy", round(hist["eval_accuracy"][-1], 3))

# %% [markdown]
# ## Powerpropagation
#
# Training $v$ with $w = v|v|^{\alpha-1}$ scales each weight's gradient by $\alpha|v|^{\alpha-1}$: small
# weights barely move, large ones grow. After training, `remove_powerprop` folds the re-parameterisation
# back into plain weights, which are then magnitude-pruned.

# %%
pp_levels = [0.0, 0.9, 0.95, 0.98]
rows, weights = [], {}
for alpha in (1.0, 2.0, 3.0):
    pnet = powerpropagate(MLP(64, (128, 128), 10, seed=0), alpha)
    train(pnet, digits, epochs=2 * EPOCHS, lr=3e-3, seed=0)
    remove_powerprop(pnet)
    weights[alpha] = torch.cat([m.weight.detach().reshape(-1) for m in prunable_layers(pnet).values()]).numpy()
    rows.append(sparsity_curve(pnet, digits, "magnitude", pp_levels).expand_dims(alpha=[alpha]))
pp = xr.concat(rows, dim="alpha")
print(pp.accuracy.to_pandas().round(3))

fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
for alpha, w in weights.items():
    axes[0].hist(np.log10(np.abs(w) + 1e-12), bins=60, histtype="step", density=True, label=f"alpha={alpha:g}")
    axes[1].plot(pp.sparsity, pp.accuracy.sel(alpha=alpha), "o-", label=f"alpha={alpha:g}")
    print(f"alpha={alpha:g}: fraction of |w| < 1e-2: {np.mean(np.abs(w) < 1e-2):.3f}")
axes[0].set(xlabel="log10 |w|", ylabel="density", title="weights after training")
axes[1].set(xlabel="sparsity", ylabel="test accuracy", title="magnitude pruning after Powerprop")
axes[0].legend()
plt.show()

# %% [markdown]
# ## Powerpropagation in continual learning: a mask per task at fixed capacity
#
# `pack_tasks` is PackNet (Mallya & Lazebnik 2018) with Powerpropagation, the continual-learning use of
# Schwarz et al. (2021): train task $t$ on the weights no earlier task owns, keep the largest 20 % of
# all weights as task $t$'s mask, freeze them (bit-identically: earlier tasks never forget) and free the
# rest for the next task. Each task is then solved by the weights of tasks $0 \dots t$ alone, so what
# matters is how much a task loses when cut to its share: `dense_accuracy` (before the cut) against
# `final_accuracy`. On five permuted-digit tasks (MLP 64-128-128-10, 15 epochs per task, Adam lr 1e-2,
# seed 0) $\alpha = 2$ loses almost nothing in the cut and beats plain PackNet on average (0.959 vs
# 0.949); $\alpha = 3$ loses nothing in the cut either, but its later tasks barely learn: the freed
# weights restart from their initialisation, where $|v|^{\alpha - 1}$ makes their gradients tiny.

# %%
from neurolatent.methods.common import permuted_tasks  # noqa: E402
from neurolatent.methods.sparsity import pack_tasks  # noqa: E402

stream = permuted_tasks(digits, 3 if QUICK else 5, seed=0)
packed = {alpha: pack_tasks(MLP(64, (128, 128), 10, seed=0), stream, alpha=alpha, capacity=1 / len(stream) if QUICK
                            else 0.2, epochs=5 if QUICK else 15, lr=1e-2, seed=0).results for alpha in (1.0, 2.0, 3.0)}
for alpha, r in packed.items():
    print(f"alpha={alpha:g}: accuracy per task after all tasks {np.round(r.final_accuracy.values, 3)}, "
          f"before each cut {np.round(r.dense_accuracy.values, 3)}, mean {float(r.average_accuracy):.3f}")

# %% [markdown]
# ## Iterative magnitude pruning with rewinding
#
# IMP removes half of the surviving weights per round, rewinds the survivors to their values after
# $k$ epochs and retrains. In the full-size run (15 epochs, 5 rounds, 96.9 % sparsity; the family's slow
# tests, three seeds) rewinding to $k = 1$ beats rewinding to the initialisation ($k = 0$) on every seed;
# the quick mode here (8 epochs, 4 rounds) is too short to show it reliably. The rewound weights are
# then perturbed in the paper's ways before retraining with the same mask.

# %%
IMP_EPOCHS, ROUNDS = (8, 4) if QUICK else (15, 5)
ks = [0, 2] if QUICK else [0, 1, 2, 3, 5]
make = lambda s: MLP(64, (64, 64), 10, seed=s)  # noqa: E731
rewind_acc, last = [], None
for k in ks:
    last = imp(make(0), digits, rounds=ROUNDS, prune_fraction=0.5, rewind_epoch=k, epochs=IMP_EPOCHS, seed=0)
    rewind_acc.append(last.accuracy[-1])
print(f"sparsity {last.sparsity[-1]:.3f}; accuracy by rewind epoch:", {k: round(a, 3) for k, a in zip(ks, rewind_acc)})
perturbed = {kind: evaluate(retrain_masked(make(0), last.rewind_state, last.masks, digits, epochs=IMP_EPOCHS - ks[-1],
                                           perturbation=kind, init=make(100), seed=ks[-1] + 1),
                            digits.x_test, digits.y_test)["accuracy"] for kind in PERTURBATIONS}

fig, axes = plt.subplots(1, 2, figsize=(9, 3.5))
axes[0].plot(ks, rewind_acc, "o-")
axes[0].set(xlabel="rewind epoch k", ylabel="test accuracy", title=f"IMP at {last.sparsity[-1]:.1%} sparsity")
names = ["rewound", *perturbed]
axes[1].bar(range(len(names)), [rewind_acc[-1], *perturbed.values()])
axes[1].set_xticks(range(len(names)), names, rotation=30, ha="right")
axes[1].set(ylabel="test accuracy", title=f"perturbations of the weights at k={ks[-1]}")
plt.tight_layout()
plt.show()

# %% [markdown]
# ## Pre-training instead of rewinding
#
# Can the early-phase state that rewinding returns to be reached without the task? Following the
# paper's ablations, `pretrain` trains the dense network for a few epochs on 2x2-blurred digits, or on
# predicting which multiple of 90 degrees a digit was rotated by, and IMP then rewinds to $k = 0$ *of the
# pre-trained weights*. In the slow tests (three seeds, 96.9 % sparsity) blurred pre-training lands
# between $k = 0$ and $k = 1$ on average (0.785 against 0.749 and 0.803) and rotation pre-training does
# not help (0.737).

# %%
from neurolatent.methods.sparsity import pretrain  # noqa: E402

for kind in ("blur", "rotation"):
    pre_net = pretrain(make(0), digits, kind, epochs=3, image_shape=(1, 8, 8), seed=1000)
    res = imp(pre_net, digits, rounds=ROUNDS, prune_fraction=0.5, rewind_epoch=0, epochs=IMP_EPOCHS, seed=0)
    print(f"IMP from weights pre-trained on {kind}: {res.accuracy[-1]:.3f} at sparsity {res.sparsity[-1]:.3f} "
          f"(k=0: {rewind_acc[0]:.3f}, k={ks[1]}: {rewind_acc[1]:.3f})")

# %% [markdown]
# ## Training BatchNorm and only BatchNorm
#
# Every weight stays at its random initialisation; only $\gamma$ and $\beta$ learn. The baseline trains
# the same number of randomly chosen other parameters.

# %%
hidden = (64, 64, 64)
bn_net = MLP(64, hidden, 10, batchnorm=True, seed=0)
bn_params = freeze_all_but_batchnorm(bn_net)
n_bn = sum(p.numel() for p in bn_params)
train(bn_net, digits, params=bn_params, epochs=2 * EPOCHS, lr=1e-2, seed=0)
rand_net = MLP(64, hidden, 10, batchnorm=True, seed=0)
train(rand_net, digits, params=random_parameter_subset(rand_net, n_bn, seed=0), epochs=2 * EPOCHS, lr=1e-2, seed=0)
print(f"{n_bn} trainable parameters: BatchNorm only {evaluate(bn_net, digits.x_test, digits.y_test)['accuracy']:.3f}, "
      f"random subset {evaluate(rand_net, digits.x_test, digits.y_test)['accuracy']:.3f} (chance 0.1)")
print(f"fraction of |gamma| < 0.05: {gamma_near_zero(bn_net):.3f}")
gammas = torch.cat([m.weight.detach() for m in bn_net.modules() if isinstance(m, torch.nn.BatchNorm1d)]).numpy()
fig, ax = plt.subplots(figsize=(5, 3.5))
ax.hist(gammas, bins=40)
ax.set(xlabel="gamma", ylabel="count", title="BatchNorm scales after BN-only training")
plt.show()
