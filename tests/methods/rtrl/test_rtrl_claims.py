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
