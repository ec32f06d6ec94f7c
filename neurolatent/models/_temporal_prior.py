r"""Temporal GP prior over mGPLVM latents, with a learnable timescale per latent dimension.

The prior is a first-order Markov process in the ``time`` coordinate, built factor by factor
of the latent manifold (:class:`~neurolatent.manifolds.Product` parts):

* :math:`\mathbb R^d` — each coordinate is a stationary **Ornstein-Uhlenbeck GP**,
  :math:`x \sim \mathcal{GP}(0, \sigma_j^2 e^{-|t - t'|/\tau_j})` (the Matérn-1/2 kernel in
  time). Sampled at times :math:`t_1 < \dots < t_T` it factorises exactly as
  :math:`x_1 \sim \mathcal N(0, \sigma^2)`,
  :math:`x_t \mid x_{t-1} \sim \mathcal N(a_t x_{t-1}, \sigma^2 (1 - a_t^2))`,
  :math:`a_t = e^{-(t_t - t_{t-1})/\tau}`. :math:`\sigma^2 = 1` by default (the marginal of the
  uniform prior's :math:`\mathcal N(0, I)`; the scale of a Euclidean latent is not identifiable
  from the tuning-curve lengthscales; Jensen et al. 2021, "Scalable Bayesian GPFA with
  automatic relevance determination and discrete noise models", NeurIPS, likewise fix the
  prior scale of their GP latents and learn the loadings' scales); ``learn_variance`` frees it.
* :math:`T^d` — each angle is **Brownian motion on the circle** started from the uniform
  distribution: :math:`\theta_1 \sim U[-\pi, \pi)`,
  :math:`\theta_t \mid \theta_{t-1} \sim \mathrm{WN}(\theta_{t-1}, 2\Delta t_t / \tau_j)`, a
  wrapped normal (the unwrapped path is a Gaussian process with independent increments).
  It is stationary with the uniform marginal, and its circular autocorrelation is
  :math:`\mathbb E[e^{i(\theta_t - \theta_s)}] = e^{-|t - s|/\tau}` — the OU correlation with the
  same :math:`\tau`, so a timescale reads the same on a ring and on a line.
* other compact factors (spheres, SO(3), user manifolds) — a **geodesic random walk** from
  the uniform distribution, :math:`g_t \mid g_{t-1} \sim` the Lie-group Gaussian
  (:class:`~neurolatent.distributions.ReparameterisedLieGaussian`) at :math:`g_{t-1}` with
  isotropic tangent variance :math:`2\Delta t / (\dim \cdot \tau)`, one :math:`\tau` per
  factor (isotropic: these factors have no preferred tangent directions). On :math:`S^d` the
  small-step limit is Brownian motion with :math:`\mathbb E\langle x_t, x_s\rangle =
  e^{-|t - s|/\tau}`.

**Why this construction on tori.** A stationary Euclidean GP cannot be wrapped onto the circle
as a tractable prior: :math:`\theta = \mathrm{wrap}(\phi)` with :math:`\phi` an OU process is not
Markov in :math:`\theta` (mean reversion acts on the unwrapped value), its density sums over
every winding sequence of the path, and its marginal is not uniform, so it would break the
rotation symmetry the mGPLVM's uniform prior respects (Jensen et al., "Manifold GPLVMs for
discovering non-Euclidean latent structure", NeurIPS 2020). Processes with rotation-invariant
increments do descend to the circle; the one with Gaussian increments and a first-order Markov
structure is circular Brownian motion, whose wrapped transition density is evaluated exactly
(image sum for small steps, Fourier series for large ones). Its continuity at the wrap is
built in: a step from :math:`\pi - \epsilon` to :math:`-\pi + \epsilon` is a step of
:math:`2\epsilon`. A smoother alternative, a GP on the tangent *increments* (angular velocity),
is second-order in :math:`g` and needs joint winding sums over triples; it is not implemented.

**Cost.** The OU process is the stationary Gaussian process that is Markov (Doob 1942), so the
log density of a path is a sum over successive pairs: :math:`O(T)` time and memory, no
:math:`T \times T` Cholesky (the state-space view of temporal GPs, Hartikainen & Särkkä 2010,
with a one-dimensional state). Matérn-3/2 or squared-exponential time kernels would need a
velocity state or a dense/banded solve over the whole path. With the mGPLVM's factorised
posterior :math:`q(g) = \prod_t q_t(g_t)` the latent term of the ELBO,
:math:`\mathbb E_q[\log p(g_{1:T}) - \log q(g_{1:T})] = \sum_t \mathbb E_{q_t q_{t-1}}[\log
p(g_t \mid g_{t-1})] - \mathbb E_{q_t}[\log q_t(g_t)]`, is estimated from reparameterised
samples of :math:`g_t` and independent samples of :math:`g_{t-1}`, per time bin, so a random
minibatch of bins gives an unbiased estimate (scaled by :math:`T/B`). A recording of
:math:`T = 10^5` bins costs one pass over the bins per epoch.

**Learned timescales under a factorised posterior.** The ELBO's optimal timescale sees the
increments of *independent* draws of :math:`q_t` and :math:`q_{t-1}`, whose variance exceeds the
true step variance by about :math:`2\sigma_q^2` (the posterior spread), so timescales are biased
short while :math:`\sigma_q` is comparable to a step (Turner & Sahani 2011, "Two problems with
variational expectation maximisation for time-series models"). In an mGPLVM fit this shows
during the burn-in, when :math:`\sigma_q` is held at ``init_scale``: on a synthetic ring with a
true :math:`\tau` of 2.22 s the timescale dipped to 0.76 s, then reached 2.38 s after 500 steps
once :math:`\sigma_q` had shrunk to 0.05 rad.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from ..distributions import ReparameterisedLieGaussian
from ..manifolds import Euclid, Manifold, Product, Torus
from ._latent import chain_steps, previous_rows

__all__ = ["TemporalGPPrior"]

_TWO_PI = 2 * math.pi
_SMALL_STEP = 2.5  # wrapped-normal std below which the image sum is used, above it the Fourier series
_N_IMAGES = 3  # at most |k| <= 3 images: at std 2.5 the first omitted one lies 7 pi = 8.8 std away
_N_FOURIER = 5  # n <= 5 harmonics: the first omitted term is exp(-36 * 2.5^2 / 2) ~ 1e-49


def wrapped_normal_log_prob(delta: torch.Tensor, var: torch.Tensor) -> torch.Tensor:
    r"""Log density of the wrapped normal :math:`\mathrm{WN}(0, s^2)` on :math:`[-\pi, \pi)` at ``delta``.

    .. math::
        \mathrm{WN}(\delta; s^2) = \sum_k \mathcal N(\delta + 2\pi k; 0, s^2)
        = \frac{1}{2\pi}\Big(1 + 2\sum_{n \ge 1} e^{-n^2 s^2 / 2}\cos n\delta\Big),

    the image sum for :math:`s < 2.5` and the Fourier series above (both exact to round-off in
    float64). ``delta`` and ``var`` broadcast; any real ``delta`` is accepted (periodic).
    """
    delta, s2 = torch.broadcast_tensors(delta, var)
    small = s2 < _SMALL_STEP ** 2
    d = torch.remainder(delta + math.pi, _TWO_PI) - math.pi
    all_small, none_small = bool(small.all()), not bool(small.any())  # usually one branch suffices
    if not none_small:
        # each branch is evaluated at a variance clamped into its own range, so neither makes inf/nan
        s2_img = s2 if all_small else torch.where(small, s2, torch.full_like(s2, _SMALL_STEP ** 2))
        # images |k| <= k_max: the first omitted one lies >= (2 k_max + 1) pi >= 8 std away (< 1e-14)
        s_max = math.sqrt(float(s2_img.detach().max()))
        k_max = max(1, min(_N_IMAGES, math.ceil((8 * s_max / math.pi - 1) / 2)))
        k = torch.arange(-k_max, k_max + 1, dtype=d.dtype, device=d.device)
        v = d.unsqueeze(-1) + _TWO_PI * k
        img = torch.logsumexp(-0.5 * v * v / s2_img.unsqueeze(-1), -1) - 0.5 * torch.log(_TWO_PI * s2_img)
        if all_small:
            return img
    s2_four = s2 if none_small else torch.where(small, torch.full_like(s2, _SMALL_STEP ** 2), s2)
    n = torch.arange(1, _N_FOURIER + 1, dtype=d.dtype, device=d.device)
    series = (torch.exp(-0.5 * n * n * s2_four.unsqueeze(-1)) * torch.cos(n * d.unsqueeze(-1))).sum(-1)
    four = torch.log1p(2 * series) - math.log(_TWO_PI)
    return four if none_small else torch.where(small, img, four)


class TemporalGPPrior(torch.nn.Module):
    r"""Temporal prior :math:`p(g_{1:T})` over the latents of an mGPLVM (see the module docstring).

    Parameters
    ----------
    manifold : Manifold
        The latent space; every factor must be Euclidean or compact (have a uniform distribution).
    time : torch.Tensor
        ``(T,)`` strictly increasing time stamps (the ``time`` coordinate of the recording);
        timescales are in the same units.
    init_timescale : float or torch.Tensor, optional
        Starting timescale(s); default 10 median time steps.
    learn_variance : bool
        Learn the OU variance of Euclidean coordinates (default: fixed at 1).
    starts : torch.Tensor, optional
        ``(T,)`` bool, True at the first bin of every trial: the bins are then several
        independent chains (one per trial, each from the stationary start, sharing the
        timescales), and ``time`` need only increase within each trial. Default: one trial.

    Attributes
    ----------
    timescale : torch.Tensor
        ``(n_timescales,)``: one per coordinate of Euclidean and torus factors, one per other
        factor; :attr:`timescale_names` labels them.
    variance : torch.Tensor
        ``(n_euclid,)`` OU variances of the Euclidean coordinates (ones unless learned).

    Examples
    --------
    >>> import torch
    >>> from neurolatent.manifolds import get_manifold
    >>> p = TemporalGPPrior(get_manifold("T1xR1"), torch.arange(50.0, dtype=torch.float64))
    >>> p.timescale_names, [round(float(tau), 9) for tau in p.timescale]
    (('T1:theta', 'R1:x0'), [10.0, 10.0])
    >>> path = p.sample(generator=torch.Generator().manual_seed(0))
    >>> path.shape, p.log_prob(path).shape
    (torch.Size([50, 2]), torch.Size([]))
    """

    def __init__(self, manifold: Manifold, time: torch.Tensor, init_timescale=None, learn_variance: bool = False,
                 starts: torch.Tensor | None = None):
        super().__init__()
        self.manifold = manifold
        self.learn_variance = bool(learn_variance)
        self._check_time(time)
        steps, starts = chain_steps(time, starts, "prior='temporal_gp'")
        dt = steps[~starts]  # the real steps inside trials
        parts = manifold.parts if isinstance(manifold, Product) else (manifold,)
        self._blocks = []  # (kind, part, ambient slice, first timescale index, n timescales, first euclid index)
        names, a, j, e = [], 0, 0, 0
        for part in parts:
            if isinstance(part, Euclid):
                kind, n_tau = "ou", part.dim
            elif isinstance(part, Torus):
                kind, n_tau = "circle", part.dim
            elif part.has_uniform:
                kind, n_tau = "walk", 1
            else:
                raise ValueError(f"prior='temporal_gp' needs Euclidean or compact factors; {part.name} of "
                                 f"{manifold.name} is neither (no stationary start); use prior='uniform'")
            self._blocks.append((kind, part, slice(a, a + part.ambient_dim), j, n_tau, e))
            names.extend([f"{part.name}:{c}" for c in part.coord_names] if kind != "walk" else [part.name])
            a, j, e = a + part.ambient_dim, j + n_tau, e + (part.dim if kind == "ou" else 0)
        self.timescale_names = tuple(names)
        kw = {"dtype": time.dtype, "device": time.device}
        if init_timescale is None:
            init_timescale = 10.0 * float(torch.median(dt)) if dt.numel() else 1.0
        tau0 = torch.as_tensor(init_timescale, **kw).expand(j).clone()
        if torch.any(tau0 <= 0):
            raise ValueError(f"init_timescale must be positive, got {init_timescale!r}")
        self.raw_log_timescale = torch.nn.Parameter(torch.log(tau0))
        self.raw_log_variance = torch.nn.Parameter(torch.zeros(e, **kw), requires_grad=self.learn_variance)
        self.register_buffer("dt", steps)  # unused at a trial's first bin (stationary start)
        self.register_buffer("is_start", starts, persistent=False)

    @staticmethod
    def _check_time(time) -> None:
        if not isinstance(time, torch.Tensor) or time.ndim != 1 or not torch.is_floating_point(time):
            raise ValueError("time must be a 1-d floating-point tensor of time stamps (the recording's 'time' "
                             f"coordinate), got {time!r:.80}")

    @property
    def timescale(self) -> torch.Tensor:
        """Timescales ``(n_timescales,)`` in the units of the time coordinate."""
        return torch.exp(self.raw_log_timescale)

    @property
    def variance(self) -> torch.Tensor:
        """OU variances of the Euclidean coordinates ``(n_euclid,)``."""
        return torch.exp(self.raw_log_variance)

    def support_rows(self, idx: torch.Tensor) -> torch.Tensor:
        """The previous time bins ``idx - 1`` which the terms at ``idx`` involve (none at a trial's start)."""
        return previous_rows(idx, self.is_start)

    def at_times(self, time: torch.Tensor, starts: torch.Tensor | None = None) -> "TemporalGPPrior":
        """The same process (shared parameters) at other time stamps, e.g. held-out bins.

        By the Markov property the prior of the process at a subset of its times is again this
        chain with the gaps as time steps, so held-out inference scores the fitted model.
        ``starts`` marks the first bin of each trial among the new bins (default: one trial).
        """
        other = TemporalGPPrior(self.manifold, time.to(self.dt), learn_variance=self.learn_variance,
                                starts=None if starts is None else torch.as_tensor(starts, device=self.dt.device))
        other.raw_log_timescale = self.raw_log_timescale
        other.raw_log_variance = self.raw_log_variance
        return other

    # ------------------------------------------------------------------------ densities --
    def _first(self, g: torch.Tensor) -> torch.Tensor:
        """Stationary log density of single points g (..., ambient) -> (...)."""
        out = 0.0
        for kind, part, sl, _, _, e in self._blocks:
            x = g[..., sl]
            if kind == "ou":
                var = self.variance[e:e + part.dim]
                out = out + (-0.5 * x * x / var - 0.5 * torch.log(_TWO_PI * var)).sum(-1)
            else:
                out = out + part.uniform_log_prob(x)
        return out

    def _step(self, g_t: torch.Tensor, g_prev: torch.Tensor, dt: torch.Tensor) -> torch.Tensor:
        """log p(g_t | g_prev) after steps dt (broadcast to g's batch): (..., ambient) x 2 -> (...)."""
        out = 0.0
        tau_all, dt = self.timescale, dt.unsqueeze(-1)
        for kind, part, sl, j, n_tau, e in self._blocks:
            x, xp, tau = g_t[..., sl], g_prev[..., sl], tau_all[j:j + n_tau]
            if kind == "ou":
                var = self.variance[e:e + part.dim]
                a = torch.exp(-dt / tau)
                cvar = -var * torch.expm1(-2 * dt / tau)  # var (1 - a^2), accurate for dt << tau
                r = x - a * xp
                out = out + (-0.5 * r * r / cvar - 0.5 * torch.log(_TWO_PI * cvar)).sum(-1)
            elif kind == "circle":
                out = out + wrapped_normal_log_prob(x - xp, 2 * dt / tau).sum(-1)
            else:
                s = torch.sqrt(2 * dt / (part.dim * tau))  # (..., 1)
                eye = torch.eye(part.dim, dtype=x.dtype, device=x.device)
                L = (s.unsqueeze(-1) * eye).expand(*x.shape[:-1], part.dim, part.dim)
                out = out + ReparameterisedLieGaussian(part, xp, L, validate_args=False).log_prob(x)
        return out

    def log_prob_terms(self, g_t: torch.Tensor, g_prev: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
        """Per-time terms: ``log p(g_t | g_{t-1})``, and the stationary ``log p(g_t)`` at a trial's first bin.

        Parameters
        ----------
        g_t, g_prev : torch.Tensor
            ``(K, B, ambient)`` samples at times ``idx`` and ``idx - 1`` (``g_prev`` is unused at a
            trial's first bin), as for :class:`~neurolatent.models._latent.RandomWalkPrior`.
        idx : torch.Tensor
            ``(B,)`` time indices.

        Returns
        -------
        torch.Tensor
            ``(K, B)``.
        """
        first = self._first(g_t)
        step = self._step(g_t, g_prev, self.dt[idx].expand(g_t.shape[:-1]))
        return torch.where(self.is_start[idx].expand_as(step), first, step)

    def log_prob(self, path: torch.Tensor) -> torch.Tensor:
        """Log density of whole paths ``(..., T, ambient)`` at this prior's times -> ``(...)``.

        With several trials (``starts``) it is the sum of the trials' independent chains.
        """
        self.manifold._check_point(path, "path")
        if path.shape[-2] != self.dt.shape[0]:
            raise ValueError(f"path has {path.shape[-2]} time bins but this prior has {self.dt.shape[0]}; "
                             "use prior.at_times(time) for other time stamps")
        first = self._first(path[..., self.is_start, :]).sum(-1)
        if path.shape[-2] == 1:
            return first
        inner = ~self.is_start[1:]
        step = self._step(path[..., 1:, :][..., inner, :], path[..., :-1, :][..., inner, :],
                          self.dt[1:][inner].expand(path.shape[:-2] + (-1,)))
        return first + step.sum(-1)

    @torch.no_grad()
    def sample(self, generator: torch.Generator | None = None) -> torch.Tensor:
        """One path ``(T, ambient)`` from the prior (ancestral sampling along time; a fresh
        stationary start at every trial's first bin)."""
        T, kw = self.dt.shape[0], {"dtype": self.dt.dtype, "device": self.dt.device}
        later = [int(s) for s in torch.nonzero(self.is_start).flatten().tolist() if s > 0]  # other trials' starts
        bounds = [0] + later + [T]
        cols = []
        for kind, part, _, j, n_tau, e in self._blocks:
            tau = self.timescale[j:j + n_tau]
            if kind == "ou":
                var = self.variance[e:e + part.dim]
                a = torch.exp(-self.dt[:, None] / tau)  # (T, d)
                z = torch.randn(T, part.dim, generator=generator, **kw) * torch.sqrt(-var * torch.expm1(
                    -2 * self.dt[:, None] / tau))
                z[0] = torch.randn(part.dim, generator=generator, **kw) * torch.sqrt(var)
                for s in later:  # every trial starts from the stationary law
                    z[s] = torch.randn(part.dim, generator=generator, **kw) * torch.sqrt(var)
                    a[s] = 0.0
                x, a, z = np.empty((T, part.dim)), a.cpu().numpy(), z.cpu().numpy()
                x[0] = z[0]
                for t in range(1, T):  # the AR(1) recursion, in numpy (no autograd needed)
                    x[t] = a[t] * x[t - 1] + z[t]
                cols.append(torch.as_tensor(x, **kw))
                continue
            x0 = [part.random_uniform(1, generator=generator, **kw)[0]]
            scale = torch.sqrt(2 * self.dt[:, None] / (tau if kind == "circle" else part.dim * tau))
            v = torch.randn(T, part.dim, generator=generator, **kw) * scale
            x0 += [part.random_uniform(1, generator=generator, **kw)[0] for _ in later]
            if kind == "circle":  # exp on a torus is addition: wrap the unwrapped Brownian path of each trial
                cols.append(torch.cat([part.projection(x0[k] + torch.cumsum(torch.cat(
                    [torch.zeros_like(v[a:a + 1]), v[a + 1:b]]), 0)) for k, (a, b) in enumerate(zip(bounds, bounds[1:]))]))
                continue
            x = []
            for k, (a, b) in enumerate(zip(bounds, bounds[1:])):
                x.append(x0[k])
                for t in range(a + 1, b):
                    x.append(part.exp(v[t], x[-1]))
            cols.append(torch.stack(x))
        return torch.cat(cols, -1)
