"""MGPLVM(prior="temporal_gp") and the Matérn/ARD kernels inside the model: fit, held-out inference, save/load."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from neurolatent.datasets.synthetic_manifolds import make_manifold_recording
from neurolatent.models import MGPLVM
from neurolatent.models._temporal_prior import TemporalGPPrior


@pytest.fixture(scope="module")
def ring():
    # 0.1 s bins, random-walk steps of 0.3 rad: circular Brownian motion with tau = 2 / 0.3^2 bins = 2.2 s
    return make_manifold_recording("T1", n_neurons=10, n_time=120, noise=0.1, seed=3, step=0.3)


@pytest.fixture(scope="module")
def fitted(ring):
    return MGPLVM("T1", seed=0, n_inducing=8, prior="temporal_gp").fit(ring["Y"], max_steps=60, progress=False)


def test_fit_learns_the_timescale(fitted, ring):
    assert isinstance(fitted.prior, TemporalGPPrior)
    tau0 = 10 * float(np.median(np.diff(ring["time"].values)))  # the default start: 10 bins = 1 s
    tau = float(fitted.prior.timescale.detach())
    assert tau != pytest.approx(tau0, rel=1e-3) and np.isfinite(fitted.elbo_history).all()


@pytest.mark.slow
def test_fit_recovers_the_timescale_in_time_units():
    """Random walk of 0.3 rad per 0.1 s bin = circular Brownian motion with tau = 2 / 0.3^2 bins = 2.22 s.

    Measured: tau dips to 0.76 s during the burn-in (posterior spread held at 0.3 rad inflates the
    apparent steps: the mean-field bias of Turner & Sahani 2011) and reaches 2.38 s after 500 steps.
    """
    ds = make_manifold_recording("T1", n_neurons=20, n_time=200, noise=0.1, seed=3, step=0.3)
    m = MGPLVM("T1", seed=0, prior="temporal_gp", n_inducing=10).fit(ds["Y"], max_steps=500, progress=False,
                                                                     early_stopping=False)
    tau = float(m.prior.timescale.detach())
    # sd of a timescale estimated from 200 steps ~ tau sqrt(2/200) = 10%, plus the mean-field bias
    # 2 sd_q^2 / step^2 ~ 6% at the fitted posterior sd (0.05 rad): 25% is ~2.5 sd
    assert abs(tau - 2.222) / 2.222 < 0.25, tau


def test_held_out_inference_uses_the_fitted_prior_at_the_test_times(fitted, ring, monkeypatch):
    calls = []
    original = TemporalGPPrior.at_times

    def spy(self, time):
        out = original(self, time)
        calls.append((time.detach().cpu().numpy().copy(), out))
        return out

    monkeypatch.setattr(TemporalGPPrior, "at_times", spy)
    test = ring["Y"].isel(time=slice(10, 120, 3))  # irregular in the recording, with its time stamps
    ll = fitted.log_likelihood(test, infer_from=np.arange(5), max_steps=20, seed=0)
    assert np.isfinite(ll)
    assert len(calls) == 1
    t, prior = calls[0]
    np.testing.assert_array_equal(t, test["time"].values)
    assert prior.raw_log_timescale is fitted.prior.raw_log_timescale  # the fitted timescale, not a new one
    assert fitted.prior.raw_log_timescale.requires_grad  # un-frozen again after the inference


def test_temporal_prior_changes_the_held_out_score(fitted, ring):
    """The score is of the model that was fitted: swapping in the uniform prior changes it."""
    test = ring["Y"].isel(time=slice(0, 60))
    kw = dict(infer_from=np.arange(5), max_steps=30, seed=0)
    ll_temporal = fitted.log_likelihood(test, **kw)
    saved = fitted.prior
    try:
        from neurolatent.models._latent import ReferencePrior
        fitted.prior = ReferencePrior(fitted.manifold)
        ll_uniform = fitted.log_likelihood(test, **kw)
    finally:
        fitted.prior = saved
    assert ll_temporal != ll_uniform


def test_minibatch_with_temporal_prior_touches_only_batch_and_previous_rows(ring):
    snaps = []
    m = MGPLVM("T1", seed=0, n_inducing=6, prior="temporal_gp")
    m.fit(ring["Y"], max_steps=6, batch_size=10, burnin=0, progress=False, early_stopping=False,
          callback=lambda s: snaps.append(s.model.latent.loc.detach().clone()))
    changed = [int((a != b).any(1).sum()) for a, b in zip(snaps[:-1], snaps[1:])]
    assert max(changed) <= 20, changed  # 10 batch rows and at most 10 previous rows (support_rows)


@pytest.mark.parametrize("kernel, ard, shape", [("matern32", "factor", (10, 1, 2)), ("matern12", False, (10, 1, 1)),
                                                ("squared_exponential", "dim", (10, 1, 2)),
                                                ("matern52", True, (10, 1, 2))])
def test_matern_and_ard_kernels_fit_and_round_trip(ring, tmp_path, kernel, ard, shape):
    Y = ring["Y"]
    m = MGPLVM("T1xR1", seed=0, n_inducing=8, kernel=kernel, ard=ard, prior="temporal_gp")
    m.fit(Y, max_steps=5, progress=False)
    assert tuple(m.kernel.base_kernel.lengthscale.shape) == shape
    assert m.prior.timescale.shape == (2,)
    path = tmp_path / "m.pt"
    m.save(path)
    m2 = MGPLVM.load(path)
    assert m2.kernel_name == kernel and m2.ard == ard and m2.prior_name == "temporal_gp"
    torch.testing.assert_close(m2.kernel.base_kernel.lengthscale, m.kernel.base_kernel.lengthscale)
    torch.testing.assert_close(m2.prior.timescale, m.prior.timescale)
    assert m2.elbo(n_mc=4, seed=1) == pytest.approx(m.elbo(n_mc=4, seed=1), rel=1e-12)  # same model, same draws


def test_bad_kernel_and_ard_arguments():
    with pytest.raises(ValueError, match="kernel must be one of"):
        MGPLVM("T1", kernel="matern")
    with pytest.raises(ValueError, match="linear kernel has no lengthscales"):
        MGPLVM("T1", kernel="linear", ard="dim")
    with pytest.raises(ValueError, match="ard must be"):
        MGPLVM("T1", ard="neuron")
    with pytest.raises(ValueError, match="prior must be one of"):
        MGPLVM("T1", prior="ou")
