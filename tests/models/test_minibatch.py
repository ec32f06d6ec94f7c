"""Minibatches over time update only the latents of the batch (lazy row-sparse Adam)."""
import numpy as np
import pytest
import torch

from neurolatent.datasets.synthetic_manifolds import make_manifold_recording
from neurolatent.models import MGPLVM


@pytest.fixture(scope="module")
def ring():
    return make_manifold_recording("T1", n_neurons=8, n_time=100, noise=0.1, seed=3)


def _per_time(model):
    lat = model.latent
    return torch.cat([lat.loc.detach(), lat.raw_diag.detach(), lat.raw_off.detach().flatten(1)], 1).clone()


@pytest.mark.parametrize("prior, max_rows", [("uniform", 10), ("random_walk", 20)])
def test_latents_outside_the_batch_do_not_move(ring, prior, max_rows):
    snaps = []

    def cb(state):
        snaps.append(_per_time(state.model))

    m = MGPLVM("T1", seed=0, n_inducing=6, prior=prior)
    m.fit(ring["Y"], max_steps=8, batch_size=10, burnin=0, progress=False, callback=cb,
          early_stopping=False)
    changed = [int((a != b).any(1).sum()) for a, b in zip(snaps[:-1], snaps[1:])]
    # uniform prior: exactly the 10 batch bins move, every other bin is bit-for-bit unchanged
    # (plain Adam moved ~all 100 through momentum); the random-walk prior also involves g_{t-1}
    assert all(0 < c <= max_rows for c in changed), changed
    if prior == "uniform":
        assert changed == [10] * len(changed)


def test_full_batch_uses_plain_adam(ring):
    m = MGPLVM("T1", seed=0, n_inducing=6)
    m.fit(ring["Y"], max_steps=3, progress=False, early_stopping=False)
    assert type(m._optimiser(list(m.parameters()), 0.01, minibatch=False)) is torch.optim.Adam
    full = MGPLVM("T1", seed=0, n_inducing=6).fit(ring["Y"], max_steps=5, batch_size=100, progress=False,
                                                  early_stopping=False)
    same = MGPLVM("T1", seed=0, n_inducing=6).fit(ring["Y"], max_steps=5, progress=False, early_stopping=False)
    np.testing.assert_array_equal(full.elbo_history, same.elbo_history)  # batch_size=T is full batch
