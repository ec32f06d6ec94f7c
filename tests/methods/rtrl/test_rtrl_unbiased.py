"""UORO, KF-RTRL and OK(r) are unbiased estimators of the exact gradient (the papers' claim).

One fixed sequence is replicated ``B`` times in the batch; every replicate draws its own noise,
so the batch mean of the per-sequence gradients estimates the expectation over the noise.
"""
from __future__ import annotations

import pytest
import torch

from neurolatent.methods.rtrl import KFRTRL, OKRTRL, TBPTT, UORO, bptt_gradient, optimal_rank_reduction
from neurolatent.methods.rtrl.kronecker import _rotation_factor, _sampling_factor

N_NOISE = 1500


def _z_scores(learner, x, y):
    B = N_NOISE
    learner.reset(B)
    for t in range(len(x)):
        learner.step(x[t].expand(B, -1), y[t].expand(B))
    g = learner.per_sample_gradient() * B  # the batch-mean loss scales each sequence by 1/B
    ref = bptt_gradient(learner.cell, learner.readout, x, y)["cell.weight"]
    se = g.std(0) / B**0.5
    return ((g.mean(0) - ref) / se.clamp_min(1e-12)).flatten()


@pytest.mark.parametrize("method", ["uoro", "kf", "ok1", "ok2"])
def test_estimator_is_unbiased(net, sequence, method):
    _, cell, readout = net
    x, y = sequence
    learner = {"uoro": lambda: UORO(cell, readout, seed=3), "kf": lambda: KFRTRL(cell, readout, seed=3),
               "ok1": lambda: OKRTRL(cell, readout, r=1, seed=3), "ok2": lambda: OKRTRL(cell, readout, r=2, seed=3)}
    z = _z_scores(learner[method](), x, y)
    # Unbiased: each entry's mean over 1500 noise draws is within 5 standard errors of BPTT
    # (66-132 entries; P(max |z| > 5) < 1e-4 under the null); the deviation is also not
    # systematic (mean z near 0; its own standard error is about 1/sqrt(#entries)).
    assert z.abs().max() < 5.0, float(z.abs().max())
    assert abs(z.mean()) < 4.0 / len(z) ** 0.5


def test_unbiasedness_check_detects_a_bias_of_the_truncation_size(sequence):
    # Power of the test above: the same z-check of KF-RTRL's mean against a *wrong* reference, the
    # TBPTT(2) gradient (whose bias is what truncation costs), must fail clearly (measured max |z| 19.9).
    from .conftest import make_net

    cell, readout = make_net("tanh")
    x, y = sequence
    B = N_NOISE
    learner = KFRTRL(cell, readout, seed=3)
    learner.reset(B)
    for t in range(len(x)):
        learner.step(x[t].expand(B, -1), y[t].expand(B))
    g = learner.per_sample_gradient() * B
    truncated = TBPTT(cell, readout, h=2)
    for t in range(len(x)):
        truncated.step(x[t], y[t])
    z = (g.mean(0) - truncated.gradient()["cell.weight"]) / (g.std(0) / B**0.5).clamp_min(1e-12)
    assert z.abs().max() > 5.0, float(z.abs().max())


def test_optimal_reduction_mean_and_variance():
    # E[T T^T] = diag(sigma) and E||T T^T - diag(sigma)||^2 = s_k^2/(r-k) - sum_{i>k} sigma_i^2
    # (Benzing et al. 2019, Thm. 1), averaged exactly over all 2^(r+1) sign patterns; k is the number
    # of singular values kept, the smallest k with (r - k) sigma_{k+1} <= sum_{i>k} sigma_i (worked by hand).
    import itertools

    for sigma, r, k in (([1.0, 0.9, 0.8], 2, 0), ([3.0, 1.0, 0.5], 2, 1), ([1.0, 1.0], 1, 0), ([4.0, 2.0, 1.0, 0.1], 3, 2),
                         ([1.0, 0.0, 0.0], 2, 1)):
        s = torch.tensor([sigma], dtype=torch.float64)
        patterns = torch.tensor(list(itertools.product([-1.0, 1.0], repeat=r + 1)), dtype=torch.float64)
        T = _rotation_factor(s.expand(len(patterns), -1), r, patterns)
        K = T @ T.mT
        assert T.shape == (len(patterns), r + 1, r)
        torch.testing.assert_close(K.mean(0), torch.diag(s[0]), rtol=0, atol=1e-12)  # exact average
        var = ((K - torch.diag(s[0])) ** 2).sum((1, 2)).mean()
        rest = s[0, k:]
        torch.testing.assert_close(var, rest.sum() ** 2 / (r - k) - (rest**2).sum(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("sigma, r, k", [
    ([1.0, 0.9, 0.8], 2, 0), ([3.0, 1.0, 0.5], 2, 1),  # r + 1 terms, as above
    ([1.0, 0.9, 0.8, 0.7], 2, 0), ([5.0, 1.0, 0.6, 0.3], 2, 1),  # r + 2 terms
    ([2.0, 1.5, 1.0, 0.5, 0.25], 2, 0), ([1.0, 0.5, 0.0, 0.0], 1, 0),  # r + 3 terms, zeros
])
def test_sampling_reduction_is_exactly_unbiased_and_optimal(sigma, r, k):
    # Systematic sampling is piecewise constant in its uniform offset u: averaging over the midpoints of
    # the pieces, weighted by their lengths, is the exact expectation (float64 rounding only).
    s = torch.tensor([sigma], dtype=torch.float64)
    rest = s[0, k:]
    pi = torch.zeros_like(s[0])
    pi[k:] = (r - k) * rest / rest.sum()
    cuts = torch.cat([torch.tensor([0.0, 1.0], dtype=torch.float64), torch.frac(pi.cumsum(0))]).unique().sort().values
    mids, weights = (cuts[1:] + cuts[:-1]) / 2, cuts[1:] - cuts[:-1]
    T = _sampling_factor(s.expand(len(mids), -1), r, mids)
    K = T @ T.mT
    assert T.shape == (len(mids), len(sigma), r)
    mean = (weights[:, None, None] * K).sum(0)
    torch.testing.assert_close(mean, torch.diag(s[0]), rtol=0, atol=1e-12)
    var = (weights * ((K - torch.diag(s[0])) ** 2).sum((1, 2))).sum()
    torch.testing.assert_close(var, rest.sum() ** 2 / (r - k) - (rest**2).sum(), rtol=1e-10, atol=1e-12)


def test_public_reduction_dispatches_and_checks_input():
    gen = torch.Generator().manual_seed(0)
    for K in (3, 4):
        T = optimal_rank_reduction(torch.rand(5, K, generator=gen, dtype=torch.float64).sort(1, descending=True).values,
                                   2, gen)
        assert T.shape == (5, K, 2) and torch.isfinite(T).all()
    with pytest.raises(ValueError, match="K > r"):
        optimal_rank_reduction(torch.ones(1, 2), 2)
    with pytest.raises(ValueError, match="r must be"):
        optimal_rank_reduction(torch.ones(1, 2), 0)
