# ---
# jupyter:
#   jupytext:
#     formats: py:percent
# ---

# %% [markdown]
# # Self-supervised learning: objectives, redundancy, ReLICv2 and hard negatives
#
# `neurolatent.methods.ssl` trains an encoder on two (or more) augmented views of unlabelled images and
# then reads the frozen features with a linear or k-NN probe. Every method is one loss object, an
# `nn.Module` taking the two views' embeddings; `pretrain` asks the object for its views, its step and
# what to do after it, so MoCo's momentum encoder, ReLICv2's multi-crop and SSLPM's adversarial
# predictor run in the same loop. This tutorial
#
# 1. shows the data (digits upsampled, digits pasted on real textures from scikit-image with their
#    foreground mask) and the augmentations;
# 2. pretrains every objective on the same budget -- SimCLR/InfoNCE, Barlow Twins, VICReg, MoCo, SSLPM
#    (predictability minimisation, Zollikofer et al. 2024), ReLICv2 (Tomasev et al. 2022) and its
#    ablation without the invariance term -- and compares their probe accuracies;
# 3. measures the **redundancy** of each embedding (average |correlation|, pairwise, linear and
#    nonlinear predictability) and plots it against probe accuracy;
# 4. checks that ReLICv2's KL term lowers the **cross-view divergence** of the similarity distributions;
# 5. trains MoCo-style instance discrimination with only a **band of negatives** ranked by difficulty
#    (Cai et al. 2020).
#
# `NEUROLATENT_QUICK=1` runs one seed and a few epochs (seconds); the figures of the full run, three
# seeds and 20 epochs, are in `benchmarks/ssl_methods.py`.

# %%
import os
from dataclasses import replace

import matplotlib.pyplot as plt
import numpy as np
import torch

from neurolatent.methods.common import load_digits
from neurolatent.methods.ssl import (
    band_losses,
    baseline_losses,
    compare_losses,
    default_augment,
    make_encoder,
    rank_correlation,
    textured_digits,
    upsampled_digits,
)

QUICK = bool(os.environ.get("NEUROLATENT_QUICK"))
SEEDS = (0,) if QUICK else (0, 1, 2)
EPOCHS = 2 if QUICK else 20
N_TRAIN = 600 if QUICK else None  # pretraining / probe-fitting samples (None: all 1348)
NONLINEAR = {"hidden": 32, "steps": 100} if QUICK else {}
QUEUE = 512 if QUICK else 1024
torch.set_num_threads(1)
device = "cpu"

# %% [markdown]
# ## Data and augmentations
#
# `textured_digits` pastes each digit (its soft foreground $\alpha$) onto a random patch of a texture
# shipped with scikit-image; the binary mask $\alpha > 0.5$ and the texture of every sample come with
# it, and the test split can use held-out textures (a background shift). Augmentations are batched
# torch modules drawing their randomness from one seeded generator.

# %%
tex = textured_digits(24, textures=("brick", "grass", "gravel"), test_textures=("moon",), seed=0)
aug = default_augment(2)
gen = torch.Generator().manual_seed(0)
fig, axes = plt.subplots(3, 6, figsize=(8, 4.2))
for j in range(6):
    axes[0, j].imshow(tex.x_train[j, 0], cmap="gray")
    axes[0, j].set_title(f"{tex.y_train[j].item()} / {tex.textures[tex.texture_train[j]]}", fontsize=8)
    axes[1, j].imshow(tex.mask_train[j, 0], cmap="gray")
    axes[2, j].imshow(aug(tex.x_train[j:j + 1], gen)[0, 0], cmap="gray")
for ax in axes.ravel():
    ax.set_axis_off()
axes[0, 0].text(-12, 12, "image", rotation=90, va="center")
fig.suptitle("digits on textures (row 1), foreground mask (row 2), one augmented view (row 3)")
plt.show()
print("upsampled digits:", tuple(upsampled_digits(16).x_train.shape))

# %% [markdown]
# ## Every objective on one budget
#
# The encoder is tiny: an MLP 64-128-32 on the 8x8 digits (read as images, so that crops and blurs
# apply), then a projector 32-64-32 that only the loss sees; probes read the 32 backbone features.
# ReLICv2's small crops are resized back to 8x8 here because an MLP needs a fixed input size.
# `compare_losses` returns an `xarray.Dataset` over `(objective, seed)`.

# %%
digits = load_digits(image=True, seed=0, device=device)
if N_TRAIN is not None:
    digits = replace(digits, x_train=digits.x_train[:N_TRAIN], y_train=digits.y_train[:N_TRAIN])


def encoder(seed):
    return make_encoder(digits.input_shape, rep_dim=32, proj_dim=32, hidden=(128,), arch="mlp", seed=seed,
                        device=device)


results = compare_losses(baseline_losses(relic_small_size=8), digits, aug, seeds=SEEDS, epochs=EPOCHS,
                         encoder=encoder, device=device, nonlinear_kwargs=NONLINEAR)
table = results[["linear_accuracy", "knn_accuracy", "pairwise_redundancy", "linear_predictability",
                 "nonlinear_predictability", "cross_view_kl", "epoch_time"]].mean("seed").to_pandas()
print(table.round(3).to_string())

# %%
fig, ax = plt.subplots(figsize=(6, 3.2))
names = list(results.objective.values)
acc = results.linear_accuracy.mean("seed")
ax.bar(names, acc, yerr=results.linear_accuracy.std("seed") if len(SEEDS) > 1 else None, color="tab:blue")
ax.set(ylim=(float(acc.min()) - 0.05, 1.0), ylabel="linear probe accuracy (test)", title="digits, same budget")
ax.tick_params(axis="x", rotation=30)
plt.show()

# %% [markdown]
# ## Redundancy vs probe accuracy
#
# The pairwise measures only see correlations; linear predictability asks how well each coordinate is a
# linear function of all the others ($R_i^2 = 1 - 1/(C^{-1})_{ii}$), nonlinear predictability asks the
# same of a small MLP on held-out rows. A negative rank correlation means the less redundant embeddings
# are the better ones.

# %%
measures = ["average_abs_correlation", "pairwise_redundancy", "linear_predictability", "nonlinear_predictability"]
fig, axes = plt.subplots(1, len(measures), figsize=(12, 3), sharey=True)
for ax, m in zip(axes, measures):
    for name in names:
        ax.scatter(results[m].sel(objective=name), results.linear_accuracy.sel(objective=name), label=name, s=18)
    ax.set(xlabel=m.replace("_", " "), title=f"Spearman {rank_correlation(results, m):+.2f}")
axes[0].set_ylabel("linear probe accuracy")
axes[-1].legend(fontsize=7, loc="lower left")
plt.show()

# %% [markdown]
# ## ReLICv2's invariance term
#
# For two views $a, b$ of a batch, $p_{ab}(\cdot|i)$ is the softmax over $j$ of the similarity of
# sample $i$ in view $a$ to sample $j$ in view $b$. ReLICv2 adds $\alpha\,\mathrm{KL}(p_{ab} \| p_{ba})$
# to InfoNCE; `cross_view_kl` measures that divergence on test images.

# %%
print(results[["cross_view_kl", "linear_accuracy"]].sel(objective=["relic", "relic_no_kl", "infonce"])
      .mean("seed").to_pandas().round(3).to_string())

# %% [markdown]
# ## Hard negatives: which negatives matter?
#
# MoCo-style instance discrimination with a queue of 1024 keys (512 in the quick run), but each query
# keeps only the negatives
# whose similarity rank falls in a band (Cai et al. 2020): all of them, the hardest 5 %, the easiest
# 95 %, or all but the hardest 0.1 %.

# %%
bands = {"all": (0.0, 1.0), "hardest 5%": (0.0, 0.05), "easiest 95%": (0.05, 1.0),
         "drop hardest 0.1%": (0.001, 1.0)}
if not QUICK:
    bands.update({"hardest 20%": (0.0, 0.2), "easiest 50%": (0.5, 1.0)})
curve = compare_losses(band_losses(bands, queue_size=QUEUE), digits, aug, seeds=SEEDS, epochs=EPOCHS,
                       encoder=encoder, device=device, redundancy=False)
band_acc = curve.linear_accuracy.mean("seed")
fig, ax = plt.subplots(figsize=(6, 3))
ax.bar(list(bands), band_acc, color="tab:orange")
ax.set(ylim=(float(band_acc.min()) - 0.05, 1.0), ylabel="linear probe accuracy", title=f"negatives band, queue {QUEUE}")
ax.tick_params(axis="x", rotation=20)
plt.show()
print(curve[["linear_accuracy", "knn_accuracy"]].mean("seed").to_pandas().round(3).to_string())

# %% [markdown]
# ## Background augmentations under a background shift
#
# Ryali, Schwab & Morcos (2021) replace the background of a view using the foreground mask: removed
# (BG_RM), a random texture (BG_Random), or BG_Swaps, whose positive keeps the foreground on another
# background and whose extra negative is another digit on the anchor's background. We pretrain on
# digits pasted on brick and grass, and probe on digits pasted on *held-out* gravel and camera patches.
# `with_foreground` stacks image, foreground and background as channels for the augmentations.
# (The quick run uses one seed and two epochs: its differences are noise. With three seeds, 500
# images and four epochs, `benchmarks/ssl_background_dib_rmr.py` measures 0.468 without background
# augmentation against 0.488-0.494 with them.)

# %%
from neurolatent.methods.ssl import BackgroundAugment, BGSwaps, InfoNCE, linear_probe, make_augment, pretrain
from neurolatent.methods.ssl import with_foreground

shift = textured_digits(16, textures=("brick", "grass"), test_textures=("gravel", "camera"), seed=0)
N_BG, BG_EPOCHS = (300, 2) if QUICK else (1348, 10)
x3 = with_foreground(shift)[:N_BG]
bg_aug = make_augment(["crop", {"noise": {"std": 0.1}}])
bg_runs = {
    "none": lambda enc, s: pretrain(enc, shift.x_train[:N_BG], InfoNCE(), bg_aug, epochs=BG_EPOCHS,
                                    batch_size=64, seed=s),
    "BG_RM": lambda enc, s: pretrain(enc, x3, InfoNCE(), BackgroundAugment(shift, "remove", 0.5, bg_aug),
                                     epochs=BG_EPOCHS, batch_size=64, seed=s),
    "BG_Random": lambda enc, s: pretrain(enc, x3, InfoNCE(), BackgroundAugment(shift, "random", 0.5, bg_aug),
                                         epochs=BG_EPOCHS, batch_size=64, seed=s),
    "BG_Swaps": lambda enc, s: pretrain(enc, x3, BGSwaps(shift), bg_aug, epochs=BG_EPOCHS, batch_size=64, seed=s),
}
bg_acc = {}
for name, run in bg_runs.items():
    accs = []
    for s in SEEDS:
        enc = make_encoder(shift.input_shape, rep_dim=32, proj_dim=16, channels=(8, 16), seed=s)
        run(enc, s)
        accs.append(linear_probe(enc, shift))
    bg_acc[name] = float(np.mean(accs))
print("held-out-texture probe accuracy:", {k: round(v, 3) for k, v in bg_acc.items()})

# %% [markdown]
# ## Decodable Information Bottleneck
#
# Dubois et al. (2020): an encoder trained on 300 digits with a label head, plus nuisance heads (same
# decoder family, MLPs with 64 hidden units) that try to predict random labellings of the training
# examples; a gradient-reversal layer makes the encoder *hide* that memorisable information with
# strength $\beta$. We compare the generalisation gap of a fresh decoder trained on the frozen
# representation, and the V-minimality estimate $H_\mathcal V[N|Z]$ (larger: more minimal).

# %%
from neurolatent.methods.ssl import decoder_generalisation, train_dib, v_information

small = replace(load_digits(seed=0), x_train=load_digits(seed=0).x_train[:300],
                y_train=load_digits(seed=0).y_train[:300])
DIB_EPOCHS = 10 if QUICK else 40
for beta in (0.0, 3.0):
    m, _ = train_dib(small, beta=beta, epochs=DIB_EPOCHS, seed=0)
    g = decoder_generalisation(m, small, epochs=DIB_EPOCHS, seed=0)
    v = v_information(m, small, epochs=DIB_EPOCHS, seed=0, n_heads=1)
    print(f"beta={beta}: test acc {g['test_accuracy']:.3f}, accuracy gap {g['gap']:.3f}, "
          f"loss gap {g['loss_gap']:.3f}, H_V[Y|Z] {v['h_y']:.3f}, H_V[N|Z] {v['h_n']:.3f} (log 10 = 2.303)")

# %% [markdown]
# ## Reasoning-modulated representations
#
# Veličković et al. (2021): a processor learns the dynamics of bouncing balls from their true states
# (cheap, abundant), then its core is frozen inside a contrastive pixel-to-latent pipeline trained on
# only a few rendered trajectories. We compare how well the true next state can be read out linearly
# from the predicted latent, against the same pipeline with a core trained from scratch.

# %%
from neurolatent.methods.ssl import bouncing_balls, pretrain_processor, state_probe, train_rmr

proc, proc_hist = pretrain_processor(4, n_transitions=3000 if QUICK else 10000, epochs=5 if QUICK else 20, seed=0)
world_test = bouncing_balls(20, 12, seed=100)
world_train = bouncing_balls(10, 12, seed=0)
fig, axes = plt.subplots(1, 6, figsize=(9, 1.8))
for t, ax in enumerate(axes):
    ax.imshow(world_train.frames[0, t, 0], cmap="gray")
    ax.set_axis_off()
plt.show()
rmr = {}
for name, p in (("frozen processor", proc), ("trainable core", None)):
    r2 = []
    for s in SEEDS:
        wtr = bouncing_balls(10, 12, seed=s)
        model, _ = train_rmr(wtr, p, epochs=10 if QUICK else 40, seed=s)
        r2.append(state_probe(model, wtr, world_test)["next_state_r2"])
    rmr[name] = float(np.mean(r2))
print("next-state R^2 on held-out trajectories:", {k: round(v, 3) for k, v in rmr.items()})
