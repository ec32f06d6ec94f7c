"""n_windings="auto": the truncated wrapped density stays within its tolerance of the full lattice sum."""
from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.special
import torch

from neurolatent.distributions import ReparameterisedLieGaussian
from neurolatent.manifolds import Torus, get_manifold

F64 = torch.float64


def lattice_log_density(x, mu, cov, kmax=12):
    """log of the wrapped normal on T^d summed over k in {-kmax..kmax}^d (numpy/scipy, independent)."""
    x, mu, cov = np.asarray(x, float), np.asarray(mu, float), np.asarray(cov, float)
    d = mu.shape[-1]
    ks = np.stack(np.meshgrid(*[np.arange(-kmax, kmax + 1)] * d, indexing="ij"), -1).reshape(-1, d)
    v = (x - mu + np.pi) % (2 * np.pi) - np.pi  # principal branch, (P, d)
    w = v[:, None, :] + 2 * np.pi * ks[None]  # (P, K, d)
    prec = np.linalg.inv(cov)
    quad = np.einsum("pki,ij,pkj->pk", w, prec, w)
    return scipy.special.logsumexp(-0.5 * quad, axis=1) - 0.5 * np.linalg.slogdet(2 * np.pi * cov)[1]


@pytest.mark.parametrize("sigma", [0.02, 0.3, 0.8, 1.5, 2.5])
def test_t1_auto_windings_within_tolerance_of_full_sum(sigma):
    # points: samples of q (what the ELBO evaluates) plus a grid reaching the antipode, where the
    # k = +-1 terms equal the k = 0 term and no truncation to one term is allowed
    tol = 1e-12
    q = ReparameterisedLieGaussian("T1", torch.tensor([0.7], dtype=F64), torch.tensor([[sigma]], dtype=F64),
                                   n_windings="auto", winding_tol=tol)
    torch.manual_seed(0)
    x = torch.cat([q.rsample((400,)), torch.linspace(-math.pi, math.pi, 201, dtype=F64)[:, None]])
    ref = lattice_log_density(x.numpy(), [0.7], [[sigma ** 2]], kmax=30)
    got = q.log_prob(x).numpy()
    # the truncation error is in [0, tol] by construction (Torus.windings_needed), plus float64
    # round-off: ~20 ulps of |log q| (up to ~9e3 far from a std-0.02 mean; the n = 8 sum is off by as
    # much) and 1e-13 for logsumexp
    assert np.all(np.abs(got - ref) <= tol + 1e-13 + 4e-15 * np.abs(ref))


def test_t1_auto_uses_no_winding_for_narrow_samples_and_some_at_the_antipode():
    m = Torus(1)
    # samples within 5 std of a std-0.3 Gaussian: D_1 = 2 pi / 0.3 = 20.9 > 2 * 5, term e^{-114}
    assert m.windings_needed(5.0, 0.3, 1e-12) == 0
    # the antipode of a std-0.3 Gaussian (|z0| = pi / 0.3): the k = -1 preimage is as close as k = 0
    assert m.windings_needed(math.pi / 0.3, 0.3, 1e-12) >= 1
    # a wide Gaussian needs several windings, and no finite number when the bound cannot be met
    assert m.windings_needed(3.0, 2.0, 1e-12) >= 2
    assert m.windings_needed(float("inf"), 1.0, 1e-12) == 3 * m.default_n_windings


def test_t2_correlated_auto_windings_within_tolerance_of_full_sum():
    tol = 1e-12
    for L in ([[0.4, 0.0], [0.3, 0.2]], [[1.2, 0.0], [-0.6, 0.9]]):
        Lt = torch.tensor(L, dtype=F64)
        mu = torch.tensor([2.5, -1.0], dtype=F64)
        q = ReparameterisedLieGaussian("T2", mu, Lt, n_windings="auto", winding_tol=tol)
        torch.manual_seed(1)
        x = torch.cat([q.rsample((300,)), Torus(2).random_uniform(100, dtype=F64)])
        ref = lattice_log_density(x.numpy(), mu.numpy(), (Lt @ Lt.T).numpy(), kmax=8)
        # same bound as on T1 (the Frobenius norm bounds the largest singular value)
        assert np.max(np.abs(q.log_prob(x).numpy() - ref)) <= tol + 1e-13


def test_auto_gradients_match_full_sum_and_other_manifolds_keep_default():
    sig = torch.tensor([[0.3]], dtype=F64, requires_grad=True)
    loc = torch.tensor([0.2], dtype=F64, requires_grad=True)
    x = torch.tensor([[0.1], [0.9], [-0.4]], dtype=F64)
    grads = []
    for n in ("auto", 8):
        lp = ReparameterisedLieGaussian("T1", loc, sig, n_windings=n).log_prob(x).sum()
        grads.append(torch.autograd.grad(lp, (loc, sig)))
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)  # dropped terms weigh < e^{-100}
    e = get_manifold("R2")
    assert e.windings_needed(1.0, 1.0, 1e-12) == e.default_n_windings
    with pytest.raises(ValueError, match="n_windings"):
        ReparameterisedLieGaussian("T1", loc, sig, n_windings="all")
