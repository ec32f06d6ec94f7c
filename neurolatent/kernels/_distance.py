r"""Lengthscale-scaled kernel distances on manifolds, shared by the stationary kernels.

A stationary manifold kernel is a function of the scaled squared chordal distance

.. math::
    r^2(x, y) = \sum_{c=1}^{C} \frac{\rho_c(x, y)}{\ell_c^2},
    \qquad \rho_c(x, y) = \|\phi_c(x) - \phi_c(y)\|^2,

where :math:`\phi = (\phi_1, \dots, \phi_C)` is the manifold's embedding
(:meth:`~neurolatent.manifolds.Manifold.features`) cut into the blocks that get their own
lengthscale. :math:`r` is a Euclidean distance between the embeddings
:math:`(\phi_c / \ell_c)_c`, so every kernel that is positive definite on
:math:`\mathbb R^n` for all :math:`n` (RBF, Matérn) stays positive semi-definite on every
manifold, with any lengthscales.

The blocks (the ``ard`` argument of the kernels):

* ``False``: one block (one lengthscale per kernel batch).
* ``"factor"``: one block per factor of a :class:`~neurolatent.manifolds.Product`.
* ``True`` / ``"dim"``: one block per coordinate where the factor's distance separates over
  coordinates — :math:`\mathbb R^d` (:math:`\rho_i = (x_i - y_i)^2`) and :math:`T^d`
  (:math:`\rho_i = 2(1 - \cos(x_i - y_i))`) — and one block per factor elsewhere (spheres,
  SO(3), user manifolds: their chordal distance does not separate over tangent directions).
"""
from __future__ import annotations

import torch

from ..manifolds import Euclid, Manifold, Product, Torus

__all__ = ["lengthscale_blocks", "scaled_sq_dist"]

_ARD = (False, True, "factor", "dim")


def _factors(manifold: Manifold) -> tuple[Manifold, ...]:
    return manifold.parts if isinstance(manifold, Product) else (manifold,)


def _n_features(manifold: Manifold) -> int:
    return int(manifold.features(manifold.origin()).shape[-1])


def lengthscale_blocks(manifold: Manifold, ard) -> tuple[tuple[int, ...], tuple[str, ...]]:
    """Feature counts and names of the blocks that get one lengthscale each.

    Parameters
    ----------
    manifold : Manifold
    ard : {False, True, "factor", "dim"}
        See the module docstring (``True`` means ``"dim"``).

    Returns
    -------
    counts : tuple of int
        Number of consecutive :meth:`Manifold.features` entries in each block (they sum to the
        feature width).
    names : tuple of str
        One label per block (``"T1:theta"``, ``"S2"``, ...).

    Examples
    --------
    >>> from neurolatent.manifolds import get_manifold
    >>> lengthscale_blocks(get_manifold("T2xS2"), "dim")
    ((2, 2, 3), ('T2:theta0', 'T2:theta1', 'S2'))
    """
    if ard not in _ARD or (ard is not False and ard is not True and not isinstance(ard, str)):
        raise ValueError(f"ard must be False, True, 'factor' or 'dim', got {ard!r}")
    if ard is False:
        return (_n_features(manifold),), (manifold.name,)
    counts, names = [], []
    for part in _factors(manifold):
        if ard in (True, "dim") and isinstance(part, (Euclid, Torus)):
            per = 1 if isinstance(part, Euclid) else 2  # Torus.features: (cos x_i, sin x_i) per angle
            counts.extend([per] * part.dim)
            names.extend(f"{part.name}:{c}" for c in part.coord_names)
        else:
            counts.append(_n_features(part))
            names.append(part.name)
    return tuple(counts), tuple(names)


def scaled_sq_dist(manifold: Manifold, x1: torch.Tensor, x2: torch.Tensor, lengthscale: torch.Tensor,
                   counts: tuple[int, ...], diag: bool = False) -> torch.Tensor:
    r""":math:`r^2 = \sum_c \rho_c / \ell_c^2` between rows of ``x1`` and ``x2``.

    Parameters
    ----------
    manifold : Manifold
    x1, x2 : torch.Tensor
        ``(..., n, ambient_dim)`` and ``(..., m, ambient_dim)`` (``m = n`` when ``diag``).
    lengthscale : torch.Tensor
        ``(*batch, 1, C)`` as GPyTorch stores it, ``C = len(counts)``.
    counts : tuple of int
        Block widths from :func:`lengthscale_blocks`.
    diag : bool
        Paired distances ``(..., n)`` instead of the matrix ``(..., n, m)``.

    Returns
    -------
    torch.Tensor
        Broadcast over the leading dimensions of the inputs and ``*batch``; clamped at 0.
    """
    if len(counts) == 1:  # the manifold's own distance
        sq = manifold.pairwise_sq_dist(x1, x2, diag=diag)
        ell = lengthscale.squeeze(-1) if diag else lengthscale  # (*batch, 1) or (*batch, 1, 1)
        return _zero_diagonal(sq / (ell * ell), x1, x2, diag)
    manifold._check_point(x1, "x1")
    manifold._check_point(x2, "x2")
    reps = torch.tensor(counts, device=lengthscale.device)
    w = (1.0 / lengthscale).repeat_interleave(reps, dim=-1)  # (*batch, 1, F)
    f1, f2 = manifold.features(x1), manifold.features(x2)
    if f1.shape[-1] != w.shape[-1]:
        raise RuntimeError(f"{manifold.name}.features gives {f1.shape[-1]} numbers per point but the "
                           f"lengthscale blocks cover {w.shape[-1]}")
    if diag:
        return _zero_diagonal((((f1 - f2) * w) ** 2).sum(-1), x1, x2, diag)  # w's 1 sits on the point axis
    # Centre on the mean of x1 (as GPyTorch does) to reduce cancellation in the expansion.
    centre = f1.mean(-2, keepdim=True)
    f1, f2 = (f1 - centre) * w, (f2 - centre) * w
    sq = (f1 * f1).sum(-1)[..., :, None] + (f2 * f2).sum(-1)[..., None, :] - 2 * f1 @ f2.transpose(-1, -2)
    return _zero_diagonal(sq.clamp_min(0), x1, x2)


def _zero_diagonal(sq: torch.Tensor, x1: torch.Tensor, x2: torch.Tensor, diag: bool = False) -> torch.Tensor:
    """Exact zeros for the distance of each point to itself (the diagonal of ``K(x, x)``, or all
    of ``diag=True`` at ``x1 = x2``): round-off leaves ~1e-16 there, which a kernel with a cusp
    (Matérn 1/2: ``exp(-sqrt(r2))``) would turn into a 1e-8 error."""
    if x1.shape != x2.shape or not (x1 is x2 or torch.equal(x1, x2)):
        return sq
    if diag:
        return sq.masked_fill(torch.ones((), dtype=torch.bool, device=sq.device), 0.0)
    eye = torch.eye(sq.shape[-1], dtype=torch.bool, device=sq.device)
    return sq.masked_fill(eye, 0.0)
