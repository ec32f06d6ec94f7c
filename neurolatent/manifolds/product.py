"""Cartesian products of manifolds, e.g. :math:`T^1 \\times \\mathbb{R}^1`."""
from __future__ import annotations

from typing import Sequence

import torch

from ._functions import safe_norm
from .base import Manifold

__all__ = ["Product"]


class Product(Manifold):
    r"""Product manifold :math:`M_1 \times \dots \times M_k` with the product metric.

    Coordinates and tangent vectors are the concatenations of those of the factors (in order).
    Distances combine as :math:`d^2 = \sum_i d_i^2`, ``pairwise_sq_dist`` and the log Jacobian
    are sums over factors, the uniform log density is the sum of the factors' (so every
    factor must be compact), and the preimages are the Cartesian product of the factors'
    preimages (principal first). It is a group when every factor is.

    Parameters
    ----------
    *manifolds : Manifold
        Two or more factors; nested products are flattened.

    Examples
    --------
    >>> import torch
    >>> from neurolatent.manifolds import Euclid, Product, Torus
    >>> m = Product(Torus(1), Euclid(1))
    >>> m.name, m.dim, m.coord_names
    ('T1xR1', 2, ('theta', 'x0'))
    >>> m.preimages(torch.zeros(2), 1).shape
    torch.Size([3, 2])
    """

    def __init__(self, *manifolds: Manifold):
        parts: list[Manifold] = []
        for m in manifolds:
            if isinstance(m, Product):
                parts.extend(m.parts)
            elif isinstance(m, Manifold):
                parts.append(m)
            else:
                raise TypeError(f"Product factors must be Manifold objects, got {type(m).__name__}: {m!r}")
        if len(parts) < 2:
            raise ValueError(f"Product needs at least two factors, got {len(parts)}; use the manifold itself")
        self.parts = tuple(parts)
        self.name = "x".join(p.name for p in parts)
        self.dim = sum(p.dim for p in parts)
        self.ambient_dim = sum(p.ambient_dim for p in parts)
        self.is_group = all(p.is_group for p in parts)
        self.has_uniform = all(p.has_uniform for p in parts)
        self.continuous_frame = all(p.continuous_frame for p in parts)
        self.default_n_windings = max(p.default_n_windings for p in parts)
        names = [n for p in parts for n in p.coord_names]
        if len(set(names)) < len(names):
            names = [f"{p.name}_{i}_{n}" for i, p in enumerate(parts) for n in p.coord_names]
        self.coord_names = tuple(names)
        self._dims = [p.dim for p in parts]
        self._amb = [p.ambient_dim for p in parts]

    def __repr__(self) -> str:
        return "Product(" + ", ".join(repr(p) for p in self.parts) + ")"

    # ------------------------------------------------------------ splitting
    def _split_v(self, v):
        self._check_tangent(v)
        return torch.split(v, self._dims, dim=-1)

    def _split_x(self, x, what):
        self._check_point(x, what)
        return torch.split(x, self._amb, dim=-1)

    def _windings(self, n_windings) -> list[int]:
        if isinstance(n_windings, (list, tuple)):
            if len(n_windings) != len(self.parts):
                raise ValueError(f"n_windings has {len(n_windings)} entries but {self.name} has {len(self.parts)} factors")
            return [int(n) for n in n_windings]
        return [int(n_windings)] * len(self.parts)

    # ------------------------------------------------------------ geometry
    def exp(self, tangent_vec, base_point):
        vs, xs = self._split_v(tangent_vec), self._split_x(base_point, "base_point")
        return torch.cat([p.exp(v, x) for p, v, x in zip(self.parts, vs, xs)], dim=-1)

    def log(self, point, base_point):
        ys, xs = self._split_x(point, "point"), self._split_x(base_point, "base_point")
        return torch.cat([p.log(y, x) for p, y, x in zip(self.parts, ys, xs)], dim=-1)

    def distance(self, a, b):
        As, Bs = self._split_x(a, "a"), self._split_x(b, "b")
        return safe_norm(torch.stack([p.distance(x, y) for p, x, y in zip(self.parts, As, Bs)], dim=-1))

    def features(self, point):
        xs = self._split_x(point, "point")
        return torch.cat([p.features(x) for p, x in zip(self.parts, xs)], dim=-1)

    def pairwise_sq_dist(self, x1, x2, diag: bool = False):
        As, Bs = self._split_x(x1, "x1"), self._split_x(x2, "x2")
        out = [p.pairwise_sq_dist(x, y, diag=diag) for p, x, y in zip(self.parts, As, Bs)]
        return torch.stack(torch.broadcast_tensors(*out), dim=0).sum(0)

    def tangent_basis(self, base_point):
        xs = self._split_x(base_point, "base_point")
        blocks = [p.tangent_basis(x) for p, x in zip(self.parts, xs)]
        batch = torch.broadcast_shapes(*[b.shape[:-2] for b in blocks])
        out = torch.zeros(*batch, self.dim, self.ambient_dim, dtype=base_point.dtype, device=base_point.device)
        r = c = 0
        for p, block in zip(self.parts, blocks):
            out[..., r:r + p.dim, c:c + p.ambient_dim] = block
            r, c = r + p.dim, c + p.ambient_dim
        return out

    def projection(self, point):
        xs = self._split_x(point, "point")
        return torch.cat([p.projection(x) for p, x in zip(self.parts, xs)], dim=-1)

    def belongs(self, point, atol: float = 1e-6):
        xs = self._split_x(point, "point")
        return torch.stack([p.belongs(x, atol) for p, x in zip(self.parts, xs)], dim=-1).all(-1)

    def log_exp_jacobian(self, tangent_vec):
        vs = self._split_v(tangent_vec)
        return torch.stack([p.log_exp_jacobian(v) for p, v in zip(self.parts, vs)], dim=-1).sum(-1)

    def preimages(self, tangent_vec, n_windings=0):
        """Cartesian product of the factors' preimages; ``n_windings`` is an int or one per factor."""
        vs = self._split_v(tangent_vec)
        acc = None
        for p, v, n in zip(self.parts, vs, self._windings(n_windings)):
            pre = p.preimages(v, n)  # (..., K, d)
            if acc is None:
                acc = pre
                continue
            a, b = acc.shape[-2], pre.shape[-2]
            batch = torch.broadcast_shapes(acc.shape[:-2], pre.shape[:-2])
            left = acc.unsqueeze(-2).expand(*batch, a, b, acc.shape[-1])
            right = pre.unsqueeze(-3).expand(*batch, a, b, pre.shape[-1])
            acc = torch.cat((left, right), dim=-1).reshape(*batch, a * b, acc.shape[-1] + pre.shape[-1])
        return acc

    # ------------------------------------------------------------ uniform
    def _uniform(self, shape, generator, device, dtype):
        return torch.cat([p._uniform(shape, generator, device, dtype) for p in self.parts], dim=-1)

    def _log_volume(self) -> float:
        return sum(p._log_volume() for p in self.parts)

    def origin(self, batch_shape: Sequence[int] = (), device=None, dtype=None):
        return torch.cat([p.origin(batch_shape, device, dtype) for p in self.parts], dim=-1)

    # ------------------------------------------------------------ group
    def compose(self, a, b):
        if not self.is_group:
            self._not_group("compose")
        As, Bs = self._split_x(a, "a"), self._split_x(b, "b")
        return torch.cat([p.compose(x, y) for p, x, y in zip(self.parts, As, Bs)], dim=-1)

    def inverse(self, a):
        if not self.is_group:
            self._not_group("inverse")
        return torch.cat([p.inverse(x) for p, x in zip(self.parts, self._split_x(a, "a"))], dim=-1)
