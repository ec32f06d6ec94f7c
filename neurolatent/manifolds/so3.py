"""The rotation group SO(3) as unit quaternions modulo sign."""
from __future__ import annotations

import math
from typing import Sequence

import torch

from .._utils import resolve_device, resolve_dtype
from ._functions import is_unit, normalise, atan2_ratio, cos_sinc_from_sq, log_abs_sinc, qconj, qmul, safe_norm
from .base import Manifold
from .sphere import _shells

__all__ = ["SO3"]

_SQRT2 = math.sqrt(2.0)
_TRIU = ([0, 0, 0, 1, 1, 2], [1, 2, 3, 2, 3, 3])  # upper triangle of a 4x4 matrix


class SO3(Manifold):
    r"""Rotations as unit quaternions ``(w, x, y, z)`` with :math:`q \sim -q`.

    Group exponential and logarithm (``exp(v, g) = g * Exp(v)``):

    .. math::

        \mathrm{Exp}(v) = \Bigl(\cos\|v\|, \frac{\sin\|v\|}{\|v\|} v\Bigr), \qquad
        \log(p, q) = \frac{\theta}{\sin\theta} u, \quad
        \pm q^{-1} p = (\cos\theta, u),\ \theta \in [0, \pi/2],

    the sign being chosen so that the real part is non-negative. ``Exp(v)`` is the rotation by
    the angle :math:`2\|v\|` about :math:`\hat v`. The metric is the round metric of the unit
    :math:`S^3` divided by :math:`\pm 1`: the volume is :math:`\pi^2`, the distance
    :math:`\arccos|\langle q, p\rangle| \in [0, \pi/2]` is half the rotation angle between the
    two rotations, the Jacobian of ``Exp`` is :math:`(\sin\|v\| / \|v\|)^2`, and the preimages
    of ``v`` are :math:`\hat v(\|v\| + \pi k)` (odd ``k`` give the antipodal copy ``-q``).
    ``pairwise_sq_dist`` is :math:`4(1 - \langle q, p\rangle^2)`, invariant to either sign.

    Examples
    --------
    >>> import torch
    >>> from neurolatent.manifolds import SO3
    >>> m = SO3()
    >>> v = torch.tensor([0.1, 0.2, 0.3], dtype=torch.float64)
    >>> g = m.exp(v, m.identity())  # identity() is float64 unless dtype= is given
    >>> torch.allclose(m.log(-g, m.identity()), v)
    True
    """

    is_group = True
    has_uniform = True
    default_n_windings = 3

    def __init__(self):
        self.dim = 3
        self.ambient_dim = 4
        self.name = "SO3"
        self.coord_names = ("w", "x", "y", "z")

    def __repr__(self) -> str:
        return "SO3()"

    def group_exp(self, tangent_vec: torch.Tensor) -> torch.Tensor:
        """Quaternion exponential :math:`(\\cos\\|v\\|, \\sin\\|v\\|\\, v / \\|v\\|)`, ``(..., 4)``."""
        self._check_tangent(tangent_vec)
        cos, sinc = cos_sinc_from_sq((tangent_vec * tangent_vec).sum(-1, keepdim=True))
        return torch.cat((cos, sinc * tangent_vec), dim=-1)

    def exp(self, tangent_vec, base_point):
        self._check_point(base_point, "base_point")
        return qmul(base_point, self.group_exp(tangent_vec))

    def log(self, point, base_point):
        self._check_point(point, "point")
        self._check_point(base_point, "base_point")
        r = qmul(qconj(base_point), point)
        r = torch.where(r[..., :1] < 0, -r, r)
        c, u = r[..., :1], r[..., 1:]
        _, ratio = atan2_ratio((u * u).sum(-1, keepdim=True), c)
        return ratio * u

    def distance(self, a, b):
        self._check_point(a, "a")
        self._check_point(b, "b")
        s = torch.where((a * b).sum(-1, keepdim=True) < 0, -1.0, 1.0).to(a.dtype)
        return torch.atan2(safe_norm(a - s * b), safe_norm(a + s * b)) * 2

    def features(self, point):
        r"""Scaled upper triangle of :math:`q q^T` (10 numbers): :math:`\langle f(q), f(p)\rangle = 2\langle q, p\rangle^2`."""
        sq = point * point
        off = point[..., _TRIU[0]] * point[..., _TRIU[1]]
        return _SQRT2 * torch.cat((sq, _SQRT2 * off), dim=-1)

    def pairwise_sq_dist(self, x1, x2, diag: bool = False):
        self._check_point(x1, "x1")
        self._check_point(x2, "x2")
        if diag:
            inner = (x1 * x2).sum(-1)
        else:
            inner = x1 @ x2.transpose(-1, -2)
        return (4 * (1 - inner * inner)).clamp_min(0)

    def tangent_basis(self, base_point):
        self._check_point(base_point, "base_point")
        units = torch.eye(4, dtype=base_point.dtype, device=base_point.device)[1:]
        return qmul(base_point.unsqueeze(-2), units)

    def projection(self, point):
        self._check_point(point, "point")
        return normalise(point)

    def belongs(self, point, atol: float = 1e-6):
        self._check_point(point, "point")
        return is_unit(point, atol)

    def log_exp_jacobian(self, tangent_vec):
        self._check_tangent(tangent_vec)
        return 2 * log_abs_sinc((tangent_vec * tangent_vec).sum(-1))

    def preimages(self, tangent_vec, n_windings: int = 0):
        self._check_tangent(tangent_vec)
        return _shells(tangent_vec, n_windings, math.pi)

    def _uniform(self, shape, generator, device, dtype):
        z = torch.randn(*shape, 4, generator=generator, device=device, dtype=dtype)
        return z / torch.linalg.vector_norm(z, dim=-1, keepdim=True)

    def _log_volume(self) -> float:
        return 2 * math.log(math.pi)

    def origin(self, batch_shape: Sequence[int] = (), device=None, dtype=None):
        q = torch.zeros(*batch_shape, 4, device=resolve_device(device), dtype=resolve_dtype(dtype))
        q[..., 0] = 1
        return q

    def compose(self, a, b):
        self._check_point(a, "a")
        self._check_point(b, "b")
        return qmul(a, b)

    def inverse(self, a):
        self._check_point(a, "a")
        return qconj(a)

    @staticmethod
    def as_rotation_matrix(q: torch.Tensor) -> torch.Tensor:
        """Rotation matrices ``(..., 3, 3)`` of unit quaternions ``(..., 4)`` (same for ``q`` and ``-q``)."""
        w, x, y, z = q.unbind(-1)
        rows = (
            1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
            2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
            2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
        )
        return torch.stack(rows, dim=-1).reshape(*q.shape[:-1], 3, 3)
