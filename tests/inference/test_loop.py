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


def _trace(n, scale=1.0, shift=0.0, seed=0):
    """A saturating ELBO curve with Monte-Carlo-like noise: shift + scale * (1 - exp(-t/150) + noise)."""
    import numpy as np

    t = np.arange(1, n + 1)
    noise = np.random.default_rng(seed).normal(0, 2e-3, n)
    return shift + scale * (1 - np.exp(-t / 150.0) + noise)


def test_early_stopping_is_relative_to_the_gain_so_far():
    es = EarlyStopping()
    base = es.first_plateau(_trace(3000))
    assert base is not None and es.min_steps <= base < 3000
    # the same curve in other units or with another zero stops at the same step: the threshold is a
    # fraction of the gain, and an affine map with a positive factor preserves every comparison
    # (up to float rounding, which the tolerance-free equality below would show if it mattered)
    assert es.first_plateau(_trace(3000, scale=1e4, shift=-5e6)) == base
    assert es.first_plateau(_trace(3000, scale=1e-3, shift=0.0)) == base
    # at the stop, the gain still to come is a small fraction of the total (1 - exp(-t/150) closed form)
    import math

    assert math.exp(-base / 150.0) < 0.02


def test_early_stopping_never_fires_on_a_steady_rise_nor_before_min_steps():
    es = EarlyStopping(min_steps=300)
    assert es.first_plateau([float(t) for t in range(2000)]) is None  # linear growth: never a plateau
    assert es.first_plateau([1.0] * 299) is None  # flat from the start, but fewer than min_steps


def test_early_stopping_records_the_step_in_a_fit():
    m = Quad()
    es = EarlyStopping(patience=20, window=5, min_steps=30, rel_tol=1e-3)
    hist = run_optimisation(m.step_fn, m, m.parameters(), max_steps=5000, lr=0.05, progress=False, early_stopping=es)
    assert es.stopped_at == len(hist.step) < 5000


@pytest.mark.parametrize("kw", [{"patience": 0}, {"window": 0}, {"rel_tol": -1.0}])
def test_early_stopping_rejects_bad_settings(kw):
    with pytest.raises(ValueError, match="EarlyStopping"):
        EarlyStopping(**kw)


def test_sigint_stops_at_the_step_boundary_with_a_checkpoint(tmp_path):
    import signal

    from neurolatent.inference import FitInterrupted

    m = Quad()

    def cb(state):
        if state.step == 7:
            signal.raise_signal(signal.SIGINT)  # delivered to the loop's handler: only sets the flag

    ck = Checkpoint(tmp_path / "ck.pt", every=1000)
    with pytest.raises(FitInterrupted) as exc:
        run_optimisation(m.step_fn, m, m.parameters(), max_steps=100, progress=False, callback=cb, checkpoint=ck)
    # the signal came during step 7's callback; step 8 ran to its end, then the loop stopped
    assert exc.value.step == 8 and exc.value.checkpoint == ck.path
    state = torch.load(ck.path, weights_only=True)
    assert state["step"] == 8 and state["extra"]["stop_reason"] == "interrupted"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # handler restored
    # resuming continues from step 8
    hist = run_optimisation(m.step_fn, m, m.parameters(), max_steps=12, progress=False, checkpoint=ck)
    assert hist.step == list(range(1, 13))


def test_second_sigint_aborts_at_once():
    import signal

    from neurolatent.inference import FitInterrupted

    m = Quad()

    def cb(state):
        if state.step == 3:
            signal.raise_signal(signal.SIGINT)
            signal.raise_signal(signal.SIGINT)  # the second one raises here, inside the step
            raise AssertionError("not reached")

    with pytest.raises(KeyboardInterrupt) as exc:
        run_optimisation(m.step_fn, m, m.parameters(), max_steps=100, progress=False, callback=cb)
    assert not isinstance(exc.value, FitInterrupted)
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_resuming_a_converged_checkpoint_runs_no_more_steps(tmp_path):
    m = Quad()
    es = EarlyStopping(patience=20, window=5, min_steps=30, rel_tol=1e-3)
    ck = Checkpoint(tmp_path / "ck.pt", every=1000)
    hist = run_optimisation(m.step_fn, m, m.parameters(), max_steps=5000, lr=0.05, progress=False,
                            early_stopping=es, checkpoint=ck)
    n = len(hist.step)
    b = Quad()
    es2 = EarlyStopping(patience=20, window=5, min_steps=30, rel_tol=1e-3)
    hist2 = run_optimisation(b.step_fn, b, b.parameters(), max_steps=5000, lr=0.05, progress=False,
                             early_stopping=es2, checkpoint=ck)
    assert len(hist2.step) == n and es2.stopped_at == n
    assert torch.equal(b.x.detach(), m.x.detach())
