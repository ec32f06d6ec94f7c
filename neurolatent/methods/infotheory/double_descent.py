r"""Double descent as an optimisation effect: gradient descent on least squares.

After Kuzborskij, Szepesvári, Rivasplata, Rannen-Triki & Pascanu, "On the role of optimization
in double descent: a least squares study" (NeurIPS 2021). Gradient descent from zero on
:math:`\tfrac1{2n}\|y - Xw\|^2` with step :math:`\eta` is a spectral filter of the sample
covariance :math:`\hat\Sigma = X^\top X/n = \sum_i \mu_i v_iv_i^\top`:

.. math:: w_t = \sum_i \frac{1 - (1-\eta\mu_i)^t}{\mu_i}\, v_i v_i^\top \frac{X^\top y}{n},
   \qquad w_\infty = X^+ y\ \text{(min-norm)} .

With :math:`x \sim N(0, I_d)`, teacher :math:`w^* \sim N(0, (r^2/d) I_d)` and label noise
:math:`\sigma^2`, the expected excess risk given X is exact:

.. math:: \mathbb E\|w_t - w^*\|^2 = \frac{r^2}{d}\sum_{i}(1 - f_i\mu_i)^2 + \frac{\sigma^2}{n}\sum_i f_i^2\mu_i,
   \qquad f_i = \frac{1-(1-\eta\mu_i)^t}{\mu_i},

(the first sum runs over all d directions, :math:`f_i\mu_i = 0` in the null space). The noise
term per direction is at most :math:`\min(t^2\eta^2\mu_i, 1/\mu_i)\sigma^2/n \le t\eta\sigma^2/n`,
so a finite number of steps caps the variance; the min-norm solution pays :math:`\sigma^2/(n\mu_{\min}^+)`
and :math:`\mu_{\min}^+ \to (1-\sqrt{d/n})^2` (Marchenko--Pastur) vanishes at :math:`d = n`. Hence the
test-error peak at :math:`d\approx n` *grows with the number of steps* and is largest for the
min-norm limit, driven by the smallest non-zero eigenvalue of the sample covariance.
"""
from __future__ import annotations

import numpy as np
import xarray as xr
from tqdm.auto import tqdm

__all__ = ["gd_least_squares", "gd_excess_risk", "double_descent_curve", "smallest_nonzero_eigenvalue"]


def _filter(mu, steps, lr):
    mu = np.asarray(mu, dtype=np.float64)
    nz = mu > 1e-12 * max(1.0, mu.max(initial=0.0))
    if not np.isfinite(steps):
        return np.where(nz, 1.0 / np.where(nz, mu, 1.0), 0.0)
    # 1 - (1 - lr mu)^t: stably with expm1/log1p where the base is positive, directly otherwise
    base = 1.0 - lr * np.where(nz, mu, 0.0)
    with np.errstate(invalid="ignore"):
        stable = -np.expm1(steps * np.log1p(-lr * np.where(nz, mu, 0.0)))
    one_minus = np.where(base > 0, stable, 1.0 - np.power(base, steps))
    return np.where(nz, one_minus / np.where(nz, mu, 1.0), 0.0)


def gd_least_squares(X, y, steps: float, lr: float) -> np.ndarray:
    r"""Weights after ``steps`` GD steps from zero (``steps=np.inf``: min-norm solution), via SVD.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0); X = rng.standard_normal((20, 5)); y = rng.standard_normal(20)
    >>> w = np.zeros(5)
    >>> for _ in range(30): w -= 0.1 * X.T @ (X @ w - y) / 20
    >>> bool(np.allclose(gd_least_squares(X, y, 30, 0.1), w))
    True
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    n = X.shape[0]
    U, s, Vt = np.linalg.svd(X, full_matrices=False)
    mu = s ** 2 / n
    if np.isfinite(steps) and lr * mu.max(initial=0.0) >= 2:
        raise ValueError(f"lr={lr} diverges: it must be < 2 / largest eigenvalue of X^T X / n "
                         f"= {2 / mu.max():.4g}; lower the step size")
    f = _filter(mu, steps, lr)
    return Vt.T @ (f * (Vt @ (X.T @ y / n)))


def gd_excess_risk(mu: np.ndarray, d: int, n: int, steps: float, lr: float, signal: float = 1.0,
                   noise_var: float = 0.25) -> float:
    """Exact expected excess risk given the non-zero sample-covariance eigenvalues ``mu``."""
    f = _filter(mu, steps, lr)
    bias = signal / d * (((1 - f * mu) ** 2).sum() + (d - len(mu)))
    return float(bias + noise_var / n * (f ** 2 * mu).sum())


def smallest_nonzero_eigenvalue(n: int, dims, *, n_draws: int = 5, seed: int | None = 0) -> xr.Dataset:
    r"""Smallest non-zero eigenvalue of :math:`X^\top X/n` (x ~ N(0, I_d)) vs d, with the
    Marchenko--Pastur edge :math:`(1-\sqrt{d/n})^2` for comparison."""
    rng = np.random.default_rng(seed)
    dims = np.atleast_1d(np.asarray(dims, dtype=int))
    vals = np.zeros((len(dims), n_draws))
    for i, d in enumerate(dims):
        for k in range(n_draws):
            s = np.linalg.svd(rng.standard_normal((n, d)), compute_uv=False)
            vals[i, k] = (s[-1] ** 2) / n
    return xr.Dataset({"mu_min": (("d", "draw"), vals), "mu_min_mean": ("d", vals.mean(1)),
                       "marchenko_pastur": ("d", (1 - np.sqrt(dims / n)) ** 2)},
                      coords={"d": dims, "draw": np.arange(n_draws)}, attrs={"n": n})


def double_descent_curve(n: int, dims, steps, *, lr: float | None = None, signal: float = 1.0,
                         noise_var: float = 0.25, n_draws: int = 5, seed: int | None = 0,
                         progress: bool = False) -> xr.Dataset:
    r"""Expected excess risk of GD after ``steps`` steps (``np.inf`` = min-norm) over model size d.

    Parameters
    ----------
    n : number of training samples.
    dims : model sizes d to sweep.
    steps : step counts (include ``np.inf`` for the min-norm solution).
    lr : step size, shared by all d; default :math:`1/(1+\sqrt{d_{\max}/n})^2` (stable for all d).
    n_draws : designs averaged per d (the risk is exact in the teacher and label noise).

    Returns
    -------
    xarray.Dataset with ``risk`` (dims ``steps, d``), ``mu_min`` (dim ``d``, smallest non-zero
    eigenvalue averaged over draws) and ``peak_d`` / ``peak_risk`` (dim ``steps``).
    """
    dims = np.atleast_1d(np.asarray(dims, dtype=int))
    steps = np.atleast_1d(np.asarray(steps, dtype=np.float64))
    if lr is None:
        lr = 1.0 / (1 + np.sqrt(dims.max() / n)) ** 2
    rng = np.random.default_rng(seed)
    risk = np.zeros((len(steps), len(dims)))
    mu_min = np.zeros(len(dims))
    for j, d in enumerate(tqdm(dims, disable=not progress, desc="double descent")):
        for _ in range(n_draws):
            s = np.linalg.svd(rng.standard_normal((n, d)), compute_uv=False)
            mu = s ** 2 / n
            if lr * mu.max() >= 2:
                raise ValueError(f"lr={lr} diverges at d={d}: it must be < {2 / mu.max():.4g}; lower it")
            mu_min[j] += mu[mu > 1e-12 * mu.max()].min() / n_draws
            for i, t in enumerate(steps):
                risk[i, j] += gd_excess_risk(mu, d, n, t, lr, signal, noise_var) / n_draws
    peak = risk.argmax(1)
    return xr.Dataset({"risk": (("steps", "d"), risk), "mu_min": ("d", mu_min),
                       "peak_d": ("steps", dims[peak]), "peak_risk": ("steps", risk.max(1))},
                      coords={"steps": steps, "d": dims},
                      attrs={"n": n, "lr": lr, "signal": signal, "noise_var": noise_var})
