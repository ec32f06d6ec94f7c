"""Deterministic quadrature rules on the compact manifolds (for checks and plots on a grid)."""
from __future__ import annotations

import math

import numpy as np
import torch

from .._utils import resolve_device, resolve_dtype
from .base import Manifold
from .product import Product
from .so3 import SO3
from .sphere import Sphere
from .torus import Torus

__all__ = ["quadrature_grid"]


def _periodic(n: int) -> tuple[np.ndarray, np.ndarray]:
    """Midpoint rule on [-pi, pi): spectrally accurate for smooth periodic integrands."""
    x = -math.pi + (np.arange(n) + 0.5) * (2 * math.pi / n)
    return x, np.full(n, 2 * math.pi / n)


def _sphere_rule(d: int, n: int, top: float) -> tuple[np.ndarray, np.ndarray]:
    """Hyperspherical coordinates on S^d; the first polar angle runs over [0, top]."""
    phi, w_phi = _periodic(n)
    angles, weights = [phi], [w_phi]
    gl_x, gl_w = np.polynomial.legendre.leggauss(n)
    for k in range(d - 1):  # polar angles theta_1 .. theta_{d-1}; the area element has sin^{d-1-k}
        hi = top if k == 0 else math.pi
        th = 0.5 * hi * (gl_x + 1)
        angles.insert(k, th)
        weights.insert(k, 0.5 * hi * gl_w * np.sin(th) ** (d - 1 - k))
    grids = np.meshgrid(*angles, indexing="ij")
    w = np.ones_like(grids[0])
    for i, wk in enumerate(weights):
        shape = [1] * len(weights)
        shape[i] = -1
        w = w * wk.reshape(shape)
    # x_0 = cos t1, x_1 = sin t1 cos t2, ..., x_{d-1} = sin t1..sin t_{d-1} cos phi, x_d = ... sin phi
    pts, s = [], np.ones_like(grids[0])
    for g in grids[:-1]:
        pts.append(s * np.cos(g))
        s = s * np.sin(g)
    pts += [s * np.cos(grids[-1]), s * np.sin(grids[-1])]
    return np.stack(pts, -1).reshape(-1, d + 1), w.reshape(-1)


def _rule(m: Manifold, n: int) -> tuple[np.ndarray, np.ndarray]:
    if isinstance(m, Torus):
        x, w = _periodic(n)
        grids = np.meshgrid(*([x] * m.dim), indexing="ij")
        return np.stack(grids, -1).reshape(-1, m.dim), np.full(n ** m.dim, (2 * math.pi / n) ** m.dim)
    if isinstance(m, Sphere):
        return _sphere_rule(m.dim, n, math.pi)
    if isinstance(m, SO3):  # the hemisphere w >= 0 of S^3 represents every rotation once
        return _sphere_rule(3, n, math.pi / 2)
    if isinstance(m, Product):
        pts, wts = _rule(m.parts[0], n)
        for p in m.parts[1:]:
            q, v = _rule(p, n)
            pts = np.concatenate((np.repeat(pts, len(q), 0), np.tile(q, (len(pts), 1))), axis=1)
            wts = np.repeat(wts, len(v)) * np.tile(v, len(wts))
        return pts, wts
    raise ValueError(f"{m.name} is not compact, so it has no quadrature rule over the whole manifold")


def quadrature_grid(manifold, n: int = 32, *, device=None, dtype=None) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Points and weights with :math:`\sum_i w_i f(x_i) \approx \int_M f\, d\mu`.

    :math:`\mu` is the manifold's reference measure (the one ``uniform_log_prob`` and the
    Lie-Gaussian density use). Tori use the periodic midpoint rule with ``n`` points per angle;
    spheres use hyperspherical coordinates with Gauss-Legendre in each polar angle (weights
    include :math:`\sin^{k}\theta`) and the periodic rule in the azimuth; SO3 uses the
    :math:`w \ge 0` hemisphere of :math:`S^3`; products use the tensor rule. The number of
    points is ``n ** dim``, so keep ``n`` modest in three dimensions.

    Parameters
    ----------
    manifold : str or Manifold
        A compact manifold (Euclidean factors raise ``ValueError``).
    n : int
        Points per coordinate.
    device, dtype : optional
        Output device (default CPU) and dtype (default float64).

    Returns
    -------
    points : torch.Tensor
        ``(n ** dim, ambient_dim)``.
    weights : torch.Tensor
        ``(n ** dim,)``, summing to the volume.

    Examples
    --------
    >>> import math
    >>> x, w = quadrature_grid("S2", 16)
    >>> round(float(w.sum()) / (4 * math.pi), 10)
    1.0
    """
    from . import get_manifold

    m = get_manifold(manifold)
    if int(n) < 2:
        raise ValueError(f"quadrature_grid needs n >= 2 points per coordinate, got {n!r}")
    pts, w = _rule(m, int(n))
    device, dtype = resolve_device(device), resolve_dtype(dtype)
    return torch.as_tensor(pts, device=device, dtype=dtype), torch.as_tensor(w, device=device, dtype=dtype)
