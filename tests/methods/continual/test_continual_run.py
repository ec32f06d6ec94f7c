"""The runner: results layout, metrics against hand-computed values, seeding, bad input."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
import xarray as xr

from neurolatent.methods.common import MLP, make_teacher_classification, permuted_tasks, split_tasks
from neurolatent.methods.continual import EWC, METHODS, run, summarise_accuracy


@pytest.fixture(scope="module")
def stream():
    return permuted_tasks(make_teacher_classification(600, 8, 3, seed=0), 3, seed=1)


def small_net(seed=0):
    return MLP(8, (16,), 3, seed=seed)


def test_summaries_match_hand_computation():
    r = np.array([[0.9, 0.2, 0.1],
                  [0.7, 0.8, 0.3],
                  [0.5, 0.85, 0.95]])
    s = summarise_accuracy(r)
    assert float(s.average_accuracy) == pytest.approx((0.5 + 0.85 + 0.95) / 3, abs=1e-12)
    # forgetting: best accuracy once learnt (rows j .. T-2) minus final
    np.testing.assert_allclose(s.forgetting.values[:2], [0.9 - 0.5, 0.8 - 0.85], atol=1e-12)
    assert np.isnan(s.forgetting.values[2])
    assert float(s.average_forgetting) == pytest.approx((0.4 - 0.05) / 2, abs=1e-12)
    assert float(s.backward_transfer) == pytest.approx(((0.5 - 0.9) + (0.85 - 0.8)) / 2, abs=1e-12)
    with pytest.raises(ValueError, match="square"):
        summarise_accuracy(np.zeros((2, 3)))


@pytest.mark.parametrize("method", sorted(set(METHODS) - {"kfac", "ncl", "owm"}))  # those three need an RNN (test_continual_ncl)
def test_every_method_runs_and_reports(stream, method):
    res = run(small_net(), stream, method, epochs=2, lr=2e-2, seed=0, progress=False)
    assert res.accuracy.dims == ("after_task", "on_task") and res.accuracy.shape == (3, 3)
    assert res.attrs["method"] == method
    acc = res.accuracy.values
    assert np.all((acc >= 0) & (acc <= 1))
    # the summaries are those of the matrix
    ref = summarise_accuracy(acc)
    for v in ("average_accuracy", "average_forgetting", "backward_transfer"):
        assert float(res[v]) == pytest.approx(float(ref[v]), nan_ok=True)
    assert list(res.task_name.values) == [t.name for t in stream]
    # each task is learnt above chance (1/3) right after training on it (measured >= 0.6)
    assert np.diag(acc).min() > 0.45


def test_run_is_seeded_and_leaves_the_model_alone(stream):
    net = small_net()
    before = {n: p.detach().clone() for n, p in net.named_parameters()}
    a = run(net, stream, "si", epochs=1, lr=1e-2, seed=3, progress=False)
    b = run(net, stream, "si", epochs=1, lr=1e-2, seed=3, progress=False)
    c = run(net, stream, "si", epochs=1, lr=1e-2, seed=4, progress=False)
    xr.testing.assert_identical(a.drop_vars("train_seconds"), b.drop_vars("train_seconds"))
    assert not np.array_equal(a.loss.values, c.loss.values)
    for n, p in net.named_parameters():
        assert torch.equal(before[n], p.detach())


def test_method_object_keeps_its_importances_and_callback_sees_each_task(stream):
    method = EWC(strength=5.0)
    seen = []
    res = run(small_net(), stream, method, epochs=2, lr=2e-2, progress=False,
              callback=lambda s: seen.append((s["task"], s["accuracy"].copy())))
    assert [k for k, _ in seen] == [0, 1, 2]
    np.testing.assert_array_equal(seen[-1][1], res.accuracy.values[-1])
    assert set(method.importance) == {n for n, _ in small_net().named_parameters()}
    assert all(bool((v >= 0).all()) for v in method.importance.values())
    assert res.attrs["strength"] == 5.0


def test_strong_regulariser_freezes_and_finetune_forgets(stream):
    # lambda -> large pins the network to the first solution: the first task keeps its accuracy
    frozen = run(small_net(), stream, "ewc", strength=1e6, epochs=2, lr=1e-2, progress=False)
    free = run(small_net(), stream, "finetune", epochs=2, lr=1e-2, progress=False)
    a0 = frozen.accuracy.values[:, 0]
    assert np.ptp(a0) < 0.05  # measured: 0.0 (Adam still takes lr-sized steps; 60 test samples)
    assert float(free.forgetting[0]) > float(frozen.forgetting[0])


def test_netcdf_round_trip(stream, tmp_path):
    res = run(small_net(), stream, "mas", epochs=1, progress=False)
    res.to_netcdf(tmp_path / "r.nc")
    back = xr.load_dataset(tmp_path / "r.nc")
    xr.testing.assert_allclose(back, res)


def test_bad_inputs(stream):
    net = small_net()
    with pytest.raises(ValueError, match=r"unknown continual-learning method 'ewk'.*'ewc'.*'finetune'.*'si'"):
        run(net, stream, "ewk", progress=False)
    odd = permuted_tasks(make_teacher_classification(100, 6, 3, seed=0), 1)[0]
    with pytest.raises(ValueError, match=r"task 1 .* shape \(6,\) but task 0 .* \(8,\)"):
        run(net, [stream[0], odd], "ewc", progress=False)
    empty = replace(stream[1], x_train=stream[1].x_train[:0], y_train=stream[1].y_train[:0])
    with pytest.raises(ValueError, match="task 1 .* has no training samples"):
        run(net, [stream[0], empty], progress=False)
    with pytest.raises(ValueError, match="tasks is empty"):
        run(net, [], progress=False)
    with pytest.raises(ValueError, match=r"task 0 .* has label \d+ but the model outputs 3 logits"):
        run(net, split_tasks(make_teacher_classification(200, 8, 10, seed=0), 5), progress=False)
    with pytest.raises(TypeError, match="fresh optimiser"):
        run(net, stream, optimizer=torch.optim.SGD(net.parameters(), lr=0.1), progress=False)


def test_nan_loss_names_task_and_step(stream):
    bad = replace(stream[1], x_train=stream[1].x_train.clone())
    bad.x_train[37, 2] = float("nan")  # sample 37 of task 1
    with pytest.raises(FloatingPointError, match=r"task loss became nan on task 1 \(.*\) at step \d+"):
        run(small_net(), [stream[0], bad, stream[2]], "ewc", epochs=1, progress=False)
