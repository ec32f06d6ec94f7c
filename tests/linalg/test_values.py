"""Solver values against scipy.linalg (the independent reference) on random well-posed problems."""
from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg as sl
from scipy.integrate import quad_vec
import torch

import neurolatent.linalg as L

F64 = torch.float64


def _rand(gen, *shape):
    return torch.randn(*shape, dtype=F64, generator=gen)


def _relerr(x, ref):
    return float(np.abs(x - ref).max() / np.abs(ref).max())


def _stable(gen, batch, n, margin=0.5):
    """Hurwitz matrices: shift a scaled random matrix left of its spectral abscissa."""
    A = _rand(gen, batch, n, n) / np.sqrt(n)
    shift = torch.linalg.eigvals(A).real.amax(-1) + margin
    return A - shift[:, None, None] * torch.eye(n, dtype=F64)


# "scipy" is the CPU default; "eig" and "kron" are the batched device backends, checked on CPU.
# Tolerance 1e-10 relative (the bar): LAPACK and the refined eigen/Kronecker solves all
# reach ~1e-13 on these well-conditioned random problems, so 1e-10 leaves 1000x headroom.
# "kron" builds an (n^2 x n^2) system and is meant for small n only
SIZES_METHODS = [(n, m) for m in ("scipy", "eig", "kron") for n in (2, 5, 20, 50) if not (m == "kron" and n > 20)]


@pytest.mark.parametrize("n,method", SIZES_METHODS)
def test_sylvester_matches_scipy(n, method, seed):
    gen = torch.Generator().manual_seed(seed + n)
    batch, m = 3, max(n - 1, 1)
    A, B, C = _rand(gen, batch, n, n), _rand(gen, batch, m, m), _rand(gen, batch, n, m)
    X = L.solve_sylvester(A, B, C, method=method)
    assert X.shape == (batch, n, m) and X.dtype == F64
    for i in range(batch):
        ref = sl.solve_sylvester(A[i].numpy(), B[i].numpy(), C[i].numpy())
        assert _relerr(X[i].numpy(), ref) < 1e-10


@pytest.mark.parametrize("n,method", SIZES_METHODS)
def test_lyapunov_matches_scipy(n, method, seed):
    gen = torch.Generator().manual_seed(seed + 100 + n)
    A = _stable(gen, 2, n)
    Q = _rand(gen, 2, n, n)
    Ad = A / (1.2 * torch.linalg.eigvals(A).abs().amax(-1))[:, None, None]  # spectral radius 1/1.2
    X = L.solve_continuous_lyapunov(A, Q, method=method)
    Xd = L.solve_discrete_lyapunov(Ad, Q, method=method)
    for i in range(2):
        ref = sl.solve_continuous_lyapunov(A[i].numpy(), Q[i].numpy())
        refd = sl.solve_discrete_lyapunov(Ad[i].numpy(), Q[i].numpy())
        assert _relerr(X[i].numpy(), ref) < 1e-10   # see tolerance note above
        assert _relerr(Xd[i].numpy(), refd) < 1e-10


@pytest.mark.parametrize("n,m", [(2, 1), (6, 2), (20, 5), (50, 10)])
@pytest.mark.parametrize("method", ["scipy", "torch"])
def test_riccati_matches_scipy(n, m, method, seed):
    gen = torch.Generator().manual_seed(seed + 200 + n)
    A = _rand(gen, 2, n, n) / np.sqrt(n)                     # generally unstable: CARE stabilises it
    B = _rand(gen, 2, n, m)
    M = _rand(gen, n, n)
    Q = torch.eye(n, dtype=F64) + 0.1 * M @ M.T / n          # positive definite -> detectable
    R = torch.eye(m, dtype=F64) * 0.5 + 0.05 * torch.ones(m, m, dtype=F64)
    P = L.solve_continuous_are(A, B, Q, R, method=method)
    Pd = L.solve_discrete_are(A, B, Q, R, method=method)
    for i in range(2):
        ref = sl.solve_continuous_are(A[i].numpy(), B[i].numpy(), Q.numpy(), R.numpy())
        refd = sl.solve_discrete_are(A[i].numpy(), B[i].numpy(), Q.numpy(), R.numpy())
        # 1e-10 relative: scipy's own answer is symmetrised here, and the batched torch solvers
        # (Hamiltonian eigenvectors + 3 Newton steps; doubling) agree with LAPACK to ~1e-13.
        assert _relerr(P[i].numpy(), ref) < 1e-10
        assert _relerr(Pd[i].numpy(), refd) < 1e-10
    assert torch.allclose(P, P.mT)


def test_gramians_are_the_integrals(seed):
    """Gramians against independent quadrature / series (not another Lyapunov solve)."""
    gen = torch.Generator().manual_seed(seed)
    n = 4
    A = _stable(gen, 1, n, margin=1.0)[0]
    B = _rand(gen, n, 2)
    W = L.controllability_gramian(A, B)
    Anp, Bnp = A.numpy(), B.numpy()
    ref, _ = quad_vec(lambda s: sl.expm(Anp * s) @ Bnp @ Bnp.T @ sl.expm(Anp.T * s), 0, np.inf,
                      epsabs=1e-12, epsrel=1e-11)
    assert _relerr(W.numpy(), ref) < 1e-8      # adaptive quadrature asked for 1e-11 relative
    Ad = 0.8 * A / torch.linalg.eigvals(A).abs().max()
    Wd = L.controllability_gramian(Ad, B, discrete=True)
    series = sum(np.linalg.matrix_power(Ad.numpy(), k) @ Bnp @ Bnp.T @ np.linalg.matrix_power(Ad.numpy().T, k)
                 for k in range(400))
    assert _relerr(Wd.numpy(), series) < 1e-12   # truncation 0.8^800 is negligible
    C = _rand(gen, 3, n)
    Wo = L.observability_gramian(A, C)
    assert torch.allclose(A.T @ Wo + Wo @ A, -C.T @ C, atol=1e-10)


def test_float32_and_broadcasting(seed):
    gen = torch.Generator().manual_seed(seed)
    A = _rand(gen, 4, 5, 5)
    B = _rand(gen, 3, 3)                 # no batch dims: broadcast against A's (4,)
    C = _rand(gen, 1, 5, 3)
    X = L.solve_sylvester(A, B, C)
    assert X.shape == (4, 5, 3)
    assert torch.allclose(A @ X + X @ B, C.expand(4, 5, 3), atol=1e-10)
    X32 = L.solve_sylvester(A.float(), B.float(), C.float())
    assert X32.dtype == torch.float32
    # float32 result: computed in float64 by LAPACK then rounded, so ~1e-6 relative
    assert float((X32.double() - X).abs().max() / X.abs().max()) < 1e-5
    for method in ("eig", "kron"):     # device backends in float32: refinement keeps ~1e-5
        Xm = L.solve_sylvester(A.float(), B.float(), C.float(), method=method)
        assert float((Xm.double() - X).abs().max() / X.abs().max()) < 1e-3
    # empty batch
    assert L.solve_sylvester(A[:0], B, C[:0]).shape == (0, 5, 3)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["eig", "scipy"])
def test_large_batched_problems_match_scipy(method, seed):
    """n = 200 (the benchmark's largest size), batch 4: still 1e-10 relative in float64."""
    gen = torch.Generator().manual_seed(seed)
    n = 200
    A = _stable(gen, 4, n)
    Q = _rand(gen, 4, n, n)
    X = L.solve_continuous_lyapunov(A, Q, method=method)
    B = _stable(gen, 4, n)
    S = L.solve_sylvester(A, B, Q, method=method)
    for i in range(4):
        assert _relerr(X[i].numpy(), sl.solve_continuous_lyapunov(A[i].numpy(), Q[i].numpy())) < 1e-10
        assert _relerr(S[i].numpy(), sl.solve_sylvester(A[i].numpy(), B[i].numpy(), Q[i].numpy())) < 1e-10
