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
    m = MGPLVM(spec, likelihood=lik, seed=0, init=init).fit(ds["Y"], max_steps=steps,
                                                            progress=False, early_stopping=False)
    _, err, info = align_latents(m.latents()["mean"].values, ds["latent"].values, spec, scale=spec.startswith("R"))
    print(f"{spec} {lik}: median aligned error {info['median_error']:.3f} rad")
    assert info["median_error"] < tol


def _cv_winner(ds, candidates, seed, **kw) -> str:
    """Two-fold cross-validation of every candidate (fitted and scored the same way); the best mean
    held-out log-likelihood per entry wins."""
    cv = compare_manifolds(ds["Y"], candidates, folds=2, seed=seed, infer_steps=150, progress=False,
                           fit_kwargs={"early_stopping": False}, **kw)
    print(cv["log_likelihood"].to_pandas())
    return str(cv["log_likelihood"].mean("fold").idxmax("manifold").item())


def test_cv_ranks_the_true_ring_first():
    ds = make_manifold_recording("T1", n_neurons=16, n_time=150, noise=0.1, seed=0, trajectory="iid")
    # measured per-entry held-out log-lik T1 0.73, R2 0.71, R1 0.62 nats
    assert _cv_winner(ds, ["T1", "R1", "R2"], 0, max_steps=200) == "T1"


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
    assert _cv_winner(ds, candidates, seed, max_steps=250) == truth


def test_cv_ranks_SO3_first_against_its_double_cover_and_R3():
    # Candidates and why they are fair:
    # * S3 is the double cover of SO(3) (q and -q are different points on S3, one point on SO3).
    #   Every SO(3) tuning curve lifts to an antipodally symmetric function on S3, so S3 can
    #   represent the truth exactly; it can only lose by sample efficiency (each bump must be
    #   learned twice, on twice the volume, by a GP prior that does not know the symmetry). It
    #   is the hardest competitor and the one that tests whether CV detects the identification
    #   q ~ -q, so margins are small and shrink with more data.
    # * R3 has the same dimension and no wrap-around (the paper's Euclidean control).
    # (T2 was dropped for time; on the width-0.7 pilot below it scored like S3 and R3.)
    #
    # width=1.4: SO3's kernel-ready distance is 4(1 - <q,c>^2) ~ 4 theta^2 for a rotation half-angle
    # theta, so the generator's default width 0.7 gives bumps of angular width 0.35, half as wide
    # as the same width on S3 (2(1 - cos theta) ~ theta^2), i.e. each neuron fires in roughly 1/8
    # of the volume. With those sparse bumps the randomly initialised SO3 fits on half the bins got stuck
    # (T=150, width 0.7, seed 0, 400 steps: held-out SO3 0.378, S3 0.442, T2 0.445, R3 0.450
    # nats, training ELBO/bin 9.9 vs 11.5-12.1; initialising the same fold at the true latents
    # instead gave ELBO 10.2 -> 10.8 and held-out 0.51-0.53, i.e. an optimisation failure, not the
    # score). width 1.4 gives angular width 0.7 like the S3/T2 cases. T=300 (150 training bins per
    # fold): with fewer training bins SO3 still lost on some seeds (width 1.4, 300 steps: 30 x 150,
    # seed 0: SO3 0.508 < R3 0.512; 40 x 200, seed 0: SO3 0.565 < S3 0.593; seed 1: SO3 0.591 first).
    # Measured held-out nats per entry (mean of 2 folds), 30 neurons x 300 bins, 300 steps:
    #   seed 0: SO3 0.643, S3 0.617, R3 0.572;  seed 1: SO3 0.592, S3 0.547, R3 0.541;
    #   seed 2: SO3 0.634, S3 0.634 (S3 ahead in the 4th decimal), R3 0.576 -- not first.
    # Seed 2 is under-convergence of the randomly initialised SO3 fit, not the score: with 500
    # steps it gives SO3 0.676, S3 0.631, R3 0.576; at 300 steps SO3's training ELBO/bin (14.0,
    # 13.8) is below S3's (15.3, 14.8), whereas fitted to a whole 30 x 150 recording (width 1.4,
    # seed 0, 400 steps) SO3 has the highest ELBO/bin (15.60; S3 14.62, R3 14.36); on
    # seed 2 fold 1 alone 600 steps take SO3 from 0.607 to 0.639 nats (S3 at 600 steps 0.636), and
    # init="pca" (model_kwargs, changes only SO3 here) gives SO3 0.650 vs S3 0.634 at 300 steps.
    # 300 steps kept the test at ~1.8-2.2 min on one core (seed 0 margin over S3 0.026) until the
    # random initial draws changed (device-safe generator draws for the farthest-point start): then
    # seed 0 fell into the seed-2 case at 300 steps (SO3 0.567/0.620 vs S3 0.628/0.605 per fold, fold
    # 0 under-converged) and at 500 steps SO3 wins both folds (0.649/0.710 vs S3 0.630/0.613, R3
    # 0.602/0.566). So 500 steps (~3.3 min on one core): the comparison needs converged fits.
    # (Checked after align_latents learned every SO3 isometry: the random init recovers the latents of
    # 30 x 100 and 30 x 150 recordings at 0.21-0.25 rad on seeds 0-2 while init="pca" gives 0.49-0.70,
    # so random stays the SO3 default; seed 2 here only needs more steps.)
    ds = make_manifold_recording("SO3", n_neurons=30, n_time=300, noise=0.1, width=1.4, seed=0, trajectory="iid")
    assert _cv_winner(ds, ["SO3", "S3", "R3"], 0, max_steps=500) == "SO3"


POISSON_CV_CASES = [
    # truth, candidates, neurons, seed; measured held-out nats per entry (mean over 2 folds) below
    # T1, 20 neurons x 150 bins (counts, peak 8.5 / base 0.5 per bin), 250 steps:
    #   seed 0: T1 -1.734, R2 -1.751, R1 -1.804; seed 1: T1 -1.751, R2 -1.779, R1 -1.849;
    #   seed 2: T1 -1.736, R2 -1.757, R1 -1.824 (~35-55 s)
    ("T1", ["T1", "R1", "R2"], 20, 0),
    # T2, 30 neurons x 150 bins, 250 steps:
    #   seed 0: T2 -1.450, R2 -1.476, T1 -1.529; seed 1: T2 -1.494, R2 -1.523, T1 -1.571;
    #   seed 2: T2 -1.442, R2 -1.468, T1 -1.535 (~30-35 s)
    ("T2", ["T2", "T1", "R2"], 30, 0),
    # R2 (standard-normal latents and centres), 30 neurons x 150 bins, 250 steps:
    #   seed 0: R2 -1.758, R1 -1.842, T1 -1.859; seed 1: R2 -1.606, T1 -1.662, R1 -1.695;
    #   seed 2: R2 -1.708, T1 -1.754, R1 -1.757 (~25 s)
    ("R2", ["R2", "T1", "R1"], 30, 0),
]


@pytest.mark.parametrize("truth,candidates,n_neurons,seed", POISSON_CV_CASES, ids=[c[0] for c in POISSON_CV_CASES])
def test_cv_ranks_the_true_manifold_first_with_poisson_counts(truth, candidates, n_neurons, seed):
    # counts y ~ Poisson(0.5 + 8 h) per bin; every candidate fitted and scored with the Poisson likelihood
    ds = make_manifold_recording(truth, n_neurons=n_neurons, n_time=150, likelihood="poisson", seed=seed,
                                 trajectory="iid")
    assert _cv_winner(ds, candidates, seed, likelihood="poisson", max_steps=250) == truth
