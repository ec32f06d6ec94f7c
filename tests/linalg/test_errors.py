"""Ill-posed inputs raise errors that name the argument, what was expected and what to do."""
from __future__ import annotations

import pytest
import torch

import neurolatent.linalg as L

F64 = torch.float64


def test_sylvester_shared_eigenvalues_of_A_and_minus_B(seed):
    g = torch.Generator().manual_seed(seed)
    A = torch.randn(4, 4, dtype=F64, generator=g)
    with pytest.raises(ValueError, match=r"Sylvester equation .* is singular: A and -B"):
        L.solve_sylvester(A, -A, torch.ones(4, 4, dtype=F64))
    # one shared eigenvalue is enough
    A = torch.diag(torch.tensor([1.0, 2.0, 3.0], dtype=F64))
    B = torch.diag(torch.tensor([-2.0, 5.0], dtype=F64))
    with pytest.raises(ValueError, match="smallest gap"):
        L.solve_sylvester(A, B, torch.ones(3, 2, dtype=F64))


def test_lyapunov_singular_and_gramian_unstable():
    A = torch.diag(torch.tensor([1.0, -1.0], dtype=F64))         # a_1 + a_2 = 0
    with pytest.raises(ValueError, match="continuous Lyapunov"):
        L.solve_continuous_lyapunov(A, torch.eye(2, dtype=F64))
    with pytest.raises(ValueError, match="discrete Lyapunov"):
        L.solve_discrete_lyapunov(torch.diag(torch.tensor([2.0, 0.5], dtype=F64)), torch.eye(2, dtype=F64))
    unstable = torch.diag(torch.tensor([0.5, -1.0], dtype=F64))   # solvable Lyapunov, but no Gramian
    assert torch.isfinite(L.solve_continuous_lyapunov(unstable, torch.eye(2, dtype=F64))).all()
    with pytest.raises(ValueError, match=r"A is not stable: .*Hurwitz"):
        L.controllability_gramian(unstable, torch.ones(2, 1, dtype=F64))
    with pytest.raises(ValueError, match=r"spectral radius < 1"):
        L.controllability_gramian(torch.eye(2, dtype=F64) * 1.5, torch.ones(2, 1, dtype=F64), discrete=True)


def test_shapes_batches_and_nonfinite():
    I3 = torch.eye(3, dtype=F64)
    with pytest.raises(ValueError, match=r"A must be square .* got shape \(3, 2\)"):
        L.solve_sylvester(torch.ones(3, 2, dtype=F64), I3, torch.ones(3, 3, dtype=F64))
    with pytest.raises(ValueError, match=r"C must have shape \(\.\.\., 3, 2\)"):
        L.solve_sylvester(-I3, torch.eye(2, dtype=F64), torch.ones(3, 3, dtype=F64))
    with pytest.raises(ValueError, match=r"batch \(leading\) dimensions do not broadcast .*A: \(2,\).*Q: \(3,\)"):
        L.solve_continuous_lyapunov(-I3.expand(2, 3, 3), I3.expand(3, 3, 3))
    bad = -I3.clone()
    bad[0, 1] = float("nan")
    with pytest.raises(ValueError, match="A contains 1 non-finite"):
        L.solve_continuous_lyapunov(bad, I3)
    with pytest.raises(TypeError, match="B has dtype torch.float32 but A has torch.float64"):
        L.solve_sylvester(-I3, torch.eye(2), torch.ones(3, 2, dtype=F64))
    with pytest.raises(ValueError, match="A must be a matrix"):
        L.solve_continuous_lyapunov(torch.ones(3, dtype=F64), I3)


def test_riccati_errors():
    A = torch.diag(torch.tensor([1.0, -1.0], dtype=F64))
    B = torch.tensor([[0.0], [1.0]], dtype=F64)                  # unstable mode 1 unreachable
    Q, R = torch.eye(2, dtype=F64), torch.eye(1, dtype=F64)
    for solve in (L.solve_continuous_are, L.solve_discrete_are):
        Ause = A if solve is L.solve_continuous_are else 2 * torch.eye(2, dtype=F64) * A.abs()
        with pytest.raises(ValueError, match="no stabilising solution.*stabilisable"):
            solve(Ause, B, Q, R)
    with pytest.raises(ValueError, match="R must be symmetric positive definite"):
        L.solve_continuous_are(-torch.eye(2, dtype=F64), B, Q, -R)
    with pytest.raises(ValueError, match=r"Q must have shape \(\.\.\., 2, 2\)"):
        L.solve_continuous_are(-torch.eye(2, dtype=F64), B, torch.eye(3, dtype=F64), R)
