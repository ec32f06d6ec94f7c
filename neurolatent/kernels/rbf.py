"""Squared-exponential kernel on a manifold's chordal distance."""
from __future__ import annotations

import torch
from gpytorch.kernels import Kernel

from ..manifolds import Manifold, get_manifold
from ._distance import lengthscale_blocks, scaled_sq_dist

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
    ard : {False, True, "factor", "dim"}
        Lengthscales per block of the distance (:mod:`neurolatent.kernels._distance`):
        ``False`` one; ``"factor"`` one per factor of a product; ``True``/``"dim"`` one per
        coordinate of :math:`\mathbb R^d` and :math:`T^d` factors and one per factor of
        spheres, SO(3) and user manifolds; then
        :math:`k = \exp(-\tfrac12\sum_c \rho_c/\ell_c^2)`, ``lengthscale`` has shape
        ``(*batch_shape, 1, C)`` and :attr:`lengthscale_names` labels the ``C`` entries.
    **kwargs
        Passed to :class:`gpytorch.kernels.Kernel` (``batch_shape``, ``lengthscale_prior``,
        ``lengthscale_constraint``, ...). Use ``ard`` rather than ``ard_num_dims``.

    Examples
    --------
    >>> import torch
    >>> k = ManifoldRBFKernel("T1", batch_shape=torch.Size([3]))
    >>> x = torch.linspace(-3, 3, 5).unsqueeze(-1)
    >>> k(x, x).to_dense().shape
    torch.Size([3, 5, 5])
    """

    has_lengthscale = True

    def __init__(self, manifold: str | Manifold, ard=False, **kwargs):
        if kwargs.get("ard_num_dims") not in (None, 1):
            raise ValueError(f"ManifoldRBFKernel takes ard=False/True/'factor'/'dim', not ard_num_dims="
                             f"{kwargs['ard_num_dims']} (lengthscales index blocks of the manifold's distance, "
                             "not input coordinates); use batch_shape for per-neuron lengthscales")
        kwargs.pop("ard_num_dims", None)
        manifold = get_manifold(manifold)
        counts, names = lengthscale_blocks(manifold, ard)
        super().__init__(ard_num_dims=len(counts), **kwargs)
        # The base class sized the lengthscale (*batch, 1, C); its input-width check for
        # ard_num_dims compares C with the coordinates of x, which it is not, so it is switched off.
        self.ard_num_dims = None
        self.manifold = manifold
        self.ard = ard
        self.lengthscale_blocks, self.lengthscale_names = counts, names

    def forward(self, x1: torch.Tensor, x2: torch.Tensor, diag: bool = False, **params) -> torch.Tensor:
        r2 = scaled_sq_dist(self.manifold, x1, x2, self.lengthscale, self.lengthscale_blocks, diag=diag)
        return torch.exp(-0.5 * r2)
