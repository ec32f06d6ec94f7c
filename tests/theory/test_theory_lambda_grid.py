"""Mean-field λ_max against finite-network Benettin estimates over a (g_h, α_z, α_r) grid."""
from __future__ import annotations

import pytest

from neurolatent.theory import GatedRNN, dmft, lyapunov_spectrum

GRID = [(3.0, 0.0, 4.0), (2.5, 0.0, 10.0), (3.0, 5.0, 0.0), (3.0, 5.0, 4.0)]


@pytest.mark.slow
def test_lambda_max_theory_vs_simulation_grid():
    rows = []
    for g_h, az, ar in GRID:
        m = GatedRNN(g_h, az, ar)
        theory = dmft(m, n_paths=500).lambda_max
        sim = lyapunov_spectrum(m, N=300, T=150.0, k=1, seeds=[0, 1], burn_in=50.0, progress=False)
        rows.append((g_h, az, ar, theory, float(sim.exponents[:, 0].mean()), float(sim.exponents[:, 0].std())))
    worst = max(abs(t - s) for *_, t, s, _ in rows)
    print("\n g_h alpha_z alpha_r  theory   sim(N=300)  seed-std")
    for r in rows:
        print(" %.1f %5.1f %5.1f   %.4f   %.4f   %.4f" % r)
    print(f" largest |theory - sim| = {worst:.4f}")
    # finite N = 300 and T = 150: seed-to-seed spread of λ_1 measured ~0.01-0.02 (N = 400 runs:
    # 0.075-0.112 around the theory 0.116) and a systematic finite-size shortfall of the same
    # order; the tangent-sampling theory has ~0.003 Monte-Carlo spread -> 0.05 absolute
    assert worst < 0.04  # measured 0.025 (theory above simulation at every point, as for SCS)
