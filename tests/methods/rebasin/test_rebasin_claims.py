"""The claims of the re-basin family, each a test that could fail (seeded, CPU, digits).

Measured values on the reference machine (torch 2.13 CPU) are quoted beside each threshold; the
thresholds leave a margin of 2-5x so that a different BLAS or torch version does not flip them,
while an implementation that does not do what the papers describe would.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from neurolatent.methods.common import apply_permutation, evaluate, linear_cka, representations, rescale_units
from neurolatent.methods.rebasin import (
    average_permuted_initialisations,
    barrier,
    combination_study,
    match_activations,
    match_weights,
    perturb_permutation,
    stitch,
)


# ------------------------------------------------------------- linear mode connectivity (Benzing 2022)
def test_mlp_barrier_vanishes_after_matching(mlp_trio, digits):
    (_, a), (_, b) = mlp_trio[:2]
    x, y = digits.x_test, digits.y_test
    before = barrier(a, b, x, y)
    after_act = barrier(a, match_activations(a, b, digits.x_train), x, y)
    after_w = barrier(a, match_weights(a, b), x, y)
    # measured: loss barrier 0.26 before, 0.009 (activations) / 0.008 (weights) after
    assert before.loss_barrier > 0.15
    for after in (after_act, after_w):
        # "near zero": below 0.05 nats, i.e. under the end points' own test loss (~0.07),
        # and at most a fifth of the unmatched barrier
        assert after.loss_barrier < 0.05
        assert after.loss_barrier < 0.2 * before.loss_barrier
        # and at most 2 percentage points of extra test error (9 of 449 digits); measured <= 0.9 %
        assert after.error_barrier < 0.02


def test_permuted_average_of_initialisations_beats_chance(mlp_trio, digits):
    (init_a, a), (init_b, b) = mlp_trio[:2]
    _, perms = match_activations(a, b, digits.x_train, return_permutation=True)
    plain = evaluate(average_permuted_initialisations(init_a, init_b), digits.x_test, digits.y_test)
    permuted = evaluate(average_permuted_initialisations(init_a, init_b, perms), digits.x_test, digits.y_test)
    # chance is 10 %. Measured: unpermuted average 5.8 %, permuted average 60 %.
    # With 449 test digits a chance-level classifier exceeds 20 % with probability < 1e-13.
    assert plain["accuracy"] < 0.20
    assert permuted["accuracy"] > 0.30
    # each initialisation alone is at chance level as well
    assert evaluate(init_a, digits.x_test, digits.y_test)["accuracy"] < 0.20


def test_small_cnn_keeps_a_larger_barrier(mlp_trio, cnn_pair, digits, digits_images):
    (_, a), (_, b) = mlp_trio[:2]
    (_, ca), (_, cb) = cnn_pair
    mlp_after = barrier(a, match_activations(a, b, digits.x_train), digits.x_test, digits.y_test)
    cnn_after = barrier(ca, match_activations(ca, cb, digits_images.x_train), digits_images.x_test,
                        digits_images.y_test)
    # measured: CNN 0.195 vs MLP 0.009 after matching (same data, same recipe, both ~98 % accurate)
    assert cnn_after.loss_barrier > 3 * mlp_after.loss_barrier
    assert cnn_after.loss_barrier > 0.05
    assert cnn_after.error_barrier > mlp_after.error_barrier


# ------------------------------------------------------------- mode combinability (Csiszarik 2023)
@pytest.fixture(scope="module")
def aligned_pair(mlp_trio, digits):
    (_, a), (_, b) = mlp_trio[:2]
    pb, perms = match_activations(a, b, digits.x_train, return_permutation=True)
    return a, b, pb, perms


def test_aligned_combinations_have_low_loss_across_the_cube(aligned_pair, digits):
    a, b, pb, _ = aligned_pair
    kinds = ("uniform", "bernoulli", "outside", "layer")
    aligned = combination_study(a, pb, digits.x_test, digits.y_test, kinds=kinds, n_samples=8, seed=0)
    plain = combination_study(a, b, digits.x_test, digits.y_test, kinds=kinds, n_samples=8, seed=0)
    ends = np.mean([evaluate(m, digits.x_test, digits.y_test)["accuracy"] for m in (a, b)])
    for kind in kinds:
        # measured worst aligned accuracy 0.938 (bernoulli) .. 0.962 (layer), end points 0.982
        assert aligned[kind]["accuracy"].min() > ends - 0.08
        assert aligned[kind]["loss"].max() < 0.3  # measured <= 0.193 (bernoulli)
    for kind in ("uniform", "bernoulli", "outside"):
        # element-wise combinations: every aligned sample beats every unaligned one
        # (measured aligned max 0.11-0.19 vs unaligned min 0.39-0.49)
        assert aligned[kind]["loss"].max() < plain[kind]["loss"].min()


def test_combinations_differ_functionally(aligned_pair, digits):
    a, _, pb, _ = aligned_pair
    res = combination_study(a, pb, digits.x_test, digits.y_test, kinds=("uniform",), n_samples=6, seed=1)
    # measured mean disagreement 2.3 % with A: a new function, not a copy of either end point;
    # 0.5 % is two digits of 449
    assert res["uniform"]["disagreement_a"].mean() > 0.005
    assert res["uniform"]["disagreement_b"].mean() > 0.005
    assert res["uniform"]["accuracy"].min() > 0.9


def test_alignment_is_transitive(mlp_trio, digits):
    (_, a), (_, b), (_, c) = mlp_trio
    a_c = match_activations(c, a, digits.x_train)  # A aligned to C
    b_c = match_activations(c, b, digits.x_train)  # B aligned to C
    transitive = barrier(a_c, b_c, digits.x_test, digits.y_test).loss_barrier
    direct = barrier(a, b, digits.x_test, digits.y_test).loss_barrier
    # measured 0.032 vs 0.263: A and B were never matched to each other, yet are connected
    assert transitive < 0.3 * direct
    assert transitive < 0.08


def test_connectivity_is_robust_to_perturbed_matchings(aligned_pair, digits):
    a, b, _, perms = aligned_pair
    x, y = digits.x_test, digits.y_test
    bar = {f: barrier(a, apply_permutation(b, perturb_permutation(perms, f, seed=0)), x, y).loss_barrier
           for f in (0.0, 0.25, 1.0)}
    # measured: 0.009 (exact), 0.013 (25 % of units shuffled), 0.34 (random)
    assert bar[0.25] < 0.3 * bar[1.0]
    assert bar[0.0] <= bar[0.25] + 0.02  # corrupting the matching does not help (noise margin 0.02)


# ------------------------------------------------------------- model stitching (Csiszarik 2021)
def test_task_stitching_recovers_accuracy_at_every_layer(deep_mlp_pair, digits):
    a, b = deep_mlp_pair
    acc = [evaluate(m, digits.x_test, digits.y_test)["accuracy"] for m in (a, b)]
    for k in a.hidden_layers:
        s = stitch(a, b, k, digits, method="task", epochs=5, seed=0)
        # measured 0.973-0.978 against end points 0.967 / 0.978; allow 3 points (13 digits)
        assert evaluate(s, digits.x_test, digits.y_test)["accuracy"] > min(acc) - 0.03


def test_least_squares_matching_is_weaker_than_task_stitching(deep_mlp_pair, digits):
    a, b = deep_mlp_pair
    gaps = []
    for k in a.hidden_layers:
        task = evaluate(stitch(a, b, k, digits, method="task", rank=4, epochs=5), digits.x_test, digits.y_test)
        lsq = evaluate(stitch(a, b, k, digits, method="lstsq", rank=4), digits.x_test, digits.y_test)
        gaps.append(task["accuracy"] - lsq["accuracy"])
        assert lsq["loss"] > task["loss"]
    # rank-4 stitching (a 4-d bottleneck); measured accuracy gaps 11, 2.7, 6.2 points
    assert min(gaps) > 0 and np.mean(gaps) > 0.03


def test_cka_does_not_predict_stitching(deep_mlp_pair, digits):
    """A functionally identical twin of A (three units amplified 30x, compensated downstream) is
    judged much *less* similar to A by CKA than an independently trained network B, yet it stitches
    exactly (least squares recovers A's function) and as well as B on the task: a similarity index
    that predicted stitching would rank the pairs the other way."""
    a, b = deep_mlp_pair
    x, y = digits.x_test, digits.y_test
    acc_a = evaluate(a, x, y)["accuracy"]
    for k in a.hidden_layers:
        n = a.forward_to(x[:1], k).shape[1]
        scale = torch.ones(n)
        scale[torch.randperm(n, generator=torch.Generator().manual_seed(0))[:3]] = 30.0
        twin = rescale_units(a, k, scale)
        ra, rt, rb = (representations(m, x, [k])[k] for m in (a, twin, b))
        cka_twin, cka_b = float(linear_cka(ra, rt)), float(linear_cka(ra, rb))
        # measured CKA(A, twin) 0.44 / 0.63 / 0.50 vs CKA(A, B) 0.92 / 0.86 / 0.86
        assert cka_twin < cka_b - 0.1
        exact = stitch(a, twin, k, digits, method="lstsq")
        assert evaluate(exact, x, y)["accuracy"] == pytest.approx(acc_a, abs=1 / len(y) + 1e-9)  # one digit
        acc_twin = evaluate(stitch(a, twin, k, digits, method="task", epochs=5), x, y)["accuracy"]
        acc_b = evaluate(stitch(a, b, k, digits, method="task", epochs=5), x, y)["accuracy"]
        # measured 0.976 / 0.973 / 0.971 (twin) vs 0.973 / 0.978 / 0.973 (B): within 7 digits of 449
        assert acc_twin > acc_b - 0.015
