"""Neuron minibatches: an unbiased scaled bound, only the batch's per-neuron parameters move, and a fit works."""
import numpy as np
import pytest
import torch

from neurolatent.datasets.synthetic_manifolds import make_manifold_recording
from neurolatent.inference.row_adam import RowSparseAdam
from neurolatent.manifolds import align_latents
from neurolatent.models import MGPLVM


@pytest.fixture(scope="module")
def ring():
    return make_manifold_recording("T1", n_neurons=12, n_time=80, noise=0.1, seed=4)


@pytest.fixture(scope="module")
def fitted(ring):
    return MGPLVM("T1", seed=0, n_inducing=6).fit(ring["Y"], max_steps=30, progress=False, early_stopping=False)


def _estimate(m, neurons, idx=None, seed=0):
    """The scaled bound on neurons (and bins idx) with the latent samples of ``seed`` (the same for every call)."""
    gen = torch.Generator().manual_seed(seed)
    idx = torch.arange(m.n_time) if idx is None else idx
    with torch.no_grad():
        return float(m._minibatch_bound(m._Y, idx, neurons, 3, gen))


def test_neuron_batches_of_a_partition_average_to_the_full_bound(fitted):
    # with the latent samples held fixed, the estimate is N/n_b times a sum over the batch minus the
    # scaled KL: over the 4 disjoint batches of 3 neurons the estimates average to the full bound exactly
    full = _estimate(fitted, None)
    perm = torch.randperm(12, generator=torch.Generator().manual_seed(1))
    parts = [_estimate(fitted, perm[i:i + 3].sort().values) for i in range(0, 12, 3)]
    assert np.mean(parts) == pytest.approx(full, rel=1e-12)  # float64 sums in a different order


def test_random_neuron_and_time_batches_are_unbiased(fitted):
    # random (neuron, time) batches with fresh latent samples each: the mean of 400 estimates matches
    # the full bound with the same n_mc averaged over 400 sample draws, within 4 standard errors of the
    # difference (both are Monte-Carlo means; the batch estimate's spread dominates)
    gen = torch.Generator().manual_seed(2)
    est, ref = [], []
    for s in range(400):
        nidx = torch.randperm(12, generator=gen)[:4].sort().values
        idx = torch.randperm(80, generator=gen)[:40]
        est.append(_estimate(fitted, nidx, idx, seed=1000 + s))
        ref.append(_estimate(fitted, None, None, seed=5000 + s))
    est, ref = np.array(est), np.array(ref)
    se = np.sqrt(est.var(ddof=1) / est.size + ref.var(ddof=1) / ref.size)
    assert abs(est.mean() - ref.mean()) < 4 * se, (est.mean(), ref.mean(), se)


def _per_neuron(m):
    return torch.cat([p.detach().reshape(m.n_neurons, -1) for p in m._per_neuron_parameters()], 1).clone()


def _per_time(m):
    lat = m.latent
    return torch.cat([lat.loc.detach(), lat.raw_diag.detach(), lat.raw_off.detach().flatten(1)], 1).clone()


def test_neurons_outside_the_batch_do_not_move(ring):
    snaps = []
    m = MGPLVM("T1", seed=0, n_inducing=6, likelihood="gaussian")
    m.fit(ring["Y"], max_steps=6, neuron_batch_size=4, batch_size=20, burnin=0, progress=False,
          early_stopping=False, callback=lambda st: snaps.append((_per_neuron(st.model), _per_time(st.model))))
    assert isinstance(m._optimiser([p for p in m.parameters()], 0.01, minibatch=True, neuron_minibatch=True),
                      RowSparseAdam)
    # per-neuron parameters: q_mu, q_sqrt, the mean, output scale, lengthscale and noise (first axis N)
    assert {tuple(p.shape) for p in m._per_neuron_parameters()} >= {(12, 6), (12, 6, 6), (12,)}
    moved_n = [int((a[0] != b[0]).any(1).sum()) for a, b in zip(snaps[:-1], snaps[1:])]
    moved_t = [int((a[1] != b[1]).any(1).sum()) for a, b in zip(snaps[:-1], snaps[1:])]
    # exactly the 4 neurons of each batch move (plain Adam would move all 12 through momentum), and
    # exactly the 20 bins of each time batch (uniform prior)
    assert moved_n == [4] * 5 and moved_t == [20] * 5, (moved_n, moved_t)


def test_full_neuron_batch_is_the_plain_fit_and_bad_sizes_are_refused(ring):
    a = MGPLVM("T1", seed=0, n_inducing=6).fit(ring["Y"], max_steps=4, progress=False, early_stopping=False)
    b = MGPLVM("T1", seed=0, n_inducing=6).fit(ring["Y"], max_steps=4, neuron_batch_size=12, progress=False,
                                               early_stopping=False)
    np.testing.assert_array_equal(a.elbo_history, b.elbo_history)  # n_b = N is the full fit, bit for bit
    with pytest.raises(ValueError, match="neuron_batch_size"):
        MGPLVM("T1", seed=0).fit(ring["Y"], max_steps=2, neuron_batch_size=0, progress=False)
    with pytest.raises(ValueError, match="neuron_batch_size"):
        MGPLVM("T1", seed=0, bound="collapsed").fit(ring["Y"], max_steps=2, neuron_batch_size=4, progress=False)


@pytest.mark.slow
def test_fit_with_neuron_minibatches_recovers_the_latent():
    # 40 neurons x 200 bins, 10 neurons per step: the latent is recovered (the full-batch fit of the
    # same data reaches ~3 deg; a random latent would be ~90 deg median error)
    ds = make_manifold_recording("T1", n_neurons=40, n_time=200, noise=0.1, seed=0)
    m = MGPLVM("T1", seed=0, n_inducing=10).fit(ds["Y"], max_steps=400, neuron_batch_size=10, progress=False,
                                                early_stopping=False, lr=0.03)
    err = align_latents(m.latents()["mean"].values, ds["latent"].values, "T1")[2]["median_error"]
    assert np.degrees(err) < 10, np.degrees(err)
