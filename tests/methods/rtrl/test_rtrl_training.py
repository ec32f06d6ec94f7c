"""Online training loop and the variance helper: outputs, seeding, callbacks, bad input."""
from __future__ import annotations

import pytest
import torch

from neurolatent.methods.rtrl import OKRTRL, RTRL, CopyTask, TanhCell, gradient_variance, train_online


def _learner(method=RTRL, dtype=torch.float32, **kw):
    task = CopyTask(n_symbols=3, length=1, delay=2)
    cell = TanhCell(task.n_input, 8, seed=0, dtype=dtype)
    torch.manual_seed(0)
    return task, method(cell, torch.nn.Linear(8, task.n_output, dtype=dtype), **kw)


def test_train_online_records_a_curve_and_is_seeded():
    runs = []
    for _ in range(2):
        task, learner = _learner()
        opt = torch.optim.SGD(learner.parameters(), lr=0.1)
        runs.append(train_online(learner, task, opt, n_batches=6, batch_size=4, eval_every=3, eval_size=32, seed=5))
    ds = runs[0]
    assert ds.loss.dims == ("batch",) and ds.sizes["batch"] == 6
    assert list(ds.evaluated_at.values) == [0, 3, 6]
    assert ((ds.eval_accuracy >= 0) & (ds.eval_accuracy <= 1)).all()
    assert ds.attrs["method"] == "RTRL"
    assert (runs[0].loss.values == runs[1].loss.values).all()  # same seeds, same curve


def test_train_online_changes_the_parameters_and_stops_on_callback():
    task, learner = _learner(OKRTRL, r=2)
    before = learner.cell.weight.detach().clone()
    opt = torch.optim.Adam(learner.parameters(), lr=0.01)
    ds = train_online(learner, task, opt, n_batches=10, batch_size=4, eval_size=16, callback=lambda rec: rec["batch"] >= 2)
    assert ds.sizes["batch"] == 2
    assert not torch.equal(before, learner.cell.weight.detach())
    with pytest.raises(ValueError, match="update_every"):
        train_online(learner, task, opt, n_batches=1, update_every=0)


def test_gradient_variance_of_exact_rtrl_is_zero():
    task, learner = _learner(dtype=torch.float64)
    ds = gradient_variance(learner, task, n_noise=4, seed=0)
    # exact RTRL has no noise: zero variance and bias up to float64 rounding
    assert float(ds.variance) < 1e-24 and float(ds.bias) < 1e-12 and abs(float(ds.mean_cosine) - 1) < 1e-12
    with pytest.raises(ValueError, match="n_noise"):
        gradient_variance(learner, task, n_noise=1)
