# ---
# jupyter:
#   jupytext:
#     formats: py:percent
# ---

# %% [markdown]
# # Pre-training via denoising on 3-D molecules
#
# `neurolatent.methods.molecular` reproduces, at laptop scale, the idea of Zaidi et al. ("Pre-training
# via denoising for molecular property prediction", ICLR 2023): perturb equilibrium coordinates with
# Gaussian noise, $\tilde r = r + \sigma\epsilon$, train a network to predict $\epsilon$, then fine-tune
# it on a property with few labels. The optimal denoiser predicts the score of the noised data, which
# near equilibrium points along the energy gradient, so **denoising learns a force field**. This tutorial
#
# 1. loads QM9-like SMILES (<= 9 heavy atoms among C, N, O, F; enumerated deterministically and bundled)
#    and builds equilibrium conformers with RDKit (ETKDG + MMFF94 minimisation), MMFF94 forces and
#    targets (strain energy of a perturbed geometry, Gasteiger dipole, radius of gyration, ...);
# 2. checks the SchNet-like network's symmetries: the property is invariant and the noise prediction
#    rotates with the molecule;
# 3. pre-trains by denoising and measures the cosine between the predicted denoising direction and the
#    MMFF94 force, against a random-direction baseline;
# 4. draws the learning curve (test MAE vs labelled-set size) from scratch and after pre-training.
#
# RDKit is the `molecular` extra: `pip install 'neurolatent[molecular]'`. `NEUROLATENT_QUICK=1` shrinks
# everything to a few seconds (and its numbers are then only illustrative).

# %%
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from scipy.spatial.transform import Rotation

from neurolatent.methods.molecular import (
    MolecularNet,
    build_molecules,
    denoising_loss,
    force_alignment,
    learning_curve,
    load_smiles,
    pretrain_denoising,
    require_rdkit,
)

QUICK = bool(os.environ.get("NEUROLATENT_QUICK"))
torch.set_num_threads(1)
require_rdkit()  # a clear ImportError naming the extra if RDKit is missing

# %% [markdown]
# ## 1. Molecules, conformers, forces and targets
#
# `build_molecules` returns padded tensors (`numbers`, `positions`, `forces`, ...) and caches them to an
# `.npz` file, so a second call with the same SMILES and settings only reads the file. SMILES that RDKit
# cannot parse, embed or parametrise are skipped and named in `attrs["skipped"]` (or raise with
# `errors="raise"`).

# %%
smiles = load_smiles(40 if QUICK else 3000)
print(len(smiles), "SMILES, e.g.", smiles[:8])
mols = build_molecules(smiles + ["C1CC(N"], seed=0, cache=Path("molecular_mols.npz"))
print(f"{len(mols)} conformers, padded to {mols.numbers.shape[1]} atoms; skipped: {mols.attrs['skipped']}")
print(f"largest |force| at the MMFF minima: {float(mols.forces.abs().max()):.1e} kcal/mol/A")

fig, axes = plt.subplots(1, 4, figsize=(13, 2.8))
for ax, (name, unit) in zip(axes, [("strain", "kcal/mol"), ("dipole", "D"), ("radius_of_gyration", "A"),
                                   ("pmi3", "amu A$^2$")]):
    ax.hist(mols.targets[name].numpy(), bins=30, color="0.4")
    ax.set_xlabel(f"{name} ({unit})")
axes[0].set_ylabel("molecules")
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 2. The network and its symmetries
#
# Atom features $h_i$ come from SchNet interaction blocks on all pairs within 5 A; the noise head is
# $v_i = \sum_j \phi(h_i, h_j, d_{ij})\,(r_i - r_j)$, so it rotates with the molecule and ignores
# translations; the property head sums an MLP of $[h_i, |v_i|]$ over atoms.

# %%
torch.manual_seed(0)
net = MolecularNet(hidden=32, n_layers=2, n_rbf=16, dtype=torch.float64)
z, r = mols.numbers[:4], mols.positions[:4]
rot = torch.as_tensor(Rotation.random(random_state=0).as_matrix())
with torch.no_grad():
    out, out_rot = net(z, r), net(z, r @ rot.T + 1.0)
print("property change under rotation + translation:",
      float((out_rot["property"] - out["property"]).abs().max()))
print("noise equivariance error:", float((out_rot["noise"] - out["noise"] @ rot.T).abs().max()))

# %% [markdown]
# ## 3. Denoising pre-training and the force-field link
#
# The first part of the set is the unlabelled pre-training corpus; the end is held out. At
# $\sigma = 0.1$ A, `force_alignment` compares, on held-out molecules, the predicted noise $v(\tilde r)$
# with $-F(\tilde r) = \nabla E$ from MMFF94: the true noise $\epsilon$ and a random direction are the
# references.

# %%
n_pre = 30 if QUICK else 1500
pre_set, held_out = mols.subset(slice(0, n_pre)), mols.subset(slice(len(mols) - (8 if QUICK else 200), None))
torch.manual_seed(0)
net = MolecularNet(hidden=32, n_layers=2, n_rbf=16)
before = force_alignment(net, held_out, sigma=0.1)
hist = pretrain_denoising(net, pre_set, sigma=0.1, epochs=10 if QUICK else 6, batch_size=8 if QUICK else 64,
                          lr=3e-3 if QUICK else 1e-3)
after = force_alignment(net, held_out, sigma=0.1)
print(f"held-out denoising loss {denoising_loss(net, held_out):.3f} (zero predictor: 1.0)")
for name in ["cos_model", "cos_noise", "cos_random"]:
    print(f"{name:10s} untrained {before.attrs['mean_' + name]:+.3f}   pre-trained {after.attrs['mean_' + name]:+.3f}")

fig, axes = plt.subplots(1, 2, figsize=(10, 3))
axes[0].plot(hist["epoch"], hist["loss"], "o-")
axes[0].set(xlabel="epoch", ylabel="denoising loss (train)")
bins = np.linspace(-1, 1, 41)
for name, label in [("cos_model", "pre-trained net"), ("cos_noise", "true noise"), ("cos_random", "random")]:
    axes[1].hist(after[name].values, bins=bins, alpha=0.6, label=label)
axes[1].set(xlabel="cosine with the MMFF94 $-F$", ylabel="molecules")
axes[1].legend()
fig.tight_layout()
plt.show()

# %% [markdown]
# ## 4. Fine-tuning with few labels: the learning curve
#
# The target is the MMFF94 strain energy of a perturbed geometry (the perturbation scale varies per
# molecule), the property closest to what denoising learns. Each size gets the same number of Adam
# steps; the benchmark `benchmarks/molecular.py` records the full-size numbers.

# %%
if QUICK:
    lab, test = mols.subset(slice(0, 16)), mols.subset(slice(30, None))
    curve = learning_curve(pre_set, lab, test, sizes=(8, 16), seeds=(0,), pretrain_epochs=2, finetune_steps=4,
                           batch_size=8, pretrain_batch_size=8, lr=3e-3, pretrain_lr=3e-3,
                           model_kwargs={"hidden": 16, "n_layers": 1, "n_rbf": 12})
else:
    lab, test = mols.subset(slice(1500, 2000)), mols.subset(slice(len(mols) - 400, None))
    curve = learning_curve(pre_set, lab, test, sizes=(25, 50, 100), seeds=(0, 1, 2), pretrain_epochs=6,
                           finetune_steps=150, batch_size=16, model_kwargs={"hidden": 32, "n_layers": 2})
mean, sd = curve.mae.mean("seed"), curve.mae.std("seed")
fig, ax = plt.subplots(figsize=(5, 3.2))
for init in curve.init.values:
    ax.errorbar(curve["size"], mean.sel(init=init), sd.sel(init=init), marker="o", capsize=3, label=init)
ax.axhline(float((test.targets["strain"] - lab.targets["strain"].mean()).abs().mean()), color="0.6", ls=":",
           label="predict the mean")
ax.set(xscale="log", xlabel="labelled molecules", ylabel=f"test MAE ({curve.attrs['units']})")
ax.legend()
fig.tight_layout()
plt.show()
print(curve.mae.mean("seed").to_pandas())
