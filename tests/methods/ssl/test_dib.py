"""Decodable Information Bottleneck (Dubois et al. 2020): gradient reversal, the objective's gradients,
and the generalisation-gap / V-information claims."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from scipy.stats import spearmanr

from neurolatent.methods.common import load_digits
from neurolatent.methods.ssl import DIB, decoder_generalisation, grad_reverse, nuisance_labels, train_dib, v_information


@pytest.fixture(scope="module")
def small_digits():
    d = load_digits(seed=0)
    return replace(d, x_train=d.x_train[:300], y_train=d.y_train[:300])  # small: decoders overfit


def test_grad_reverse_is_identity_forward_and_negated_backward():
    x = torch.randn(5, dtype=torch.float64, requires_grad=True)
    y = grad_reverse(x, 0.7)
    assert torch.equal(y, x)
    (y ** 2).sum().backward()
    assert torch.allclose(x.grad, -0.7 * 2 * x.detach())  # d/dx x^2 = 2x, times -scale


def test_nuisance_labels_are_seeded_uniform_and_label_free():
    a = nuisance_labels(5000, 3, 10, seed=1)
    assert a.shape == (3, 5000) and int(a.min()) == 0 and int(a.max()) == 9
    assert torch.equal(a, nuisance_labels(5000, 3, 10, seed=1))
    counts = torch.bincount(a[0], minlength=10).double()
    assert float(((counts - 500) ** 2 / 500).sum()) < 33.7  # chi^2_9 at p = 1e-4: uniform labels
    with pytest.raises(ValueError, match="n_values >= 2"):
        nuisance_labels(10, 1, 1)


@pytest.mark.parametrize("beta", [0.0, 2.0])
def test_encoder_gradient_is_label_gradient_minus_beta_nuisance_gradient(beta):
    torch.manual_seed(0)
    model = DIB(6, 4, 3, encoder_hidden=(8,), decoder_hidden=(5,), n_heads=2, beta=beta, seed=0, dtype=torch.float64)
    x = torch.randn(10, 6, dtype=torch.float64)
    y = torch.randint(0, 3, (10,))
    nuis = torch.randint(0, 3, (2, 10))
    total, _ = model.loss(x, y, nuis)
    g_enc = torch.autograd.grad(total, list(model.encoder.parameters()))
    # independent reference: the two cross-entropies differentiated separately
    z = model.encoder(x)
    ce_y = F.cross_entropy(model.head(z), y)
    ce_n = torch.stack([F.cross_entropy(h(z), nuis[k]) for k, h in enumerate(model.nuisance_heads)]).mean()
    gy = torch.autograd.grad(ce_y, list(model.encoder.parameters()), retain_graph=True)
    gn = torch.autograd.grad(ce_n, list(model.encoder.parameters()), retain_graph=True)
    for a, b, c in zip(g_enc, gy, gn):
        assert torch.allclose(a, b - beta * c, atol=1e-12)  # float64 round-off
    # the heads themselves descend their own cross-entropy (no reversal on the heads' parameters)
    g_head = torch.autograd.grad(model.loss(x, y, nuis)[0], list(model.nuisance_heads.parameters()))
    ref = torch.autograd.grad(ce_n, list(model.nuisance_heads.parameters()))
    for a, b in zip(g_head, ref):
        assert torch.allclose(a, b, atol=1e-12)


def test_train_dib_and_estimates_run_and_are_bounded(small_digits):
    model, hist = train_dib(small_digits, beta=1.0, epochs=3, rep_dim=8, encoder_hidden=(32,), decoder_hidden=(16,))
    assert len(hist["ce_y"]) == 3 and hist["ce_y"][-1] < hist["ce_y"][0]
    g = decoder_generalisation(model, small_digits, hidden=(16,), epochs=5)
    assert 0 <= g["test_accuracy"] <= 1 and np.isclose(g["gap"], g["train_accuracy"] - g["test_accuracy"])
    v = v_information(model, small_digits, hidden=(16,), epochs=5, n_heads=1)
    # a trained decoder's training cross-entropy on random labels stays near log|Y| (cannot beat chance much)
    assert 0 < v["h_y"] < v["h_n"] < v["log_classes"] + 0.1
    with pytest.raises(TypeError, match="ClassificationData"):
        train_dib((small_digits.x_train, small_digits.y_train))


@pytest.fixture(scope="module")
def trained_set(small_digits):
    """Nine nets: beta in {-1 (rewarded memorisation), 0, 3} x seeds 0-2, each with its decoder's
    generalisation and V-information estimates."""
    rows = []
    for seed in (0, 1, 2):
        for beta in (-1.0, 0.0, 3.0):
            m, _ = train_dib(small_digits, beta=beta, epochs=40, seed=seed)
            g = decoder_generalisation(m, small_digits, epochs=40, seed=seed)
            v = v_information(m, small_digits, epochs=30, seed=seed, n_heads=1)
            rows.append({"seed": seed, "beta": beta, **g, **v})
    return rows


@pytest.mark.slow
def test_dib_shrinks_the_decoder_generalisation_gap(trained_set):
    """Measured (300 digits, 40 epochs): test-minus-train cross-entropy of a fresh (64,) MLP decoder,
    beta = 0: 0.190/0.174/0.192, beta = 3: 0.183/0.136/0.166 (seeds 0/1/2); accuracy gap 0.082 -> 0.074."""
    gap = {b: [r["loss_gap"] for r in trained_set if r["beta"] == b] for b in (0.0, 3.0)}
    # every seed: the regularised representation's decoder generalises better (measured margin 0.007-0.04)
    assert all(a < b for a, b in zip(gap[3.0], gap[0.0])), gap
    hn = {b: np.mean([r["h_n"] for r in trained_set if r["beta"] == b]) for b in (-1.0, 0.0, 3.0)}
    assert hn[-1.0] < hn[0.0] < hn[3.0], hn  # beta orders the V-minimality estimate as intended


@pytest.mark.slow
@pytest.mark.xfail(strict=False, reason="at this scale V-minimality only weakly predicts the gap net by net: Spearman of "
                   "H_V[N|Z] vs loss gap -0.28 over these 9 nets, -0.13 over 15 (benchmark); -1.0 over the 5 "
                   "beta means")
def test_v_minimality_predicts_generalisation(trained_set):
    rho = spearmanr([r["h_n"] for r in trained_set], [r["loss_gap"] for r in trained_set])[0]
    assert rho < -0.5, rho  # more V-minimal (larger H_V[N|Z]) -> smaller gap
