"""Squared-exponential kernel on a manifold's chordal distance."""
from __future__ import annotations

import torch
from gpytorch.kernels import Kernel

from ..manifolds import Manifold, get_manifold

__all__ = ["ManifoldRBFKernel"]


class ManifoldRBFKernel(Kernel):
    r"""RBF kernel :math:`k(x, y) = \exp(-\rho(x, y) / (2\ell^2))` with the manifold's
    kernel-ready squared distance :math:`\rho` = :meth:`Manifold.pairwise_sq_dist`.

    On :math:`\mathbb{R}^d` this is GPyTorch's ``RBFKernel``; on :math:`T^d`,
    :math:`\rho = \sum_i 2(1 - \cos(x_i - y_i))`; on spheres :math:`\|x - y\|^2`; on SO3
    :math:`4(1 - \langle q, p\rangle^2)`. All are positive semi-definite because
    :math:`\rho` is a squared Euclidean distance between embeddings. Lengthscales, their
    constraint/prior and ``batch_shape`` (e.g. one lengthscale per neuron) come from
    :class:`gpytorch.kernels.Kernel`; wrap in ``gpytorch.kernels.ScaleKernel`` for a variance.

    Parameters
    ----------
    manifold : str or Manifold
        The latent space (spec strings as in :func:`neurolatent.manifolds.get_manifold`).
    **kwargs
        Passed to :class:`gpytorch.kernels.Kernel` (``batch_shape``, ``lengthscale_prior``,
        ``lengthscale_constraint``, ...). ``ard_num_dims`` is not supported (one lengthscale
        per kernel batch).

    Examples
    --------
    >>> import torch
    >>> k = ManifoldRBFKernel("T1", batch_shape=torch.Size([3]))
    >>> x = torch.linspace(-3, 3, 5).unsqueeze(-1)
    >>> k(x, x).to_dense().shape
    torch.Size([3, 5, 5])
    """

    has_lengthscale = True

    def __init__(self, manifold: str | Manifold, **kwargs):
        if kwargs.get("ard_num_dims") not in (None, 1):
            raise ValueError(f"ManifoldRBFKernel has one lengthscale per batch, got ard_num_dims={kwargs['ard_num_dims']}; "
                             "use batch_shape for per-neuron lengthscales")
        super().__init__(**kwargs)
        self.manifold = get_manifold(manifold)

    def forward(self, x1: torch.Tensor, x2: torch.Tensor, diag: bool = False, **params) -> torch.Tensor:
        sq = self.manifold.pairwise_sq_dist(x1, x2, diag=diag)
        ell = self.lengthscale  # (*batch_shape, 1, 1)
        if diag:
            ell = ell.squeeze(-1)
        return torch.exp(-0.5 * sq / (ell * ell))
