"""The reparameterised Lie-group Gaussian of mGPLVM (Jensen et al., NeurIPS 2020)."""
from __future__ import annotations

import math

import torch
from pyro.distributions import TorchDistribution
from torch.distributions import constraints

from ..manifolds import Manifold, get_manifold

__all__ = ["ReparameterisedLieGaussian", "OnManifold"]


class OnManifold(constraints.Constraint):
    """Constraint: the value lies on ``manifold`` (``manifold.belongs`` with a loose ``atol``)."""

    event_dim = 1

    def __init__(self, manifold: Manifold, atol: float = 1e-4):
        self.manifold = manifold
        self.atol = atol
        super().__init__()

    def check(self, value):
        return self.manifold.belongs(value, atol=self.atol)

    def __repr__(self) -> str:
        return f"OnManifold({self.manifold.name})"


class ReparameterisedLieGaussian(TorchDistribution):
    r"""Gaussian in the tangent space at ``loc`` pushed through the exponential map.

    .. math::

        v \sim \mathcal{N}(0, L L^T) \text{ on } \mathbb{R}^{\dim}, \qquad g = \exp(v, \mu),

        q(g) = \sum_{v' : \exp(v', \mu) = g} \frac{\mathcal{N}(v'; 0, L L^T)}{J(v')},

    the density w.r.t. the manifold's reference measure, with :math:`J` the Jacobian of the
    exponential map (``exp(manifold.log_exp_jacobian(v'))``) and the sum over
    ``manifold.preimages(log(g, mu), n_windings)`` (windings :math:`2\pi k` on tori, shells on
    spheres, shells and antipodal copies on SO3), evaluated with ``logsumexp``. Truncating the
    sum at ``n_windings`` makes ``log_prob`` a lower bound that is exact to round-off once the
    Gaussian mass beyond the kept shells is negligible (about ``2 pi n`` standard deviations).

    Parameters
    ----------
    manifold : str or Manifold
        The latent space.
    loc : torch.Tensor
        ``(..., ambient_dim)`` mean point; it is passed through ``manifold.projection`` (wrapped
        or normalised), so an unconstrained ambient parameter may be given.
    scale_tril : torch.Tensor
        ``(..., dim, dim)`` lower Cholesky factor of the tangent-space covariance.
    n_windings : int or "auto", optional
        Windings kept in the sum (default ``manifold.default_n_windings``). ``"auto"``: at each
        :meth:`log_prob` call, the fewest windings for which the dropped preimages change the
        density by less than ``winding_tol`` (relative) at every evaluated point
        (:meth:`Manifold.windings_needed`, a bound from the points' whitened distances and the
        factors' scales; on manifolds without such a bound, the default).
    winding_tol : float
        Tolerance of ``n_windings="auto"``: :math:`0 \le \log q - \log q_{\text{kept}} \le`
        ``winding_tol`` at every evaluated point.
    validate_args : bool, optional
        As in :class:`torch.distributions.Distribution`.

    Examples
    --------
    >>> import torch
    >>> q = ReparameterisedLieGaussian("T1", torch.zeros(1), torch.eye(1).mul(0.5))
    >>> g = q.rsample((4,))
    >>> q.log_prob(g).shape
    torch.Size([4])
    """

    arg_constraints = {"loc": constraints.real_vector, "scale_tril": constraints.lower_cholesky}
    has_rsample = True

    def __init__(self, manifold: str | Manifold, loc: torch.Tensor, scale_tril: torch.Tensor,
                 n_windings: int | str | None = None, validate_args: bool | None = None,
                 winding_tol: float = 1e-12):
        self.manifold = m = get_manifold(manifold)
        m._check_point(loc, "loc")
        if not isinstance(scale_tril, torch.Tensor) or scale_tril.ndim < 2 or scale_tril.shape[-2:] != (m.dim, m.dim):
            shape = tuple(scale_tril.shape) if isinstance(scale_tril, torch.Tensor) else type(scale_tril).__name__
            raise ValueError(f"scale_tril has shape {shape} but {m.name} has {m.dim}-dimensional tangent vectors; "
                             f"pass a lower-triangular tensor of shape (..., {m.dim}, {m.dim})")
        batch_shape = torch.broadcast_shapes(loc.shape[:-1], scale_tril.shape[:-2])
        # Projecting makes an unconstrained ambient parameter usable as ``loc`` (idempotent on
        # points already on the manifold; the gradient is then the tangential part).
        self.loc = m.projection(loc).expand(*batch_shape, m.ambient_dim)
        self.scale_tril = scale_tril.expand(*batch_shape, m.dim, m.dim)
        if isinstance(n_windings, str) and n_windings != "auto":
            raise ValueError(f"n_windings must be an int, 'auto' or None, got {n_windings!r}")
        self.n_windings = m.default_n_windings if n_windings is None else n_windings
        self.winding_tol = float(winding_tol)
        super().__init__(batch_shape, torch.Size([m.ambient_dim]), validate_args=validate_args)

    @classmethod
    def from_ambient_scale(cls, manifold: str | Manifold, loc: torch.Tensor, ambient_scale_tril: torch.Tensor,
                           n_windings: int | str | None = None,
                           validate_args: bool | None = None,
                           winding_tol: float = 1e-12) -> "ReparameterisedLieGaussian":
        r"""The family with a tangent covariance given in ambient coordinates, independent of any frame.

        An ambient covariance :math:`\Sigma = A A^\top` (``(..., ambient_dim, ambient_dim)``)
        defines on the tangent space at :math:`\mu` the Gaussian of :math:`P_\mu A\varepsilon`
        (:math:`P_\mu` the orthogonal projection onto the tangent plane), whose covariance in the
        frame :math:`B(\mu)` of :meth:`Manifold.tangent_basis` is :math:`B \Sigma B^\top`. The
        density of :math:`g` depends on the frame only through :math:`B^\top B = P_\mu`, so it is
        continuous in :math:`\mu` even where the frame is not (the point :math:`-e_0` of
        :math:`S^d`, :math:`d \ne 1, 3`, where no continuous frame exists). Returns the usual
        family with ``scale_tril = chol(B A A^T B^T)``.

        Examples
        --------
        >>> import torch
        >>> loc = torch.tensor([-1.0, 0.0, 0.0], dtype=torch.float64)
        >>> A = torch.diag(torch.tensor([0.3, 0.2, 0.5], dtype=torch.float64))
        >>> q = ReparameterisedLieGaussian.from_ambient_scale("S2", loc, A)
        >>> q.scale_tril.shape
        torch.Size([2, 2])
        """
        m = get_manifold(manifold)
        B = m.tangent_basis(m.projection(loc))  # (..., dim, amb)
        BA = B @ ambient_scale_tril
        cov = BA @ BA.transpose(-1, -2)
        return cls(m, loc, torch.linalg.cholesky(cov), n_windings=n_windings, validate_args=validate_args,
                   winding_tol=winding_tol)

    @constraints.dependent_property(is_discrete=False, event_dim=1)
    def support(self):
        return OnManifold(self.manifold)

    def expand(self, batch_shape, _instance=None):
        batch_shape = torch.Size(batch_shape)
        return ReparameterisedLieGaussian(
            self.manifold, self.loc.expand(*batch_shape, self.manifold.ambient_dim),
            self.scale_tril.expand(*batch_shape, self.manifold.dim, self.manifold.dim),
            self.n_windings, validate_args=False, winding_tol=self.winding_tol)

    def rsample_tangent(self, sample_shape=torch.Size()) -> torch.Tensor:
        """Differentiable tangent samples ``v = L eps``, ``(*sample_shape, *batch_shape, dim)``."""
        shape = torch.Size(sample_shape) + self.batch_shape + (self.manifold.dim,)
        eps = torch.randn(shape, dtype=self.loc.dtype, device=self.loc.device)
        return (self.scale_tril @ eps.unsqueeze(-1)).squeeze(-1)

    def rsample(self, sample_shape=torch.Size()) -> torch.Tensor:
        """Differentiable samples ``exp(L eps, loc)``, ``(*sample_shape, *batch_shape, ambient_dim)``."""
        return self.manifold.exp(self.rsample_tangent(sample_shape), self.loc)

    def tangent_log_prob(self, tangent_vec: torch.Tensor) -> torch.Tensor:
        """Log density of :math:`\\mathcal{N}(0, L L^T)` at ``(..., dim)`` vectors (no wrapping)."""
        z = torch.linalg.solve_triangular(self.scale_tril, tangent_vec.unsqueeze(-1), upper=False).squeeze(-1)
        half_logdet = torch.diagonal(self.scale_tril, dim1=-2, dim2=-1).abs().log().sum(-1)
        return -0.5 * (z * z).sum(-1) - half_logdet - 0.5 * self.manifold.dim * math.log(2 * math.pi)

    def log_prob(self, value: torch.Tensor) -> torch.Tensor:
        """Log density w.r.t. the manifold's reference measure, ``(*sample_shape, *batch_shape)``."""
        if self._validate_args:
            self._validate_sample(value)
        m = self.manifold
        v0 = m.log(value, self.loc)  # (*s, *b, dim), principal branch
        # One small triangular inverse per batch element, then a matmul over samples and preimages
        # (much faster than a batched solve over every (sample, preimage) pair).
        L = self.scale_tril
        if m.dim == 1:
            l_inv = 1.0 / L
        else:
            eye = torch.eye(m.dim, dtype=L.dtype, device=L.device)
            l_inv = torch.linalg.solve_triangular(L, eye, upper=False)  # (*b, dim, dim)
        half_logdet = torch.diagonal(L, dim1=-2, dim2=-1).abs().log().sum(-1)
        const = 0.5 * m.dim * math.log(2 * math.pi)
        n = self.n_windings
        if n == "auto":
            z0 = (v0.unsqueeze(-2) @ l_inv.transpose(-1, -2)).squeeze(-2)  # (*s, *b, dim)
            with torch.no_grad():  # the Frobenius norm bounds the largest singular value
                z_max = float(torch.linalg.vector_norm(z0, dim=-1).max()) if z0.numel() else 0.0
                s_max = float(torch.linalg.matrix_norm(L).max()) if L.numel() else 1.0
            n = m.windings_needed(z_max, s_max, self.winding_tol)
            if n == 0:  # the principal preimage alone (no logsumexp over one term)
                return -0.5 * (z0 * z0).sum(-1) - const - m.log_exp_jacobian(v0) - half_logdet
        pre = m.preimages(v0, n)  # (*s, *b, K, dim)
        z = pre @ l_inv.transpose(-1, -2)  # (*s, *b, K, dim)
        log_n = -0.5 * (z * z).sum(-1) - const
        return torch.logsumexp(log_n - m.log_exp_jacobian(pre), dim=-1) - half_logdet

    def rsample_and_log_prob(self, sample_shape=torch.Size()) -> tuple[torch.Tensor, torch.Tensor]:
        """``(g, log q(g))`` for differentiable samples ``g`` (the mGPLVM entropy term uses both)."""
        g = self.rsample(sample_shape)
        return g, self.log_prob(g)

    def entropy_mc(self, n: int = 1) -> torch.Tensor:
        """Monte-Carlo entropy :math:`-\\frac1n\\sum_i \\log q(g_i)`, differentiable, ``batch_shape``."""
        _, lp = self.rsample_and_log_prob((int(n),))
        return -lp.mean(0)

    def __repr__(self) -> str:
        return (f"ReparameterisedLieGaussian({self.manifold.name}, batch_shape={tuple(self.batch_shape)}, "
                f"n_windings={self.n_windings})")
