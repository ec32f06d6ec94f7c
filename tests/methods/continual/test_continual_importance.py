"""Per-sample importances (Fisher, empirical Fisher, AF, MAS) against closed forms and autograd loops.

Reference model: multinomial logistic regression ``f(x) = W x + b`` in float64, for which the
gradient of one sample's cross-entropy is ``(p - e_y) x^T`` (and ``p - e_y`` for ``b``), so each
importance has a closed form in the softmax probabilities ``p``:

* Fisher: ``E_{y~p}(p_k - [y=k])^2 = p_k (1 - p_k)``  ->  ``F[W_kj] = mean_x p_k(1-p_k) x_j^2``;
* absolute Fisher: ``E_{y~p}|p_k - [y=k]| = 2 p_k (1 - p_k)``  ->  ``AF[W_kj] = mean_x 2 p_k(1-p_k)|x_j|``;
* MAS: ``d||f||^2 / dW_kj = 2 f_k x_j``  ->  ``MAS[W_kj] = mean_x |2 f_k x_j|``.
"""
from __future__ import annotations

import numpy as np
import pytest
import torch

from neurolatent.methods.common import MLP, make_teacher_classification
from neurolatent.methods.continual import importance, per_sample_importance


@pytest.fixture
def logreg():
    gen = torch.Generator().manual_seed(0)
    net = torch.nn.Linear(4, 3).double()
    with torch.no_grad():
        net.weight.copy_(torch.randn(3, 4, generator=gen, dtype=torch.float64))
        net.bias.copy_(torch.randn(3, generator=gen, dtype=torch.float64))
    x = torch.randn(40, 4, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 3, (40,), generator=gen)
    return net, x, y


def _probs(net, x):
    with torch.no_grad():
        return torch.softmax(net(x), -1)


def test_fisher_matches_expected_fisher_of_logistic_regression(logreg):
    net, x, _ = logreg
    samples = 300
    est = per_sample_importance(net, x, kind="fisher", samples=samples, generator=torch.Generator().manual_seed(1))
    p = _probs(net, x)                                    # (n, K)
    v = p * (1 - p)                                       # E (p_k - [y=k])^2
    m4 = p * (1 - p) ** 4 + (1 - p) * p ** 4              # E (p_k - [y=k])^4
    exact_w = (v[:, :, None] * x[:, None, :] ** 2).mean(0)
    exact_b = v.mean(0)
    # Monte Carlo standard error of the mean over n * samples independent label draws
    var_w = ((m4 - v ** 2)[:, :, None] * x[:, None, :] ** 4).mean(0) / (x.shape[0] * samples)
    var_b = (m4 - v ** 2).mean(0) / (x.shape[0] * samples)
    # 5 standard errors: a correct estimator fails with probability < 1e-5 per entry (27 entries)
    assert torch.all((est["weight"] - exact_w).abs() < 5 * var_w.sqrt() + 1e-12)
    assert torch.all((est["bias"] - exact_b).abs() < 5 * var_b.sqrt() + 1e-12)
    # and the estimate is not trivially close: relative errors are at the percent level, not zero
    assert float(((est["weight"] - exact_w).abs() / exact_w).max()) > 1e-6


def test_absolute_fisher_matches_closed_form(logreg):
    net, x, _ = logreg
    samples = 300
    est = per_sample_importance(net, x, kind="af", samples=samples, generator=torch.Generator().manual_seed(2))
    p = _probs(net, x)
    v = p * (1 - p)
    exact_w = (2 * v[:, :, None] * x[:, None, :].abs()).mean(0)
    var_w = ((v - 4 * v ** 2)[:, :, None] * x[:, None, :] ** 2).mean(0) / (x.shape[0] * samples)
    # 5 Monte Carlo standard errors (see the Fisher test)
    assert torch.all((est["weight"] - exact_w).abs() < 5 * var_w.sqrt() + 1e-12)


def test_empirical_fisher_is_exact(logreg):
    net, x, y = logreg
    est = importance(net, (x, y), kind="empirical_fisher")
    r = _probs(net, x) - torch.nn.functional.one_hot(y, 3).double()
    exact_w = (r[:, :, None] ** 2 * x[:, None, :] ** 2).mean(0)
    # deterministic (no sampling), float64: only rounding differences
    torch.testing.assert_close(est["weight"], exact_w, rtol=1e-10, atol=1e-14)
    torch.testing.assert_close(est["bias"], (r ** 2).mean(0), rtol=1e-10, atol=1e-14)


def test_mas_matches_closed_form_for_a_linear_model(logreg):
    net, x, _ = logreg
    est = per_sample_importance(net, x, kind="mas", batch_size=7)  # chunking must not change the mean
    with torch.no_grad():
        f = net(x)
    exact_w = (2 * f[:, :, None] * x[:, None, :]).abs().mean(0)
    torch.testing.assert_close(est["weight"], exact_w, rtol=1e-10, atol=1e-14)  # float64 rounding only
    torch.testing.assert_close(est["bias"], (2 * f).abs().mean(0), rtol=1e-10, atol=1e-14)


def test_mas_on_an_mlp_matches_a_loop_and_finite_differences():
    d = make_teacher_classification(60, 5, 3, seed=3, dtype=torch.float64)
    net = MLP(5, (6,), 3, activation="tanh", seed=0, dtype=torch.float64)
    x = d.x_train[:12]
    est = per_sample_importance(net, x, kind="mas")
    names = [n for n, _ in net.named_parameters()]
    loop = {n: torch.zeros_like(p) for n, p in net.named_parameters()}
    for xi in x:
        g = torch.autograd.grad(net(xi[None]).pow(2).sum(), list(net.parameters()))
        for n, gi in zip(names, g):
            loop[n] += gi.abs() / x.shape[0]
    for n in names:
        torch.testing.assert_close(est[n], loop[n], rtol=1e-10, atol=1e-13)  # same maths, float64
    # one coordinate by central differences of ||f(x_0)||^2 (step 1e-6: error ~1e-10 in float64)
    w = net.blocks[0].layer.weight
    h, (i, j) = 1e-6, (2, 3)

    def sq(delta):
        with torch.no_grad():
            w[i, j] += delta
            out = float(net(x[:1]).pow(2).sum())
            w[i, j] -= delta
        return out

    fd = (sq(h) - sq(-h)) / (2 * h)
    single = per_sample_importance(net, x[:1], kind="mas")["blocks.0.layer.weight"][i, j]
    assert abs(abs(fd) - float(single)) < 1e-6 * max(1.0, abs(fd))


def test_fisher_is_seeded_and_does_not_touch_the_model():
    d = make_teacher_classification(80, 5, 3, seed=0)
    net = MLP(5, (8,), 3, seed=0)
    before = {n: p.detach().clone() for n, p in net.named_parameters()}
    a = importance(net, d, kind="fisher", seed=4)
    b = importance(net, d, kind="fisher", seed=4)
    c = importance(net, d, kind="fisher", seed=5)
    for n in a:
        assert torch.equal(a[n], b[n])
        assert torch.equal(before[n], dict(net.named_parameters())[n].detach())
    assert any(not torch.equal(a[n], c[n]) for n in a)


def test_importance_bad_inputs():
    net = torch.nn.Linear(3, 2)
    x, y = torch.randn(4, 3), torch.zeros(4, dtype=torch.long)
    with pytest.raises(ValueError, match="unknown importance kind 'fisherr'.*'mas'"):
        importance(net, (x, y), kind="fisherr")
    with pytest.raises(ValueError, match="x has 4 samples but y has 3"):
        importance(net, (x, y[:3]), kind="mas")
    with pytest.raises(ValueError, match="no samples"):
        per_sample_importance(net, x[:0], kind="mas")
    with pytest.raises(ValueError, match="needs the labels"):
        per_sample_importance(net, x, kind="empirical_fisher")
    with pytest.raises(TypeError, match="path-integral"):
        importance(net, (x, y), kind="mas", epochs=3)
    assert np.isfinite(float(importance(net, (x, y), kind="af")["weight"].sum()))
