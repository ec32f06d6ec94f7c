"""The shared contract every manifold passes (geomstats/GPyTorch-style reusable test class).

To run the contract on a new manifold, subclass :class:`ManifoldContract` in a test module and
override the ``manifold`` fixture (see ``TestManifoldContract`` at the bottom).
All checks run in float64; tolerances are stated next to each assertion.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.integrate
import torch

from neurolatent.manifolds import SO3, Euclid, Manifold, Product, Sphere, Torus, get_manifold, quadrature_grid

SPECS = ["R1", "R2", "T1", "T2", "S1", "S2", "S3", "S4", "SO3", "T1xR1", "T1xS2"]
F64 = torch.float64


def principal_radius(m: Manifold) -> float:
    """Norm below which every tangent vector is on the principal branch of ``log``."""
    if isinstance(m, Euclid):
        return math.inf
    if isinstance(m, (Torus, Sphere)):
        return math.pi
    if isinstance(m, SO3):
        return math.pi / 2
    return min(principal_radius(p) for p in m.parts)


def closed_form_sq_dist(m: Manifold, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The contract's kernel distance, written out independently in numpy: (n, m) matrix."""
    if isinstance(m, Euclid):
        return ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)
    if isinstance(m, Torus):
        return (2 * (1 - np.cos(x[:, None, :] - y[None, :, :]))).sum(-1)
    if isinstance(m, Sphere):
        return 2 * (1 - x @ y.T)
    if isinstance(m, SO3):
        return 4 * (1 - (x @ y.T) ** 2)
    out, c = 0.0, 0
    for p in m.parts:
        out = out + closed_form_sq_dist(p, x[:, c:c + p.ambient_dim], y[:, c:c + p.ambient_dim])
        c += p.ambient_dim
    return out


def sphere_volume_scipy(d: int) -> float:
    """vol(S^d) = 2 pi prod_{k=1}^{d-1} int_0^pi sin^k, by scipy quadrature (independent of the package)."""
    v = 2 * math.pi
    for k in range(1, d):
        v *= scipy.integrate.quad(lambda t: math.sin(t) ** k, 0, math.pi)[0]
    return v


def volume_reference(m: Manifold) -> float:
    if isinstance(m, Torus):
        return scipy.integrate.quad(lambda t: 1.0, -math.pi, math.pi)[0] ** m.dim
    if isinstance(m, Sphere):
        return sphere_volume_scipy(m.dim)
    if isinstance(m, SO3):
        return sphere_volume_scipy(3) / 2  # q and -q are one rotation
    return math.prod(volume_reference(p) for p in m.parts)


def sample(m: Manifold, n: int, gen: torch.Generator) -> torch.Tensor:
    return m.random_uniform(n, generator=gen, dtype=F64) if m.has_uniform else m.random_normal(n, scale=2.0, generator=gen, dtype=F64)


def small_vectors(m: Manifold, n: int, gen: torch.Generator, frac: float = 0.95) -> torch.Tensor:
    v = torch.randn(n, m.dim, generator=gen, dtype=F64)
    r = frac * min(principal_radius(m), 5.0) * torch.rand(n, 1, generator=gen, dtype=F64)
    return v / v.norm(dim=-1, keepdim=True) * r


class ManifoldContract:
    """Reusable checks; a subclass provides the ``manifold`` fixture."""

    @pytest.fixture
    def gen(self, seed):
        return torch.Generator().manual_seed(seed)

    def test_attributes_and_spec_round_trip(self, manifold):
        assert get_manifold(manifold.name) == manifold
        assert len(manifold.coord_names) == manifold.ambient_dim == len(set(manifold.coord_names))
        assert isinstance(manifold.is_group, bool) and isinstance(manifold.has_uniform, bool)

    def test_log_after_exp_is_identity(self, manifold, gen):
        x = sample(manifold, 300, gen)
        v = small_vectors(manifold, 300, gen)
        y = manifold.exp(v, x)
        assert manifold.belongs(y).all()
        # 1e-10: float64 round-off, amplified near |v| = pi where log is ill-conditioned
        torch.testing.assert_close(manifold.log(y, x), v, atol=1e-10, rtol=0)

    def test_exp_after_log_is_identity(self, manifold, gen):
        x, y = sample(manifold, 300, gen), sample(manifold, 300, gen)
        v = manifold.log(y, x)
        assert torch.isfinite(v).all()
        if manifold.has_uniform:  # principal branch: no longer than the farthest point
            assert (v.norm(dim=-1) <= principal_radius(manifold) * math.sqrt(manifold.dim) + 1e-9).all()
        # geodesic distance between exp(log(y)) and y: float64 round-off
        assert manifold.distance(manifold.exp(v, x), y).max() < 1e-10
        # the log has the length of the geodesic
        torch.testing.assert_close(v.norm(dim=-1), manifold.distance(x, y), atol=1e-8, rtol=0)

    def test_distance_axioms(self, manifold, gen):
        a, b, c = (sample(manifold, 200, gen) for _ in range(3))
        dab, dba = manifold.distance(a, b), manifold.distance(b, a)
        torch.testing.assert_close(dab, dba, atol=1e-12, rtol=0)  # symmetric to round-off
        assert (dab >= 0).all()
        assert (manifold.distance(a, a) == 0).all()
        assert (manifold.distance(a, c) <= dab + manifold.distance(b, c) + 1e-10).all()

    def test_samples_belong_and_projection(self, manifold, gen):
        x = sample(manifold, 500, gen)
        assert x.shape == (500, manifold.ambient_dim) and x.dtype == F64
        assert manifold.belongs(x).all()
        noisy = x + 0.01 * torch.randn(x.shape, generator=gen, dtype=F64) + (3 * math.pi if isinstance(manifold, Torus) else 0)
        p = manifold.projection(noisy)
        assert manifold.belongs(p).all()
        torch.testing.assert_close(manifold.projection(p), p, atol=1e-12, rtol=0)  # idempotent

    def test_uniform_density_integrates_to_one(self, manifold, gen):
        if not manifold.has_uniform:
            with pytest.raises(ValueError, match="uniform"):
                manifold.random_uniform(3)
            with pytest.raises(ValueError, match="uniform"):
                manifold.uniform_log_prob(torch.zeros(3, manifold.ambient_dim))
            return
        # closed-form volume (scipy quadrature of the hyperspherical area element): 1e-10 relative
        log_u = manifold.uniform_log_prob(manifold.random_uniform(4, generator=gen))
        assert torch.allclose(log_u, torch.full_like(log_u, -math.log(volume_reference(manifold))), atol=1e-10)
        # deterministic quadrature on a grid
        x, w = quadrature_grid(manifold, 10)
        assert abs(float((w * manifold.uniform_log_prob(x).exp()).sum()) - 1) < 1e-10

    def test_uniform_density_monte_carlo(self, manifold, gen):
        """Monte Carlo in the ambient space: vol(S^d) = (d+1) vol(B^{d+1}), the ball's volume
        estimated by uniform samples in the cube [-1, 1]^{d+1} (independent of the package)."""
        if not manifold.has_uniform:
            pytest.skip("no uniform distribution on a non-compact manifold")
        n = 400_000

        def mc_volume(m):  # (estimate, relative standard error)
            if isinstance(m, Torus):
                return (2 * math.pi) ** m.dim, 0.0
            if isinstance(m, Product):
                parts = [mc_volume(p) for p in m.parts]
                return math.prod(v for v, _ in parts), math.sqrt(sum(r * r for _, r in parts))
            k = m.ambient_dim
            inside = (torch.rand(n, k, generator=gen, dtype=F64) * 2 - 1).norm(dim=-1) <= 1
            p = float(inside.double().mean())
            vol = k * p * 2.0 ** k / (2 if isinstance(m, SO3) else 1)
            return vol, math.sqrt((1 - p) / (p * n))

        vol, rel_se = mc_volume(manifold)
        total = float(manifold.uniform_log_prob(manifold.origin(dtype=F64)).exp()) * vol  # = int u dmu
        assert abs(total - 1) < 5 * rel_se + 1e-12, (total, rel_se)  # 5 standard errors

    def test_finite_values_and_gradients_at_singular_points(self, manifold):
        d = manifold.dim
        x = manifold.origin(dtype=F64)
        r = min(principal_radius(manifold), 5.0)
        e1 = torch.zeros(d, dtype=F64)
        e1[0] = 1
        for v0 in (torch.zeros(d, dtype=F64), 1e-9 * e1, r * e1, (r - 1e-9) * e1, 2 * math.pi * e1):
            v = v0.clone().requires_grad_(True)
            xb = x.clone().requires_grad_(True)
            y = manifold.exp(v, xb)
            out = y.sum() + manifold.log_exp_jacobian(v) + manifold.preimages(v, 2).sum()
            out = out + manifold.distance(y, x) + manifold.log(y, xb).sum() + manifold.distance(y, -y if isinstance(manifold, Sphere) else y)
            gv, gx = torch.autograd.grad(out, (v, xb))
            assert torch.isfinite(out) and torch.isfinite(gv).all() and torch.isfinite(gx).all(), v0
        # log of the antipode / farthest point comes back to it
        far = manifold.exp(r * e1, x)
        assert manifold.distance(manifold.exp(manifold.log(far, x), x), far) < 1e-8

    def test_pairwise_sq_dist_closed_form(self, manifold, gen):
        x, y = sample(manifold, 30, gen), sample(manifold, 20, gen)
        ref = closed_form_sq_dist(manifold, x.numpy(), y.numpy())
        got = manifold.pairwise_sq_dist(x, y)
        assert got.shape == (30, 20) and (got >= 0).all()
        np.testing.assert_allclose(got.numpy(), ref, atol=1e-9 * max(1.0, np.abs(ref).max()))  # round-off
        f = manifold.features(x)
        np.testing.assert_allclose(((f[:, None] - manifold.features(y)[None]) ** 2).sum(-1).numpy(), ref, atol=1e-9 * max(1.0, np.abs(ref).max()))
        diag = manifold.pairwise_sq_dist(x[:20], y, diag=True)
        np.testing.assert_allclose(diag.numpy(), np.diag(ref[:20]), atol=1e-9 * max(1.0, np.abs(ref).max()))
        assert manifold.pairwise_sq_dist(x, x).diagonal().abs().max() < 1e-9
        batched = manifold.pairwise_sq_dist(torch.stack([x, x]), torch.stack([y, y]))
        assert batched.shape == (2, 30, 20)

    def test_log_exp_jacobian_matches_autograd_volume(self, manifold, gen):
        """log J(v) = 1/2 log det(D^T D), D the ambient derivative of v -> exp(v, x) (induced metric)."""
        x = sample(manifold, 1, gen)[0]
        for v in small_vectors(manifold, 4, gen, frac=2.5):
            dmat = torch.autograd.functional.jacobian(lambda u: manifold.exp(u, x), v)
            ref = 0.5 * torch.logdet(dmat.T @ dmat)
            # central-difference-free autograd: agreement to 1e-8 (away from |v| = k pi)
            assert abs(float(manifold.log_exp_jacobian(v) - ref)) < 1e-8

    def test_preimages_share_the_image(self, manifold, gen):
        x = sample(manifold, 50, gen)
        v = small_vectors(manifold, 50, gen)
        pre = manifold.preimages(v, 2)
        assert pre.shape[:-2] == (50,) and pre.shape[-1] == manifold.dim
        torch.testing.assert_close(pre[:, 0], v, atol=0, rtol=0)  # principal first, exactly
        imgs = manifold.exp(pre, x.unsqueeze(1))
        dist = manifold.distance(imgs, manifold.exp(v, x).unsqueeze(1))
        assert dist.max() < 1e-8  # all preimages map to the same point (SO3: up to sign)
        # distinct tangent vectors (except on R^d, where there is only one)
        if pre.shape[-2] > 1:
            gaps = (pre[:, :, None] - pre[:, None, :]).norm(dim=-1) + torch.eye(pre.shape[-2], dtype=F64)
            assert gaps.min() > 1e-6

    def test_float32_gradients_match_float64(self, manifold, gen):
        """Series thresholds depend on the dtype, so float32 gradients stay accurate at small angles."""
        x = sample(manifold, 1, gen)[0]
        direction = torch.randn(manifold.dim, generator=gen, dtype=F64)
        grads = {}
        for dt in (torch.float32, torch.float64):
            for r in (0.0, 1e-4, 2e-3, 0.04, 0.3):
                v = (r * direction).to(dt).requires_grad_(True)
                w = torch.arange(1, manifold.ambient_dim + 1, dtype=dt)
                y = manifold.exp(v, x.to(dt))
                out = (y * w).sum() + manifold.log_exp_jacobian(v) + (manifold.log(y, x.to(dt)) * direction.to(dt)).sum()
                grads[dt, r] = torch.autograd.grad(out, v)[0].double()
        for r in (0.0, 1e-4, 2e-3, 0.04, 0.3):
            # float32 round-off of O(1) quantities, with margin: 1e-5
            torch.testing.assert_close(grads[torch.float32, r], grads[torch.float64, r], atol=1e-5, rtol=1e-5)

    def test_dtype_and_shape_errors(self, manifold):
        x32 = manifold.origin(batch_shape=(3,), dtype=torch.float32)
        v32 = torch.full((3, manifold.dim), 0.1, dtype=torch.float32)
        assert manifold.exp(v32, x32).dtype == torch.float32
        assert manifold.log(manifold.exp(v32, x32), x32).dtype == torch.float32
        with pytest.raises(ValueError, match=manifold.name):
            manifold.exp(torch.zeros(3, manifold.dim + 1), x32)
        with pytest.raises(ValueError, match=manifold.name):
            manifold.distance(torch.zeros(3, manifold.ambient_dim + 1), x32)

    def test_group_axioms(self, manifold, gen):
        if not manifold.is_group:
            with pytest.raises(NotImplementedError, match="not a group"):
                manifold.identity()
            return
        a, b, c = (sample(manifold, 50, gen) for _ in range(3))
        e = manifold.identity((50,), dtype=F64)
        dist = manifold.distance
        assert dist(manifold.compose(a, e), a).max() < 1e-12
        assert dist(manifold.compose(e, a), a).max() < 1e-12
        assert dist(manifold.compose(a, manifold.inverse(a)), e).max() < 1e-7
        assert dist(manifold.compose(manifold.compose(a, b), c), manifold.compose(a, manifold.compose(b, c))).max() < 1e-7
        v = small_vectors(manifold, 50, gen)
        # exp(v, g) = g * Exp(v): right multiplication by the group exponential
        assert dist(manifold.exp(v, a), manifold.compose(a, manifold.exp(v, e))).max() < 1e-9
        # left invariance of log and distance
        assert (manifold.log(manifold.compose(a, b), manifold.compose(a, c)) - manifold.log(b, c)).abs().max() < 1e-7
        assert (dist(manifold.compose(a, b), manifold.compose(a, c)) - dist(b, c)).abs().max() < 1e-7


@pytest.fixture(params=SPECS)
def manifold(request) -> Manifold:
    return get_manifold(request.param)


class TestManifoldContract(ManifoldContract):
    """Runs the contract on every manifold in :data:`SPECS`."""
