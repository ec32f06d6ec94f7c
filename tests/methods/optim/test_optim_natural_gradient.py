"""Exact Fisher, Fisher-vector products and the exact natural-gradient step against independent references."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from _optim_helpers import best_loss
from neurolatent.methods.common import MLP, load_digits
from neurolatent.methods.optim import KFAC, ExactNaturalGradient, fisher_matrix, fisher_vector_product


def _tiny(seed):
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 3)).double()
    return net, torch.randn(7, 3, dtype=torch.float64)


def _flat_grad_of(net, scalar):
    gs = torch.autograd.grad(scalar, list(net.parameters()), retain_graph=True)
    return torch.cat([g.reshape(-1) for g in gs])


def test_fisher_equals_expected_score_outer_product(seed):
    """F = (1/N) sum_n sum_c p_nc s_nc s_nc^T with scores s = grad log p(c|x_n): enumerated, not sampled."""
    net, x = _tiny(seed)
    ref = 0
    for n in range(x.shape[0]):
        logp = torch.log_softmax(net(x[n:n + 1]), 1)[0]
        for c in range(3):
            s = _flat_grad_of(net, logp[c])
            ref = ref + logp[c].exp().detach() * torch.outer(s, s)
    ref = ref / x.shape[0]
    torch.testing.assert_close(fisher_matrix(net, x), ref, rtol=1e-10, atol=1e-12)  # float64 round-off


def test_gauss_newton_mse_equals_jacobian_product(seed):
    net, x = _tiny(seed)
    jac = torch.autograd.functional.jacobian(lambda *ps: torch.func.functional_call(
        net, dict(zip([k for k, _ in net.named_parameters()], ps)), (x,)), tuple(net.parameters()))
    j = torch.cat([t.reshape(7 * 3, -1) for t in jac], 1)
    torch.testing.assert_close(fisher_matrix(net, x, loss="mse"), j.T @ j / 7, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("loss", ["cross_entropy", "mse"])
def test_fisher_vector_product_matches_dense(loss, seed):
    net, x = _tiny(seed)
    names = [k for k, _ in net.named_parameters()]
    v = {k: torch.randn_like(p) for k, p in net.named_parameters()}
    fv = fisher_vector_product(net, x, v, loss=loss)
    dense = fisher_matrix(net, x, loss=loss) @ torch.cat([v[k].reshape(-1) for k in names])
    torch.testing.assert_close(torch.cat([fv[k].reshape(-1) for k in names]), dense, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("batch", [2, 40])  # Woodbury path (N*C < P) and dense path (N*C > P)
def test_step_is_damped_solve(batch, seed):
    torch.manual_seed(seed)
    net = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 3)).double()
    x, y = torch.randn(batch, 3, dtype=torch.float64), torch.randint(0, 3, (batch,))
    lam, lr = 0.03, 0.7
    fm = fisher_matrix(net, x)
    theta0 = torch.cat([p.detach().reshape(-1) for p in net.parameters()])
    opt = ExactNaturalGradient(net, lr=lr, damping=lam)
    opt.zero_grad()
    F.cross_entropy(net(x), y).backward()
    g = torch.cat([p.grad.reshape(-1) for p in net.parameters()])
    opt.step()
    ref = theta0 - lr * torch.linalg.solve(fm + lam * torch.eye(fm.shape[0], dtype=torch.float64), g)
    got = torch.cat([p.detach().reshape(-1) for p in net.parameters()])
    torch.testing.assert_close(got, ref, rtol=1e-8, atol=1e-10)  # Woodbury vs dense solve, float64


def test_exact_natural_gradient_does_not_beat_kfac():
    """Benzing (2022): exact NG is no better than KFAC per step (640 digits, MLP 64-16-10, batch 32, 2 epochs).

    Equal learning-rate grids [0.03, 0.1, 0.3] (both optima bracketed at 0.1), same damping 1e-2.
    Measured best training losses (seeds 0, 1, 2): KFAC 0.075 / 0.061 / 0.051, NG 0.213 / 0.215 / 0.200
    (NG / KFAC = 2.9, 3.5, 3.9). With damping 0.1 KFAC was still ahead (0.112 vs 0.136, 0.086 vs 0.263);
    with damping 1 both reduce to slow gradient descent and NG was marginally ahead (0.42 vs 0.49).
    The assertion only requires NG not to be clearly better: NG >= 0.8 x KFAC.
    """
    d = load_digits(seed=0)
    sub = type(d)(d.x_train[:640], d.y_train[:640], d.x_test, d.y_test, 10, "digits-640")
    make = lambda s: MLP(64, (16,), 10, seed=s)  # noqa: E731
    for seed in (0, 1):
        k, _ = best_loss(make, lambda m, lr: KFAC(m, lr=lr, damping=1e-2), [0.03, 0.1, 0.3], sub, epochs=2,
                         batch_size=32, seed=seed)
        n, _ = best_loss(make, lambda m, lr: ExactNaturalGradient(m, lr=lr, damping=1e-2), [0.03, 0.1, 0.3], sub,
                         epochs=2, batch_size=32, seed=seed)
        assert n >= 0.8 * k, (seed, n, k)


def test_bad_input():
    net = nn.Linear(2, 2)
    for bad in (0.0, -1e-3):
        with pytest.raises(ValueError, match="damping"):
            ExactNaturalGradient(net, damping=bad)
    with pytest.raises(ValueError, match="loss"):
        ExactNaturalGradient(net, loss="hinge")
    opt = ExactNaturalGradient(net)
    with pytest.raises(RuntimeError, match="no batch recorded"):
        opt.step()
    x = torch.randn(3, 2)
    x[1, 1] = float("inf")
    opt.zero_grad()
    net(x).sum().backward()
    w = net.weight.detach().clone()
    with pytest.warns(RuntimeWarning, match="NaN or inf"):
        opt.step()
    assert torch.equal(w, net.weight.detach())
