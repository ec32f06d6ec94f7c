"""Cross-validation splits, the compare_manifolds table, and Dask execution."""
import numpy as np
import pytest

from neurolatent.datasets.synthetic_manifolds import make_manifold_recording
from neurolatent.models import compare_manifolds, cv_splits

FAST = dict(folds=2, max_steps=15, infer_steps=10, n_samples=8, progress=False, model_kwargs={"n_inducing": 6})


def test_cv_splits_partition_time_and_halve_neurons():
    splits = cv_splits(50, 7, 5, seed=1)
    tests = np.concatenate([te for _, te, _ in splits])
    assert sorted(tests.tolist()) == list(range(50))  # every bin is tested exactly once
    for tr, te, half in splits:
        assert np.intersect1d(tr, te).size == 0 and tr.size + te.size == 50
        assert half.size == 3 and np.unique(half).size == 3
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(splits, cv_splits(50, 7, 5, seed=1)))  # seeded
    with pytest.raises(ValueError, match="folds"):
        cv_splits(50, 7, 1, seed=0)


@pytest.fixture(scope="module")
def small():
    return make_manifold_recording("T1", n_neurons=6, n_time=40, noise=0.1, seed=2)


def test_compare_manifolds_table(small):
    cv = compare_manifolds(small["Y"], ["T1", "R1"], seed=0, **FAST)
    assert cv["log_likelihood"].dims == ("manifold", "fold") and cv["log_likelihood"].shape == (2, 2)
    assert list(cv["manifold"].values) == ["T1", "R1"]
    assert np.all(np.isfinite(cv["log_likelihood"])) and np.all(cv["mse"] > 0)
    with pytest.raises(ValueError, match="unknown manifold"):
        compare_manifolds(small["Y"], ["T1", "Q2"], **FAST)


def test_dask_client_gives_the_sequential_result(small):
    distributed = pytest.importorskip("distributed")
    seq = compare_manifolds(small["Y"], ["T1", "R1"], seed=0, **FAST)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as lc, \
            distributed.Client(lc) as client:
        par = compare_manifolds(small["Y"], ["T1", "R1"], seed=0, client=client, **FAST)
    # every fit draws its noise from its own seeded torch.Generator, so threads do not interfere
    np.testing.assert_allclose(par["log_likelihood"].values, seq["log_likelihood"].values, rtol=1e-9)
    np.testing.assert_allclose(par["mse"].values, seq["mse"].values, rtol=1e-9)
