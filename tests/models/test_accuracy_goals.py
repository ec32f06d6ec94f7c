"""Accuracy goal on synthetic data (slow): a default T1 fit of 100 neurons x 500 bins puts more
than 95 % of the time points within 0.5 rad of the true latent after the best global isometry
(``align_latents``; the authors' mgplvm-pytorch was measured at 64 % after 2500 iterations).

Data: ``make_manifold_recording("T1", n_neurons=100, n_time=500, noise=0.1, seed=s)`` (Gaussian
bump tuning of width 0.7 rad around random preferred angles, a random walk of 0.3 rad steps).
The fit: ``MGPLVM("T1", seed=s).fit(Y)`` with every default (1000 steps at most, early stopping).

Measured: 100 % of the 500 points within 0.5 rad on seeds 0, 1 and 2 (median aligned errors
0.043, 0.098 and 0.024 rad; 1000, 1000 and 910 steps). About 75 s of CPU per seed on one thread
(measured on a loaded machine: 3 min 50 s user time for the three seeds).
"""
import numpy as np
import pytest

from neurolatent.datasets.synthetic_manifolds import make_manifold_recording
from neurolatent.manifolds import align_latents
from neurolatent.models import MGPLVM

XFAIL = {}  # seed -> reason with the measured fraction, where the goal was missed (none so far)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [pytest.param(s, marks=[pytest.mark.xfail(strict=False, reason=XFAIL[s])]
                                               if s in XFAIL else []) for s in (0, 1, 2)])
def test_T1_100_neurons_500_bins_95_percent_within_half_a_radian(seed):
    ds = make_manifold_recording("T1", n_neurons=100, n_time=500, noise=0.1, seed=seed)
    model = MGPLVM("T1", seed=seed).fit(ds["Y"], progress=False)
    _, err, info = align_latents(model.latents()["mean"].values, ds["latent"].values, "T1")
    frac = float(np.mean(err < 0.5))
    print(f"seed {seed}: {frac:.3f} within 0.5 rad, median error {info['median_error']:.3f} rad, "
          f"{len(model.history.elbo)} steps")
    assert frac > 0.95  # the goal itself (a fraction of 500 points; chance is 0.5 / pi ~ 16 %)
