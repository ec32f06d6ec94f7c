"""Recurrent cells with closed-form one-step Jacobians, the input of every online-gradient method.

Every cell here has one weight matrix ``weight`` of shape ``(g n, m)`` acting on the
*presynaptic vector* :math:`a_t = [h_{t-1}; x_t; 1]` (``m = n + n_in + 1``, the bias is the last
column), and produces ``g n`` pre-activations :math:`s_t = W a_t` from which the new state
:math:`h_t` (``n`` units) is computed. This shared form is what makes the immediate Jacobian a
single Kronecker product (Mujika, Meier & Steger 2018, Sec. 3):

.. math::

    M_t = \\frac{\\partial h_t}{\\partial \\operatorname{vec} W}
        = D_t \\otimes a_t^\\top, \\qquad
    D_t = \\frac{\\partial h_t}{\\partial s_t} \\in \\mathbb{R}^{n \\times g n},

with ``vec`` the row-major flattening of ``weight``. Each cell returns, per time step, the state
Jacobian :math:`J_t = \\partial h_t / \\partial h_{t-1}` (``(B, n, n)``), :math:`D_t`
(``(B, n, g n)``) and :math:`a_t` (``(B, m)``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from ..._utils import make_generator, resolve_device

__all__ = ["RecurrentCell", "TanhCell", "GatedCell", "StepJacobians"]


@dataclass
class StepJacobians:
    """The per-step quantities an online method needs (batch first).

    Attributes
    ----------
    state : torch.Tensor
        :math:`J_t = \\partial h_t / \\partial h_{t-1}`, shape ``(B, n, n)``.
    pre : torch.Tensor
        :math:`D_t = \\partial h_t / \\partial s_t`, shape ``(B, n, g n)``.
    inputs : torch.Tensor
        The presynaptic vector :math:`a_t = [h_{t-1}; x_t; 1]`, shape ``(B, m)``.
    """

    state: torch.Tensor
    pre: torch.Tensor
    inputs: torch.Tensor


class RecurrentCell(nn.Module):
    """Base class: a cell ``h_t = f(W a_t, h_{t-1})`` with ``a_t = [h_{t-1}; x_t; 1]``.

    Subclasses set ``n_gates`` (``g``) and implement :meth:`_state` and :meth:`_jacobians`.

    Parameters
    ----------
    n_input, n_hidden : int
        Input size and number of hidden units ``n``.
    gain : float
        Standard deviation times :math:`\\sqrt n` of the recurrent block of ``weight``; the input
        block has standard deviation :math:`1/\\sqrt{n_{in}}`, biases start at 0.
    seed : int or None
        Seed of the initialisation.
    device, dtype :
        Where the weight lives (default CPU, float32).
    """

    n_gates = 1

    def __init__(self, n_input: int, n_hidden: int, *, gain: float = 0.9, seed: int | None = 0,
                 device: str | torch.device | None = None, dtype: torch.dtype = torch.float32):
        super().__init__()
        for name, v in (("n_input", n_input), ("n_hidden", n_hidden)):
            if int(v) != v or v < 1:
                raise ValueError(f"{type(self).__name__}: {name} must be a positive integer, got {v!r}")
        self.n_input, self.n_hidden = int(n_input), int(n_hidden)
        device = resolve_device(device)
        gen = make_generator(seed)
        n, g = self.n_hidden, self.n_gates
        w = torch.zeros(g * n, self.n_features, dtype=torch.float64)
        w[:, :n] = torch.randn(g * n, n, generator=gen, dtype=torch.float64) * (gain / math.sqrt(n))
        w[:, n:n + self.n_input] = torch.randn(g * n, self.n_input, generator=gen,
                                               dtype=torch.float64) / math.sqrt(self.n_input)
        self._init_bias(w)
        self.weight = nn.Parameter(w.to(device=device, dtype=dtype))

    def _init_bias(self, w: torch.Tensor) -> None:
        """Set the bias column (the last one) of a fresh weight in place; zero by default."""

    @property
    def n_features(self) -> int:
        """Length ``m = n + n_in + 1`` of the presynaptic vector."""
        return self.n_hidden + self.n_input + 1

    @property
    def n_params(self) -> int:
        """Number of recurrent parameters ``p = g n m``."""
        return self.weight.numel()

    def inputs(self, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """The presynaptic vector :math:`a = [h; x; 1]`, shape ``(B, m)``."""
        return torch.cat([h, x, torch.ones_like(h[:, :1])], dim=1)

    def forward(self, h: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """One differentiable step ``h_t = f(h_{t-1}, x_t)`` (for BPTT); shapes ``(B, n)``, ``(B, n_in)``."""
        a = self.inputs(h, x)
        return self._state(a @ self.weight.T, h)

    @torch.no_grad()
    def step(self, h: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, StepJacobians]:
        """One step without autograd, returning ``h_t`` and its :class:`StepJacobians`."""
        a = self.inputs(h, x)
        s = a @ self.weight.T
        h_new = self._state(s, h)
        state, pre = self._jacobians(s, h, h_new)
        return h_new, StepJacobians(state=state, pre=pre, inputs=a)

    def _state(self, s: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _jacobians(self, s, h, h_new) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError


class TanhCell(RecurrentCell):
    """Vanilla RNN :math:`h_t = \\tanh(W a_t)`, with :math:`a_t = [h_{t-1}; x_t; 1]`.

    Jacobians: :math:`D_t = \\operatorname{diag}(1 - h_t^2)` and
    :math:`J_t = D_t W_{:, :n}`.

    Examples
    --------
    >>> import torch
    >>> cell = TanhCell(3, 4, seed=0)
    >>> h, jac = cell.step(torch.zeros(2, 4), torch.ones(2, 3))
    >>> tuple(jac.state.shape), tuple(jac.pre.shape), tuple(jac.inputs.shape)
    ((2, 4, 4), (2, 4, 4), (2, 8))
    """

    n_gates = 1

    def _state(self, s, h):
        return torch.tanh(s)

    def _jacobians(self, s, h, h_new):
        d = 1 - h_new * h_new
        n = self.n_hidden
        return d[:, :, None] * self.weight[None, :, :n], torch.diag_embed(d)


class GatedCell(RecurrentCell):
    """A GRU-like cell with one update gate (the minimal gated unit, Zhou et al. 2016):

    .. math::

        z_t = \\sigma(W_z a_t), \\quad c_t = \\tanh(W_c a_t), \\quad
        h_t = (1 - z_t) \\odot h_{t-1} + z_t \\odot c_t,

    ``weight = [W_z; W_c]`` of shape ``(2n, m)``; it is the discrete-time form of the update-gated
    RNN of :class:`neurolatent.theory.GatedRNN` (with ``tau_h = 1``, no output gate).
    Jacobians: :math:`D_t = [\\operatorname{diag}((c_t - h_{t-1}) z_t (1 - z_t)),\\,
    \\operatorname{diag}(z_t (1 - c_t^2))]` and
    :math:`J_t = \\operatorname{diag}(1 - z_t) + D_t W_{:, :n}`.

    Parameters
    ----------
    gate_bias : float
        Initial bias of the update gate (negative: slow, memory-keeping units).
    **kwargs :
        As :class:`RecurrentCell`.

    Examples
    --------
    >>> import torch
    >>> cell = GatedCell(3, 4, seed=0)
    >>> h, jac = cell.step(torch.zeros(2, 4), torch.ones(2, 3))
    >>> tuple(jac.pre.shape), cell.n_params
    ((2, 4, 8), 64)
    """

    n_gates = 2

    def __init__(self, n_input: int, n_hidden: int, *, gate_bias: float = -1.0, **kwargs):
        self._gate_bias = float(gate_bias)
        super().__init__(n_input, n_hidden, **kwargs)

    def _init_bias(self, w):
        w[: self.n_hidden, -1] = self._gate_bias

    def _state(self, s, h):
        n = self.n_hidden
        z, c = torch.sigmoid(s[:, :n]), torch.tanh(s[:, n:])
        return (1 - z) * h + z * c

    def _jacobians(self, s, h, h_new):
        n = self.n_hidden
        z, c = torch.sigmoid(s[:, :n]), torch.tanh(s[:, n:])
        dz = (c - h) * z * (1 - z)
        dc = z * (1 - c * c)
        pre = torch.cat([torch.diag_embed(dz), torch.diag_embed(dc)], dim=2)
        w_h = self.weight[:, :n]
        state = torch.diag_embed(1 - z) + dz[:, :, None] * w_h[None, :n] + dc[:, :, None] * w_h[None, n:]
        return state, pre
