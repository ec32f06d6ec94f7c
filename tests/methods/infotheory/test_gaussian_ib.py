"""Gaussian IB (Chechik et al. 2005) and the Rényi / Jeffreys generalisations."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.integrate
import torch
import xarray as xr

from neurolatent.methods.infotheory import (encoder_information, gaussian_ib_curve, gaussian_ib_encoder,
                                            gaussian_ib_spectrum, gaussian_jeffreys_divergence,
                                            gaussian_renyi_divergence, optimal_relevance,
                                            optimize_gaussian_encoder)

MEASURES = [("mi", 0.5), ("jeffreys", 0.5), ("renyi", 0.5), ("renyi", 1.6)]


@pytest.fixture
def problem(rng):
    dx, dy = 3, 2
    M = rng.standard_normal((dx + dy, dx + dy))
    S = M @ M.T + 0.5 * np.eye(dx + dy)
    return S[:dx, :dx], S[:dx, dx:], S[dx:, dx:]


def test_divergences_match_numerical_integration():
    """Closed-form Gaussian Rényi / Jeffreys divergences against 2-D quadrature of the densities."""
    S1 = np.array([[1.0, 0.6], [0.6, 1.5]])
    S2 = np.array([[1.2, 0.0], [0.0, 0.9]])

    def pdf(S):
        Si, det = np.linalg.inv(S), np.linalg.det(S)
        return lambda x, y: np.exp(-0.5 * np.array([x, y]) @ Si @ np.array([x, y])) / (2 * np.pi * np.sqrt(det))

    p, q = pdf(S1), pdf(S2)
    L = 12.0
    for alpha in (0.5, 1.7):
        integral, _ = scipy.integrate.dblquad(lambda y, x: p(x, y) ** alpha * q(x, y) ** (1 - alpha), -L, L, -L, L,
                                              epsabs=1e-12, epsrel=1e-10)
        ref = np.log(integral) / (alpha - 1)
        got = float(gaussian_renyi_divergence(torch.tensor(S1), torch.tensor(S2), alpha))
        assert abs(got - ref) < 1e-7 * max(1, abs(ref))      # quadrature accuracy ~1e-10
    kl = lambda a, b: scipy.integrate.dblquad(lambda y, x: a(x, y) * np.log(a(x, y) / b(x, y)),  # noqa: E731
                                              -L, L, -L, L, epsabs=1e-12, epsrel=1e-10)[0]
    ref = kl(p, q) + kl(q, p)
    assert abs(float(gaussian_jeffreys_divergence(torch.tensor(S1), torch.tensor(S2))) - ref) < 1e-7


def test_closed_form_matches_chechik_information_curve(problem):
    Sx, Sxy, Sy = problem
    sp = gaussian_ib_spectrum(Sx, Sxy, Sy)
    lam = sp.lam.values
    # eigenvalues of Sigma_{x|y} Sigma_x^{-1} computed independently with numpy's general eig
    S_cond = Sx - Sxy @ np.linalg.solve(Sy, Sxy.T)
    assert np.allclose(np.sort(np.linalg.eigvals(S_cond @ np.linalg.inv(Sx)).real), lam, atol=1e-12)
    betas = np.array([1.2, 2.5, 6.0, 40.0])
    curve = gaussian_ib_curve(Sx, Sxy, Sy, betas)
    assert isinstance(curve, xr.Dataset) and curve.I_xt.dims == ("beta",)
    for b in betas:
        act = b > sp.beta_c.values
        # Chechik et al. (2005): I_X = 1/2 sum log((beta-1)(1-lam)/lam),
        # I_Y = I_X - 1/2 sum log(beta (1 - lam)), sums over active components
        ix = 0.5 * np.sum(np.log((b - 1) * (1 - lam[act]) / lam[act]))
        iy = ix - 0.5 * np.sum(np.log(b * (1 - lam[act])))
        assert abs(float(curve.I_xt.sel(beta=b)) - ix) < 1e-12
        assert abs(float(curve.I_ty.sel(beta=b)) - iy) < 1e-12
        # and the same numbers from the encoder's covariances (independent route)
        A = torch.tensor(gaussian_ib_encoder(Sx, Sxy, Sy, b))
        dxt, dty = encoder_information(A, Sx, Sxy, Sy)
        assert abs(float(dxt) - ix) < 1e-10 and abs(float(dty) - iy) < 1e-10


@pytest.mark.parametrize("measure,alpha", MEASURES)
def test_closed_form_is_the_unstructured_optimum(problem, measure, alpha):
    """L-BFGS over a full, randomly initialised A finds nothing better than the diagonal closed form."""
    Sx, Sxy, Sy = problem
    bc = gaussian_ib_spectrum(Sx, Sxy, Sy).beta_c.values
    for beta in (0.95 * bc[0], 1.3 * bc[0], 1.5 * bc[1]):
        A = torch.tensor(gaussian_ib_encoder(Sx, Sxy, Sy, beta, measure, alpha))
        dxt, dty = encoder_information(A, Sx, Sxy, Sy, measure, alpha)
        closed = float(dxt - beta * dty)
        _, numeric = optimize_gaussian_encoder(Sx, Sxy, Sy, beta, measure, alpha, seed=1)
        # measured agreement ~1e-14; 1e-8 allows for L-BFGS stopping tolerance
        assert numeric >= closed - 1e-8
        assert abs(numeric - closed) < 1e-8 * max(1.0, abs(closed))


@pytest.mark.parametrize("measure,alpha", MEASURES)
def test_critical_betas_are_shared(problem, measure, alpha):
    """Component i switches on at beta_c,i = 1/(1 - lambda_i) for every measure, checked on the
    *numerical* optimum: the optimal encoder is zero just below and non-zero just above."""
    Sx, Sxy, Sy = problem
    bc = gaussian_ib_spectrum(Sx, Sxy, Sy).beta_c.values
    for i in range(2):
        below = gaussian_ib_curve(Sx, Sxy, Sy, [bc[i] * 0.98], measure, alpha).snr.values[0]
        above = gaussian_ib_curve(Sx, Sxy, Sy, [bc[i] * 1.02], measure, alpha).snr.values[0]
        assert below[i] == 0 and above[i] > 1e-3
    A_lo, _ = optimize_gaussian_encoder(Sx, Sxy, Sy, 0.98 * bc[0], measure, alpha, seed=2)
    A_hi, _ = optimize_gaussian_encoder(Sx, Sxy, Sy, 1.05 * bc[0], measure, alpha, seed=2)
    assert np.abs(A_lo).max() < 1e-4          # collapses to the trivial encoder (gradient ~ 0 there)
    assert np.abs(A_hi).max() > 1e-2


@pytest.mark.parametrize("measure,alpha,max_gap", [("jeffreys", 0.5, 0.05), ("renyi", 0.5, 0.01),
                                                   ("renyi", 0.1, 0.05), ("renyi", 2.0, 1e-10)])
def test_generalised_encoders_are_near_optimal_for_original_ib(problem, measure, alpha, max_gap):
    """Rényi / Jeffreys encoders lie just below the original IB curve (never above it).
    Measured worst relative loss of I(T;Y) at equal I(X;T): Jeffreys 2.6%, Rényi-0.5 0.29%,
    Rényi-0.1 1.9%, Rényi-2 ~1e-15 (for a Gaussian pair the Rényi-2 information is exactly
    twice the mutual information, so that problem *is* the original one); thresholds 5% / 1%
    keep the claim 'close to optimal' falsifiable."""
    Sx, Sxy, Sy = problem
    c = gaussian_ib_curve(Sx, Sxy, Sy, np.linspace(1.0, 30, 40), measure, alpha)
    m = c.I_xt.values > 1e-3
    best = optimal_relevance(Sx, Sxy, Sy, c.I_xt.values[m])
    gap = (best - c.I_ty.values[m]) / best
    assert gap.min() > -1e-10                 # nothing beats the IB bound
    assert gap.max() < max_gap


def test_bad_inputs(problem):
    Sx, Sxy, Sy = problem
    with pytest.raises(ValueError, match="measure must be one of"):
        gaussian_ib_curve(Sx, Sxy, Sy, [2.0], "tsallis")
    with pytest.raises(ValueError, match="alpha must be positive and != 1"):
        gaussian_ib_curve(Sx, Sxy, Sy, [2.0], "renyi", 1.0)
    with pytest.raises(ValueError, match=r"Sigma_xy must have shape \(3, 2\)"):
        gaussian_ib_spectrum(Sx, Sxy.T, Sy)
