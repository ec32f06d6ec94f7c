# ---
# jupyter:
#   jupytext:
#     formats: py:percent
# ---

# %% [markdown]
# # Continual-learning studies: re-initialisation, width and depth
#
# Two studies on the offline digits with small MLPs:
#
# 1. **Re-initialisation during training** (Zaidi et al. 2022, "When does re-initialization work?"):
#    `nl.methods.common` has training-loop callbacks that partly reset a network every few epochs --
#    shrink-and-perturb $\theta \leftarrow \lambda\theta + \gamma\theta^{\mathrm{init}}$ (Ash & Adams 2020),
#    re-drawing the last $k$ layers, and the layer-wise schedule that keeps one more bottom layer per
#    stage. They work with any `train(...)` call, continual or not. We train on digits with 40% of the
#    training labels flipped, where they help most.
# 2. **Width and architecture** (Mirzadeh et al. 2022, "Wide neural networks forget less
#    catastrophically" and "Architecture matters in continual learning"): `forgetting_sweep` fine-tunes
#    fresh MLPs of several widths and depths on a stream of rotated digits and returns the accuracy
#    matrices, the forgetting and the mechanisms the papers measure (relative weight change, gradient
#    cosine between consecutive tasks, fraction of active units) as one `xarray.Dataset`; with
#    `n_params=` it compares depths at a matched parameter count.
#
# `NEUROLATENT_QUICK=1` runs one seed and a small grid in a few seconds; the three-seed numbers are in
# `tests/methods/common/test_reinit.py`, `tests/methods/continual/test_sweeps.py` and
# `benchmarks/reinit.py`.

# %%
import os

import matplotlib.pyplot as plt
import numpy as np
import torch

from neurolatent.methods.common import MLP, ReinitLastLayers, ShrinkPerturb, load_digits, rotated_tasks, train
from neurolatent.methods.continual import forgetting_sweep

QUICK = bool(os.environ.get("NEUROLATENT_QUICK"))
SEEDS = [0] if QUICK else [0, 1, 2]
EPOCHS = 30
torch.set_num_threads(1)
device = "cpu"

digits = load_digits(device=device)

# %% [markdown]
# ## Re-initialisation under label noise
#
# 40% of the training labels are replaced by another random class; the test labels stay clean. Standard
# training first learns the clean signal, then memorises the wrong labels and its test accuracy falls.
# Shrink-and-perturb every 5 epochs (up to epoch 25, then 5 epochs to recover) and re-drawing the
# read-out keep pulling the network back from the memorised solution.

# %%
rng = np.random.default_rng(0)
flip = torch.as_tensor(rng.random(len(digits.y_train)) < 0.4)
noisy = digits.y_train.clone()
noisy[flip] = (noisy[flip] + torch.as_tensor(rng.integers(1, 10, int(flip.sum())))) % 10

callbacks = {
    "standard": lambda s: None,
    "shrink-perturb (0.4, 0.1)": lambda s: ShrinkPerturb(0.4, 0.1, every=5, stop=25, seed=s),
    "re-draw read-out": lambda s: ReinitLastLayers(1, every=5, stop=25, seed=s),
}
curves = {}
for name, make in callbacks.items():
    runs = []
    for s in SEEDS:
        net = MLP(64, (128, 128), 10, seed=s, device=device)
        h = train(net, (digits.x_train, noisy), epochs=EPOCHS, lr=3e-3, batch_size=128, seed=s,
                  eval_data=(digits.x_test, digits.y_test), callback=make(s))
        runs.append(h["eval_accuracy"])
    curves[name] = np.mean(runs, axis=0)
    print(f"{name:28s} final test accuracy {curves[name][-1]:.3f}")

fig, ax = plt.subplots(figsize=(6, 3.5))
for name, c in curves.items():
    ax.plot(np.arange(1, EPOCHS + 1), c, label=name)
for e in range(5, 26, 5):
    ax.axvline(e, color="0.85", lw=0.8, zorder=0)
ax.set(xlabel="epoch", ylabel="test accuracy", title="digits, 40% flipped training labels")
ax.legend()
plt.show()

# %% [markdown]
# ## Forgetting against width
#
# Three rotated copies of the digits (0°, 45°, 90°), SGD (lr 0.05, momentum 0.9), 5 epochs per task,
# plain fine-tuning. The weight matrices of wider networks move less (relative change
# $\|\theta_k - \theta_{k-1}\| / \|\theta_{k-1}\|$), as in Mirzadeh et al.; whether the forgetting itself
# falls depends on the stream and the range of widths at this scale (see the claim tests).

# %%
tasks = rotated_tasks(digits, [0, 45, 90], image_shape=(1, 8, 8))
widths = [16, 256] if QUICK else [16, 64, 256, 1024]
sweep = forgetting_sweep(tasks, widths=widths, depths=[1], seeds=SEEDS, epochs=5, lr=0.05, optimizer="sgd",
                         progress=False)
m = sweep.mean("seed").squeeze(["depth", "batchnorm"])
print(m[["average_forgetting", "average_accuracy"]].to_dataframe().round(3))

fig, axes = plt.subplots(1, 3, figsize=(11, 3.2))
axes[0].semilogx(widths, m.average_forgetting, "o-", label="forgetting")
axes[0].semilogx(widths, m.average_accuracy, "s-", label="final average accuracy")
axes[0].set(xlabel="width", title="fine-tuning, rotated digits")
axes[0].legend()
axes[1].semilogx(widths, m.weight_change.isel(after_task=slice(1, None)).mean("after_task"), "o-")
axes[1].set(xlabel="width", ylabel="relative weight change per task")
axes[2].semilogx(widths, m.active_fraction.mean("after_task"), "o-", label="active units")
axes[2].semilogx(widths, m.gradient_cosine.isel(after_task=slice(0, -1)).mean("after_task"), "s-",
                 label="gradient cosine, task k vs k+1")
axes[2].set(xlabel="width")
axes[2].legend()
fig.tight_layout()
plt.show()

fig, axes = plt.subplots(1, 2, figsize=(6.5, 3))
for ax, w in zip(axes, [widths[0], widths[-1]]):
    im = ax.imshow(m.accuracy.sel(width=w), vmin=0, vmax=1, cmap="viridis")
    ax.set(title=f"width {w}", xlabel="on task", ylabel="after task")
fig.colorbar(im, ax=axes, label="test accuracy")
plt.show()

# %% [markdown]
# ## Depth at a matched parameter count
#
# With `n_params=` each depth gets the width that gives about that many parameters
# (`width_used`; a count no width can match within 5% is an error). At equal parameter count depth does
# not help: the four-layer network ends with no higher average accuracy (three seeds: 0.528 against
# 0.538); its lower forgetting comes with less learnt on each task (0.90 against 0.96 right after
# training on it).

# %%
depth_sweep = forgetting_sweep(tasks, n_params=20_000, depths=[1, 2, 4], seeds=SEEDS, epochs=5, lr=0.05,
                               optimizer="sgd", progress=False)
dm = depth_sweep.mean("seed").squeeze(["width", "batchnorm"])
print("widths:", depth_sweep.width_used.squeeze().values.reshape(3, -1)[:, 0].tolist(),
      "parameters:", depth_sweep.n_params.squeeze().values.reshape(3, -1)[:, 0].tolist())
fig, ax = plt.subplots(figsize=(4.5, 3.2))
ax.plot(dm.depth, dm.average_forgetting, "o-", label="forgetting")
ax.plot(dm.depth, dm.average_accuracy, "s-", label="final average accuracy")
ax.set(xlabel="hidden layers", xticks=[1, 2, 4], title="20k parameters, rotated digits")
ax.legend()
plt.show()
