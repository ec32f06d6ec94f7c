"""Likelihood expectations against scipy quadrature and closed forms; data validation."""
import math

import numpy as np
import pytest
import torch
from scipy import integrate, stats

from neurolatent.likelihoods import (
    GaussianLikelihood,
    NegativeBinomialLikelihood,
    PoissonLikelihood,
    gauss_hermite_expectation,
    get_likelihood,
)

D = torch.float64


def _quad_expect(fn, m, v):
    """E[fn(f)], f ~ N(m, v), by adaptive scipy quadrature (independent reference)."""
    s = math.sqrt(v)
    return integrate.quad(lambda f: fn(f) * stats.norm.pdf(f, m, s), m - 12 * s, m + 12 * s, limit=200)[0]


def test_gauss_hermite_matches_lognormal_mean(rng):
    m = torch.as_tensor(rng.normal(size=7), dtype=D)
    v = torch.as_tensor(rng.uniform(0.01, 2.0, size=7), dtype=D)
    got = gauss_hermite_expectation(torch.exp, m, v, n_points=30)
    # closed form E[e^f] = exp(m + v/2); 30 nodes are exact to ~1e-12 relative for v <= 2
    assert torch.allclose(got, torch.exp(m + v / 2), rtol=1e-10)


def test_gaussian_expected_log_prob_matches_quadrature(rng):
    lik = GaussianLikelihood(3, noise=0.7)
    y = torch.tensor([[0.3, -1.0, 2.0]], dtype=D)
    m = torch.tensor([[0.1, 0.5, 1.0]], dtype=D)
    v = torch.tensor([[0.2, 1.5, 0.01]], dtype=D)
    got = lik.expected_log_prob(y, m, v)[0]
    s2 = lik.noise_var.detach().numpy()
    for n in range(3):
        ref = _quad_expect(lambda f: stats.norm.logpdf(y[0, n].item(), f, math.sqrt(s2[n])), m[0, n].item(), v[0, n].item())
        assert got[n].item() == pytest.approx(ref, rel=1e-8)  # quadrature error ~1e-10
    # predictive density: N(y; m, v + s2) closed form equals the generic Gauss-Hermite route
    closed = lik.predictive_log_prob(y, m, v)
    generic = super(GaussianLikelihood, lik).predictive_log_prob(y, m, v, n_points=40)
    assert torch.allclose(closed, generic, atol=1e-9)


def test_poisson_expectations_match_quadrature():
    lik = PoissonLikelihood(2)
    y = torch.tensor([[0.0, 4.0]], dtype=D)
    m = torch.tensor([[0.2, 1.1]], dtype=D)
    v = torch.tensor([[0.5, 0.3]], dtype=D)
    ell = lik.expected_log_prob(y, m, v)[0]
    pred = lik.predictive_log_prob(y, m, v, n_points=40)[0]
    for n in range(2):
        yn, mn, vn = y[0, n].item(), m[0, n].item(), v[0, n].item()
        ref = _quad_expect(lambda f: stats.poisson.logpmf(yn, math.exp(f)), mn, vn)
        assert ell[n].item() == pytest.approx(ref, rel=1e-8)
        ref_pred = math.log(_quad_expect(lambda f: stats.poisson.pmf(yn, math.exp(f)), mn, vn))
        assert pred[n].item() == pytest.approx(ref_pred, rel=1e-6)  # 40 GH nodes vs adaptive quad


def test_negbinom_log_prob_and_expectation_match_scipy():
    lik = NegativeBinomialLikelihood(2, total_count=3.0, n_points=40)
    r = lik.total_count.detach().numpy()
    y = torch.tensor([[2.0, 7.0]], dtype=D)
    f = torch.tensor([[0.4, -0.3]], dtype=D)
    lp = lik.log_prob(y, f)[0]
    for n in range(2):
        p_torch = 1 / (1 + math.exp(-f[0, n].item()))  # torch "probs" = success prob
        ref = stats.nbinom.logpmf(int(y[0, n].item()), r[n], 1 - p_torch)
        assert lp[n].item() == pytest.approx(ref, rel=1e-10)
    m, v = torch.tensor([[0.4, -0.3]], dtype=D), torch.tensor([[0.8, 0.2]], dtype=D)
    ell = lik.expected_log_prob(y, m, v)[0]
    for n in range(2):
        yn = int(y[0, n].item())
        ref = _quad_expect(lambda x: stats.nbinom.logpmf(yn, r[n], 1 - 1 / (1 + math.exp(-x))), m[0, n].item(),
                           v[0, n].item())
        assert ell[n].item() == pytest.approx(ref, rel=1e-7)  # 40-node GH on a smooth integrand
    # the mean r e^f: E[y | f] of the torch parametrisation
    assert lik.predictive_mean(f, torch.zeros_like(f))[0, 0].item() == pytest.approx(r[0] * math.exp(0.4), rel=1e-12)


@pytest.mark.parametrize("name", ["poisson", "negbinom"])
def test_count_likelihoods_reject_bad_counts(name):
    lik = get_likelihood(name, 2)
    with pytest.raises(ValueError, match="negative"):
        lik.validate(np.array([[1.0, -2.0]]))
    with pytest.raises(ValueError, match="non-integer"):
        lik.validate(np.array([[1.5, 2.0]]))
    with pytest.raises(ValueError, match="NaN"):
        lik.validate(np.array([[np.nan, 2.0]]))
    lik.validate(np.array([[0.0, 3.0]]))  # valid counts pass


def test_gaussian_rejects_nan_and_unknown_name():
    with pytest.raises(ValueError, match="NaN"):
        GaussianLikelihood(2).validate(np.array([[np.nan, 0.0]]))
    with pytest.raises(ValueError, match="unknown likelihood"):
        get_likelihood("bernoulli", 2)


def test_per_neuron_subset_selects_parameters():
    lik = GaussianLikelihood(3)
    with torch.no_grad():
        lik.raw_noise.copy_(torch.tensor([0.1, 1.0, 2.0], dtype=D))
    y = torch.zeros(4, 1, dtype=D)
    full = lik.expected_log_prob(torch.zeros(4, 3, dtype=D), y.expand(4, 3), y.expand(4, 3) + 0.1)
    sub = lik.expected_log_prob(y, y, y + 0.1, neurons=torch.tensor([2]))
    assert torch.allclose(sub[:, 0], full[:, 2])
