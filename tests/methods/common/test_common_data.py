"""Offline datasets and task streams of the methods harness."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from neurolatent.methods.common import (
    ClassificationData,
    load_digits,
    make_mnist1d,
    make_teacher_classification,
    permuted_tasks,
    rotated_tasks,
    split_tasks,
)


def test_digits_shapes_split_and_standardisation():
    d = load_digits(seed=0)
    assert d.x_train.shape == (1348, 64) and d.x_test.shape == (449, 64)
    assert d.y_train.dtype == torch.int64 and d.n_classes == 10
    assert set(d.y_train.tolist()) == set(range(10))
    # standardised with the training statistics: mean 0 / std 1 up to float32 rounding (1e-5)
    assert abs(float(d.x_train.mean())) < 1e-5
    assert abs(float(d.x_train.std(unbiased=False)) - 1.0) < 1e-5
    # the split is a partition of sklearn's 1797 samples: the label counts agree exactly
    from sklearn.datasets import load_digits as sk

    ref = np.bincount(sk().target, minlength=10)
    assert np.array_equal(torch.bincount(torch.cat([d.y_train, d.y_test]), minlength=10).numpy(), ref)


def test_digits_image_layout_and_seed():
    flat, img = load_digits(seed=3), load_digits(seed=3, image=True)
    assert img.x_train.shape[1:] == (1, 8, 8)
    assert torch.equal(img.x_train.reshape(-1, 64), flat.x_train)
    assert not torch.equal(load_digits(seed=4).y_train, flat.y_train)


def test_classification_data_to_device_and_dtype():
    d = load_digits(device="cpu", dtype=torch.float64)
    assert d.x_train.dtype == torch.float64 and d.x_train.device.type == "cpu"
    d32 = d.to("cpu", torch.float32)
    assert d32.x_test.dtype == torch.float32 and d32.y_test.dtype == torch.int64
    assert torch.allclose(d32.x_test.double(), d.x_test, atol=1e-6)  # float32 rounding of O(1) values


def test_classification_data_validates_inputs():
    x, y = torch.randn(5, 2), torch.zeros(4, dtype=torch.long)
    with pytest.raises(ValueError, match="same first dimension"):
        ClassificationData(x, y, x, torch.zeros(5, dtype=torch.long), 2)
    with pytest.raises(TypeError, match="int64"):
        ClassificationData(x, torch.zeros(5), x, torch.zeros(5, dtype=torch.long), 2)


def test_teacher_task_is_learnable_and_balanced_enough():
    d = make_teacher_classification(1000, 10, 3, seed=0)
    counts = torch.bincount(torch.cat([d.y_train, d.y_test]), minlength=3)
    assert counts.min() > 50  # every class present (the teacher is random, not balanced)


def test_mnist1d_generator_without_download(tmp_path, monkeypatch):
    pytest.importorskip("mnist1d")
    monkeypatch.chdir(tmp_path)  # any accidental cache/download would land here
    state = np.random.get_state()
    d = make_mnist1d(n_samples=500, seed=1)
    assert list(tmp_path.iterdir()) == []  # nothing written, nothing downloaded
    assert np.array_equal(np.random.get_state()[1], state[1])  # global NumPy stream untouched
    assert d.x_train.shape == (400, 40) and d.x_test.shape == (100, 40)
    assert torch.equal(make_mnist1d(n_samples=500, seed=1).x_train, d.x_train)
    assert make_mnist1d(n_samples=500, channel=True).x_train.shape[1:] == (1, 40)


def test_permuted_tasks_are_feature_permutations():
    d = load_digits()
    tasks = permuted_tasks(d, 3, seed=0)
    assert torch.equal(tasks[0].x_train, d.x_train)
    for t in tasks[1:]:
        assert torch.equal(t.y_train, d.y_train)
        # each sample's pixels are a rearrangement of the original: sorted values agree exactly
        assert torch.equal(t.x_train.sort(1).values, d.x_train.sort(1).values)
        assert not torch.equal(t.x_train, d.x_train)
    # the same permutation is applied to train and test: with feature ids as inputs they agree
    ids = torch.arange(12.0).repeat(3, 1)
    toy = ClassificationData(ids, torch.zeros(3, dtype=torch.long), ids.clone(), torch.zeros(3, dtype=torch.long), 2)
    t = permuted_tasks(toy, 2, seed=1)[1]
    assert torch.equal(t.x_train, t.x_test) and not torch.equal(t.x_train, ids)


def test_rotated_tasks_against_numpy_rot90():
    d = load_digits(image=True)
    r0, r90 = rotated_tasks(d, [0, 90])
    assert torch.allclose(r0.x_train, d.x_train, atol=1e-5)  # identity up to float32 rounding
    ref = np.rot90(d.x_test.numpy(), k=1, axes=(2, 3))  # counter-clockwise, as documented
    assert np.allclose(r90.x_test.numpy(), ref, atol=1e-4)  # 90 degrees maps pixel centres onto centres
    flat = load_digits()
    with pytest.raises(ValueError, match="image_shape"):
        rotated_tasks(flat, [10])
    rf = rotated_tasks(flat, [90], image_shape=(1, 8, 8))[0]
    assert torch.allclose(rf.x_test.reshape(-1, 1, 8, 8), r90.x_test, atol=1e-5)


def test_split_tasks_class_and_task_incremental():
    d = load_digits()
    tasks = split_tasks(d, 2)
    assert len(tasks) == 5
    assert sum(t.x_train.shape[0] for t in tasks) == d.x_train.shape[0]
    assert set(tasks[3].y_train.tolist()) == {6, 7}
    rel = split_tasks(d, 5, relabel=True)
    assert rel[1].n_classes == 5 and set(rel[1].y_test.tolist()) == set(range(5))
    with pytest.raises(ValueError, match="divide"):
        split_tasks(d, 3)
