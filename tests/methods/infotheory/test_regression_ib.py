"""Relevant vs residual information of randomised ridge regression."""
from __future__ import annotations

import numpy as np

from neurolatent.methods.infotheory import (optimal_regression_bound, regression_spectrum, ridge_efficiency,
                                            ridge_information)
from neurolatent.methods.infotheory.gaussian_ib import encoder_information


def test_mode_formulas_match_full_covariance_computation(rng):
    """The per-mode formulas against mutual informations of the full Gaussian joint (w, y, w_hat)."""
    import torch

    n, d, lam, sig2, tau2 = 7, 5, 0.3, 0.25, 0.05
    X = rng.standard_normal((n, d)) / np.sqrt(d)
    M = np.linalg.solve(X.T @ X + lam * np.eye(d), X.T)                  # w_hat = M y + tau xi
    # relevant: treat w as "X" and w_hat = (M X) w + noise, noise cov = sig2 M M^T + tau2 I
    Cn = sig2 * M @ M.T + tau2 * np.eye(d)
    Lc = np.linalg.cholesky(Cn)
    A = np.linalg.solve(Lc, M @ X)                                        # whitened encoder of w
    i_rel, _ = encoder_information(torch.tensor(A), np.eye(d), np.eye(d), np.eye(d))
    i_res = 0.5 * (np.linalg.slogdet(Cn)[1] - d * np.log(tau2))
    # finite-sample per-mode formula on this one design (weights 1/d)
    s2 = np.linalg.svd(X, compute_uv=False) ** 2
    from neurolatent.methods.infotheory.regression import _ridge_terms
    rel, res = _ridge_terms(s2, np.full(len(s2), 1.0 / d), lam, sig2, tau2)
    assert abs(rel * d - float(i_rel)) < 1e-10
    assert abs(res * d - i_res) < 1e-10


def test_residual_information_peaks_at_interpolation_threshold():
    ratios = np.array([0.25, 0.5, 0.75, 0.9, 1.0, 1.1, 1.25, 1.5, 2.0, 4.0])
    ds = ridge_information(ratios, [1e-4, 1e-2], d=200, n_draws=2)
    for lam in (1e-4, 1e-2):
        peak = float(ds.residual.sel(ridge=lam).idxmax("n_over_d"))
        assert 0.9 <= peak <= 1.1             # measured: 1.0 for both
    # finite d = 200 agrees with the Marchenko-Pastur limit (measured within 0.3%)
    da = ridge_information(ratios, [1e-2], asymptotic=True)
    rel_err = np.abs(ds.residual.sel(ridge=[1e-2]) - da.residual) / da.residual
    assert float(rel_err.max()) < 0.02


def test_mp_spectrum_mass_and_mean():
    for n, d in ((400, 200), (200, 400)):
        s2, w = regression_spectrum(n, d, asymptotic=True)
        assert abs(w.sum() - min(1, n / d)) < 1e-12
        # E[tr X^T X]/d = n/d exactly (entries of variance 1/d)
        assert abs((w * s2).sum() - n / d) < 1e-3


def test_randomised_ridge_is_near_the_optimal_bound():
    """Posterior-shaped randomised ridge at lambda = sigma^2 keeps >= 95% of the optimal relevant
    information at equal residual information for tau^2 <= 0.1 (measured 0.991 .. 1.000), and no
    randomised ridge point beats the IB bound."""
    for n in (100, 200, 400):
        for noise in ("posterior", "isotropic"):
            e = ridge_efficiency(n, 200, 0.25, [1e-3, 1e-2, 0.1, 1.0], noise=noise, n_draws=2)
            assert float(e.efficiency.max()) <= 1 + 1e-6
            assert float((e.relevant / e.relevant_opt).max()) <= 1 + 1e-6
            if noise == "posterior":
                assert float((e.relevant / e.relevant_opt).sel(inject_var=[1e-3, 1e-2, 0.1]).min()) > 0.95


def test_bound_is_monotone():
    s2, w = regression_spectrum(100, 200, seed=0)
    b = optimal_regression_bound(s2, w, 0.25, np.logspace(0, 6, 200))
    assert np.all(np.diff(b.relevant.values) >= -1e-15)
    assert np.all(np.diff(b.residual.values) >= -1e-15)
