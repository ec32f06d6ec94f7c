"""The generic fit loop: convergence, callbacks, checkpoint/resume, early stopping, errors."""
import math

import pytest
import torch

from neurolatent.inference import Checkpoint, EarlyStopping, FitState, History, run_optimisation


class Quad(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.x = torch.nn.Parameter(torch.zeros(2, dtype=torch.float64))

    def step_fn(self, step):
        obj = -((self.x - torch.tensor([3.0, -1.0], dtype=torch.float64)) ** 2).sum()
        return obj, float(obj.detach())


def test_maximises_a_concave_objective():
    m = Quad()
    hist = run_optimisation(m.step_fn, m, m.parameters(), max_steps=600, lr=0.05, progress=False)
    # Adam with lr 0.05 reaches the optimum of a quadratic to well below 1e-3 in 600 steps
    assert torch.allclose(m.x.detach(), torch.tensor([3.0, -1.0], dtype=torch.float64), atol=1e-3)
    assert len(hist.elbo) == 600 and hist.elbo[-1] > hist.elbo[0]


def test_callback_sees_state_and_can_stop():
    m = Quad()
    seen = []

    def cb(state: FitState):
        seen.append((state.step, state.elbo, state.model is m))
        return state.step == 5

    hist = run_optimisation(m.step_fn, m, m.parameters(), max_steps=100, progress=False, callback=cb)
    assert len(hist.step) == 5 and [s for s, _, _ in seen] == [1, 2, 3, 4, 5]
    assert all(ok for _, _, ok in seen)

    def cb2(state):
        state.stop = state.step >= 3

    assert len(run_optimisation(m.step_fn, m, m.parameters(), max_steps=100, progress=False, callback=cb2).step) == 3


def test_checkpoint_resume_equals_uninterrupted_run(tmp_path):
    ref = Quad()
    run_optimisation(ref.step_fn, ref, ref.parameters(), max_steps=20, lr=0.1, progress=False)
    ck = Checkpoint(tmp_path / "ck.pt", every=5)
    a = Quad()
    run_optimisation(a.step_fn, a, a.parameters(), max_steps=10, lr=0.1, progress=False, checkpoint=ck)
    assert ck.path.exists()
    state = torch.load(ck.path, weights_only=True)  # plain tensors/lists only
    assert state["step"] == 10
    b = Quad()  # a fresh process would start like this
    hist = run_optimisation(b.step_fn, b, b.parameters(), max_steps=20, lr=0.1, progress=False, checkpoint=str(ck.path))
    assert hist.step == list(range(1, 21))
    # Adam state is restored too, so the resumed run is bit-for-bit the uninterrupted one
    assert torch.equal(b.x.detach(), ref.x.detach())


def test_early_stopping_on_plateau():
    m = Quad()
    es = EarlyStopping(patience=20, window=5, min_steps=30, rel_tol=0.0, abs_tol=1e-6)
    hist = run_optimisation(m.step_fn, m, m.parameters(), max_steps=5000, lr=0.05, progress=False, early_stopping=es)
    assert len(hist.step) < 5000
    # stopped only once the window-mean objective stopped improving by 1e-6: x is at the optimum
    # up to Adam's residual oscillation (a few 1e-2 at lr 0.05)
    assert m.x.detach()[0].item() == pytest.approx(3.0, abs=0.05)


def test_non_finite_objective_raises():
    m = Quad()

    def bad(step):
        o = m.x.sum() * float("nan")
        return o, math.nan

    with pytest.raises(FloatingPointError, match="lr="):
        run_optimisation(bad, m, m.parameters(), max_steps=3, progress=False)


def test_progress_bar_and_history_roundtrip(capsys):
    m = Quad()
    hist = run_optimisation(m.step_fn, m, m.parameters(), max_steps=3, progress=True)
    assert History.from_dict(hist.as_dict()) == hist
    with pytest.raises(TypeError):
        Checkpoint.coerce(3)
