"""The pretrain -> probe pipeline: seeding, probes against scikit-learn, bad input."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from neurolatent.methods.common import ClassificationData
from neurolatent.methods.ssl import (
    InfoNCE,
    SSLEncoder,
    VICReg,
    embed,
    knn_probe,
    linear_probe,
    make_encoder,
    pretrain,
)


def small_data(seed=0, n=200, d=6, classes=3):
    g = torch.Generator().manual_seed(seed)
    centres = 3 * torch.randn(classes, d, generator=g)
    y = torch.randint(0, classes, (n,), generator=g)
    x = centres[y] + torch.randn(n, d, generator=g)
    return ClassificationData(x[:150], y[:150], x[150:], y[150:], classes, "blobs")


class Identity(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.dummy = torch.nn.Parameter(torch.zeros(()))

    def forward(self, x):
        return x + 0 * self.dummy


def test_probes_match_sklearn():
    sk = pytest.importorskip("sklearn.linear_model", reason="scikit-learn is the reference (extra 'methods')")
    from sklearn.neighbors import KNeighborsClassifier
    d = small_data()
    enc = Identity()
    mu, sd = d.x_train.double().mean(0), d.x_train.double().std(0)
    xtr, xte = ((d.x_train - mu) / sd).numpy(), ((d.x_test - mu) / sd).numpy()
    # Ridge on one-hot targets with the same penalty (alpha = l2 * n): sklearn's Ridge centres
    # X and Y itself, as we do; predictions must agree sample by sample.
    ridge = sk.Ridge(alpha=1e-3 * 150).fit(xtr, torch.nn.functional.one_hot(d.y_train, 3).numpy())
    ref = float((torch.as_tensor(ridge.predict(xte)).argmax(1) == d.y_test).double().mean())
    assert linear_probe(enc, d, method="ridge") == pytest.approx(ref, abs=1e-12)
    # Logistic: sklearn's C = 1 / (n * l2) gives the same objective (ours is the mean loss).
    lr = sk.LogisticRegression(C=1 / (150 * 1e-2), max_iter=2000, tol=1e-10).fit(xtr, d.y_train.numpy())
    ref = float((torch.as_tensor(lr.predict(xte)) == d.y_test).double().mean())
    assert linear_probe(enc, d, method="logistic", l2=1e-2) == pytest.approx(ref, abs=1 / 50 + 1e-12)  # <= 1 test point
    knn = KNeighborsClassifier(5, metric="cosine").fit(xtr, d.y_train.numpy())
    ref = float((torch.as_tensor(knn.predict(xte)) == d.y_test).double().mean())
    assert knn_probe(enc, d, k=5) == pytest.approx(ref, abs=1 / 50 + 1e-12)  # tie-breaking may differ on 1 point
    with pytest.raises(ValueError, match="'ridge' or 'logistic'"):
        linear_probe(enc, d, method="svm")
    with pytest.raises(ValueError, match="k must lie"):
        knn_probe(enc, d, k=1000)


def test_pretrain_is_seeded_and_returns_history():
    x = torch.randn(70, 1, 12, 12)
    runs = []
    for _ in range(2):
        enc = make_encoder((1, 12, 12), rep_dim=8, proj_dim=4, channels=(4,), seed=3)
        h = pretrain(enc, x, InfoNCE(), ["crop", "noise"], epochs=2, batch_size=32, seed=7)
        runs.append((h["loss"], embed(enc, x[:5])))
    assert runs[0][0] == runs[1][0] and torch.equal(runs[0][1], runs[1][1])
    assert set(h) == {"epoch", "loss", "time", "epoch_time"} and len(h["epoch_time"]) == 2
    assert isinstance(enc, SSLEncoder) and embed(enc, x[:5], projected=True).shape == (5, 4)
    # 70 = 2 * 32 + 6: the last batch (6 samples) is used; 65 = 2 * 32 + 1 drops the single sample.
    enc = make_encoder((1, 12, 12), rep_dim=8, proj_dim=4, channels=(4,), seed=3)
    pretrain(enc, x[:65], VICReg(), None, epochs=1, batch_size=32)
    # a plain callable loss works too
    pretrain(enc, x[:40], lambda a, b: ((a - b) ** 2).mean() - a.std(0).mean(), "noise", epochs=1, batch_size=20)


def test_pretrain_bad_input():
    enc = make_encoder((5,), rep_dim=4, proj_dim=0, hidden=(8,), seed=0)
    with pytest.raises(ValueError, match="batch_size >= 2"):
        pretrain(enc, torch.randn(10, 5), InfoNCE(), None, epochs=1, batch_size=1)
    with pytest.raises(TypeError, match="ClassificationData or a tensor"):
        pretrain(enc, [1, 2, 3], InfoNCE(), None, epochs=1)
    with pytest.raises(ValueError, match="unknown augmentation"):
        pretrain(enc, torch.randn(10, 5), InfoNCE(), "solarize", epochs=1)
    with pytest.raises(ValueError, match="input_shape"):
        make_encoder((1, 2, 3, 4))


def test_compare_losses_and_rank_correlation():
    import xarray as xr
    from scipy.stats import spearmanr

    from neurolatent.methods.ssl import BarlowTwins, compare_losses, rank_correlation

    d = small_data(1)
    enc = lambda seed: make_encoder((6,), rep_dim=4, proj_dim=4, hidden=(8,), seed=seed)  # noqa: E731
    ds = compare_losses({"infonce": InfoNCE, "barlow": BarlowTwins}, d, "noise", seeds=(0, 1), epochs=1,
                        batch_size=50, encoder=enc, nonlinear_kwargs={"hidden": 8, "steps": 5})
    assert ds["linear_accuracy"].dims == ("objective", "seed") and list(ds.objective.values) == ["infonce", "barlow"]
    assert bool(((ds.knn_accuracy >= 0) & (ds.knn_accuracy <= 1)).all()) and bool(ds.epoch_time.notnull().all())
    # rank_correlation is scipy's Spearman on seed means (or on all runs)
    rng = np.random.default_rng(0)
    toy = xr.Dataset({v: (("objective", "seed"), rng.random((5, 2))) for v in ("a", "b")},
                     coords={"objective": list("pqrst"), "seed": [0, 1]})
    ref = spearmanr(toy.a.mean("seed"), toy.b.mean("seed")).statistic
    assert rank_correlation(toy, "a", "b") == pytest.approx(ref, abs=1e-12)
    ref = spearmanr(toy.a.values.ravel(), toy.b.values.ravel()).statistic
    assert rank_correlation(toy, "a", "b", over="run") == pytest.approx(ref, abs=1e-12)
    with pytest.raises(KeyError, match="'c' is not a variable"):
        rank_correlation(toy, "c", "b")
    with pytest.raises(ValueError, match="at least 3"):
        rank_correlation(ds, "pairwise_redundancy", "linear_accuracy")
    with pytest.raises(ValueError, match="at least one method"):
        compare_losses({}, d)
    with pytest.raises(TypeError, match="ClassificationData"):
        compare_losses({"infonce": InfoNCE}, d.x_train)


def test_pipeline_on_mnist1d_signals():
    pytest.importorskip("mnist1d", reason="MNIST-1D's generator is the optional package mnist1d (extra 'methods')")
    from neurolatent.methods.common import make_mnist1d
    from neurolatent.methods.ssl import ReLICv2, default_augment

    d = make_mnist1d(n_samples=200, channel=True, seed=0)
    enc = make_encoder(d.input_shape, rep_dim=8, proj_dim=4, channels=(4, 8), seed=0)
    # 1-D signals: crops resample the length; ReLICv2's small crops are shorter signals (20 samples)
    pretrain(enc, d, ReLICv2(small_size=20), default_augment(1), epochs=1, batch_size=40)
    assert embed(enc, d.x_test).shape == (40, 8)
    assert 0.0 <= knn_probe(enc, d, k=5) <= 1.0
