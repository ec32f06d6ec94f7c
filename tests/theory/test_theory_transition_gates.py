"""The transition of the gated RNN away from β_r = 0, α_z = 0 (``nl.theory.transition``).

Quick tests: the closed-form tricritical point :func:`tricritical_point` against the small-Δ
expansion of the static equation computed by scipy quadrature (written here from the equations),
the static line at β_r ≠ 0 against an independent saddle-node (quad + brentq) and against
g_h = 1/σ_r(0) below the tricritical point, and the static solutions' independence of the update
gate. Slow tests: the chaos line at β_r = 1 on both sides of the tricritical point, an N = 1000
network above it, and the chaos line at α_z = 2 (sampling DMFT).
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import integrate, optimize
from scipy.special import expit

from neurolatent.theory import GatedRNN, fixed_point_dmft
from neurolatent.theory.transition import (chaos_line, dmft_point, simulate_point, static_line,
                                           tricritical_point)


def _gmean(f, var):
    s = math.sqrt(var)
    return integrate.quad(lambda x: f(s * x) * math.exp(-x * x / 2) / math.sqrt(2 * math.pi), -12, 12,
                          limit=200, epsabs=1e-14)[0]


def _ratio(delta, g, a, beta_r):
    """F(Δ)/Δ of the static equation with σ_r(x) = 1/(1 + exp(-a x + β_r)), from the equations."""
    dr = _gmean(lambda x: np.tanh(g * x) ** 2, delta)
    return _gmean(lambda x: expit(a * x - beta_r) ** 2, dr) * dr / delta - 1.0


def _peak(g, a, beta_r):
    ld = np.linspace(math.log(1e-5), math.log(1.5), 60)
    v = [_ratio(math.exp(x), g, a, beta_r) for x in ld]
    i = int(np.clip(np.argmax(v), 1, len(ld) - 2))
    r = optimize.minimize_scalar(lambda x: -_ratio(math.exp(x), g, a, beta_r), bounds=(ld[i - 1], ld[i + 1]),
                                 method="bounded", options={"xatol": 1e-6})
    return max(-r.fun, max(v))


@pytest.mark.parametrize("beta_r", [-0.5, 0.0, 1.0])
def test_tricritical_point_matches_small_delta_expansion(beta_r):
    g_c, a_c = tricritical_point(beta_r)
    assert g_c == pytest.approx(1.0 + math.exp(beta_r), rel=1e-12)  # 1/σ_r(0), subtract convention
    # at g_h = 1/σ_r(0) the linear term vanishes and F(Δ)/Δ ≈ g⁴(cα² - 2s²)Δ changes sign at α_tc;
    # ±5% in α moves that coefficient by ~±10% of 2s²g⁴, far above the O(Δ²) = 1e-8 remainder at Δ = 1e-4
    d = 1e-4
    assert _ratio(d, g_c, 0.95 * a_c, beta_r) < 0 < _ratio(d, g_c, 1.05 * a_c, beta_r)


def test_no_tricritical_point_when_gate_is_mostly_open():
    # σ_r(0) >= 2/3 (β_r <= -ln 2): the quadratic coefficient is negative for every α_r
    g_c, a_c = tricritical_point(-1.0)
    assert math.isinf(a_c)
    assert _ratio(1e-4, g_c, 50.0, -1.0) < 0  # even at α_r = 50, from the quadrature reference
    with pytest.raises(ValueError, match="beta_r"):
        tricritical_point(float("nan"))


@pytest.mark.parametrize("beta_r,alpha_r", [(1.0, 1.0), (-0.5, 4.0)])
def test_static_line_at_zero_fp_instability_below_tricritical(beta_r, alpha_r):
    g_c, a_c = tricritical_point(beta_r)
    assert alpha_r < a_c
    # continuous branch: born exactly where g_h σ_r(0) = 1 (bisection tolerance 1e-6)
    assert static_line(alpha_r, beta_r=beta_r) == pytest.approx(g_c, abs=1e-5)


@pytest.mark.parametrize("beta_r,alpha_r", [(1.0, 4.0), (-0.5, 12.0)])
def test_static_line_saddle_node_above_tricritical(beta_r, alpha_r):
    g_c, a_c = tricritical_point(beta_r)
    assert alpha_r > a_c
    ref = optimize.brentq(lambda g: _peak(g, alpha_r, beta_r), 0.6 * g_c, 0.9999 * g_c, xtol=1e-7)
    got = static_line(alpha_r, beta_r=beta_r)
    # same grid-step argument as at β_r = 0 (test_theory_transition.py): the package's 160-point
    # geometric Δ scan misses the merging roots by < 1e-4 in g_h
    assert got == pytest.approx(ref, abs=5e-4)
    assert got < g_c - 0.02  # the saddle-node is clearly below the zero-FP instability


@pytest.mark.parametrize("alpha_z,beta_z", [(5.0, 0.0), (20.0, 1.5)])
def test_static_solutions_do_not_depend_on_update_gate(alpha_z, beta_z):
    # σ_z > 0 multiplies the whole h equation, so fixed points and their variances are those of α_z = 0
    ref = fixed_point_dmft(GatedRNN(1.8, 0.0, 16.0), stability=False)
    got = fixed_point_dmft(GatedRNN(1.8, alpha_z, 16.0, beta_z=beta_z), stability=False)
    assert len(got) == len(ref) == 3  # zero + the two saddle-node branches at (1.8, 16)
    np.testing.assert_allclose([s.delta_h for s in got], [s.delta_h for s in ref], rtol=1e-12, atol=0)


@pytest.mark.slow
def test_chaos_line_beta_r_coincides_below_and_separates_above_tricritical():
    # β_r = 1: 1/σ_r(0) = 1 + e = 3.718, α_tc = 1.514 (tricritical_point).
    # Below (α_r = 1) the chaos line is at the zero-FP instability: measured bracket [3.733, 3.751]
    # with xtol 0.02; the DMFT's onset amplitude there is tiny (Δ₀ ~ 1e-3) and the iteration needs
    # ~200 steps, so points just above 3.718 read "not chaotic": tolerance 0.05 (1.3%).
    below = chaos_line(1.0, g_lo=3.68, g_hi=3.80, beta_r=1.0, xtol=0.03)
    assert below["g_chaos"] == pytest.approx(1.0 + math.e, abs=0.05)
    # Above (α_r = 4): static line 2.794, chaos line measured in [3.007, 3.023] (xtol 0.02), both
    # well below 3.718 and 0.2 apart -- distinct lines, as at β_r = 0 (gap 0.03-0.15 there)
    g_s = static_line(4.0, beta_r=1.0)
    above = chaos_line(4.0, g_lo=2.95, g_hi=3.10, beta_r=1.0, xtol=0.04)
    assert g_s + 0.1 < above["lo"] and above["hi"] < 1.0 + math.e - 0.5
    assert above["onset"]["delta0"] > 0.01  # discontinuous: finite amplitude at onset (measured 0.026)


@pytest.mark.slow
def test_n1000_network_above_beta_r_chaos_line():
    # (g_h, α_r, β_r) = (3.3, 4, 1): above the chaos line (3.015), below 1/σ_r(0) = 3.718, so the
    # zero fixed point is stable and the chaotic attractor coexists with it
    m = GatedRNN(3.3, 0.0, 4.0, beta_r=1.0)
    d = dmft_point(m)
    assert d["chaotic"]
    s = simulate_point(m, N=1000, seeds=(0,), burn_in=60.0, T_var=60.0, T_lyap=100.0, dtype=torch.float64)
    assert s["final_variance"] > 0.3 * d["delta0"]  # still active, not decayed to the zero FP
    # finite-N tolerances from the β_r = 0 measurements (test_theory_transition.py, issue table):
    # one N = 1000 network is within ~25% on <h²> and ~0.02 on λ_max of the DMFT. Measured here
    # (seed 0): <h²> 0.0555 vs Δ₀ 0.0601 (-8%), λ 0.1084 vs 0.1173, final <h²> 0.0488
    assert s["variance"] == pytest.approx(d["delta0"], rel=0.3)
    assert abs(s["lambda_max"] - d["lambda_max"]) < 0.03


@pytest.mark.slow
def test_update_gate_leaves_chaos_line_in_place_at_alpha_r_16():
    # the α_z = 0 chaos line at α_r = 16 is 1.786 [1.783, 1.789] (transition.py table). Measured with
    # the sampling route (500 paths) at α_z = 2: bisection bracket [1.785, 1.790] -- the same line to
    # the bracket width. Here one point 0.014 above it: chaotic, and Δ₀ within 1% of α_z = 0 (measured
    # 0.02060 vs 0.02057 at 1.80; 0.04547 vs 0.04559 at 1.9) while λ_max is lower (0.091 vs 0.097 at
    # 1.80): the z gate changes the speed of the chaotic state, not its existence or amplitude.
    ref = dmft_point(GatedRNN(1.80, 0.0, 16.0))
    got = dmft_point(GatedRNN(1.80, 2.0, 16.0), n_paths=500)
    assert ref["chaotic"] and got["chaotic"]
    # 2%: the sampling route's Monte-Carlo error on Δ₀ with 500 paths is ~1% (diagnostics mc_noise)
    assert got["delta0"] == pytest.approx(ref["delta0"], rel=0.02)
    # the static line is that of α_z = 0 by construction of the equations (checked in the quick test)
    assert static_line(16.0) < 1.80 - 0.1
