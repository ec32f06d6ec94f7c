"""Double descent as an optimisation effect (GD at finite steps vs min-norm least squares)."""
from __future__ import annotations

import numpy as np
import pytest

from neurolatent.methods.infotheory import (double_descent_curve, gd_excess_risk, gd_least_squares,
                                            smallest_nonzero_eigenvalue)


def test_closed_form_gd_equals_iterated_gd(rng):
    for n, d in ((30, 10), (20, 40)):
        X, y = rng.standard_normal((n, d)), rng.standard_normal(n)
        lr = 0.5 / np.linalg.eigvalsh(X.T @ X / n).max()
        w = np.zeros(d)
        for _ in range(57):
            w -= lr * X.T @ (X @ w - y) / n
        assert np.allclose(gd_least_squares(X, y, 57, lr), w, atol=1e-12)
        assert np.allclose(gd_least_squares(X, y, np.inf, lr), np.linalg.pinv(X) @ y, atol=1e-10)


def test_exact_risk_matches_monte_carlo(rng):
    n, d, t, lr, sig2 = 40, 50, 200, 0.2, 0.25
    X = rng.standard_normal((n, d))
    mu = np.linalg.svd(X, compute_uv=False) ** 2 / n
    exact = gd_excess_risk(mu, d, n, t, lr, 1.0, sig2)
    errs = []
    for _ in range(3000):
        w_star = rng.standard_normal(d) / np.sqrt(d)
        y = X @ w_star + np.sqrt(sig2) * rng.standard_normal(n)
        errs.append(np.sum((gd_least_squares(X, y, t, lr) - w_star) ** 2))
    errs = np.array(errs)
    # 3000 draws: standard error ~ std/55; allow 4 standard errors
    assert abs(errs.mean() - exact) < 4 * errs.std() / np.sqrt(len(errs))


def test_peak_at_interpolation_grows_with_steps():
    n = 100
    dims = np.array([20, 40, 60, 80, 90, 100, 110, 125, 150, 200, 300])
    steps = [100, 300, 1000, np.inf]
    ds = double_descent_curve(n, dims, steps, n_draws=5, seed=0)
    assert ds.risk.dims == ("steps", "d")
    near = ds.risk.sel(d=[90, 100, 110]).max("d").values
    assert np.all(np.diff(near) > 0)                      # measured 0.64, 1.01, 1.80, 3.8e3
    for t in (300, 1000, np.inf):
        assert 90 <= int(ds.peak_d.sel(steps=t)) <= 110   # peak located at d ~ n
    # early stopping (few steps) removes the peak: the curve is monotone in d
    few = double_descent_curve(n, dims, [10], n_draws=2).risk.values[0]
    assert np.all(np.diff(few) > 0)


def test_smallest_nonzero_eigenvalue_is_smallest_at_d_equals_n():
    n = 100
    dims = np.array([20, 50, 80, 95, 100, 105, 120, 200, 300])
    ds = smallest_nonzero_eigenvalue(n, dims, n_draws=5)
    assert int(ds.mu_min_mean.idxmin("d")) == n
    far = np.abs(1 - np.sqrt(dims / n)) >= 0.3
    rel = np.abs(ds.mu_min_mean - ds.marchenko_pastur)[far] / ds.marchenko_pastur[far]
    assert float(rel.max()) < 0.2      # MP edge at n = 100: finite-size (Tracy-Widom) offsets ~10%


def test_diverging_step_size_is_refused(rng):
    X = rng.standard_normal((10, 3))
    with pytest.raises(ValueError, match="lr=.* diverges"):
        gd_least_squares(X, rng.standard_normal(10), 5, lr=10.0)
