"""The ELBO is a real lower bound on log p(Y): checked against quadrature and importance sampling.

Tiny Gaussian problems on the ring T1 where the exact marginal likelihood
log p(Y) = log \\int p(g) prod_n N(y_n; c_n, s_n^2 K_n(g) + sigma_n^2 I) dg (full GP, no sparsity,
hyperparameters fixed at the fitted values) is computable:
* T = 2: trapezoidal quadrature on a 256 x 256 grid of (g_1, g_2) (periodic smooth integrand, so the
  rule converges exponentially: error far below the Monte-Carlo error of the ELBO);
* T = 3: importance sampling with the variational posterior as proposal (2e5 samples).
"""
import math

import numpy as np
import pytest
import torch

from neurolatent.models import MGPLVM
from neurolatent.models._sparse_gp import kernel_dense
from neurolatent._utils import make_generator

D = torch.float64


def _log_lik_exact(model, g):
    """log p(Y | g) under the full GP, g (S, T, 1) -> (S,)."""
    Y = model._Y
    with torch.no_grad():
        K = kernel_dense(model.kernel, g.unsqueeze(1), g.unsqueeze(1))  # (S, N, T, T)
        cov = K + torch.diag_embed(model.likelihood.noise_var.view(1, -1, 1).expand(K.shape[:-1]))
        mvn = torch.distributions.MultivariateNormal(model.mean_const.view(1, -1, 1).expand(K.shape[:-1]), cov)
        return mvn.log_prob(Y.T.unsqueeze(0)).sum(-1)


def _elbo_with_se(model, chunks=40, n_mc=500):
    vals = [model.elbo(n_mc=n_mc, seed=s) for s in range(chunks)]
    return float(np.mean(vals)), float(np.std(vals, ddof=1) / math.sqrt(chunks))


def _tiny_model(T, seed, bound="svgp"):
    rng = np.random.default_rng(seed)
    th = rng.uniform(-np.pi, np.pi, T)
    Y = np.stack([np.cos(th), np.sin(th)], 1) + 0.3 * rng.standard_normal((T, 2))
    return MGPLVM("T1", seed=seed, init_scale=0.8, bound=bound).fit(Y, max_steps=60, burnin=10,
                                                                    progress=False, early_stopping=False)


@pytest.mark.parametrize("bound", ["svgp", "collapsed"])
def test_elbo_below_log_marginal_by_quadrature(bound):
    model = _tiny_model(2, 0, bound)
    G = 256
    a = torch.linspace(-math.pi, math.pi, G + 1, dtype=D)[:-1]
    g = torch.stack(torch.meshgrid(a, a, indexing="ij"), -1).reshape(-1, 2, 1)
    # uniform prior density 1/(2 pi)^2 times cell area (2 pi / G)^2 = 1 / G^2
    log_pY = float(torch.logsumexp(_log_lik_exact(model, g), 0) - 2 * math.log(G))
    elbo, se = _elbo_with_se(model)
    assert elbo <= log_pY + 3 * se, (elbo, se, log_pY)  # 3 standard errors of the MC estimate
    assert log_pY - elbo < 3.0  # and the bound is not vacuous (gap measured ~0.5-1.5 nats)


@pytest.mark.parametrize("bound", ["svgp", "collapsed"])
def test_elbo_below_importance_sampled_log_marginal(bound):
    model = _tiny_model(3, 1, bound)
    S = 200_000
    gen = make_generator(7)
    with torch.no_grad():
        idx = torch.arange(3)
        g, dist = model.latent.rsample(S, idx, gen)  # (S, 3, 1)
        logq = dist.log_prob(g).sum(-1)
        logp = model.prior.log_prob(g).sum(-1)
        logw = _log_lik_exact(model, g) + logp - logq
    m = float(torch.logsumexp(logw, 0) - math.log(S))
    w = torch.exp(logw - logw.max())
    # delta-method standard error of log(mean w)
    se_is = float(w.std() / (w.mean() * math.sqrt(S)))
    elbo, se = _elbo_with_se(model)
    assert elbo <= m + 3 * (se + se_is), (elbo, se, m, se_is)
    assert m - elbo < 4.0
