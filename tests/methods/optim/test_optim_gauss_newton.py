"""GaussNewton (layer-wise Gram form of the exact Gauss-Newton step) against full-Jacobian references."""
from __future__ import annotations

import copy

import pytest
import torch
from torch import nn
from torch.func import functional_call, jacrev

from neurolatent.methods.optim import (ExactNaturalGradient, GaussNewton, ReversibleMLP, exact_gauss_newton,
                                       gauss_newton_kernel, onehot_mse)


def _full_jacobian(net, x):
    params = {k: v.detach() for k, v in net.named_parameters()}
    jac = jacrev(lambda ps: functional_call(net, ps, (x,)))(params)
    n, c = x.shape[0], jac[next(iter(jac))].shape[1]
    return torch.cat([jac[k].reshape(n * c, -1) for k in params], 1)


def test_kernel_equals_jacobian_gram(seed):
    torch.manual_seed(seed)
    net = ReversibleMLP(6, 3, n_blocks=2, hidden=5, seed=seed, dtype=torch.float64)
    x = torch.randn(7, 6, dtype=torch.float64)
    j = _full_jacobian(net, x)  # independent reference: autodiff Jacobian of all outputs
    torch.testing.assert_close(gauss_newton_kernel(net, x), j @ j.T, rtol=1e-10, atol=1e-12)  # float64 round-off


@pytest.mark.parametrize("damping", [1e-3, 1e-6])
def test_step_equals_full_jacobian_step(damping, seed):
    """Same update as ExactNaturalGradient(loss='mse') and as the dense -eta (J^T J/N + lam I)^{-1} g."""
    torch.manual_seed(seed)
    net = ReversibleMLP(8, 3, n_blocks=2, hidden=6, seed=seed, dtype=torch.float64)
    x, y = torch.randn(5, 8, dtype=torch.float64), torch.randint(0, 3, (5,))
    nets = [copy.deepcopy(net) for _ in range(2)]
    opts = [GaussNewton(nets[0], lr=0.7, damping=damping),
            ExactNaturalGradient(nets[1], lr=0.7, damping=damping, loss="mse")]
    for m, o in zip(nets, opts):
        o.zero_grad()
        onehot_mse(m(x), y).backward()
        o.step()
    j = _full_jacobian(net, x)
    r = (net(x) - nn.functional.one_hot(y, 3).to(x)).detach().reshape(-1)
    g = j.T @ r / 5
    ref = -0.7 * torch.linalg.solve(j.T @ j / 5 + damping * torch.eye(j.shape[1], dtype=torch.float64), g)
    got = torch.cat([(p - q).detach().reshape(-1) for p, q in zip(nets[0].parameters(), net.parameters())])
    # dense P x P solve (P = 342) vs an (NC x NC) solve: both float64; the dense system's condition number
    # (~1/lam relative) limits agreement to ~1e-16/lam relative
    torch.testing.assert_close(got, ref, rtol=1e-7, atol=1e-9)
    if damping == 1e-3:  # the Jacobian form divides by lam, so compare it only where that is harmless
        other = torch.cat([(p - q).detach().reshape(-1) for p, q in zip(nets[1].parameters(), net.parameters())])
        torch.testing.assert_close(got, other, rtol=1e-9, atol=1e-11)  # float64 round-off


def test_full_step_fits_the_minibatch_of_the_linearised_model(seed):
    """lr = 1 and lam -> 0: J dtheta = -r exactly (J of full row rank: P = 342 > N*C = 15)."""
    torch.manual_seed(seed)
    net = ReversibleMLP(8, 3, n_blocks=2, hidden=6, seed=seed, dtype=torch.float64)
    x, y = torch.randn(5, 8, dtype=torch.float64), torch.randint(0, 3, (5,))
    j = _full_jacobian(net, x)
    r = (net(x) - nn.functional.one_hot(y, 3).to(x)).detach().reshape(-1)
    theta0 = torch.cat([p.detach().reshape(-1) for p in net.parameters()])
    opt = exact_gauss_newton(net, lr=1.0, damping=1e-12)
    opt.zero_grad()
    onehot_mse(net(x), y).backward()
    opt.step()
    d = torch.cat([p.detach().reshape(-1) for p in net.parameters()]) - theta0
    torch.testing.assert_close(j @ d, -r, rtol=1e-8, atol=1e-8)  # damping 1e-12 and the solve's round-off
    # and it is the minimum-norm solution: d lies in the row space of J
    coef = torch.linalg.lstsq(j.T, d.unsqueeze(1)).solution
    torch.testing.assert_close(j.T @ coef.squeeze(1), d, rtol=1e-8, atol=1e-10)


def test_bad_input():
    with pytest.raises(ValueError, match="damping"):
        GaussNewton(nn.Linear(2, 2), damping=0.0)
    with pytest.raises(TypeError, match="BatchNorm1d"):
        GaussNewton(nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3), nn.Linear(3, 2)))
    with pytest.raises(ValueError, match="method='jacobian'"):
        exact_gauss_newton(nn.Linear(2, 2), loss="cross_entropy")
    assert isinstance(exact_gauss_newton(nn.Linear(2, 2), loss="cross_entropy", method="jacobian"),
                      ExactNaturalGradient)
    net = nn.Linear(3, 2)
    opt = GaussNewton(net)
    with pytest.raises(RuntimeError, match="no batch recorded"):
        opt.step()
    x = torch.randn(4, 3)
    x[0, 0] = float("nan")
    w = net.weight.detach().clone()
    opt.zero_grad()
    net(x).pow(2).sum().backward()
    with pytest.warns(RuntimeWarning, match="NaN or inf"):
        opt.step()
    assert torch.equal(net.weight.detach(), w)  # skipped
    opt = GaussNewton(net, nonfinite="raise")
    opt.zero_grad()
    net(x).pow(2).sum().backward()
    with pytest.raises(FloatingPointError):
        opt.step()
