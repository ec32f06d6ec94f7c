"""Claims of Benzing (2022, AISTATS), seeded on CPU with scikit-learn's digits (no download).

(a) MAS, AF and SI's bias-only part (SIB) correlate strongly with sqrt(Fisher) across parameters;
    the unbiased path integral (SIU) does not.
(b) On 5 permuted-digits tasks, SI ~ SIB ~ MAS ~ AF ~ EWC, all well above fine-tuning in average final
    accuracy, and SIU below SI.

Setting: 64-100-100-10 ReLU MLP (``MLP(64, (100, 100), 10, seed=s)``), Adam lr 1e-3, seeds 0, 1, 2.
The regularisation strengths are the methods' defaults, chosen beforehand on a validation stream
with seed 100 (see ``methods.py``). Measured values (torch 2.13 CPU) sit beside each threshold.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.stats import spearmanr

from neurolatent.methods.common import MLP, load_digits, permuted_tasks
from neurolatent.methods.continual import importance, run

SEEDS = (0, 1, 2)
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def digits():
    return load_digits(seed=0)


def _flat(imp):
    return torch.cat([v.flatten() for v in imp.values()]).numpy()


def _correlations(digits, seed, batch_size, normalise):
    """Spearman rho of each importance with sqrt(Fisher) over all 17,310 parameters, after one task."""
    raw = {}
    for kind in ("si", "siu", "sib"):  # identical trajectories: same seed, the extra minibatch never moves the net
        net = MLP(64, (100, 100), 10, seed=seed)
        raw[kind] = importance(net, digits, kind=kind, epochs=5, lr=1e-3, seed=seed, batch_size=batch_size,
                               normalise=normalise)
    for kind in ("af", "mas"):
        raw[kind] = importance(net, digits, kind=kind, seed=seed)
    root_f = np.sqrt(_flat(importance(net, digits, kind="fisher", seed=seed)))
    return {k: float(spearmanr(_flat(v), root_f)[0]) for k, v in raw.items()}


@pytest.fixture(scope="module")
def rho_small_batch(digits):
    return [_correlations(digits, s, batch_size=16, normalise=False) for s in SEEDS]


def test_mas_af_and_sib_track_root_fisher_but_siu_does_not(rho_small_batch):
    # measured (seeds 0, 1, 2), running sums omega of 5 epochs at batch 16:
    #   SI .873 .835 .835 | SIB .884 .842 .837 | SIU .446 .449 .460 | MAS .752 .726 .737 | AF .952 .946 .950
    for rho in rho_small_batch:
        assert rho["af"] > 0.85
        assert rho["mas"] > 0.6
        assert rho["sib"] > 0.75 and rho["si"] > 0.75
        assert rho["siu"] < 0.6
        assert rho["sib"] - rho["siu"] > 0.25  # measured gap 0.38 - 0.44


@pytest.mark.xfail(strict=False, reason=(
    "not reproduced at the runner's default batch 64 with the normalised importance "
    "omega / (dtheta^2 + xi): measured rho(SIB, sqrt F) = .501, .509 (seeds 0, 1) against rho(SIU) = .670, .630 "
    "(SI .817 .788, MAS .762 .734); with fewer noisy steps the bias term is a poorer Fisher estimate"))
def test_normalised_sib_beats_siu_at_batch_64(digits):
    for seed in SEEDS[:2]:
        rho = _correlations(digits, seed, batch_size=64, normalise=True)
        assert rho["sib"] > rho["siu"]


@pytest.fixture(scope="module")
def final_accuracy(digits):
    out = {}
    for seed in SEEDS:
        tasks = permuted_tasks(digits, 5, seed=seed)
        for method in ("finetune", "ewc", "af", "mas", "si", "siu", "sib"):
            res = run(MLP(64, (100, 100), 10, seed=seed), tasks, method, epochs=5, lr=1e-3, seed=seed,
                      progress=False)
            out[method, seed] = float(res.average_accuracy)
    return out


def test_regularisers_beat_finetuning_and_agree(final_accuracy):
    acc = final_accuracy
    # measured average final accuracy (seeds 0, 1, 2):
    #   finetune .584 .640 .570 | EWC .735 .772 .681 | AF .708 .712 .672 | MAS .705 .747 .675
    #   SI .722 .765 .669 | SIB .723 .781 .696 | SIU .699 .739 .651
    group = ("ewc", "af", "mas", "si", "sib")
    for seed in SEEDS:
        for m in group:
            assert acc[m, seed] - acc["finetune", seed] > 0.05  # smallest measured gap 0.072 (AF, seed 1)
    means = [np.mean([acc[m, s] for s in SEEDS]) for m in group]
    assert max(means) - min(means) < 0.08  # "approximately equal": measured spread 0.036 (.697 ... .733)


def test_siu_is_below_si(final_accuracy):
    acc = final_accuracy
    # measured SI - SIU: 0.023, 0.026, 0.018 (seeds 0, 1, 2); small but the same sign on every seed
    for seed in SEEDS:
        assert acc["siu", seed] < acc["si", seed]
    assert np.mean([acc["si", s] - acc["siu", s] for s in SEEDS]) > 0.01
