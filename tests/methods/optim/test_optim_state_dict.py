"""Checkpointing: every optimiser's state_dict restores a fresh optimiser that continues identically.

Two steps, save (through torch.save / torch.load), load into a fresh optimiser on a copy of the model, then
the third step must equal the uninterrupted run to float64 round-off. Without the curvature in the state
(KFAC/FOOF factors, FishLeg's Q, RLLC's law) the continued step would differ at O(1).
"""
from __future__ import annotations

import io

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from neurolatent.methods.optim import FOOF, KFAC, RLLC, FishLeg, GaussNewton, onehot_mse


def _net(seed):
    torch.manual_seed(seed)
    return nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 3)).double()


def _batches(seed, n=4):
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(16, 5, generator=g, dtype=torch.float64), torch.randint(0, 3, (16,), generator=g))
            for _ in range(n)]


CASES = {
    "kfac": (lambda m: KFAC(m, lr=0.2, damping=0.05, momentum=0.9, update_freq=2, stat_decay=0.9), F.cross_entropy),
    "kfac-sampled": (lambda m: KFAC(m, lr=0.2, damping=0.05, fisher="sampled", seed=3), F.cross_entropy),
    "foof": (lambda m: FOOF(m, lr=0.2, damping=0.05, momentum=0.5), F.cross_entropy),
    "fishleg": (lambda m: FishLeg(m, lr=0.1, damping=0.1, aux_steps=2, warmup=3, momentum=0.5, seed=1),
                F.cross_entropy),
    "rllc": (lambda m: RLLC(m.parameters(), lr=0.1, law_lr=0.3, betas=(0.0, 0.9)), F.cross_entropy),
    "gauss-newton": (lambda m: GaussNewton(m, lr=0.5, damping=1e-3, momentum=0.5), onehot_mse),
}


def _step(net, opt, loss_fn, batch):
    x, y = batch
    opt.zero_grad()
    loss_fn(net(x), y).backward()
    opt.step()


def _trained_and_fresh(name, seed):
    """Two steps of optimiser ``name`` on a net, and a fresh optimiser on a copy of the trained net."""
    make, loss_fn = CASES[name]
    batches = _batches(seed)
    net = _net(seed)
    opt = make(net)
    for b in batches[:2]:
        _step(net, opt, loss_fn, b)
    net2 = _net(seed + 1)  # a fresh model (deepcopy would also copy the optimiser's hooks)
    net2.load_state_dict(net.state_dict())
    return net, opt, net2, make(net2), loss_fn, batches


@pytest.mark.parametrize("name", list(CASES))
def test_state_dict_round_trip_continues_identically(name, seed):
    net, opt, net2, fresh, loss_fn, batches = _trained_and_fresh(name, seed)
    buf = io.BytesIO()
    torch.save(opt.state_dict(), buf)
    buf.seek(0)
    fresh.load_state_dict(torch.load(buf, weights_only=False))
    for b in batches[2:]:
        _step(net, opt, loss_fn, b)
        _step(net2, fresh, loss_fn, b)
    for p, q in zip(net.parameters(), net2.parameters()):
        torch.testing.assert_close(q, p, rtol=1e-12, atol=1e-14)  # same float64 operations in the same order


@pytest.mark.parametrize("name, key", [("kfac", "curvature"), ("fishleg", "fishleg"), ("rllc", "rllc")])
def test_lost_extra_state_would_change_the_step(name, key, seed):
    """Control: loading only torch's part of the state (no factors / Q / law) gives a different third step,
    so the round-trip test above really checks the extra state."""
    net, opt, net2, fresh, loss_fn, batches = _trained_and_fresh(name, seed)
    sd = opt.state_dict()
    sd.pop(key)
    torch.optim.Optimizer.load_state_dict(fresh, sd)  # torch's part only
    _step(net, opt, loss_fn, batches[2])
    _step(net2, fresh, loss_fn, batches[2])
    diff = max(float((p - q).detach().abs().max()) for p, q in zip(net.parameters(), net2.parameters()))
    assert diff > 1e-4, diff  # the lost state changes the step at O(lr * |grad|) ~ 1e-2, not round-off


def test_load_state_dict_errors():
    net = _net(0)
    opt = KFAC(net)
    sd = opt.state_dict()
    sd.pop("curvature")
    with pytest.raises(KeyError, match="curvature"):
        KFAC(_net(0)).load_state_dict(sd)
    with pytest.raises(KeyError, match="fishleg"):
        FishLeg(_net(0)).load_state_dict(torch.optim.SGD(net.parameters(), lr=0.1).state_dict())
    with pytest.raises(ValueError, match="memory units"):
        RLLC(net.parameters(), betas=(0.0,)).load_state_dict(RLLC(net.parameters(), betas=(0.0, 0.9)).state_dict())
