"""Numerically safe elementary functions shared by the manifolds (private).

Every function here is finite, and has finite gradients, at its removable singularities
(``x = 0`` for ``sin(x)/x``, a zero vector for a norm). The pattern is the "double where":
the unsafe branch is evaluated on a harmless substitute input where the safe (series) branch
is selected, so autograd never sees ``0/0``.
"""
from __future__ import annotations

import math

import torch

__all__ = [
    "normalise",
    "is_unit",
    "TWO_PI",
    "wrap_angle",
    "safe_norm",
    "cos_sinc_from_sq",
    "log_abs_sinc",
    "atan2_ratio",
    "qmul",
    "qconj",
    "unit_or_first_axis",
]

TWO_PI = 2.0 * math.pi


def _series_r(dtype: torch.dtype) -> float:
    """Radius below which the truncated Taylor series replace the closed forms.

    The first omitted terms (r^6/720 for cos, r^6/5040 for sin(r)/r, t^6/7 for atan(t)/t)
    stay below the dtype's round-off: < 1e-19 at r = 1e-3 in float64 and < 3e-9 at r = 0.05
    in float32. Above the threshold, autograd of the closed forms loses about eps/r (absolute)
    to cancellation, i.e. < 3e-13 (float64) and < 3e-6 (float32).
    """
    return 1e-3 if torch.finfo(dtype).eps < 1e-10 else 0.05


def wrap_angle(theta: torch.Tensor) -> torch.Tensor:
    r"""Wrap angles to :math:`[-\pi, \pi)`; the derivative is 1 everywhere (``remainder``)."""
    return torch.remainder(theta + math.pi, TWO_PI) - math.pi


def safe_norm(x: torch.Tensor, dim: int = -1, keepdim: bool = False) -> torch.Tensor:
    """Euclidean norm that is exactly 0 at 0 with a (sub)gradient of 0 there instead of ``nan``."""
    sq = (x * x).sum(dim=dim, keepdim=keepdim)
    pos = sq > 0
    return torch.where(pos, torch.sqrt(torch.where(pos, sq, torch.ones_like(sq))), torch.zeros_like(sq))


def cos_sinc_from_sq(r_sq: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Return :math:`(\cos r, \sin r / r)` from :math:`r^2`, with Taylor series for small ``r``."""
    small = r_sq < _series_r(r_sq.dtype) ** 2
    r = torch.sqrt(torch.where(small, torch.ones_like(r_sq), r_sq))
    cos_series = 1 - r_sq / 2 + r_sq * r_sq / 24
    sinc_series = 1 - r_sq / 6 + r_sq * r_sq / 120
    return torch.where(small, cos_series, torch.cos(r)), torch.where(small, sinc_series, torch.sin(r) / r)


def log_abs_sinc(r_sq: torch.Tensor) -> torch.Tensor:
    r"""Return :math:`\log|\sin r / r|` from :math:`r^2`, finite everywhere.

    Near :math:`r = 0` the series :math:`-r^2/6 - r^4/180` is used; at the zeros
    :math:`r = k\pi` of :math:`\sin` the value is clamped at ``log(tiny)`` of the dtype
    (about -708 in float64) instead of ``-inf``.
    """
    small = r_sq < _series_r(r_sq.dtype) ** 2
    r = torch.sqrt(torch.where(small, torch.ones_like(r_sq), r_sq))
    tiny = torch.finfo(r_sq.dtype).tiny
    big = torch.log(torch.clamp(torch.sin(r).abs(), min=tiny)) - torch.log(r)
    return torch.where(small, -r_sq / 6 - r_sq * r_sq / 180, big)


def atan2_ratio(n_sq: torch.Tensor, c: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Angle :math:`\theta = \operatorname{atan2}(n, c)` and the ratio :math:`\theta / n`.

    Used by every sphere-like logarithm: a point ``c * x + w`` with ``|w| = n`` lies at
    angle :math:`\theta` from ``x`` and its log is :math:`(\theta / n) w`. For ``n`` small
    and ``c > 0`` the ratio uses the series :math:`(1/c)(1 - t^2/3 + t^4/5)`, ``t = n/c``.
    At ``n = 0, c <= 0`` (the antipode, where the direction is undefined) the ratio is
    returned as 0 and callers choose a direction; ``theta`` is then :math:`\pi`.
    """
    small = (n_sq < _series_r(n_sq.dtype) ** 2 * c * c) & (c > 0)
    zero = n_sq <= 0
    unsafe = small | zero
    n = torch.sqrt(torch.where(unsafe, torch.ones_like(n_sq), n_sq))
    c_safe = torch.where(small, c, torch.ones_like(c))
    t_sq = n_sq / (c_safe * c_safe)
    series = (1 - t_sq / 3 + t_sq * t_sq / 5) / c_safe
    theta_big = torch.atan2(n, c)
    ratio = torch.where(small, series, torch.where(zero, torch.zeros_like(n), theta_big / n))
    theta = torch.where(
        small, series * torch.sqrt(torch.where(small, n_sq, torch.ones_like(n_sq))),
        torch.where(zero, torch.where(c > 0, torch.zeros_like(c), torch.full_like(c, math.pi)), theta_big),
    )
    return theta, ratio


def normalise(point: torch.Tensor) -> torch.Tensor:
    """Scale ``point`` to unit norm along the last axis (the projection onto spheres and S^3)."""
    return point / safe_norm(point, keepdim=True).clamp_min(torch.finfo(point.dtype).tiny)


def is_unit(point: torch.Tensor, atol: float) -> torch.Tensor:
    """True where ``point`` is finite and of unit norm within ``atol`` (membership of spheres)."""
    n = torch.linalg.vector_norm(point, dim=-1)
    return torch.isfinite(n) & ((n - 1).abs() <= atol)


def unit_or_first_axis(v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(v / |v|, |v|)``; where ``v = 0`` the unit vector is the first axis (an arbitrary choice)."""
    r = safe_norm(v, keepdim=True)
    e1 = torch.zeros_like(v)
    e1[..., 0] = 1
    pos = r > 0
    unit = torch.where(pos, v / torch.where(pos, r, torch.ones_like(r)), e1)
    return unit, r.squeeze(-1)


def qmul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Hamilton product of quaternions ``(w, x, y, z)`` with broadcasting."""
    aw, ax, ay, az = a.unbind(-1)
    bw, bx, by, bz = b.unbind(-1)
    return torch.stack(
        (
            aw * bw - ax * bx - ay * by - az * bz,
            aw * bx + ax * bw + ay * bz - az * by,
            aw * by - ax * bz + ay * bw + az * bx,
            aw * bz + ax * by - ay * bx + az * bw,
        ),
        dim=-1,
    )


def qconj(q: torch.Tensor) -> torch.Tensor:
    """Quaternion conjugate (the inverse of a unit quaternion)."""
    return torch.cat((q[..., :1], -q[..., 1:]), dim=-1)
