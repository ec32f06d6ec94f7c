"""Arc versus ring: cross-validation should prefer R1 (an interval) when the latent covers only
an arc of the ring, and T1 when it covers the ring (benchmarks/arc_vs_ring.py has the numbers).

Recordings: ``make_ring_recording(20, 200, noise=0.1, speed_sd=3.0, seed=s)`` (bump tuning
around the whole ring, a fast smooth walk of ~0.3 rad per bin) with ``arc=130 deg`` or the whole
ring. The quick tests check the generator's arc option against its definition.
"""
import json
from unittest import mock

import numpy as np
import pytest
import torch

from neurolatent.datasets import make_ring_recording, ring_tuning
from neurolatent.manifolds import align_latents
from neurolatent.models import MGPLVM, compare_manifolds

ARC = np.deg2rad(130.0)
SEEDS = [0, 1, 2]


def _range_deg(theta) -> float:
    """Range covered by angles on the circle (deg): 360 minus the largest gap between them."""
    th = np.sort(np.mod(np.asarray(theta, dtype=float).ravel(), 2 * np.pi))
    return float(np.rad2deg(2 * np.pi - np.diff(np.r_[th, th[0] + 2 * np.pi]).max()))


def _recording(seed, arc):
    return make_ring_recording(20, 200, noise=0.1, seed=seed, speed_sd=3.0, arc=arc)


# ------------------------------------------------------------------------------- quick --
@pytest.mark.parametrize("seed", SEEDS)
def test_arc_recording_stays_on_its_arc(seed):
    ds = make_ring_recording(12, 3000, noise=0.2, seed=seed, speed_sd=3.0, arc=ARC)
    lat = ds.latent.values.astype(np.float64)
    # confined to the arc (float32 storage: 1e-4 rad slack) and, over 3000 bins of a walk
    # reflected at its ends, covering all of it (the sorted angles' range is the arc to 1 deg)
    assert _range_deg(lat) <= np.rad2deg(ARC) + 1e-3
    assert _range_deg(lat) > np.rad2deg(ARC) - 1.0
    step = np.angle(np.exp(1j * np.diff(lat)))
    # reflection keeps the walk smooth: the steps are the unfolded walk's steps up to sign
    # (speed sd 3 rad/s at 10 Hz -> per-bin sd ~0.3 rad; |step| < 1.5 rad is > 4.5 sd)
    assert np.abs(step).max() < 1.5 and 0.2 < step.std() < 0.4
    # the data follow the same tuning model as the ring: residual = the Gaussian noise (std 0.2
    # within 5 %, n = 36000 samples)
    resid = ds.dff.values - ring_tuning(lat, ds.preferred_angle.values, 3.0)
    assert resid.std() == pytest.approx(0.2, rel=0.05)
    assert json.loads(ds.attrs["params"])["arc"] == pytest.approx(ARC)  # params are stored as JSON


def test_arc_none_is_the_ring_and_bad_arcs_are_refused():
    a, b = make_ring_recording(seed=3), make_ring_recording(seed=3, arc=None)
    assert a.dff.equals(b.dff) and a.latent.equals(b.latent)
    assert _range_deg(make_ring_recording(20, 200, seed=0, speed_sd=3.0).latent) > 340
    for bad in (0.0, -1.0, 2 * np.pi, 7.0):
        with pytest.raises(ValueError, match="arc"):
            make_ring_recording(arc=bad)


# -------------------------------------------------------------------------------- slow --
# Measured (2 folds, max_steps=250 with early stopping, infer_steps=200), held-out nats per entry,
# mean over folds, T1 / R1:
#   covered ring: seed 0 0.7910 / 0.7222, seed 1 0.7851 / 0.7153, seed 2 0.7791 / 0.7179 (T1 wins
#                 every fold, by ~0.06-0.07)
#   130 deg arc:  seed 0 0.7816 / 0.7900, seed 1 0.7991 / 0.8079, seed 2 0.7998 / 0.8108 (R1 by
#                 ~0.01; R1 wins 5 of the 6 folds, T1 one fold of seed 0)
# About 15 s of CPU per seed and direction (4 fits + held-out inference).
def _cv(ds, seed):
    cv = compare_manifolds(ds["dff"], ["T1", "R1"], folds=2, seed=seed, max_steps=250, infer_steps=200,
                           progress=False)
    ll = cv["log_likelihood"].mean("fold")
    print(f"seed {seed}: T1 {float(ll.sel(manifold='T1')):.4f}  R1 {float(ll.sel(manifold='R1')):.4f} nats/entry")
    return float(ll.sel(manifold="T1")), float(ll.sel(manifold="R1"))


RING_XFAIL = {}  # seed -> measured numbers, where T1 did not beat R1 on the covered ring (none so far)
ARC_XFAIL = {}   # seed -> measured numbers, where R1 did not beat T1 on the arc (none so far)


def _maybe_xfail(table, seed):
    return [pytest.mark.xfail(strict=False, reason=table[seed])] if seed in table else []


@pytest.mark.slow
@pytest.mark.parametrize("seed", [pytest.param(s, marks=_maybe_xfail(RING_XFAIL, s)) for s in SEEDS])
def test_cv_prefers_T1_on_a_covered_ring(seed):
    t1, r1 = _cv(_recording(seed, None), seed)
    assert t1 > r1  # measured margins ~0.06-0.07 nats per entry (above)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [pytest.param(s, marks=_maybe_xfail(ARC_XFAIL, s)) for s in SEEDS])
def test_cv_prefers_R1_on_an_arc(seed):
    t1, r1 = _cv(_recording(seed, ARC), seed)
    assert r1 > t1  # measured margins ~0.01 nats per entry (above), the same sign on every seed


@pytest.mark.slow
def test_in_sample_elbo_prefers_a_T1_fit_that_stretches_the_arc():
    # Why model selection is needed (the claim, reproduced): under the uniform prior the
    # T1 ELBO rewards spreading the latents over the ring. Measured on seed 0 (250 steps): the
    # default fit covers 289 deg of the ring (truth 130) with ELBO 13.794 per bin, a fit whose
    # latent means are held at the truth (all else fitted) reaches 12.724 (seeds 1 and 2 alike,
    # benchmarks/arc_vs_ring.py).
    ds = _recording(0, ARC)
    truth = ds["latent"].values.astype(np.float64)
    free = MGPLVM("T1", seed=0).fit(ds["dff"], max_steps=250, progress=False)
    start = truth[:, None]

    def hold(state):  # put the latent means back at the truth after every step
        with torch.no_grad():
            state.model.latent.loc.copy_(torch.as_tensor(start, dtype=state.model.latent.loc.dtype))

    held = MGPLVM("T1", seed=0)
    with mock.patch("neurolatent.models.mgplvm.pca_init", lambda *a, **k: start):
        held.fit(ds["dff"], max_steps=250, progress=False, callback=hold)
    fitted = free.latents()["mean"].values
    _, _, info = align_latents(fitted, truth, "T1")
    elbo_free, elbo_held = free.elbo(n_mc=20, seed=0) / 200, held.elbo(n_mc=20, seed=0) / 200
    print(f"stretched range {_range_deg(fitted):.0f} deg, error {info['median_error']:.3f} rad, "
          f"ELBO free {elbo_free:.3f} held {elbo_held:.3f} per bin")
    # stretched: the 130 deg arc covers > 200 deg of the ring (measured 289), so the median
    # aligned error is far above the < 0.2 rad of a covered ring (measured 0.645)
    assert _range_deg(fitted) > 200 and info["median_error"] > 0.3
    # and the ELBO prefers it by far more than its Monte-Carlo noise (measured gap 1.07 per bin;
    # the estimate's sd at n_mc=20 is ~0.01 per bin)
    assert elbo_free > elbo_held + 0.5
