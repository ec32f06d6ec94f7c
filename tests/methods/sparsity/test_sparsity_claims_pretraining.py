"""Pre-training before IMP (Frankle, Schwab & Morcos 2020, section 5) at CPU scale (slow; digits, seeds
0-2; recipes in conftest.py: ``pretraining_runs`` adds about 15 s to the ``rewinding_runs`` it compares with).

Test accuracy at 96.9 % sparsity, seed 0 / 1 / 2 (mean):

===============================================  =========================  ======
IMP, rewound to                                   seeds 0 / 1 / 2            mean
===============================================  =========================  ======
k = 0 (the initialisation)                        0.661 / 0.773 / 0.813      0.749
k = 0 of weights pre-trained 3 epochs, blurred    0.846 / 0.704 / 0.806      0.785
k = 0 of weights pre-trained 3 epochs, rotation   0.784 / 0.822 / 0.604      0.737
k = 1 epoch                                       0.764 / 0.824 / 0.822      0.803
===============================================  =========================  ======

Other pre-training lengths measured once (same seeds, not asserted): blurred 1 epoch 0.797 / 0.820 /
0.815 (0.811), 8 epochs 0.791 / 0.808 / 0.777 (0.792); rotation 1 epoch 0.646 / 0.811 / 0.771 (0.743),
8 epochs 0.635 / 0.811 / 0.294 (0.580). At this scale a final-round accuracy varies by ~0.1 between
seeds, so only seed means are compared. The paper's claim (pre-training without labels, or on blurred
inputs, approximates the early phase only partly; labels greatly accelerate it) holds here for blurring;
rotation prediction does not help at this scale.
"""
from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.slow


def _means(pretraining_runs, rewinding_runs):
    pre = {kind: np.array([r[kind] for r in pretraining_runs]) for kind in ("blur", "rotation")}
    k = {kk: np.array([r["k"][kk] for r in rewinding_runs]) for kk in (0, 1)}
    return pre, k


def test_pretraining_does_not_recover_rewinding_to_a_small_k(pretraining_runs, rewinding_runs):
    pre, k = _means(pretraining_runs, rewinding_runs)
    # measured means: blurred 0.785, rotation 0.737 < k=1 0.803 (blurred beats k=1 on seed 0 only)
    assert pre["blur"].mean() < k[1].mean()
    assert pre["rotation"].mean() < k[1].mean()


def test_blurred_pretraining_helps_partially(pretraining_runs, rewinding_runs):
    pre, k = _means(pretraining_runs, rewinding_runs)
    # measured means: k=0 0.749 < blurred 0.785 < k=1 0.803 (per seed blurred - k=0: +0.185 / -0.069 /
    # -0.007, so the gain rests on seed 0; the 0.01 margin is a third of the measured 0.036)
    assert k[0].mean() + 0.01 < pre["blur"].mean() < k[1].mean()


@pytest.mark.xfail(strict=False, reason="rotation pre-training does not beat plain k=0 at this scale "
                                        "(means 0.737 vs 0.749 after 3 epochs; 0.743 after 1, 0.580 after 8)")
def test_rotation_pretraining_helps_partially(pretraining_runs, rewinding_runs):
    pre, k = _means(pretraining_runs, rewinding_runs)
    assert k[0].mean() < pre["rotation"].mean() < k[1].mean()
