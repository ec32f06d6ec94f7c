"""compare_manifolds: a progress bar that moves with every optimisation step and stays; early stopping."""
import json

import numpy as np

from neurolatent.datasets.synthetic_manifolds import make_manifold_recording
from neurolatent.inference import EarlyStopping
from neurolatent.models import compare_manifolds
from neurolatent.models import crossval


class _RecordingBar:
    """Stands in for tqdm: records the constructor's options and every update."""

    made = []

    def __init__(self, total=None, leave=False, disable=False, **kw):
        self.total, self.leave, self.disable, self.updates, self.closed = total, leave, disable, [], False
        _RecordingBar.made.append(self)

    def update(self, n=1):
        self.updates.append(n)

    def set_postfix_str(self, *a, **k):
        pass

    def close(self):
        self.closed = True


def test_bar_moves_per_step_and_stays(monkeypatch):
    monkeypatch.setattr(crossval, "tqdm", _RecordingBar)
    _RecordingBar.made.clear()
    ds = make_manifold_recording("T1", n_neurons=6, n_time=40, noise=0.1, seed=2)
    cv = compare_manifolds(ds["Y"], ["T1", "R1"], folds=2, max_steps=12, infer_steps=5, n_samples=8,
                           early_stopping=False, model_kwargs={"n_inducing": 6})
    (bar,) = _RecordingBar.made
    assert bar.leave and not bar.disable and bar.closed
    assert bar.total == 4 * 12  # 2 manifolds x 2 folds x max_steps
    # one update of 1 per optimisation step of every fit (4 fits x 12 steps), then 0 handed over per fit
    assert bar.updates.count(1) == 4 * 12 and sum(bar.updates) == bar.total
    assert cv.attrs["early_stopping"] == 0 and cv.attrs["infer_steps"] == 5


def test_early_stopping_ends_folds_before_the_bound():
    ds = make_manifold_recording("T1", n_neurons=6, n_time=40, noise=0.1, seed=2)
    es = EarlyStopping(patience=10, window=5, min_steps=30)
    cv = compare_manifolds(ds["Y"], ["T1", "R1"], folds=2, max_steps=3000, infer_steps=5, n_samples=8,
                           early_stopping=es, progress=False, model_kwargs={"n_inducing": 6})
    steps = np.array(json.loads(cv.attrs["steps_per_fit"]))
    assert steps.shape == (2, 2) and np.all(steps >= 30) and np.all(steps < 3000)
    assert es.stopped_at is None  # the caller's criterion is copied per fit, never mutated
