"""Paper claims of ``nl.methods.ssl`` at test scale (slow): three seeds, tiny encoders, a few epochs.

Recipe (shared by every test here, built once per module): the 8x8 digits read as images
(1348 train / 449 test), ``default_augment(2)``, an MLP 64-128-32 backbone and a 32-64-32
projector (``make_encoder(..., arch="mlp")``), Adam 1e-3, batch 128, ``EPOCHS`` epochs, seeds
0, 1, 2; logistic-regression probe on the frozen backbone features. The same comparisons at 20
epochs are in ``benchmarks/ssl_methods.py``; the numbers measured here are quoted beside each
assertion.
"""
from __future__ import annotations

import pytest
import torch

from neurolatent.methods.common import load_digits
from neurolatent.methods.ssl import (
    band_losses,
    baseline_losses,
    compare_losses,
    default_augment,
    make_encoder,
    rank_correlation,
)

pytestmark = pytest.mark.slow

SEEDS = (0, 1, 2)
EPOCHS = 5
OBJECTIVES = ("infonce", "barlow", "vicreg", "sslpm", "relic", "relic_no_kl")  # MoCo: the "all" band below


@pytest.fixture(scope="module")
def digits():
    return load_digits(image=True, seed=0)


def _encoder(digits):
    return lambda seed: make_encoder(digits.input_shape, rep_dim=32, proj_dim=32, hidden=(128,), arch="mlp",
                                     seed=seed)


@pytest.fixture(scope="module")
def runs(digits):
    torch.set_num_threads(1)
    losses = {k: v for k, v in baseline_losses(relic_small_size=8).items() if k in OBJECTIVES}
    ds = compare_losses(losses, digits, default_augment(2), seeds=SEEDS, epochs=EPOCHS, encoder=_encoder(digits),
                        nonlinear=False)
    print("\n" + ds[["linear_accuracy", "knn_accuracy", "pairwise_redundancy", "linear_predictability",
                     "cross_view_kl"]].mean("seed").to_pandas().round(4).to_string())
    return ds


@pytest.fixture(scope="module")
def bands(digits):
    torch.set_num_threads(1)
    ds = compare_losses(band_losses(queue_size=1024), digits, default_augment(2), seeds=SEEDS, epochs=EPOCHS,
                        encoder=_encoder(digits), redundancy=False)
    print("\n" + ds[["linear_accuracy", "knn_accuracy"]].mean("seed").to_pandas().round(4).to_string())
    return ds


def acc(ds, name, var="linear_accuracy"):
    return ds[var].sel(objective=name).values


def test_sslpm_within_a_few_points_of_barlow_and_vicreg(runs):
    sslpm, barlow, vicreg = (acc(runs, k).mean() for k in ("sslpm", "barlow", "vicreg"))
    print(f"seed-mean logistic probe: sslpm {sslpm:.4f}, barlow {barlow:.4f}, vicreg {vicreg:.4f}")
    # "a few points": 3 points below the weaker of the two baselines (measured: -0.9 points at 5
    # epochs, -0.2 / -0.6 points at 20 epochs in the benchmark).
    assert sslpm >= min(barlow, vicreg) - 0.03


def test_sslpm_reduces_linear_predictability(runs):
    # The predictor's game removes dependencies: every seed's SSLPM embedding is less linearly
    # predictable than both redundancy-reduction baselines (measured 0.82 vs 0.98 / 0.99 at 5 epochs).
    pm = acc(runs, "sslpm", "linear_predictability")
    for base in ("barlow", "vicreg"):
        assert (pm < acc(runs, base, "linear_predictability")).all()


def test_relic_invariance_term_lowers_cross_view_kl_at_equal_accuracy(runs):
    kl_on, kl_off = acc(runs, "relic", "cross_view_kl"), acc(runs, "relic_no_kl", "cross_view_kl")
    a_on, a_off = acc(runs, "relic"), acc(runs, "relic_no_kl")
    print("cross-view KL with / without the term:", kl_on.round(4), kl_off.round(4), "accuracy:", a_on.round(4),
          a_off.round(4))
    assert (kl_on < kl_off).all()  # every seed
    # "equal or better": the seed means within one test digit-point (the seed sd of the probe is ~0.01).
    assert a_on.mean() >= a_off.mean() - 0.01


@pytest.mark.xfail(strict=False, reason="redundancy vs probe accuracy: Spearman ~ +0.03 (pairwise) / +0.09 "
                   "(linear) at 5 epochs, -0.11 / +0.14 at 20 epochs across the objectives; SSLPM is the least "
                   "redundant but not the best probe")
def test_lower_redundancy_goes_with_better_probe_accuracy(runs):
    rho = {m: rank_correlation(runs, m, "linear_accuracy") for m in
           ("average_abs_correlation", "pairwise_redundancy", "linear_predictability")}
    print("Spearman(redundancy, accuracy) across 6 objectives:", {k: round(v, 3) for k, v in rho.items()})
    assert rho["pairwise_redundancy"] < -0.5 and rho["linear_predictability"] < -0.5


def test_hardest_negatives_suffice_and_the_very_hardest_are_not_needed(bands):
    full, hard5, drop = (acc(bands, k).mean() for k in ("all", "hardest_5", "drop_hardest_0.1"))
    print(f"all {full:.4f}, hardest 5% {hard5:.4f}, drop hardest 0.1% {drop:.4f}")
    assert hard5 >= full - 0.02  # "near full"
    assert drop >= full - 0.01  # "does not hurt"


@pytest.mark.xfail(strict=False, reason="the easiest 95% of negatives still suffice on digits at this scale: "
                   "0.940 vs 0.937 (all) at 5 epochs, 0.958 vs 0.959 at 20 epochs")
def test_easiest_negatives_alone_fall_short(bands):
    full, easy = acc(bands, "all").mean(), acc(bands, "easiest_95").mean()
    print(f"all {full:.4f}, easiest 95% {easy:.4f}")
    assert easy < full - 0.02
