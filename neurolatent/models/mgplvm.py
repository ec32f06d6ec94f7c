"""The manifold Gaussian-process latent variable model (mGPLVM) of Jensen et al. (NeurIPS 2020).

Generative model, for time bins :math:`t = 1..T` and neurons :math:`n = 1..N`:

.. math::
    g_t \\sim p(g) \\text{ on } \\mathcal M, \\qquad
    f_n \\sim \\mathcal{GP}(c_n, k_n), \\qquad
    y_{tn} \\sim p(y \\mid f_n(g_t)),

with :math:`k_n(x, x') = s_n^2 \\exp(-d^2(x,x') / 2\\ell_n^2)` built from the manifold's
kernel-ready squared distance. Inference is variational:

.. math::
    q(g) = \\prod_t \\mathrm{LieGaussian}(g_t;\\ \\mu_t, L_t L_t^\\top), \\qquad
    q(u_n) = \\mathcal N(L_{zz,n} m_n,\\ L_{zz,n} S_n S_n^\\top L_{zz,n}^\\top)

(sparse GP with M inducing points :math:`Z \\subset \\mathcal M`, whitened), and the bound

.. math::
    \\mathcal L = \\sum_{t,n} \\mathbb E_{q(g_t) q(f_n)}[\\log p(y_{tn}\\mid f_n(g_t))]
      - \\sum_n \\mathrm{KL}[q(u_n)\\,\\|\\,p(u_n)]
      + \\sum_t \\mathbb E_{q(g_t)}[\\log p(g_t) - \\log q(g_t)]

is estimated with reparameterised Monte-Carlo samples of :math:`g` (``n_mc`` per step),
closed-form or Gauss-Hermite expectations over :math:`f`, and the wrapped density of the
Lie-group family (sum over exp-map preimages with the exp-map Jacobian), so it is a real lower
bound on :math:`\\log p(Y)`. With ``batch_size`` the data and latent terms are estimated on a
random subset of time bins and scaled by :math:`T/B` (unbiased), and only the latents of those
bins are updated (lazy row-sparse Adam, :class:`~neurolatent.inference.row_adam.RowSparseAdam`).

Several trials of one population (``fit`` with a ``trial`` dimension or a list of recordings)
share :math:`f_n` and get one latent path each; the bins are stacked along time, so the bound
is the same sum over all bins, and a temporal prior is a product of independent per-trial chains.

This is the uncollapsed (SVGP) bound for every likelihood; it is what the reference
implementation uses too, and unlike the collapsed Titsias bound it factorises over time, so
minibatches, held-out prediction and tuning-curve uncertainty all come from one explicit q(u).
"""
from __future__ import annotations

import copy
import json

import numpy as np
import torch
import xarray as xr

from .._utils import atomic_path, make_generator, resolve_device, resolve_dtype
from ..inference import EarlyStopping, History, run_optimisation
from ..inference.row_adam import RowSparseAdam
from ..likelihoods import get_likelihood
from ..manifolds import SO3, get_manifold
from ._data import Recording, as_recording
from ._init import farthest_point_indices, pca_init
from ._kernels import KERNELS, make_kernel
from ._latent import LatentPosterior, RandomWalkPrior, ReferencePrior
from ._temporal_prior import TemporalGPPrior
from ._scratch import SCRATCH
from ._sparse_gp import (collapsed_bound, kl_whitened, kzz_cholesky, optimal_qu, set_kernel_hypers, svgp_marginals,
                         whitened_cross)

__all__ = ["MGPLVM"]

PRIORS = ("uniform", "random_walk", "temporal_gp")


class MGPLVM(torch.nn.Module):
    """Manifold GPLVM: latent trajectory on a manifold + per-neuron GP tuning curves.

    Parameters
    ----------
    manifold : str or Manifold
        A spec string (``"R1"``, ``"R2"``, ``"T1"``, ``"T2"``, ``"S2"``, ``"S3"``, ``"SO3"``,
        ``"T1xR1"``) or a manifold object from :mod:`neurolatent.manifolds`.
    likelihood : {"gaussian", "poisson", "negbinom"}
    n_inducing : int, optional
        Inducing points per neuron (shared locations on the manifold); default
        ``min(T, 15 * dim)``.
    prior : {"uniform", "random_walk", "temporal_gp"}
        ``"uniform"``: Haar on compact factors, N(0, I) on Euclidean ones. ``"temporal_gp"``:
        a temporal GP over the ``time`` coordinate with a learned timescale per latent dimension
        (Ornstein-Uhlenbeck on Euclidean coordinates, circular Brownian motion with the same
        autocorrelation on angles, a geodesic random walk on spheres/SO(3); O(T), see
        :mod:`neurolatent.models._temporal_prior`), also used to infer held-out latents. ``"random_walk"``:
        a first-order random-walk prior on tangent increments, :math:`v_t \\sim
        \\mathcal N(0, \\sigma^2 \\Delta t_t)` with a learned per-dimension step size
        :math:`\\sigma` and the gaps :math:`\\Delta t_t` of the ``time`` coordinate (no timescale
        and no mean reversion; it was called ``"gp"`` before, a name now refused).
    kernel : {"squared_exponential", "matern12", "matern32", "matern52", "linear"}
        Tuning-curve kernel on the manifold's chordal distance (Matérn with nu = 1/2, 3/2, 5/2:
        :class:`~neurolatent.kernels.ManifoldMaternKernel`).
    ard : {False, "factor", "dim", True}
        Lengthscales per neuron (``False``), per neuron and factor of a product (``"factor"``),
        or per neuron and coordinate of :math:`\\mathbb R^d`/:math:`T^d` factors (one per factor of
        spheres and SO(3)) (``"dim"``/``True``).
    device, dtype
        Where the parameters live. ``dtype=None``: float64 on the CPU and float32 on CUDA (the
        GPU's fast path; on the CPU float32 makes a step 1.4-1.8x faster but lost some accuracy on
        synthetic rings, see ``benchmarks/mgplvm_speed.py``, so pass it explicitly there). Never
        changes torch defaults.
    seed : int, optional
        Seeds the initialisation and the Monte-Carlo samples of :meth:`fit`.
    init_scale : float
        Starting tangent-space std of q(g_t) (held fixed during the burn-in of :meth:`fit`).
    bound : {"svgp", "collapsed"}
        ``"svgp"``: the uncollapsed bound with an explicit whitened q(u) (any likelihood,
        minibatches). ``"collapsed"`` (Gaussian only, full batch): Titsias' collapsed bound per
        latent sample, q(u) analytically optimal; after the fit q(u) is set to its optimum under
        q(g) (Monte-Carlo :math:`\\Psi` statistics) for predictions.
    moments_dtype : {None, "float32", "float64"}
        Precision of the fused tuning-curve moments of an RBF kernel (the step's one pass over
        the (samples, neurons, inducing, bins) tensor, :func:`~neurolatent.models._sparse_gp.
        svgp_marginals`); ``None``: the model's dtype. ``"float32"`` in a float64 model keeps
        every other term (kernel matrices, latent densities, likelihood, parameters) in float64.
        It makes a default fly step ~1.4-1.6x cheaper on the CPU and kept the fly fits' accuracy
        (three seeds), but cost 190 nats of ELBO on a synthetic ring of 100 neurons (the
        gradient of q(u) loses precision through the conditioning of :math:`K_{zz}`; see
        ``benchmarks/mgplvm_speed.py``), so it is an option, not the default.
    init : {"auto", "pca", "random"}
        Latent means from a PCA of the data mapped onto the manifold, or uniform /
        standard-normal random points. ``"auto"``: PCA, except random on SO(3) (tuning depends on
        the quaternion quadratically, so linear PCs do not map onto it). On R^d try both when
        the tuning may be bump-shaped (PCs then fold the latents nonlinearly) and keep the
        higher ELBO.

    Notes
    -----
    Initialisation (see :mod:`neurolatent.models._init`): latent means from a PCA of ``Y``
    mapped onto the manifold (angles of PC pairs for tori, rotated first so each pair traces a
    circle on T^d, d > 1; normalised PCs for spheres; unit-variance PCs for Euclidean factors
    of products) or random points (``init``); inducing points by farthest-point
    sampling of those means; q(u) set to the GP-regression posterior of the data given them.
    For the first ``burnin`` steps of :meth:`fit` the posterior scales stay at
    ``init_scale`` (a blurred input keeps the early tuning curves smooth), then they are
    learned.

    Examples
    --------
    >>> import numpy as np
    >>> from neurolatent.models import MGPLVM
    >>> th = np.linspace(0, 4 * np.pi, 60)
    >>> Y = np.cos(th[:, None] - np.linspace(0, 2 * np.pi, 6, endpoint=False)[None])
    >>> m = MGPLVM("T1", seed=0).fit(Y, max_steps=5, progress=False)
    >>> m.latents()["mean"].shape
    (60, 1)

    Two trials of different lengths, one shared set of tuning curves:

    >>> m2 = MGPLVM("T1", seed=0, prior="temporal_gp").fit([Y, Y[:40]], max_steps=5, progress=False)
    >>> m2.latents()["mean"].dims, m2.trial_lengths
    (('trial', 'time', 'coord'), [60, 40])
    """

    def __init__(self, manifold, *, likelihood="gaussian", n_inducing=None, prior="uniform",
                 kernel="squared_exponential", device=None, dtype=None, seed=None, init_scale: float = 0.3,
                 init: str = "auto", bound: str = "svgp", ard=False, moments_dtype=None):
        super().__init__()
        self.manifold = get_manifold(manifold)
        if str(prior) == "gp":
            raise ValueError("prior='gp' was a random walk without a timescale and is now called "
                             "prior='random_walk'; pass that (or 'uniform')")
        if str(prior) not in PRIORS:
            raise ValueError(f"prior must be one of {PRIORS}, got {prior!r}")
        if str(kernel) not in KERNELS:
            raise ValueError(f"kernel must be one of {KERNELS}, got {kernel!r}")
        make_kernel(str(kernel), self.manifold, 1, ard=ard)  # validates ard early (clear message)
        self.ard = ard
        self.likelihood_name = likelihood if isinstance(likelihood, str) else likelihood.name
        get_likelihood(self.likelihood_name, 2)  # validate the name early
        self.n_inducing = None if n_inducing is None else int(n_inducing)
        self.prior_name, self.kernel_name = str(prior), str(kernel)
        self._device0 = resolve_device(device)  # until parameters exist; then they decide (.to() etc.)
        self._dtype0 = resolve_dtype(dtype, torch.float32 if self._device0.type == "cuda" else torch.float64)
        self.seed = seed
        self.init_scale = float(init_scale)
        if init not in ("auto", "pca", "random"):
            raise ValueError(f"init must be 'auto', 'pca' or 'random', got {init!r}")
        # SO(3) tuning depends on q through q q^T (quadratic), so linear PCs do not map to q: random
        # there. (On R^d, PCA gave the higher ELBO on the fly data and random on synthetic bump
        # tuning with random centres, so PCA stays the default and init="random" is an option.)
        self.init = init if init != "auto" else ("random" if isinstance(self.manifold, SO3) else "pca")
        if bound not in ("svgp", "collapsed"):
            raise ValueError(f"bound must be 'svgp' or 'collapsed', got {bound!r}")
        if bound == "collapsed" and self.likelihood_name != "gaussian":
            raise ValueError(f"bound='collapsed' needs likelihood='gaussian' (got {self.likelihood_name!r}); "
                             "count likelihoods use bound='svgp'")
        self.bound = bound
        if moments_dtype is not None and moments_dtype not in ("float32", "float64", torch.float32, torch.float64):
            raise ValueError(f"moments_dtype must be None, 'float32' or 'float64', got {moments_dtype!r}")
        self._moments_dtype = getattr(torch, moments_dtype) if isinstance(moments_dtype, str) else moments_dtype
        self.history = History()
        self._built = False

    # ------------------------------------------------------------------ construction --
    @property
    def device_(self) -> torch.device:
        """Where the parameters live (follows ``.to()``); the constructor's ``device`` before a fit."""
        return self.Z.device if self._built else self._device0

    @property
    def dtype_(self) -> torch.dtype:
        """The parameters' dtype (follows ``.to()``, ``.float()``, ``.double()``)."""
        return self.Z.dtype if self._built else self._dtype0

    @property
    def _f(self) -> dict:
        return {"device": self.device_, "dtype": self.dtype_}

    def _build(self, T: int, N: int, time: np.ndarray, neurons: list, trials=None, lengths=None) -> None:
        """Create every parameter with placeholder values (filled by :meth:`_initialise`).

        ``trials``/``lengths``: trial labels and bins per trial of data stacked along time
        (:class:`~neurolatent.models._data.Recording`); ``None`` for one recording.
        """
        M = self.n_inducing if self.n_inducing is not None else min(T, 15 * self.manifold.dim)
        self.n_inducing_ = int(min(M, T))
        self.n_time, self.n_neurons = int(T), int(N)
        self.neuron_names = list(neurons)
        self.trial_names = None if trials is None else list(trials)
        self.trial_lengths = [int(T)] if lengths is None else [int(n) for n in lengths]
        if sum(self.trial_lengths) != T:
            raise ValueError(f"trial lengths {self.trial_lengths} do not add up to the {T} time bins")
        starts = Recording(np.empty((T, 0)), None, None, None, self.trial_lengths).starts
        self.register_buffer("time", torch.tensor(np.array(time, dtype=float), **self._f))
        self.register_buffer("trial_start", torch.as_tensor(starts, device=self.device_), persistent=False)
        self.register_buffer("_Y", None, persistent=False)  # the training data (moves with .to())
        amb = self.manifold.ambient_dim
        self.likelihood = get_likelihood(self.likelihood_name, N, **self._f)
        self.latent = LatentPosterior(self.manifold, torch.zeros(T, amb, **self._f), self.init_scale)
        self.prior = (RandomWalkPrior(self.manifold, self.time, starts=self.trial_start)
                      if self.prior_name == "random_walk" else
                      TemporalGPPrior(self.manifold, self.time, starts=self.trial_start)
                      if self.prior_name == "temporal_gp" else ReferencePrior(self.manifold))
        self.kernel = make_kernel(self.kernel_name, self.manifold, N, ard=self.ard).to(**self._f)
        self.Z = torch.nn.Parameter(torch.zeros(self.n_inducing_, amb, **self._f))
        self.mean_const = torch.nn.Parameter(torch.zeros(N, **self._f))
        self.q_mu = torch.nn.Parameter(torch.zeros(N, self.n_inducing_, **self._f))
        self.q_sqrt = torch.nn.Parameter(torch.eye(self.n_inducing_, **self._f).repeat(N, 1, 1))
        self._built = True

    @torch.no_grad()
    def _initialise(self, Y: torch.Tensor, gen: torch.Generator, rng: np.random.Generator) -> None:
        """PCA latents, farthest-point inducing points, data-driven hyperparameters, q(u)."""
        lik = self.likelihood
        count = lik.is_count
        target = torch.log(Y + 0.5) if count else Y
        if self.init == "pca":
            z0 = torch.as_tensor(pca_init(target.cpu().numpy(), self.manifold, rng), **self._f)
        elif self.manifold.has_uniform:
            z0 = self.manifold.random_uniform(self.n_time, generator=gen, device=self.device_, dtype=self.dtype_)
        else:
            z0 = self.manifold.random_normal(self.n_time, generator=gen, device=self.device_, dtype=self.dtype_)
        z0 = self.manifold.projection(z0)
        self.latent.loc.copy_(z0)
        self.Z.copy_(z0[farthest_point_indices(z0, self.manifold, self.n_inducing_, gen)])
        self.mean_const.copy_(target.mean(0))
        var = target.var(0).clamp(0.05 if count else 1e-4, 4.0 if count else None)
        set_kernel_hypers(self.kernel, outputscale=0.5 * var if not count else var, lengthscale=0.8)
        lik.init_from_data(Y)
        noise = lik.noise_var if hasattr(lik, "noise_var") else 1.0 / (Y.mean(0) + 0.5)
        # q(u) <- exact GP-regression posterior of the (transformed) data given z0 (whitened), on at
        # most 4000 random bins, so the (N, M, T) cross-covariance stays small for long recordings
        sub = torch.randperm(self.n_time, generator=gen, device=self.device_)[:4000]
        A = self._whitened_cross(z0[sub].unsqueeze(0))  # (1, N, M, T_sub)
        self._set_qu(A, target[sub], noise)
        if hasattr(lik, "total_count"):  # negative binomial: E[y | f] = r e^f, so offset by -log r
            self.mean_const.sub_(torch.log(lik.total_count))

    @torch.no_grad()
    def _set_qu(self, A: torch.Tensor, target: torch.Tensor, noise: torch.Tensor) -> None:
        """q(u) <- the optimal Gaussian for whitened cross-covariances A (S, N, M, T) (:func:`optimal_qu`)."""
        q_mu, q_sqrt = optimal_qu(A, target, self.mean_const, noise)
        self.q_mu.copy_(q_mu)
        self.q_sqrt.copy_(q_sqrt)

    def _collapsed_terms(self, Y: torch.Tensor, n_mc: int, gen: torch.Generator):
        """Titsias' collapsed bound averaged over latent samples (:func:`collapsed_bound`), the latent
        term, and the whitened cross-covariances divided by the noise std (detached)."""
        idx = torch.arange(self.n_time, device=self.device_)
        g, lat = self._latent_terms(self.latent, self.prior, idx, n_mc, gen)
        bound, A = collapsed_bound(self.kernel, self.Z, g, Y, self.mean_const, self.likelihood.noise_var)
        return bound.mean(0), lat.mean(0), A

    # ---------------------------------------------------------------------- the GP part --
    def _kzz_chol(self) -> torch.Tensor:
        return kzz_cholesky(self.kernel, self.Z)

    def _whitened_cross(self, g: torch.Tensor, Lz: torch.Tensor | None = None) -> torch.Tensor:
        """A = L_zz^{-1} K_zx for points g (K, B, amb) -> (K, N, M, B)."""
        return whitened_cross(self.kernel, self.Z, g, self._kzz_chol() if Lz is None else Lz)

    _fused_marginals = True  # custom-autograd RBF marginals; False: plain autograd; "compile": torch.compile

    def _marginals(self, g: torch.Tensor, neurons=None):
        """Mean and variance of f_n(g) under q(u): g (K, B, amb) -> two (K, B, N_sel) tensors."""
        return svgp_marginals(self.kernel, self.Z, self.q_mu, self.q_sqrt, self.mean_const, g, neurons,
                              fused=self._fused_marginals, moments_dtype=self._moments_dtype)

    def _kl_u(self, neurons=None) -> torch.Tensor:
        """sum_n KL(N(m_n, S_n S_n^T) || N(0, I)) in whitened coordinates (over ``neurons``; all when None)."""
        if neurons is None:
            return kl_whitened(self.q_mu, self.q_sqrt)
        return kl_whitened(self.q_mu[neurons], self.q_sqrt[neurons])

    # ----------------------------------------------------------------------- the bound --
    def _latent_terms(self, latent, prior, idx, n_mc: int, gen: torch.Generator):
        """Samples g (K, B, amb) at times idx and the per-sample sum of log p(g) - log q(g)."""
        g, dist = latent.rsample(n_mc, idx, gen)
        logq = dist.log_prob(g)
        if isinstance(prior, (RandomWalkPrior, TemporalGPPrior)):
            g_prev, _ = latent.rsample(n_mc, (idx - 1).clamp_min(0), gen)
            logp = prior.log_prob_terms(g, g_prev, idx)
        else:
            logp = prior.log_prob(g)
        return g, (logp - logq).sum(-1)

    def _elbo_parts(self, Y: torch.Tensor, idx: torch.Tensor, n_mc: int, gen: torch.Generator, latent=None,
                    prior=None, neurons=None):
        """(expected log-lik, latent prior-minus-entropy) on time indices idx, averaged over samples."""
        latent = self.latent if latent is None else latent
        prior = self.prior if prior is None else prior
        g, lat = self._latent_terms(latent, prior, idx, n_mc, gen)
        mean, var = self._marginals(g, neurons)
        y = Y[idx] if neurons is None else Y[idx][:, neurons]
        ell = self.likelihood.expected_log_prob(y, mean, var, neurons).sum((-1, -2)).mean(0)
        return ell, lat.mean(0)

    def _minibatch_bound(self, Y: torch.Tensor, idx: torch.Tensor, neurons, n_mc: int,
                         gen: torch.Generator) -> torch.Tensor:
        """Unbiased estimate of the bound from the time bins ``idx`` and the neurons ``neurons`` (None: all).

        .. math:: \\hat{\\mathcal L} = \\frac{T}{|I|}\\Big(\\frac{N}{|S|}\\sum_{t\\in I, n\\in S}
            \\mathbb E[\\log p(y_{tn}\\mid f_n(g_t))] + \\sum_{t\\in I}\\mathbb E[\\log p(g_t) - \\log q(g_t)]\\Big)
            - \\frac{N}{|S|}\\sum_{n\\in S}\\mathrm{KL}[q(u_n)\\|p(u_n)],

        whose expectation over uniform random subsets :math:`I` and :math:`S` (and the latent
        samples) is the bound of :meth:`elbo`.
        """
        T, N = self.n_time, self.n_neurons
        nb = N if neurons is None else int(neurons.shape[0])
        ell, lat = self._elbo_parts(Y, idx, n_mc, gen, neurons=neurons)
        return T / idx.shape[0] * (N / nb * ell + lat) - N / nb * self._kl_u(neurons)

    def elbo(self, *, n_mc: int = 20, seed: int = 0) -> float:
        """Monte-Carlo estimate of the ELBO on the training data with ``n_mc`` latent samples."""
        self._check_fitted()
        gen = make_generator(seed, self.device_)
        total = 0.0
        with torch.no_grad():
            if self.bound == "collapsed":
                sizes = [min(32, int(n_mc) - k) for k in range(0, int(n_mc), 32)]  # bounded memory
                return sum(float(sum(self._collapsed_terms(self._Y, k, gen)[:2])) * k for k in sizes) / int(n_mc)
            for start in range(0, self.n_time, 2000):  # chunks bound the (n_mc, N, M, chunk) tensors
                idx = torch.arange(start, min(start + 2000, self.n_time), device=self.device_)
                ell, lat = self._elbo_parts(self._Y, idx, n_mc, gen)
                total += float(ell + lat)
            return total - float(self._kl_u())

    # ----------------------------------------------------------------------------- fit --
    def fit(self, Y, *, max_steps: int = 1000, lr: float = 0.02, batch_size: int | None = None,
            n_mc: int = 5, burnin: int | None = None, progress: bool = True, callback=None, checkpoint=None,
            early_stopping: EarlyStopping | bool | None = True, warm_start: bool = False, n_restarts: int = 1,
            n_mc_after_burnin: int | None = None, compile_marginals: bool = False,
            neuron_batch_size: int | None = None):
        """Maximise the ELBO over all variational and model parameters.

        Parameters
        ----------
        Y : xarray.DataArray (time, neuron) or array (T, N), or trials
            One recording, or several trials of the same neurons: a DataArray with dims
            ``("trial", "time", "neuron")`` (trailing all-NaN bins of a trial are padding), a 3-D
            array (trial, time, neuron), or a list (or a dict keyed by trial label) of (time, neuron)
            DataArrays/arrays of possibly different lengths. Trials share the tuning curves (kernel, inducing points,
            likelihood) and each has its own latent path; a temporal prior (``"random_walk"``,
            ``"temporal_gp"``) is one chain per trial, started afresh at each trial's first bin,
            with shared step size / timescales, and each trial's ``time`` is its own clock.
            Minibatches draw bins from all trials alike.
        max_steps : int
        lr : float
            Adam learning rate.
        batch_size : int, optional
            Time bins per step (random subset, bound scaled by T / batch_size). Only the latents
            of the batch are updated (lazy row-sparse Adam).
        neuron_batch_size : int, optional
            Neurons per step (a random subset :math:`S`, :math:`|S| = n_b`, drawn afresh each
            step; combines with ``batch_size``). The data term and :math:`\\mathrm{KL}[q(u)]` are
            summed over :math:`S` and scaled by :math:`N / n_b`, an unbiased estimate of the
            full bound (each neuron is in :math:`S` with probability :math:`n_b / N`), and only
            the per-neuron parameters of :math:`S` (q(u), mean, kernel and likelihood
            hyperparameters) are updated (lazy row-sparse Adam); the latents, inducing points
            and prior get the scaled gradient of the batch. A step then costs about
            :math:`n_b / N` of a full one. Not with ``bound="collapsed"``.
        n_mc : int
            Latent Monte-Carlo samples per step.
        n_mc_after_burnin : int, optional
            Latent Monte-Carlo samples per step after the burn-in (default: ``n_mc``). Each
            step's cost is nearly proportional to the samples and the estimate stays unbiased,
            but the noisier gradients end lower: with 2 the default fly fit's steps were 2.2x
            cheaper and its final ELBO 15-22 nats (0.6-0.9 %) lower on three seeds
            (``benchmarks/mgplvm_speed.py``).
        compile_marginals : bool
            Evaluate the RBF tuning-curve marginals with ``torch.compile`` during the fit
            (``neurolatent.models._sparse_gp.rbf_marginal_moments_compiled``): the same
            formulas after a one-off compilation of 20 s or more; slower per step than the
            default custom-autograd marginals on the 16 x 500 fly data, so meant for large
            (n_mc, neurons, inducing, batch) sizes; needs a C++ compiler on the CPU.
        burnin : int, optional
            Steps during which the latent posterior scales stay at ``init_scale``. The default is
            ``min(100, max_steps // 2)``, so that a short fit still learns the posterior spread;
            pass a number to fix it (e.g. to resume a checkpointed fit with identical steps).
        progress : bool
            tqdm bar showing the ELBO.
        callback : callable, optional
            ``callback(state)`` with ``state.step``, ``state.elbo``, ``state.model``; returning
            True (or setting ``state.stop = True``) ends the fit.
        checkpoint : str, Path or :class:`~neurolatent.inference.Checkpoint`, optional
            Saved every ``k`` steps; an existing checkpoint at that path is resumed from. The
            file holds the parameters, the optimiser, the Monte-Carlo generator and the
            early-stopping state, so a resumed fit (same arguments, explicit ``burnin``) is
            bit-identical to an uninterrupted one.
        early_stopping : EarlyStopping or bool
            Stop when the ELBO plateaus (default ``True``: :class:`EarlyStopping` with its
            defaults); ``False`` or ``None`` runs ``max_steps`` steps.
        warm_start : bool
            ``False`` (default): every call starts afresh (new initialisation from ``Y``, new
            history). ``True``: continue from the current parameters (``Y`` must have the
            shape of the data fitted so far), appending to the history.
        n_restarts : int
            Fit from ``n_restarts`` initialisations (seeds ``seed, seed + 1, ...``; random when
            ``seed`` is None) and keep the one with the highest final ELBO (:meth:`elbo` with
            ``n_mc=20, seed=0``, the same Monte-Carlo noise for every restart). The scores are
            in ``restart_elbos_``, the kept index in ``best_restart_``.

        Returns
        -------
        self
        """
        n_restarts = int(n_restarts)
        if n_restarts < 1:
            raise ValueError(f"n_restarts must be >= 1, got {n_restarts!r}")
        if n_restarts > 1 and (warm_start or checkpoint is not None):
            raise ValueError("n_restarts > 1 starts every restart afresh, so it cannot be combined with "
                             "warm_start=True or checkpoint=; fit once with n_restarts, then continue with "
                             "warm_start=True")
        kw = dict(max_steps=max_steps, lr=lr, batch_size=batch_size, neuron_batch_size=neuron_batch_size,
                  n_mc=n_mc, n_mc_after_burnin=n_mc_after_burnin,
                  compile_marginals=compile_marginals, burnin=burnin, progress=progress, callback=callback,
                  checkpoint=checkpoint, early_stopping=early_stopping, warm_start=warm_start)
        if n_restarts == 1:
            return self._fit_once(Y, seed=self.seed, **kw)
        best, scores = None, []
        for r in range(n_restarts):
            seed = None if self.seed is None else int(self.seed) + r
            es = copy.deepcopy(early_stopping) if isinstance(early_stopping, EarlyStopping) else early_stopping
            self._fit_once(Y, seed=seed, **{**kw, "early_stopping": es})
            scores.append(self.elbo(n_mc=20, seed=0))
            if best is None or scores[-1] > scores[best[0]]:
                best = (r, copy.deepcopy(self.state_dict()), copy.deepcopy(self.history), self._gen.get_state())
        r, state, history, gen_state = best
        self.load_state_dict(state)
        self.history = history
        self._gen.set_state(gen_state)
        self.restart_elbos_, self.best_restart_ = [float(x) for x in scores], int(r)
        return self

    def _fit_once(self, Y, *, seed, max_steps, lr, batch_size, neuron_batch_size, n_mc, n_mc_after_burnin,
                  compile_marginals, burnin, progress, callback, checkpoint, early_stopping, warm_start):
        rec = as_recording(Y)
        arr, time, neurons = rec.Y, rec.time, rec.neurons
        lik_probe = get_likelihood(self.likelihood_name, arr.shape[1])
        lik_probe.validate(arr, "Y")
        Yt = torch.as_tensor(arr, **self._f)
        if warm_start:
            if not self._built:
                raise RuntimeError("warm_start=True continues a fitted model, but this one is not fitted yet; "
                                   "call fit(Y) first (or leave warm_start=False)")
            if (self.n_time, self.n_neurons) != arr.shape or self.trial_lengths != rec.lengths:
                what = "" if rec.trials is None and self.trial_names is None else (
                    f" in trials of {self.trial_lengths} bins (got {rec.lengths})")
                raise ValueError(f"warm_start=True needs Y of the shape fitted so far, {(self.n_time, self.n_neurons)}"
                                 f" (time, neuron){what}, got {arr.shape}; pass warm_start=False to fit it afresh")
            gen = self._gen
            if gen.device != self.device_:  # moved with .to(): continue the stream on the new device
                seed = int(torch.randint(2 ** 62, (1,), generator=gen, device=gen.device))
                gen = make_generator(seed, self.device_)
                self._gen = gen
        else:
            gen = make_generator(seed, self.device_)
            self._build(arr.shape[0], arr.shape[1], time, neurons, rec.trials, rec.lengths)
            self._initialise(Yt, gen, np.random.default_rng(seed))
            self._gen = gen
            self.history = History()
        self._Y = Yt
        T = self.n_time
        B = T if batch_size is None else int(min(batch_size, T))
        if B < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
        if self.bound == "collapsed" and B < T:
            raise ValueError("bound='collapsed' does not factorise over time, so it cannot use batch_size; "
                             "use MGPLVM(..., bound='svgp') for minibatches")
        N = self.n_neurons
        NB = N if neuron_batch_size is None else int(min(neuron_batch_size, N))
        if NB < 1:
            raise ValueError(f"neuron_batch_size must be >= 1 (neurons per step), got {neuron_batch_size!r}")
        if self.bound == "collapsed" and NB < N:
            raise ValueError("bound='collapsed' optimises q(u) of every neuron in closed form, so it cannot use "
                             "neuron_batch_size; use MGPLVM(..., bound='svgp') for neuron minibatches")
        es = EarlyStopping() if early_stopping is True else (early_stopping or None)
        if es is not None and early_stopping is not True and not warm_start:
            es = copy.deepcopy(es)  # a fresh fit starts with a fresh plateau detector
        all_idx = torch.arange(T, device=self.device_)

        burnin = min(100, int(max_steps) // 2) if burnin is None else int(burnin)

        params = [p for p in self.parameters() if p.requires_grad]
        if self.bound == "collapsed":  # q(u) is collapsed out of the bound
            params = [p for p in params if p is not self.q_mu and p is not self.q_sqrt]
        optimiser = self._optimiser(params, lr, minibatch=B < T, neuron_minibatch=NB < N)
        rows = {"idx": None}  # time bins touched by the current step (None: all)

        n_late = int(n_mc if n_mc_after_burnin is None else n_mc_after_burnin)
        if min(int(n_mc), n_late) < 1:
            raise ValueError(f"n_mc and n_mc_after_burnin must be >= 1, got {n_mc!r} and {n_mc_after_burnin!r}")

        def step_fn(step):
            self.latent.freeze_scale = step <= burnin
            k = int(n_mc) if step <= burnin else n_late
            if self.bound == "collapsed":
                b, lat, _ = self._collapsed_terms(Yt, k, gen)
                elbo = b + lat
                return elbo, float(elbo.detach())
            idx = all_idx if B == T else torch.randperm(T, generator=gen, device=self.device_)[:B]
            nidx = None if NB == N else torch.randperm(N, generator=gen, device=self.device_)[:NB].sort().values
            elbo = self._minibatch_bound(Yt, idx, nidx, k, gen)
            if B < T:  # the latent rows this step's objective depends on (a prior without
                # support_rows, e.g. one coupling all bins, has every row updated)
                extra = getattr(self.prior, "support_rows", None)
                rows["idx"] = None if extra is None else torch.unique(torch.cat([idx, extra(idx)]))
            if B < T or NB < N:
                optimiser.rows = {"time": rows["idx"], "neuron": nidx}
            return elbo, float(elbo.detach())

        def post_step():
            self.latent.project_(rows["idx"])
            self.Z.copy_(self.manifold.projection(self.Z))

        fused = self._fused_marginals
        self._fused_marginals = "compile" if compile_marginals else fused
        try:
            run_optimisation(step_fn, self, params, max_steps=max_steps, lr=lr, progress=progress,
                             callback=callback, checkpoint=checkpoint, early_stopping=es, history=self.history,
                             model=self, post_step=post_step, desc=f"mGPLVM {self.manifold.name}",
                             optimiser=optimiser, generators={"mc": gen})
        finally:
            self._fused_marginals = fused
            SCRATCH.clear()  # the steps' scratch tensors (fused moments) are not held after the fit
        self.latent.freeze_scale = False
        if self.bound == "collapsed":  # explicit optimal q(u) under q(g), for predictions
            with torch.no_grad():
                A = torch.cat([self._collapsed_terms(Yt, 1, gen)[2] for _ in range(20)], 0)
                self._set_qu(A * torch.sqrt(self.likelihood.noise_var)[:, None, None], Yt, self.likelihood.noise_var)
        return self

    def _per_neuron_parameters(self) -> list:
        """The parameters with one row per neuron (first axis N): q(u), mean, kernel and likelihood."""
        own = [self.q_mu, self.q_sqrt, self.mean_const, *self.kernel.parameters(), *self.likelihood.parameters()]
        return [p for p in own if p.ndim >= 1 and p.shape[0] == self.n_neurons]

    def _optimiser(self, params, lr: float, *, minibatch: bool,
                   neuron_minibatch: bool = False) -> torch.optim.Optimizer:
        """Adam; with minibatches the per-time (per-neuron) parameters get lazy row-sparse Adam updates.

        A time bin (neuron) outside the batch has an exactly zero gradient; plain Adam would still
        move it through its momentum. :class:`~neurolatent.inference.row_adam.RowSparseAdam`
        updates only the batch's rows (moments, step and per-row bias correction); its row sets
        are keyed ``"time"`` and ``"neuron"``.
        """
        if not (minibatch or neuron_minibatch):
            return torch.optim.Adam(params, lr=lr)
        per_time = {id(p) for p in self.latent.parameters()} if minibatch else set()
        per_neuron = {id(p) for p in self._per_neuron_parameters()} if neuron_minibatch else set()
        groups = [{"params": [p for p in params if id(p) not in per_time | per_neuron]},
                  {"params": [p for p in params if id(p) in per_time], "row_sparse": True, "row_key": "time"},
                  {"params": [p for p in params if id(p) in per_neuron], "row_sparse": True, "row_key": "neuron"}]
        return RowSparseAdam([g for g in groups if g["params"]], lr=lr)

    @property
    def elbo_history(self) -> np.ndarray:
        """ELBO estimate of every optimisation step so far, shape (steps,)."""
        return np.asarray(self.history.elbo, dtype=float)

    def _check_fitted(self):
        if not self._built:
            raise RuntimeError("this MGPLVM is not fitted yet: call .fit(Y) first (or MGPLVM.load(path))")

    # ---------------------------------------------------------------------- results --
    def latents(self) -> xr.Dataset:
        """Posterior over latents: ``mean`` (time, coord) and ``std`` (time, tangent).

        After a fit to trials every variable has a leading ``trial`` dim, (trial, time, ...),
        shorter trials NaN-padded at their end; coordinates ``n_bins`` (trial,) and
        ``trial_time`` (trial, time) give each trial's length and time stamps, and the ``time``
        index is the common clock when every trial's stamps are a prefix of the longest one's
        (else the bin index). ``ds.sel(trial=k).dropna("time")`` is one trial.

        ``std`` is the tangent-space standard deviation of q(g_t) per direction; for tori it
        equals the circular standard deviation of the wrapped normal, and for torus and
        Euclidean coordinates ``lower``/``upper`` (time, coord) give mean -/+ 1.96 std
        (angles not wrapped, so bands plot continuously).
        """
        self._check_fitted()
        from ._results import latents_dataset
        return latents_dataset(self)

    def tuning_curves(self, grid=50) -> xr.Dataset:
        """Tuning curves E[y | g] on a grid of the manifold: ``mean`` and ``std`` (neuron, grid...).

        ``grid`` is an int (points per axis of a regular grid on torus/Euclidean coordinates;
        for spheres/SO3 the fitted latent means are used) or an array (G, ambient_dim) of points.
        """
        self._check_fitted()
        from ._results import tuning_curves_dataset
        return tuning_curves_dataset(self, grid)

    def predict(self, g) -> tuple[np.ndarray, np.ndarray]:
        """Mean and std of E[y | f(g)] at points g (G, ambient) -> two (G, N) arrays."""
        self._check_fitted()
        g = torch.as_tensor(np.asarray(g, dtype=float), **self._f)
        with torch.no_grad():
            m, v = self._marginals(g.unsqueeze(0))
            return (self.likelihood.predictive_mean(m, v)[0].cpu().numpy(),
                    self.likelihood.predictive_std(m, v)[0].cpu().numpy())

    def log_likelihood(self, Y_test, *, infer_from=None, neurons=None, n_samples: int = 64,
                       max_steps: int = 300, lr: float = 0.05, seed=None, return_mse: bool = False):
        """Held-out log predictive density of ``Y_test`` (time, neuron), summed over entries.

        Without ``infer_from``, ``Y_test`` must share the training time bins and is scored at
        the fitted latents. With ``infer_from`` (indices of neurons), latents for the time bins
        of ``Y_test`` are first inferred from those neurons only, with the tuning curves
        frozen, and the remaining neurons (or ``neurons``) are scored — the paper's
        cross-validation. Per time bin the score is
        :math:`\\log \\frac1S\\sum_s \\prod_n \\int p(y_n\\mid f) q(f_n\\mid g_s) df` with
        g_s ~ q(g_t), summed over time bins. With ``prior="temporal_gp"`` the held-out latents
        are inferred under the fitted temporal prior at the ``time`` coordinate of ``Y_test``
        (pass a DataArray with it; an array is read as bins ``0, 1, ...``), so cross-validation
        scores the model that was fitted.

        Returns
        -------
        float, or (float, float) with the mean squared error of E[y] when ``return_mse``.
        """
        from ._results import held_out_score
        self._check_fitted()
        return held_out_score(self, Y_test, infer_from=infer_from, neurons=neurons, n_samples=n_samples,
                              max_steps=max_steps, lr=lr, seed=seed, return_mse=return_mse)

    # ------------------------------------------------------------------- save / load --
    def _config(self) -> dict:
        return {
            "manifold": self.manifold.name, "likelihood": self.likelihood_name, "n_inducing": self.n_inducing_,
            "prior": self.prior_name, "kernel": self.kernel_name, "seed": self.seed, "init_scale": self.init_scale,
            "init": self.init, "bound": self.bound, "ard": self.ard,
            "moments_dtype": None if self._moments_dtype is None else str(self._moments_dtype).replace("torch.", ""),
            "dtype": str(self.dtype_).replace("torch.", ""), "n_time": self.n_time, "n_neurons": self.n_neurons,
            "neuron_names": self.neuron_names, "trial_names": self.trial_names, "trial_lengths": self.trial_lengths,
            "format": "neurolatent.MGPLVM/1",
        }

    def save(self, path) -> None:
        """Write the fitted model to ``path`` atomically (``torch.load(path, weights_only=True)`` safe)."""
        self._check_fitted()
        payload = {"config": json.dumps(self._config()), "state": self.state_dict(),
                   "history": self.history.as_dict(), "data": self._Y.detach().cpu()}
        with atomic_path(path) as tmp:
            torch.save(payload, tmp)

    @classmethod
    def load(cls, path, *, device=None, manifold=None) -> "MGPLVM":
        """Read a model written by :meth:`save`.

        ``manifold``: the :class:`~neurolatent.manifolds.Manifold` object the model was fitted on,
        needed when it is not one of the spec strings (a user's own subclass; the file stores
        only its name, never code).
        """
        payload = torch.load(path, weights_only=True, map_location="cpu")
        try:
            cfg = json.loads(payload["config"])
        except (KeyError, TypeError) as e:
            raise ValueError(f"{str(path)!r} is not an MGPLVM file written by MGPLVM.save") from e
        if manifold is None:
            try:
                manifold = get_manifold(cfg["manifold"])
            except ValueError as e:
                raise ValueError(f"{str(path)!r} was fitted on the manifold {cfg['manifold']!r}, which is not a spec "
                                 "string; pass the manifold object: MGPLVM.load(path, manifold=...)") from e
        elif get_manifold(manifold).name != cfg["manifold"]:
            raise ValueError(f"manifold= is {get_manifold(manifold).name!r} but {str(path)!r} was fitted on "
                             f"{cfg['manifold']!r}; pass that manifold")
        prior = "random_walk" if cfg["prior"] == "gp" else cfg["prior"]  # files written before the rename
        model = cls(manifold, likelihood=cfg["likelihood"], n_inducing=cfg["n_inducing"], prior=prior,
                    kernel=cfg["kernel"], device=device, dtype=getattr(torch, cfg["dtype"]), seed=cfg["seed"],
                    init_scale=cfg["init_scale"], init=cfg.get("init", "auto"), bound=cfg.get("bound", "svgp"),
                    ard=cfg.get("ard", False), moments_dtype=cfg.get("moments_dtype"))
        state = payload["state"]
        model._build(cfg["n_time"], cfg["n_neurons"], state["time"].numpy(), cfg["neuron_names"],
                     cfg.get("trial_names"), cfg.get("trial_lengths"))
        model.load_state_dict(state)
        model.history = History.from_dict(payload["history"])
        model._Y = payload["data"].to(**model._f)
        model._gen = make_generator(cfg["seed"], model.device_)  # warm_start=True continues from here
        return model
