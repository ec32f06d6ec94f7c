"""Reversible MLP and exact Gauss-Newton (Buffelli et al. 2024): exactness checks and the paper's claims."""
from __future__ import annotations

import copy

import pytest
import torch

from _optim_helpers import adam, best_loss, sgd
from neurolatent.methods.common import (ClassificationData, evaluate, linear_cka, load_digits,
                                       make_teacher_classification, train)
from neurolatent.methods.optim import ReversibleMLP, exact_gauss_newton, gauss_newton_kernel, onehot_mse


def test_reversible_inverse_is_exact(seed):
    net = ReversibleMLP(10, 3, n_blocks=3, hidden=8, seed=seed, dtype=torch.float64)
    x = torch.randn(20, 10, dtype=torch.float64)
    torch.testing.assert_close(net.invert(net.features(x)), x, rtol=0, atol=1e-12)  # float64 round-off
    with pytest.raises(ValueError, match="even"):
        ReversibleMLP(7, 3)
    with pytest.raises(ValueError, match="expects 10"):
        net(torch.randn(2, 8, dtype=torch.float64))
    ident = ReversibleMLP(10, 3, n_blocks=2, hidden=8, seed=seed, init_scale=0.0, dtype=torch.float64)
    torch.testing.assert_close(ident.features(x), x, rtol=0, atol=0)  # zero couplings: the identity map
    with pytest.raises(ValueError, match="init_scale"):
        ReversibleMLP(10, 3, init_scale=-1.0)


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

    3-value grids each. Measured best training losses (seeds 0-2): GN 0.182 / 0.175 / 0.187 (lr 0.3),
    Adam 0.258 / 0.263 / 0.275, SGD 0.239 / 0.392 / 0.384 (GN / best baseline 0.76 / 0.66 / 0.68).
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


def _block_change(net: ReversibleMLP, net0: ReversibleMLP) -> float:
    with torch.no_grad():
        p = torch.cat([q.reshape(-1) for q in net.blocks.parameters()])
        p0 = torch.cat([q.reshape(-1) for q in net0.blocks.parameters()])
    return float((p - p0).norm() / p0.norm())


def test_function_space_step_moves_wide_networks_less():
    """The mechanism behind laziness: one full GN step (lr 1, fits the minibatch) on 32 digits changes the
    coupling weights by 8.5% / 7.8% at hidden 16 and 2.2% / 2.2% at hidden 1024 (seeds 0 / 1; 0.7% at 4096).
    Margin: the wide network moves < 0.5 x the narrow one (relative norm)."""
    d = load_digits(seed=0)
    x, y = d.x_train[:32], d.y_train[:32]
    for seed in (0, 1):
        rel = {}
        for hidden in (16, 1024):
            net = ReversibleMLP(64, 10, n_blocks=2, hidden=hidden, seed=seed)
            net0 = copy.deepcopy(net)
            opt = exact_gauss_newton(net, lr=1.0)
            opt.zero_grad()
            onehot_mse(net(x), y).backward()
            opt.step()
            rel[hidden] = _block_change(net, net0)
        assert rel[1024] < 0.5 * rel[16], (seed, rel)


# -- long runs: Buffelli et al.'s generalisation and laziness findings ------------------------------------
TEACHER = dict(n_samples=1600, n_features=32, n_classes=4, hidden=4, seed=0)
GRIDS = {"adam": [3e-4, 1e-3, 3e-3], "sgd": [0.01, 0.03, 0.1]}


def _run(d, make_opt, seed):
    net = ReversibleMLP(32, 4, n_blocks=2, hidden=1024, seed=seed)
    net0 = copy.deepcopy(net)
    try:
        train(net, d, epochs=10, batch_size=32, optimizer=make_opt(net), loss_fn=onehot_mse, seed=seed)
    except FloatingPointError:
        return None
    probe = d.x_test[:32]
    with torch.no_grad():
        cka = min(float(linear_cka(a, b)) for a, b in zip(net.block_outputs(d.x_test), net0.block_outputs(d.x_test)))
    k0, k1 = gauss_newton_kernel(net0, probe), gauss_newton_kernel(net, probe)
    return dict(train=evaluate(net, d.x_train, d.y_train, loss_fn=onehot_mse)["loss"],
                test_acc=evaluate(net, d.x_test, d.y_test)["accuracy"], cka=cka, rel_change=_block_change(net, net0),
                ntk_change=float((k1 - k0).norm() / k0.norm()))


@pytest.fixture(scope="module")
def long_runs():
    """Teacher task (32 Gaussian features, 4 classes from a 4-unit tanh teacher; 1200 train / 400 test),
    RevMLP 2 blocks x hidden 1024 (~270k parameters >> N*C = 128 per batch), batch 32, 10 epochs, one-hot MSE.
    GN takes the paper's full function-space step (lr 1, damping 1e-6); Adam and SGD each keep the best test
    accuracy of a 3-value learning-rate grid. Seeds 0, 1 (~30 s on one core)."""
    d = make_teacher_classification(**TEACHER)
    out = {}
    for seed in (0, 1):
        out["gn", seed] = _run(d, lambda m: exact_gauss_newton(m, lr=1.0), seed)
        for name, cls in (("adam", torch.optim.Adam), ("sgd", torch.optim.SGD)):
            runs = [r for lr in GRIDS[name] if (r := _run(d, lambda m: cls(m.parameters(), lr=lr), seed))]
            out[name, seed] = dict(max(runs, key=lambda r: r["test_acc"]), best_train=min(r["train"] for r in runs))
    return out


@pytest.mark.slow
def test_gauss_newton_generalises_worse_and_saturates(long_runs):
    """Measured (seeds 0 / 1): test accuracy GN 0.733 / 0.745, Adam 0.815 / 0.815, SGD 0.813 / 0.800;
    final training loss GN 0.175 / 0.164 vs the best of Adam's grid 0.134 / 0.125: the full step fits each
    minibatch and training progress saturates above Adam's.

    Holds only for the full step and on this task: GN with lr 0.3 reached 0.875 / 0.875 test accuracy (better
    than Adam), and on digits (600 images, hidden 1024) GN lr 1 reached 0.984 / 0.984 vs Adam 0.962 / 0.956.
    Margins: GN test accuracy at least 0.04 below the better of Adam and SGD (observed gaps 0.07-0.08); GN
    training loss > 1.15 x Adam's best (observed 1.31 / 1.31).
    """
    for seed in (0, 1):
        gn, best = long_runs["gn", seed], max(long_runs["adam", seed]["test_acc"], long_runs["sgd", seed]["test_acc"])
        assert gn["test_acc"] < best - 0.04, (seed, gn, best)
        assert gn["train"] > 1.15 * long_runs["adam", seed]["best_train"], (seed, gn, long_runs["adam", seed])


def _coupling_hiddens(net: ReversibleMLP, x: torch.Tensor) -> list[torch.Tensor]:
    """The tanh hidden layer of every coupling MLP (the network's wide internal representations)."""
    out, h = [], net._flat(x)
    for blk in net.blocks:
        x1, x2 = h.chunk(2, -1)
        out.append(torch.tanh(blk.f[0](x2)))
        y1 = x1 + blk.f(x2)
        out.append(torch.tanh(blk.g[0](y1)))
        h = torch.cat([y1, x2 + blk.g(y1)], -1)
    return out


def _lazy_run(d, make_opt, seed):
    net = ReversibleMLP(64, 10, n_blocks=2, hidden=1024, seed=seed, init_scale=0.1)
    net0 = copy.deepcopy(net)
    train(net, d, epochs=10, batch_size=32, optimizer=make_opt(net), loss_fn=onehot_mse, seed=seed)
    probe = d.x_test[:32]
    with torch.no_grad():
        cka = min(float(linear_cka(a, b)) for a, b in zip(net.block_outputs(d.x_test), net0.block_outputs(d.x_test)))
        cka_hidden = min(float(linear_cka(a, b)) for a, b in
                         zip(_coupling_hiddens(net, d.x_test), _coupling_hiddens(net0, d.x_test)))
    k0, k1 = gauss_newton_kernel(net0, probe), gauss_newton_kernel(net, probe)
    return dict(test_acc=evaluate(net, d.x_test, d.y_test)["accuracy"], cka=cka, cka_hidden=cka_hidden,
                rel_change=_block_change(net, net0), ntk_change=float((k1 - k0).norm() / k0.norm()))


@pytest.fixture(scope="module")
def lazy_runs():
    """Digits (600 training images), RevMLP 2 blocks x hidden 1024 with a small initialisation (coupling weights
    x 0.1, variance ~1e-4 to 3e-6 as in Buffelli et al.'s appendix), batch 32, 10 epochs. GN with lr 0.1 (in the
    paper's range 1e-1 to 1e-4); Adam keeps the best test accuracy of a 3-value grid. Seeds 0, 1 (~30 s)."""
    d = _subset(600)
    out = {}
    for seed in (0, 1):
        out["gn", seed] = _lazy_run(d, lambda m: exact_gauss_newton(m, lr=0.1), seed)
        runs = [_lazy_run(d, lambda m: torch.optim.Adam(m.parameters(), lr=lr), seed) for lr in GRIDS["adam"]]
        out["adam", seed] = max(runs, key=lambda r: r["test_acc"])
    return out


@pytest.mark.slow
def test_gauss_newton_stays_lazy(lazy_runs):
    """Measured (seeds 0 / 1): GN's tangent kernel on 32 test inputs moved 3.2% / 2.9% (relative Frobenius),
    min CKA to init 0.9999 / 0.9999 (block outputs) and 0.9999 / 0.9999 (coupling hidden layers), coupling
    weights moved 8.0% / 7.9%. Adam (lr 3e-3, its best test accuracy on both seeds): kernel 62% / 64%, hidden
    CKA 0.52 / 0.53, weights 189% / 186% -- it learns features, GN does not (SGD, lr 0.03: kernel 7% / 6%,
    CKA 1.0, also lazy, as in the paper).

    Regime-dependent: with PyTorch's default initialisation GN was *not* lazier than Adam (teacher task, lr 1:
    weights 19% / 19%, kernel 557% vs Adam 97%; digits, lr 1: weights 12%, kernel 132%, block CKA 0.86 vs Adam's
    0.82-0.85), and with the small initialisation the full step (lr 1) was not lazy either (digits: kernel
    moved 10x, weights 254%).
    Margins: GN kernel change < 0.1 and < Adam's / 3; GN CKAs > 0.99; Adam's hidden CKA < 0.9; GN weight
    change < 0.15 (observed 0.08).
    """
    for seed in (0, 1):
        gn, ad = lazy_runs["gn", seed], lazy_runs["adam", seed]
        assert gn["ntk_change"] < min(0.1, ad["ntk_change"] / 3), (seed, gn, ad)
        assert min(gn["cka"], gn["cka_hidden"]) > 0.99 and ad["cka_hidden"] < 0.9, (seed, gn, ad)
        assert gn["rel_change"] < 0.15, (seed, gn)


@pytest.mark.slow
@pytest.mark.xfail(strict=False, reason=(
    "not reproduced at an equal tuning budget: in the regime where GN is lazy (small init, digits, hidden 1024) "
    "GN lr 0.1 reached test accuracy 0.898 / 0.904 vs Adam's best 0.900 / 0.895 after 10 epochs (seeds 0 / 1). "
    "After 30 epochs GN lr 0.1 had saturated (training loss 0.172 / 0.177, test 0.900 / 0.913) while Adam kept "
    "improving (test 0.920 / 0.933, best training loss 0.163 / 0.157) -- the paper's picture, by a 0.02 margin -- "
    "but GN lr 0.03 (still lazy: kernel moved 4%, CKA 1.0) reached 0.935 / 0.929, as good as Adam. A clear "
    "generalisation gap was only seen with the full step (lr 1) on the teacher task, where GN is not lazy."))
def test_lazy_gauss_newton_generalises_worse(lazy_runs):
    for seed in (0, 1):
        assert lazy_runs["gn", seed]["test_acc"] < lazy_runs["adam", seed]["test_acc"] - 0.01
