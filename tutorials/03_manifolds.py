# ---
# jupyter:
#   jupytext:
#     formats: py:percent
# ---

# %% [markdown]
# # Latents on other manifolds: $T^2$, $S^3$ and $SO(3)$
#
# `make_manifold_recording` draws latents on a manifold, gives every neuron a bump-shaped tuning
# curve around a random preferred point, and adds noise. We fit an mGPLVM on the true manifold and
# measure how well the latents come back after the best global isometry (`align_latents`).
# The last section shows why the manifold is chosen by cross-validation rather than by the ELBO
# (a path that covers only an arc of a ring) and what the temporal prior changes there.
# Set `NEUROLATENT_QUICK=1` for a fast, smaller run.

# %%
import os
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

from neurolatent.datasets.synthetic_manifolds import make_manifold_recording
from neurolatent.manifolds import align_latents
from neurolatent.models import MGPLVM
from neurolatent.plotting import plot_latents, plot_tuning_curves

QUICK = bool(os.environ.get("NEUROLATENT_QUICK"))
OUT = Path("tutorials/_output") if Path("tutorials").is_dir() else Path("_output")
OUT.mkdir(parents=True, exist_ok=True)
n_time, n_neurons, steps = (80, 20, 60) if QUICK else (200, 30, 400)

# %% [markdown]
# On $T^2$ the initial angles come from a PCA whose leading 4 components are rotated until each
# pair traces a circle; on $S^3$ from 4 normalised components; on $SO(3)$ (where tuning depends on
# the quaternion quadratically) from random points, and since a random start can end in a poor
# local optimum we fit three seeds and keep the one with the highest ELBO (with seed 1 data:
# ELBOs 2368, 2577, 2392 and errors 0.47, 0.22, 0.36 rad: the ELBO picks the good fit). On SO(3)
# the alignment searches every isometry g -> a g b and g -> a g^-1 b, since the kernel sees only distances.

# %%
results = {}
for spec in ["T2", "S3", "SO3"]:
    ds = make_manifold_recording(spec, n_neurons=n_neurons, n_time=n_time, noise=0.1, seed=1, trajectory="iid")
    # a random start (SO3) can land in a poor local optimum: fit a few seeds, keep the highest ELBO
    seeds = range(3 if spec == "SO3" and not QUICK else 1)
    fits = [MGPLVM(spec, seed=s).fit(ds["Y"], max_steps=steps, progress=False) for s in seeds]
    model = max(fits, key=lambda m: m.elbo())
    aligned, err, info = align_latents(model.latents()["mean"].values, ds["latent"].values, spec)
    results[spec] = info["median_error"]
    print(f"{spec}: median geodesic error after alignment {info['median_error']:.3f} rad")
    if spec == "T2":
        fig = plot_latents(model.latents(), reference=None)
        fig.savefig(OUT / "t2_latents.png")
        fig = plot_tuning_curves(model.tuning_curves(20), max_neurons=8)
        fig.savefig(OUT / "t2_tuning.png")

# %% [markdown]
# Chance level: the same alignment applied to random uniform points instead of the fitted latents.

# %%
import torch  # noqa: E402

from neurolatent.manifolds import get_manifold  # noqa: E402

chance = {}
for spec in results:
    ds = make_manifold_recording(spec, n_neurons=2, n_time=n_time, seed=1, trajectory="iid")
    rand = get_manifold(spec).random_uniform(n_time, generator=torch.Generator().manual_seed(0))
    chance[spec] = align_latents(rand.numpy(), ds["latent"].values, spec)[2]["median_error"]
    print(f"{spec}: fitted {results[spec]:.3f} rad vs chance {chance[spec]:.3f} rad")

fig, ax = plt.subplots(figsize=(4, 3))
x = np.arange(len(results))
ax.bar(x - 0.2, list(results.values()), 0.4, label="mGPLVM")
ax.bar(x + 0.2, list(chance.values()), 0.4, label="random points")
ax.set_xticks(x, list(results))
ax.legend()
ax.set_ylabel("median error after alignment (rad)")
fig.tight_layout()
fig.savefig(OUT / "manifold_errors.png")
plt.close("all")
fig  # the last figure as the cell's output in Jupyter and the docs (a no-op in a script)

# %% [markdown]
# ## An arc is not a ring: the ELBO cannot tell, cross-validation can
#
# Topology is a claim about the data, and the ELBO of one model is the wrong judge of it. When a
# ring population's latent path covers only part of the ring (here a 130° arc of
# `make_ring_recording`, bump tuning all around the ring), a $T^1$ fit stretches the arc over
# most of the ring, and this warped fit has a *higher* ELBO than a fit whose latents are held at
# the truth. Under the uniform prior the latent term of the ELBO is
# $-\mathrm{KL}[q(g_t)\,\|\,\mathrm{U}(T^1)] = H[q(g_t)] - \log 2\pi$ per bin, and stretching
# widens $q(g_t)$ in the prior's measure (benchmarks/arc_vs_ring.py: on seeds 0-2 the stretched
# fits cover 284-294° and beat the truth-held fits by ~1.1 nats per bin, ~0.5 of it from that
# entropy; started at the truth the fit stretches just the same).
#
# The temporal prior, `prior="temporal_gp"`, replaces the uniform prior by Brownian motion on the
# circle in the `time` coordinate, with a learned timescale $\tau$ (the latent's circular
# autocorrelation is $e^{-|t-s|/\tau}$), and the fitted prior is also used when held-out latents
# are inferred (`log_likelihood(..., infer_from=...)`), so cross-validation scores the model that
# was fitted. It makes a stretched path pay for its larger steps, but does not stop the stretch.

# %%
from neurolatent.datasets import make_ring_recording  # noqa: E402
from neurolatent.models import compare_manifolds  # noqa: E402


def covered_range(theta):
    """Degrees of the circle covered by the angles: 360 minus the largest gap between them."""
    th = np.sort(np.mod(np.ravel(theta), 2 * np.pi))
    return float(np.degrees(2 * np.pi - np.diff(np.r_[th, th[0] + 2 * np.pi]).max()))


arc = make_ring_recording(20, 200, noise=0.1, seed=0, speed_sd=3.0, arc=np.deg2rad(130.0))
truth = arc["latent"].values.astype(float)
arc_steps = 100 if QUICK else 250
arc_fits = {prior: MGPLVM("T1", seed=0, prior=prior).fit(arc["dff"], max_steps=arc_steps, progress=False)
            for prior in ("uniform", "temporal_gp")}
for prior, fit in arc_fits.items():  # (ELBOs under different priors are not comparable)
    mean = fit.latents()["mean"].values
    print(f"{prior:11s}: fitted latents cover {covered_range(mean):.0f} deg (truth {covered_range(truth):.0f}), "
          f"ELBO {fit.elbo(n_mc=20, seed=0) / len(truth):.2f} per bin")
tau = float(arc_fits["temporal_gp"].prior.timescale.detach()[0])
print(f"learned timescale {tau:.2f} s ({tau * 10:.1f} bins at 10 Hz)")

# %% [markdown]
# Both fits spread the arc over most of the ring. Cross-validation (the paper's protocol: fit on
# the training bins, infer each test bin's latent from half of the neurons, score the other
# half) is the judge: on this arc it prefers $R^1$, on a covered ring $T^1$ -- with either prior.
# Measured in benchmarks/arc_vs_ring.py (2 folds, 250 steps, seeds 0-2, held-out nats per entry,
# $T^1$ / $R^1$): uniform prior, arc 0.782/0.790, 0.799/0.808, 0.800/0.811 and ring 0.791/0.722,
# 0.785/0.715, 0.779/0.718; temporal prior, arc 0.794/0.799, 0.810/0.812, 0.811/0.812 and ring
# 0.793/0.739, 0.792/0.747, 0.795/0.737. On the arc the margin is small (0.001-0.01 nats per
# entry) but its sign held on every seed; the temporal prior narrows it. The run below repeats
# seed 0 on the arc with the temporal prior (skipped in quick mode, ~15 s).

# %%
if not QUICK:
    cv_arc = compare_manifolds(arc["dff"], ["T1", "R1"], folds=2, seed=0, max_steps=250, infer_steps=200,
                               progress=False, model_kwargs={"prior": "temporal_gp"})
    print(cv_arc["log_likelihood"].mean("fold").to_pandas())

fig, axes = plt.subplots(1, 2, figsize=(7, 3), sharey=True)
centre = np.angle(np.exp(1j * truth).mean())
for ax, (prior, fit) in zip(axes, arc_fits.items()):
    aligned = align_latents(fit.latents()["mean"].values, truth[:, None], "T1")[0][:, 0]
    ax.plot(np.degrees(np.angle(np.exp(1j * (truth - centre)))), np.degrees(np.angle(np.exp(1j * (aligned - centre)))),
            ".", ms=3)
    ax.plot([-65, 65], [-65, 65], "k--", lw=1, label="truth")
    ax.set(title=f'T1, prior="{prior}"', xlabel="true angle (deg from the arc's centre)", xlim=(-180, 180),
           ylim=(-180, 180))
axes[0].set_ylabel("fitted angle, aligned (deg)")
axes[0].legend(loc="upper left", fontsize=7)
fig.tight_layout()
fig.savefig(OUT / "arc_stretch.png")
plt.close("all")
fig
