"""Manifold-specific checks beyond the shared contract: specs, SO3 signs, bases, quadrature."""
from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.spatial.transform as sst
import torch

from neurolatent.manifolds import SO3, Euclid, Product, Sphere, Torus, get_manifold, quadrature_grid

F64 = torch.float64


@pytest.mark.parametrize("spec, expected", [
    ("R1", Euclid(1)), ("R2", Euclid(2)), ("R7", Euclid(7)), ("T1", Torus(1)), ("T3", Torus(3)),
    ("S1", Sphere(1)), ("S2", Sphere(2)), ("S3", Sphere(3)), ("SO3", SO3()), ("so3", SO3()), (" t1 ", Torus(1)),
])
def test_get_manifold_specs(spec, expected):
    assert get_manifold(spec) == expected
    assert get_manifold(expected) is expected


def test_get_manifold_products():
    m = get_manifold("T1xR1")
    assert isinstance(m, Product) and m.parts == (Torus(1), Euclid(1)) and m.name == "T1xR1"
    assert get_manifold("T1×S2xSO3").name == "T1xS2xSO3"
    assert Product(Product(Torus(1), Torus(1)), Euclid(2)).name == "T1xT1xR2"  # flattened
    assert Product(Torus(1), Torus(1)).coord_names == ("T1_0_theta", "T1_1_theta")  # made unique


@pytest.mark.parametrize("bad", ["", "Q2", "R", "R0", "T-1", "SO4", "T1x", "xR1", "S2.5", "hello"])
def test_get_manifold_unknown_specs_list_accepted(bad):
    with pytest.raises(ValueError, match="accepted specs"):
        get_manifold(bad)


def test_get_manifold_type_error_and_bad_constructors():
    with pytest.raises(TypeError, match="spec string"):
        get_manifold(3)
    for cls in (Euclid, Torus, Sphere):
        with pytest.raises(ValueError, match="d >= 1"):
            cls(0)
    with pytest.raises(ValueError, match="two factors"):
        Product(Torus(1))


def test_so3_quaternion_sign_invariance(seed):
    m = SO3()
    gen = torch.Generator().manual_seed(seed)
    q, p = m.random_uniform(100, generator=gen), m.random_uniform(100, generator=gen)
    for a, b in ((q, -p), (-q, p), (-q, -p)):
        torch.testing.assert_close(m.distance(a, b), m.distance(q, p), atol=1e-12, rtol=0)
        torch.testing.assert_close(m.pairwise_sq_dist(a, b), m.pairwise_sq_dist(q, p), atol=1e-12, rtol=0)
    torch.testing.assert_close(m.log(-p, q), m.log(p, q), atol=1e-12, rtol=0)
    torch.testing.assert_close(m.log(p, -q), m.log(p, q), atol=1e-12, rtol=0)
    torch.testing.assert_close(m.features(-q), m.features(q), atol=0, rtol=0)
    v = 0.3 * torch.randn(100, 3, generator=gen, dtype=F64)
    torch.testing.assert_close(m.exp(v, -q), -m.exp(v, q), atol=1e-12, rtol=0)
    assert (m.distance(q, p) <= math.pi / 2 + 1e-12).all()


def test_so3_matches_scipy_rotations(seed):
    """exp(v, e) is the rotation by 2|v| about v/|v|; distance is half the relative rotation angle."""
    m = SO3()
    gen = torch.Generator().manual_seed(seed)
    v = torch.randn(50, 3, generator=gen, dtype=F64)
    v = v / v.norm(dim=-1, keepdim=True) * torch.rand(50, 1, generator=gen, dtype=F64) * 1.5  # |v| < pi/2
    q = m.exp(v, m.identity((50,), dtype=F64)).numpy()
    rot = sst.Rotation.from_quat(np.concatenate([q[:, 1:], q[:, :1]], 1))  # scipy is (x, y, z, w)
    np.testing.assert_allclose(rot.as_rotvec(), 2 * v.numpy(), atol=1e-9)
    np.testing.assert_allclose(rot.as_matrix(), SO3.as_rotation_matrix(torch.from_numpy(q)).numpy(), atol=1e-12)
    p = m.random_uniform(50, generator=gen)
    rp = sst.Rotation.from_quat(np.concatenate([p.numpy()[:, 1:], p.numpy()[:, :1]], 1))
    angle = (rot.inv() * rp).magnitude()
    np.testing.assert_allclose(m.distance(torch.from_numpy(q), p).numpy(), angle / 2, atol=1e-9)


@pytest.mark.parametrize("d", [1, 2, 3, 4])
def test_sphere_tangent_basis_is_orthonormal_and_tangent(d, seed):
    m = Sphere(d)
    x = m.random_uniform(200, generator=torch.Generator().manual_seed(seed))
    # include points next to -e_0, where the parallel-transport basis (d = 2, 4) is singular
    near = torch.tensor([[-1.0] + [1e-7] * d, [-1.0] + [0.0] * d], dtype=F64)
    x = torch.cat([x, near / near.norm(dim=-1, keepdim=True)])
    b = m.tangent_basis(x)
    torch.testing.assert_close(b @ b.transpose(-1, -2), torch.eye(d, dtype=F64).expand(len(x), d, d), atol=1e-10, rtol=0)
    assert (b @ x.unsqueeze(-1)).abs().max() < 1e-10


def test_sphere_tangent_basis_is_parallel_transport_s2():
    """Moving along the great circle e_0 -> e_1 the basis vector e_2 is transported unchanged."""
    m = Sphere(2)
    t = torch.linspace(0, 3.0, 7, dtype=F64)
    x = torch.stack([torch.cos(t), torch.sin(t), torch.zeros_like(t)], -1)
    b = m.tangent_basis(x)
    torch.testing.assert_close(b[:, 1], torch.tensor([0.0, 0.0, 1.0], dtype=F64).expand(7, 3), atol=1e-12, rtol=0)
    torch.testing.assert_close(b[:, 0], torch.stack([-torch.sin(t), torch.cos(t), 0 * t], -1), atol=1e-12, rtol=0)


@pytest.mark.parametrize("spec", ["S2", "S3", "SO3", "T2", "T1xS2"])
def test_quadrature_integrates_known_moments(spec):
    """int x_0^2 dmu = vol / (d + 1) on S^d (symmetry); int cos^2(theta) = pi on T^1 factors."""
    m = get_manifold(spec)
    x, w = quadrature_grid(m, 12)
    vol = math.exp(-float(m.uniform_log_prob(x[:1])[0]))
    assert abs(float(w.sum()) / vol - 1) < 1e-12
    f = {"S2": lambda: x[:, 0] ** 2 * 3, "S3": lambda: x[:, 0] ** 2 * 4, "SO3": lambda: x[:, 1] ** 2 * 4,
         "T2": lambda: 2 * torch.cos(x[:, 0]) ** 2, "T1xS2": lambda: 2 * torch.cos(x[:, 0]) ** 2 * 3 * x[:, 3] ** 2}[spec]()
    assert abs(float((w * f).sum()) / vol - 1) < 1e-10  # exact for these polynomial/trig integrands


def test_quadrature_errors():
    with pytest.raises(ValueError, match="not compact"):
        quadrature_grid("R1")
    with pytest.raises(ValueError, match="n >= 2"):
        quadrature_grid("T1", 1)


def test_random_generators_device_dtype():
    m = Sphere(2)
    a = m.random_uniform(5, generator=torch.Generator().manual_seed(1), dtype=torch.float32, device="cpu")
    b = m.random_uniform(5, generator=torch.Generator().manual_seed(1), dtype=torch.float32)
    assert a.dtype == torch.float32 and torch.equal(a, b)
    r = Euclid(2).random_normal(4, scale=0.1, base_point=torch.ones(2, dtype=torch.float32))
    assert r.dtype == torch.float32 and (r - 1).abs().max() < 1


@pytest.mark.parametrize("d", [2, 4])
def test_sphere_basis_continuous_across_the_equator(d, rng):
    """The basis uses two algebraically equal formulas for x_0 >= 0 and x_0 < 0: no jump between them."""
    m = Sphere(d)
    xs = torch.from_numpy(rng.standard_normal((20, d)))
    xs = xs / xs.norm(dim=-1, keepdim=True)
    for eps in (1e-12, 1e-3):
        up = torch.cat([torch.full((20, 1), eps, dtype=F64), xs * math.sqrt(1 - eps ** 2)], -1)
        down = torch.cat([torch.full((20, 1), -eps, dtype=F64), xs * math.sqrt(1 - eps ** 2)], -1)
        assert (m.tangent_basis(up) - m.tangent_basis(down)).abs().max() < 4 * eps + 1e-12  # Lipschitz
