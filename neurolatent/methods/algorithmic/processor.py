"""A dense message-passing processor with max aggregation and gating (the CLRS MPNN baseline).

With ``z_i = [x_i, h_i]`` (encoded node features and the previous state), messages over the complete
graph (the true adjacency is an input edge feature),

.. math::

    m_{ij} = \\mathrm{MLP}\\big(M_1 z_i + M_2 z_j + E_1 e_{ij} + E_2 e_{ji} + G g\\big), \\qquad
    a_j = \\max_i m_{ij},

    \\tilde h_j = \\mathrm{ReLU}(O_1 z_j + O_2 a_j), \\qquad
    \\gamma_j = \\sigma\\big(W_3\\, \\mathrm{ReLU}(W_1 z_j + W_2 a_j)\\big), \\qquad
    h_j' = \\gamma_j \\odot \\tilde h_j + (1 - \\gamma_j) \\odot h_j,

optionally followed by a layer norm, as in Veličković et al. (ICML 2022) and the gating of Ibarz et
al., "A Generalist Neural Algorithmic Learner" (LoG 2022). Dense tensors ``(B, n, n, H)``: fine at
the sizes used here (n <= 64); ``torch_geometric`` is not a dependency.
"""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["MPNN"]


class MPNN(nn.Module):
    """One processor step on dense node/edge/graph embeddings.

    Parameters
    ----------
    hidden : int
        Width ``H`` of the node states and embeddings.
    gated : bool
        Use the update gate (default True).
    layer_norm : bool
        Layer-normalise the new state (default True).
    device, dtype
        Of the parameters.

    Examples
    --------
    >>> p = MPNN(8)
    >>> B, n = 2, 5
    >>> p(torch.zeros(B, n, 8), torch.zeros(B, n, n, 8), torch.zeros(B, 8), torch.zeros(B, n, 8)).shape
    torch.Size([2, 5, 8])
    """

    def __init__(self, hidden: int, *, gated: bool = True, layer_norm: bool = True, device=None, dtype=None) -> None:
        super().__init__()
        kw = {"device": device, "dtype": dtype}
        self.m1 = nn.Linear(2 * hidden, hidden, **kw)
        self.m2 = nn.Linear(2 * hidden, hidden, bias=False, **kw)
        self.e1 = nn.Linear(hidden, hidden, bias=False, **kw)
        self.e2 = nn.Linear(hidden, hidden, bias=False, **kw)
        self.mg = nn.Linear(hidden, hidden, bias=False, **kw)
        self.msg = nn.Sequential(nn.ReLU(), nn.Linear(hidden, hidden, **kw))
        self.o1 = nn.Linear(2 * hidden, hidden, **kw)
        self.o2 = nn.Linear(hidden, hidden, bias=False, **kw)
        self.gated = gated
        if gated:
            self.g1 = nn.Linear(2 * hidden, hidden, **kw)
            self.g2 = nn.Linear(hidden, hidden, bias=False, **kw)
            self.g3 = nn.Linear(hidden, hidden, **kw)
            nn.init.constant_(self.g3.bias, -3.0)  # start close to "keep the state" (Ibarz et al. 2022)
        self.norm = nn.LayerNorm(hidden, **kw) if layer_norm else nn.Identity()

    def forward(self, x: torch.Tensor, e: torch.Tensor, g: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
        """New node states ``(B, n, H)`` from node inputs ``x``, edges ``e``, graph ``g`` and states ``h``."""
        z = torch.cat([x, h], dim=-1)
        pre = (self.m1(z)[:, :, None] + self.m2(z)[:, None, :] + self.e1(e) + self.e2(e.transpose(1, 2))
               + self.mg(g)[:, None, None])
        agg = self.msg(pre).max(dim=1).values  # over senders i, for each receiver j
        new = self.norm(torch.relu(self.o1(z) + self.o2(agg)))
        if not self.gated:
            return new
        gate = torch.sigmoid(self.g3(torch.relu(self.g1(z) + self.g2(agg))))
        return gate * new + (1.0 - gate) * h
