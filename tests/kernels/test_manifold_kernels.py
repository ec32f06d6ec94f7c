"""ManifoldRBFKernel / ManifoldLinearKernel: explicit formulas, PSD, batching, gradients."""
from __future__ import annotations

import gpytorch
import numpy as np
import pytest
import torch

from neurolatent.kernels import ManifoldLinearKernel, ManifoldRBFKernel
from neurolatent.manifolds import get_manifold

SPECS = ["R1", "R2", "T1", "T2", "S2", "S3", "SO3", "T1xR1"]
F64 = torch.float64


def points(spec, n, seed):
    m = get_manifold(spec)
    gen = torch.Generator().manual_seed(seed)
    return m.random_uniform(n, generator=gen) if m.has_uniform else m.random_normal(n, generator=gen)


def explicit_rbf(spec, x, y, ell):
    """Loops over pairs with the contract's closed forms (independent of pairwise_sq_dist)."""
    out = np.empty((len(x), len(y)))
    for i, a in enumerate(x):
        for j, b in enumerate(y):
            if spec.startswith("R"):
                d2 = np.sum((a - b) ** 2)
            elif spec == "SO3":
                d2 = 4 * (1 - np.dot(a, b) ** 2)
            elif spec.startswith("S"):
                d2 = 2 * (1 - np.dot(a, b))
            elif spec == "T1xR1":
                d2 = 2 * (1 - np.cos(a[0] - b[0])) + (a[1] - b[1]) ** 2
            else:
                d2 = np.sum(2 * (1 - np.cos(a - b)))
            out[i, j] = np.exp(-d2 / (2 * ell ** 2))
    return out


@pytest.mark.parametrize("spec", SPECS)
def test_rbf_matches_explicit_formula_and_is_psd(spec, seed):
    x, y = points(spec, 25, seed), points(spec, 15, seed + 1)
    k = ManifoldRBFKernel(spec).double()
    k.lengthscale = torch.tensor(0.7, dtype=F64)
    ell = float(k.lengthscale.detach())  # what the softplus constraint stores (0.7 to round-off)
    got = k(x, y).to_dense().detach().numpy()
    np.testing.assert_allclose(got, explicit_rbf(spec, x.numpy(), y.numpy(), ell), atol=1e-12)  # round-off
    kxx = k(x, x).to_dense().detach()
    assert torch.linalg.eigvalsh(kxx).min() > -1e-10  # PSD up to round-off
    np.testing.assert_allclose(k(x, x, diag=True).detach().numpy(), np.ones(25), atol=1e-12)


@pytest.mark.parametrize("spec", ["T1", "S2", "SO3"])
def test_rbf_batch_lengthscales(spec, seed):
    x = points(spec, 10, seed)
    k = ManifoldRBFKernel(spec, batch_shape=torch.Size([3])).double()
    k.lengthscale = torch.tensor([0.3, 1.0, 2.0], dtype=F64).view(3, 1, 1)
    kxx = k(x, x).to_dense().detach()
    assert kxx.shape == (3, 10, 10)
    for b, ell in enumerate([0.3, 1.0, 2.0]):
        np.testing.assert_allclose(kxx[b].numpy(), explicit_rbf(spec, x.numpy(), x.numpy(), ell), atol=1e-12)
    assert k(x, x, diag=True).shape == (3, 10)
    # a batch of inputs per kernel batch element
    xb = torch.stack([x, x.flip(0), x])
    assert k(xb, xb).to_dense().shape == (3, 10, 10)
    # with a ScaleKernel and in a gpytorch MultivariateNormal
    sk = gpytorch.kernels.ScaleKernel(k).double()
    mvn = gpytorch.distributions.MultivariateNormal(torch.zeros(3, 10, dtype=F64), sk(x))
    assert mvn.log_prob(torch.zeros(3, 10, dtype=F64)).shape == (3,)


@pytest.mark.parametrize("spec", ["T1", "S2", "S3", "SO3", "R2"])
def test_rbf_gradients_finite_including_coincident_points(spec, seed):
    x = points(spec, 8, seed)
    x = torch.cat([x, x[:2]]).clone().requires_grad_(True)  # repeated points: zero distances
    k = ManifoldRBFKernel(spec).double()
    out = k(x, x).to_dense().sum()
    gx, gl = torch.autograd.grad(out, (x, k.raw_lengthscale))
    assert torch.isfinite(gx).all() and torch.isfinite(gl).all()
    # finite-difference check of the lengthscale gradient (central differences, h = 1e-6)
    f = lambda r: ManifoldRBFKernel(spec).double().initialize(raw_lengthscale=r)(x.detach(), x.detach()).to_dense().sum()
    r0 = k.raw_lengthscale.detach()
    with torch.no_grad():
        fd = (f(r0 + 1e-6) - f(r0 - 1e-6)) / 2e-6
    assert abs(float(fd) - float(gl.sum().detach())) < 1e-6 * max(1.0, abs(float(fd)))


def test_rbf_rejects_ard():
    with pytest.raises(ValueError, match="ard_num_dims"):
        ManifoldRBFKernel("T2", ard_num_dims=2)


@pytest.mark.parametrize("spec", SPECS)
def test_linear_kernel_features_and_psd(spec, seed):
    x, y = points(spec, 12, seed), points(spec, 7, seed + 1)
    k = ManifoldLinearKernel(spec).double()
    got = k(x, y).to_dense().detach().numpy()
    xn, yn = x.numpy(), y.numpy()
    if spec in ("T1", "T2"):
        ref = np.cos(xn[:, None, :] - yn[None, :, :]).sum(-1)  # (cos, sin) features
    elif spec == "SO3":
        ref = 2 * (xn @ yn.T) ** 2
    elif spec == "T1xR1":
        ref = np.cos(xn[:, None, 0] - yn[None, :, 0]) + xn[:, None, 1] * yn[None, :, 1]
    else:
        ref = xn @ yn.T
    np.testing.assert_allclose(got, ref, atol=1e-12)
    assert torch.linalg.eigvalsh(k(x, x).to_dense().detach()).min() > -1e-10
    np.testing.assert_allclose(k(x, x, diag=True).detach().numpy(), np.diag(k(x, x).to_dense().detach().numpy()), atol=1e-12)
    kb = ManifoldLinearKernel(spec, batch_shape=torch.Size([4])).double()
    assert kb(x, y).to_dense().shape == (4, 12, 7)
