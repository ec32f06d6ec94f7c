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


@pytest.mark.parametrize("method", ["rtrl", "uoro", "kf", "ok", "tbptt"])
def test_checkpoint_continues_bit_identically(method, tmp_path):
    from neurolatent.methods.rtrl import KFRTRL, TBPTT, UORO

    make = {"rtrl": lambda c, r: RTRL(c, r), "uoro": lambda c, r: UORO(c, r, seed=2), "kf": lambda c, r: KFRTRL(c, r, seed=2),
            "ok": lambda c, r: OKRTRL(c, r, r=2, seed=2), "tbptt": lambda c, r: TBPTT(c, r, h=3)}[method]
    task = CopyTask(n_symbols=3, length=2, delay=4)
    x, y = task.sample(3, seed=0)
    cell = TanhCell(task.n_input, 6, seed=0)
    readout = torch.nn.Linear(6, task.n_output)
    a = make(cell, readout)
    a.reset(3)
    for t in range(4):
        a.step(x[t], y[t])
    torch.save(a.state_dict(), tmp_path / "ckpt.pt")
    for t in range(4, len(x)):
        a.step(x[t], y[t])
    b = make(cell, readout)
    b.load_state_dict(torch.load(tmp_path / "ckpt.pt"))
    for t in range(4, len(x)):
        b.step(x[t], y[t])
    for (k, ga), gb in zip(a.gradient().items(), b.gradient().values()):
        assert torch.equal(ga, gb), k  # same state, same noise stream: bit-identical
    assert torch.equal(a.h, b.h)
    with pytest.raises(ValueError, match="saved by"):
        (RTRL(cell, readout) if method != "rtrl" else UORO(cell, readout)).load_state_dict(a.state_dict())
