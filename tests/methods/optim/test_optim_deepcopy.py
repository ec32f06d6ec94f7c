"""Optimiser state that survives what users do with the model: ``copy.deepcopy``, pickling, stepping twice.

For every optimiser of the package: train a few steps, ``copy.deepcopy(model)`` (a common way to keep the
best model), then

* the copy trains with plain SGD and with a fresh optimiser of the same kind, exactly as a hook-free model
  with the same weights does (float64, same batches: equality to round-off);
* the original keeps training exactly as an uninterrupted twin run does (the copy's forward passes
  must not feed the original's curvature statistics or batch recorder).

"Second ``step()`` without a new forward": Gauss-Newton raises (it needs a fresh backward pass); the
others repeat the update with the gradients in ``.grad`` on the last recorded batch, checked against
independent references below.
"""
from __future__ import annotations

import copy
import io
import pickle

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from neurolatent.methods.optim import (FOOF, KFAC, RLLC, ExactNaturalGradient, FishLeg, GaussNewton, ReversibleMLP,
                                       exact_gauss_newton, onehot_mse)
from neurolatent.methods.optim._base import OwnedHook


def _mlp(seed):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 3)).double()


def _rev(seed):
    torch.manual_seed(seed)
    return ReversibleMLP(4, 3, n_blocks=1, hidden=6).double()


def _mse(out, y):
    return 0.5 * ((out - F.one_hot(y, out.shape[1]).to(out)) ** 2).sum(1).mean()


CASES = {
    "kfac": (_mlp, lambda m: KFAC(m, lr=0.2, damping=0.05, momentum=0.9, stat_decay=0.9), F.cross_entropy),
    "kfac-sampled": (_mlp, lambda m: KFAC(m, lr=0.2, damping=0.05, fisher="sampled", seed=3), F.cross_entropy),
    "foof": (_mlp, lambda m: FOOF(m, lr=0.2, damping=0.05, momentum=0.5), F.cross_entropy),
    "natural-gradient": (_mlp, lambda m: ExactNaturalGradient(m, lr=0.3, damping=0.1, momentum=0.5), F.cross_entropy),
    "natural-gradient-mse": (_mlp, lambda m: ExactNaturalGradient(m, lr=0.5, damping=0.1, loss="mse"), _mse),
    "fishleg": (_mlp, lambda m: FishLeg(m, lr=0.1, damping=0.1, aux_steps=2, warmup=2, seed=1), F.cross_entropy),
    "rllc": (_mlp, lambda m: RLLC(m.parameters(), lr=0.1, law_lr=0.3, betas=(0.0, 0.9)), F.cross_entropy),
    "gauss-newton": (_mlp, lambda m: GaussNewton(m, lr=0.5, damping=1e-3, momentum=0.5), onehot_mse),
    "reversible-gram": (_rev, lambda m: exact_gauss_newton(m, lr=0.5, damping=1e-3), onehot_mse),
    "reversible-jacobian": (_rev, lambda m: exact_gauss_newton(m, lr=0.5, damping=1e-3, method="jacobian"),
                            onehot_mse),
}


def _batches(n_in, seed=0, n=6):
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(12, n_in, generator=g, dtype=torch.float64), torch.randint(0, 3, (12,), generator=g))
            for _ in range(n)]


def _n_in(net):
    return next(m for m in net.modules() if isinstance(m, nn.Linear)).in_features if not isinstance(
        net, ReversibleMLP) else 4


def _step(net, opt, loss_fn, batch):
    x, y = batch
    opt.zero_grad()
    loss_fn(net(x), y).backward()
    opt.step()


def _params(net):
    return [p.detach().clone() for p in net.parameters()]


def _same(a, b):
    # identical arithmetic on identical inputs: equal up to float64 round-off of reordered BLAS sums
    return all(torch.allclose(u, v, rtol=1e-12, atol=1e-13) for u, v in zip(a, b))


def _clean_copy(net, make_model):
    """A hook-free model with ``net``'s weights (the reference the deep copy must behave like)."""
    ref = make_model(123)
    ref.load_state_dict(net.state_dict())
    return ref


@pytest.mark.parametrize("name", list(CASES))
def test_deepcopy_then_train(name):
    make_model, make_opt, loss_fn = CASES[name]
    net = make_model(0)
    batches = _batches(_n_in(net))
    opt = make_opt(net)
    for b in batches[:3]:
        _step(net, opt, loss_fn, b)

    snap = copy.deepcopy(net)  # must not fail (ExactNG/FishLeg used to leak functorch wrappers here)
    assert _same(_params(snap), _params(net))
    live = [h for m in snap.modules() for h in list(m._forward_hooks.values()) + list(m._forward_pre_hooks.values())
            if isinstance(h, OwnedHook) and h.owner is not None]
    assert live == []  # no hook of the copy reaches an optimiser

    # (a) the copy trains with plain SGD exactly like a hook-free model with the same weights
    ref = _clean_copy(net, make_model)
    for model in (snap, ref):
        sgd = torch.optim.SGD(model.parameters(), lr=0.1)
        for b in batches[3:5]:
            _step(model, sgd, loss_fn, b)
    assert _same(_params(snap), _params(ref))

    # (b) a second copy trains with a fresh optimiser of the same kind, like the hook-free model does
    snap2, ref2 = copy.deepcopy(net), _clean_copy(net, make_model)
    o_snap, o_ref = make_opt(snap2), make_opt(ref2)
    for b in batches[3:6]:
        _step(snap2, o_snap, loss_fn, b)
        _step(ref2, o_ref, loss_fn, b)
    assert _same(_params(snap2), _params(ref2))

    # (c) the original keeps training exactly like an uninterrupted twin (the copies' passes did not leak in)
    twin = make_model(0)
    opt_twin = make_opt(twin)
    for b in batches[:3]:
        _step(twin, opt_twin, loss_fn, b)
    for b in batches[3:6]:
        _step(net, opt, loss_fn, b)
        _step(twin, opt_twin, loss_fn, b)
    assert _same(_params(net), _params(twin))


@pytest.mark.parametrize("name", ["kfac", "natural-gradient", "fishleg", "gauss-newton"])
def test_pickled_model_has_no_optimiser(name):
    """``torch.save(model)`` (whole-module pickle) carries inert hooks only, and the loaded model trains."""
    make_model, make_opt, loss_fn = CASES[name]
    net = make_model(0)
    opt = make_opt(net)
    batches = _batches(_n_in(net))
    _step(net, opt, loss_fn, batches[0])
    blob = pickle.dumps(net)
    assert b"_captured" not in blob and b"aux_optimizer" not in blob
    buf = io.BytesIO()
    torch.save(net, buf)
    buf.seek(0)
    back = torch.load(buf, weights_only=False)
    sgd = torch.optim.SGD(back.parameters(), lr=0.1)
    _step(back, sgd, loss_fn, batches[1])
    assert all(torch.isfinite(p).all() for p in back.parameters())


def test_hooks_go_when_optimiser_goes():
    net = _mlp(0)
    opt = KFAC(net)
    assert len(net[0]._forward_hooks) == 1
    del opt
    import gc
    gc.collect()
    assert len(net[0]._forward_hooks) == 0  # weakref.finalize removed the handle


# -- a second step() without a new forward pass ---------------------------------------------------------------

def test_recorder_keeps_the_user_batch_only():
    """ExactNG re-runs the model inside vmap/jacrev; the recorded batch stays the user's plain tensor."""
    net = _mlp(0)
    opt = ExactNaturalGradient(net, lr=0.3, damping=0.1)
    x, y = _batches(5)[0]
    opt.zero_grad()
    F.cross_entropy(net(x), y).backward()
    opt.step()
    rec = opt._inputs.x
    assert type(rec) is torch.Tensor and torch.equal(rec, x)
    assert not torch._C._functorch.is_functorch_wrapped_tensor(rec)
    with torch.no_grad():
        net.eval()
        net(x + 1.0)  # eval-mode passes are not batches either
    net.train()
    assert torch.equal(opt._inputs.x, x)


def _jacobian(net, x):
    """Independent reference: the full Jacobian of the outputs, (N*C, P), by torch.autograd.functional."""
    names = [k for k, _ in net.named_parameters()]
    base = {k: p.detach() for k, p in net.named_parameters()}

    def f(*flat):
        return torch.func.functional_call(net, dict(zip(names, flat)), (x,)).reshape(-1)

    jac = torch.autograd.functional.jacobian(f, tuple(base.values()))
    return torch.cat([j.reshape(j.shape[0], -1) for j in jac], 1)


def test_natural_gradient_second_step_reuses_batch_and_grad():
    """Step 2 without forward = -lr (J'J/N + lam I)^-1 g_0 at the new parameters (MSE Gauss-Newton)."""
    net = _mlp(0)
    lr, lam = 0.5, 0.1
    opt = ExactNaturalGradient(net, lr=lr, damping=lam, loss="mse")
    x, y = _batches(5)[0]
    opt.zero_grad()
    _mse(net(x), y).backward()
    g0 = torch.cat([p.grad.reshape(-1) for p in net.parameters()]).clone()
    opt.step()
    theta1 = torch.cat([p.detach().reshape(-1) for p in net.parameters()])
    jac = _jacobian(net, x)
    fisher = jac.T @ jac / x.shape[0] + lam * torch.eye(jac.shape[1], dtype=jac.dtype)
    expect = theta1 - lr * torch.linalg.solve(fisher, g0)
    opt.step()  # no new forward or backward
    theta2 = torch.cat([p.detach().reshape(-1) for p in net.parameters()])
    # float64 solve of a well-conditioned (lam = 0.1) 59x59 system two ways: agreement to ~1e-12
    torch.testing.assert_close(theta2, expect, rtol=1e-10, atol=1e-11)


def test_fishleg_second_step_equals_rerun_of_same_batch():
    """FishLeg's second step without a forward uses the recorded batch, as if the user had re-run it."""
    results = []
    for rerun in (False, True):
        net = _mlp(0)
        opt = FishLeg(net, lr=0.1, damping=0.1, aux_steps=2, seed=1)
        x, y = _batches(5)[0]
        opt.zero_grad()
        F.cross_entropy(net(x), y).backward()
        opt.step()
        if rerun:
            net(x)  # records x again (no backward: .grad unchanged)
        opt.step()
        results.append(_params(net))
    assert _same(*results)


@pytest.mark.parametrize("cls", [KFAC, FOOF])
def test_kfac_second_step_repeats_update_with_same_factors(cls):
    """Without new statistics the factors stay; with the same gradient the second update equals the first."""
    net = _mlp(0)
    opt = cls(net, lr=0.2, damping=0.05, stat_decay=0.0)
    x, y = _batches(5)[0]
    opt.zero_grad()
    F.cross_entropy(net(x), y).backward()
    p0 = _params(net)
    opt.step()
    p1 = _params(net)
    factors = [{k: v.clone() for k, v in f.items()} for f in opt.state_dict()["curvature"]["factors"]]
    opt.step()
    p2 = _params(net)
    after = opt.state_dict()["curvature"]["factors"]
    assert all(torch.equal(a[k], b[k]) for a, b in zip(factors, after) for k in a)
    # same preconditioner, same gradient: the two updates agree to float64 round-off of the parameter sums
    for a, b, c in zip(p0, p1, p2):
        torch.testing.assert_close(c - b, b - a, rtol=1e-9, atol=1e-12)


def test_gauss_newton_second_step_needs_backward():
    net = _mlp(0)
    opt = GaussNewton(net, lr=0.5, damping=1e-3)
    x, y = _batches(5)[0]
    opt.zero_grad()
    onehot_mse(net(x), y).backward()
    opt.step()
    with pytest.raises(RuntimeError, match="back-propagate the loss before step"):
        opt.step()
    opt.zero_grad()
    onehot_mse(net(x), y).backward()
    opt.step()  # a fresh backward pass makes it step again


def test_rllc_second_step_repeats_with_same_gradient():
    """RLLC with a fixed law (law_lr=0, L=(1, 0)): memory of a repeated gradient g stays g, so both steps are -lr g."""
    net = _mlp(0)
    opt = RLLC(net.parameters(), lr=0.1, law_lr=0.0, betas=(0.0, 0.9))
    x, y = _batches(5)[0]
    opt.zero_grad()
    F.cross_entropy(net(x), y).backward()
    grads = [p.grad.clone() for p in net.parameters()]
    p0 = _params(net)
    opt.step()
    p1 = _params(net)
    opt.step()
    p2 = _params(net)
    for a, b, c, g in zip(p0, p1, p2, grads):
        # closed form -lr * g; float64 sums of two terms: round-off only
        torch.testing.assert_close(b - a, -0.1 * g, rtol=1e-12, atol=1e-14)
        torch.testing.assert_close(c - b, -0.1 * g, rtol=1e-12, atol=1e-14)
