"""ReLICv2: the two terms against float64 loops, stop-gradient, the multi-crop views, cross-view KL."""
from __future__ import annotations

import math

import pytest
import torch

from neurolatent.methods.ssl import ReLICv2, cross_view_kl, make_encoder, pretrain, similarity_distributions

D64 = torch.float64


def ref_terms(za, zb, tau):
    ua = za / za.norm(dim=1, keepdim=True)
    ub = zb / zb.norm(dim=1, keepdim=True)
    n = za.shape[0]
    s = [[float(ua[i] @ ub[j]) / tau for j in range(n)] for i in range(n)]
    con = kl = 0.0
    for i in range(n):
        lse_ab = math.log(sum(math.exp(s[i][j]) for j in range(n)))
        lse_ba = math.log(sum(math.exp(s[j][i]) for j in range(n)))
        con += -(s[i][i] - lse_ab)
        for j in range(n):
            lab, lba = s[i][j] - lse_ab, s[j][i] - lse_ba
            kl += math.exp(lab) * (lab - lba)
    return con / n, kl / n


def test_terms_match_reference_and_stop_gradient():
    g = torch.Generator().manual_seed(0)
    za, zb = torch.randn(5, 3, generator=g, dtype=D64), torch.randn(5, 3, generator=g, dtype=D64)
    t = ReLICv2(0.4).terms(za, zb)
    con, kl = ref_terms(za, zb, 0.4)
    assert abs(float(t["contrastive"]) - con) < 1e-10 and abs(float(t["invariance"]) - kl) < 1e-10
    assert abs(float(ReLICv2(0.4, alpha=2.5)(za, zb)) - (con + 2.5 * kl)) < 1e-10
    # Identical views give a symmetric similarity matrix: p_ab = p_ba, KL = 0.
    assert float(ReLICv2(0.4).terms(za, za)["invariance"]) < 1e-12
    # The target distribution p_ba is a stop-gradient: the gradient of the KL term equals the
    # gradient of KL(p_ab || fixed p_ba), checked by central finite differences in float64.
    za.requires_grad_(True)
    grad = torch.autograd.grad(ReLICv2(0.4).terms(za, zb)["invariance"], za)[0]
    fixed = similarity_distributions(za.detach(), zb, 0.4)[1]

    def kl_fixed(a):
        lab = similarity_distributions(a, zb, 0.4)[0]
        return float((lab.exp() * (lab - fixed)).sum(1).mean())

    h = 1e-6
    for i, j in [(0, 0), (2, 1), (4, 2)]:
        e = torch.zeros_like(za)
        e[i, j] = h
        fd = (kl_fixed(za.detach() + e) - kl_fixed(za.detach() - e)) / (2 * h)
        assert abs(fd - float(grad[i, j])) < 1e-7  # central differences: O(h^2) plus rounding ~1e-10 / h


def test_multicrop_views_and_step():
    x = torch.randn(6, 1, 12, 12)
    loss = ReLICv2(n_small=3, small_scale=(0.2, 0.3))
    views = loss.make_views(x, lambda v, g: v, torch.Generator().manual_seed(0))
    assert [tuple(v.shape) for v in views] == [(6, 1, 12, 12)] * 2 + [(6, 1, 6, 6)] * 3
    assert len(ReLICv2(n_small=0).make_views(x, lambda v, g: v, None)) == 2
    sig = ReLICv2(small_size=10).make_views(torch.randn(4, 1, 40), lambda v, g: v, None)
    assert sig[-1].shape == (4, 1, 10)
    enc = make_encoder((1, 12, 12), rep_dim=6, proj_dim=4, channels=(4,), seed=0)
    # 2 large + 3 small views: pairs (a, b) with b a large view, a != b: 2 * 4 = 8 terms
    value = loss.step_loss(enc, views)
    zs = [enc(v) for v in views]
    manual = sum(loss(zs[a], zs[b]) for b in (0, 1) for a in range(5) if a != b) / 8
    assert torch.allclose(value, manual)
    h = pretrain(enc, x.repeat(4, 1, 1, 1), loss, "noise", epochs=1, batch_size=8)
    assert len(h["loss"]) == 1
    with pytest.raises(ValueError, match="temperature > 0"):
        ReLICv2(temperature=0.0)


def test_cross_view_kl_reference():
    enc = make_encoder((5,), rep_dim=4, proj_dim=3, hidden=(8,), seed=1, dtype=D64)
    x = torch.randn(10, 5, dtype=D64)
    # No augmentation: both views are the same, so the similarity matrix is symmetric and KL = 0.
    assert cross_view_kl(enc, x, None) < 1e-12
    noise = lambda v, g: v + 0.3 * torch.randn(v.shape, generator=g, dtype=v.dtype)  # noqa: E731
    got = cross_view_kl(enc, x, noise, temperature=0.5, seed=3)
    g = torch.Generator().manual_seed(3)
    enc.eval()
    with torch.no_grad():
        za, zb = enc(noise(x, g)), enc(noise(x, g))
    _, kl = ref_terms(za, zb, 0.5)
    assert abs(got - kl) < 1e-10
