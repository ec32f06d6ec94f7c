"""GRU fixed points: mean-field phase diagram vs numerically found fixed points of finite GRUs.

Quick tests use N <= 200; the N = 500 checks are ``slow``. Finite-N tolerances are argued beside
each assertion.
"""
from __future__ import annotations

import dataclasses

import matplotlib
import numpy as np
import pytest
import torch
from scipy import integrate, stats
from scipy.special import expit, logit

from neurolatent.theory import GRU, jacobian, sample_network
from neurolatent.theory.gru_fixed_points import (PHASES, _moments, find_gru_fixed_points, fixed_point_spectrum,
                                                 gru_fixed_point_diagram,
                                                 gru_static_solutions, slow_fraction_prediction, stability_index,
                                                 zero_fp_slow_fraction)
from neurolatent.theory.spectrum import _local

matplotlib.use("Agg")


def _quad(f):
    return integrate.quad(lambda x: f(x) * stats.norm.pdf(x), -12, 12, limit=200, epsabs=1e-13)[0]


def test_moments_match_scipy_quad():
    m, d = GRU(g_r=3.0, g_h=2.5, b_r=0.7, b_h=0.3), 0.2
    r2 = _quad(lambda y: expit(m.b_r + m.g_r * np.sqrt(d) * y) ** 2)
    dr2 = _quad(lambda y: (expit(m.b_r + m.g_r * np.sqrt(d) * y) * (1 - expit(m.b_r + m.g_r * np.sqrt(d) * y))) ** 2)
    sd = m.g_h * np.sqrt(r2 * d)
    h2 = _quad(lambda x: np.tanh(m.b_h + sd * x) ** 2)
    p2 = _quad(lambda x: (1 - np.tanh(m.b_h + sd * x) ** 2) ** 2)
    got = np.array([v[0] for v in _moments(m, d)])
    # trapezoid on 1801 nodes of a smooth integrand: agrees with adaptive quad to ~1e-10
    np.testing.assert_allclose(got, [r2, dr2, h2, p2], rtol=1e-8, atol=1e-12)


@pytest.mark.parametrize("g_h,g_r,b_r", [(2.5, 1.0, 0.0), (3.0, 4.0, -0.5), (1.9, 6.0, 0.5)])
def test_small_delta_expansion(g_h, g_r, b_r):
    """F(Δ)/Δ = g_h²σ(b_r)² - 1 + Δ[½ g_h² g_r² (σ²)''(b_r) - 2 g_h⁴ σ(b_r)⁴] + O(Δ²) (module docstring)."""
    m = GRU(g_r=g_r, g_h=g_h, b_r=b_r)
    s = expit(b_r)
    sig2_dd = 2 * (s * (1 - s)) ** 2 + 2 * s * s * (1 - s) * (1 - 2 * s)  # (σ²)'' = 2σ'² + 2σσ''
    c0, c1 = g_h ** 2 * s ** 2 - 1, 0.5 * g_h ** 2 * g_r ** 2 * sig2_dd - 2 * g_h ** 4 * s ** 4
    d = np.array([1e-4, 2e-4])
    F = _moments(m, d)[2] / d - 1
    slope = (F[1] - F[0]) / (d[1] - d[0])
    assert abs(F[0] - (c0 + c1 * d[0])) < 1e-5  # O(Δ²) remainder ~ 1e-8 times O(10-100) coefficients
    assert abs(slope - c1) < 0.01 * max(1.0, abs(c1))  # finite-difference slope: O(Δ) ~ 1e-4 relative error


def test_reset_bias_boundary_is_g_h_sigma_b_r_equal_one():
    """Zero FP stable iff g_h σ(b_r) < 1; the nonzero branch is born there (g_r small: continuous)."""
    g_h = 3.0
    b_star = float(logit(1 / g_h))
    below = gru_static_solutions(GRU(g_h=g_h, b_r=b_star - 0.05))
    above = gru_static_solutions(GRU(g_h=g_h, b_r=b_star + 0.05))
    assert [s.delta_h for s in below] == [0.0] and below[0].stable
    assert len(above) == 2 and not above[0].stable
    assert 0 < above[1].delta_h < 0.05  # continuous birth: small just above the line
    np.testing.assert_allclose(above[0].stability_index, (g_h * expit(b_star + 0.05)) ** 2, rtol=1e-12)


def test_reset_gain_creates_complexity_below_the_instability():
    """g_h = 1.95 < 2 (zero FP stable): no nonzero solution at g_r = 2 (< 2√2), a saddle-node pair
    (two nonzero solutions, both unstable) at g_r = 8 — topological complexity set by the reset gate."""
    low = gru_static_solutions(GRU(g_h=1.95, g_r=2.0))
    high = gru_static_solutions(GRU(g_h=1.95, g_r=8.0))
    assert len(low) == 1 and low[0].stable
    assert len(high) == 3 and high[0].stable and not any(s.stable for s in high[1:])
    assert high[1].delta_h < high[2].delta_h


@pytest.mark.parametrize("kw", [dict(g_h=3.0), dict(g_h=2.2, g_r=3.0, b_r=1.0), dict(g_h=1.95, g_r=8.0),
                                dict(g_h=4.0, b_h=0.3, g_z=2.0, b_z=-2.0)])
def test_stability_index_is_rho_T_at_one(kw):
    """The closed-form c against ρ(T(1)) of spectrum.py's GRU T-matrix (independent code) on
    fixed-point site samples: ρ = (a + √(a² + 4b))/2 with a = g_h²⟨r²⟩⟨(1-h²)²⟩, b = c - a; and
    on the unit circle ρ(T) is largest at λ = 1 (so stability iff c < 1, whatever the z gate)."""
    m = GRU(**kw)
    for sol in gru_static_solutions(m):
        d = sol.delta_h
        rng = np.random.default_rng(0)
        n = 40_000
        r2 = _moments(m, d)[0][0]
        ar = m.b_r + m.g_r * np.sqrt(d) * rng.standard_normal(n)
        ah = m.b_h + m.g_h * np.sqrt(r2 * d) * rng.standard_normal(n)
        az = m.b_z + m.g_z * np.sqrt(d) * rng.standard_normal(n)
        _, rho = _local(m, {"h": np.tanh(ah), "ah": ah, "ar": ar, "az": az})
        c = float(stability_index(m, d)[0])
        a = m.g_h ** 2 * r2 * _moments(m, d)[3][0]
        pred = (a + np.sqrt(a * a + 4 * (c - a))) / 2
        # Monte Carlo averages of n = 4e4 samples: relative error ~ 1/√n ≈ 0.5%, bound at 3%
        np.testing.assert_allclose(rho(np.array([1.0 + 0j]))[0], pred, rtol=0.03)
        theta = np.linspace(0.05, np.pi, 24)
        assert np.all(rho(np.exp(1j * theta)) <= rho(np.array([1.0 + 0j]))[0] + 1e-9)


def test_zero_fp_slow_fraction_against_circular_law_and_network():
    """Fraction of zero-FP eigenvalues within ε of 1 vs b_z: circular law vs N = 200 networks."""
    m0 = GRU(g_h=1.5, b_r=0.0)
    eps, N = 0.05, 200
    net = sample_network(m0, N, [0, 1], dtype=torch.float64)
    for b_z in (-5.0, -4.0, -3.0, -2.0, 0.0):
        m = dataclasses.replace(m0, b_z=b_z)
        net_m = dataclasses.replace(net, model=m)
        ev = torch.linalg.eigvals(jacobian(net_m, torch.zeros(2, N, dtype=torch.float64))).numpy()
        meas = float(np.mean(np.abs(ev - 1) < eps))
        pred = zero_fp_slow_fraction(m, eps)
        # 400 eigenvalues: binomial sd ≤ 0.025, plus the N^-1/2 blur of the disk edge: bound 0.08
        assert abs(meas - pred) < 0.08, (b_z, meas, pred)
        s = expit(b_z)
        # rightmost (real) edge 1 - s(1 - g_h σ(b_r)): finite-N edge fluctuations ~ R N^-1/2
        np.testing.assert_allclose(np.abs(ev).max(), 1 - s + s * 1.5 * 0.5, atol=3 * s * 0.75 / np.sqrt(N))
    assert zero_fp_slow_fraction(dataclasses.replace(m0, b_z=-8.0), eps) == 1.0  # closed gate: all slow
    assert zero_fp_slow_fraction(m0, eps) == 0.0  # disk centred 0.5, radius 0.375: far from 1


def test_update_gate_shifts_no_boundary():
    base = gru_fixed_point_diagram(GRU(g_h=2.5), {"b_r": [-2.0, 0.0], "g_r": [1.0, 8.0]})
    closed = gru_fixed_point_diagram(GRU(g_h=2.5, b_z=-5.0, g_z=3.0), {"b_r": [-2.0, 0.0], "g_r": [1.0, 8.0]})
    for v in ("n_solutions", "phase", "delta_h", "stability_index"):
        np.testing.assert_array_equal(base[v].values, closed[v].values)
    assert (closed.zero_rightmost.values < 1).sum() == (base.zero_rightmost.values < 1).sum()


def test_diagram_dataset_and_figure(tmp_path):
    from neurolatent.plotting.gru_fixed_points import plot_gru_phase_diagram

    ds = gru_fixed_point_diagram(GRU(g_h=1.9), {"b_r": np.linspace(-1, 1.5, 4), "g_r": [1.0, 10.0, 20.0]})
    assert ds.phase.dims == ("b_r", "g_r") and ds.delta_h.dims == ("b_r", "g_r", "branch")
    assert all("units" in ds[v].attrs and "long_name" in ds[v].attrs for v in ds.data_vars)
    assert ds.attrs["param_g_h"] == 1.9 and "param_b_r" not in ds.attrs and ds.attrs["model_family"] == "GRU"
    assert set(np.unique(ds.phase.values)) <= set(range(len(PHASES)))
    # count consistent with the branch arrays
    np.testing.assert_array_equal(ds.n_nonzero.values, np.isfinite(ds.delta_h.values).sum(-1))
    ds.to_netcdf(tmp_path / "gru.nc")
    ax = plot_gru_phase_diagram(ds, found=[(10.0, 0.0, 2, False)])
    assert "g_h=1.9" in ax.get_title()
    from neurolatent.plotting.gru_fixed_points import gru_fixed_point_figure

    bz = np.array([-4.0, -2.0, 0.0])
    fig = gru_fixed_point_figure(ds, slow={"b_z": bz, "predicted": [0.9, 0.1, 0.0], "eps": 0.05},
                                 path=tmp_path / "gru.png")
    assert (tmp_path / "gru.png").stat().st_size > 0 and len(fig.axes) == 2


def test_bad_input():
    with pytest.raises(ValueError, match="exactly two GRU parameters"):
        gru_fixed_point_diagram(GRU(), {"b_r": [0.0], "alpha": [1.0]})
    with pytest.raises(TypeError, match="GRU"):
        gru_static_solutions("gru")


def test_found_fixed_points_small_network():
    """N = 150, seed 0: zero-only below the line, a nonzero unstable fixed point above it."""
    fp = find_gru_fixed_points(GRU(g_h=1.5), N=150, seed=0, n_starts=4)
    assert np.allclose(fp.q, 0) and fp.spectral_radius[0] < 1  # predicted: zero only, stable (c = 0.5625)
    m = GRU(g_h=3.0)
    pred = gru_static_solutions(m)[1]
    fp = find_gru_fixed_points(m, N=150, seed=0, n_starts=6)
    nz = fp.q > 1e-8
    assert nz.any(), "no nonzero fixed point found at g_h = 3"
    assert np.all(fp.residual < 1e-10)
    # q of one fixed point fluctuates by ~ sqrt(2/N) Δ ≈ 0.04 at N = 150, and found points are not
    # a uniform sample of all fixed points: 30% band around the mean-field Δ_h = 0.380
    assert np.all(np.abs(fp.q[nz] - pred.delta_h) < 0.3 * pred.delta_h), (fp.q, pred.delta_h)
    assert np.all(fp.spectral_radius[nz] > 1)  # predicted unstable (c = 1.25)
    # the update gate moves no fixed point but piles eigenvalues at 1
    closed = fp.with_model(dataclasses.replace(m, b_z=-6.0))
    assert np.all(closed.slow_fraction(0.05)[nz] > fp.slow_fraction(0.05)[nz])
    with pytest.raises(ValueError, match="only g_z, b_z"):
        fp.with_model(GRU(g_h=2.0))


def test_biased_gru_has_one_stable_fixed_point():
    """b_h = 1, g_h = 3: no zero FP; one static solution Δ_h = 0.573, c = 0.834 < 1 (phase
    'nonzero stable'). N = 150: every start converges to the same stable fixed point."""
    m = GRU(g_h=3.0, b_h=1.0)
    sols = gru_static_solutions(m)
    assert len(sols) == 1 and sols[0].stable
    ds = gru_fixed_point_diagram(m, {"b_r": [0.0], "g_r": [1.0]}, spectra=True)
    assert 0.9 < float(ds.spectral_radius.values[0, 0, 0]) < 1  # 1000-sample boundary: within 1% of 0.974
    assert int(ds.phase.values[0, 0]) == PHASES.index("nonzero stable") and not bool(ds.zero_exists.values[0, 0])
    fp = find_gru_fixed_points(m, N=150, seed=0, n_starts=4)
    assert len(fp.q) == 1 and fp.n_converged == fp.n_starts
    # q of one fixed point: sd ~ sqrt(2/N) * Δ(1 - Δ)-ish ≈ 0.03 at N = 150; bound 0.08
    assert abs(fp.q[0] - sols[0].delta_h) < 0.08
    pred = fixed_point_spectrum(m, sols[0].delta_h)
    # predicted radius 0.974; finite-N edge fluctuations ~ N^-1/2 of the bulk radius: bound 0.08
    assert abs(fp.spectral_radius[0] - pred.spectral_radius) < 0.08 and fp.spectral_radius[0] < 1


# ---------------------------------------------------------------------------------------------
# N = 500 checks (slow). Numbers measured with seed 0, n_starts = 10 (5 trajectory + 5 Gaussian
# starts), OMP_NUM_THREADS=1 (the module docstring of the test file's report repeats them):
#   g_h=3, b_r=-1 : predicted zero only (c = 0.651); found 11/11 converge to zero, radius 0.895
#                   (closed form 0.903)
#   g_h=3, b_r=0  : predicted zero (c = 2.25, radius 1.25) + nonzero Δ_h = 0.380 (c = 1.25,
#                   radius 1.056); found zero (radius 1.237) + 3 nonzero, q = 0.267, 0.275, 0.342,
#                   radii 1.128, 1.081, 1.047 (all unstable, as predicted)
#   g_h=3, b_r=-0.5: predicted Δ_h = 0.156; found 6 nonzero, q = 0.0001 ... 0.104, radii 1.03-1.06
#   g_h=2.5, b_r=0: predicted Δ_h = 0.230; found 7 nonzero, q = 0.014 ... 0.211, radii 1.01-1.12
#   g_h=1.95, g_r=8 (saddle-node region): predicted Δ_h = 0.0043 and 0.197; found zero only
# ---------------------------------------------------------------------------------------------
N_BIG = 500


@pytest.fixture(scope="module")
def fp_g3():
    return find_gru_fixed_points(GRU(g_h=3.0), N=N_BIG, seed=0, n_starts=10)


@pytest.mark.slow
def test_n500_counts_and_stability_both_sides_of_reset_line(fp_g3):
    """Reset-bias line g_h σ(b_r) = 1 at g_h = 3 (b_r* = -0.69): b_r = -1 below, b_r = 0 above."""
    below = find_gru_fixed_points(GRU(g_h=3.0, b_r=-1.0), N=N_BIG, seed=0, n_starts=4)
    assert np.allclose(below.q, 0.0) and below.n_converged == below.n_starts  # predicted: zero only
    R = 0.5 * 3.0 * expit(-1.0)
    # zero FP: disk centred 0.5 radius R; the largest |λ| of a Ginibre-like N = 500 matrix
    # fluctuates by O(R N^-1/2) ≈ 0.02 below/above the edge: bound 3 R / √N
    assert abs(below.spectral_radius[0] - (0.5 + R)) < 3 * R / np.sqrt(N_BIG) and below.spectral_radius[0] < 1

    pred = gru_static_solutions(GRU(g_h=3.0))
    assert len(pred) == 2 and not pred[0].stable and not pred[1].stable
    nz = fp_g3.q > 1e-8
    assert nz.sum() >= 1  # predicted: nonzero fixed points exist
    assert np.all(fp_g3.residual < 1e-10)
    assert np.all(fp_g3.spectral_radius > 1)  # every found fixed point unstable, as predicted
    assert abs(fp_g3.spectral_radius[~nz][0] - 1.25) < 3 * 0.75 / np.sqrt(N_BIG)
    rad = fixed_point_spectrum(GRU(g_h=3.0), pred[1].delta_h).spectral_radius  # 1.056
    # found radii 1.047-1.128: the found points have q below Δ_h (next test), which moves their
    # edge; 0.1 covers that spread
    assert np.all(np.abs(fp_g3.spectral_radius[nz] - rad) < 0.1)


@pytest.mark.slow
def test_n500_found_q_is_mean_field_at_measured_field(fp_g3):
    """Why found fixed points have q below Δ_h = 0.380 (g_h = 3): not finite-N bias, not the zero
    point (excluded), but *which* fixed points root finding finds. The mean-field closure assumes the
    field ``a_h = U_h(r ⊙ h)`` of a fixed point is as large as for a vector independent of ``U_h``
    (field ratio κ = 1 ± O(√(2/N))). The found low-q points have κ = 0.77-0.91 at N = 500: directions
    that ``U_h`` shrinks, a large deviation. With the measured field the single-site closure holds:
    q = ⟨tanh²(σ_a x)⟩, σ_a² = mean(a_h²) (``q_closure``), and, in closed form from κ alone, q is close
    to the static solution of the GRU with ``g_h → g_h √κ`` (``q_pred``).

    Measured (benchmarks/theory_gru_fixed_point_q.py, n_starts = 10), q | κ | q_closure | q_pred:
    N = 500 seed 0: 0.267 | 0.771 | 0.272 | 0.277, 0.275 | 0.777 | 0.275 | 0.280, 0.342 | 0.913 | 0.341
    | 0.346; seed 1: 0.299 | 0.821 | 0.297 | 0.303; seed 2: 0.271 | 0.851 | 0.280 | 0.318, 0.348 | 1.015
    | 0.365 | 0.385, 0.363 | 0.971 | 0.371 | 0.369, 0.388 | 1.016 | 0.386 | 0.386. N = 1000 seed 1:
    0.319 | 0.906 | 0.330 | 0.343. Over N = 250-1000: |q - q_closure| <= 0.018, |q - q_pred| <= 0.047
    (N = 500) and <= 0.06 (N = 250).
    """
    m = GRU(g_h=3.0)
    nz = fp_g3.q > 1e-8
    kappa = fp_g3.field_ratio[nz]
    Ur, Uh = (fp_g3.network.weights[k][0].numpy() for k in ("Ur", "Uh"))
    v = fp_g3.states[nz] * expit(fp_g3.states[nz] @ Ur.T + m.b_r)
    sd_a = np.sqrt(np.mean((v @ Uh.T) ** 2, axis=1))
    x, w = np.polynomial.hermite_e.hermegauss(81)  # independent quadrature (not the module's)
    q_closure = (np.tanh(sd_a[:, None] * x) ** 2) @ (w / w.sum())
    # given the field, q is an average of N single-site terms: sd √(var(h²)/N) ≈ √(0.1/500) ≈ 0.014;
    # bound 0.04 (~3 sd; measured <= 0.018 over 4 networks). Against Δ_h the gaps are 0.04-0.11.
    assert np.all(np.abs(fp_g3.q[nz] - q_closure) < 0.04), (fp_g3.q[nz], q_closure)
    q_pred = np.array([max(s.delta_h for s in gru_static_solutions(dataclasses.replace(m, g_h=3.0 * np.sqrt(k))))
                       for k in kappa])
    # from κ alone the closure also replaces mean((r h)²) by ⟨r²⟩ q, which atypical points violate at
    # O(1 - κ): measured <= 0.047 at N = 500 (seeds 0-2), 0.0095 for this network; bound 0.06
    assert np.all(np.abs(fp_g3.q[nz] - q_pred) < 0.06), (fp_g3.q[nz], kappa, q_pred)
    # the deficit below Δ_h is carried by the field: every point well below Δ_h has κ below the band
    # of a typical field (3 √(2/500) = 0.19 is that band; measured κ <= 0.91 for these points)
    low = fp_g3.q[nz] < gru_static_solutions(m)[1].delta_h - 0.04
    assert low.any() and np.all(kappa[low] < 1 - 0.05), kappa


@pytest.mark.slow
@pytest.mark.xfail(strict=False, reason="the found points are not the typical (kappa = 1) ones: q below the "
                   "mean-field Delta_h = 0.380 (g_h = 3), explained by the field ratio kappa < 1 (test above). "
                   "Does the spread close with N? max q over seeds: N = 250 (seeds 0-3) 0.216, 0.405, 0.410, "
                   "0.401; N = 500 (seeds 0-2) 0.342, 0.299, 0.388 (seed 0 with 30 starts: 0.364); N = 1000 "
                   "(seeds 0-2, one nonzero point each) 0.338, 0.319, 0.340 (kappa 0.95, 0.91, 0.96). Lower q goes "
                   "with more unstable eigenvalues (fraction outside the unit circle 0.02-0.04 at q ~ 0.3 vs "
                   "0.06-0.08 at q ~ 0.2), i.e. a larger |det(1 - Jacobian)|, the Kac-Rice weight; whether "
                   "atypical-field points are the most numerous is not settled here.")
def test_n500_found_variance_is_delta_h(fp_g3):
    delta = gru_static_solutions(GRU(g_h=3.0))[1].delta_h
    nz = fp_g3.q > 1e-8
    # a typical fixed point: q - Δ_h ~ sqrt(2/N) Δ_h ≈ 0.024 at N = 500; bound 0.05
    assert np.all(np.abs(fp_g3.q[nz] - delta) < 0.05), (fp_g3.q, delta)


@pytest.mark.slow
def test_n500_update_gate_slow_modes(fp_g3):
    """Closing the update gate (b_z → -∞) moves no fixed point but piles the spectrum at λ = 1.

    Measured fraction of eigenvalues within ε = 0.05 of 1 (zero FP | nonzero FPs) vs predicted
    (circular law | P(w < ε)):  b_z = -4: 1.00 | 0.94-0.95 vs 1.00 | 0.97-0.98;
    b_z = -3: 0.358 | 0.45-0.49 vs 0.356 | 0.54; b_z = -2: 0.084 | 0.11 vs 0.078 | 0.03-0.05;
    b_z = 0: 0.006 | 0.002-0.006 vs 0.004 | 0.0. Spectral radius at b_z = -6: 1.0002-1.0011.
    """
    m0, eps = GRU(g_h=3.0), 0.05
    b_zs = np.array([-6.0, -5.0, -4.0, -3.0, -2.0, -1.0, 0.0])
    nz = fp_g3.q > 1e-8
    meas, pred = [], []
    for b_z in b_zs:
        m = dataclasses.replace(m0, b_z=float(b_z))
        f = fp_g3.with_model(m)
        np.testing.assert_array_equal(f.states, fp_g3.states)
        meas.append(f.slow_fraction(eps))
        pred.append([slow_fraction_prediction(m, float(q) if q > 1e-8 else 0.0, eps) for q in f.q])
        if b_z == -6.0:
            # marginal: the whole spectrum within O(w) = O(e^{b_z}) of 1 — radius 1 + O(w (√c - 1))
            assert np.all(np.abs(f.spectral_radius - 1) < 5 * expit(b_z))
    meas, pred = np.array(meas), np.array(pred)
    # zero FP: exact circular law; 500 eigenvalues give binomial sd <= 0.022 plus edge blur: 0.06
    assert np.all(np.abs(meas[:, ~nz] - pred[:, ~nz]) < 0.06)
    # nonzero FPs: P(w < ε) ignores how the random coupling spreads each local eigenvalue 1 - w_i
    # (by O(w_i)); measured gaps <= 0.1 at the crossover; bound 0.12
    assert np.all(np.abs(meas[:, nz] - pred[:, nz]) < 0.12)
    # and the crossover (fraction 1/2) sits at b_z = logit(ε) = -2.94 (independent of Δ_h);
    # measured crossings from linear interpolation; bound 0.3 in b_z (the P(w<ε) sigmoid has width g_z√Δ ≈ 0.6)
    for col in np.nonzero(nz)[0]:
        cross = np.interp(0.5, meas[::-1, col], b_zs[::-1])
        assert abs(cross - logit(eps)) < 0.3, cross
    assert np.all(np.diff(meas, axis=0) <= 0.02)  # monotone (up to counting noise) in b_z


@pytest.mark.slow
@pytest.mark.xfail(strict=False, reason="saddle-node region g_h = 1.95, g_r = 8 (zero FP stable, nonzero "
                   "static solutions Delta_h = 0.0043 and 0.197, c = 1.06 and 1.63, predicted): at N = 500 "
                   "Newton converged only to zero (1 of 11 starts with n_starts = 10; this test uses 4). "
                   "N = 100/200 at (1.95, 20) and (1.9, 30): zero only, except one q = 0.010 point at N = 100. "
                   "Continuation of a found g_h = 3 branch (N = 150) to g_r = 8 then down in g_h folds "
                   "between g_h = 2.55 and 2.5, before reaching the region.")
def test_n500_complexity_region_fixed_points_found():
    fp = find_gru_fixed_points(GRU(g_h=1.95, g_r=8.0), N=N_BIG, seed=0, n_starts=4)
    assert (fp.q > 1e-8).any()


def test_onset_lines_reset_bias_and_gain():
    """b_r*: the continuous line logit(1/g_h). g_r*(g_h) (saddle-node, g_h < 2): → 2√2 as g_h → 2 with
    g_r* - 2√2 ∝ √(2 - g_h) (the quadratic small-Δ expansion: the saddle-node needs c1² = 4|c0|c2, c0 ∝ 2 - g_h)."""
    from neurolatent.theory.gru_fixed_points import nonzero_onset

    for g_h in (2.5, 4.0):
        # bisection tolerance 1e-4 on b_r
        assert abs(nonzero_onset(GRU(g_h=g_h), "b_r", -4.0, 1.0) - logit(1 / g_h)) < 2e-4
    d1 = nonzero_onset(GRU(g_h=1.99), "g_r", 0.5, 30.0, tol=1e-3) - 2 * np.sqrt(2)
    d2 = nonzero_onset(GRU(g_h=1.999), "g_r", 0.5, 30.0, tol=1e-3) - 2 * np.sqrt(2)
    assert 0 < d2 < d1 < 1
    # √10 = 3.16 for the square-root law; measured 3.5 (higher orders at 2 - g_h = 0.01): 20% band
    assert abs(d1 / d2 - np.sqrt(10)) < 0.2 * np.sqrt(10)
    with pytest.raises(ValueError, match="bracket"):
        nonzero_onset(GRU(g_h=3.0), "b_r", 0.0, 1.0)


def _follow_reset_bias(fp, b_rs):
    from neurolatent.theory.gru_fixed_points import continue_fixed_points

    models = [GRU(g_h=3.0, b_r=float(b)) for b in b_rs]
    pred = [max(s.delta_h for s in gru_static_solutions(m)) for m in models]
    found = [f.q[f.q > 1e-8] for f in continue_fixed_points(fp, models)]
    return np.array(pred), found


def test_found_branches_follow_reset_bias_and_vanish_below_the_line():
    """N = 150, g_h = 3: nonzero fixed points found at b_r = 0, followed by continuation down in
    b_r. Measured (seed 0): max q = 0.325, 0.293, 0.262 vs Δ_h = 0.347, 0.309, 0.266 at
    b_r = -0.1, -0.2, -0.3; the last branch merges into zero between b_r = -0.7 and -0.8
    (predicted line logit(1/3) = -0.69)."""
    fp = find_gru_fixed_points(GRU(g_h=3.0), N=150, seed=0, n_starts=8, include_zero=False)
    b_rs = np.round(np.arange(-0.1, -1.51, -0.1), 2)
    pred, found = _follow_reset_bias(fp, b_rs)
    for k in range(3):
        # one fixed point's q fluctuates by ~ sqrt(2/N) Δ_h ≈ 0.04 at N = 150; bound 0.06
        assert found[k].size and abs(found[k].max() - pred[k]) < 0.06, (b_rs[k], found[k], pred[k])
    assert all(f.size == 0 for f, b in zip(found, b_rs) if b <= -1.0)  # predicted: none below the line
    last = max(b for f, b in zip(found, b_rs) if f.size == 0)
    # finite-N shift of the line: the zero point's edge moves by ~ R N^-1/2 ≈ 0.08 in g_h σ(b_r),
    # i.e. ~0.3 in b_r near -0.69: bound 0.35
    assert abs(last - logit(1 / 3)) < 0.35


@pytest.mark.slow
@pytest.mark.xfail(strict=False, reason="at N = 500 the followed low-q branch folds before the predicted "
                   "reset line, where depends on the run's floating-point reductions (see docstring)")
def test_n500_found_branches_follow_reset_bias(fp_g3):
    """As above at N = 500 (the nonzero points found from seed 0). Measured with one torch thread: one
    branch survives the first step, q = 0.245, 0.209, 0.162, 0.112 at b_r = -0.1 ... -0.4
    (Δ_h = 0.347 ... 0.215, i.e. this branch has q ~ 0.7 Δ_h, like the low-q points of the xfail
    above), and it folds between b_r = -0.4 and -0.5, before the predicted line -0.69; none below.
    With two threads (CI) Newton finds other points (q = 0.217, 0.241 at b_r = -0.1; 0.195 at -0.2)
    and the branch folds between -0.2 and -0.3, 0.39 before the line: the fold of a low-q branch
    found at N = 500 is not a robust estimate of the mean-field line (the N = 150 test above is)."""
    b_rs = np.round(np.arange(-0.1, -1.01, -0.1), 2)
    pred, found = _follow_reset_bias(fp_g3, b_rs)
    print("b_r", b_rs.tolist(), "pred", np.round(pred, 3).tolist(), "found", [np.round(f, 3).tolist() for f in found])
    assert all(f.size == 0 for f, b in zip(found, b_rs) if b <= -1.0)
    last = max(b for f, b in zip(found, b_rs) if f.size == 0)
    # N^-1/2 edge shift ≈ 0.17 in b_r at N = 500, and the followed branch is a low-q one: 0.25
    assert abs(last - logit(1 / 3)) < 0.25
