"""The α_z > 0 (sampling) DMFT: exact at α_z = 0, and Δ₀ against large simulated networks.

Measured (``benchmarks/theory_alpha_z_finite_n.py``; package RK4 checked against an independent
NumPy RK4 to 4e-16; dt = 0.1, burn-in 100, averages over 300 time units, float32, <h²> over
neurons and time; mean ± s.e. over networks, one network: no s.e.):

=============  ======  ====  ========  =====================  ===============  ================
(g_h, α_z,     N       nets  init std  sim <h²>               sim λ_max        DMFT Δ₀ new (old)
α_r)                                                                           / DMFT λ_max new
=============  ======  ====  ========  =====================  ===============  ================
(4, 0, 0)      exact                                                           0.12030 (0.1141)
(3, 0, 2)      exact                                                           0.10791 (0.0977)
(4, 2, 0)      500     4     1.0       0.1261 ± 0.0054        0.032 ± 0.004    0.1211 ± 0.0003
(4, 2, 0)      1000    2     1.0       0.1195 ± 0.0009        0.0427 ± 0.0004  (0.1115)
(4, 2, 0)      2000    1     1.0       0.1155                 0.052            λ 0.054 (old)
(4, 2, 0)      4000    1     1.0       0.1188                 0.0515
(4, 2, 0)      1000/2000 (issue)       0.121 / 0.119          0.050 / 0.043
(3, 5, 2)      500     4     1.0       0.1144 ± 0.0024        0.0430 ± 0.0012  0.1110 ± 0.0009
(3, 5, 2)      1000    2     1.0       0.1187 ± 0.0019        0.045 ± 0.003    (0.098)
(3, 5, 2)      1000 (issue)            0.121                  0.045            λ 0.054 ± 0.003
(2.5, 10, 0)   500     3     1.0       0.080 ± 0.018          --               0.0441 ± 0.0007
(2.5, 10, 0)   500     2     0.2       0.0515 ± 0.0010        --               (0.039)
(2.5, 10, 0)   1000 (issue)            0.067                  0.007            not converged
                                                                               at τ_max = 250
=============  ======  ====  ========  =====================  ===============  ================

DMFT: ``n_paths = 1000``, seeds 0 (and 1 for (4, 2, 0): 0.1208), default grid (dt = 0.1,
τ_max = 100), ± its Monte-Carlo s.e. (``diagnostics["mc_noise"]``); "old" is the route before the
fix, which iterated a noisy map and stopped at a 2% change per iteration. The α_z = 0 rows are
the decisive evidence: there the exact answer is known and the old route read 5-10% low.

What the gap was, point by point:

* (4, 2, 0): the route (8% low). Fixed: 0.121 vs 0.1195 ± 0.0009 (N = 1000), 0.1155 (N = 2000,
  one network; its 50-unit blocks scatter 0.109-0.121).
* (3, 5, 2): mostly the route (0.098 -> 0.111); the rest (6% at N = 1000) is within the time
  scatter of the simulations (50-unit block means of the N = 1000 networks 0.108-0.126, drifting
  down over the run) and N-dependence; not closed beyond that with these sizes.
* (2.5, 10, 0): finite time and initial-condition memory in the simulation, plus a nearly
  static DMFT solution. With α_z = 10 a unit whose z < 0 is frozen (σ_z ≈ 0) and keeps its h;
  z decorrelates as slowly as φ(h), so units started at var(h) = 1 stay far out for hundreds of
  time units: the same networks (seeds 0, 1) give <h²> = 0.061 and 0.116 from init std 1 and
  0.0505 and 0.0524 from init std 0.2 (blocks still rising 0.048 -> 0.053). The DMFT correlation
  at τ_max = 250 is still 97% of Δ₀ and the stationary iteration does not converge there; at the
  default τ_max = 100 it converges to 0.044. The stationary DMFT is 15% below the
  small-initial-state simulation: recorded as xfail below (N = 4000 was not affordable on this
  machine: ~0.35 s per RK4 step under load).

*Update (static/dynamic split, second pass of the sampling route):* the strong-gate points now
converge with a static part (200 paths, seed 0): (3, 5, 0) Δ₀ 0.0895 (q_h/Δ₀ 0.69) vs N = 1000
networks 0.0880, 0.0893; (2.5, 10, 0) 0.0522 (fully static, = the fixed-point solution) vs 0.0508,
0.0473; (3, 20, 0) 0.0844 (0.55) vs 0.0728, 0.0755 (xfail). N = 1000 runs: 400 time units after a
300-unit burn-in from init std 0.3; full table in the dmft module docstring and in
``benchmarks/theory_alpha_z_finite_n.py``. The DMFT's C_h decays more slowly than the networks'
(C_h(100)/Δ₀ 0.975 vs 0.83 at (3, 5, 0): xfail).
"""
from __future__ import annotations

import numpy as np
import pytest

from neurolatent.theory import GatedRNN, dmft, simulate


def test_sampling_route_is_exact_at_alpha_z_zero():
    # at alpha_z = 0 the frozen-gate control variate is the path itself, so the sampling route
    # must land on the gaussian route's solution whatever the number of paths; the remaining
    # difference is the grid treatment (periodic tau_max vs extended paths): measured 2e-4
    m = GatedRNN(3.0, 0.0, 2.0)
    g = dmft(m, method="gaussian", dt=0.1, tau_max=40.0)
    s = dmft(m, method="sampling", dt=0.1, tau_max=40.0, n_paths=8, lyapunov=False)
    assert s.converged and s.method == "sampling"
    assert s.delta0 == pytest.approx(g.delta0, rel=2e-3)
    np.testing.assert_allclose(s.correlations["phi"][:200], g.correlations["phi"][:200],
                               atol=2e-3 * g.correlations["phi"][0])


def test_sampling_route_is_deterministic_given_seed():
    m = GatedRNN(4.0, 2.0, 0.0)
    kw = dict(n_paths=16, tau_max=20.0, max_iter=8, lyapunov=False, on_fail="return")
    a, b = dmft(m, **kw), dmft(m, **kw)
    assert a.delta0 == b.delta0 and a.diagnostics == b.diagnostics
    assert np.isnan(a.lambda_max) and a.diagnostics["mc_noise"] > 0


def test_replica_pairs_share_the_static_field():
    # paths 2k and 2k+1 share the quenched fields and have independent dynamic parts; since h is a
    # gate-weighted average of eta_h with weights summing to one, E[h^a h^b] = q_eta whatever the gate
    # (and exactly so for the frozen-gate control h0). 400 pairs x 100 time units: the overlap's
    # Monte-Carlo s.e. is ~ q_eta sqrt(2/400) ~ 0.07 q_eta (the static draws dominate); 4 s.e. bound
    from neurolatent.theory.dmft import _autocorr, _overlap, _sampled_h, _white

    m, dt, n, q = GatedRNN(3.0, 5.0, 0.0), 0.1, 500, 0.2
    tau = np.arange(n) * dt
    C_phi = q + 0.3 * np.exp(-tau / 2.0)
    n_tot, P = n + n // 2, 800
    rng = np.random.default_rng(0)
    noise = (_white(P, n_tot, rng), _white(P, n_tot, rng), rng.standard_normal(P),
             rng.standard_normal(P // 2), rng.standard_normal(P // 2))
    h, h0, z, eta, C_h0, q_eta = _sampled_h(m, C_phi, q, dt, n_tot, noise, 0.5)
    assert q_eta == pytest.approx(0.25 * q, rel=1e-9)  # alpha_r = 0: sigma_r = 1/2, q_eta = q/4
    keep = slice(n // 2, None)
    assert _overlap(h[:, keep]) == pytest.approx(q_eta, rel=0.3)
    assert _overlap(h0[:, keep]) == pytest.approx(q_eta, rel=0.3)
    assert _overlap(z[:, keep]) == pytest.approx(q, rel=0.3)  # z's static variance is q_phi
    # the frozen-gate control path has the exact correlation C_h0 (Gaussian, static + filtered)
    np.testing.assert_allclose(_autocorr(h0[:, keep], 50), C_h0[:50], atol=0.15 * C_h0[0])


def test_unresolved_window_is_flagged_with_reason():
    # a correlation that has not decayed by tau_max is not a stationary solution on that window: at
    # (4, 2, 0) C_h(4)/Δ₀ = 0.98 on a 4-unit window (0.17 on 40 units, where it converges). The
    # result is flagged, never returned as converged, and the error names the reason.
    from neurolatent.theory import DMFTConvergenceError
    from neurolatent.theory.dmft import TAIL_RATIO_MAX

    m = GatedRNN(4.0, 2.0, 0.0)
    res = dmft(m, tau_max=4.0, n_paths=200, lyapunov=False, on_fail="return")
    assert not res.converged and res.diagnostics["tail_ratio"] > TAIL_RATIO_MAX
    assert "unresolved window" in res.diagnostics["nonconvergence_reason"]
    with pytest.raises(DMFTConvergenceError, match="raise max_iter or tau_max"):
        dmft(m, tau_max=4.0, n_paths=200, lyapunov=False)


@pytest.mark.slow
def test_alpha_z_dmft_matches_large_simulation():
    # (g_h, alpha_z, alpha_r) = (4, 2, 0): measured <h^2> 0.1195 +- 0.0009 (N = 1000, 2 networks),
    # 0.1155 (N = 2000), 0.126 +- 0.005 (N = 500); DMFT 0.1211 / 0.1208 (seeds 0, 1, M = 1000;
    # the old route: 0.1115). Block averages over 50 time units of one N = 1000 network scatter by
    # +-4%, networks by ~1.5%: a 200-unit average of one network is within ~3% (2 sigma);
    # finite-N bias measured <= 3.5% (N = 2000) -> 6%. The old route's 8% gap would fail.
    m = GatedRNN(4.0, 2.0, 0.0)
    res = dmft(m, n_paths=500, lyapunov=False)
    tr = simulate(m, N=1000, T=200.0, dt=0.1, seeds=[3], burn_in=100.0, record_every=5, init_std=0.35)
    var = (tr.states[:, :, :1000] ** 2).mean().item()
    assert var == pytest.approx(res.delta0, rel=0.06)


# simulations of N = 1000 networks at the strong-gate points, shared by the tests below: burn-in 100
# from init std 0.3 (~ sqrt(Delta0): frozen units keep their initial h), 100 recorded time units
_STRONG = {(3.0, 5.0, 0.0): None, (2.5, 10.0, 0.0): None, (3.0, 20.0, 0.0): None}


def _strong_sim(point):
    if _STRONG[point] is None:
        tr = simulate(GatedRNN(*point), N=1000, T=100.0, dt=0.1, seeds=[0], burn_in=100.0, record_every=5,
                      init_std=0.3)
        H = tr.states[0, :, :1000].double().numpy()
        C = {L: float(np.mean(H[: len(H) - 2 * L] * H[2 * L:])) for L in (0, 5, 20)}  # record step 0.5
        _STRONG[point] = C
    return _STRONG[point]


def _lag(res, L):
    return float(res.autocorrelation[int(round(L / (res.tau[1] - res.tau[0])))])


_DMFT = {}


def _strong_dmft(point):
    if point not in _DMFT:
        _DMFT[point] = dmft(GatedRNN(*point), n_paths=200, lyapunov=False, on_fail="return")
    return _DMFT[point]


@pytest.mark.slow
@pytest.mark.parametrize("point", [(3.0, 5.0, 0.0), (2.5, 10.0, 0.0)])
def test_strong_update_gate_static_split_vs_simulation(point):
    # the two-pass route: pass 1 (no static part) finds no decaying solution, pass 2 (static/dynamic
    # split) converges. Measured (200 paths, seed 0): (3,5,0) Delta0 0.0895, q_h/Delta0 0.69;
    # (2.5,10,0) 0.0522, 1.00 (= the static mean-field solution). N = 1000 simulations (seeds 0, 1,
    # 400 time units after 300): <h^2> 0.0880, 0.0893 and 0.0508, 0.0473.
    res = _strong_dmft(point)
    assert res.converged and res.diagnostics["static_init"] > 0
    assert res.diagnostics["static_fraction"] > 0.3  # a genuine static part, no longer flagged
    # <h^2>: networks differ by 7% at (2.5,10,0) (0.0508 vs 0.0473), 100-unit blocks of one network by
    # +-4%, the DMFT's Monte-Carlo s.e. ~1%: 12%
    assert _strong_sim(point)[0] == pytest.approx(res.delta0, rel=0.12)


@pytest.mark.slow
@pytest.mark.xfail(strict=False, reason="(3, 5, 0): the split DMFT's C_h is flatter than the network's: "
                   "C_h(20)/Delta0 1.003 vs 0.943 (N = 1000, burn-in 100) / 0.989 (burn-in 300), C_h(100)/Delta0 "
                   "0.975 vs 0.83-0.84 (N = 1000, two networks)")
def test_strong_update_gate_correlation_shape_vs_simulation():
    point = (3.0, 5.0, 0.0)
    res, sim = _strong_dmft(point), _strong_sim(point)
    for L in (5, 20):
        # slow dynamics: both normalised correlations near 1; 100-unit records scatter ~0.02: 0.03
        assert sim[L] / sim[0] == pytest.approx(_lag(res, L) / res.delta0, abs=0.03)


@pytest.mark.slow
@pytest.mark.xfail(strict=False, reason="alpha_z = 20: the split DMFT converges (200 paths: Delta0 0.0844, "
                   "q_h/Delta0 0.55, dynamic tail 0.45) but lies 12-16% above N = 1000 simulations (0.0728, "
                   "0.0755; 400 units after 300); slow relaxation from the initial state or a DMFT error: not settled")
def test_alpha_z_20_static_split_vs_simulation():
    point = (3.0, 20.0, 0.0)
    res = _strong_dmft(point)
    # same 12% as at alpha_z = 5, 10
    assert res.converged and _strong_sim(point)[0] == pytest.approx(res.delta0, rel=0.12)
