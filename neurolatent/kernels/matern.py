"""Matérn kernels (nu = 1/2, 3/2, 5/2) on a manifold's chordal distance."""
from __future__ import annotations

import math

import torch
from gpytorch.kernels import Kernel

from ..manifolds import Manifold, get_manifold
from ._distance import lengthscale_blocks, scaled_sq_dist

__all__ = ["ManifoldMaternKernel"]

_NU = (0.5, 1.5, 2.5)


class ManifoldMaternKernel(Kernel):
    r"""Matérn kernel on the manifold's kernel-ready chordal distance.

    With :math:`r` the lengthscale-scaled chordal distance (:mod:`neurolatent.kernels._distance`:
    :math:`r^2 = \sum_c \rho_c / \ell_c^2`, :math:`\rho` = :meth:`Manifold.pairwise_sq_dist`
    for one lengthscale),

    .. math::
        k_{1/2} = e^{-r}, \qquad
        k_{3/2} = (1 + \sqrt3 r)\, e^{-\sqrt3 r}, \qquad
        k_{5/2} = (1 + \sqrt5 r + \tfrac53 r^2)\, e^{-\sqrt5 r}

    (Rasmussen & Williams 2006, eq. 4.16-4.17; on :math:`\mathbb R^d` this is GPyTorch's
    ``MaternKernel``). On :math:`T^1` the chordal distance is :math:`2|\sin((x-y)/2)|`, on
    spheres :math:`\|x - y\|`, on SO(3) :math:`2\sqrt{1 - \langle q, p\rangle^2}`.

    **Positive semi-definite on every manifold**: :math:`r` is a Euclidean distance between
    embeddings (:meth:`Manifold.features`, scaled per block), and the Matérn functions are
    positive definite on :math:`\mathbb R^n` for every :math:`n`. This is why the chordal and
    not the geodesic distance is used: Matérn functions of the *geodesic* distance are not
    positive definite on spheres and circles for :math:`\nu > 1/2` (Gneiting 2013,
    "Strictly and non-strictly positive definite functions on spheres", Bernoulli 19(4);
    Feragen et al. 2015, "Geodesic exponential kernels", CVPR). Near coincident points
    :math:`r` matches the geodesic distance to second order, so lengthscales read the same.

    Parameters
    ----------
    manifold : str or Manifold
        The latent space (spec strings as in :func:`neurolatent.manifolds.get_manifold`).
    nu : {0.5, 1.5, 2.5}
        Smoothness (``0.5`` is the exponential / Ornstein-Uhlenbeck kernel).
    ard : {False, True, "factor", "dim"}
        Lengthscales per block of the distance: ``False`` one; ``"factor"`` one per factor of a
        product; ``True``/``"dim"`` one per coordinate of :math:`\mathbb R^d` and :math:`T^d`
        factors (their distance separates over coordinates) and one per factor of spheres,
        SO(3) and user manifolds. ``lengthscale`` then has shape ``(*batch_shape, 1, C)`` and
        :attr:`lengthscale_names` labels the ``C`` entries.
    **kwargs
        Passed to :class:`gpytorch.kernels.Kernel` (``batch_shape``, ``lengthscale_prior``,
        ``lengthscale_constraint``, ...). Use ``ard`` rather than ``ard_num_dims``.

    Examples
    --------
    >>> import torch
    >>> k = ManifoldMaternKernel("T1xR1", nu=1.5, ard="factor", batch_shape=torch.Size([3]))
    >>> k.lengthscale.shape, k.lengthscale_names
    (torch.Size([3, 1, 2]), ('T1', 'R1'))
    >>> x = torch.randn(5, 2)
    >>> k(x, x).to_dense().shape
    torch.Size([3, 5, 5])
    """

    has_lengthscale = True

    def __init__(self, manifold: str | Manifold, nu: float = 1.5, ard=False, **kwargs):
        if kwargs.get("ard_num_dims") is not None:
            raise ValueError(f"{type(self).__name__} takes ard=False/True/'factor'/'dim', not "
                             f"ard_num_dims={kwargs['ard_num_dims']} (lengthscales index blocks of the "
                             "manifold's distance, not input coordinates)")
        if float(nu) not in _NU:
            raise ValueError(f"nu must be one of {_NU} (closed-form Matérn kernels), got {nu!r}")
        manifold = get_manifold(manifold)
        counts, names = lengthscale_blocks(manifold, ard)
        super().__init__(ard_num_dims=len(counts), **kwargs)
        # The base class sized the lengthscale (*batch, 1, C); its input-width check for
        # ard_num_dims compares C with the coordinates of x, which it is not, so it is switched off.
        self.ard_num_dims = None
        self.manifold = manifold
        self.nu = float(nu)
        self.ard = ard
        self.lengthscale_blocks, self.lengthscale_names = counts, names

    def forward(self, x1: torch.Tensor, x2: torch.Tensor, diag: bool = False, **params) -> torch.Tensor:
        r2 = scaled_sq_dist(self.manifold, x1, x2, self.lengthscale, self.lengthscale_blocks, diag=diag)
        # r2 = 0 exactly (coincident points) is clamped, so its gradient is 0, not inf
        r = torch.sqrt(r2.clamp_min(1e-30))
        if self.nu == 0.5:
            return torch.exp(-r)
        if self.nu == 1.5:
            s = math.sqrt(3.0) * r
            return (1 + s) * torch.exp(-s)
        s = math.sqrt(5.0) * r
        return (1 + s + s * s / 3) * torch.exp(-s)
