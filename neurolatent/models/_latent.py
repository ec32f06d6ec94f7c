"""The variational posterior over latents and the two latent priors of the mGPLVM.

* :class:`LatentPosterior`: per-time :class:`ReparameterisedLieGaussian` factors,
  :math:`q(g) = \\prod_t q_t(g_t)`, ``g_t = exp(v_t, mu_t)``, ``v_t ~ N(0, L_t L_t^T)``.
* :class:`ReferencePrior` (``prior="uniform"``): Haar/uniform on compact factors,
  :math:`\\mathcal N(0, I)` on Euclidean factors (no uniform distribution exists there).
* :class:`RandomWalkPrior` (``prior="random_walk"``): a first-order autoregressive ("ARP") prior
  using the time coordinate, :math:`g_0` from the reference prior and
  :math:`p(g_t\\mid g_{t-1}) = q_{\\mathrm{Lie}}(g_t;\\ \\mathrm{loc}=g_{t-1},\\
  \\mathrm{scale}=\\mathrm{diag}(\\sigma)\\sqrt{\\Delta t_t})` — a wrapped Gaussian on the
  tangent increment with a learned per-dimension step size :math:`\\sigma`.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from ..distributions import ReparameterisedLieGaussian
from ._init import factors

__all__ = ["LatentPosterior", "ReferencePrior", "RandomWalkPrior", "chain_steps", "previous_rows"]

# Windings of the wrapped densities: "auto" keeps, at each evaluation, the fewest for which the dropped
# preimages change log q by < WINDING_TOL at every evaluated point (Torus.windings_needed; other
# manifolds keep their default_n_windings). With the fly fit's tangent stds (~0.05-0.5 rad) that is
# no winding at all instead of 7 preimages.
N_WINDINGS = "auto"
WINDING_TOL = 1e-12


def _inv_softplus(x: torch.Tensor) -> torch.Tensor:
    return x + torch.log(-torch.expm1(-x))


def chain_steps(time: torch.Tensor, starts: torch.Tensor | None, what: str):
    """Time steps of Markov chains over the bins, one chain per trial: ``(dt (T,), starts (T,) bool)``.

    ``starts`` marks the first bin of every trial (``None``: one trial starting at bin 0);
    ``dt[t] = time[t] - time[t - 1]`` inside a trial and ``1`` (a placeholder, unused) at a
    start, so no step ever links the end of one trial to the start of the next. ``time``
    must increase strictly within each trial (each trial has its own clock).
    """
    T = time.shape[0]
    if starts is None:
        starts = torch.zeros(T, dtype=torch.bool, device=time.device)
        starts[:1] = True
    starts = torch.as_tensor(starts, dtype=torch.bool, device=time.device)
    if starts.shape != time.shape or (T and not bool(starts[0])):
        raise ValueError(f"starts must be a bool tensor of shape {tuple(time.shape)} with starts[0] True (the first "
                         "bin of every trial)")
    dt = torch.cat([torch.ones_like(time[:1]), torch.diff(time)])
    if torch.any(dt[~starts] <= 0) or not bool(torch.isfinite(time).all()):
        raise ValueError(f"{what} needs a finite, strictly increasing 'time' coordinate (within each trial); sort "
                         "each trial by time (Y.sortby('time')) and drop repeated bins")
    return torch.where(starts, torch.ones_like(dt), dt), starts


def previous_rows(idx: torch.Tensor, starts: torch.Tensor) -> torch.Tensor:
    """The bins ``idx - 1`` that the chain terms at ``idx`` involve (none for a trial's first bin)."""
    return (idx - 1)[~starts[idx]]


class LatentPosterior(torch.nn.Module):
    """Per-time Lie-group Gaussians: ``loc`` (T, ambient) on the manifold, ``scale_tril`` (T, d, d).

    On manifolds whose tangent frame is continuous the Cholesky factor is held in that frame
    (``raw_diag`` (T, d), ``raw_off`` (T, d, d)). Where no continuous frame exists
    (``manifold.continuous_frame`` False, e.g. :math:`S^2`) it is an ambient factor
    (``raw_diag`` (T, ambient), ``raw_off`` (T, ambient, ambient)) projected onto the tangent
    plane at ``loc`` (:meth:`ReparameterisedLieGaussian.from_ambient_scale`), so q(g_t) is
    continuous in its mean everywhere.
    """

    def __init__(self, manifold, loc: torch.Tensor, init_scale: float):
        super().__init__()
        self.manifold = manifold
        self.ambient_scale = not manifold.continuous_frame
        d = manifold.ambient_dim if self.ambient_scale else manifold.dim
        T = loc.shape[0]
        self.loc = torch.nn.Parameter(manifold.projection(loc.clone()))
        self.raw_diag = torch.nn.Parameter(
            _inv_softplus(torch.full((T, d), float(init_scale), device=loc.device, dtype=loc.dtype)))
        self.raw_off = torch.nn.Parameter(torch.zeros(T, d, d, device=loc.device, dtype=loc.dtype))
        self.freeze_scale = False  # burn-in: scales are used but receive no gradient

    @property
    def n_time(self) -> int:
        return self.loc.shape[0]

    def _factor(self, idx=None) -> torch.Tensor:
        """The parameterised lower-triangular factor (T, k, k), k = dim or ambient_dim."""
        raw_diag, raw_off = (self.raw_diag.detach(), self.raw_off.detach()) if self.freeze_scale else (
            self.raw_diag, self.raw_off)
        diag = F.softplus(raw_diag if idx is None else raw_diag[idx]) + 1e-5
        off = raw_off if idx is None else raw_off[idx]
        return torch.tril(off, -1) + torch.diag_embed(diag)

    def scale_tril(self, idx=None) -> torch.Tensor:
        """Cholesky factor of the tangent covariance in the frame at ``loc``, (T, d, d)."""
        return self.distribution(idx).scale_tril

    def distribution(self, idx=None) -> ReparameterisedLieGaussian:
        loc = self.loc if idx is None else self.loc[idx]
        if self.ambient_scale:
            return ReparameterisedLieGaussian.from_ambient_scale(self.manifold, loc, self._factor(idx),
                                                                 n_windings=N_WINDINGS, validate_args=False,
                                                                 winding_tol=WINDING_TOL)
        return ReparameterisedLieGaussian(self.manifold, loc, self._factor(idx), n_windings=N_WINDINGS,
                                          validate_args=False, winding_tol=WINDING_TOL)

    def rsample(self, n: int, idx, generator: torch.Generator):
        """``(g, q)``: ``n`` differentiable samples (n, B, ambient) at times ``idx`` and the family.

        The noise comes from ``generator`` (not torch's global generator), so fits are
        reproducible even when several run in threads of one process (Dask ``processes=False``).
        """
        dist = self.distribution(idx)
        L = dist.scale_tril
        eps = torch.randn((int(n),) + tuple(L.shape[:-1]), generator=generator, device=L.device, dtype=L.dtype)
        v = (L @ eps.unsqueeze(-1)).squeeze(-1)
        return self.manifold.exp(v, dist.loc), dist

    def project_(self, idx=None) -> None:
        """Put ``loc`` (its rows ``idx``; all when None) back on the manifold (in place, no grad)."""
        with torch.no_grad():
            if idx is None:
                self.loc.copy_(self.manifold.projection(self.loc))
            else:
                self.loc[idx] = self.manifold.projection(self.loc[idx])


class ReferencePrior(torch.nn.Module):
    """Uniform (Haar) on compact factors, a standard normal on the others.

    Asks each factor (``Product.parts``, or the manifold itself) whether it has a uniform
    distribution (``has_uniform``); a factor without one gets the Gaussian
    :math:`\\mathcal N(0, I)` in the tangent space at its ``origin`` pushed through the
    exponential map (on :math:`\\mathbb R^d`: :math:`\\mathcal N(0, I)` on the coordinates).
    """

    def __init__(self, manifold):
        super().__init__()
        self.manifold = manifold
        self._parts = []  # (start, stop, factor manifold)
        j = 0
        for part in factors(manifold):
            self._parts.append((j, j + part.ambient_dim, part))
            j += part.ambient_dim

    def support_rows(self, idx: torch.Tensor) -> torch.Tensor:
        """Time bins besides ``idx`` whose latents the prior terms at ``idx`` involve (none)."""
        return idx[:0]

    def log_prob(self, g: torch.Tensor) -> torch.Tensor:
        """(..., ambient) -> (...)."""
        out = 0.0
        for a, b, part in self._parts:
            x = g[..., a:b]
            if part.has_uniform:
                out = out + part.uniform_log_prob(x)
            else:
                eye = torch.eye(part.dim, dtype=x.dtype, device=x.device)
                normal = ReparameterisedLieGaussian(part, part.origin(device=x.device, dtype=x.dtype), eye,
                                                    validate_args=False)
                out = out + normal.log_prob(x)
        return out


class RandomWalkPrior(torch.nn.Module):
    """Temporal prior: reference prior at the first time, wrapped-Gaussian tangent steps after."""

    def __init__(self, manifold, time: torch.Tensor, init_step: float = 0.3, starts: torch.Tensor | None = None):
        super().__init__()
        self.manifold = manifold
        self.reference = ReferencePrior(manifold)
        dt, starts = chain_steps(time, starts, "prior='random_walk'")
        med = torch.median(dt[~starts]) if bool((~starts).any()) else torch.ones_like(time[0])
        self.register_buffer("rel_dt", torch.where(starts, torch.ones_like(dt), dt / med))
        self.register_buffer("is_start", starts, persistent=False)
        self.raw_step = torch.nn.Parameter(
            _inv_softplus(torch.full((manifold.dim,), float(init_step), device=time.device, dtype=time.dtype)))

    def support_rows(self, idx: torch.Tensor) -> torch.Tensor:
        """The previous time bins ``idx - 1`` which the terms at ``idx`` involve (none at a trial's start)."""
        return previous_rows(idx, self.is_start)

    @property
    def step_scale(self) -> torch.Tensor:
        """Per-dimension tangent step std per median time step, shape (dim,)."""
        return F.softplus(self.raw_step) + 1e-4

    def log_prob_terms(self, g_t: torch.Tensor, g_prev: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """Per-time terms: ``log p(g_t | g_{t-1})``, and the reference ``log p(g_t)`` at a trial's first bin.

        g_t, g_prev: (K, B, ambient) samples at times ``idx`` and ``idx - 1`` (g_prev unused
        at a trial's first bin). Returns (K, B).
        """
        scale = self.step_scale * torch.sqrt(self.rel_dt[idx]).unsqueeze(-1)  # (B, d)
        L = torch.diag_embed(scale).expand(g_t.shape[:-1] + scale.shape[-1:] * 2)
        step = ReparameterisedLieGaussian(self.manifold, g_prev, L, n_windings=N_WINDINGS,
                                          validate_args=False, winding_tol=WINDING_TOL).log_prob(g_t)
        first = self.reference.log_prob(g_t)
        return torch.where(self.is_start[idx].expand_as(step), first, step)
