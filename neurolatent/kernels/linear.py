"""Linear kernel on a manifold's embedding features."""
from __future__ import annotations

import torch
from gpytorch.kernels import Kernel

from ..manifolds import Manifold, get_manifold

__all__ = ["ManifoldLinearKernel"]


class ManifoldLinearKernel(Kernel):
    r"""Linear kernel :math:`k(x, y) = \langle \phi(x), \phi(y)\rangle` on the embedding
    :math:`\phi` = :meth:`Manifold.features`.

    :math:`\phi` is the identity on :math:`\mathbb{R}^d` and on spheres (ambient unit
    vectors), :math:`(\cos x_i, \sin x_i)_i` on tori (so :math:`k = \sum_i \cos(x_i - y_i)`),
    and the scaled upper triangle of :math:`q q^T` on SO3 (so :math:`k = 2\langle q, p\rangle^2`,
    invariant to ``q -> -q``). Wrap in ``gpytorch.kernels.ScaleKernel`` for a variance.

    Parameters
    ----------
    manifold : str or Manifold
        The latent space.
    **kwargs
        Passed to :class:`gpytorch.kernels.Kernel` (e.g. ``batch_shape``).

    Examples
    --------
    >>> import torch
    >>> k = ManifoldLinearKernel("T1")
    >>> x = torch.tensor([[0.0], [1.0]])
    >>> torch.allclose(k(x, x).to_dense(), torch.cos(x - x.T))
    True
    """

    def __init__(self, manifold: str | Manifold, **kwargs):
        super().__init__(**kwargs)
        self.manifold = get_manifold(manifold)

    def forward(self, x1: torch.Tensor, x2: torch.Tensor, diag: bool = False, **params) -> torch.Tensor:
        self.manifold._check_point(x1, "x1")
        self.manifold._check_point(x2, "x2")
        f1, f2 = self.manifold.features(x1), self.manifold.features(x2)
        out = (f1 * f2).sum(-1) if diag else f1 @ f2.transpose(-1, -2)
        if len(self.batch_shape):
            tail = out.shape[-1:] if diag else out.shape[-2:]
            out = out.expand(*torch.broadcast_shapes(self.batch_shape, out.shape[:-len(tail)]), *tail)
        return out
