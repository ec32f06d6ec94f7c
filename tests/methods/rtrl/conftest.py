"""Shared tiny networks and sequences for the online-gradient tests (float64, CPU, seeded)."""
from __future__ import annotations

import pytest
import torch

from neurolatent.methods.rtrl import GatedCell, TanhCell

CELLS = {"tanh": TanhCell, "gated": GatedCell}


def make_net(kind: str, n_input: int = 3, n_hidden: int = 6, n_out: int = 4, seed: int = 0):
    """A float64 cell and readout, seeded."""
    cell = CELLS[kind](n_input, n_hidden, seed=seed, dtype=torch.float64)
    gen = torch.Generator().manual_seed(seed + 100)
    readout = torch.nn.Linear(n_hidden, n_out, dtype=torch.float64)
    with torch.no_grad():
        readout.weight.copy_(torch.randn(readout.weight.shape, generator=gen, dtype=torch.float64) / n_hidden**0.5)
        readout.bias.zero_()
    return cell, readout


@pytest.fixture(scope="module", params=sorted(CELLS))
def net(request):
    return request.param, *make_net(request.param)


@pytest.fixture(scope="module")
def sequence():
    """One sequence, T = 10 steps, 3 inputs, 4 classes; a third of the steps unscored."""
    gen = torch.Generator().manual_seed(7)
    x = torch.randn(10, 1, 3, generator=gen, dtype=torch.float64)
    y = torch.randint(0, 4, (10, 1), generator=gen)
    y[::3] = -100
    return x, y
