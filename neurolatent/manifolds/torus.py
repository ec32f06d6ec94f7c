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

    def windings_needed(self, z_norm: float, scale_norm: float, tol: float) -> int:
        r"""Fewest windings :math:`n` whose dropped preimages change the wrapped density by < ``tol`` (relative).

        For a Gaussian :math:`\mathcal N(0, LL^\top)` wrapped on :math:`T^d`, evaluated at the
        principal preimage :math:`v_0` with whitened :math:`z_0 = L^{-1}v_0`, a dropped shift
        :math:`w = 2\pi k` with :math:`\|k\|_\infty = j > n` has whitened length
        :math:`\|L^{-1}w\| \ge D_j = 2\pi j / \sigma` (:math:`\sigma \ge` the largest singular
        value of :math:`L`, ``scale_norm``), so relative to the kept :math:`k = 0` term it weighs

        .. math:: \exp\!\big(-(\|z_0 + L^{-1}w\|^2 - \|z_0\|^2)/2\big)
                  \le \exp\!\big(-D_j (D_j - 2\|z_0\|)/2\big) \quad (D_j \ge 2\|z_0\|),

        and :math:`(2j+1)^d - (2j-1)^d` shifts have :math:`\|k\|_\infty = j`. The returned
        :math:`n` is the smallest with :math:`\sum_{j>n} ((2j+1)^d - (2j-1)^d)
        e^{-D_j(D_j - 2\|z_0\|)/2} \le` ``tol``, so :math:`0 \le \log q_{\mathrm{full}} -
        \log q_n \le` ``tol`` at every evaluated point (``z_norm`` = their largest
        :math:`\|z_0\|`). Capped at ``3 * default_n_windings`` (where no :math:`n` up to it meets
        the tolerance, e.g. a tangent std of several radians, the cap is returned).

        Examples
        --------
        >>> from neurolatent.manifolds import Torus
        >>> Torus(1).windings_needed(z_norm=4.0, scale_norm=0.3, tol=1e-12)  # a narrow q: no winding
        0
        >>> Torus(1).windings_needed(z_norm=4.0, scale_norm=2.0, tol=1e-12)  # a wide one: k = -3..3
        3
        """
        cap = 3 * self.default_n_windings
        z, s, d = float(z_norm), float(scale_norm), self.dim
        if not (math.isfinite(z) and math.isfinite(s) and s > 0):
            return cap
        for n in range(cap):
            total = 0.0
            for j in range(n + 1, n + 60):
                D = TWO_PI * j / s
                if D <= 2 * z:
                    total = math.inf
                    break
                term = ((2 * j + 1) ** d - (2 * j - 1) ** d) * math.exp(-0.5 * D * (D - 2 * z))
                total += term
                if term < 1e-300:
                    break
            if total <= tol:
                return n
        return cap

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
