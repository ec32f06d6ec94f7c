"""Inverse control: gradients through the Riccati/Lyapunov solvers drive an objective to a target."""
from __future__ import annotations

import torch

import neurolatent.linalg as L

F64 = torch.float64


def _lbfgs(params, loss_fn, steps=4):
    opt = torch.optim.LBFGS(params, lr=1, max_iter=100, line_search_fn="strong_wolfe",
                            tolerance_grad=1e-14, tolerance_change=1e-16)

    def closure():
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        return loss

    with torch.no_grad():
        first = float(loss_fn())
    for _ in range(steps):
        opt.step(closure)
    with torch.no_grad():
        return first, float(loss_fn())


def test_learn_state_cost_from_lqr_gain(seed):
    """Inverse LQR: find Q whose optimal gain equals the gain of a hidden Q*."""
    g = torch.Generator().manual_seed(seed)
    n, m = 4, 2
    A = torch.randn(n, n, dtype=F64, generator=g) / 2
    B = torch.randn(n, m, dtype=F64, generator=g)
    R = torch.eye(m, dtype=F64)
    M = torch.randn(n, n, dtype=F64, generator=g)
    Q_star = M @ M.T / n + 0.5 * torch.eye(n, dtype=F64)

    def gain(Q):
        return torch.linalg.solve(R, B.T @ L.solve_continuous_are(A, B, Q, R))

    K_star = gain(Q_star)
    Lq = torch.eye(n, dtype=F64).requires_grad_()
    loss = lambda: (gain(Lq @ Lq.T + 1e-3 * torch.eye(n, dtype=F64)) - K_star).square().sum() / K_star.square().sum()  # noqa: E731,E501
    first, last = _lbfgs([Lq], loss)
    assert first > 1e-2                  # the start is far from the target ...
    assert last < 1e-10                  # ... and L-BFGS reaches it (measured ~1e-13)


def test_learn_input_matrix_from_gramian(seed):
    """Find B whose controllability Gramian equals a target Gramian (discrete and continuous)."""
    g = torch.Generator().manual_seed(seed + 1)
    n, m = 4, 2
    A = torch.randn(n, n, dtype=F64, generator=g) / 2
    A = A - (torch.linalg.eigvals(A).real.max() + 0.5) * torch.eye(n, dtype=F64)
    for discrete, Asys in ((False, A), (True, 0.7 * A / torch.linalg.eigvals(A).abs().max())):
        W_star = L.controllability_gramian(Asys, torch.randn(n, m, dtype=F64, generator=g), discrete=discrete)
        Bl = torch.randn(n, m, dtype=F64, generator=g).requires_grad_()
        loss = lambda: (L.controllability_gramian(Asys, Bl, discrete=discrete) - W_star).square().sum() / W_star.square().sum()  # noqa: E731,E501
        first, last = _lbfgs([Bl], loss)
        assert first > 1e-2
        assert last < 1e-8               # the Gramian is matched (B itself only up to B -> B U)
