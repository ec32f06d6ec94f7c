"""Sparse-GP algebra: the fused RBF marginals against finite differences and the autograd formulas."""
import numpy as np
import pytest
import torch

from neurolatent.datasets.synthetic_manifolds import make_manifold_recording
from neurolatent.models import MGPLVM
from neurolatent.models._sparse_gp import kl_whitened, rbf_marginal_moments, svgp_marginals

F64 = torch.float64


def test_rbf_marginal_moments_gradcheck():
    gen = torch.Generator().manual_seed(0)
    K, N, M, B = 2, 3, 4, 5
    sq = (torch.rand(K, M, B, generator=gen, dtype=F64) * 3).requires_grad_()
    inv_l2 = (torch.rand(N, generator=gen, dtype=F64) + 0.5).requires_grad_()
    alpha = torch.randn(N, M, generator=gen, dtype=F64).requires_grad_()
    A = torch.randn(N, M, M, generator=gen, dtype=F64)
    Q = (A + A.transpose(-1, -2)).requires_grad_()  # symmetric, as the SVGP Q is
    # central finite differences in float64 (torch's default eps 1e-6, atol 1e-5): independent of the
    # hand-written backward
    assert torch.autograd.gradcheck(rbf_marginal_moments, (sq, inv_l2, alpha, Q))
    # forward against the plain formulas
    E = torch.exp(-0.5 * sq.unsqueeze(1) * inv_l2[:, None, None])
    mean, quad = rbf_marginal_moments(sq, inv_l2, alpha, Q)
    torch.testing.assert_close(mean, torch.einsum("nm,knmb->knb", alpha, E), rtol=1e-13, atol=1e-13)
    torch.testing.assert_close(quad, torch.einsum("knmb,nmp,knpb->knb", E, Q, E), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("neurons", [None, [1, 4, 6]])
def test_fused_marginals_match_autograd_path(neurons):
    ds = make_manifold_recording("T1xR1", n_neurons=8, n_time=40, noise=0.1, seed=1)
    m = MGPLVM("T1xR1", seed=0, n_inducing=7).fit(ds["Y"], max_steps=15, progress=False, early_stopping=False)
    g, _ = m.latent.rsample(3, torch.arange(40), torch.Generator().manual_seed(2))
    g = g.detach().requires_grad_()
    nidx = None if neurons is None else torch.tensor(neurons)
    out = {}
    for fused in (False, True):
        m.zero_grad()
        g.grad = None
        mean, var = svgp_marginals(m.kernel, m.Z, m.q_mu, m.q_sqrt, m.mean_const, g, nidx, fused=fused)
        (mean.sin().sum() + var.sqrt().sum() + kl_whitened(m.q_mu, m.q_sqrt)).backward()
        grads = {n: p.grad.clone() for n, p in m.named_parameters() if p.grad is not None}
        out[fused] = (mean.detach(), var.detach(), g.grad.clone(), grads)
    # same formulas in another order: float64 round-off, amplified by L_zz^{-1} (cond ~1e4 here)
    torch.testing.assert_close(out[True][0], out[False][0], rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(out[True][1], out[False][1], rtol=1e-9, atol=1e-10)
    torch.testing.assert_close(out[True][2], out[False][2], rtol=1e-8, atol=1e-8)
    assert out[True][3].keys() == out[False][3].keys()
    for name, ref in out[False][3].items():
        scale = float(ref.abs().max()) + 1e-12
        assert float((out[True][3][name] - ref).abs().max()) / scale < 1e-7, name


@pytest.mark.slow  # torch.compile generates and compiles C++ on first use (20 s to minutes)
def test_compiled_moments_and_fit_match_the_fused_path():
    from neurolatent.models._sparse_gp import rbf_marginal_moments_compiled

    gen = torch.Generator().manual_seed(0)
    K, N, M, B = 3, 4, 5, 7
    sq = (torch.rand(K, M, B, generator=gen, dtype=F64) * 3).requires_grad_()
    inv_l2 = (torch.rand(N, generator=gen, dtype=F64) + 0.5).requires_grad_()
    alpha = torch.randn(N, M, generator=gen, dtype=F64).requires_grad_()
    A = torch.randn(N, M, M, generator=gen, dtype=F64)
    Q = (A + A.transpose(-1, -2)).requires_grad_()
    w_mean, w_quad = torch.randn(K, N, B, generator=gen, dtype=F64), torch.randn(K, N, B, generator=gen, dtype=F64)
    out = []
    for fn in (rbf_marginal_moments, rbf_marginal_moments_compiled):
        mean, quad = fn(sq, inv_l2, alpha, Q)
        grads = torch.autograd.grad((mean * w_mean).sum() + (quad * w_quad).sum(), (sq, inv_l2, alpha, Q))
        out.append((mean, quad) + grads)
    # the same formulas summed in another order (float64, entries O(1-10)): round-off only
    for a, b in zip(*out):
        torch.testing.assert_close(b, a, rtol=1e-10, atol=1e-10)
    # the fit option: same steps, same samples, so the ELBO history agrees to round-off
    ds = make_manifold_recording("T1", n_neurons=6, n_time=40, noise=0.1, seed=0)
    kw = dict(max_steps=4, burnin=2, progress=False, early_stopping=False)
    a = MGPLVM("T1", seed=0, n_inducing=6).fit(ds["Y"], **kw)
    b = MGPLVM("T1", seed=0, n_inducing=6).fit(ds["Y"], compile_marginals=True, **kw)
    np.testing.assert_allclose(b.history.elbo, a.history.elbo, rtol=1e-9)  # round-off, grown over 4 Adam steps
    assert b._fused_marginals is True  # the option applies to that fit only
