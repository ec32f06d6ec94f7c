"""Blahut--Arimoto IB with annealing, and the perturbation theory of the learning onset."""
from __future__ import annotations

import numpy as np
import pytest

from neurolatent.methods.infotheory import (blahut_arimoto, ib_curve, ib_onset, ib_onset_prediction,
                                            mutual_information)


def _symmetric_joint():
    """6 x 4 joint, centrosymmetric (p(x, y) = p(5 - x, 3 - y)): the onset mode is odd, so the
    cubic term vanishes and the onset is continuous."""
    x, y = np.arange(6), np.arange(4)
    mu = x / 5 * 3
    py_x = np.exp(-(y[None, :] - mu[:, None]) ** 2 / (2 * 0.9 ** 2))
    py_x /= py_x.sum(1, keepdims=True)
    px = np.array([1, 2, 3, 3, 2, 1.0]) / 12
    return px[:, None] * py_x


def test_onset_for_binary_symmetric_channel():
    """Closed form: BSC with crossover e and uniform input has maximal correlation 1 - 2e."""
    e = 0.2
    p = np.array([[1 - e, e], [e, 1 - e]]) / 2
    on = ib_onset(p)
    assert abs(float(on.beta_c) - 1 / (1 - 2 * e) ** 2) < 1e-12
    assert bool(on.continuous)


def test_blahut_arimoto_fixed_point_and_limits(rng):
    p = rng.dirichlet(np.ones(12)).reshape(4, 3)
    init = 0.9 * np.eye(4) + 0.025                      # start near the identity encoder
    enc, _ = blahut_arimoto(p, beta=200.0, n_clusters=4, init=init)
    assert np.allclose(enc.sum(1), 1)
    again, _ = blahut_arimoto(p, beta=200.0, n_clusters=4, init=enc, max_iter=1)
    assert np.abs(again - enc).max() < 1e-10            # a fixed point of the IB equations
    # at large beta the bottleneck keeps (almost) all of I(X;Y): with 4 clusters for 4 x values
    px = p.sum(1)
    joint_ty = (px[:, None] * enc).T @ (p / px[:, None])
    pt, py = joint_ty.sum(1), joint_ty.sum(0)
    m = joint_ty > 0
    i_ty = float((joint_ty[m] * np.log(joint_ty[m] / np.outer(pt, py)[m])).sum())
    assert i_ty > 0.99 * mutual_information(p)


def test_onset_beta_matches_annealed_numerics():
    """Generic distribution (discontinuous onset): annealed BA stays trivial just below beta_c
    and has learned just above it."""
    p = np.random.default_rng(0).dirichlet(np.ones(20)).reshape(5, 4)
    on = ib_onset(p)
    bc = float(on.beta_c)
    assert not bool(on.continuous)                 # cubic term present -> jump
    cur = ib_curve(p, bc * np.array([0.5, 0.9, 0.97, 1.03]), n_clusters=3, max_iter=50000)
    assert cur.I_xt.sel(beta=bc * 0.97).item() < 1e-8   # trivial (measured ~0)
    assert cur.I_xt.sel(beta=bc * 1.03).item() > 1e-2   # learned (measured 0.17 nats: a jump)


def test_leading_behaviour_above_continuous_onset():
    """Symmetric joint: BA matches the quartic prediction with an error linear in
    delta = beta/beta_c - 1 (next order of the expansion), extrapolating to 0 at onset."""
    p = _symmetric_joint()
    on = ib_onset(p)
    assert bool(on.continuous)
    bc = float(on.beta_c)
    deltas = np.array([0.02, 0.04])
    betas = bc * np.concatenate([[0.97], 1 + deltas])
    cur = ib_curve(p, betas, n_clusters=2, max_iter=100000, tol=1e-12)
    pred = ib_onset_prediction(p, betas)
    assert cur.I_xt.values[0] < 1e-8                        # below onset: nothing learned
    ratio = cur.I_xt.values[1:] / pred.I_xt.values[1:]      # measured 0.935, 0.876
    assert np.all(np.abs(ratio - 1) < 0.15)
    intercept = ratio[0] - deltas[0] * (ratio[1] - ratio[0]) / (deltas[1] - deltas[0])
    assert abs(intercept - 1) < 0.02                        # exact as delta -> 0 (measured 0.994)
    # relevant information per bit at onset -> rho_m^2 = 1 / beta_c
    slope = cur.I_ty.values[1:] / cur.I_xt.values[1:]
    assert np.all(np.abs(slope - float(on.rho2)) < 0.02 * float(on.rho2))


def test_joint_validation():
    with pytest.raises(ValueError, match="must sum to 1"):
        ib_onset(np.ones((2, 2)))
    with pytest.raises(ValueError, match="independent"):
        ib_onset(np.outer([0.5, 0.5], [0.3, 0.7]))


@pytest.mark.slow
def test_leading_behaviour_closer_to_onset():
    """delta = 0.01 (critical slowing down: ~1e5 BA iterations): within 5% of the prediction."""
    p = _symmetric_joint()
    bc = float(ib_onset(p).beta_c)
    betas = bc * np.array([0.99, 1.01])
    cur = ib_curve(p, betas, n_clusters=2, max_iter=400000, tol=1e-12)
    pred = ib_onset_prediction(p, betas)
    assert cur.I_xt.values[0] < 1e-8
    assert abs(cur.I_xt.values[1] / pred.I_xt.values[1] - 1) < 0.05     # measured 0.967
