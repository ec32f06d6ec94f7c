"""Powerpropagation: forward equals a plain layer with w = v|v|^(a-1); gradient closed form; removal."""
from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from neurolatent.methods.sparsity import MagnitudePruner, PowerProp, powerpropagate, remove_powerprop


def _layers(seed):
    g = torch.Generator().manual_seed(seed)
    lin = nn.Linear(5, 4).double()
    conv = nn.Conv2d(2, 3, 3, padding=1).double()
    with torch.no_grad():
        for m in (lin, conv):
            m.weight.copy_(torch.randn(m.weight.shape, generator=g, dtype=torch.float64))
    return [(lin, torch.randn(7, 5, generator=g, dtype=torch.float64)),
            (conv, torch.randn(2, 2, 6, 6, generator=g, dtype=torch.float64))]


@pytest.mark.parametrize("alpha", [0.5, 1.0, 2.0, 3.0])
def test_forward_and_gradient_match_the_closed_form(alpha, seed):
    for layer, x in _layers(seed):
        v = layer.weight.detach().clone()
        pp = powerpropagate(copy.deepcopy(layer), alpha)
        w = v * v.abs() ** (alpha - 1)  # closed form, written independently of PowerProp
        plain = copy.deepcopy(layer)
        with torch.no_grad():
            plain.weight.copy_(w)
        torch.testing.assert_close(pp(x), plain(x), rtol=1e-12, atol=1e-12)
        # dL/dv by autograd through the parametrisation vs alpha |v|^(alpha-1) dL/dw of the plain layer
        (pp(x) ** 2).sum().backward()
        (plain(x) ** 2).sum().backward()
        ref = alpha * v.abs() ** (alpha - 1) * plain.weight.grad
        torch.testing.assert_close(pp.parametrizations.weight.original.grad, ref, rtol=1e-10, atol=1e-12)


def test_keep_function_and_removal_leave_the_function_unchanged(seed):
    for layer, x in _layers(seed):
        y0 = layer(x).detach()
        pp = powerpropagate(copy.deepcopy(layer), 3.0, keep_function=True)
        torch.testing.assert_close(pp(x), y0, rtol=1e-10, atol=1e-12)  # cube root then cube: round-off only
        back = remove_powerprop(pp)
        assert isinstance(back.weight, nn.Parameter) and not hasattr(back, "parametrizations")
        torch.testing.assert_close(back(x), y0, rtol=1e-10, atol=1e-12)
        MagnitudePruner().prune(back, 0.5)  # a plain layer again: prunable


@pytest.mark.parametrize("bad", [0.0, -1.0, float("inf"), float("nan")])
def test_non_positive_alpha_is_refused(bad):
    with pytest.raises(ValueError, match="alpha must be finite and > 0"):
        powerpropagate(nn.Linear(2, 2), bad)
    with pytest.raises(ValueError, match="alpha"):
        PowerProp(bad)


def test_pruning_a_reparametrised_layer_says_to_remove_it_first():
    net = powerpropagate(nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)), 2.0)
    with pytest.raises(ValueError, match="remove_powerprop"):
        MagnitudePruner().prune(net, 0.5)
    with pytest.raises(ValueError, match="already"):
        powerpropagate(net, 2.0)
