"""Lyapunov spectra: Liouville identity, sign below g_c, QR vs two-trajectory estimate."""
from __future__ import annotations

import numpy as np
import pytest

from neurolatent.theory import GRU, GatedRNN, LSTM, VanillaRNN, lyapunov_max, lyapunov_spectrum


@pytest.mark.parametrize("model", [VanillaRNN(2.0), GatedRNN(3.0, 2.0, 2.0, tau_z=2.0)], ids=["scs", "gated"])
def test_sum_of_exponents_equals_mean_trace(model):
    res = lyapunov_spectrum(model, N=30, T=30.0, dt=0.05, burn_in=5.0, progress=False)
    # exact for the RK4 map up to its O(dt^5) local error and the left-point average of tr J
    # (O(dt) per step but averaging over a smooth orbit): relative 1e-3 is generous
    assert res.exponents.sum() == pytest.approx(res.mean_trace[0], rel=1e-3)


@pytest.mark.parametrize("model", [GRU(1.5, 1.0, 2.0), LSTM(g_g=2.0)], ids=["gru", "lstm"])
def test_sum_of_exponents_equals_mean_logdet_for_maps(model):
    res = lyapunov_spectrum(model, N=20, T=50, burn_in=10, progress=False)
    # for a map the product of |R_ii| is |det| of the product of Jacobians exactly (round-off)
    assert res.exponents.sum() == pytest.approx(res.mean_logdet[0], rel=1e-8, abs=1e-8)


def test_subcritical_exponents_negative():
    res = lyapunov_spectrum(VanillaRNN(0.5), N=50, T=40.0, k=5, burn_in=20.0, progress=False)
    # below g_c = 1 the zero fixed point attracts; λ_1 -> g - 1 = -0.5 as N -> oo (radius of the
    # circular law ~ g(1 + O(N^-1/2)))
    assert res.mean[0] == pytest.approx(-0.5, abs=0.15)


def test_qr_matches_two_trajectory():
    m = VanillaRNN(3.0)
    qr = lyapunov_spectrum(m, N=200, T=100.0, k=1, seeds=[0, 1], burn_in=20.0, progress=False)
    tt = lyapunov_max(m, N=200, T=100.0, seeds=[0, 1], burn_in=20.0, progress=False)
    # same networks, same initial state: both converge to the same λ_1; T=100 gives ~0.02 noise
    np.testing.assert_allclose(qr.exponents[:, 0], tt, atol=0.03)


def test_bad_k():
    with pytest.raises(ValueError, match="k must be"):
        lyapunov_spectrum(VanillaRNN(1.0), N=5, T=1.0, k=6, progress=False)
