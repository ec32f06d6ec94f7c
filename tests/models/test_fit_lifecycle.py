"""MGPLVM across calls: dtype/device moves, warm starts vs fresh fits, restarts keeping the best ELBO."""
import numpy as np
import pytest
import torch

from neurolatent.datasets.synthetic_manifolds import make_manifold_recording
from neurolatent.models import MGPLVM


@pytest.fixture(scope="module")
def ring():
    return make_manifold_recording("T1", n_neurons=8, n_time=60, noise=0.1, seed=3)


def _fit(Y, steps=10, **kw):
    return MGPLVM("T1", seed=0, n_inducing=6).fit(Y, max_steps=steps, burnin=3, progress=False,
                                                  early_stopping=False, **kw)


def test_float_and_double_are_honoured(ring):
    m = _fit(ring["Y"])
    ll64 = m.log_likelihood(ring["Y"], n_samples=8, seed=1)
    pts = np.array([[0.0], [1.0], [-2.5]])
    mean64, _ = m.predict(pts)
    m.float()
    assert m.dtype_ == torch.float32 and all(p.dtype == torch.float32 for p in m.state_dict().values()
                                             if p.is_floating_point())
    assert m.latents()["mean"].dtype == np.float32
    mean, std = m.predict(pts)
    assert mean.dtype == np.float32 and np.all(np.isfinite(std))
    # the same model rounded to float32 (eps 6e-8; Cholesky of a 6x6 Kzz with jitter 1e-5 amplifies it
    # by its condition number, ~1e2 here): predictions agree to ~1e-5
    np.testing.assert_allclose(mean, mean64, rtol=1e-4, atol=1e-4)
    ll32 = m.log_likelihood(ring["Y"], n_samples=8, seed=1)
    # float32 draws another Monte-Carlo stream: agreement within the 8-sample estimator's noise (~0.1%)
    assert ll32 == pytest.approx(ll64, rel=1e-2)
    held = m.log_likelihood(ring["Y"].values[:20], infer_from=[0, 1, 2, 3], max_steps=5, seed=0)
    assert np.isfinite(held)
    m.fit(ring["Y"], max_steps=5, burnin=0, progress=False, early_stopping=False, warm_start=True)
    assert len(m.elbo_history) == 15 and m.q_mu.dtype == torch.float32 and np.isfinite(m.elbo())
    m.double()
    assert m.dtype_ == torch.float64 and m._Y.dtype == torch.float64
    m.fit(ring["Y"], max_steps=2, progress=False, early_stopping=False, warm_start=True)
    assert m.q_mu.dtype == torch.float64 and len(m.elbo_history) == 17


def test_float32_model_saves_and_loads(ring, tmp_path):
    m = _fit(ring["Y"]).float()
    m.save(tmp_path / "m.pt")
    m2 = MGPLVM.load(tmp_path / "m.pt")
    assert m2.dtype_ == torch.float32
    np.testing.assert_array_equal(m2.latents()["mean"].values, m.latents()["mean"].values)


def test_fit_reinitialises_unless_warm_start(ring):
    Y = ring["Y"].values
    Y2 = Y[::-1].copy()  # same shape, different data
    fresh = _fit(Y2)
    m = _fit(Y)
    m.fit(Y2, max_steps=10, burnin=3, progress=False, early_stopping=False)
    # a second fit() starts afresh: identical to fitting Y2 from scratch, history included
    np.testing.assert_array_equal(m.elbo_history, fresh.elbo_history)
    torch.testing.assert_close(m.latent.loc, fresh.latent.loc, rtol=0, atol=0)
    w = _fit(Y)
    before = w.latent.loc.detach().clone()
    w.fit(Y2, max_steps=4, progress=False, early_stopping=False, warm_start=True)
    assert len(w.elbo_history) == 14  # appended to the first fit's history
    # continued from the fitted parameters: the latents moved by 4 Adam steps of ~lr = 0.02 each (on a
    # fresh Adam |step| <= lr on step 1 and stays near it), not re-initialised (a new PCA start is ~1 rad away)
    moved = w.manifold.distance(w.latent.loc.detach(), before)
    assert float(moved.max()) < 0.1
    with pytest.raises(ValueError, match="warm_start"):
        w.fit(Y2[:30], max_steps=1, progress=False, warm_start=True)
    with pytest.raises(RuntimeError, match="not fitted"):
        MGPLVM("T1").fit(Y, max_steps=1, progress=False, warm_start=True)


def test_n_restarts_keeps_the_best_elbo(ring):
    m = MGPLVM("T1", seed=4, n_inducing=6, init="random")
    m.fit(ring["Y"], max_steps=15, burnin=3, progress=False, early_stopping=False, n_restarts=3)
    scores = m.restart_elbos_
    assert len(scores) == 3 and m.best_restart_ == int(np.argmax(scores))
    assert len(set(scores)) == 3  # the restarts really differ (seeds 4, 5, 6)
    # the kept model is the best restart: its ELBO (same estimator) equals the best score, and it
    # equals a single fit with that restart's seed
    assert m.elbo(n_mc=20, seed=0) == pytest.approx(max(scores), rel=1e-12)
    single = MGPLVM("T1", seed=4 + m.best_restart_, n_inducing=6, init="random")
    single.fit(ring["Y"], max_steps=15, burnin=3, progress=False, early_stopping=False)
    np.testing.assert_array_equal(m.elbo_history, single.elbo_history)
    with pytest.raises(ValueError, match="n_restarts"):
        m.fit(ring["Y"], n_restarts=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_to_cuda_and_back(ring):
    m = _fit(ring["Y"])
    mean_cpu, _ = m.predict(np.array([[0.0], [2.0]]))
    m.to("cuda")
    assert m.device_.type == "cuda" and m._Y.device.type == "cuda"
    mean_gpu, _ = m.predict(np.array([[0.0], [2.0]]))
    np.testing.assert_allclose(mean_gpu, mean_cpu, rtol=1e-10)  # float64 on both: same numbers to round-off
    m.fit(ring["Y"], max_steps=3, progress=False, early_stopping=False, warm_start=True)
    assert np.isfinite(m.log_likelihood(ring["Y"].values[:20], infer_from=[0, 1, 2], max_steps=3, seed=0))
    m.cpu()
    m.fit(ring["Y"], max_steps=2, progress=False, early_stopping=False, warm_start=True)
    fresh = MGPLVM("T1", seed=0, n_inducing=6, device="cuda").fit(ring["Y"], max_steps=3, progress=False,
                                                                   early_stopping=False)
    assert fresh.q_mu.device.type == "cuda" and np.isfinite(fresh.elbo())
