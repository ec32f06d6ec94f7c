"""Reversible MLP and exact Gauss-Newton (Buffelli et al. 2024): exactness checks and the paper's claims."""
from __future__ import annotations

import copy

import pytest
import torch

from _optim_helpers import adam, best_loss, sgd
from neurolatent.methods.common import ClassificationData, evaluate, linear_cka, load_digits, train
from neurolatent.methods.optim import ReversibleMLP, exact_gauss_newton, onehot_mse


def test_reversible_inverse_is_exact(seed):
    net = ReversibleMLP(10, 3, n_blocks=3, hidden=8, seed=seed, dtype=torch.float64)
    x = torch.randn(20, 10, dtype=torch.float64)
    torch.testing.assert_close(net.invert(net.features(x)), x, rtol=0, atol=1e-12)  # float64 round-off
    with pytest.raises(ValueError, match="even"):
        ReversibleMLP(7, 3)
    with pytest.raises(ValueError, match="expects 10"):
        net(torch.randn(2, 8, dtype=torch.float64))


def test_gauss_newton_step_is_function_space_gradient_step(seed):
    """With P > N*C, a small GN step moves the outputs by -eta * (f - t) to first order (min-norm J^+ r)."""
    torch.manual_seed(seed)
    net = ReversibleMLP(8, 3, n_blocks=2, hidden=8, seed=seed, dtype=torch.float64)
    x, y = torch.randn(6, 8, dtype=torch.float64), torch.randint(0, 3, (6,))
    eta = 1e-4
    opt = exact_gauss_newton(net, lr=eta, damping=1e-10)
    with torch.no_grad():
        f0 = net(x)
    r = f0 - torch.nn.functional.one_hot(y, 3).to(f0)
    opt.zero_grad()
    onehot_mse(net(x), y).backward()
    opt.step()
    with torch.no_grad():
        df = net(x) - f0
    # first-order exact; the O(eta^2) curvature term and the 1e-10 damping leave < 1e-3 relative error
    torch.testing.assert_close(df / eta, -r, rtol=1e-3, atol=1e-3)


def _subset(n: int) -> ClassificationData:
    d = load_digits(seed=0)
    return ClassificationData(d.x_train[:n], d.y_train[:n], d.x_test, d.y_test, 10, f"digits-{n}")


def test_gauss_newton_training_loss_falls_faster():
    """Digits (320 training images), RevMLP 2 blocks x hidden 16, batch 32, 2 epochs, one-hot MSE.

    3-value grids each. Measured best training losses (seeds 0-2): GN 0.185 / 0.173 / 0.187,
    Adam 0.258 / 0.263 / 0.275, SGD 0.379 / 0.392 / 0.384 (GN / best baseline 0.66-0.72).
    Margin: GN < 0.85 x the best of SGD and Adam.
    """
    data = _subset(320)
    make = lambda s: ReversibleMLP(64, 10, n_blocks=2, hidden=16, seed=s)  # noqa: E731
    for seed in (0, 1):
        kw = dict(epochs=2, batch_size=32, seed=seed, loss_fn=onehot_mse)
        g, _ = best_loss(make, lambda m, lr: exact_gauss_newton(m, lr=lr), [0.1, 0.3, 1.0], data, **kw)
        a, _ = best_loss(make, adam, [3e-3, 1e-2, 3e-2], data, **kw)
        s, _ = best_loss(make, sgd, [0.01, 0.03, 0.1], data, **kw)
        assert g < 0.85 * min(a, s), (seed, g, a, s)


@pytest.fixture(scope="module")
def long_runs():
    """10 epochs on 600 digits (batch 32) with GN (lr 0.3), Adam (1e-2), SGD (0.03); seeds 0, 1."""
    d = _subset(600)
    out = {}
    for seed in (0, 1):
        for name, make_opt in (("gn", lambda m: exact_gauss_newton(m, lr=0.3)),
                               ("adam", lambda m: torch.optim.Adam(m.parameters(), lr=1e-2)),
                               ("sgd", lambda m: torch.optim.SGD(m.parameters(), lr=0.03))):
            net = ReversibleMLP(64, 10, n_blocks=2, hidden=16, seed=seed)
            net0 = copy.deepcopy(net)
            train(net, d, epochs=10, batch_size=32, optimizer=make_opt(net), loss_fn=onehot_mse, seed=seed)
            with torch.no_grad():
                cka = min(float(linear_cka(a, b)) for a, b in
                          zip(net.block_outputs(d.x_test), net0.block_outputs(d.x_test)))
                p = torch.cat([q.reshape(-1) for q in net.blocks.parameters()])
                p0 = torch.cat([q.reshape(-1) for q in net0.blocks.parameters()])
            out[name, seed] = dict(train=evaluate(net, d.x_train, d.y_train, loss_fn=onehot_mse)["loss"],
                                   test_acc=evaluate(net, d.x_test, d.y_test)["accuracy"], cka=cka,
                                   rel_change=float((p - p0).norm() / p0.norm()))
    return out


@pytest.mark.slow
@pytest.mark.xfail(strict=False, reason=(
    "not reproduced at this scale (RevMLP width 64, hidden 16, 600 digits): GN test accuracy "
    "0.962 / 0.958 vs Adam 0.949 / 0.962 and SGD 0.915 / 0.915 (seeds 0 / 1). Buffelli et al. use wide "
    "networks on MNIST/CIFAR-10 and longer training."))
def test_gauss_newton_generalises_worse(long_runs):
    for seed in (0, 1):
        assert long_runs["gn", seed]["train"] < long_runs["adam", seed]["train"]  # holds (0.059 vs 0.106)
        assert long_runs["gn", seed]["test_acc"] < long_runs["adam", seed]["test_acc"] - 0.01


@pytest.mark.slow
@pytest.mark.xfail(strict=False, reason=(
    "not reproduced at this scale: GN moved the coupling weights by 46% / 45% (relative norm) and the "
    "min block CKA to init was 0.92 / 0.90 -- as much as Adam (36-70%, 0.90-0.95) and far from SGD "
    "(5%, 0.999). Laziness needs the wide-network regime of the paper."))
def test_gauss_newton_stays_lazy(long_runs):
    for seed in (0, 1):
        assert long_runs["gn", seed]["cka"] > 0.98
        assert long_runs["gn", seed]["rel_change"] < 0.1
