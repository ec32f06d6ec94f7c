"""The speed options of the mGPLVM fit: float32 against float64, and fewer samples after the burn-in."""
import copy

import pytest
import torch

from neurolatent.datasets.synthetic_manifolds import make_manifold_recording
from neurolatent.models import MGPLVM


@pytest.fixture(scope="module")
def fitted():
    ds = make_manifold_recording("T1", n_neurons=12, n_time=80, noise=0.1, seed=3)
    m = MGPLVM("T1", seed=0, n_inducing=10).fit(ds["Y"], max_steps=60, progress=False, early_stopping=False)
    return m


def _ell_and_grads(m, g):
    """Expected log-likelihood at latent samples g and its gradient for every tuning-curve parameter."""
    m.zero_grad(set_to_none=True)
    mean, var = m._marginals(g)
    ell = m.likelihood.expected_log_prob(m._Y, mean, var).sum((-1, -2)).mean(0)
    ell.backward()
    return ell.detach(), mean.detach(), var.detach(), {n: p.grad.detach().double() for n, p in m.named_parameters()
                                                       if p.grad is not None}


def test_float32_matches_float64_at_the_same_samples(fitted):
    m64 = fitted
    m32 = copy.deepcopy(m64).float()
    g = m64.latent.rsample(4, torch.arange(m64.n_time), torch.Generator().manual_seed(1))[0].detach()
    e64, mu64, v64, gr64 = _ell_and_grads(m64, g)
    e32, mu32, v32, gr32 = _ell_and_grads(m32, g.float())
    assert e32.dtype == torch.float32
    # float32 unit round-off is 6e-8; the means are sums of M = 10 terms of size <~ 1 and the ELL a
    # sum of 4 x 80 x 12 terms of size ~ |ELL| / 4000, so errors of a few 1e-6 (relative) are
    # round-off; 1e-4 leaves room for the cancellation in the variance k(x, x) + a^T Q a
    # (Q ~ K_zz^{-1}, condition number ~1e5 here), which makes the variance's *relative* error
    # large where it is tiny but never its absolute error next to the noise variance
    torch.testing.assert_close(mu32.double(), mu64, rtol=0, atol=1e-4 * float(mu64.abs().max()))
    noise = float(m64.likelihood.noise_var.detach().min())
    assert float((v32.double() - v64).abs().max()) < 1e-3 * noise
    assert abs(float(e32) - float(e64)) < 1e-5 * abs(float(e64))
    # gradients: the same round-off, divided by the conditioning of the whitened q(u) (1e-2 of
    # each parameter's largest gradient; the noise of the 5-sample gradient estimate Adam sees is
    # larger than that)
    assert gr32.keys() == gr64.keys()
    for name, ref in gr64.items():
        scale = float(ref.abs().max()) + 1e-12
        assert float((gr32[name] - ref).abs().max()) / scale < 1e-2, name


def test_float32_kl_and_latent_terms_match_float64(fitted):
    m64 = fitted
    m32 = copy.deepcopy(m64).float()
    idx = torch.arange(m64.n_time)
    g = m64.latent.rsample(4, idx, torch.Generator().manual_seed(1))[0].detach()
    with torch.no_grad():
        kl64, kl32 = float(m64._kl_u()), float(m32._kl_u())
        lq64 = m64.latent.distribution(idx).log_prob(g)
        lq32 = m32.latent.distribution(idx).log_prob(g.float())
    # KL: sums of N M^2 = 1200 squares and N M log-diagonals of size ~1 (float32 round-off ~1e-7
    # each, relative); log q(g): a log-sum-exp over the wrapped windings per point, O(1) each
    assert abs(kl32 - kl64) < 1e-5 * abs(kl64) + 1e-4
    torch.testing.assert_close(lq32.double(), lq64, rtol=1e-5, atol=1e-4)


def test_n_mc_after_burnin_sets_the_samples_per_step(fitted, monkeypatch):
    ds = make_manifold_recording("T1", n_neurons=6, n_time=30, noise=0.1, seed=0)
    m = MGPLVM("T1", seed=0, n_inducing=6)
    seen = []
    orig = MGPLVM._elbo_parts

    def spy(self, Y, idx, n_mc, gen, *a, **k):
        seen.append(int(n_mc))
        return orig(self, Y, idx, n_mc, gen, *a, **k)

    monkeypatch.setattr(MGPLVM, "_elbo_parts", spy)
    m.fit(ds["Y"], max_steps=6, burnin=3, n_mc=4, n_mc_after_burnin=2, progress=False, early_stopping=False)
    assert seen == [4, 4, 4, 2, 2, 2]


def test_n_mc_after_burnin_default_is_n_mc():
    ds = make_manifold_recording("T1", n_neurons=6, n_time=30, noise=0.1, seed=0)
    kw = dict(max_steps=8, burnin=3, n_mc=3, progress=False, early_stopping=False)
    a = MGPLVM("T1", seed=0, n_inducing=6).fit(ds["Y"], **kw)
    b = MGPLVM("T1", seed=0, n_inducing=6).fit(ds["Y"], n_mc_after_burnin=3, **kw)
    assert a.history.elbo == b.history.elbo  # bit-identical: same samples, same steps
    with pytest.raises(ValueError, match="n_mc_after_burnin"):
        MGPLVM("T1", seed=0).fit(ds["Y"], max_steps=2, n_mc_after_burnin=0, progress=False)


def test_default_dtype_is_float64_on_cpu():
    assert MGPLVM("T1").dtype_ == torch.float64
    assert MGPLVM("T1", dtype=torch.float32).dtype_ == torch.float32


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_default_dtype_is_float32_on_cuda():
    assert MGPLVM("T1", device="cuda").dtype_ == torch.float32
    assert MGPLVM("T1", device="cuda", dtype=torch.float64).dtype_ == torch.float64


def test_float32_moments_in_a_float64_model_match_float64(fitted):
    # the fused moments (the pass over the (K, N, M, B) tensor) in float32, everything else float64
    m = fitted
    g = m.latent.rsample(4, torch.arange(m.n_time), torch.Generator().manual_seed(2))[0].detach()
    e64, mu64, v64, gr64 = _ell_and_grads(m, g)
    m._moments_dtype = torch.float32
    try:
        e32, mu32, v32, gr32 = _ell_and_grads(m, g)
    finally:
        m._moments_dtype = None
    assert e32.dtype == torch.float64 and mu32.dtype == torch.float64
    # float32 round-off (6e-8) in sums of M = 10 terms of size <~ 1: 1e-5 of the largest mean; the
    # variance k(x,x) + a^T Q a cancels (Q ~ K_zz^{-1}), so its error is judged next to the noise
    # variance it is added to in the likelihood (as in the float32 test above)
    torch.testing.assert_close(mu32, mu64, rtol=0, atol=1e-5 * float(mu64.abs().max()))
    noise = float(m.likelihood.noise_var.detach().min())
    assert float((v32 - v64).abs().max()) < 1e-3 * noise
    assert abs(float(e32 - e64)) < 1e-5 * abs(float(e64))
    # gradients: the round-off divided by the conditioning of the whitened q(u) (q_sqrt's is ~5e-3 of
    # its largest gradient), as in the float32 test above: < 1e-2 of each parameter's largest
    # gradient, and < 1/5 of how much the gradient changes between two draws of the 4 latent samples
    # (the Monte-Carlo noise every step of Adam sees anyway)
    g2 = m.latent.rsample(4, torch.arange(m.n_time), torch.Generator().manual_seed(3))[0].detach()
    gr_other = _ell_and_grads(m, g2)[3]
    for name, g64 in gr64.items():
        err = float((gr32[name] - g64).abs().max())
        assert err < 1e-2 * (float(g64.abs().max()) + 1e-12), name
        assert err < 0.2 * float((gr_other[name] - g64).abs().max()), name
