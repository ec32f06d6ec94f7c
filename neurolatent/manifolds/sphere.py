"""The unit sphere :math:`S^d \\subset \\mathbb{R}^{d+1}`."""
from __future__ import annotations

import math
from typing import Sequence

import torch

from .._utils import resolve_device, resolve_dtype
from ._functions import is_unit, normalise, TWO_PI, atan2_ratio, cos_sinc_from_sq, log_abs_sinc, qconj, qmul, safe_norm, unit_or_first_axis
from .base import Manifold

__all__ = ["Sphere"]


class Sphere(Manifold):
    r"""The unit sphere :math:`S^d` as unit vectors in :math:`\mathbb{R}^{d+1}`.

    Riemannian exponential and logarithm at ``x`` with the tangent vector ``v`` given in the
    orthonormal basis :math:`B(x)` of :meth:`tangent_basis` (rows :math:`b_i`):

    .. math::

        \exp(v, x) = \cos\|v\|\, x + \frac{\sin\|v\|}{\|v\|} \sum_i v_i b_i, \qquad
        \log(y, x) = \frac{\theta}{\sin\theta} B(x)\,(y - \langle x, y\rangle x),
        \quad \theta = \arccos\langle x, y\rangle \in [0, \pi].

    The reference measure is the Riemannian volume (total :math:`2\pi^{(d+1)/2}/\Gamma((d+1)/2)`);
    the Jacobian of the exponential map is :math:`|\sin\|v\| / \|v\||^{d-1}` and the
    preimages of ``v`` are the shells :math:`\hat v (\|v\| + 2\pi k)`, ``k = 0, 1, -1, ...``.
    ``pairwise_sq_dist`` is :math:`\|x - y\|^2 = 2(1 - \langle x, y\rangle)`.

    :math:`S^1` (unit complex numbers) and :math:`S^3` (unit quaternions ``(w, x, y, z)``) are
    groups, with :math:`\exp(v, g) = g \cdot \mathrm{Exp}(v)`; their basis is the left
    translate of the basis at the identity, so the group and Riemannian exponentials agree.
    For other ``d`` the basis is the parallel transport of :math:`e_1, \dots, e_d` from
    :math:`e_0 = (1, 0, \dots)` along the minimising geodesic; it is smooth and accurate to
    round-off everywhere except at the single point :math:`-e_0`, where no continuous choice
    exists (:math:`e_1, \dots, e_d` is returned there).

    Parameters
    ----------
    d : int
        Intrinsic dimension (>= 1); points have ``d + 1`` coordinates.

    Examples
    --------
    >>> import torch
    >>> from neurolatent.manifolds import Sphere
    >>> m = Sphere(2)
    >>> x = torch.tensor([0.0, 0.0, 1.0])
    >>> y = m.exp(torch.tensor([0.3, -0.2]), x)
    >>> torch.allclose(m.log(y, x), torch.tensor([0.3, -0.2]))
    True
    """

    has_uniform = True
    default_n_windings = 2

    def __init__(self, d: int = 2):
        if int(d) != d or d < 1:
            raise ValueError(f"Sphere(d) needs an integer dimension d >= 1, got {d!r}")
        self.dim = int(d)
        self.ambient_dim = self.dim + 1
        self.name = f"S{self.dim}"
        self.is_group = self.dim in (1, 3)
        self.continuous_frame = self.is_group  # hairy-ball theorem: no continuous frame on other S^d
        self.coord_names = ("w", "x", "y", "z") if self.dim == 3 else tuple(f"x{i}" for i in range(self.ambient_dim))

    # ------------------------------------------------------------ geometry
    def tangent_basis(self, base_point):
        self._check_point(base_point, "base_point")
        x = base_point
        if self.dim == 1:
            return torch.stack((-x[..., 1], x[..., 0]), dim=-1).unsqueeze(-2)
        if self.dim == 3:
            units = torch.eye(4, dtype=x.dtype, device=x.device)[1:]
            return qmul(x.unsqueeze(-2), units)
        # Parallel transport of e_i from e_0: b_i = e_i - x_i (e_0 + x) / (1 + x_0), written as
        # b_i = (-x_i, delta_ij - x_i x_j / D) with D = 1 + x_0. On the southern half 1 + x_0
        # is computed as |x_{1:}|^2 / (1 - x_0) (equal for unit x), which keeps every entry
        # bounded and accurate to round-off up to the singular point -e_0 itself; there
        # (|x_{1:}| = 0) the basis e_1..e_d is returned (valid, but not continuous).
        x0, xs = x[..., :1], x[..., 1:]
        s = (xs * xs).sum(-1, keepdim=True)
        north = x0 >= 0
        south_ok = (~north) & (s > 0)
        inv_d = torch.where(north, 1 / torch.where(north, 1 + x0, torch.ones_like(x0)),
                            torch.where(south_ok, (1 - x0) / torch.where(south_ok, s, torch.ones_like(s)),
                                        torch.zeros_like(s)))
        eye = torch.eye(self.dim, dtype=x.dtype, device=x.device)
        block = eye - xs.unsqueeze(-1) * xs.unsqueeze(-2) * inv_d.unsqueeze(-1)  # (..., d, d)
        return torch.cat((-xs.unsqueeze(-1), block), dim=-1)

    def exp(self, tangent_vec, base_point):
        self._check_tangent(tangent_vec)
        self._check_point(base_point, "base_point")
        basis = self.tangent_basis(base_point)
        v_amb = (tangent_vec.unsqueeze(-2) @ basis).squeeze(-2)
        cos, sinc = cos_sinc_from_sq((tangent_vec * tangent_vec).sum(-1, keepdim=True))
        return cos * base_point + sinc * v_amb

    def log(self, point, base_point):
        self._check_point(point, "point")
        self._check_point(base_point, "base_point")
        c = (point * base_point).sum(-1, keepdim=True)
        w = point - c * base_point
        coords = (self.tangent_basis(base_point) @ w.unsqueeze(-1)).squeeze(-1)
        _, ratio = atan2_ratio((coords * coords).sum(-1, keepdim=True), c)
        v = ratio * coords
        # Exactly antipodal: every direction is a geodesic; pick the first basis vector.
        anti = ((coords * coords).sum(-1, keepdim=True) <= 0) & (c <= 0)
        first = torch.zeros_like(v)
        first[..., 0] = math.pi
        return torch.where(anti, first, v)

    def distance(self, a, b):
        self._check_point(a, "a")
        self._check_point(b, "b")
        # 2 atan2(|a - b|, |a + b|) is accurate at both small and near-pi angles.
        return 2 * torch.atan2(safe_norm(a - b), safe_norm(a + b))

    def features(self, point):
        return point

    def projection(self, point):
        self._check_point(point, "point")
        return normalise(point)

    def belongs(self, point, atol: float = 1e-6):
        self._check_point(point, "point")
        return is_unit(point, atol)

    def log_exp_jacobian(self, tangent_vec):
        self._check_tangent(tangent_vec)
        if self.dim == 1:
            return torch.zeros(tangent_vec.shape[:-1], dtype=tangent_vec.dtype, device=tangent_vec.device)
        return (self.dim - 1) * log_abs_sinc((tangent_vec * tangent_vec).sum(-1))

    def preimages(self, tangent_vec, n_windings: int = 0):
        self._check_tangent(tangent_vec)
        return _shells(tangent_vec, n_windings, TWO_PI)

    def _uniform(self, shape, generator, device, dtype):
        z = torch.randn(*shape, self.ambient_dim, generator=generator, device=device, dtype=dtype)
        return z / torch.linalg.vector_norm(z, dim=-1, keepdim=True)

    def _log_volume(self) -> float:
        k = (self.dim + 1) / 2
        return math.log(2.0) + k * math.log(math.pi) - math.lgamma(k)

    def origin(self, batch_shape: Sequence[int] = (), device=None, dtype=None):
        x = torch.zeros(*batch_shape, self.ambient_dim, device=resolve_device(device), dtype=resolve_dtype(dtype))
        x[..., 0] = 1
        return x

    # ------------------------------------------------------------ group (S1, S3)
    def compose(self, a, b):
        if not self.is_group:
            self._not_group("compose")
        self._check_point(a, "a")
        self._check_point(b, "b")
        if self.dim == 3:
            return qmul(a, b)
        return torch.stack((a[..., 0] * b[..., 0] - a[..., 1] * b[..., 1],
                            a[..., 0] * b[..., 1] + a[..., 1] * b[..., 0]), dim=-1)

    def inverse(self, a):
        if not self.is_group:
            self._not_group("inverse")
        self._check_point(a, "a")
        return qconj(a)


def _shells(tangent_vec: torch.Tensor, n_windings: int, period: float) -> torch.Tensor:
    """``v/|v| (|v| + period * k)`` for ``k = 0, 1, -1, ..., n, -n``: ``(..., 2n+1, dim)``."""
    n = int(n_windings)
    if n < 0:
        raise ValueError(f"n_windings must be >= 0, got {n_windings!r}")
    ks = [0] + [k for j in range(1, n + 1) for k in (j, -j)]
    shift = period * torch.tensor(ks, dtype=tangent_vec.dtype, device=tangent_vec.device)
    unit, r = unit_or_first_axis(tangent_vec)
    # Keep the principal preimage exactly equal to the input (and its gradient exactly 1).
    radii = r.unsqueeze(-1) + shift  # (..., K)
    others = unit.unsqueeze(-2) * radii.unsqueeze(-1)
    return torch.cat((tangent_vec.unsqueeze(-2), others[..., 1:, :]), dim=-2)
