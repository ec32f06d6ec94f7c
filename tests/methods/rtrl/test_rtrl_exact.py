"""Cells' closed-form Jacobians against autograd, exact RTRL against BPTT, the memory guard, bad input."""
from __future__ import annotations

import pytest
import torch
from torch.func import jacrev

from neurolatent.methods.rtrl import (
    KFRTRL,
    OKRTRL,
    RTRL,
    TBPTT,
    UORO,
    ExactRTRLTooLarge,
    GatedCell,
    TanhCell,
    bptt_gradient,
    rtrl_memory_bytes,
)

from .conftest import make_net


@pytest.mark.parametrize("kind", ["tanh", "gated"])
def test_step_jacobians_match_jacrev(kind):
    cell, _ = make_net(kind, n_input=3, n_hidden=5)
    gen = torch.Generator().manual_seed(1)
    h = torch.randn(2, 5, generator=gen, dtype=torch.float64) * 0.5
    x = torch.randn(2, 3, generator=gen, dtype=torch.float64)
    _, jac = cell.step(h, x)
    for b in range(2):
        J_ref = jacrev(lambda hh: cell(hh[None], x[b : b + 1])[0])(h[b])
        W = cell.weight.detach().clone()
        M_ref = jacrev(lambda w: torch.tanh(cell.inputs(h[b : b + 1], x[b : b + 1]) @ w.T)[0] if kind == "tanh"
                       else cell._state(cell.inputs(h[b : b + 1], x[b : b + 1]) @ w.T, h[b : b + 1])[0])(W)
        M = jac.pre[b][:, :, None] * jac.inputs[b][None, None, :]  # D kron a^T, as (n, g n, m)
        # float64 closed forms against autograd: agreement to rounding (1e-12)
        torch.testing.assert_close(jac.state[b], J_ref, rtol=0, atol=1e-12)
        torch.testing.assert_close(M, M_ref, rtol=0, atol=1e-12)


def test_exact_rtrl_equals_bptt(net, sequence):
    kind, cell, readout = net
    x, y = sequence
    ref = bptt_gradient(cell, readout, x, y)
    for learner in (RTRL(cell, readout), TBPTT(cell, readout, h=len(x)), OKRTRL(cell, readout, r=cell.n_features)):
        learner.reset(1)
        for t in range(len(x)):
            learner.step(x[t], y[t])
        for name, g in learner.gradient().items():
            # the criterion: exact per-step RTRL equals BPTT to 1e-6 in float64 (here ~1e-15)
            torch.testing.assert_close(g, ref[name], rtol=0, atol=1e-6 * ref[name].abs().max().item())
            torch.testing.assert_close(g, ref[name], rtol=1e-9, atol=1e-12)


def test_truncated_bptt_is_biased(net, sequence):
    # Negative control: TBPTT(2) misses the longer dependencies, so it must differ from BPTT.
    _, cell, readout = net
    x, y = sequence
    ref = bptt_gradient(cell, readout, x, y)["cell.weight"]
    learner = TBPTT(cell, readout, h=2)
    for t in range(len(x)):
        learner.step(x[t], y[t])
    assert (learner.gradient()["cell.weight"] - ref).norm() > 1e-3 * ref.norm()


def test_set_grad_drives_a_torch_optimiser(sequence):
    cell, readout = make_net("tanh")
    x, y = sequence
    learner = RTRL(cell, readout)
    for t in range(len(x)):
        learner.step(x[t], y[t])
    grads = learner.gradient()
    learner.set_grad()
    assert all(torch.equal(p.grad, g) for p, g in zip(learner.parameters(), grads.values()))
    before = cell.weight.detach().clone()
    torch.optim.SGD(learner.parameters(), lr=0.1).step()
    torch.testing.assert_close(cell.weight.detach(), before - 0.1 * grads["cell.weight"])
    assert learner.gradient()["cell.weight"].abs().max() == 0  # set_grad zeroed the accumulator


def test_memory_guard_refuses_with_estimate():
    cell = TanhCell(4, 64, dtype=torch.float32)
    need = rtrl_memory_bytes(cell)
    assert need == 2 * 64 * cell.n_params * 4  # 2 * n * p float32
    with pytest.raises(ExactRTRLTooLarge, match=r"MiB.*OKRTRL") as err:
        RTRL(cell, torch.nn.Linear(64, 2), memory_limit=need - 1)
    assert "n = 64" in str(err.value)
    RTRL(cell, torch.nn.Linear(64, 2), memory_limit=need)  # exactly at the limit: accepted


def test_bad_input_is_refused():
    cell, readout = make_net("gated")
    learner = UORO(cell, readout)
    x = torch.zeros(1, 3, dtype=torch.float64)
    x[0, 1] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        learner.step(x, torch.tensor([0]))
    with pytest.raises(ValueError, match="batch_size"):
        learner.step(torch.zeros(2, 3, dtype=torch.float64))
    for bad in (0, -1, 1.5):
        with pytest.raises(ValueError, match="r must be"):
            OKRTRL(cell, readout, r=bad)
    with pytest.raises(ValueError, match="horizon"):
        TBPTT(cell, readout, h=0)
    with pytest.raises(ValueError, match="n_hidden"):
        GatedCell(3, 0)
    with pytest.raises(ValueError, match="in_features"):
        KFRTRL(cell, torch.nn.Linear(5, 2))
