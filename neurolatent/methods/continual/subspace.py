r"""Activity subspaces of a recurrent network and their overlap before and after later tasks.

For a task :math:`k`, collect the hidden states :math:`h_t(x)` of the network over the task's
trials and time steps, centre them and keep the top :math:`d` principal directions, an orthonormal
:math:`U \in \mathbb R^{N \times d}`. The overlap of two such subspaces (Kao et al. 2021 compare the
subspaces a task uses before and after later learning) is

.. math:: \mathrm{overlap}(U, V) = \frac1d \lVert U^\top V \rVert_F^2 = \frac1d\sum_i \cos^2\phi_i \in [0, 1],

the mean squared cosine of the principal angles :math:`\phi_i`: 1 for the same subspace, about
:math:`d/N` for random ones.
"""
from __future__ import annotations

import torch
from torch import nn

__all__ = ["activity_subspace", "subspace_overlap"]


@torch.no_grad()
def activity_subspace(model: nn.Module, x: torch.Tensor, dim: int = 5) -> torch.Tensor:
    """Top-``dim`` principal directions ``(n_hidden, dim)`` of ``model.hidden_states(x)`` (centred).

    Examples
    --------
    >>> from neurolatent.methods.continual import RNNClassifier
    >>> u = activity_subspace(RNNClassifier(3, 16, 2, seed=0), torch.randn(8, 10, 3), dim=4)
    >>> u.shape, bool(torch.allclose(u.T @ u, torch.eye(4), atol=1e-5))
    (torch.Size([16, 4]), True)
    """
    if not hasattr(model, "hidden_states"):
        raise TypeError(f"activity_subspace needs a model with hidden_states(x) (e.g. RNNClassifier), got {type(model).__name__}")
    h = model.hidden_states(x)
    h = h.reshape(-1, h.shape[-1]).double()
    if not 1 <= dim <= h.shape[-1]:
        raise ValueError(f"dim must lie in 1 ... {h.shape[-1]} (the number of hidden units), got {dim}")
    _, _, vh = torch.linalg.svd(h - h.mean(0), full_matrices=False)
    return vh[:dim].T.to(x.dtype)


def subspace_overlap(u: torch.Tensor, v: torch.Tensor) -> float:
    r"""Mean squared cosine of the principal angles between the column spaces of orthonormal ``u`` and ``v``.

    Examples
    --------
    >>> q = torch.linalg.qr(torch.randn(10, 3, dtype=torch.float64))[0]
    >>> round(subspace_overlap(q, q), 6)
    1.0
    """
    if u.shape != v.shape:
        raise ValueError(f"u and v must have the same shape (n_hidden, dim), got {tuple(u.shape)} and {tuple(v.shape)}")
    return float((u.T.double() @ v.double()).pow(2).sum() / u.shape[1])
