r"""Relevant and residual information of (randomised) ridge regression.

After Ngampruetikorn & Schwab, "Information bottleneck theory of high-dimensional regression:
relevancy, efficiency and optimality" (NeurIPS 2022). The model and formulas below are our own
Gaussian derivation of that setting (the paper's exact parametrisation was not available to us).

Model. Teacher :math:`w \sim N(0, I_d)`; design :math:`X \in \mathbb R^{n\times d}` with i.i.d.
:math:`N(0, 1/d)` entries (so each label has unit signal variance); labels
:math:`y = Xw + \sigma\epsilon`. The learned weights (the "representation" of the data) are
randomised ridge,

.. math:: \hat w = (X^\top X + \lambda I)^{-1}X^\top y + \tau\xi,\qquad \xi\sim N(0, I_d)
   \ \text{(``noise="isotropic"``) or } \xi\sim N(0, (X^\top X + \lambda I)^{-1})
   \ \text{(``"posterior"``, a tempered Bayes posterior)}.

Information is measured given the design X. The *relevant* information is :math:`I(\hat w; w)`
and the *residual* information :math:`I(\hat w; y\,|\,w) = I(\hat w; y) - I(\hat w; w)` (bits of
the training noise stored in the weights; :math:`w \to y \to \hat w` is a Markov chain). With
:math:`X = USV^\top` everything decouples over singular modes :math:`s_i`: with gain
:math:`g_i = s_i/(s_i^2 + \lambda)`,

.. math:: I_{\rm rel} = \tfrac12\sum_i\log\frac{g_i^2(s_i^2+\sigma^2) + \tau^2}{g_i^2\sigma^2 + \tau^2},
   \qquad I_{\rm res} = \tfrac12\sum_i\log\Big(1 + \frac{g_i^2\sigma^2}{\tau^2}\Big),

(modes with :math:`s_i = 0` carry nothing; for posterior-shaped noise replace :math:`\tau^2` by
:math:`\tau^2/(s_i^2+\lambda)`). For small :math:`\lambda`, :math:`g_i\approx 1/s_i`
and the residual information is dominated by the smallest non-zero singular values, which
approach 0 at the interpolation threshold :math:`n = d`: residual information peaks there.

Optimal bound. The best possible trade-off is the Gaussian IB with source :math:`y` and relevant
variable :math:`w`: :math:`\Sigma_{y|w}\Sigma_y^{-1}` has eigenvalues
:math:`\lambda_i^{\rm IB} = \sigma^2/(s_i^2+\sigma^2)`, and at trade-off :math:`\beta` mode *i* gets
SNR :math:`u_i = \max(0, (\beta(1-\lambda_i^{\rm IB}) - 1)/\lambda_i^{\rm IB})` with
:math:`I(\hat w;y) = \tfrac12\sum\log(1+u_i)`, :math:`I_{\rm rel} = \tfrac12\sum\log\frac{1+u_i}{1+\lambda_i^{\rm IB}u_i}`
(Chechik et al. 2005; see :mod:`.gaussian_ib`). Randomised ridge uses the same modes with
:math:`u_i = g_i^2(s_i^2+\sigma^2)/\tau^2`, so it lies on or above the bound.

Large-d limit: :math:`s_i^2 = (n/d)\mu_i` with :math:`\mu` Marchenko--Pastur with ratio
:math:`c = d/n` (plus an atom of mass :math:`1 - 1/c` at 0 when :math:`c > 1`); per-parameter
informations become integrals against that law (``asymptotic=True``).
"""
from __future__ import annotations

import numpy as np
import xarray as xr

__all__ = ["regression_spectrum", "ridge_information", "optimal_regression_bound", "ridge_efficiency"]


def regression_spectrum(n: int, d: int, *, asymptotic: bool = False, n_draws: int = 1, seed: int | None = 0,
                        n_nodes: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    r"""Squared singular values :math:`s_i^2` of X and their weights (per parameter, summing to
    rank/d), either sampled (``n_draws`` designs, averaged by weights) or Marchenko--Pastur nodes.

    Examples
    --------
    >>> s2, w = regression_spectrum(50, 100, seed=0)
    >>> s2.shape, round(float(w.sum()), 3)              # rank n = 50 of d = 100 parameters
    ((50,), 0.5)
    """
    if n < 1 or d < 1:
        raise ValueError(f"n and d must be positive integers, got n={n}, d={d}")
    if asymptotic:
        c = d / n
        a, b = (1 - np.sqrt(c)) ** 2, (1 + np.sqrt(c)) ** 2
        # Gauss-Chebyshev (second kind) nodes absorb the square-root edges of the MP density
        k = np.arange(1, n_nodes + 1)
        theta = k * np.pi / (n_nodes + 1)
        mu = (a + b) / 2 - (b - a) / 2 * np.cos(theta)
        # density sqrt((b-mu)(mu-a)) / (2 pi c mu); Chebyshev weight already contains sqrt(...)
        wq = (np.pi / (n_nodes + 1)) * np.sin(theta) ** 2 * ((b - a) / 2) ** 2
        w = wq / (2 * np.pi * c * mu)
        w *= min(1.0, 1.0 / c) / w.sum()             # exact total mass of the continuous part
        return (n / d) * mu, w
    rng = np.random.default_rng(seed)
    s2, w = [], []
    for _ in range(n_draws):
        X = rng.standard_normal((n, d)) / np.sqrt(d)
        sv = np.linalg.svd(X, compute_uv=False)
        s2.append(sv ** 2)
        w.append(np.full(len(sv), 1.0 / (d * n_draws)))
    return np.concatenate(s2), np.concatenate(w)


def _ridge_terms(s2, w, ridge, noise_var, inject_var, noise="isotropic"):
    if noise not in ("isotropic", "posterior"):
        raise ValueError(f"noise must be 'isotropic' or 'posterior', got {noise!r}")
    g2 = s2 / (s2 + ridge) ** 2
    if noise == "posterior":           # xi ~ N(0, (X^T X + ridge I)^-1): Gibbs-posterior shaped
        inject_var = inject_var / np.maximum(s2 + ridge, 1e-300)
    keep = s2 > 1e-12 * max(1.0, s2.max(initial=0.0))
    rel = 0.5 * np.log((g2 * (s2 + noise_var) + inject_var) / (g2 * noise_var + inject_var))
    res = 0.5 * np.log1p(g2 * noise_var / inject_var)
    return float((w * rel * keep).sum()), float((w * np.where(keep, res, 0.0)).sum())


def ridge_information(n_over_d, ridge, *, noise_var: float = 0.25, inject_var: float = 0.01, d: int = 200,
                      asymptotic: bool = False, n_draws: int = 4, seed: int | None = 0,
                      noise: str = "isotropic") -> xr.Dataset:
    r"""Relevant and residual information per parameter (nats) of randomised ridge.

    Parameters
    ----------
    n_over_d : array of sample-to-parameter ratios :math:`n/d`.
    ridge : array of :math:`\lambda \ge 0` values.
    noise_var : label noise :math:`\sigma^2`; inject_var : :math:`\tau^2 > 0`.
    noise : ``"isotropic"`` or ``"posterior"`` shape of the injected noise (module docstring).
    d : number of parameters (finite-size computation); asymptotic : use the MP limit.

    Returns
    -------
    xarray.Dataset over (``n_over_d``, ``ridge``) with ``relevant``, ``residual`` and ``total``.
    """
    if inject_var <= 0:
        raise ValueError("inject_var must be > 0: deterministic ridge stores infinitely many bits of the noise")
    ratios = np.atleast_1d(np.asarray(n_over_d, dtype=np.float64))
    ridges = np.atleast_1d(np.asarray(ridge, dtype=np.float64))
    rel = np.zeros((len(ratios), len(ridges)))
    res = np.zeros_like(rel)
    for i, r in enumerate(ratios):
        n = max(1, int(round(r * d)))
        s2, w = regression_spectrum(n, d, asymptotic=asymptotic, n_draws=n_draws, seed=seed)
        for j, lam in enumerate(ridges):
            rel[i, j], res[i, j] = _ridge_terms(s2, w, lam, noise_var, inject_var, noise)
    return xr.Dataset({"relevant": (("n_over_d", "ridge"), rel), "residual": (("n_over_d", "ridge"), res),
                       "total": (("n_over_d", "ridge"), rel + res)},
                      coords={"n_over_d": ratios, "ridge": ridges},
                      attrs={"units": "nats per parameter", "noise_var": noise_var, "inject_var": inject_var,
                             "d": d, "asymptotic": int(asymptotic), "noise": noise})


def optimal_regression_bound(s2, w, noise_var: float, betas) -> xr.Dataset:
    r"""Optimal (Gaussian IB) relevant/residual information over a sweep of :math:`\beta`."""
    betas = np.atleast_1d(np.asarray(betas, dtype=np.float64))
    keep = s2 > 1e-12 * max(1.0, s2.max(initial=0.0))
    s2, w = s2[keep], w[keep]
    lam = noise_var / (s2 + noise_var)
    u = np.maximum(0.0, (betas[:, None] * (1 - lam) - 1) / lam)
    total = 0.5 * (w * np.log1p(u)).sum(1)
    rel = 0.5 * (w * (np.log1p(u) - np.log1p(lam * u))).sum(1)
    return xr.Dataset({"relevant": ("beta", rel), "residual": ("beta", total - rel), "total": ("beta", total)},
                      coords={"beta": betas}, attrs={"units": "nats per parameter"})


def ridge_efficiency(n: int, d: int, ridge: float, inject_vars, *, noise_var: float = 0.25,
                     seed: int | None = 0, n_draws: int = 4, noise: str = "isotropic") -> xr.Dataset:
    r"""Randomised ridge vs the optimal bound on the same spectrum, over ``inject_var``.

    For each :math:`\tau^2` the ridge point :math:`(I_{\rm rel}, I_{\rm res})` is compared with the
    bound's minimal residual information at the same relevant information
    (``efficiency = residual_opt / residual``, 1 = optimal) and with the bound's relevant
    information at the same residual (``relevant_opt``).
    """
    s2, w = regression_spectrum(n, d, n_draws=n_draws, seed=seed)
    taus = np.atleast_1d(np.asarray(inject_vars, dtype=np.float64))
    pts = np.array([_ridge_terms(s2, w, ridge, noise_var, t, noise) for t in taus])
    lam = noise_var / (s2[s2 > 0] + noise_var)
    betas = 1.0 / (1 - lam.min()) * (1 + np.logspace(-9, 9, 6000))   # from the first critical beta on
    bound = optimal_regression_bound(s2, w, noise_var, betas)
    brel, bres = bound.relevant.values, bound.residual.values       # both increase with beta
    res_opt = np.interp(pts[:, 0], brel, bres)
    rel_opt = np.interp(pts[:, 1], bres, brel)
    return xr.Dataset({"relevant": ("inject_var", pts[:, 0]), "residual": ("inject_var", pts[:, 1]),
                       "residual_opt": ("inject_var", res_opt), "relevant_opt": ("inject_var", rel_opt),
                       "efficiency": ("inject_var", res_opt / pts[:, 1])},
                      coords={"inject_var": taus},
                      attrs={"n": n, "d": d, "ridge": ridge, "noise_var": noise_var, "noise": noise,
                             "units": "nats per parameter"})
