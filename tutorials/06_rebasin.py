# ---
# jupyter:
#   jupytext:
#     formats: py:percent
# ---

# %% [markdown]
# # Re-basin: permutation matching, mode combinability and model stitching
#
# Two networks trained from different random seeds look unrelated weight by weight, yet much of the
# difference is a relabelling of hidden units. This tutorial uses the small-network harness of
# `neurolatent.methods.common` (offline digits, small MLPs and CNNs, a seeded training loop) and the
# re-basin family `neurolatent.methods.rebasin` to
#
# 1. measure the loss **barrier** on the segment $\theta(\alpha) = (1-\alpha)\theta_A + \alpha\theta_B$
#    before and after matching units (Benzing et al. 2022; Ainsworth et al. 2023),
# 2. average two **random initialisations** after permuting one with the matching found *after*
#    training (Benzing et al. 2022),
# 3. explore element-wise **combinations** $\lambda\odot\theta_A + (1-\lambda)\odot\theta_B$ across the
#    hypercube (Csiszárik et al. 2023),
# 4. **stitch** the front of one network to the back of another (Csiszárik et al. 2021) and compare
#    stitching accuracy with CKA.
#
# Everything runs on CPU in seconds; `NEUROLATENT_QUICK=1` shrinks it further.

# %%
import copy
import os

import matplotlib.pyplot as plt
import numpy as np
import torch

from neurolatent.methods.common import (
    MLP,
    SmallCNN,
    evaluate,
    linear_cka,
    load_digits,
    representations,
    train,
)
from neurolatent.methods.rebasin import (
    average_permuted_initialisations,
    barrier,
    combination_study,
    match_activations,
    match_weights,
    stitch,
)

QUICK = bool(os.environ.get("NEUROLATENT_QUICK"))
EPOCHS = 8 if QUICK else 20
WIDTH = 128 if QUICK else 256
device = "cuda" if torch.cuda.is_available() else "cpu"
recipe = dict(epochs=EPOCHS, lr=0.05, optimizer="sgd", batch_size=64, device=device)

digits = load_digits(device=device)
images = load_digits(image=True, device=device)
print(digits.x_train.shape, images.x_train.shape)

# %% [markdown]
# ## Two MLPs and two CNNs from different seeds
#
# `train` returns a history; we keep each network's initialisation for later.

# %%
def trained_pair(make, data):
    pairs = []
    for seed in (0, 1):
        init = make(seed).to(device)
        net = copy.deepcopy(init)
        train(net, data, seed=seed, **recipe)
        pairs.append((init, net))
    return pairs


(mlp_init_a, mlp_a), (mlp_init_b, mlp_b) = trained_pair(lambda s: MLP(64, (WIDTH, WIDTH), 10, seed=s), digits)
(_, cnn_a), (_, cnn_b) = trained_pair(lambda s: SmallCNN(1, (16, 32), 10, seed=s), images)
for name, net, d in [("MLP A", mlp_a, digits), ("MLP B", mlp_b, digits), ("CNN A", cnn_a, images), ("CNN B", cnn_b, images)]:
    print(name, evaluate(net, d.x_test, d.y_test))

# %% [markdown]
# ## Barriers before and after matching
#
# `match_activations` solves, layer by layer, the assignment $\max_\pi\sum_i\mathrm{corr}(z^A_i, z^B_{\pi(i)})$
# with `scipy.optimize.linear_sum_assignment`; `match_weights` maximises $\sum_\ell\langle W^A_\ell,
# P_\ell W^B_\ell P_{\ell-1}^\top\rangle$ without data. Both return a permuted, functionally identical
# copy of B.

# %%
mlp_b_act, perms = match_activations(mlp_a, mlp_b, digits.x_train, return_permutation=True)
mlp_b_w = match_weights(mlp_a, mlp_b)
cnn_b_act = match_activations(cnn_a, cnn_b, images.x_train)
curves = {
    "MLP, raw": barrier(mlp_a, mlp_b, digits.x_test, digits.y_test),
    "MLP, activation matching": barrier(mlp_a, mlp_b_act, digits.x_test, digits.y_test),
    "MLP, weight matching": barrier(mlp_a, mlp_b_w, digits.x_test, digits.y_test),
    "CNN, raw": barrier(cnn_a, cnn_b, images.x_test, images.y_test),
    "CNN, activation matching": barrier(cnn_a, cnn_b_act, images.x_test, images.y_test),
}
fig, axes = plt.subplots(1, 2, figsize=(10, 3.5))
for name, res in curves.items():
    style = "--" if "CNN" in name else "-"
    axes[0].plot(res.alphas, res.loss, style, label=f"{name} (barrier {res.loss_barrier:.2f})")
    axes[1].plot(res.alphas, res.error, style)
axes[0].set(xlabel=r"$\alpha$", ylabel="test loss", title="linear interpolation A -> B")
axes[1].set(xlabel=r"$\alpha$", ylabel="test error")
axes[0].legend(fontsize=7)
fig.tight_layout()
plt.show()

# %% [markdown]
# After matching, the MLPs are linearly connected (barrier near zero); the small CNN keeps a
# clearly larger barrier.
#
# ## Averaging permuted initialisations
#
# Apply the permutation found on the *trained* networks to B's *initialisation* and average it
# with A's initialisation. Each initialisation alone is at chance (10 %); so is their plain average.

# %%
for label, p in [("plain average", None), ("permuted average", perms)]:
    acc = evaluate(average_permuted_initialisations(mlp_init_a, mlp_init_b, p), digits.x_test, digits.y_test)["accuracy"]
    print(f"{label:17s} of the two initialisations: test accuracy {acc:.3f}")

# %% [markdown]
# ## Mode combinability
#
# Element-wise masks $\lambda$ drawn uniformly from the cube, from its corners (Bernoulli), one per
# layer, or slightly outside the cube: aligned pairs stay good across all of them.

# %%
kinds = ("uniform", "bernoulli", "layer", "outside")
n = 4 if QUICK else 16
aligned = combination_study(mlp_a, mlp_b_act, digits.x_test, digits.y_test, kinds=kinds, n_samples=n)
raw = combination_study(mlp_a, mlp_b, digits.x_test, digits.y_test, kinds=kinds, n_samples=n)
fig, ax = plt.subplots(figsize=(6, 3.5))
pos = np.arange(len(kinds))
ax.boxplot([aligned[k]["loss"] for k in kinds], positions=pos - 0.18, widths=0.3)
ax.boxplot([raw[k]["loss"] for k in kinds], positions=pos + 0.18, widths=0.3)
ax.set_xticks(pos, [f"{k}\n(aligned | raw)" for k in kinds], fontsize=8)
ax.set(ylabel="test loss of combination", title="aligned (left) vs unaligned (right)")
fig.tight_layout()
plt.show()
print({k: round(float(aligned[k]["disagreement_a"].mean()), 3) for k in kinds}, "<- disagreement with A")

# %% [markdown]
# ## Model stitching and CKA
#
# Stitch the first $k$ blocks of A to the remaining blocks of B through an affine map fitted by
# least squares (optionally rank-4), or trained on the task loss. CKA of the two layers is shown
# alongside: it varies between layers while task stitching stays near the original accuracy.

# %%
deep = [MLP(64, (64, 64, 64), 10, seed=s).to(device) for s in (0, 1)]
for s, net in enumerate(deep):
    train(net, digits, seed=s, **recipe)
layers = deep[0].hidden_layers
results = {key: [] for key in ("task", "least squares", "task, rank 4", "least squares, rank 4", "CKA")}
for k in layers:
    for key, method, rank in [("task", "task", None), ("least squares", "lstsq", None),
                              ("task, rank 4", "task", 4), ("least squares, rank 4", "lstsq", 4)]:
        s = stitch(deep[0], deep[1], k, digits, method=method, rank=rank, epochs=3 if QUICK else 5)
        results[key].append(evaluate(s, digits.x_test, digits.y_test)["accuracy"])
    ra, rb = (representations(m, digits.x_test, [k])[k] for m in deep)
    results["CKA"].append(float(linear_cka(ra, rb)))
fig, ax = plt.subplots(figsize=(6, 3.5))
for key, vals in results.items():
    ax.plot(layers, vals, "o-" if key != "CKA" else "k:", label=key)
ax.axhline(min(evaluate(m, digits.x_test, digits.y_test)["accuracy"] for m in deep), color="grey", lw=0.5)
ax.set(xlabel="stitching layer k", ylabel="test accuracy / CKA", xticks=layers)
ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.02, 0.5))
fig.tight_layout()
plt.show()
