"""The abstract :class:`Manifold` every latent space implements.

The contract is the abstract methods below (names and shapes as documented on each) and
``tests/manifolds/test_manifold_contract.py``, which every manifold passes. Beyond the core
operations, the model side relies on:

* ``pairwise_sq_dist(x1, x2, diag=False)``: ``diag=True`` returns the element-wise squared
  chordal distance ``(..., n)`` between paired rows (what GPyTorch asks a kernel for).
* ``features(point)`` -> ``(..., n_features)``: an embedding with
  ``pairwise_sq_dist(x, y) = ||features(x) - features(y)||^2`` (tori: (cos, sin) per angle;
  SO3: the scaled upper triangle of ``q q^T``, so it is invariant to ``q -> -q``).
* ``tangent_basis(base_point)`` -> ``(..., dim, ambient_dim)`` on every manifold (not only S^2).
* ``origin(batch_shape=(), device=None, dtype=None)``: a fixed reference point (identity for
  groups, the first axis ``e_0`` for spheres).
* ``default_n_windings``: the number of windings used when a caller passes ``None``.
* ``preimages``: ``K`` (the length of axis -2) is manifold-specific; read it from the shape.
  Tori keep ``(2n+1)^d`` lattice shifts, spheres ``2n+1`` shells ``v/|v| (|v| + 2 pi k)``,
  SO3 ``2n+1`` shells ``v/|v| (|v| + pi k)`` (every other one is an antipodal copy
  ``-q``), products the Cartesian product of their parts.
* S^1 and S^3 are groups (unit complex numbers / unit quaternions) with
  ``exp(v, g) = g * Exp(v)``; their ``tangent_basis`` is the left-translated basis, so the
  Riemannian and group exponentials coincide. Other spheres are not groups.
* SO3 ``distance`` is ``arccos |<q, p>|`` in ``[0, pi/2]``: the geodesic distance of the
  metric whose volume is ``pi^2`` (half the rotation angle between the two rotations).
* The S^2 (and S^d, d != 1, 3) ``tangent_basis`` is the parallel transport of e_1..e_d from
  e_0 = (1, 0, ...): smooth and accurate everywhere except the single point -e_0.
* ``origin``/``identity``/``random_*`` default to float64 like the rest of the package; pass
  ``dtype=`` to match float32 inputs. Series thresholds depend on the dtype.

No contract name or shape was changed.
"""
from __future__ import annotations

import abc
from typing import Sequence

import torch

from .._utils import resolve_device, resolve_dtype

__all__ = ["Manifold"]


class Manifold(abc.ABC):
    """A Riemannian manifold (optionally a Lie group) used as a latent space.

    Points are tensors ``(..., ambient_dim)`` in the manifold's own coordinates and tangent
    vectors are ``(..., dim)`` in the orthonormal basis returned by :meth:`tangent_basis`.
    Leading dimensions broadcast.

    Attributes
    ----------
    name : str
        Spec string accepted by :func:`neurolatent.manifolds.get_manifold` (``"T1"``, ...).
    dim : int
        Intrinsic dimension (length of a tangent vector).
    ambient_dim : int
        Number of coordinates per point.
    is_group : bool
        Whether :meth:`identity`, :meth:`compose` and :meth:`inverse` are available.
    coord_names : tuple of str
        Labels of the ``ambient_dim`` coordinates (the ``coord`` dimension of results).
    has_uniform : bool
        Whether a uniform (Haar) probability distribution exists (compact manifolds).
    default_n_windings : int
        Windings kept by :meth:`preimages` callers that pass ``None``.
    continuous_frame : bool
        Whether :meth:`tangent_basis` is continuous on the whole manifold. Where it is not
        (:math:`S^d`, :math:`d \\ne 1, 3`: no continuous frame exists), quantities in tangent
        coordinates should be held in ambient coordinates and projected.
    """

    name: str
    dim: int
    ambient_dim: int
    is_group: bool = False
    coord_names: tuple[str, ...]
    has_uniform: bool = True
    default_n_windings: int = 0
    continuous_frame: bool = True

    # ----------------------------------------------------------------- geometry
    @abc.abstractmethod
    def exp(self, tangent_vec: torch.Tensor, base_point: torch.Tensor) -> torch.Tensor:
        """Exponential map ``(..., dim), (..., ambient_dim) -> (..., ambient_dim)``."""

    @abc.abstractmethod
    def log(self, point: torch.Tensor, base_point: torch.Tensor) -> torch.Tensor:
        """Principal-branch logarithm ``(..., ambient_dim) x 2 -> (..., dim)``."""

    @abc.abstractmethod
    def distance(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Geodesic distance ``(..., ambient_dim) x 2 -> (...)``."""

    @abc.abstractmethod
    def features(self, point: torch.Tensor) -> torch.Tensor:
        """Embedding whose squared Euclidean distances are :meth:`pairwise_sq_dist`."""

    @abc.abstractmethod
    def tangent_basis(self, base_point: torch.Tensor) -> torch.Tensor:
        """Orthonormal basis of the tangent space in ambient coordinates ``(..., dim, ambient_dim)``."""

    @abc.abstractmethod
    def projection(self, point: torch.Tensor) -> torch.Tensor:
        """Nearest point on the manifold (angles wrapped, vectors normalised)."""

    @abc.abstractmethod
    def belongs(self, point: torch.Tensor, atol: float = 1e-6) -> torch.Tensor:
        """Boolean tensor ``(...)``: whether each point lies on the manifold within ``atol``."""

    @abc.abstractmethod
    def log_exp_jacobian(self, tangent_vec: torch.Tensor) -> torch.Tensor:
        """``log |det d Exp|`` at ``tangent_vec`` w.r.t. the reference measure, ``(...)``."""

    @abc.abstractmethod
    def preimages(self, tangent_vec: torch.Tensor, n_windings: int) -> torch.Tensor:
        """All tangent vectors with the same image under exp, principal first, ``(..., K, dim)``."""

    def windings_needed(self, z_norm: float, scale_norm: float, tol: float) -> int:
        """Windings for :meth:`preimages` that make a truncated wrapped-Gaussian density exact to ``tol``.

        ``z_norm``: the largest whitened norm :math:`\\|L^{-1} v_0\\|` of the principal
        preimages evaluated; ``scale_norm``: an upper bound on the largest singular value of the
        Cholesky factors :math:`L`. The base class knows no bound and returns
        ``default_n_windings``; :class:`~neurolatent.manifolds.Torus` overrides it.
        """
        return self.default_n_windings

    @abc.abstractmethod
    def origin(self, batch_shape: Sequence[int] = (), device=None, dtype=None) -> torch.Tensor:
        """A fixed reference point ``(*batch_shape, ambient_dim)``."""

    # ------------------------------------------------------- uniform distribution
    def _uniform(self, shape: tuple[int, ...], generator, device, dtype) -> torch.Tensor:
        raise ValueError(
            f"{self.name} has no uniform distribution (it is not compact); use random_normal instead"
        )

    def _log_volume(self) -> float:
        raise ValueError(f"{self.name} has no uniform distribution (it is not compact), so no uniform_log_prob")

    def random_uniform(self, n: int, *, generator: torch.Generator | None = None, device=None,
                       dtype: torch.dtype | None = None) -> torch.Tensor:
        """``n`` points from the uniform (Haar) distribution, ``(n, ambient_dim)``.

        Parameters
        ----------
        n : int
            Number of points.
        generator : torch.Generator, optional
            Source of randomness (its device is used when ``device`` is None).
        device, dtype : optional
            Output device (default: the generator's, else CPU) and dtype (default float64).
        """
        device = resolve_device(device) if device is not None else (
            generator.device if generator is not None else torch.device("cpu"))
        return self._uniform((int(n),), generator, device, resolve_dtype(dtype))

    def uniform_log_prob(self, point: torch.Tensor) -> torch.Tensor:
        """Log density ``-log(volume)`` of the uniform distribution at every point, ``(...)``."""
        self._check_point(point, "point")
        return torch.full(point.shape[:-1], -self._log_volume(), dtype=point.dtype, device=point.device)

    def random_normal(self, n: int, *, scale: float = 1.0, base_point: torch.Tensor | None = None,
                      generator: torch.Generator | None = None, device=None,
                      dtype: torch.dtype | None = None) -> torch.Tensor:
        """``exp(scale * z, base_point)`` with ``z ~ N(0, I_dim)``: ``(n, ambient_dim)``.

        ``base_point`` defaults to :meth:`origin`. On ``R^d`` this is an isotropic normal.
        """
        if base_point is not None:
            device = base_point.device if device is None else device
            dtype = base_point.dtype if dtype is None else dtype
        device = resolve_device(device) if device is not None else (
            generator.device if generator is not None else torch.device("cpu"))
        dtype = resolve_dtype(dtype)
        z = torch.randn((int(n), self.dim), generator=generator, device=device, dtype=dtype)
        if base_point is None:
            base_point = self.origin(device=device, dtype=dtype)
        return self.exp(scale * z, base_point.to(device=device, dtype=dtype))

    # ------------------------------------------------------------ kernel distance
    def pairwise_sq_dist(self, x1: torch.Tensor, x2: torch.Tensor, diag: bool = False) -> torch.Tensor:
        """Kernel-ready squared chordal distance ``||features(x1_i) - features(x2_j)||^2``.

        Parameters
        ----------
        x1 : torch.Tensor
            ``(..., n, ambient_dim)``.
        x2 : torch.Tensor
            ``(..., m, ambient_dim)`` (``m = n`` when ``diag``).
        diag : bool
            If True return the paired distances ``(..., n)`` instead of the matrix.

        Returns
        -------
        torch.Tensor
            ``(..., n, m)`` (or ``(..., n)``), clamped at 0.
        """
        self._check_point(x1, "x1")
        self._check_point(x2, "x2")
        f1, f2 = self.features(x1), self.features(x2)
        if diag:
            return ((f1 - f2) ** 2).sum(-1)
        # Centre on the mean of x1 (as GPyTorch does) to reduce cancellation in the expansion.
        centre = f1.mean(-2, keepdim=True)
        f1, f2 = f1 - centre, f2 - centre
        sq = (f1 * f1).sum(-1)[..., :, None] + (f2 * f2).sum(-1)[..., None, :] - 2 * f1 @ f2.transpose(-1, -2)
        return sq.clamp_min(0)

    # --------------------------------------------------------------- group ops
    def _not_group(self, what: str):
        raise NotImplementedError(f"{self.name} is not a group, so it has no {what}; check manifold.is_group first")

    def identity(self, batch_shape: Sequence[int] = (), device=None, dtype=None) -> torch.Tensor:
        """Group identity ``(*batch_shape, ambient_dim)`` (groups only). For every group of this
        package (R^d, T^d, S^1, S^3, SO(3) and their products) it is :meth:`origin`."""
        if not self.is_group:
            self._not_group("identity")
        return self.origin(batch_shape, device, dtype)

    def compose(self, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        """Group product ``a * b`` (groups only)."""
        self._not_group("compose")

    def inverse(self, a: torch.Tensor) -> torch.Tensor:
        """Group inverse (groups only)."""
        self._not_group("inverse")

    # ----------------------------------------------------------------- helpers
    def _check_point(self, x: torch.Tensor, what: str) -> None:
        if not isinstance(x, torch.Tensor):
            raise TypeError(f"{what} must be a torch.Tensor of shape (..., {self.ambient_dim}), got {type(x).__name__}")
        if x.ndim == 0 or x.shape[-1] != self.ambient_dim:
            raise ValueError(
                f"{what} has shape {tuple(x.shape)} but points on {self.name} have {self.ambient_dim} "
                f"coordinates {self.coord_names}; pass a tensor of shape (..., {self.ambient_dim})"
            )

    def _check_tangent(self, v: torch.Tensor, what: str = "tangent_vec") -> None:
        if not isinstance(v, torch.Tensor):
            raise TypeError(f"{what} must be a torch.Tensor of shape (..., {self.dim}), got {type(v).__name__}")
        if v.ndim == 0 or v.shape[-1] != self.dim:
            raise ValueError(
                f"{what} has shape {tuple(v.shape)} but tangent vectors of {self.name} have {self.dim} "
                f"components; pass a tensor of shape (..., {self.dim})"
            )

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.dim})"

    def __eq__(self, other) -> bool:
        return isinstance(other, Manifold) and type(other) is type(self) and other.name == self.name

    def __hash__(self) -> int:
        return hash((type(self).__name__, self.name))
