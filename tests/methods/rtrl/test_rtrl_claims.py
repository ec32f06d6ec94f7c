"""Paper claims at small scale: the variance ordering UORO >> KF-RTRL > OK(1) > OK(2) > ... (three
network seeds), and (slow) online OK(r) learning a lag longer than TBPTT's horizon.

Numbers measured when this was written (tanh cell n = 16, copy task length 2 / delay 10, T = 14,
100 noise draws, noise seed 1), normalised variance E||g~ - g||^2 / ||g||^2:

=====  ======  =====  =====  =====  ======  ======
seed   UORO    KF     OK(1)  OK(2)  OK(4)   OK(8)
=====  ======  =====  =====  =====  ======  ======
0      155.6   6.97   4.90   1.50   0.219   0.0049
1      138.0   7.58   5.83   1.92   0.205   0.0060
2      89.4    4.06   2.78   0.70   0.0186  0.0012
=====  ======  =====  =====  =====  ======  ======

(gated cell, same settings: UORO 32-58, KF 3.2-4.2, OK(1) 0.85-1.45, OK(2) 0.07-0.13, OK(4) 0.002.)
"""
from __future__ import annotations

import pytest
import torch

from neurolatent.methods.rtrl import KFRTRL, OKRTRL, TBPTT, UORO, CopyTask, TanhCell, gradient_variance, train_online

TASK = CopyTask(n_symbols=4, length=2, delay=10)


@pytest.fixture(scope="module")
def variances():
    out = {}
    for seed in range(3):
        cell = TanhCell(TASK.n_input, 16, seed=seed, dtype=torch.float64)
        readout = torch.nn.Linear(16, TASK.n_output, dtype=torch.float64)
        methods = {"uoro": UORO(cell, readout, seed=1), "kf": KFRTRL(cell, readout, seed=1)}
        methods.update({f"ok{r}": OKRTRL(cell, readout, r=r, seed=1) for r in (1, 2, 4, 8)})
        out[seed] = {k: float(gradient_variance(m, TASK, n_noise=100, seed=seed).variance) for k, m in methods.items()}
    return out


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_variance_ordering(variances, seed):
    v = variances[seed]
    # UORO >> KF-RTRL: measured ratios 13-22x; require 5x (the Monte-Carlo error of a variance from
    # 100 draws is tens of per cent, not a factor of 2)
    assert v["uoro"] > 5 * v["kf"], v
    # KF-RTRL > OK(1) (OK(1) is the optimal unbiased rank-one reduction; measured 1.3-1.5x)
    assert v["kf"] > v["ok1"], v
    # falling with r: measured 3-4x per doubling at r = 1 -> 2 and >= 7x after
    assert v["ok1"] > 1.5 * v["ok2"] > 0 and v["ok2"] > 2 * v["ok4"] and v["ok4"] > 2 * v["ok8"], v


LONG_TASK = CopyTask(n_symbols=4, length=1, delay=7, distractors=True)  # recall lag 8 steps
HORIZON = 2


def _final_accuracy(make_learner, seed, n_batches=100):
    cell = TanhCell(LONG_TASK.n_input, 16, seed=seed, gain=0.3)  # small gain: no free memory at init
    torch.manual_seed(seed)
    readout = torch.nn.Linear(16, LONG_TASK.n_output)
    learner = make_learner(cell, readout, seed)
    opt = torch.optim.Adam(learner.parameters(), lr=0.01)
    ds = train_online(learner, LONG_TASK, opt, n_batches=n_batches, batch_size=16, eval_every=n_batches, seed=seed)
    return float(ds.eval_accuracy[-1])


@pytest.mark.slow
def test_ok_learns_a_lag_longer_than_the_tbptt_horizon():
    """Online updates (Adam 0.01, every step), tanh n = 16, delayed recall with distractors at lag 8,
    TBPTT horizon 2; three seeds, 100 batches of 16 sequences. Chance accuracy is 0.25."""
    ok = [_final_accuracy(lambda c, r, s: OKRTRL(c, r, r=2, seed=s), s) for s in range(3)]
    tb = [_final_accuracy(lambda c, r, s: TBPTT(c, r, h=HORIZON), s) for s in range(3)]
    print("OK(2)", ok, "TBPTT(2)", tb)
    # TBPTT cannot credit the symbol 8 steps back: it stays near chance (0.25; allow 0.45 for the
    # readout picking up what the initial dynamics still carry). OK(2) gets the gradient across the
    # lag and is clearly above it on average. Measured when written (seeds 0, 1, 2): OK(2) 0.58,
    # 0.74, 1.00 (mean 0.77); TBPTT(2) 0.26, 0.30, 0.29 (mean 0.28); about 32 s on a loaded CPU.
    assert sum(tb) / 3 < 0.45, tb
    assert sum(ok) / 3 > sum(tb) / 3 + 0.15, (ok, tb)
