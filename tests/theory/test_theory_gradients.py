"""Mean-field theory of back-propagated gradients (``gradient_dmft``) against closed forms and networks.

Quick tests check the ingredients exactly: the transposed Jacobian (``<a, D v> = <D^T a, v>``), the
RK4 adjoint step (= torch autograd through ``advance``), the zero-fixed-point closed form
``<a^2> = e^{-2 s tau} I_0(2 s g tau)``, the identity "asymptotic adjoint rate = mean-field
lambda_max" (the adjoint operator is similar to the transposed forward tangent operator), the
sampling route against the exact Gaussian route at alpha_z = 0, and the result plumbing.

The ``slow`` tests back-propagate gradients through N = 1000 networks (``adjoint_norms``: the exact
transpose of the RK4 step, B = 2 networks, several consecutive 30-time-unit windows, 4 random loss
vectors per window) and compare the pooled ``log <|dL/dh(T - tau)|^2 / N>`` and its rate fitted
over tau in [10, 30] with the DMFT's, on both sides of the transition to chaos. Measured
(seeds 0, 1; float32 for the gated networks; rates of the gradient *norm*, 1/time; in brackets
the mean ± standard error of the per-window rates):

=====================  ==========  =================  ==========  ===========================
(g_h, alpha_z, alpha_r) phase      DMFT rate          DMFT λ_max  simulated, N = 1000
=====================  ==========  =================  ==========  ===========================
SCS g = 0.5            quiescent   -0.517             -0.500      -0.511
SCS g = 1.5            chaotic     0.045              0.0467      0.050 (0.039 ± 0.008)
SCS g = 2              chaotic     0.112              0.1125      0.109 (0.102 ± 0.007)
SCS g = 2, N = 500     chaotic     0.112              0.1125      0.091 (0.075 ± 0.007)
SCS g = 2, N = 2000    chaotic     0.112              0.1125      0.103 (0.100 ± 0.006)
(1.5, 0, 0)            quiescent   -0.139             -0.125      -0.137
(1.5, 5, 0)            quiescent   -0.131 ± 0.002     -0.125      -0.137
(3, 0, 2)              chaotic     0.0704             0.0710      0.0715 (0.0709 ± 0.0033)
(4, 2, 0)              chaotic     0.054 ± 0.006      0.054       0.047 (0.044 ± 0.004)
(3, 5, 2)              chaotic     0.070 ± 0.006      0.066       0.047 (0.043 ± 0.004)  xfail/xpass
=====================  ==========  =================  ==========  ===========================

The finite-N tolerances: SCS g = 2 sits below the mean-field rate (pooled 0.091 / 0.109 / 0.103 at
N = 500 / 1000 / 2000 against 0.1125; its Lyapunov exponent: 0.097 at N = 1000, 0.110 at N = 4096), the gated α_z = 0 point shows no bias within
0.003; at the zero fixed point the only finite-N effect is the O(N^-1/2) edge of the circular law.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.special import i0e

from neurolatent.theory import (DMFTConvergenceError, GatedRNN, GradientDMFTResult, VanillaRNN, dmft,
                                gradient_dmft, sample_network)
from neurolatent.theory.adjoint import adjoint_norms, adjoint_step, vjp
from neurolatent.theory.simulate import advance, initial_state, jvp

GATED_FULL = GatedRNN(3.0, alpha_z=2.0, alpha_r=1.5, beta_z=0.3, beta_r=-0.2, beta_h=0.1, tau_h=1.3,
                      tau_z=2.0, tau_r=0.5)


def _fit_rate(tau, log_n2, t0):
    s = tau >= t0
    return np.polyfit(tau[s], log_n2[s], 1)[0] / 2


# ----------------------------------------------------------------------------------- ingredients
@pytest.mark.parametrize("model", [VanillaRNN(1.7, tau=0.8), GATED_FULL], ids=["scs", "gated"])
def test_vjp_is_the_transpose_of_jvp(model):
    net = sample_network(model, 30, [0, 1])
    x = initial_state(net, 1.0, seed=3)
    gen = torch.Generator().manual_seed(0)
    V = torch.randn(2, net.dim, 3, generator=gen, dtype=torch.float64)
    A = torch.randn(2, net.dim, 3, generator=gen, dtype=torch.float64)
    lhs, rhs = (A * jvp(net, x, V)).sum((1, 2)), (vjp(net, x, A) * V).sum((1, 2))
    # float64 round-off on sums of ~10^3 O(1) products
    np.testing.assert_allclose(lhs.numpy(), rhs.numpy(), rtol=1e-12, atol=1e-11)


@pytest.mark.parametrize("model", [VanillaRNN(1.7), GATED_FULL], ids=["scs", "gated"])
def test_adjoint_step_equals_autograd_through_rk4(model):
    net = sample_network(model, 25, [0, 1])
    x = initial_state(net, 1.0, seed=5)
    a = torch.randn(2, net.dim, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    xr = x.clone().requires_grad_(True)
    ref = torch.autograd.grad(advance(net, xr, 0.1), xr, a)[0]
    got = adjoint_step(net, x, a.unsqueeze(-1), 0.1)[..., 0]
    torch.testing.assert_close(got, ref, rtol=1e-12, atol=1e-12)  # same algebra, float64 round-off


def test_vjp_rejects_maps():
    from neurolatent.theory import GRU
    net = sample_network(GRU(), 5, 0)
    with pytest.raises(TypeError, match="flow model"):
        vjp(net, torch.zeros(1, 5, dtype=torch.float64), torch.zeros(1, 5, 1, dtype=torch.float64))


# ------------------------------------------------------------------------------- closed forms
@pytest.mark.parametrize("model", [VanillaRNN(0.5), GatedRNN(1.2, beta_r=-0.5, tau_h=2.0, alpha_r=3.0)],
                         ids=["scs", "gated"])
def test_zero_fixed_point_closed_form(model):
    """At the zero fixed point a(τ) = exp(τ D^T) e, D = s(-1 + G J): <a²> = e^{-2sτ} I_0(2 s G τ) (N → ∞)."""
    # a small initial variance lets the forward iteration collapse to the zero solution quickly
    res = gradient_dmft(model, tau_max=20.0, dt=0.05, init_variance=1e-6)
    if isinstance(model, VanillaRNN):
        s, G = 1.0 / model.tau, model.g
    else:
        s, G = model.gate_at_zero("z") / model.tau_h, model.g_h * model.gate_at_zero("r")
    x = 2 * s * G * res.tau
    exact = np.log(i0e(x)) + x - 2 * s * res.tau
    # second-order (Richardson) march: measured 1.8e-4 at dt = 0.05 for SCS; 2e-3 leaves 10x room
    np.testing.assert_allclose(np.log(res.norm2), exact, atol=2e-3)
    assert res.rate_asymptotic == pytest.approx(s * (G - 1), abs=2e-3)  # Dirichlet box: (π/2L)² shift


@pytest.mark.parametrize("model", [VanillaRNN(2.0), VanillaRNN(1.5, tau=2.0), GatedRNN(3.0, alpha_r=2.0),
                                   GatedRNN(2.5, alpha_r=4.0, beta_r=-0.5, tau_r=2.0, beta_h=0.2)],
                         ids=["scs2", "scs1.5", "gated-ar2", "gated-ar4"])
def test_asymptotic_rate_is_the_mean_field_lambda_max(model):
    """K_adj = S K_fwd^T S^-1: the adjoint eigenproblem has the forward tangent eigenvalue."""
    res = gradient_dmft(model, tau_max=40.0)
    assert res.rate_asymptotic == pytest.approx(res.lambda_max, abs=1e-6)  # brentq xtol 1e-8
    # the finite-window rate approaches it from below (transient of a random loss vector)
    assert res.lambda_max - 0.01 < res.rate <= res.lambda_max + 1e-3


def test_rate_converges_in_dt():
    a = gradient_dmft(VanillaRNN(2.0), dt=0.1, tau_max=30.0, fit_start=10.0)
    b = gradient_dmft(VanillaRNN(2.0), dt=0.025, tau_max=30.0, fit_start=10.0)
    # second order: measured 1.4e-4 (rate) and 8e-3 (log norm at τ = 30) between dt = 0.1 and 0.025
    assert a.rate == pytest.approx(b.rate, abs=5e-4)
    assert np.log(a.norm2[-1]) == pytest.approx(np.log(b.norm2[-1]), abs=0.03)


def test_sampling_route_matches_gaussian_route_at_alpha_z_zero():
    model = GatedRNN(3.0, alpha_r=2.0)
    g = gradient_dmft(model, tau_max=20.0, fit_start=8.0)
    s = gradient_dmft(model, forward=g.forward, method="sampling", tau_max=20.0, fit_start=8.0,
                      n_sites=600, n_rep=2, seed=1, on_fail="return")
    # Monte-Carlo route = a finite population of M = 600 sites: its log-norm fluctuates like a
    # finite network's (replica spread of the rate ~0.02 at M = 600); 0.5 in log-norm at τ = 20
    # is ~3 such spreads over 12 time units
    assert np.log(s.norm2[-1]) == pytest.approx(np.log(g.norm2[-1]), abs=0.5)
    assert s.coherence[10] == pytest.approx(g.coherence[10], abs=0.03)  # 1-time-unit lag, 1/sqrt(M)


# ---------------------------------------------------------------------------------- plumbing
def test_result_dataset_roundtrip(tmp_path):
    res = gradient_dmft(GatedRNN(3.0, alpha_r=2.0), tau_max=20.0)
    assert isinstance(res, GradientDMFTResult) and res.converged and res.method == "gaussian"
    ds = res.to_dataset()
    assert ds["norm2"].attrs["units"] == "1" and "units" in ds["tau"].attrs
    assert ds.attrs["param_alpha_r"] == 2.0 and ds.attrs["rate"] == pytest.approx(res.rate)
    ds.to_netcdf(tmp_path / "g.nc")
    import xarray as xr
    back = xr.load_dataset(tmp_path / "g.nc")
    np.testing.assert_allclose(back["norm2"].values, res.norm2)
    assert back.attrs["param_gate_bias"] == "subtract"


def test_non_stationary_rate_is_flagged():
    # a 6-time-unit window at g = 1.1 (λ = 0.004, slow transient) is far from the asymptotic rate
    with pytest.raises(DMFTConvergenceError, match="not stationary"):
        gradient_dmft(VanillaRNN(1.1), tau_max=6.0, tol=1e-4)
    res = gradient_dmft(VanillaRNN(1.1), tau_max=6.0, tol=1e-4, on_fail="return")
    assert not res.converged and res.residual > 1e-4


def test_unconverged_forward_is_flagged():
    fwd = dmft(GatedRNN(3.0, alpha_r=2.0), max_iter=1, on_fail="return")
    assert not fwd.converged
    with pytest.raises(DMFTConvergenceError, match="forward DMFT"):
        gradient_dmft(fwd.model, forward=fwd, tau_max=10.0)
    assert not gradient_dmft(fwd.model, forward=fwd, tau_max=10.0, on_fail="return").converged


@pytest.mark.parametrize("kwargs, err, match", [
    ({"method": "nope"}, ValueError, "unknown method"),
    ({"on_fail": "ignore"}, ValueError, "on_fail"),
    ({"tau_max": -1.0}, ValueError, "tau_max"),
    ({"fit_start": 100.0, "tau_max": 10.0}, ValueError, "fit_start"),
])
def test_bad_input(kwargs, err, match):
    with pytest.raises(err, match=match):
        gradient_dmft(VanillaRNN(0.5), **kwargs)


def test_bad_models():
    from neurolatent.theory import GRU
    with pytest.raises(TypeError, match="VanillaRNN or GatedRNN"):
        gradient_dmft(GRU())
    with pytest.raises(ValueError, match="alpha_z = 0"):
        gradient_dmft(GatedRNN(2.0, alpha_z=1.0), method="gaussian")
    with pytest.raises(ValueError, match="for GatedRNN"):
        gradient_dmft(VanillaRNN(2.0), method="sampling")
    with pytest.raises(ValueError, match="solved for"):
        gradient_dmft(VanillaRNN(2.0), forward=dmft(VanillaRNN(1.5)))


# ------------------------------------------------------------------------ finite networks (quick)
def test_small_network_quiescent_matches_closed_form():
    """N = 300, g = 0.5: the measured norm follows the N → ∞ curve (finite-N edge shift O(N^-1/2))."""
    out = adjoint_norms(VanillaRNN(0.5), N=300, T=10.0, dt=0.1, seeds=[0, 1], burn_in=5.0, n_vectors=4)
    # tol: over [5, 10] the power-law prefactor τ^-1/2 of I_0 still bends the rate by ~0.013
    res = gradient_dmft(VanillaRNN(0.5), dt=0.05, tau_max=10.0, tol=0.05)
    theory = np.interp(out["tau"], res.tau, np.log(res.norm2))
    # measured |difference| 0.05 at τ = 10 (log-norm ≈ -6.6): the circular-law edge of a N = 300
    # matrix fluctuates by ~N^-1/2 g ≈ 0.03, i.e. ~0.3 in log-norm over 10 time units at worst
    np.testing.assert_allclose(np.log(out["mean_norm2"]), theory, atol=0.3)


# ------------------------------------------------------------------------ finite networks (slow)
def _measure(model, N=1000, windows=4, seeds=(0, 1), T=30.0, t0=10.0, dtype=torch.float64, burn_in=100.0):
    out = adjoint_norms(model, N=N, T=T, dt=0.1, seeds=list(seeds), burn_in=burn_in, n_vectors=4,
                        n_windows=windows, dtype=dtype)
    tau, L = out["tau"], out["log_norm2"]
    per = [_fit_rate(tau, np.log(np.exp(L[b, w]).mean(0)), t0) for b in range(L.shape[0]) for w in range(L.shape[1])]
    se = np.std(per, ddof=1) / math.sqrt(len(per)) if len(per) > 1 else 0.0
    return out, _fit_rate(tau, np.log(out["mean_norm2"]), t0), se


@pytest.mark.slow
@pytest.mark.parametrize("model, windows, tol", [
    # zero fixed point: linear dynamics, the only finite-N effect is the O(N^-1/2) circular-law edge
    # (|Δrate| ≤ g N^-1/2 ≈ 0.016); measured -0.511 vs -0.517
    (VanillaRNN(0.5), 1, 0.02),
    (GatedRNN(1.5), 1, 0.02),  # measured -0.1366 vs -0.1385; edge shift s_z g_h s_r N^-1/2 ≈ 0.012
], ids=["scs-g0.5", "gated-1.5-0-0"])
def test_networks_quiescent_rate(model, windows, tol):
    _, rate, _ = _measure(model, windows=windows, burn_in=20.0, dtype=torch.float32)  # decays to 0 fast
    res = gradient_dmft(model, tau_max=30.0, fit_start=10.0)
    assert rate < 0 and res.rate < 0
    assert rate == pytest.approx(res.rate, abs=tol)


@pytest.mark.slow
@pytest.mark.parametrize("model, dtype, bias", [
    # SCS g = 2: measured pooled 0.109 (N = 1000, 12 windows), 0.091 at N = 500; the Lyapunov
    # exponent itself is 0.097 at N = 1000 vs 0.1125 for N → ∞: allow that deficit, 0.015
    (VanillaRNN(2.0), torch.float64, 0.015),
    # gated (3, 0, 2): measured pooled 0.0715 ± 0.0033 vs 0.0704 (N = 1000, 8 windows)
    (GatedRNN(3.0, alpha_r=2.0), torch.float32, 0.01),
], ids=["scs-g2", "gated-3-0-2"])
def test_networks_chaotic_rate(model, dtype, bias):
    """Tolerance = finite-N bias (measured N-dependence) + 2.5 standard errors of the per-window rates."""
    out, rate, se = _measure(model, windows=2, dtype=dtype)
    res = gradient_dmft(model, tau_max=30.0, fit_start=10.0)
    assert rate > 0 and res.rate > 0
    assert rate == pytest.approx(res.rate, abs=bias + 2.5 * max(se, 0.004))
    # the whole curve: log-norm at τ = 30 within the same rate tolerance accumulated over 20 units
    theory = np.interp(30.0, res.tau, np.log(res.norm2))
    assert np.log(out["mean_norm2"][-1]) == pytest.approx(theory, abs=2 * 20 * (bias + 2.5 * max(se, 0.004)))


XFAIL_AZ5 = pytest.mark.xfail(
    strict=False, reason="α_z = 5: the sampled forward DMFT underestimates Δ₀ (0.10 vs 0.124 at N = 1000) and "
    "the gradient rate is high with it: DMFT 0.070 ± 0.006 vs networks 0.047 ± 0.004 (4 windows, ~3 s.e.); "
    "at this test's settings 0.0665 ± 0.006 vs 0.046 ± 0.007 (2 windows), inside the 2-s.e. tolerance (XPASS)")


@pytest.mark.slow
@pytest.mark.parametrize("model", [GatedRNN(4.0, alpha_z=2.0),
                                   pytest.param(GatedRNN(3.0, alpha_z=5.0, alpha_r=2.0), marks=XFAIL_AZ5)],
                         ids=["gated-4-2-0", "gated-3-5-2"])
def test_networks_alpha_z_positive(model):
    """α_z > 0: sampling-route DMFT vs N = 1000 networks (measured: see the module docstring)."""
    res = gradient_dmft(model, forward=dmft(model, n_paths=1000), tau_max=30.0, fit_start=10.0,
                        n_rep=4, on_fail="return")
    out, rate, se = _measure(model, windows=2, dtype=torch.float32)
    assert rate > 0 and res.rate > 0
    # 2 combined standard errors (DMFT replicas' rate_std ~0.006, per-window s.e. ~0.004) plus the
    # finite-N allowance measured for the gated network at α_z = 0 (|bias| = 0.001 ± 0.003 -> 0.005)
    tol = 0.005 + 2.0 * math.hypot(res.rate_std, max(se, 0.004))
    assert rate == pytest.approx(res.rate, abs=tol)
