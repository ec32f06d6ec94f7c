"""Truncated backpropagation through time with horizon ``h``, on the online interface.

At every scored step the loss is backpropagated through the last ``h`` steps only (Williams & Peng
1990's BPTT(h; 1)): the gradient uses the truncated influence matrix

.. math::

    G^{(h)}_t = \\sum_{s = t - h + 1}^{t} J_t J_{t-1} \\cdots J_{s+1} M_s ,

so an input ``h`` or more steps before a target contributes nothing to its gradient. The learner
stores the ``h`` most recent :class:`~.cells.StepJacobians`; a scored step costs
:math:`O(h (n^2 + p))`.
"""
from __future__ import annotations

from collections import deque

import torch

from .base import OnlineLearner
from .cells import StepJacobians

__all__ = ["TBPTT"]


class TBPTT(OnlineLearner):
    """Truncated BPTT with horizon ``h`` (``h >= T`` gives the exact gradient).

    Parameters
    ----------
    cell, readout, loss, seed :
        As :class:`~neurolatent.methods.rtrl.OnlineLearner`.
    h : int
        Truncation horizon in steps (>= 1).

    Examples
    --------
    >>> import torch
    >>> from neurolatent.methods.rtrl import TanhCell
    >>> learner = TBPTT(TanhCell(2, 8, seed=0), torch.nn.Linear(8, 3), h=4)
    >>> loss = learner.step(torch.randn(1, 2), torch.tensor([2]))
    >>> learner.gradient()["cell.weight"].shape
    torch.Size([8, 11])
    """

    def __init__(self, cell, readout, *, h: int = 8, loss="cross_entropy", seed=0):
        if not isinstance(h, int) or isinstance(h, bool) or h < 1:
            raise ValueError(f"TBPTT: the horizon h must be an integer >= 1, got {h!r}")
        self.horizon = int(h)
        super().__init__(cell, readout, loss=loss, seed=seed)

    def _reset_influence(self, batch_size):
        self.buffer: deque = deque(maxlen=self.horizon)

    def _propagate(self, jac):
        self.buffer.append(jac)

    def _influence_state(self):
        return {"buffer": [(j.state.clone(), j.pre.clone(), j.inputs.clone()) for j in self.buffer]}

    def _load_influence_state(self, state):
        self.buffer.clear()
        for J, D, a in state["buffer"]:
            self.buffer.append(StepJacobians(J.to(self.device, self.dtype), D.to(self.device, self.dtype),
                                             a.to(self.device, self.dtype)))

    def _contract(self, c):
        grad = torch.zeros(c.shape[0], *self.cell.weight.shape, device=self.device, dtype=self.dtype)
        delta = c
        for jac in reversed(self.buffer):
            grad += torch.einsum("bi,bip->bp", delta, jac.pre)[:, :, None] * jac.inputs[:, None, :]
            delta = torch.einsum("bi,bij->bj", delta, jac.state)
        return grad
