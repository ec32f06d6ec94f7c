"""ManifoldMaternKernel and ARD lengthscales (Matérn and RBF): closed forms, PSD, gradients, batching."""
from __future__ import annotations

import gpytorch
import numpy as np
import pytest
import torch
from torch.func import functional_call
from sklearn.gaussian_process.kernels import Matern

from neurolatent.kernels import ManifoldMaternKernel, ManifoldRBFKernel
from neurolatent.kernels._distance import lengthscale_blocks
from neurolatent.manifolds import get_manifold

F64 = torch.float64
SPECS = ["R1", "R2", "T1", "T2", "S2", "S3", "SO3", "T1xR1", "S2xR1", "T2xSO3"]
NUS = [0.5, 1.5, 2.5]


def points(spec, n, seed):
    m = get_manifold(spec)
    gen = torch.Generator().manual_seed(seed)
    if m.has_uniform:
        return m.random_uniform(n, generator=gen)
    return m.random_normal(n, generator=gen)


def matern_of_r(r, nu):
    """Rasmussen & Williams (2006) eq. 4.16-4.17, float64, written out independently."""
    if nu == 0.5:
        return np.exp(-r)
    if nu == 1.5:
        return (1 + np.sqrt(3) * r) * np.exp(-np.sqrt(3) * r)
    return (1 + np.sqrt(5) * r + 5 * r ** 2 / 3) * np.exp(-np.sqrt(5) * r)


def set_ell(k, values):
    k.lengthscale = torch.as_tensor(values, dtype=F64).reshape(k.lengthscale.shape)
    return k.lengthscale.detach().numpy().reshape(-1)  # what the softplus constraint stores


@pytest.mark.parametrize("nu", NUS)
@pytest.mark.parametrize("spec", ["R1", "R3"])
def test_matern_on_euclid_matches_sklearn_with_ard(spec, nu, seed):
    x, y = points(spec, 20, seed), points(spec, 12, seed + 1)
    d = x.shape[-1]
    k = ManifoldMaternKernel(spec, nu=nu, ard="dim").double()
    ell = set_ell(k, np.linspace(0.5, 1.7, d))
    ref = Matern(length_scale=ell, nu=nu)(x.numpy(), y.numpy())
    np.testing.assert_allclose(k(x, y).to_dense().detach().numpy(), ref, atol=1e-12)  # float64 round-off


@pytest.mark.parametrize("nu", NUS)
def test_matern_on_circle_is_function_of_chord(nu, seed):
    x, y = points("T1", 30, seed), points("T1", 17, seed + 1)
    k = ManifoldMaternKernel("T1", nu=nu).double()
    (ell,) = set_ell(k, 0.9)
    chord = 2 * np.abs(np.sin((x.numpy() - y.numpy().T) / 2))  # |e^{ia} - e^{ib}|
    np.testing.assert_allclose(k(x, y).to_dense().detach().numpy(), matern_of_r(chord / ell, nu),
                               atol=1e-12)  # float64 round-off
    # invariant to the wrap: shifting a point by 2 pi changes nothing
    np.testing.assert_allclose(k(x + 2 * np.pi, y).to_dense().detach().numpy(),
                               k(x, y).to_dense().detach().numpy(), atol=1e-12)


def test_matern_on_product_per_factor_closed_form(seed):
    x, y = points("T1xR1", 15, seed), points("T1xR1", 9, seed + 1)
    k = ManifoldMaternKernel("T1xR1", nu=2.5, ard="factor").double()
    l_t, l_r = set_ell(k, [0.6, 2.0])
    a, b = x.numpy(), y.numpy()
    r2 = (2 * (1 - np.cos(a[:, :1] - b[:, :1].T))) / l_t ** 2 + (a[:, 1:] - b[:, 1:].T) ** 2 / l_r ** 2
    np.testing.assert_allclose(k(x, y).to_dense().detach().numpy(), matern_of_r(np.sqrt(r2), 2.5), atol=1e-12)


@pytest.mark.parametrize("ard", [False, "factor", "dim"])
@pytest.mark.parametrize("spec", SPECS)
def test_kernels_psd_on_every_manifold(spec, ard, seed):
    x = points(spec, 40, seed)
    n_ell = len(lengthscale_blocks(get_manifold(spec), ard)[0])
    ells = np.linspace(0.4, 3.0, n_ell)  # includes long lengthscales, where geodesic Matérn fails
    for k in [ManifoldMaternKernel(spec, nu=nu, ard=ard).double() for nu in NUS] + [
            ManifoldRBFKernel(spec, ard=ard).double()]:
        set_ell(k, ells)
        kxx = k(x, x).to_dense().detach()
        # PSD up to round-off (eigenvalues of a 40 x 40 matrix with unit diagonal: ~1e-13)
        assert torch.linalg.eigvalsh(kxx).min() > -1e-10, (spec, ard, k)
        np.testing.assert_allclose(k(x, x, diag=True).detach().numpy(), np.ones(40), atol=1e-12)
        np.testing.assert_allclose(kxx.diagonal().numpy(), np.ones(40), atol=1e-10)


@pytest.mark.parametrize("nu", [1.5, 2.5])
def test_geodesic_matern_would_not_be_psd_on_circle(nu):
    """Why the chordal distance: Matérn of the geodesic distance has negative Fourier
    coefficients on the circle (Gneiting 2013), i.e. it is not a covariance there."""
    n = 4096
    th = np.arange(n) * 2 * np.pi / n
    geo = np.minimum(th, 2 * np.pi - th)
    chord = 2 * np.abs(np.sin(th / 2))
    for ell in (2.0, 5.0):
        assert (np.fft.rfft(matern_of_r(geo / ell, nu)).real / n).min() < -1e-3  # clearly negative
        assert (np.fft.rfft(matern_of_r(chord / ell, nu)).real / n).min() > -1e-12  # round-off only


@pytest.mark.parametrize("kernel", ["matern12", "matern32", "matern52", "rbf"])
@pytest.mark.parametrize("spec", ["T1xR1", "S2", "SO3"])
def test_gradients_match_finite_differences(spec, kernel, seed):
    x, y = points(spec, 6, seed), points(spec, 5, seed + 1)  # distinct points: smooth everywhere
    nu = {"matern12": 0.5, "matern32": 1.5, "matern52": 2.5}.get(kernel)
    k = (ManifoldRBFKernel(spec, ard="dim") if nu is None else ManifoldMaternKernel(spec, nu=nu, ard="dim")).double()
    with torch.no_grad():
        k.raw_lengthscale.normal_(generator=torch.Generator().manual_seed(seed))
    # central differences in float64 with eps = 1e-6: truncation + round-off error ~1e-9
    xx = x.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a: k.forward(a, y), (xx,), eps=1e-6, atol=1e-6)
    raw = k.raw_lengthscale.detach().clone().requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda r: functional_call(k, {"raw_lengthscale": r}, (x, y)).to_dense(), (raw,), eps=1e-6, atol=1e-6)


@pytest.mark.parametrize("nu", NUS)
def test_gradients_finite_at_coincident_points(nu, seed):
    x = points("T1xR1", 6, seed)
    x = torch.cat([x, x[:2]]).clone().requires_grad_(True)  # repeated points: zero distances
    k = ManifoldMaternKernel("T1xR1", nu=nu, ard="dim").double()
    gx, gl = torch.autograd.grad(k(x, x).to_dense().sum(), (x, k.raw_lengthscale))
    assert torch.isfinite(gx).all() and torch.isfinite(gl).all()


@pytest.mark.parametrize("ard", [False, "dim"])
def test_batch_over_neurons_matches_unbatched(ard, seed):
    spec = "T2xR1"
    x = points(spec, 10, seed)
    n_ell = len(lengthscale_blocks(get_manifold(spec), ard)[0])
    k = ManifoldMaternKernel(spec, nu=1.5, ard=ard, batch_shape=torch.Size([3])).double()
    assert k.lengthscale.shape == (3, 1, n_ell)
    ells = np.linspace(0.3, 2.0, 3 * n_ell).reshape(3, 1, n_ell)
    set_ell(k, ells)
    kxx = k(x, x).to_dense().detach()
    assert kxx.shape == (3, 10, 10) and k(x, x, diag=True).shape == (3, 10)
    for b in range(3):
        k1 = ManifoldMaternKernel(spec, nu=1.5, ard=ard).double()
        set_ell(k1, ells[b])
        torch.testing.assert_close(kxx[b], k1(x, x).to_dense().detach(), rtol=0, atol=1e-12)
    # inputs with their own batch per kernel batch (what the model passes: (K, 1, B, amb))
    xb = torch.stack([x, x.flip(0), x]).unsqueeze(0).expand(2, 3, 10, x.shape[-1])
    assert k.forward(xb, xb).shape == (2, 3, 10, 10)
    sk = gpytorch.kernels.ScaleKernel(k).double()
    mvn = gpytorch.distributions.MultivariateNormal(torch.zeros(3, 10, dtype=F64), sk(x))
    assert mvn.log_prob(torch.zeros(3, 10, dtype=F64)).shape == (3,)


def test_rbf_ard_closed_form_and_blocks(seed):
    x, y = points("S2xR1", 12, seed), points("S2xR1", 7, seed + 1)
    k = ManifoldRBFKernel("S2xR1", ard="dim").double()
    assert k.lengthscale_names == ("S2", "R1:x0")
    l_s, l_r = set_ell(k, [0.5, 1.5])
    a, b = x.numpy(), y.numpy()
    r2 = 2 * (1 - a[:, :3] @ b[:, :3].T) / l_s ** 2 + (a[:, 3:] - b[:, 3:].T) ** 2 / l_r ** 2
    np.testing.assert_allclose(k(x, y).to_dense().detach().numpy(), np.exp(-0.5 * r2), atol=1e-12)
    # one lengthscale reproduces the original (non-ARD) kernel exactly
    k0, k1 = ManifoldRBFKernel("T2", ard=False).double(), ManifoldRBFKernel("T2", ard="dim").double()
    set_ell(k0, 0.8)
    set_ell(k1, [0.8, 0.8])
    xt = points("T2", 9, seed)
    torch.testing.assert_close(k0(xt, xt).to_dense(), k1(xt, xt).to_dense(), rtol=0, atol=1e-12)


def test_blocks_and_bad_arguments():
    assert lengthscale_blocks(get_manifold("T2xS2xR2"), "factor") == ((4, 3, 2), ("T2", "S2", "R2"))
    assert lengthscale_blocks(get_manifold("SO3"), True) == ((10,), ("SO3",))
    with pytest.raises(ValueError, match="nu must be one of"):
        ManifoldMaternKernel("T1", nu=2.0)
    with pytest.raises(ValueError, match="ard must be"):
        ManifoldMaternKernel("T1", ard="neuron")
    with pytest.raises(ValueError, match="not ard_num_dims"):
        ManifoldMaternKernel("T1", ard_num_dims=2)
    with pytest.raises(ValueError, match="coordinates"):
        ManifoldMaternKernel("T1xR1")(torch.zeros(3, 3)).to_dense()
