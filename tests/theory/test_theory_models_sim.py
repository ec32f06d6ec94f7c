"""Models validate their input; analytic Jacobians match finite differences; dtype/device plumbing."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from neurolatent.theory import GRU, LSTM, GatedRNN, VanillaRNN, jacobian, model_from_name, sample_network, simulate
from neurolatent.theory.simulate import jvp, step, vector_field

MODELS = [VanillaRNN(2.0, tau=1.5),
          GatedRNN(2.5, 3.0, 2.0, beta_z=0.5, beta_r=-0.3, beta_h=0.2, tau_z=2.0, tau_r=0.7),
          GatedRNN(2.5, 3.0, 2.0, beta_z=0.5, gate_bias="add"),
          GRU(1.5, 1.2, 2.0, 0.3, -0.2, 0.1), GRU(g_h=2.0, update="old"),
          LSTM(1.0, 1.2, 0.8, 1.5, 0.1, 0.5, -0.2, 0.3)]


@pytest.mark.parametrize("bad", [dict(g=-1.0), dict(g=math.nan), dict(g=math.inf), dict(g=1.0, tau=0.0)])
def test_vanilla_rejects_bad_parameters(bad):
    with pytest.raises(ValueError, match="VanillaRNN"):
        VanillaRNN(**bad)


@pytest.mark.parametrize("cls,bad", [(GatedRNN, dict(g_h=-0.1)), (GatedRNN, dict(g_h=1.0, alpha_z=-2.0)),
                                     (GatedRNN, dict(g_h=1.0, beta_r=math.nan)), (GRU, dict(g_h=-1.0)),
                                     (LSTM, dict(b_f=math.inf)), (GatedRNN, dict(g_h=1.0, gate_bias="plus"))])
def test_gated_models_reject_bad_parameters(cls, bad):
    with pytest.raises(ValueError):
        cls(**bad)


def test_model_from_name_errors():
    with pytest.raises(ValueError, match="unknown model"):
        model_from_name("transformer")
    with pytest.raises(TypeError, match="no parameter"):
        model_from_name("gated", g=2.0)


def test_gate_bias_convention():
    # "subtract": sigma(0) = 1/(1+e^beta); "add": 1/(1+e^-beta)  (exact closed forms)
    assert GatedRNN(1.0, beta_r=1.0).gate_at_zero("r") == pytest.approx(1 / (1 + math.e), abs=1e-15)
    assert GatedRNN(1.0, beta_r=1.0, gate_bias="add").gate_at_zero("r") == pytest.approx(1 / (1 + 1 / math.e), abs=1e-15)


@pytest.mark.parametrize("model", MODELS, ids=lambda m: type(m).__name__)
def test_jacobian_matches_finite_differences(model, seed):
    net = sample_network(model, 12, [seed, seed + 1])
    x = torch.randn(2, net.dim, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    f = (lambda y: vector_field(net, y)) if model.kind == "flow" else (lambda y: step(net, y))
    eps = 1e-6
    fd = torch.stack([(f(x + eps * e) - f(x - eps * e)) / (2 * eps)
                      for e in torch.eye(net.dim, dtype=torch.float64)], -1)
    # central differences in float64: truncation O(eps^2 f''') ~ 1e-12, round-off ~ 1e-16/eps ~ 1e-10
    assert torch.allclose(jacobian(net, x), fd, atol=1e-8, rtol=0)
    V = torch.randn(2, net.dim, 3, dtype=torch.float64)
    assert torch.allclose(jvp(net, x, V), jacobian(net, x) @ V, atol=1e-12)  # same algebra, round-off only


def test_simulation_float32_and_shapes(seed):
    tr = simulate(GatedRNN(2.5, 1.0, 1.0), N=20, T=2.0, dt=0.1, seeds=[seed, 7], dtype=torch.float32)
    assert tr.states.shape == (2, 21, 60) and tr.states.dtype == torch.float32
    tr64 = simulate(GatedRNN(2.5, 1.0, 1.0), N=20, T=2.0, dt=0.1, seeds=[seed, 7])
    # float32 vs float64 over 20 RK4 steps of an O(1) contracting-ish flow: round-off ~1e-6
    assert torch.allclose(tr.states.double(), tr64.states, atol=1e-4)


def test_seeds_are_reproducible_and_distinct():
    a = sample_network(VanillaRNN(1.0), 10, [1, 2]).weights["J"]
    b = sample_network(VanillaRNN(1.0), 10, [1]).weights["J"]
    assert torch.equal(a[0], b[0]) and not torch.equal(a[0], a[1])


def test_simulate_rejects_bad_time():
    with pytest.raises(ValueError, match="positive"):
        simulate(VanillaRNN(1.0), N=5, T=-1.0)
    with pytest.raises(ValueError, match="seeds"):
        simulate(VanillaRNN(1.0), N=5, T=1.0, seeds=[])
