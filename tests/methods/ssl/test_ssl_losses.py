"""Each two-view loss against a hand-written float64 reference (explicit loops), and its input checks."""
from __future__ import annotations

import math

import pytest
import torch

from neurolatent.methods.ssl import BarlowTwins, InfoNCE, VICReg

D64 = torch.float64


def views(seed=0, n=6, d=4):
    g = torch.Generator().manual_seed(seed)
    z1 = torch.randn(n, d, generator=g, dtype=D64)
    return z1, z1 + 0.5 * torch.randn(n, d, generator=g, dtype=D64)


def ref_infonce(z1, z2, tau):
    u = [r / math.sqrt(float(r @ r)) for r in torch.cat([z1, z2])]
    n2, n = len(u), z1.shape[0]
    total = 0.0
    for k in range(n2):
        pos = (k + n) % n2
        den = sum(math.exp(float(u[k] @ u[m]) / tau) for m in range(n2) if m != k)
        total += -(float(u[k] @ u[pos]) / tau - math.log(den))
    return total / n2


def ref_barlow(z1, z2, lambd):
    n, d = z1.shape

    def std(z):
        m = [sum(float(z[i, j]) for i in range(n)) / n for j in range(d)]
        s = [math.sqrt(sum((float(z[i, j]) - m[j]) ** 2 for i in range(n)) / n + 1e-5) for j in range(d)]
        return [[(float(z[i, j]) - m[j]) / s[j] for j in range(d)] for i in range(n)]

    a, b = std(z1), std(z2)
    out = 0.0
    for i in range(d):
        for j in range(d):
            c = sum(a[k][i] * b[k][j] for k in range(n)) / n
            out += (1 - c) ** 2 if i == j else lambd * c ** 2
    return out


def ref_vicreg(z1, z2, lam, mu, nu, gamma=1.0, eps=1e-4):
    n, d = z1.shape
    inv = sum((float(z1[i, j]) - float(z2[i, j])) ** 2 for i in range(n) for j in range(d)) / (n * d)
    var = cov = 0.0
    for z in (z1, z2):
        m = [sum(float(z[i, j]) for i in range(n)) / n for j in range(d)]
        c = [[sum((float(z[k, i]) - m[i]) * (float(z[k, j]) - m[j]) for k in range(n)) / (n - 1) for j in range(d)]
             for i in range(d)]
        var += sum(max(0.0, gamma - math.sqrt(c[j][j] + eps)) for j in range(d)) / d
        cov += sum(c[i][j] ** 2 for i in range(d) for j in range(d) if i != j) / d
    return lam * inv + mu * var + nu * cov


@pytest.mark.parametrize("seed", [0, 1])
def test_losses_match_float64_references(seed):
    z1, z2 = views(seed)
    # float64 throughout: agreement to 1e-10 leaves room only for summation order.
    assert abs(float(InfoNCE(0.3)(z1, z2)) - ref_infonce(z1, z2, 0.3)) < 1e-10
    assert abs(float(BarlowTwins(0.02)(z1, z2)) - ref_barlow(z1, z2, 0.02)) < 1e-10
    assert abs(float(BarlowTwins()(z1, z2)) - ref_barlow(z1, z2, 1 / z1.shape[1])) < 1e-10
    # gamma = 1 with small-variance embeddings makes the variance hinge active.
    assert abs(float(VICReg(25, 25, 1)(0.3 * z1, 0.3 * z2)) - ref_vicreg(0.3 * z1, 0.3 * z2, 25, 25, 1)) < 1e-10
    assert abs(float(VICReg(2, 3, 4)(z1, z2)) - ref_vicreg(z1, z2, 2, 3, 4)) < 1e-10


def test_losses_have_the_expected_optima():
    z1, _ = views(3, n=32, d=4)
    # InfoNCE is smaller for matching views than for independent ones.
    assert float(InfoNCE(0.2)(z1, z1)) < float(InfoNCE(0.2)(z1, torch.randn_like(z1)))
    # Barlow Twins is zero for identical, decorrelated (whitened) views.
    zc = z1 - z1.mean(0)
    evals, evecs = torch.linalg.eigh(zc.T @ zc / zc.shape[0])
    white = zc @ evecs / evals.sqrt()
    assert float(BarlowTwins(1.0)(white, white)) < 1e-4  # the 1e-5 floor in the standardisation
    # VICReg's variance and covariance terms vanish for whitened views scaled above gamma.
    t = VICReg().terms(2 * white, 2 * white)
    assert float(t["invariance"]) == 0 and float(t["variance"]) == 0 and float(t["covariance"]) < 1e-20


@pytest.mark.parametrize("loss", [InfoNCE(), BarlowTwins(), VICReg()], ids=lambda l: type(l).__name__)
def test_bad_views_are_refused(loss):
    with pytest.raises(ValueError, match="batch of size 1"):
        loss(torch.randn(1, 4), torch.randn(1, 4))
    with pytest.raises(ValueError, match=r"shapes \(4, 3\) and \(4, 2\)"):
        loss(torch.randn(4, 3), torch.randn(4, 2))
    with pytest.raises(ValueError, match="matrices"):
        loss(torch.randn(4, 3, 2), torch.randn(4, 3, 2))


def test_infonce_gradient_matches_finite_differences():
    z1, z2 = views(5, n=4, d=3)
    z1.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a: InfoNCE(0.5)(a, z2), (z1,))
    assert torch.autograd.gradcheck(lambda a: BarlowTwins(0.1)(a, z2), (z1,))
