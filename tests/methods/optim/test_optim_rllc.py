"""RLLC: the law adapts as designed, stays bounded, and beats first-order baselines at equal budget."""
from __future__ import annotations

import pytest
import torch

from _optim_helpers import adam, best_loss, momentum, sgd
from neurolatent.methods.common import MLP, load_digits
from neurolatent.methods.optim import RLLC


def test_law_grows_when_steps_are_too_short():
    """On f = |w|^2/2 with c1 = 0.01 (100x too short) the law of the gradient unit must grow."""
    w = torch.nn.Parameter(torch.tensor([4.0, -3.0], dtype=torch.float64))
    opt = RLLC([w], lr=0.01, law_lr=0.5, betas=(0.0,), law_init=(1.0,))
    for _ in range(30):
        opt.zero_grad()
        (0.5 * w.pow(2).sum()).backward()
        opt.step()
    # Exact retrospective step: g_{t+1} = (1 - c1 L) g_t, so L grows by c2 (1 - c1 L)/(1 + eps) towards 1/c1.
    assert float(opt.law[0]) > 10.0  # from 1 towards 1/c1 = 100; 30 steps of ~0.5 each
    assert float(w.detach().abs().max()) < 0.5 * 4.0  # and it converged faster than SGD's (0.99)^30 = 0.74


def test_retrospective_update_matches_formula(seed):
    torch.manual_seed(seed)
    p = torch.nn.Parameter(torch.randn(5, dtype=torch.float64))
    a = torch.randn(5, 5, dtype=torch.float64)
    h = a @ a.T + torch.eye(5, dtype=torch.float64)
    opt = RLLC([p], lr=0.05, law_lr=0.3, betas=(0.0, 0.9), eps=1e-3)
    grads, mems, laws = [], [], []
    for _ in range(3):
        opt.zero_grad()
        (0.5 * p @ h @ p).backward()
        grads.append(p.grad.clone())
        laws.append(opt.law.clone())
        opt.step()
        mems.append(opt.state[p]["memory"].clone())
    # law after step 3 = law before + c2 (M^T M + eps tr/k I)^{-1} M^T g_3, with M the memory after step 2
    m = mems[1].T
    gram = m.T @ m
    coef = torch.linalg.solve(gram + 1e-3 * gram.trace() / 2 * torch.eye(2, dtype=torch.float64), m.T @ grads[2])
    torch.testing.assert_close(opt.law, laws[2] + 0.3 * coef, rtol=1e-10, atol=1e-12)  # float64 algebra


DIGITS_GRIDS = {"sgd": [0.1, 0.3, 1.0, 3.0], "momentum": [0.01, 0.03, 0.1, 0.3], "adam": [3e-3, 1e-2, 3e-2, 1e-1],
                "rllc": [0.1, 0.3, 1.0, 3.0]}


def _digits_mlp(s):
    return MLP(64, (64, 64), 10, seed=s)


def test_rllc_beats_sgd_at_equal_budget_and_law_bounded():
    """Digits, MLP 64-64-64-10, 3 epochs, 4 learning rates each (RLLC: c1 grid, c2 = 0.2, k = 3).

    Measured best training losses (seed 0): RLLC 0.079, SGD 0.278 (ratio 0.28). Margin: RLLC < 0.7 x SGD.
    Law: over seeds 0-2, max |L| was 7.9 / 6.7 / 7.4 for c1 = 0.1 and 5.6 / 4.5 / 4.9 for c1 = 0.3 (the
    effective rate c1 |L| stays below ~2); we require max |L| < 20 and finite. With c1 = 3 training
    can diverge and the law with it (seed 1: |L| ~ 9e4) -- ``max_law`` is the safeguard for that.
    """
    d = load_digits(seed=0)
    opts = []

    def rllc(m, lr):
        opts.append(RLLC(m.parameters(), lr=lr, law_lr=0.2))
        return opts[-1]

    r, _ = best_loss(_digits_mlp, rllc, DIGITS_GRIDS["rllc"], d, epochs=3, seed=0)
    s, _ = best_loss(_digits_mlp, sgd, DIGITS_GRIDS["sgd"], d, epochs=3, seed=0)
    assert r < 0.7 * s, (r, s)
    for opt in opts[:2]:  # c1 = 0.1, 0.3 train without divergence (c1 = 3 diverges, the law cannot save it)
        hist = torch.stack(opt.law_history)
        assert torch.isfinite(hist).all() and float(hist.abs().max()) < 20.0


@pytest.mark.slow
def test_rllc_vs_sgd_momentum_adam_on_digits():
    """Same setting, seeds 0-2, against SGD, momentum 0.9 and Adam (4-value grids each).

    Measured best training losses (seeds 0, 1, 2): RLLC 0.079 / 0.060 / 0.074, SGD 0.278 / 0.155 / 0.222,
    momentum 0.126 / 0.119 / 0.248, Adam 0.091 / 0.073 / 0.052.

    * vs SGD and momentum (robust): RLLC < 0.8 x each (observed ratios 0.30-0.67).
    * vs Adam the paper's claim is *not* robust here: RLLC won on seeds 0, 1 (ratios 0.87, 0.82) and
      lost on seed 2 (1.42). Re-checked (the update matches theta <- theta - c1 M L, L <- L + c2 M^+ g with
      g measured after the step and M the memory that made it, ridge eps tr(M^T M)/k): no setting won on
      all three seeds. RLLC / Adam ratios on seeds 0 / 1 / 2, each RLLC row a 4-value c1 grid:
      k = 2 (betas 0, 0.9): c2 = 0.05 0.94 / 1.05 / 1.66, c2 = 0.2 1.18 / 0.92 / 1.70, c2 = 0.5 1.45 / 0.92 / 1.90;
      k = 3 (0, 0.9, 0.99): c2 = 0.05 1.02 / 1.02 / 2.12, c2 = 0.2 0.87 / 0.82 / 1.42, c2 = 0.5 0.91 / 0.84 / 1.40;
      k = 4 (0, 0.5, 0.9, 0.99): c2 = 0.05 0.98 / 1.04 / 2.27, c2 = 0.2 0.78 / 0.91 / 1.48, c2 = 0.5 0.85 / 0.77 / 1.20;
      k = 3, c2 = 0.2 with ridge eps = 0.01 / 0.1 / 1: 0.76 / 0.82 / 1.56, 0.89 / 0.78 / 1.50, 1.14 / 1.09 / 1.76.
      Longer training favours Adam: after 10 epochs (Adam 0.0092 / 0.022 / 0.012) RLLC k = 3, c2 = 0.2 scored
      ratios 3.6 / 2.0 / 5.7 and k = 4, c2 = 0.5 3.4 / 3.0 / 3.2. On ``make_teacher_classification(1500, 20,
      4)`` Adam won on both seeds tried (RLLC 0.307 / 0.312 vs 0.279 / 0.256). We only assert that RLLC is
      competitive after 3 epochs: < 2 x Adam.
    """
    d = load_digits(seed=0)
    for seed in (0, 1, 2):
        r, _ = best_loss(_digits_mlp, lambda m, lr: RLLC(m.parameters(), lr=lr, law_lr=0.2), DIGITS_GRIDS["rllc"],
                         d, epochs=3, seed=seed)
        s_, m_, a_ = (best_loss(_digits_mlp, f, DIGITS_GRIDS[k], d, epochs=3, seed=seed)[0]
                      for k, f in (("sgd", sgd), ("momentum", momentum), ("adam", adam)))
        assert r < 0.8 * min(s_, m_), (seed, r, s_, m_)
        assert r < 2.0 * a_, (seed, r, a_)


def test_bad_input():
    p = [torch.nn.Parameter(torch.zeros(2))]
    with pytest.raises(ValueError, match="lr"):
        RLLC(p, lr=0.0)
    with pytest.raises(ValueError, match="betas"):
        RLLC(p, betas=(0.5, 1.0))
    with pytest.raises(ValueError, match="law_init"):
        RLLC(p, betas=(0.0, 0.9), law_init=(1.0,))
    opt = RLLC(p)
    p[0].grad = torch.tensor([float("nan"), 0.0])
    with pytest.warns(RuntimeWarning, match="NaN or inf"):
        opt.step()
    assert torch.equal(p[0].detach(), torch.zeros(2)) and not opt.law_history
    with pytest.raises(FloatingPointError):
        RLLC(p, nonfinite="raise").step()
