"""The fly accuracy goal (median error to the bump phase <= 12 deg) and why it is not a fair one.

Real recording: 16 E-PG ROIs x 500 bins (Turner-Evans et al. 2020, as used by Jensen et al.
2020; skipped when absent). The bump phase is the population-vector (PV) phase of the ROIs, an
estimate itself. benchmarks/fly_bump_error.py has the diagnosis: the T1 latent sits 15-18 deg
from the PV phase whatever the initialisation, inducing points, kernel, steps or restarts; on
data simulated from the fitted model (known truth) the PV phase is 14-18 deg from the truth and
a refit 4.5-6 deg, so a correct latent scores ~15 deg against the PV phase at this
signal-to-noise ratio. The goal is kept as a non-strict xfail recording the measured numbers.
The file took 318 s wall (1 passed, 3 xfailed) under a load average of ~20 on 2 cores.
"""
import numpy as np
import pytest
import xarray as xr

from neurolatent.datasets import load_fly_ellipsoid_body
from neurolatent.manifolds import align_latents
from neurolatent.models import MGPLVM

pytestmark = [pytest.mark.slow, pytest.mark.realdata]


def pv_phase(Y):
    """Angle of sum_n y_n exp(2 pi i n / N): the bump position (ROIs ordered around the ring)."""
    n = Y.shape[1]
    return np.angle((Y * np.exp(1j * 2 * np.pi * np.arange(n) / n)).sum(1))


def _median_deg(est, ref):
    return float(np.degrees(align_latents(np.reshape(est, (-1, 1)), np.reshape(ref, (-1, 1)), "T1")[2]["median_error"]))


@pytest.fixture(scope="module")
def fly(fly_dir):
    return load_fly_ellipsoid_body(fly_dir)["dff"].astype(float)


GOAL_MEASURED = ("not reached: 300 steps, prior='temporal_gp', seeds 0/1/2 measured 15.25/15.05/15.13 deg "
                 "(uniform prior 17.23/18.08/17.10); the PV phase is itself ~15 deg from a correct latent at this "
                 "SNR (benchmarks/fly_bump_error.py)")


@pytest.mark.xfail(strict=False, reason=GOAL_MEASURED)
@pytest.mark.parametrize("seed", [0])  # seeds 1, 2 measured once (numbers above); one seed keeps CI time down
def test_fly_latent_within_12_degrees_of_the_bump_phase(fly, seed):
    m = MGPLVM("T1", seed=seed, prior="temporal_gp").fit(fly, max_steps=300, progress=False)
    err = _median_deg(m.latents()["mean"].values, pv_phase(fly.values))
    print(f"seed {seed}: median error to the PV phase {err:.2f} deg")
    assert err <= 12.0  # the goal (rigid alignment to the PV phase)


def test_pv_phase_is_farther_from_a_known_latent_than_a_refit(fly):
    # Parametric bootstrap: the seed-0 fit's latent means are the truth, its posterior-mean tuning
    # curves and per-ROI noise generate a new recording. Measured (three simulations, uniform
    # prior): PV phase 17.9/16.0/15.2 deg from the truth, refit 6.0/6.2/5.9 deg, refit vs PV
    # 17.9/16.0/13.6 deg (temporal prior: 15.1/14.3/14.2, 4.5/4.8/4.5, 13.6/13.0/13.2).
    m = MGPLVM("T1", seed=0).fit(fly, max_steps=300, progress=False)
    truth = m.latents()["mean"].values
    mean, _ = m.predict(truth)
    sd = m.likelihood.noise_var.detach().numpy() ** 0.5
    y = mean + sd * np.random.default_rng(100).standard_normal(mean.shape)
    Ys = xr.DataArray(y, dims=("time", "neuron"), coords={"time": fly["time"].values})
    refit = MGPLVM("T1", seed=0).fit(Ys, max_steps=300, progress=False).latents()["mean"].values
    pv = pv_phase(y)
    e_pv, e_fit, e_fit_pv = _median_deg(pv, truth), _median_deg(refit, truth), _median_deg(refit, pv)
    print(f"PV vs truth {e_pv:.2f}, refit vs truth {e_fit:.2f}, refit vs PV {e_fit_pv:.2f} deg")
    # measured 17.9 vs 6.0 deg: the margins (> 12 and < 9 deg) leave ~3 deg for platform noise
    assert e_pv > 12.0 and e_fit < 9.0
    # so a latent this close to the truth is > 12 deg from the PV phase (measured 17.9)
    assert e_fit_pv > 12.0
