"""Mean-field λ_max against finite-network Benettin estimates over a (g_h, α_z, α_r) grid."""
from __future__ import annotations

import pytest

from neurolatent.theory import GatedRNN, dmft, lyapunov_spectrum

# (3, 5, 0): the one-pass α_z > 0 route did not converge there with 500 paths (residual ~0.15 after
# 300 iterations); the static/dynamic split (second pass of the sampling route) converges, and its
# tangent-DMFT λ_max is 0.0076 against 0.0168 ± 0.0054 (N = 300, this test) and 0.0043, 0.0061
# (N = 1000, two networks, 400 time units; benchmarks/theory_alpha_z_finite_n.py): it was an xfail.
GRID = [(3.0, 0.0, 4.0), (2.5, 0.0, 10.0), (3.0, 5.0, 0.0), (3.0, 5.0, 4.0)]


@pytest.mark.slow
@pytest.mark.parametrize("g_h, az, ar", GRID)
def test_lambda_max_theory_vs_simulation(g_h, az, ar):
    m = GatedRNN(g_h, az, ar)
    theory = dmft(m, n_paths=500).lambda_max
    sim = lyapunov_spectrum(m, N=300, T=150.0, k=1, seeds=[0, 1], burn_in=50.0, progress=False)
    measured = float(sim.exponents[:, 0].mean())
    print(f"\n ({g_h}, {az}, {ar}): theory {theory:.4f}, sim(N=300) {measured:.4f} "
          f"+- {float(sim.exponents[:, 0].std()):.4f}")
    # finite N = 300 and T = 150: seed-to-seed spread of λ_1 measured ~0.01-0.02 (N = 400 runs:
    # 0.075-0.112 around the theory 0.116) and a systematic finite-size shortfall of the same
    # order; the tangent-sampling theory has ~0.003 Monte-Carlo spread -> 0.04 absolute
    assert abs(theory - measured) < 0.04  # measured 0.019, 0.025, 0.011 (theory above simulation at each point)
