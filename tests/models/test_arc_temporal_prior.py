"""Arc versus ring under the temporal GP prior (benchmarks/arc_vs_ring.py ``--prior temporal_gp``).

With ``prior="temporal_gp"`` the held-out latents are inferred under the fitted temporal prior,
so cross-validation compares the models that were fitted. The recordings and protocol are those
of tests/models/test_model_selection_arc.py: ``make_ring_recording(20, 200, noise=0.1,
speed_sd=3.0, seed=0)`` with a 130 deg arc or the whole ring, 2 folds, 250 steps, 200 inference
steps. One seed here (141 s wall under a load average of ~12 on 2 cores); the benchmark's docstring has all
three.
"""
import numpy as np
import pytest

from neurolatent.datasets import make_ring_recording
from neurolatent.models import compare_manifolds

pytestmark = pytest.mark.slow


def _cv(arc):
    ds = make_ring_recording(20, 200, noise=0.1, seed=0, speed_sd=3.0, arc=arc)
    cv = compare_manifolds(ds["dff"], ["T1", "R1"], folds=2, seed=0, max_steps=250, infer_steps=200,
                           progress=False, model_kwargs={"prior": "temporal_gp"})
    ll = cv["log_likelihood"].mean("fold")
    return float(ll.sel(manifold="T1")), float(ll.sel(manifold="R1"))


def test_temporal_prior_cv_still_prefers_R1_on_an_arc_and_T1_on_a_ring():
    t1_arc, r1_arc = _cv(np.deg2rad(130.0))
    t1_ring, r1_ring = _cv(None)
    print(f"arc T1 {t1_arc:.4f} R1 {r1_arc:.4f}; ring T1 {t1_ring:.4f} R1 {r1_ring:.4f} nats/entry")
    # measured (seed 0): ring T1 0.7934 vs R1 0.7389 -- a margin of 0.05 nats per entry
    assert t1_ring > r1_ring + 0.02
    # measured (seed 0): arc T1 0.7939 vs R1 0.7986 -- small (0.005) but the sign held on seeds 0-2
    assert r1_arc > t1_arc
