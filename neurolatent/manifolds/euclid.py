"""Euclidean space :math:`\\mathbb{R}^d` as a (translation) group."""
from __future__ import annotations

from typing import Sequence

import torch

from .._utils import resolve_device, resolve_dtype
from ._functions import safe_norm
from .base import Manifold

__all__ = ["Euclid"]


class Euclid(Manifold):
    r"""Euclidean space :math:`\mathbb{R}^d`, a group under addition.

    :math:`\exp(v, x) = x + v`, :math:`\log(y, x) = y - x`, the distance is
    :math:`\|x - y\|` and ``pairwise_sq_dist`` is :math:`\|x - y\|^2`. The exponential map has
    unit Jacobian and a single preimage. There is no uniform distribution
    (``random_uniform`` raises ``ValueError``); use :meth:`random_normal`.

    Parameters
    ----------
    d : int
        Dimension (>= 1).

    Examples
    --------
    >>> import torch
    >>> from neurolatent.manifolds import Euclid
    >>> m = Euclid(2)
    >>> m.exp(torch.tensor([1.0, 2.0]), torch.zeros(2))
    tensor([1., 2.])
    """

    is_group = True
    has_uniform = False
    default_n_windings = 0

    def __init__(self, d: int = 1):
        if int(d) != d or d < 1:
            raise ValueError(f"Euclid(d) needs an integer dimension d >= 1, got {d!r}")
        self.dim = self.ambient_dim = int(d)
        self.name = f"R{self.dim}"
        self.coord_names = tuple(f"x{i}" for i in range(self.dim))

    def exp(self, tangent_vec, base_point):
        self._check_tangent(tangent_vec)
        self._check_point(base_point, "base_point")
        return base_point + tangent_vec

    def log(self, point, base_point):
        self._check_point(point, "point")
        self._check_point(base_point, "base_point")
        return point - base_point

    def distance(self, a, b):
        self._check_point(a, "a")
        self._check_point(b, "b")
        return safe_norm(a - b)

    def features(self, point):
        return point

    def tangent_basis(self, base_point):
        self._check_point(base_point, "base_point")
        eye = torch.eye(self.dim, dtype=base_point.dtype, device=base_point.device)
        return eye.expand(*base_point.shape[:-1], self.dim, self.dim)

    def projection(self, point):
        self._check_point(point, "point")
        return point

    def belongs(self, point, atol: float = 1e-6):
        self._check_point(point, "point")
        return torch.isfinite(point).all(-1)

    def log_exp_jacobian(self, tangent_vec):
        self._check_tangent(tangent_vec)
        return torch.zeros(tangent_vec.shape[:-1], dtype=tangent_vec.dtype, device=tangent_vec.device)

    def preimages(self, tangent_vec, n_windings: int = 0):
        self._check_tangent(tangent_vec)
        return tangent_vec.unsqueeze(-2)

    def origin(self, batch_shape: Sequence[int] = (), device=None, dtype=None):
        return torch.zeros(*batch_shape, self.dim, device=resolve_device(device), dtype=resolve_dtype(dtype))

    def compose(self, a, b):
        self._check_point(a, "a")
        self._check_point(b, "b")
        return a + b

    def inverse(self, a):
        self._check_point(a, "a")
        return -a
