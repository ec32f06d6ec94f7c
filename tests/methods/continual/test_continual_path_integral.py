"""SI, SIU and SIB path integrals: an exact quadratic case, the SI = SIU + SIB identity, SI's bias.

Exact case: ``L(w) = (1/d) sum_i (c w_i - y_i)^2`` (a linear model on ``x = c I``) is separable with
curvature ``a = 2 c^2 / d`` per coordinate. Plain gradient descent with step ``eta`` contracts the
error by ``(1 - eta a)`` per step, so the decrease of ``L_i`` in one step is
``(a/2) e_t^2 (1 - (1 - eta a)^2) = eta g_t^2 (1 - eta a / 2)`` and therefore

    omega_i = -sum_t g_t Delta_t = sum_t eta g_t^2 = (L_i(w_0) - L_i(w_T)) / (1 - eta a / 2)

exactly, for any number of steps: SI's path integral equals the loss decrease up to a known factor.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from neurolatent.methods.common import make_teacher_classification
from neurolatent.methods.continual import PathIntegral, importance, path_importance

D, C, ETA, STEPS = 6, 1.5, 0.05, 40


def _quadratic_problem():
    gen = torch.Generator().manual_seed(0)
    net = torch.nn.Linear(D, 1, bias=False).double()
    with torch.no_grad():
        net.weight.copy_(torch.randn(1, D, generator=gen, dtype=torch.float64))
    x = C * torch.eye(D, dtype=torch.float64)
    y = torch.randn(D, generator=gen, dtype=torch.float64)
    return net, x, y


def _mse(out, y):
    return (out.squeeze(-1) - y).pow(2).mean()


def _per_coordinate_loss(w, y):
    return (C * w - y).pow(2) / D


def test_si_equals_the_loss_decrease_on_a_quadratic():
    net, x, y = _quadratic_problem()
    w0 = net.weight.detach().clone()[0]
    omega = path_importance(net, (x, y), kind="si", epochs=STEPS, batch_size=D, loss_fn=_mse,
                            optimizer=lambda p: torch.optim.SGD(p, lr=ETA), normalise=False)["weight"][0]
    w1 = net.weight.detach()[0]
    a = 2 * C ** 2 / D
    exact = (_per_coordinate_loss(w0, y) - _per_coordinate_loss(w1, y)) / (1 - ETA * a / 2)
    # float64, 40 steps: only rounding error
    torch.testing.assert_close(omega, exact, rtol=1e-9, atol=1e-12)
    assert bool((omega > 0).all())
    # the normalised importance divides by the squared displacement plus xi
    net2, _, _ = _quadratic_problem()
    omega_n = path_importance(net2, (x, y), kind="si", epochs=STEPS, batch_size=D, loss_fn=_mse, xi=0.1,
                              optimizer=lambda p: torch.optim.SGD(p, lr=ETA))["weight"][0]
    torch.testing.assert_close(omega_n, exact / ((w1 - w0) ** 2 + 0.1), rtol=1e-9, atol=1e-12)


def test_full_batch_has_no_bias():
    # with the whole data set as minibatch, the independent gradient equals the training one:
    # SIU = SI and SIB = 0 (up to the summation order of the two gradients)
    out = {}
    for kind in ("si", "siu", "sib"):
        net, x, y = _quadratic_problem()
        out[kind] = path_importance(net, (x, y), kind=kind, epochs=10, batch_size=D, loss_fn=_mse,
                                    optimizer=lambda p: torch.optim.SGD(p, lr=ETA), normalise=False)["weight"]
    torch.testing.assert_close(out["siu"], out["si"], rtol=1e-10, atol=1e-13)
    assert float(out["sib"].abs().max()) < 1e-12


def test_si_is_siu_plus_sib_and_the_bias_is_positive():
    # the three runs follow the same trajectory (same seed; the independent minibatch does not
    # move the parameters), so omega_SI = omega_SIU + omega_SIB exactly. With plain SGD,
    # E[omega_SIB] = eta * sum_t Var(minibatch gradient) > 0: SI's bias.
    d = make_teacher_classification(400, 6, 3, seed=1, dtype=torch.float64)
    out = {}
    for kind in ("si", "siu", "sib"):
        net = torch.nn.Linear(6, 3).double()
        with torch.no_grad():
            for p in net.parameters():
                p.copy_(torch.linspace(-0.3, 0.3, p.numel(), dtype=torch.float64).reshape(p.shape))
        out[kind] = path_importance(net, d, kind=kind, epochs=3, batch_size=4, seed=3, normalise=False,
                                    optimizer=lambda p: torch.optim.SGD(p, lr=0.05))
    for n in out["si"]:
        torch.testing.assert_close(out["si"][n], out["siu"][n] + out["sib"][n], rtol=1e-9, atol=1e-12)
    bias = torch.cat([v.flatten() for v in out["sib"].values()])
    # measured: every one of the 21 entries positive; the sum is about twice SIU's
    assert float((bias > 0).double().mean()) > 0.9
    siu = torch.cat([v.flatten() for v in out["siu"].values()])
    assert float(bias.sum()) > 0.5 * float(siu.sum())


def test_the_regulariser_gradient_is_not_credited():
    gen = torch.Generator().manual_seed(5)
    net = torch.nn.Linear(3, 2).double()
    x, y = torch.randn(20, 3, generator=gen, dtype=torch.float64), torch.randint(0, 2, (20,), generator=gen)
    anchor = {n: torch.zeros_like(p) for n, p in net.named_parameters()}
    lam = 0.7
    pen_grad = lambda: {n: lam * (p.detach() - anchor[n]) for n, p in net.named_parameters()}  # noqa: E731
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    tracker = PathIntegral(net, "si", x, y, batch_size=20, penalty_grad=pen_grad)
    handles = tracker.attach(opt)
    manual = {n: torch.zeros_like(p) for n, p in net.named_parameters()}
    for _ in range(5):
        before = {n: p.detach().clone() for n, p in net.named_parameters()}
        task_grads = torch.autograd.grad(F.cross_entropy(net(x), y), list(net.parameters()))
        opt.zero_grad()
        loss = F.cross_entropy(net(x), y) + 0.5 * lam * sum(p.pow(2).sum() for p in net.parameters())
        loss.backward()
        opt.step()
        for (n, p), g in zip(net.named_parameters(), task_grads):
            manual[n] -= g * (p.detach() - before[n])
    for h in handles:
        h.remove()
    for n in manual:
        torch.testing.assert_close(tracker.omega[n], manual[n], rtol=1e-10, atol=1e-13)  # float64


def test_importance_dispatches_to_path_kinds():
    d = make_teacher_classification(100, 4, 3, seed=0)
    net = torch.nn.Linear(4, 3)
    before = net.weight.detach().clone()
    imp = importance(net, d, kind="sib", epochs=1, lr=1e-2)
    assert set(imp) == {"weight", "bias"}
    assert not torch.equal(before, net.weight.detach())  # the path kinds train the model
