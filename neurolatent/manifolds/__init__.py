"""Latent spaces for neurolatent: Euclidean spaces, tori, spheres, SO(3) and their products.

Every manifold implements :class:`Manifold` (exp/log at a base point, distance, uniform
sampling and log density, projection, group operations where they exist, the exp-map Jacobian
and the preimages needed by the wrapped variational density). Build one from a spec string
with :func:`get_manifold`.
"""
from __future__ import annotations

import re

from .align import align_latents
from .base import Manifold
from .euclid import Euclid
from .product import Product
from .quadrature import quadrature_grid
from .so3 import SO3
from .sphere import Sphere
from .torus import Torus

__all__ = ["Manifold", "Euclid", "Torus", "Sphere", "SO3", "Product", "get_manifold", "align_latents", "quadrature_grid"]

_ACCEPTED = ('"Rd" (Euclidean, e.g. "R1", "R2"), "Td" (torus, e.g. "T1", "T2"), "Sd" (sphere, e.g. "S1", '
             '"S2", "S3"), "SO3", or factors joined by "x" (e.g. "T1xR1")')
_FACTOR = re.compile(r"^(SO3|[RTS])(\d+)?$")


def _factor(spec: str, full: str) -> Manifold:
    m = _FACTOR.match(spec.strip())
    if m is None or (m.group(1) != "SO3" and m.group(2) is None):
        raise ValueError(f"unknown manifold spec {full!r} (factor {spec!r}); accepted specs: {_ACCEPTED}")
    if m.group(1) == "SO3":
        return SO3()
    d = int(m.group(2))
    if d < 1:
        raise ValueError(f"manifold spec {full!r}: the dimension in {spec!r} must be >= 1; accepted specs: {_ACCEPTED}")
    return {"R": Euclid, "T": Torus, "S": Sphere}[m.group(1)](d)


def get_manifold(spec: str | Manifold) -> Manifold:
    """Return the manifold named by ``spec`` (a :class:`Manifold` is returned unchanged).

    Parameters
    ----------
    spec : str or Manifold
        ``"R<d>"``, ``"T<d>"``, ``"S<d>"``, ``"SO3"`` or a product such as ``"T1xR1"``
        (case-insensitive; ``"×"`` also separates factors).

    Returns
    -------
    Manifold

    Raises
    ------
    ValueError
        For an unknown spec; the message lists the accepted ones.

    Examples
    --------
    >>> from neurolatent.manifolds import get_manifold
    >>> get_manifold("T1xR1")
    Product(Torus(1), Euclid(1))
    >>> get_manifold("so3").name
    'SO3'
    """
    if isinstance(spec, Manifold):
        return spec
    if not isinstance(spec, str):
        raise TypeError(f"manifold must be a spec string or a Manifold, got {type(spec).__name__}: {spec!r}; "
                        f"accepted specs: {_ACCEPTED}")
    factors = re.split(r"[X×]", spec.strip().upper())  # "SO3" contains no X, so splitting is safe
    if not spec.strip() or any(not f.strip() for f in factors):
        raise ValueError(f"unknown manifold spec {spec!r}; accepted specs: {_ACCEPTED}")
    parts = [_factor(f, spec) for f in factors]
    return parts[0] if len(parts) == 1 else Product(*parts)
