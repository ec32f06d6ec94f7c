"""Vectorised DMFT over grid points (dmft_grid / phase_diagram(vectorize=True)) equals the per-point solver."""
from __future__ import annotations

import numpy as np
import pytest

from neurolatent.theory import GatedRNN, dmft, phase_diagram
from neurolatent.theory.dmft_grid import dmft_grid

POINTS = [(1.5, 2.0), (2.5, 0.0), (3.0, 2.0), (2.0, 10.0), (1.9, 30.0)]


@pytest.mark.slow
def test_dmft_grid_equals_per_point_solver():
    models = [GatedRNN(g, 0.0, a) for g, a in POINTS]
    out = dmft_grid(models)
    assert out["converged"].all()
    for i, m in enumerate(models):
        ref = dmft(m, method="gaussian", dt=0.1, tau_max=100.0)
        # the pair averages come from tables interpolated in log V (6 nodes per decade, cubic)
        # and θ (1024 nodes, linear): measured |rel diff| <= 3.4e-4 in Δ0, 3e-5 in λ
        assert out["delta0"][i] == pytest.approx(ref.delta0, rel=1e-3, abs=1e-9)
        assert out["lambda_max"][i] == pytest.approx(ref.lambda_max, abs=1e-3)
        assert out["phase"][i] == ref.phase


def test_dmft_grid_flags_nonconverged_points_as_nan():
    out = dmft_grid([GatedRNN(3.0, 0.0, 4.0), GatedRNN(1.5, 0.0, 2.0)], max_iter=3)
    assert not out["converged"][0] and np.isnan(out["delta0"][0]) and np.isnan(out["lambda_max"][0])
    assert out["phase"][0] == "unconverged" and out["residual"][0] > 1e-6
    with pytest.raises(ValueError, match="alpha_z = 0"):
        dmft_grid([GatedRNN(3.0, 2.0, 0.0)])
    with pytest.raises(ValueError, match="common beta_h"):
        dmft_grid([GatedRNN(3.0, 0.0, 1.0), GatedRNN(3.0, 0.0, 1.0, beta_h=0.2)])


def test_phase_diagram_vectorized_equals_per_point():
    grid = {"g_h": [1.5, 3.0], "alpha_r": [2.0, 10.0]}
    q = ["delta0", "lambda_max", "converged", "phase_code"]
    fac = lambda g_h, alpha_r: GatedRNN(g_h, 0.0, alpha_r)  # noqa: E731
    kw = {"dt": 0.1, "tau_max": 100.0}
    vec = phase_diagram(fac, grid, q, dmft_kwargs=kw, progress=False)
    per = phase_diagram(fac, grid, q, dmft_kwargs=kw, progress=False, vectorize=False)
    np.testing.assert_array_equal(vec.converged.values, per.converged.values)
    np.testing.assert_array_equal(vec.phase_code.values, per.phase_code.values)
    # same tolerance as above (table interpolation)
    np.testing.assert_allclose(vec.delta0.values, per.delta0.values, rtol=1e-3, atol=1e-9)
    np.testing.assert_allclose(vec.lambda_max.values, per.lambda_max.values, atol=1e-3)
    assert vec.lambda_max.attrs["units"] == "1/tau"
