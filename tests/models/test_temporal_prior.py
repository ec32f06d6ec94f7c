"""TemporalGPPrior: densities vs scipy, gradients vs finite differences, timescale recovery, the wrap."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.optimize import minimize_scalar
from scipy.special import logsumexp
from scipy.stats import multivariate_normal, norm

from neurolatent.manifolds import get_manifold
from neurolatent.models._temporal_prior import TemporalGPPrior, wrapped_normal_log_prob

F64 = torch.float64


def irregular_times(n, rng):
    return np.cumsum(rng.uniform(0.1, 1.5, size=n))


def prior(spec, t, tau, var=None):
    p = TemporalGPPrior(get_manifold(spec), torch.as_tensor(t, dtype=F64),
                        init_timescale=torch.as_tensor(tau, dtype=F64), learn_variance=var is not None)
    if var is not None:
        with torch.no_grad():
            p.raw_log_variance.copy_(torch.log(torch.as_tensor(var, dtype=F64)))
    return p


def ou_cov(t, tau, var):
    return var * np.exp(-np.abs(t[:, None] - t[None, :]) / tau)


def test_ou_path_density_matches_scipy_multivariate_normal(rng):
    t = irregular_times(12, rng)
    taus, variances = [1.3, 0.4], [2.0, 0.5]
    p = prior("R2", t, taus, variances)
    x = rng.normal(size=(3, 12, 2))  # three paths at once
    ref = sum(multivariate_normal(np.zeros(12), ou_cov(t, tau, v)).logpdf(x[..., j])
              for j, (tau, v) in enumerate(zip(taus, variances)))
    got = p.log_prob(torch.as_tensor(x)).detach().numpy()
    np.testing.assert_allclose(got, ref, rtol=1e-10)  # float64 Markov factorisation vs dense Cholesky


def test_markov_marginal_at_held_out_times(rng):
    """at_times(subset) is the exact marginal of the process at the subset (Markov property)."""
    t = irregular_times(20, rng)
    p = prior("R1", t, 2.0)
    sub = np.sort(rng.choice(20, size=7, replace=False))
    q = p.at_times(torch.as_tensor(t[sub], dtype=F64))
    assert q.raw_log_timescale is p.raw_log_timescale  # shared parameters, not a copy
    x = rng.normal(size=7)
    ref = multivariate_normal(np.zeros(7), ou_cov(t, 2.0, 1.0)[np.ix_(sub, sub)]).logpdf(x)
    np.testing.assert_allclose(float(q.log_prob(torch.as_tensor(x)[:, None]).detach()), ref, rtol=1e-10)


@pytest.mark.parametrize("var", [1e-4, 0.3, 2.0, 6.2499, 6.25, 40.0])
def test_wrapped_normal_matches_image_sum(var):
    d = torch.linspace(-9.0, 9.0, 37, dtype=F64)
    got = wrapped_normal_log_prob(d, torch.tensor(var, dtype=F64)).numpy()
    ref = logsumexp([norm.logpdf(d.numpy() + 2 * np.pi * k, scale=np.sqrt(var)) for k in range(-60, 61)], axis=0)
    np.testing.assert_allclose(got, ref, rtol=1e-11, atol=1e-12)  # both branches exact in float64


def test_wrapped_normal_mixed_branches_values_and_gradients():
    d = torch.linspace(-9.0, 9.0, 8, dtype=F64)[:, None]
    var = torch.tensor([0.01, 0.8, 6.0, 6.5, 30.0], dtype=F64).requires_grad_(True)  # both sides of 2.5^2
    got = wrapped_normal_log_prob(d, var)
    ref = logsumexp([norm.logpdf(d.numpy() + 2 * np.pi * k, scale=np.sqrt(var.detach().numpy()))
                     for k in range(-60, 61)], axis=0)
    np.testing.assert_allclose(got.detach().numpy(), ref, rtol=1e-11, atol=1e-12)
    # central differences in float64 (eps 1e-6): error ~1e-9
    assert torch.autograd.gradcheck(lambda v: wrapped_normal_log_prob(d, v), (var,), eps=1e-6, atol=1e-6)


def test_circle_path_density_matches_scipy(rng):
    t = irregular_times(6, rng)
    tau = 3.0
    p = prior("T1", t, tau)
    th = rng.uniform(-np.pi, np.pi, size=6)
    steps = [np.log(sum(norm.pdf(th[i] - th[i - 1] + 2 * np.pi * k, scale=np.sqrt(2 * (t[i] - t[i - 1]) / tau))
                        for k in range(-30, 31))) for i in range(1, 6)]
    ref = -np.log(2 * np.pi) + sum(steps)
    np.testing.assert_allclose(float(p.log_prob(torch.as_tensor(th)[:, None]).detach()), ref, rtol=1e-11)


def test_log_prob_terms_sum_to_path_density_on_products(rng):
    t = irregular_times(9, rng)
    p = prior("T1xR1xS2", t, [2.0, 5.0, 3.0])
    path = p.sample(generator=torch.Generator().manual_seed(1))
    idx = torch.arange(9)
    g_t = path.unsqueeze(0).expand(4, 9, -1)  # (K, B, amb)
    g_prev = path[(idx - 1).clamp_min(0)].unsqueeze(0).expand(4, 9, -1)
    terms = p.log_prob_terms(g_t, g_prev, idx)
    assert terms.shape == (4, 9)
    torch.testing.assert_close(terms.sum(-1), p.log_prob(path).expand(4), rtol=1e-12, atol=1e-12)
    # a minibatch of bins gives the same per-bin terms
    sub = torch.tensor([7, 0, 3])
    torch.testing.assert_close(p.log_prob_terms(g_t[:, sub], g_prev[:, sub], sub), terms[:, sub])


@pytest.mark.parametrize("spec", ["R1", "T1xR1", "S2", "T2"])
def test_gradient_wrt_timescale_matches_finite_differences(spec, rng):
    t = torch.as_tensor(irregular_times(15, rng), dtype=F64)
    p = TemporalGPPrior(get_manifold(spec), t, init_timescale=2.0, learn_variance=True)
    path = p.sample(generator=torch.Generator().manual_seed(2))
    params = [p.raw_log_timescale] + ([p.raw_log_variance] if p.raw_log_variance.numel() else [])
    grads = torch.autograd.grad(p.log_prob(path), params)
    h = 1e-6
    for param, grad in zip(params, grads):
        for i in range(param.numel()):
            with torch.no_grad():
                param.view(-1)[i] += h
                up = float(p.log_prob(path))
                param.view(-1)[i] -= 2 * h
                down = float(p.log_prob(path))
                param.view(-1)[i] += h
            # central differences in float64: truncation O(h^2) + round-off O(1e-16 |lp| / h) ~ 1e-8
            assert abs((up - down) / (2 * h) - float(grad.view(-1)[i])) < 1e-6 * (1 + abs(float(grad.view(-1)[i])))


def _simulate_ou(rng, n, tau, var=1.0):
    a = math.exp(-1.0 / tau)
    x = np.empty(n)
    x[0] = rng.normal(scale=math.sqrt(var))
    z = rng.normal(scale=math.sqrt(var * (1 - a * a)), size=n)
    for i in range(1, n):
        x[i] = a * x[i - 1] + z[i]
    return x


def _mle_timescale(spec, path, n):
    p = TemporalGPPrior(get_manifold(spec), torch.arange(float(n), dtype=F64))
    x = torch.as_tensor(path, dtype=F64).reshape(n, -1)

    def nll(log_tau):
        with torch.no_grad():
            p.raw_log_timescale.fill_(log_tau)
            return -float(p.log_prob(x))

    return math.exp(minimize_scalar(nll, bounds=(0.0, 6.0), method="bounded", options={"xatol": 1e-6}).x)


def test_timescale_recovered_from_simulated_ou_path(rng):
    tau, n = 8.0, 10_000
    est = _mle_timescale("R1", _simulate_ou(rng, n, tau), n)
    # MLE sd: sd(a_hat) = sqrt((1 - a^2) / n) = 0.0047 and d tau / d a = tau^2 / a = 72.5, so
    # sd(tau_hat) ~ 0.34 (4.3%); 15% is ~3.5 sd
    assert abs(est - tau) / tau < 0.15, est


def test_timescale_recovered_from_simulated_circular_brownian_motion(rng):
    tau, n = 8.0, 10_000
    unwrapped = rng.uniform(-np.pi, np.pi) + np.cumsum(rng.normal(scale=math.sqrt(2 / tau), size=n))
    theta = np.remainder(unwrapped + np.pi, 2 * np.pi) - np.pi  # the path crosses the wrap many times
    assert np.abs(np.diff(theta)).max() > np.pi  # it really does
    est = _mle_timescale("T1", theta, n)
    # increments are iid N(0, 2/tau): sd of the variance MLE is sqrt(2/n) = 1.4%; 6% is > 4 sd
    assert abs(est - tau) / tau < 0.06, est


def test_circular_autocorrelation_of_samples_is_the_ou_correlation():
    """The timescale means the same on a ring as on a line: E cos(theta_t - theta_s) = exp(-|t-s|/tau)."""
    n, tau = 20_000, 5.0
    p = TemporalGPPrior(get_manifold("T1xR1"), torch.arange(float(n), dtype=F64), init_timescale=tau)
    path = p.sample(generator=torch.Generator().manual_seed(3)).numpy()
    for lag in (1, 5, 10):
        circ = np.mean(np.cos(path[lag:, 0] - path[:-lag, 0]))
        lin = np.mean(path[lag:, 1] * path[:-lag, 1])
        # 20000 correlated samples: sd of the estimates ~ sqrt(2 tau / n) ~ 0.03; 0.1 is > 3 sd
        assert abs(circ - math.exp(-lag / tau)) < 0.1 and abs(lin - math.exp(-lag / tau)) < 0.1, (lag, circ, lin)


def test_behaviour_across_the_wrap_on_t1():
    t = torch.arange(5.0, dtype=F64)
    p = TemporalGPPrior(get_manifold("T1"), t, init_timescale=50.0)  # step sd 0.2 rad
    eps = 0.05
    crossing = torch.tensor([math.pi - 3 * eps, math.pi - eps, -math.pi + eps, -math.pi + 3 * eps,
                             -math.pi + 5 * eps], dtype=F64)[:, None]
    # rotation invariance: the same path turned by pi does not cross the wrap and has the same density
    turned = torch.remainder(crossing + math.pi + math.pi, 2 * math.pi) - math.pi
    assert torch.abs(torch.diff(turned[:, 0])).max() < 1.0  # no jump after turning
    torch.testing.assert_close(p.log_prob(crossing), p.log_prob(turned), rtol=1e-12, atol=1e-12)
    # and it equals the density of a smooth path of steps 2 eps on the line (wrapping mass negligible)
    s = math.sqrt(2 / 50.0)
    ref = -math.log(2 * math.pi) + 4 * norm.logpdf(2 * eps, scale=s)
    assert abs(float(p.log_prob(crossing).detach()) - ref) < 1e-10
    # the gradient w.r.t. a point is continuous as it moves across the wrap
    grads = []
    for x in (math.pi - 1e-7, -math.pi + 1e-7):
        path = crossing.clone()
        path[2, 0] = x
        path.requires_grad_(True)
        (g,) = torch.autograd.grad(p.log_prob(path), path)
        grads.append(float(g[2, 0]))
    assert abs(grads[0] - grads[1]) < 1e-4 * abs(grads[0]), grads  # O(1e-7) move, smooth density


def test_bad_time_and_shapes_raise_clear_errors():
    m = get_manifold("T1")
    with pytest.raises(ValueError, match="strictly increasing"):
        TemporalGPPrior(m, torch.tensor([0.0, 1.0, 1.0], dtype=F64))
    with pytest.raises(ValueError, match="1-d floating-point"):
        TemporalGPPrior(m, torch.arange(4))
    p = TemporalGPPrior(m, torch.arange(4.0, dtype=F64))
    with pytest.raises(ValueError, match="at_times"):
        p.log_prob(torch.zeros(5, 1, dtype=F64))
    with pytest.raises(ValueError, match="init_timescale must be positive"):
        TemporalGPPrior(m, torch.arange(4.0, dtype=F64), init_timescale=-1.0)


def test_generic_branch_on_s1_matches_the_circle_branch(rng):
    """S^1 (unit vectors, handled by the generic geodesic-random-walk branch that any user manifold
    takes) and T1 (angles, wrapped-normal branch) are the same circle: same path density."""
    t = irregular_times(8, rng)
    th = rng.uniform(-np.pi, np.pi, size=8)
    on_t1 = prior("T1", t, 1.7).log_prob(torch.as_tensor(th)[:, None])
    xy = torch.as_tensor(np.stack([np.cos(th), np.sin(th)], -1))
    on_s1 = prior("S1", t, 1.7).log_prob(xy)
    # the Lie Gaussian keeps the manifold's default windings: exact to round-off at these step sizes
    torch.testing.assert_close(on_s1, on_t1, rtol=1e-10, atol=1e-10)
