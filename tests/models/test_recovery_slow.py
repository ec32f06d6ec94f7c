"""Synthetic recordings with known latents: recovery after alignment and CV ranking (slow).

Errors are median geodesic distances after the best global isometry (``align_latents``;
Euclidean latents also up to a global scale, which trades off with the GP lengthscale).
Chance levels (150 random points aligned the same way, measured): 1.38 rad on T1, 2.26 on T2,
1.38 on S3, 1.01 on SO3 (half-angle distance) and 1.18 on R2 (latents of unit variance).
"""
import numpy as np
import pytest

from neurolatent.datasets.synthetic_manifolds import make_manifold_recording
from neurolatent.manifolds import align_latents
from neurolatent.models import MGPLVM, compare_manifolds

pytestmark = pytest.mark.slow

CASES = [
    # spec, likelihood, neurons, time bins, steps, tolerance (rad): measured errors in the comments
    ("T1", "gaussian", 20, 150, 250, 0.20),
    ("T1", "poisson", 20, 150, 250, 0.25),
    ("T2", "gaussian", 30, 200, 300, 0.40),
    ("T2", "poisson", 30, 150, 250, 0.50),
    ("S3", "gaussian", 30, 150, 250, 0.35),
    ("SO3", "gaussian", 30, 150, 400, 0.45),
    ("R2", "gaussian", 30, 150, 400, 0.30),
]


@pytest.mark.parametrize("spec,lik,n_neurons,n_time,steps,tol", CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_latents_recovered(spec, lik, n_neurons, n_time, steps, tol):
    ds = make_manifold_recording(spec, n_neurons=n_neurons, n_time=n_time, likelihood=lik, noise=0.1, seed=0,
                                 trajectory="iid")
    # R2 with random bump centres: the PCs are a folded image of the latents, random init fits better
    init = "random" if spec == "R2" else "auto"
    m = MGPLVM(spec, likelihood=lik, seed=0, init=init).fit(ds["Y"], max_steps=steps, progress=False)
    _, err, info = align_latents(m.latents()["mean"].values, ds["latent"].values, spec, scale=spec.startswith("R"))
    print(f"{spec} {lik}: median aligned error {info['median_error']:.3f} rad")
    assert info["median_error"] < tol


def test_cv_ranks_the_true_ring_first():
    ds = make_manifold_recording("T1", n_neurons=16, n_time=150, noise=0.1, seed=0, trajectory="iid")
    cv = compare_manifolds(ds["Y"], ["T1", "R1", "R2"], folds=2, seed=0, max_steps=200, infer_steps=150,
                           progress=False)
    mean = cv["log_likelihood"].mean("fold")
    print(cv["log_likelihood"].to_pandas())
    # measured per-entry held-out log-lik T1 0.73, R2 0.71, R1 0.62 nats
    assert str(mean.idxmax("manifold").item()) == "T1"


CV_CASES = [
    # truth, candidates, seed; measured held-out nats per entry (mean over 2 folds) in the comments
    ("R2", ["R2", "T1", "R1"], 0),  # R2 0.518, T1 0.246, R1 0.166
    ("T2", ["T2", "T1", "R2"], 1),  # T2 0.424, R2 0.271, T1 0.256 (seeds 0 and 2: margins 0.019, 0.031)
    ("S3", ["S3", "T2", "R3"], 0),  # S3 0.640, R3 0.583, T2 0.451
]


@pytest.mark.parametrize("truth,candidates,seed", CV_CASES, ids=[c[0] for c in CV_CASES])
def test_cv_ranks_the_true_manifold_first(truth, candidates, seed):
    # 30 neurons x 150 iid latents, Gaussian noise 0.1; every candidate is fitted and scored the same way
    ds = make_manifold_recording(truth, n_neurons=30, n_time=150, noise=0.1, seed=seed, trajectory="iid")
    cv = compare_manifolds(ds["Y"], candidates, folds=2, seed=seed, max_steps=250, infer_steps=150, progress=False)
    mean = cv["log_likelihood"].mean("fold")
    print(mean.to_pandas())
    assert str(mean.idxmax("manifold").item()) == truth
