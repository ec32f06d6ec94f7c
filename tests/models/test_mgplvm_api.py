"""MGPLVM public API on tiny problems: shapes, save/load, checkpoints, callbacks, bad input."""
import numpy as np
import pytest
import torch
import xarray as xr

from neurolatent.datasets.synthetic_manifolds import make_manifold_recording
from neurolatent.inference import FitState
from neurolatent.models import MGPLVM


@pytest.fixture(scope="module")
def ring():
    return make_manifold_recording("T1", n_neurons=8, n_time=60, noise=0.1, seed=3)


@pytest.fixture(scope="module")
def fitted(ring):
    return MGPLVM("T1", seed=0, n_inducing=8).fit(ring["Y"], max_steps=40, burnin=10,
                                                  progress=False, early_stopping=False)


def test_latents_dataset(fitted, ring):
    lat = fitted.latents()
    assert lat["mean"].dims == ("time", "coord") and lat["mean"].shape == (60, 1)
    assert list(lat["coord"].values) == ["theta"]
    np.testing.assert_allclose(lat["time"].values, ring["time"].values)  # time coordinate carried over
    assert np.all(lat["std"].values > 0)
    assert np.all(np.abs(lat["mean"].values) <= np.pi + 1e-9)  # angles wrapped to [-pi, pi]
    np.testing.assert_allclose(lat["upper"] - lat["lower"], 2 * 1.96 * lat["std"].values, rtol=1e-12)
    assert fitted.elbo_history.shape == (40,)


def test_tuning_curves_grid_and_points(fitted):
    tc = fitted.tuning_curves(12)
    assert tc["mean"].dims == ("neuron", "theta") and tc["mean"].shape == (8, 12)
    assert np.all(tc["std"].values > 0)
    pts = np.array([[0.0], [1.0], [-2.0]])
    tc2 = fitted.tuning_curves(pts)
    assert tc2["mean"].dims == ("neuron", "point")
    # the same points through predict() give the same numbers
    np.testing.assert_allclose(tc2["mean"].values.T, fitted.predict(pts)[0])
    with pytest.raises(ValueError, match=r"\(G, 1\)"):
        fitted.tuning_curves(np.zeros((3, 2)))


def test_save_load_roundtrip(fitted, ring, tmp_path):
    p = tmp_path / "m.pt"
    fitted.save(p)
    payload = torch.load(p, weights_only=True)  # loadable without unpickling code
    assert "config" in payload
    m2 = MGPLVM.load(p)
    xr.testing.assert_identical(m2.latents(), fitted.latents())
    np.testing.assert_array_equal(m2.elbo_history, fitted.elbo_history)
    a = fitted.log_likelihood(ring["Y"], n_samples=8, seed=1)
    b = m2.log_likelihood(ring["Y"], n_samples=8, seed=1)
    assert a == pytest.approx(b, rel=1e-12)


@pytest.mark.parametrize("batch_size", [None, 20])
def test_checkpoint_resume_is_bit_identical(ring, tmp_path, batch_size):
    """fit 2k steps == fit k, stop, resume to 2k: same ELBO trace and parameters, bit for bit."""
    from neurolatent.inference import Checkpoint, EarlyStopping

    ck = Checkpoint(tmp_path / "ck.pt", every=3)

    def es():  # small windows so the plateau detector has state that the resume must carry over
        return EarlyStopping(patience=50, window=2, min_steps=100)

    kw = dict(burnin=4, batch_size=batch_size, progress=False)
    ref = MGPLVM("T1", seed=1, n_inducing=6).fit(ring["Y"], max_steps=12, early_stopping=es(), **kw)
    a = MGPLVM("T1", seed=1, n_inducing=6).fit(ring["Y"], max_steps=6, checkpoint=ck, early_stopping=es(), **kw)
    assert ck.path.exists() and len(a.elbo_history) == 6
    saved = torch.load(ck.path, weights_only=True)
    assert "mc" in saved["generators"] and "_best" in saved["early_stopping"]
    b = MGPLVM("T1", seed=1, n_inducing=6)
    b.fit(ring["Y"], max_steps=12, checkpoint=ck, early_stopping=es(), **kw)
    np.testing.assert_array_equal(b.elbo_history, ref.elbo_history)
    for (name, p), q in zip(ref.state_dict().items(), b.state_dict().values()):
        assert torch.equal(p, q), name


def test_resumed_fit_stops_where_the_uninterrupted_one_does(ring, tmp_path):
    """The early-stopping state is in the checkpoint: resuming 2 steps before the plateau is
    detected stops at the same step (a fresh detector stopped 14 steps later when measured)."""
    from neurolatent.inference import Checkpoint, EarlyStopping

    def es():
        return EarlyStopping(patience=4, window=3, min_steps=10, rel_tol=1e-2)

    kw = dict(burnin=4, progress=False)
    ref = MGPLVM("T1", seed=1, n_inducing=6).fit(ring["Y"], max_steps=200, early_stopping=es(), **kw)
    n = len(ref.elbo_history)
    assert n < 200  # it did stop early
    ck = Checkpoint(tmp_path / "ck.pt", every=n - 2)
    MGPLVM("T1", seed=1, n_inducing=6).fit(ring["Y"], max_steps=n - 2, checkpoint=ck, early_stopping=es(), **kw)
    b = MGPLVM("T1", seed=1, n_inducing=6).fit(ring["Y"], max_steps=200, checkpoint=ck, early_stopping=es(), **kw)
    np.testing.assert_array_equal(b.elbo_history, ref.elbo_history)


def test_callback_stops_fit(ring):
    seen = []

    def cb(state: FitState):
        seen.append(state.step)
        assert isinstance(state.model, MGPLVM) and np.isfinite(state.elbo)
        return state.step >= 3

    m = MGPLVM("T1", seed=0, n_inducing=5).fit(ring["Y"], max_steps=50,
                                               progress=False, early_stopping=False, callback=cb)
    assert seen == [1, 2, 3] and len(m.elbo_history) == 3


def test_minibatch_and_random_walk_prior_run(ring):
    m = MGPLVM("T1", seed=0, n_inducing=5, prior="random_walk").fit(ring["Y"], max_steps=5, batch_size=20,
                                                                    progress=False)
    assert len(m.elbo_history) == 5 and np.isfinite(m.elbo())


def test_numpy_input_and_deterministic_seed(ring):
    Y = ring["Y"].values
    a = MGPLVM("T1", seed=5, n_inducing=5).fit(Y, max_steps=5, progress=False, early_stopping=False)
    b = MGPLVM("T1", seed=5, n_inducing=5).fit(Y, max_steps=5, progress=False, early_stopping=False)
    np.testing.assert_array_equal(a.elbo_history, b.elbo_history)


# ----------------------------------------------------------------------------- bad input --
def test_nan_in_y_is_a_clear_error(ring):
    Y = ring["Y"].values.copy()
    Y[4, 2] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        MGPLVM("T1").fit(Y, max_steps=1, progress=False)


def test_too_few_neurons():
    with pytest.raises(ValueError, match="at least 2"):
        MGPLVM("T1").fit(np.zeros((10, 1)), max_steps=1, progress=False)


def test_unknown_manifold_string():
    with pytest.raises(ValueError, match="unknown manifold"):
        MGPLVM("K7")


def test_negative_counts_with_count_likelihood(ring):
    with pytest.raises(ValueError, match="negative"):
        MGPLVM("T1", likelihood="poisson").fit(ring["Y"].values - 5.0, max_steps=1, progress=False)


def test_log_likelihood_shape_mismatch(fitted, ring):
    with pytest.raises(ValueError, match="8"):
        fitted.log_likelihood(ring["Y"].values[:, :5])
    with pytest.raises(ValueError, match="infer_from"):
        fitted.log_likelihood(ring["Y"].values[:10])


def test_bad_arguments():
    with pytest.raises(ValueError, match="prior"):
        MGPLVM("T1", prior="flat")
    with pytest.raises(ValueError, match="random_walk"):  # the old name says what to use now
        MGPLVM("T1", prior="gp")
    with pytest.raises(ValueError, match="likelihood"):
        MGPLVM("T1", likelihood="bernoulli")
    with pytest.raises(RuntimeError, match="fit"):
        MGPLVM("T1").latents()
    with pytest.raises(TypeError, match="Dataset"):
        MGPLVM("T1").fit(xr.Dataset({"a": ("time", np.zeros(3))}), progress=False)


@pytest.mark.parametrize("lik", ["poisson", "negbinom"])
def test_count_models_predict_the_mean_rate(lik):
    ds = make_manifold_recording("T1", n_neurons=6, n_time=80, likelihood="poisson", seed=0, trajectory="iid")
    m = MGPLVM("T1", likelihood=lik, seed=0, n_inducing=8).fit(ds["Y"], max_steps=60,
                                                               progress=False, early_stopping=False)
    pred, _ = m.predict(m.latents()["mean"].values)
    # E[y] at the fitted latents matches each neuron's mean count (~2-4 per bin) to within 25%;
    # the sampling error of an 80-bin mean of Poisson(3) counts is ~7%
    np.testing.assert_allclose(pred.mean(0), ds["Y"].values.mean(0), rtol=0.25)


def test_short_fit_still_learns_posterior_spread(ring):
    # with max_steps below the default 100-step burn-in, the burn-in is capped at half the steps,
    # so the posterior spread must have moved away from its initial value (init_scale = 0.3)
    m = MGPLVM("T1", seed=0, n_inducing=8).fit(ring["Y"], max_steps=30, progress=False, early_stopping=False)
    std = m.latents()["std"].values
    assert not np.allclose(std, 0.3, atol=1e-6)
