"""Unbiased Online Recurrent Optimization (Tallec & Ollivier 2017).

The influence matrix is kept as one random outer product :math:`G_t \\approx \\tilde u_t
\\tilde\\theta_t^\\top` (``n + p`` numbers). With Rademacher noise :math:`\\nu_t \\in \\{\\pm1\\}^n`,

.. math::

    \\tilde u_t = \\rho_0 J_t \\tilde u_{t-1} + \\rho_1 \\nu_t, \\qquad
    \\tilde\\theta_t = \\tilde\\theta_{t-1} / \\rho_0 + (\\nu_t^\\top M_t) / \\rho_1,

unbiased because :math:`\\mathbb E[\\nu\\nu^\\top] = I`; the scales
:math:`\\rho_0 = \\sqrt{\\|\\tilde\\theta\\| / \\|J\\tilde u\\|}`,
:math:`\\rho_1 = \\sqrt{\\|\\nu^\\top M\\| / \\|\\nu\\|}` minimise the variance (Tallec & Ollivier,
Prop. 1). Here :math:`\\nu^\\top M_t = (\\nu^\\top D_t) \\otimes a_t^\\top`, so one step costs
:math:`O(n^2 + p)`.
"""
from __future__ import annotations

import torch

from .base import OnlineLearner

__all__ = ["UORO"]

_EPS = 1e-7  # as in Tallec & Ollivier (2017), keeps the scales finite at a zero norm


class UORO(OnlineLearner):
    """UORO: unbiased rank-one estimate of the influence matrix.

    Parameters are those of :class:`~neurolatent.methods.rtrl.OnlineLearner`; ``seed`` seeds the
    noise :math:`\\nu_t`. Each sequence in the batch has independent noise.

    Examples
    --------
    >>> import torch
    >>> from neurolatent.methods.rtrl import TanhCell
    >>> learner = UORO(TanhCell(2, 8, seed=0), torch.nn.Linear(8, 3), seed=1)
    >>> loss = learner.step(torch.randn(1, 2), torch.tensor([2]))
    >>> learner.gradient()["cell.weight"].shape
    torch.Size([8, 11])
    """

    _influence_names = ("u", "theta")

    def _reset_influence(self, batch_size):
        g, n, m = self.cell.n_gates, self.cell.n_hidden, self.cell.n_features
        self.u = torch.zeros(batch_size, n, device=self.device, dtype=self.dtype)
        self.theta = torch.zeros(batch_size, g * n, m, device=self.device, dtype=self.dtype)

    def _propagate(self, jac):
        B, n = self.u.shape
        nu = self._signs(B, n)
        ju = torch.einsum("bij,bj->bi", jac.state, self.u)
        nu_m = torch.einsum("bi,bip->bp", nu, jac.pre)[:, :, None] * jac.inputs[:, None, :]
        norm = lambda v: v.flatten(1).norm(dim=1)  # noqa: E731
        rho0 = torch.sqrt((norm(self.theta) + _EPS) / (norm(ju) + _EPS))
        rho1 = torch.sqrt((norm(nu_m) + _EPS) / (norm(nu) + _EPS))
        self.u = rho0[:, None] * ju + rho1[:, None] * nu
        self.theta = self.theta / rho0[:, None, None] + nu_m / rho1[:, None, None]

    def _contract(self, c):
        return (c * self.u).sum(1)[:, None, None] * self.theta
