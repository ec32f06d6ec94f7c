"""The flat torus :math:`T^d = (\\mathbb{R} / 2\\pi\\mathbb{Z})^d` with angles in radians."""
from __future__ import annotations

import itertools
import math
from typing import Sequence

import torch

from .._utils import resolve_device, resolve_dtype
from ._functions import TWO_PI, safe_norm, wrap_angle
from .base import Manifold

__all__ = ["Torus"]


class Torus(Manifold):
    r"""The flat torus :math:`T^d`; points are ``d`` angles wrapped to :math:`[-\pi, \pi)`.

    A commutative group under addition of angles:
    :math:`\exp(v, x) = \mathrm{wrap}(x + v)`, :math:`\log(y, x) = \mathrm{wrap}(y - x)`,
    distance :math:`\|\mathrm{wrap}(x - y)\|`, and the kernel distance
    :math:`\sum_i 2 (1 - \cos(x_i - y_i))` (the squared chord of the (cos, sin) embedding).
    The reference measure is Lebesgue on :math:`[-\pi, \pi)^d` (volume :math:`(2\pi)^d`), the
    exponential map has unit Jacobian and the preimages of ``v`` are
    :math:`v + 2\pi k`, :math:`k \in \{-n, \dots, n\}^d` (``(2n+1)^d`` of them, ``k = 0`` first).

    Parameters
    ----------
    d : int
        Number of angles (>= 1).

    Examples
    --------
    >>> import math, torch
    >>> from neurolatent.manifolds import Torus
    >>> m = Torus(1)
    >>> m.exp(torch.tensor([3.0]), torch.tensor([1.0]))  # 4 - 2 pi
    tensor([-2.2832])
    >>> m.preimages(torch.tensor([0.5]), 1).shape
    torch.Size([3, 1])
    """

    is_group = True
    has_uniform = True

    def __init__(self, d: int = 1):
        if int(d) != d or d < 1:
            raise ValueError(f"Torus(d) needs an integer number of angles d >= 1, got {d!r}")
        self.dim = self.ambient_dim = int(d)
        self.name = f"T{self.dim}"
        self.coord_names = ("theta",) if self.dim == 1 else tuple(f"theta{i}" for i in range(self.dim))
        # Windings per axis: (2n+1)^d terms, so fewer in higher dimension. Keeping |k| <= n drops
        # only preimages with some |v_i| >= (2n + 1) pi: for n = 2 (5 pi) that is < 1e-6 of the
        # mass for tangent sd <= 3 rad.
        self.default_n_windings = {1: 3, 2: 2}.get(self.dim, 1)

    def exp(self, tangent_vec, base_point):
        self._check_tangent(tangent_vec)
        self._check_point(base_point, "base_point")
        return wrap_angle(base_point + tangent_vec)

    def log(self, point, base_point):
        self._check_point(point, "point")
        self._check_point(base_point, "base_point")
        return wrap_angle(point - base_point)

    def distance(self, a, b):
        self._check_point(a, "a")
        self._check_point(b, "b")
        return safe_norm(wrap_angle(a - b))

    def features(self, point):
        """``(cos x_1, sin x_1, ..., cos x_d, sin x_d)``, shape ``(..., 2d)``."""
        return torch.stack((torch.cos(point), torch.sin(point)), dim=-1).flatten(-2)

    def pairwise_sq_dist(self, x1, x2, diag: bool = False):
        self._check_point(x1, "x1")
        self._check_point(x2, "x2")
        if diag:
            return (2 * (1 - torch.cos(x1 - x2))).sum(-1)
        # cos(a - b) = cos a cos b + sin a sin b, as one matmul; exact at a = b up to round-off.
        f1, f2 = self.features(x1), self.features(x2)
        return (2 * self.dim - 2 * f1 @ f2.transpose(-1, -2)).clamp_min(0)

    def tangent_basis(self, base_point):
        self._check_point(base_point, "base_point")
        eye = torch.eye(self.dim, dtype=base_point.dtype, device=base_point.device)
        return eye.expand(*base_point.shape[:-1], self.dim, self.dim)

    def projection(self, point):
        self._check_point(point, "point")
        return wrap_angle(point)

    def belongs(self, point, atol: float = 1e-6):
        self._check_point(point, "point")
        ok = torch.isfinite(point) & (point >= -math.pi - atol) & (point <= math.pi + atol)
        return ok.all(-1)

    def log_exp_jacobian(self, tangent_vec):
        self._check_tangent(tangent_vec)
        return torch.zeros(tangent_vec.shape[:-1], dtype=tangent_vec.dtype, device=tangent_vec.device)

    def winding_shifts(self, n_windings: int, device=None, dtype=None) -> torch.Tensor:
        """Integer lattice shifts ``2 pi k``, ``k in {-n..n}^d``, zero first: ``((2n+1)^d, d)``."""
        n = int(n_windings)
        if n < 0:
            raise ValueError(f"n_windings must be >= 0, got {n_windings!r}")
        ks = [0] + [k for j in range(1, n + 1) for k in (j, -j)]
        grid = torch.tensor(list(itertools.product(ks, repeat=self.dim)), dtype=resolve_dtype(dtype),
                            device=resolve_device(device))
        return TWO_PI * grid.reshape(-1, self.dim)

    def preimages(self, tangent_vec, n_windings: int = 0):
        self._check_tangent(tangent_vec)
        shifts = self.winding_shifts(n_windings, tangent_vec.device, tangent_vec.dtype)
        return tangent_vec.unsqueeze(-2) + shifts

    def _uniform(self, shape, generator, device, dtype):
        u = torch.rand(*shape, self.dim, generator=generator, device=device, dtype=dtype)
        return TWO_PI * u - math.pi

    def _log_volume(self) -> float:
        return self.dim * math.log(TWO_PI)

    def origin(self, batch_shape: Sequence[int] = (), device=None, dtype=None):
        return torch.zeros(*batch_shape, self.dim, device=resolve_device(device), dtype=resolve_dtype(dtype))

    def compose(self, a, b):
        self._check_point(a, "a")
        self._check_point(b, "b")
        return wrap_angle(a + b)

    def inverse(self, a):
        self._check_point(a, "a")
        return wrap_angle(-a)
