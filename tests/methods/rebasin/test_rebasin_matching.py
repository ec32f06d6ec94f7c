"""Exactness of the re-basin building blocks against brute force and closed forms."""
from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from neurolatent.methods.common import MLP, SmallCNN, apply_permutation, evaluate
from neurolatent.methods.rebasin import (
    LAMBDA_KINDS,
    StitchingLayer,
    barrier,
    combine,
    fit_lstsq_stitch,
    interpolate,
    match_activations,
    match_weights,
    perturb_permutation,
    sample_lambda,
    stitch,
)


def _random_perms(net, seed):
    gen = torch.Generator().manual_seed(seed)
    return {p: torch.randperm(n, generator=gen) for p, n in net.permutation_spec().sizes(net.state_dict()).items()}


def _same_state(a, b, atol=0.0):
    sa, sb = a.state_dict(), b.state_dict()
    return all(torch.allclose(sa[k].double(), sb[k].double(), atol=atol) for k in sa)


@pytest.mark.parametrize("make,shape", [
    (lambda: MLP(5, (9, 7), 3, seed=0), (200, 5)),
    (lambda: SmallCNN(1, (6, 5), 3, batchnorm=True, seed=0), (40, 1, 8, 8)),
], ids=["mlp", "cnn-bn"])
def test_matching_recovers_a_hidden_permutation(make, shape, seed):
    a = make()
    x = torch.randn(*shape)
    b = apply_permutation(a, _random_perms(a, seed))
    assert not _same_state(a, b)
    # b is a relabelled a: both matchings must undo the relabelling exactly
    assert _same_state(a, match_activations(a, b, x))
    assert _same_state(a, match_activations(a, b, x, cost="inner", device="cpu"))
    assert _same_state(a, match_weights(a, b, device="cpu"))
    with pytest.raises(ValueError, match="cost"):
        match_activations(a, b, x, cost="l1")


def test_weight_matching_single_layer_equals_brute_force(rng):
    a, b = MLP(4, (5,), 3, seed=1), MLP(4, (5,), 3, seed=2)
    sa, sb = a.state_dict(), b.state_dict()
    # objective <theta_A, pi(theta_B)> summed over the three tensors that carry P0
    w1a, b1a, w2a = (sa[k].double().numpy() for k in ("blocks.0.layer.weight", "blocks.0.layer.bias", "blocks.1.linear.weight"))
    w1b, b1b, w2b = (sb[k].double().numpy() for k in ("blocks.0.layer.weight", "blocks.0.layer.bias", "blocks.1.linear.weight"))

    def objective(p):
        p = list(p)
        return (w1a * w1b[p]).sum() + (b1a * b1b[p]).sum() + (w2a * w2b[:, p]).sum()

    best = max(itertools.permutations(range(5)), key=objective)
    _, perms = match_weights(a, b, return_permutation=True)
    assert objective(perms["P0"].tolist()) == pytest.approx(objective(best), rel=1e-12)


def test_activation_matching_equals_brute_force_correlation(seed):
    a, b = MLP(3, (5,), 2, seed=3), MLP(3, (5,), 2, seed=4)
    x = torch.randn(300, 3)
    za = a.forward_to(x, 1).detach().double().numpy()
    zb = b.forward_to(x, 1).detach().double().numpy()
    corr = np.corrcoef(za.T, zb.T)[:5, 5:]  # numpy reference of the correlation cost
    corr = np.nan_to_num(corr)  # dead units: zero correlation, as documented
    best = max(itertools.permutations(range(5)), key=lambda p: corr[np.arange(5), list(p)].sum())
    _, perms = match_activations(a, b, x, return_permutation=True)
    got = corr[np.arange(5), perms["P0"].numpy()].sum()
    assert got == pytest.approx(corr[np.arange(5), list(best)].sum(), rel=1e-10)


def test_interpolate_and_barrier_definitions(seed):
    a, b = MLP(4, (6,), 3, seed=0), MLP(4, (6,), 3, seed=1)
    x, y = torch.randn(50, 4), torch.randint(0, 3, (50,))
    assert _same_state(interpolate(a, b, 0.0), a) and _same_state(interpolate(a, b, 1.0), b)
    res = barrier(a, b, x, y, n_points=5)
    manual = [evaluate(interpolate(a, b, al), x, y)["loss"] for al in np.linspace(0, 1, 5)]
    assert np.allclose(res.loss, manual)
    line = (1 - res.alphas) * manual[0] + res.alphas * manual[-1]
    assert res.loss_barrier == pytest.approx(max(np.asarray(manual) - line))
    same = barrier(a, a, x, y)
    assert abs(same.loss_barrier) < 1e-6 and abs(same.error_barrier) < 1e-12  # constant path
    # a grid without the end points evaluates them separately: identical barrier definition
    inner = barrier(a, b, x, y, alphas=[0.25, 0.5, 0.75])
    assert inner.loss_barrier == pytest.approx(max(np.asarray(manual[1:4]) - line[1:4]))
    with pytest.raises(ValueError, match="same architecture"):
        interpolate(a, MLP(4, (7,), 3), 0.5)


def test_perturb_permutation_is_a_partial_shuffle():
    perms = {"P0": torch.arange(100), "P1": torch.randperm(50)}
    assert all(torch.equal(perms[p], q) for p, q in perturb_permutation(perms, 0.0).items())
    out = perturb_permutation(perms, 0.2, seed=1)
    for p in perms:
        assert torch.equal(out[p].sort().values, torch.arange(perms[p].numel()))  # still a permutation
        assert (out[p] != perms[p]).sum() <= round(0.2 * perms[p].numel())  # touched at most 20 %
    assert (out["P0"] != perms["P0"]).sum() > 5  # and really shuffled
    with pytest.raises(ValueError):
        perturb_permutation(perms, 1.5)


def test_combine_masks(seed):
    a, b = MLP(4, (6,), 3, seed=0), MLP(4, (6,), 3, seed=1)
    assert _same_state(combine(a, b, 0.3), interpolate(a, b, 0.7), atol=1e-7)
    for kind in LAMBDA_KINDS:
        lam = sample_lambda(a, kind, seed=seed, margin=0.2)
        vals = torch.cat([v.flatten() for v in lam.values()])
        lo, hi = (-0.2, 1.2) if kind == "outside" else (0.0, 1.0)
        assert vals.min() >= lo and vals.max() <= hi
        if kind == "bernoulli":
            assert set(vals.unique().tolist()) <= {0.0, 1.0}
        if kind == "scalar":
            assert vals.unique().numel() == 1
        if kind == "layer":
            assert all(v.unique().numel() == 1 for v in lam.values())
    with pytest.raises(ValueError, match="kind"):
        sample_lambda(a, "gaussian")


def test_lstsq_stitch_against_numpy(rng):
    ha = torch.as_tensor(rng.standard_normal((80, 6)))
    hb = torch.as_tensor(rng.standard_normal((80, 4)) + ha.numpy()[:, :4] @ rng.standard_normal((4, 4)))
    m, c = fit_lstsq_stitch(ha, hb)
    design = np.hstack([ha.numpy(), np.ones((80, 1))])
    ref, *_ = np.linalg.lstsq(design, hb.numpy(), rcond=None)
    assert np.allclose(m.numpy(), ref[:6].T, atol=1e-10) and np.allclose(c.numpy(), ref[6], atol=1e-10)
    # reduced rank: equals projecting the OLS fit onto its top-r principal directions
    m2, c2 = fit_lstsq_stitch(ha, hb, rank=2)
    fit = design @ ref
    fc = fit - fit.mean(0)
    _, _, vt = np.linalg.svd(fc, full_matrices=False)
    proj = vt[:2].T @ vt[:2]
    assert np.allclose((ha.numpy() @ m2.numpy().T + c2.numpy()), fit.mean(0) + fc @ proj, atol=1e-10)
    assert np.linalg.matrix_rank(m2.numpy(), tol=1e-8) == 2


def test_stitching_layer_conv_and_low_rank(rng):
    layer = StitchingLayer(5, 3)
    m, c = torch.randn(3, 5), torch.randn(3)
    layer.set_affine(m, c)
    h = torch.randn(2, 5, 4, 4)
    ref = F.conv2d(h, m[:, :, None, None], c)  # a 1x1 convolution is the per-position affine map
    assert torch.allclose(layer(h), ref, atol=1e-5)
    low = StitchingLayer(5, 3, rank=1)
    low.set_affine(m, c)
    u, s, vh = torch.linalg.svd(m)
    assert torch.allclose(low.matrix, s[0] * torch.outer(u[:, 0], vh[0]), atol=1e-5)  # Eckart-Young
    with pytest.raises(ValueError, match="rank"):
        StitchingLayer(5, 3, rank=4)


def test_stitching_a_network_to_itself_is_exact():
    from neurolatent.methods.common import make_teacher_classification

    d = make_teacher_classification(300, 6, 3, seed=0)
    a = MLP(6, (12, 10), 3, seed=0)
    s = stitch(a, a, 1, d, method="lstsq")
    # the identity is the least-squares solution; float64 fit, float32 network
    assert torch.allclose(s(d.x_test), a(d.x_test), atol=1e-4)
    assert all(not p.requires_grad for p in s.front.parameters())
    with pytest.raises(IndexError):
        stitch(a, a, 3, d)
