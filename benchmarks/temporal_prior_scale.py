"""Cost of the temporal GP prior's latent term versus a dense GP prior, up to T = 10^5 bins.

The question this answers: the mGPLVM's temporal prior (``prior="temporal_gp"``,
:class:`neurolatent.models._temporal_prior.TemporalGPPrior`) is evaluated as a first-order
Markov chain (Ornstein-Uhlenbeck on Euclidean coordinates, circular Brownian motion on angles),
O(T) per evaluation; a dense GP prior over the same path costs a T x T Cholesky, O(T^3). How
do the two scale, and what does one evaluation cost for a long recording?

Protocol: one CPU thread, float64, latent space T1xR1, K = 5 Monte-Carlo samples of the path
(what one fit step evaluates): ``log_prob_terms`` on all T bins plus its backward pass, versus
``torch.distributions.MultivariateNormal`` with the OU covariance (Cholesky + solve + backward)
on one coordinate. Median of 5 repeats.

Results (2-core machine with a load average of ~9 from other jobs, so read the ratios, measured
side by side in one run; 2026-12-06):

    T        markov (ms)   dense (ms)   dense / markov
    500          1.7          66.4          39
    2000         9.8        3133.8         320
    4000        29.8       25207.7         845
    100000     615.5            -            -

The Markov form grows linearly (T = 10^5 costs what ~20 steps of a 500-bin fit cost) and a fit
with time minibatches evaluates only the batch's bins. Its extra memory for T = 10^5 is a few
(K, T, 7) tensors (the wrapped-normal images), ~0.1 GB; the dense form would need an 80 GB
covariance.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/temporal_prior_scale.py
"""
from __future__ import annotations

import time

import torch

from neurolatent.manifolds import get_manifold
from neurolatent.models._temporal_prior import TemporalGPPrior


def _median_time(fn, repeats=5):
    out = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return sorted(out)[len(out) // 2]


def markov_cost(T: int, K: int = 5) -> float:
    prior = TemporalGPPrior(get_manifold("T1xR1"), torch.arange(float(T), dtype=torch.float64))
    path = prior.sample(generator=torch.Generator().manual_seed(0))
    g = (path + 0.01 * torch.randn(K, T, 2, dtype=torch.float64)).requires_grad_(True)
    idx = torch.arange(T)
    g_prev = g.detach()[:, (idx - 1).clamp_min(0)]

    def run():
        lp = prior.log_prob_terms(g, g_prev, idx).sum()
        torch.autograd.grad(lp, [g, prior.raw_log_timescale])
    return _median_time(run)


def dense_cost(T: int, K: int = 5) -> float:
    t = torch.arange(float(T), dtype=torch.float64)
    log_tau = torch.tensor(2.3, dtype=torch.float64, requires_grad=True)
    x = torch.randn(K, T, dtype=torch.float64)

    def run():
        cov = torch.exp(-torch.abs(t[:, None] - t[None]) / torch.exp(log_tau))
        lp = torch.distributions.MultivariateNormal(torch.zeros(T, dtype=torch.float64), cov).log_prob(x).sum()
        torch.autograd.grad(lp, [log_tau])
    return _median_time(run)


def main() -> None:
    torch.set_num_threads(1)
    print(f"{'T':>8} {'markov (ms)':>13} {'dense (ms)':>12} {'dense / markov':>15}")
    for T in (500, 2000, 4000):
        m, d = markov_cost(T), dense_cost(T)
        print(f"{T:>8} {1e3 * m:13.1f} {1e3 * d:12.1f} {d / m:15.1f}")
    print(f"{100_000:>8} {1e3 * markov_cost(100_000):13.1f} {'-':>12} {'-':>15}")


if __name__ == "__main__":
    main()
