"""ReparameterisedLieGaussian: normalisation, sample-vs-density agreement, wrapping, gradients."""
from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats
import torch

from neurolatent.distributions import ReparameterisedLieGaussian
from neurolatent.manifolds import SO3, Product, Sphere, get_manifold, quadrature_grid

F64 = torch.float64


def make(spec, loc, scale_tril, **kw):
    return ReparameterisedLieGaussian(spec, torch.as_tensor(loc, dtype=F64), torch.as_tensor(scale_tril, dtype=F64), **kw)


def wrapped_normal_pdf(x, mu, sigma, kmax=30):
    """Closed-form wrapped normal density on [-pi, pi) (numpy, independent of the package)."""
    k = np.arange(-kmax, kmax + 1)
    return scipy.stats.norm.pdf(x[:, None] + 2 * np.pi * k - mu, scale=sigma).sum(1)


def wrapped_normal_cdf(x, mu, sigma, kmax=30):
    k = np.arange(-kmax, kmax + 1)
    return (scipy.stats.norm.cdf(x[:, None] + 2 * np.pi * k - mu, scale=sigma)
            - scipy.stats.norm.cdf(-np.pi + 2 * np.pi * k - mu, scale=sigma)).sum(1)


def centre_grid(m, x, loc):
    """Move a polar quadrature grid by an isometry so that its pole sits at ``loc``."""
    if isinstance(m, Product):
        out, c = [], 0
        for p in m.parts:
            out.append(centre_grid(p, x[:, c:c + p.ambient_dim], loc[c:c + p.ambient_dim]))
            c += p.ambient_dim
        return torch.cat(out, dim=-1)
    if isinstance(m, Sphere) and m.dim == 2:  # Householder reflection swapping e_0 and loc
        u = m.origin(dtype=F64) - loc
        return x - 2 * (x @ u)[:, None] * u / (u @ u) if u.norm() > 1e-12 else x
    if isinstance(m, (SO3, Sphere)) and m.dim == 3:  # left multiplication maps the identity to loc
        return m.compose(loc.expand_as(x), x)
    return x  # tori: the periodic rule is already translation invariant


def integral(q, spec, n):
    """Quadrature of q over the manifold with the (polar) grid moved by an isometry to q.loc.

    Centring makes the integrable singularities of the wrapped density (at loc and its
    antipode, where shells of the tangent Gaussian collapse to a point) coincide with the
    poles of the grid, where the area element cancels them; the rule is then exact to ~1e-12.
    """
    x, w = quadrature_grid(spec, n)
    x = centre_grid(q.manifold, x, q.loc.detach())
    return float((w * q.log_prob(x).exp()).sum())


# ------------------------------------------------------------------ normalisation
@pytest.mark.parametrize("sigma", [0.1, 1.0, 3.0])
def test_t1_density_integrates_to_one_and_matches_wrapped_normal(sigma):
    q = make("T1", [2.5], [[sigma]], n_windings=6)  # 6 windings: exact for sigma <= 3 (12 pi / 3 = 12 sd)
    assert abs(integral(q, "T1", 2000) - 1) < 1e-9  # midpoint rule on a smooth periodic integrand
    x = np.linspace(-np.pi, np.pi, 101, endpoint=False)
    np.testing.assert_allclose(q.log_prob(torch.from_numpy(x)[:, None]).exp().numpy(), wrapped_normal_pdf(x, 2.5, sigma), rtol=1e-10)


def test_t2_full_covariance_density_matches_lattice_sum_and_integrates():
    L = np.array([[1.2, 0.0], [0.9, 0.7]])
    q = make("T2", [3.0, -1.0], L, n_windings=4)
    x, w = quadrature_grid("T2", 120)
    assert abs(float((w * q.log_prob(x).exp()).sum()) - 1) < 1e-8
    # reference: explicit sum over the lattice with scipy's multivariate normal
    mvn = scipy.stats.multivariate_normal(mean=[0, 0], cov=L @ L.T)
    pts = x[::997].numpy()
    diff = np.remainder(pts - [3.0, -1.0] + np.pi, 2 * np.pi) - np.pi
    ks = np.array([(i, j) for i in range(-6, 7) for j in range(-6, 7)]) * 2 * np.pi
    ref = np.array([mvn.pdf(d + ks).sum() for d in diff])
    np.testing.assert_allclose(q.log_prob(torch.from_numpy(pts)).exp().numpy(), ref, rtol=1e-9)


@pytest.mark.parametrize("loc, L, n", [
    ([0.0, 0.0, 1.0], [[0.5, 0.0], [0.2, 0.3]], 64),     # anisotropic
    ([1.0, 0.0, 0.0], [[1.5, 0.0], [0.0, 1.5]], 96),      # large variance: wrapping matters
    ([0.6, -0.8, 0.0], [[0.8, 0.0], [0.3, 0.6]], 96),
    ([-0.6, 0.0, -0.8], [[2.0, 0.0], [0.5, 1.0]], 96),    # near the basis singularity -e_0, very wide
])
def test_s2_density_integrates_to_one(loc, L, n):
    q = make("S2", loc, L, n_windings=4)
    assert abs(integral(q, "S2", n) - 1) < 1e-9  # Gauss-Legendre centred at loc (see ``integral``)


@pytest.mark.parametrize("spec", ["S3", "SO3"])
def test_s3_so3_density_integrates_to_one_monte_carlo(spec, seed):
    """E_uniform[q / u] = 1 with the uniform (Haar) distribution as the importance proposal."""
    m = get_manifold(spec)
    gen = torch.Generator().manual_seed(seed)
    loc = m.random_uniform(1, generator=gen)[0]
    L = torch.tensor([[0.5, 0.0, 0.0], [0.1, 0.4, 0.0], [-0.2, 0.1, 0.6]], dtype=F64)
    q = ReparameterisedLieGaussian(m, loc, L)
    x = m.random_uniform(100_000, generator=gen)
    ratio = (q.log_prob(x) - m.uniform_log_prob(x)).exp()
    se = float(ratio.std()) / math.sqrt(len(x))
    assert abs(float(ratio.mean()) - 1) < 5 * se, (float(ratio.mean()), se)  # 5 standard errors


@pytest.mark.parametrize("spec, sigma", [("S3", 1.2), ("SO3", 0.9)])
def test_s3_so3_large_variance_integrates_to_one_quadrature(spec, sigma):
    """Large variance (SO3: much mass beyond |v| = pi/2, so antipodal copies matter); grid polar at loc."""
    m = get_manifold(spec)
    q = ReparameterisedLieGaussian(m, m.origin(dtype=F64), sigma * torch.eye(3, dtype=F64), n_windings=6)
    assert abs(integral(q, spec, 40) - 1) < 1e-6
    few = ReparameterisedLieGaussian(m, m.origin(dtype=F64), sigma * torch.eye(3, dtype=F64), n_windings=0)
    assert integral(few, spec, 40) < 0.95  # without the wrapped sum the density is not normalised


def test_product_density_integrates_to_one():
    q = make("T1xS2", [1.0, 0.0, 0.0, 1.0], np.diag([2.0, 0.5, 0.4]))
    assert abs(integral(q, "T1xS2", 32) - 1) < 1e-9


# ------------------------------------------------------------------ samples vs density
def test_t1_samples_follow_wrapped_normal_ks(seed):
    torch.manual_seed(seed)
    q = make("T1", [2.5], [[2.0]])
    g = q.sample((20_000,)).numpy()[:, 0]
    ks = scipy.stats.kstest(g, lambda x: wrapped_normal_cdf(np.atleast_1d(x), 2.5, 2.0))
    assert ks.pvalue > 1e-3, ks  # seeded; fails only if the sampler is wrong


def test_s2_distance_to_loc_follows_folded_rayleigh(seed):
    """rsample: d(g, loc) = |v| folded into [0, pi], |v| ~ Rayleigh(sigma) (scipy reference);
    log_prob: the same CDF by quadrature of the density over the cap d <= t."""
    torch.manual_seed(seed)
    sigma, loc = 1.3, torch.tensor([1.0, 0.0, 0.0], dtype=F64)
    q = make("S2", loc, sigma * np.eye(2), n_windings=4)

    def folded_cdf(t):
        t = np.atleast_1d(t)
        k = np.arange(0, 6)
        ray = scipy.stats.rayleigh(scale=sigma).cdf
        # d <= t  <=>  |v| in [2 pi k - t, 2 pi k + t] for some k >= 0 (rayleigh cdf is 0 below 0)
        return sum(ray(2 * np.pi * kk + t) - ray(2 * np.pi * kk - t) for kk in k)

    d = q.manifold.distance(q.sample((20_000,)), loc).numpy()
    assert scipy.stats.kstest(d, folded_cdf).pvalue > 1e-3
    x, w = quadrature_grid("S2", 128)
    dens = (w * q.log_prob(x).exp()).numpy()
    dist = q.manifold.distance(x, loc).numpy()
    for t in (0.5, 1.5, 2.5):
        cdf_q = dens[dist <= t].sum()
        assert abs(cdf_q - folded_cdf(t)[0]) < 0.02  # the grid resolves the cap boundary to ~pi/128


@pytest.mark.parametrize("spec, sigma", [("T2", 1.5), ("S2", 0.9), ("S3", 0.7), ("SO3", 0.7)])
def test_sample_moments_match_density_moments(spec, sigma, seed):
    """E[features(g)] from 40k samples vs the quadrature integral of features * q (5 standard errors)."""
    torch.manual_seed(seed)
    m = get_manifold(spec)
    loc = m.random_uniform(1, generator=torch.Generator().manual_seed(seed + 7))[0]
    L = sigma * torch.eye(m.dim, dtype=F64)
    L[-1, 0] = 0.3 * sigma
    q = ReparameterisedLieGaussian(m, loc, L)
    g = q.sample((40_000,))
    f = m.features(g)
    mean_s, se = f.mean(0), f.std(0) / math.sqrt(len(f))
    x, w = quadrature_grid(m, {"T2": 80, "S2": 80, "S3": 28, "SO3": 28}[spec])
    mean_q = (w[:, None] * q.log_prob(x).exp()[:, None] * m.features(x)).sum(0)
    assert ((mean_s - mean_q).abs() <= 5 * se + 2e-4).all(), (mean_s, mean_q, se)


# ------------------------------------------------------------------ gradients and API
@pytest.mark.parametrize("spec", ["T1", "T2", "S2", "S3", "SO3", "T1xR1", "R2"])
def test_log_prob_gradients_finite_at_singular_points(spec):
    m = get_manifold(spec)
    loc = m.origin(dtype=F64).requires_grad_(True)
    raw = (0.7 * torch.eye(m.dim, dtype=F64)).requires_grad_(True)
    q = ReparameterisedLieGaussian(m, loc, raw)
    e1 = torch.zeros(m.dim, dtype=F64)
    e1[0] = 1
    r = math.pi / 2 if spec == "SO3" else math.pi
    pts = torch.stack([m.origin(dtype=F64), m.exp(r * e1, m.origin(dtype=F64)), m.exp(1e-9 * e1, m.origin(dtype=F64)),
                       m.exp(0.3 * e1, m.origin(dtype=F64))])
    lp = q.log_prob(pts)
    assert torch.isfinite(lp).all()
    g_loc, g_scale = torch.autograd.grad(lp.sum(), (loc, raw), retain_graph=True)  # q.loc is projected once
    assert torch.isfinite(g_loc).all() and torch.isfinite(g_scale).all()
    g, lp2 = q.rsample_and_log_prob((16,))
    g_loc, g_scale = torch.autograd.grad(lp2.sum() + g.sum(), (loc, raw))
    assert torch.isfinite(g_loc).all() and torch.isfinite(g_scale).all()


def test_t1_scale_gradient_matches_finite_difference():
    x = torch.tensor([[3.0], [-2.0], [0.1]], dtype=F64)
    s = torch.tensor([[2.0]], dtype=F64, requires_grad=True)
    lp = ReparameterisedLieGaussian("T1", torch.tensor([2.5], dtype=F64), s).log_prob(x).sum()
    (grad,) = torch.autograd.grad(lp, s)
    ref = [np.log(wrapped_normal_pdf(x.numpy()[:, 0], 2.5, sd)).sum() for sd in (2.0 + 1e-6, 2.0 - 1e-6)]
    assert abs(float(grad) - (ref[0] - ref[1]) / 2e-6) < 1e-6  # central difference, h = 1e-6


def test_shapes_batching_and_entropy(seed):
    torch.manual_seed(seed)
    loc = torch.randn(5, 3, dtype=F64)  # unconstrained: projected onto S2
    q = ReparameterisedLieGaussian("S2", loc, 0.2 * torch.eye(2, dtype=F64))
    assert q.batch_shape == (5,) and q.event_shape == (3,)
    g = q.rsample((7,))
    assert g.shape == (7, 5, 3) and q.log_prob(g).shape == (7, 5)
    assert q.expand((2, 5)).rsample((3,)).shape == (3, 2, 5, 3)
    # entropy of a narrow wrapped normal is that of the Gaussian, 0.5 log(2 pi e sigma^2)
    t1 = make("T1", [0.0], [[0.1]])
    ent = float(t1.entropy_mc(20_000).mean())
    assert abs(ent - 0.5 * math.log(2 * math.pi * math.e * 0.01)) < 0.02  # MC sd ~ 0.005


def test_errors_and_support():
    with pytest.raises(ValueError, match=r"\(\.\.\., 2, 2\)"):
        make("S2", [0, 0, 1.0], np.eye(3))
    with pytest.raises(ValueError, match="S2"):
        make("S2", [0, 1.0], np.eye(2))
    q = make("S2", [0, 0, 1.0], np.eye(2), validate_args=True)
    with pytest.raises(ValueError, match="support"):
        q.log_prob(torch.tensor([0.0, 0.0, 2.0], dtype=F64))
    assert q.support.check(torch.tensor([0.0, 1.0, 0.0], dtype=F64))


@pytest.mark.slow
@pytest.mark.parametrize("spec", ["T1", "T2", "S2", "S3", "SO3", "T1xS2"])
def test_density_integrates_to_one_random_configurations(spec, seed):
    """Stress test: 12 random (loc, scale_tril) per manifold, tangent sd between 0.3 and 1.5 rad
    (narrower densities need finer grids than these; the default-run tests cover sd 0.1)."""
    m = get_manifold(spec)
    gen = torch.Generator().manual_seed(seed)
    n = {"T1": 400, "T2": 120, "S2": 128, "S3": 48, "SO3": 48, "T1xS2": 32}[spec]
    for _ in range(12):
        loc = m.random_uniform(1, generator=gen)[0]
        a = torch.randn(m.dim, m.dim, generator=gen, dtype=F64)
        cov = a @ a.T
        cov = cov / torch.linalg.eigvalsh(cov).max() * (0.3 + 1.2 * torch.rand(1, generator=gen, dtype=F64)) ** 2
        cov = cov + 0.3 ** 2 * torch.eye(m.dim, dtype=F64)
        q = ReparameterisedLieGaussian(m, loc, torch.linalg.cholesky(cov))
        total = integral(q, spec, n)
        # grid error (the product grid is coarser: 32 points per coordinate)
        assert abs(total - 1) < (1e-5 if spec == "T1xS2" else 1e-6), (spec, total, torch.linalg.eigvalsh(cov))


# ------------------------------------------------------- frame-free covariance on S^d, d != 1, 3
def _near_antipode(d, eps, direction):
    """The unit vector at angle ~eps from -e0, towards ``direction`` (a unit d-vector)."""
    loc = torch.cat([torch.tensor([-1.0], dtype=F64), eps * direction])
    return loc / loc.norm()


@pytest.mark.parametrize("d", [2, 4])
def test_ambient_scale_log_prob_is_continuous_across_minus_e0(d):
    """log q(g) for means in a 1e-9 neighbourhood of -e0 (where the tangent frame spins) agrees."""
    gen = torch.Generator().manual_seed(d)
    A = torch.tril(torch.randn(d + 1, d + 1, generator=gen, dtype=F64)) * 0.3 + 0.4 * torch.eye(d + 1, dtype=F64)
    g = torch.randn(5, d + 1, generator=gen, dtype=F64) * 0.4
    g[:, 0] -= 1.0
    g = g / g.norm(dim=-1, keepdim=True)  # points around -e0
    m = Sphere(d)
    dirs = torch.randn(6, d, generator=gen, dtype=F64)
    dirs = dirs / dirs.norm(dim=-1, keepdim=True)
    locs = [_near_antipode(d, 1e-9, u) for u in dirs] + [_near_antipode(d, 0.0, dirs[0])]
    lp = torch.stack([ReparameterisedLieGaussian.from_ambient_scale(m, loc, A).log_prob(g) for loc in locs])
    # the means are within 2e-9 of each other: log q moves by O(1e-9 |grad|); 1e-6 leaves room for round-off
    torch.testing.assert_close(lp, lp[:1].expand_as(lp), rtol=0, atol=1e-6)
    # the frame-held covariance (one triangular factor in the spinning frame) jumps there: this is
    # what the ambient parameterisation fixes, so the check above is not vacuous
    B0 = m.tangent_basis(locs[0])
    L = torch.linalg.cholesky(B0 @ A @ A.T @ B0.T)
    jump = torch.stack([ReparameterisedLieGaussian(m, loc, L).log_prob(g) for loc in locs])
    assert float((jump - jump[:1]).abs().max()) > 1e-2


def test_ambient_scale_density_integrates_to_one_at_minus_e0():
    A = torch.tensor([[0.5, 0.0, 0.0], [0.2, 0.7, 0.0], [-0.1, 0.3, 0.4]], dtype=F64)
    u = torch.tensor([0.6, 0.8], dtype=F64)
    for s in (0.0, 1e-9):
        q = ReparameterisedLieGaussian.from_ambient_scale("S2", _near_antipode(2, s, u), A, n_windings=4)
        # centred polar rule, as for the other S2 normalisation tests
        assert abs(integral(q, "S2", 400) - 1) < 1e-8
