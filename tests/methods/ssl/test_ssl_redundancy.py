"""Redundancy measures against NumPy / scikit-learn, the masked predictor, and SSLPM's game."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from neurolatent.methods.ssl import (
    SSLPM,
    MaskedPredictor,
    average_abs_correlation,
    correlation_matrix,
    linear_predictability,
    make_encoder,
    nonlinear_predictability,
    pairwise_redundancy,
    pretrain,
    redundancy_report,
)


@pytest.fixture(scope="module")
def mixed():
    """Coordinates: a, b, a + b + noise, a^2 (nonlinear in a, uncorrelated with it), constant."""
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((2, 600))
    return np.stack([a, b, a + b + 0.3 * rng.standard_normal(600), a ** 2, np.full(600, 2.0)], 1)


def test_correlation_measures_match_numpy(mixed):
    live = mixed[:, :4]
    c = np.corrcoef(live.T)
    off = c[~np.eye(4, dtype=bool)]
    assert np.allclose(correlation_matrix(mixed).numpy(), c, atol=1e-12)  # constant column dropped
    assert average_abs_correlation(mixed) == pytest.approx(np.abs(off).mean(), abs=1e-12)
    assert pairwise_redundancy(torch.as_tensor(mixed)) == pytest.approx((off ** 2).mean(), abs=1e-12)


def test_linear_predictability_matches_sklearn(mixed):
    sk = pytest.importorskip("sklearn.linear_model", reason="scikit-learn is the reference (extra 'methods')")
    live = mixed[:, :4]
    ref = [sk.LinearRegression().fit(np.delete(live, i, 1), live[:, i]).score(np.delete(live, i, 1), live[:, i])
           for i in range(4)]
    got = linear_predictability(mixed, per_dim=True)
    assert np.isnan(got[4])  # the constant coordinate is left out
    assert np.allclose(got[:4], ref, atol=1e-10)  # closed form vs least squares, float64
    assert linear_predictability(mixed) == pytest.approx(np.mean(ref), abs=1e-10)


def test_nonlinear_predictability_sees_what_linear_misses(mixed):
    lin = linear_predictability(mixed, per_dim=True)
    nonlin = nonlinear_predictability(mixed, per_dim=True, hidden=32, steps=150, seed=0)
    # a^2 is uncorrelated with a (odd moments of a Gaussian vanish): linear R^2 ~ 0 with n = 600
    # (mean of a sample R^2 under independence ~ 3 / 600); the MLP recovers it from a on held-out rows.
    assert lin[3] < 0.05 and nonlin[3] > 0.8
    rng = np.random.default_rng(1)
    indep = rng.standard_normal((600, 4))
    # nothing to predict: held-out R^2 ~ 0 or below
    assert nonlinear_predictability(indep, hidden=32, steps=100) < 0.05
    with pytest.raises(ValueError, match=r"embedding matrix \(n, d\)"):
        pairwise_redundancy(np.ones(5))
    with pytest.raises(ValueError, match="NaN"):
        linear_predictability(np.array([[1.0, np.nan], [2, 3], [4, 5]]))
    rep = redundancy_report(indep, nonlinear=False)
    assert set(rep) == {"average_abs_correlation", "pairwise_redundancy", "linear_predictability"}


def test_masked_predictor_first_layer_is_the_masked_concatenation():
    torch.manual_seed(0)
    p = MaskedPredictor(4, 6, seed=1, dtype=torch.float64)
    z = torch.randn(3, 4, dtype=torch.float64)
    explicit = torch.empty(3, 4, dtype=torch.float64)
    for i in range(4):
        e = torch.zeros(4, dtype=torch.float64)
        e[i] = 1
        inp = torch.cat([z * (1 - e), e.expand(3, 4)], 1)
        h = torch.relu(p.hidden(torch.relu(p.first(inp))))
        explicit[:, i] = p.out(h).squeeze(-1)
    assert torch.allclose(p(z), explicit, atol=1e-12)
    with pytest.raises(ValueError, match=r"expected \(n, 4\)"):
        p(torch.randn(3, 5))


def test_sslpm_predictor_learns_and_encoder_game_runs():
    g = torch.Generator().manual_seed(0)
    base = torch.randn(64, 2, generator=g)
    z = torch.cat([base, base @ torch.randn(2, 4, generator=g)], 1)  # 6 coordinates, rank 2: predictable
    loss = SSLPM(hidden=16, predictor_steps=1)
    with torch.no_grad():
        first = float(loss.terms(z, z)["predictability"])
    batch = torch.cat([(z - z.mean(0)) / z.std(0, unbiased=False)] * 2)
    for _ in range(60):
        loss._batch = batch  # what step_loss stores: the detached standardised embeddings
        loss.after_step(None)
        assert loss._batch is None
    with torch.no_grad():
        t = loss.terms(z, z)
    assert float(t["predictability"]) > first + 0.3  # the predictor exploits the linear dependencies
    assert float(t["invariance"]) == 0.0
    x = torch.randn(48, 1, 8, 8)
    enc = make_encoder((1, 8, 8), rep_dim=8, proj_dim=6, hidden=(16,), arch="mlp", seed=0)
    sslpm = SSLPM(hidden=8)
    before = [p.clone() for p in enc.parameters()]
    pretrain(enc, x, sslpm, "noise", epochs=1, batch_size=16, seed=0)
    assert sslpm.predictor is not None and sslpm.trainable_parameters() == []
    assert any(not torch.equal(a, b) for a, b in zip(before, enc.parameters()))
