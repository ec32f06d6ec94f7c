"""Claims of "Training BatchNorm and only BatchNorm" and "The early phase of neural network training"
at CPU scale (slow; digits, seeds 0-2; recipes in conftest.py). Measured numbers beside each threshold.

BatchNorm only (test accuracy, seed 0 / 1 / 2; random = as many randomly chosen other entries trained):

==============  ==============  =====================  =====================
hidden          BN parameters   BN only                random subset
==============  ==============  =====================  =====================
(64,)           128             0.492 / 0.385 / 0.323  0.401 / 0.403 / 0.359
(64, 64)        256             0.686 / 0.684 / 0.753  0.661 / 0.717 / 0.688
(64, 64, 64)    384             0.822 / 0.802 / 0.793  0.775 / 0.724 / 0.733
(256, 256)      1024            0.906 / 0.909 / 0.922  0.900 / 0.857 / 0.860
==============  ==============  =====================  =====================

|gamma| < 0.05 after BN-only training: 0-2.1 % of the features.

IMP with rewinding (96.9 % sparsity), seed 0 / 1 / 2: k=0 0.661 / 0.773 / 0.813, k=1 0.764 / 0.824 /
0.822, k=3 0.802 / 0.768 / 0.748. Perturbations of the weights rewound to k=3 (mean over seeds):
rewound 0.773, signs kept (new magnitudes) 0.700, re-initialised 0.542, shuffled within layers 0.516,
random signs 0.387.
"""
from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.slow


def _by_shape(runs, key):
    shapes = sorted({r["hidden"] for r in runs}, key=lambda h: (len(h), h))
    return {h: np.array([r[key] for r in runs if r["hidden"] == h]) for h in shapes}


def test_batchnorm_only_is_far_above_chance_and_rises_with_depth_and_width(bn_only_runs):
    bn = _by_shape(bn_only_runs, "bn")
    m = {h: v.mean() for h, v in bn.items()}
    # measured seed means: (64,) 0.400, (64, 64) 0.708, (64, 64, 64) 0.806, (256, 256) 0.912; chance 0.10
    assert bn[(64, 64, 64)].min() > 0.5 and bn[(256, 256)].min() > 0.5
    assert m[(64,)] < m[(64, 64)] < m[(64, 64, 64)]  # depth
    assert m[(64, 64)] < m[(256, 256)]  # width


def test_batchnorm_only_beats_as_many_random_parameters(bn_only_runs):
    bn, rnd = _by_shape(bn_only_runs, "bn"), _by_shape(bn_only_runs, "random")
    diff = {h: bn[h] - rnd[h] for h in bn}
    # measured mean margin over the 12 runs 0.033; per shape (seed mean): (64,) 0.012, (64, 64) 0.019,
    # (64, 64, 64) 0.062, (256, 256) 0.040. The shallow nets lose on some seeds (down to -0.036: the
    # random baseline can pick read-out weights); the deeper/wider ones win on every seed (>= 0.006).
    assert np.concatenate(list(diff.values())).mean() > 0.015
    for h in ((64, 64, 64), (256, 256)):
        assert diff[h].mean() > 0.02 and np.all(diff[h] > 0), (h, diff[h])


@pytest.mark.xfail(strict=False, reason="few gammas end near zero at this scale "
                                        "(|gamma| < 0.05: 0-2.1 % of the features over all seeds and shapes)")
def test_a_sizeable_fraction_of_gammas_end_near_zero(bn_only_runs):
    off = _by_shape(bn_only_runs, "gamma_off")
    assert np.mean([v.mean() for v in off.values()]) > 0.1


def test_rewinding_to_a_small_k_beats_k0_at_high_sparsity(rewinding_runs):
    acc = {k: np.array([r["k"][k] for r in rewinding_runs]) for k in (0, 1, 3)}
    # measured at 96.9 %: k=1 beats k=0 on every seed (by 0.103 / 0.051 / 0.009; mean 0.054);
    # k=3 only on seed 0 (means: k=0 0.749, k=1 0.803, k=3 0.773)
    assert acc[1].mean() > acc[0].mean() + 0.02
    assert np.all(acc[1] >= acc[0])


def test_sign_keeping_reinit_does_not_recover_the_rewound_accuracy(rewinding_runs):
    gap = np.array([r["k"][3] - r["perturbed"]["reinit_keep_signs"] for r in rewinding_runs])
    # measured: rewound minus signs-kept 0.040 / 0.129 / 0.049
    assert gap.mean() > 0.02 and np.all(gap > 0)


def test_perturbations_of_the_rewound_weights_order(rewinding_runs):
    mean = {kind: np.mean([r["perturbed"][kind] for r in rewinding_runs])
            for kind in rewinding_runs[0]["perturbed"]}
    rewound = np.mean([r["k"][3] for r in rewinding_runs])
    # measured means: rewound 0.773 > signs kept 0.700 > re-init 0.542, shuffled 0.516 > random signs 0.387
    # (the shuffled / re-initialised order flips between seeds, so only the outer order is asserted)
    assert rewound > mean["reinit_keep_signs"] > max(mean["reinit"], mean["shuffle"], mean["random_signs"])
    assert mean["random_signs"] < min(mean["reinit"], mean["shuffle"])
