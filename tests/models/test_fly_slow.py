"""The fly-compass result of the mGPLVM paper on the real recording (skipped when absent).

16 E-PG ROIs x 500 bins (Turner-Evans et al. 2020, as used by Jensen et al. 2020). Published
mGPLVM numbers: median error 16.5 deg to the population-vector phase, 56 deg to the heading.
"""
import numpy as np
import pytest

from neurolatent.datasets import load_fly_ellipsoid_body
from neurolatent.manifolds import align_latents
from neurolatent.models import MGPLVM, compare_manifolds

pytestmark = [pytest.mark.slow, pytest.mark.realdata]


def pv_phase(Y):
    """Angle of sum_n y_n exp(i 2 pi n / 16): the bump position (ROIs ordered around the ring)."""
    n = Y.shape[1]
    return np.angle((Y * np.exp(1j * 2 * np.pi * np.arange(n) / n)).sum(1))


def _wrap(a):
    return np.remainder(a + np.pi, 2 * np.pi) - np.pi


@pytest.fixture(scope="module")
def fly(fly_dir):
    return load_fly_ellipsoid_body(fly_dir)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_T1_latent_follows_bump_and_heading(fly, seed):
    Y = fly["dff"].astype(float)
    m = MGPLVM("T1", seed=seed).fit(Y, max_steps=300, progress=False, early_stopping=False)
    lat = m.latents()["mean"].values
    _, _, pv = align_latents(lat, pv_phase(Y.values)[:, None], "T1")
    _, _, hd = align_latents(lat, _wrap(fly["heading"].values.astype(float))[:, None], "T1")
    pv_deg, hd_deg = np.degrees(pv["median_error"]), np.degrees(hd["median_error"])
    print(f"seed {seed}: median error to PV phase {pv_deg:.1f} deg, to heading {hd_deg:.1f} deg")
    assert pv_deg <= 20.0  # issue target (published 16.5 deg); measured ~17 deg for seeds 0-2
    assert hd_deg <= 60.0  # issue target (published 56 deg); measured ~57 deg


def test_cross_validation_prefers_T1_to_R1(fly):
    # T1 vs R1 is the paper's comparison (Jensen et al. 2020 compare only these two on this
    # matrix). R2 is deliberately not asserted: with the faithful protocol it predicts held-out
    # ROIs better than T1 (seed 0: 0.419/0.407/0.414 vs 0.404/0.373/0.400 nats per entry) because
    # its radius carries the bump amplitude (corr 0.69 with the population-vector amplitude)
    # while its angle is the ring; T1xR1 scores 0.417/0.424/0.445 (R2 ahead only on fold 0, by
    # 0.002), so at equal dimension the ring topology still does as well or better. See the
    # Notes of compare_manifolds.
    #
    # The MSE metric agrees with the log-likelihood on every ranking (benchmarks/fly_cv_metrics.py,
    # T1, R1, R2, T1xR1, 3 folds, 300 steps; mean over folds, log-lik nats per entry / MSE):
    #   seed 0: T1xR1 0.4286/0.02576 > R2 0.4136/0.02678 > T1 0.3924/0.02738 > R1 0.3649/0.02879
    #   seed 1: R2 0.3876/0.03073 > T1xR1 0.3853/0.03100 > T1 0.3170/0.03268 > R1 0.2803/0.03542
    #   seed 2: T1xR1 0.4117/0.02800 > R2 0.4067/0.02825 > T1 0.3752/0.02910 > R1 0.3349/0.03130
    # so MSE also prefers R2 to T1 (T1 ahead on 1 of 9 folds, seed 0 fold 0, by 0.00002), and
    # T1 beats R1 by MSE on 9/9 folds (by log-lik on 8/9: seed 1 fold 2 T1 0.3208 vs R1 0.3221).
    cv = compare_manifolds(fly["dff"].astype(float), ["T1", "R1"], folds=3, seed=0, max_steps=300, progress=False,
                            fit_kwargs={"early_stopping": False})
    ll, mse = cv["log_likelihood"], cv["mse"]
    print(cv[["log_likelihood", "mse"]].to_dataframe())
    # held-out log density per entry; measured T1 0.404/0.373/0.400 vs R1 0.368/0.357/0.370 nats
    assert bool((ll.sel(manifold="T1") > ll.sel(manifold="R1")).all())
    # held-out MSE of E[y] ((dF/F)^2); measured T1 0.0271/0.0280/0.0270 vs R1 0.0294/0.0288/0.0283
    assert bool((mse.sel(manifold="T1") < mse.sel(manifold="R1")).all())
