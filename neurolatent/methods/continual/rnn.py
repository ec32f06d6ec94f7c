r"""A leaky tanh RNN classifier with the Kronecker factors its Fisher needs.

.. math::

    z_t = W [x_t; h_{t-1}] + b, \qquad h_t = (1 - \alpha) h_{t-1} + \alpha \tanh(z_t), \qquad
    \text{logits} = W_o h_T + b_o,

with :math:`h_0 = 0` and leak :math:`\alpha` (:math:`\Delta t / \tau` of a rate network).

:meth:`RNNClassifier.kfac_factors` returns, for each of the two linear maps (``cell``: input and
recurrent weights together; ``readout``), the Kronecker factors of the Fisher (Martens & Grosse
2015; for the weights shared across time, the "independent time steps" approximation of Martens,
Ba & Johnson 2018, used by Kao et al. 2021):

.. math::

    F_{\text{cell}} \approx T\, \bar A \otimes \bar G, \quad
    \bar A = \mathbb E_{n,t}\big[a_t a_t^\top\big],\ a_t = [x_t; h_{t-1}; 1], \quad
    \bar G = \mathbb E_{n,t}\big[g_t g_t^\top\big],\ g_t = \partial(-\log p(\tilde y\mid x))/\partial z_t,

with labels :math:`\tilde y` sampled from the network's predictive, and for the read-out
:math:`A = \mathbb E[a a^\top]`, :math:`a = [h_T; 1]`, :math:`G = \mathbb E[g g^\top]`,
:math:`g = p - e_{\tilde y}`. The factor :math:`T` is folded into :math:`G`.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..._utils import resolve_device

__all__ = ["RNNClassifier"]


class RNNClassifier(nn.Module):
    """Leaky tanh RNN reading out one class at the last time step.

    Parameters
    ----------
    n_inputs, n_hidden, n_classes : int
    alpha : float
        Leak :math:`\\alpha \\in (0, 1]`.
    seed : int, optional
        Seed of the initialisation (the global generator is not touched). The recurrent weights
        start as :math:`\\mathcal N(0, g^2/N)` with gain ``gain``; input weights as PyTorch's
        default.
    device, dtype

    Examples
    --------
    >>> net = RNNClassifier(10, 32, 8, seed=0)
    >>> net(torch.randn(4, 20, 10)).shape, net.hidden_states(torch.randn(4, 20, 10)).shape
    (torch.Size([4, 8]), torch.Size([4, 20, 32]))
    """

    def __init__(self, n_inputs: int, n_hidden: int = 64, n_classes: int = 8, *, alpha: float = 0.2,
                 gain: float = 0.9, seed: int | None = None, device: str | torch.device | None = None,
                 dtype: torch.dtype | None = None):
        super().__init__()
        if not 0.0 < alpha <= 1.0:
            raise ValueError(f"alpha (the leak) must lie in (0, 1], got {alpha}")
        self.n_inputs, self.n_hidden, self.alpha = int(n_inputs), int(n_hidden), float(alpha)
        with torch.random.fork_rng(devices=[]):
            if seed is not None:
                torch.manual_seed(int(seed))
            self.cell = nn.Linear(self.n_inputs + self.n_hidden, self.n_hidden)
            self.readout = nn.Linear(self.n_hidden, int(n_classes))
            with torch.no_grad():
                self.cell.weight[:, self.n_inputs:].normal_(0.0, gain / self.n_hidden ** 0.5)
        self.to(device=resolve_device(device), dtype=dtype)

    def _check(self, x: torch.Tensor) -> None:
        if x.dim() != 3 or x.shape[-1] != self.n_inputs:
            raise ValueError(f"RNNClassifier expects inputs of shape (n, time, {self.n_inputs}), got {tuple(x.shape)}")

    def _run(self, x: torch.Tensor, record: bool = False):
        self._check(x)
        h = x.new_zeros(x.shape[0], self.n_hidden)
        hs, acts, pre = [], [], []
        for t in range(x.shape[1]):
            a = torch.cat([x[:, t], h], dim=1)
            z = self.cell(a)
            if record:
                z.retain_grad()
                acts.append(a.detach())
                pre.append(z)
            h = (1 - self.alpha) * h + self.alpha * torch.tanh(z)
            hs.append(h)
        return torch.stack(hs, 1), acts, pre

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        hs, _, _ = self._run(x)
        return self.readout(hs[:, -1])

    @torch.no_grad()
    def hidden_states(self, x: torch.Tensor) -> torch.Tensor:
        """Hidden states :math:`h_1 \\dots h_T`, shape ``(n, T, n_hidden)``."""
        return self._run(x)[0]

    def kfac_factors(self, x: torch.Tensor, *, generator: torch.Generator | None = None,
                     batch_size: int = 256) -> dict[str, tuple[torch.Tensor, torch.Tensor, tuple[str, str]]]:
        """Kronecker factors ``{layer: (A, G, (weight name, bias name))}`` of the sampled Fisher on ``x``.

        ``A`` has the size of the layer's input plus one (the bias), ``G`` of its output; see the
        module docstring. Per-sample expectations (the Fisher of one trial).
        """
        self._check(x)
        dims = {"cell": (self.cell.in_features + 1, self.cell.out_features),
                "readout": (self.readout.in_features + 1, self.readout.out_features)}
        acc = {k: [x.new_zeros(a, a), x.new_zeros(g, g)] for k, (a, g) in dims.items()}
        n_steps, n_total = x.shape[1], x.shape[0]
        was = self.training
        self.eval()
        try:
            for i in range(0, n_total, batch_size):
                xb = x[i:i + batch_size]
                with torch.enable_grad():
                    hs, acts, pre = self._run(xb, record=True)
                    h_last = hs[:, -1]
                    h_last.retain_grad()
                    logits = self.readout(h_last)
                    with torch.no_grad():
                        y = torch.multinomial(F.softmax(logits, -1), 1, generator=generator).squeeze(1)
                    F.cross_entropy(logits, y, reduction="sum").backward()  # sum: per-sample gradients
                ones = xb.new_ones(xb.shape[0], 1)
                for a, z in zip(acts, pre):
                    a1 = torch.cat([a, ones], 1)
                    acc["cell"][0] += a1.T @ a1 / n_steps
                    acc["cell"][1] += z.grad.T @ z.grad  # sum over t of g g^T: the factor T folded in
                a1 = torch.cat([h_last.detach(), ones], 1)
                g = (F.softmax(logits.detach(), -1) - F.one_hot(y, logits.shape[1]).to(logits.dtype))
                acc["readout"][0] += a1.T @ a1
                acc["readout"][1] += g.T @ g
                self.zero_grad(set_to_none=True)
        finally:
            self.train(was)
        return {"cell": (acc["cell"][0] / n_total, acc["cell"][1] / n_total, ("cell.weight", "cell.bias")),
                "readout": (acc["readout"][0] / n_total, acc["readout"][1] / n_total,
                            ("readout.weight", "readout.bias"))}
