"""Paper claims at CPU scale (slow): FishLeg surgeon vs exact OBS / diagonal-Fisher OBD / magnitude,
and Powerpropagation.

Surgeon claims: one-hidden-layer 64-32-10 MLPs on digits, seeds 0-2, one-shot pruning (no
fine-tuning) at 80/90/95 % global sparsity; inverse-Fisher damping 1e-2; Q fitted by 300 FishLeg
auxiliary steps after training; OBS with per-layer blocks (FishLeg's structure) and 2 % greedy
chunks; the FishLeg surgeon with 10 sub-steps (``n_steps=10``). Measured test accuracies
(seed 0 / 1 / 2, torch 2.13 CPU):

=============  =====================  =====================  =====================
method         80 %                   90 %                   95 %
=============  =====================  =====================  =====================
magnitude      0.873 / 0.898 / 0.846  0.610 / 0.722 / 0.675  0.187 / 0.403 / 0.356
OBD (diag F)   0.840 / 0.893 / 0.886  0.437 / 0.546 / 0.472  0.087 / 0.096 / 0.105
exact OBS      0.951 / 0.942 / 0.953  0.842 / 0.851 / 0.860  0.628 / 0.628 / 0.492
FLS            0.933 / 0.920 / 0.933  0.726 / 0.800 / 0.775  0.339 / 0.514 / 0.421
FLS, 1 step    0.922 / 0.931 / 0.902  0.739 / 0.702 / 0.733  0.352 / 0.281 / 0.318
=============  =====================  =====================  =====================

cos(Q g, (F+γI)^{-1} g) with per-layer exact blocks: 0.586 / 0.644 / 0.550 (Q = I: 0.498 / 0.490 / 0.462).

Powerpropagation (64-128-128-10 MLP, Adam lr 3e-3 on v, 60 epochs, global magnitude pruning of w after
removal, no fine-tuning), test accuracy, seed 0 / 1 / 2:

=====  =====================  =====================  =====================  =====================
alpha  dense                  90 %                   95 %                   98 %
=====  =====================  =====================  =====================  =====================
1      0.982 / 0.984 / 0.984  0.661 / 0.768 / 0.668  0.267 / 0.363 / 0.281  0.138 / 0.200 / 0.163
2      0.969 / 0.969 / 0.953  0.835 / 0.898 / 0.873  0.530 / 0.630 / 0.595  0.287 / 0.265 / 0.390
3      0.967 / 0.969 / 0.967  0.967 / 0.958 / 0.962  0.528 / 0.871 / 0.517  0.229 / 0.459 / 0.149
=====  =====================  =====================  =====================  =====================

Fraction of weights with |w| < 1e-2: 0.078 / 0.078 / 0.076 (alpha 1), 0.582 / 0.561 / 0.557 (2),
0.833 / 0.811 / 0.818 (3).
"""
from __future__ import annotations

import numpy as np
import pytest

pytestmark = pytest.mark.slow

LEVELS = (0.8, 0.9, 0.95)  # as in conftest.py


def _acc(runs, method):
    return np.array([r["acc"][method] for r in runs])  # (seed, level)


def test_fishleg_surgeon_beats_magnitude_one_shot(surgeon_runs):
    fls, mag = _acc(surgeon_runs, "fls"), _acc(surgeon_runs, "magnitude")
    # measured: FLS above magnitude for every seed and level (9/9); mean margins 0.057 / 0.098 / 0.110.
    # Thresholds: every seed within 1 point of magnitude or above (449 test digits: 1 point = 4.5 digits),
    # and the seed mean at least 3 points above at every level.
    assert np.all(fls >= mag - 0.01), (fls, mag)
    assert np.all(fls.mean(0) - mag.mean(0) >= 0.03), (fls.mean(0), mag.mean(0))


def test_exact_obs_is_the_best_and_fishleg_surgeon_is_close_at_80_percent(surgeon_runs):
    obs, fls = _acc(surgeon_runs, "obs"), _acc(surgeon_runs, "fls")
    others = [_acc(surgeon_runs, k).mean(0) for k in ("magnitude", "obd", "fls", "fls_1step")]
    # the oracle: measured mean 0.949 / 0.851 / 0.583, above every other method at every level
    assert np.all(obs.mean(0) >= np.max(others, axis=0))
    # measured mean gap OBS - FLS at 80 %: 0.020 (0.018 / 0.022 / 0.020); threshold 0.05
    assert obs[:, 0].mean() - fls[:, 0].mean() < 0.05


@pytest.mark.xfail(strict=False, reason="at 90-95 % FLS trails exact OBS by 8-16 points at this scale "
                                        "(Kronecker Q after 300 auxiliary steps; see the module docstring)")
def test_fishleg_surgeon_close_to_obs_at_high_sparsity(surgeon_runs):
    obs, fls = _acc(surgeon_runs, "obs"), _acc(surgeon_runs, "fls")
    # measured mean gaps: 0.084 at 90 %, 0.158 at 95 %
    assert np.all(obs[:, 1:].mean(0) - fls[:, 1:].mean(0) < 0.05)


@pytest.mark.xfail(strict=False, reason="diagonal-Fisher OBD falls below magnitude at 90-95 % here "
                                        "(mean 0.485 vs 0.669 at 90 %, 0.096 vs 0.315 at 95 %)")
def test_diagonal_fisher_beats_magnitude(surgeon_runs):
    obd, mag = _acc(surgeon_runs, "obd"), _acc(surgeon_runs, "magnitude")
    # measured means: 0.873 vs 0.872 at 80 %, 0.485 vs 0.669 at 90 %, 0.096 vs 0.315 at 95 %
    assert np.all(obd.mean(0) >= mag.mean(0) - 0.01)


def test_fishleg_q_points_closer_to_the_inverse_fisher_gradient_than_the_gradient(surgeon_runs):
    # measured cos(Q g, F^-1 g): 0.586 / 0.644 / 0.550 against cos(g, F^-1 g): 0.498 / 0.490 / 0.462
    for r in surgeon_runs:
        assert r["cos_q"] > r["cos_identity"] + 0.03, r


def test_powerprop_keeps_accuracy_to_higher_sparsity(powerprop_runs):
    acc = {a: np.array([r["acc"] for r in powerprop_runs if r["alpha"] == a]) for a in (1.0, 2.0, 3.0)}
    dense, at90, at95 = 0, 1, 2
    # comparable dense accuracy (the paper's comparison is at equal dense performance): within 3 points
    for a in (2.0, 3.0):
        assert acc[a][:, dense].mean() > acc[1.0][:, dense].mean() - 0.03
    # measured seed means (alpha 1 / 2 / 3): dense 0.983 / 0.964 / 0.968; 90 %: 0.699 / 0.869 / 0.962;
    # 95 %: 0.304 / 0.585 / 0.639 (alpha 3 at 95 % varies most across seeds: 0.53-0.87)
    assert acc[3.0][:, at90].mean() > acc[1.0][:, at90].mean() + 0.1
    assert acc[2.0][:, at90].mean() > acc[1.0][:, at90].mean() + 0.05
    assert acc[3.0][:, at95].mean() > acc[1.0][:, at95].mean() + 0.1


def test_powerprop_puts_more_weight_mass_near_zero(powerprop_runs):
    # measured fraction |w| < 1e-2: ~0.08 (alpha 1), ~0.56 (2), ~0.82 (3) on every seed
    for seed in (0, 1, 2):
        frac = [r["near_zero"] for r in powerprop_runs if r["seed"] == seed]
        assert frac[0] < frac[1] < frac[2], frac
        assert frac[2] > 3 * frac[0]


@pytest.mark.xfail(strict=False, reason="at 98 % every alpha collapses towards chance at this scale "
                                        "(seed means 0.167 / 0.314 / 0.259 for alpha 1 / 2 / 3), not monotone in alpha")
def test_powerprop_at_98_percent(powerprop_runs):
    acc = {a: np.mean([r["acc"][3] for r in powerprop_runs if r["alpha"] == a]) for a in (1.0, 2.0, 3.0)}
    assert acc[3.0] > acc[2.0] > acc[1.0] and acc[3.0] > 0.5


def test_gradual_fishleg_surgeon_with_refined_q_beats_gradual_magnitude(gradual_runs):
    """Gradual pruning with fine-tuning (cubic schedule; Q refined between the steps, not re-estimated).

    Measured final test accuracy (seed 0 / 1 / 2): 95 %: FLS 0.853 / 0.846 / 0.837 vs magnitude
    0.793 / 0.837 / 0.773; 98 %: FLS 0.434 / 0.575 / 0.555 vs magnitude 0.367 / 0.423 / 0.408.
    """
    for final, margin in ((0.95, 0.02), (0.98, 0.05)):  # measured mean margins 0.044 and 0.122
        fls = np.array([r[("fls", final)] for r in gradual_runs])
        mag = np.array([r[("magnitude", final)] for r in gradual_runs])
        assert fls.mean() - mag.mean() > margin, (final, fls, mag)
        assert np.all(fls >= mag - 0.01), (final, fls, mag)
