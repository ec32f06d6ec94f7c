r"""Differentiable continuous- and discrete-time Lyapunov equations, and Gramians.

Conventions follow :mod:`scipy.linalg`:

* continuous: :math:`AX + XA^\top = Q` (:func:`solve_continuous_lyapunov`);
* discrete (Stein): :math:`AXA^\top - X + Q = 0` (:func:`solve_discrete_lyapunov`).

Implicit differentiation (Kao & Hennequin 2020) gives, for the continuous equation,
:math:`\dot X = \mathrm{lyap}(A,\ \dot Q - \dot A X - X\dot A^\top)` and, with
:math:`\bar Y = \mathrm{lyap}(A^\top, \bar X)`, the cotangents :math:`\bar Q = \bar Y`,
:math:`\bar A = -(\bar Y X^\top + \bar Y^\top X)`. For the discrete equation
:math:`\dot X = \mathrm{dlyap}(A,\ \dot Q + \dot A X A^\top + A X \dot A^\top)` and, with
:math:`\bar Y = \mathrm{dlyap}(A^\top, \bar X)`, :math:`\bar Q = \bar Y`,
:math:`\bar A = \bar Y A X^\top + \bar Y^\top A X`.

Which functions need stability? The Lyapunov solvers need only unique solvability
(:math:`a_i + a_j \ne 0`, resp. :math:`a_i a_j \ne 1`); the Gramians are integrals/sums that
converge only for a stable ``A`` (Hurwitz, resp. spectral radius < 1) and check it.
"""
from __future__ import annotations

import torch

from . import _backends
from ._checks import (as_float_tensor, broadcast_batch, check_finite, check_same_device_dtype,
                      check_spectral_gap, check_square)
from .sylvester import _MatrixEquation, _zeros_if_none

__all__ = ["solve_continuous_lyapunov", "solve_discrete_lyapunov", "controllability_gramian",
           "observability_gramian"]


class _ContinuousLyapunov(_MatrixEquation):
    @staticmethod
    def forward(A, Q, method):
        return _backends.lyapunov_forward(A, Q, method)

    @staticmethod
    def backward(ctx, gX):
        A, X = ctx.saved_tensors
        Y = _ContinuousLyapunov.apply(A.mT, gX, ctx.method)
        gA = -(Y @ X.mT + Y.mT @ X) if ctx.needs_input_grad[0] else None
        return gA, Y, None

    @staticmethod
    def jvp(ctx, dA, dQ, _):
        A, X = ctx.saved_tensors
        rhs = _zeros_if_none(dQ, X)
        if dA is not None:
            rhs = rhs - dA @ X - X @ dA.mT
        return _ContinuousLyapunov.apply(A, rhs, ctx.method)


class _DiscreteLyapunov(_MatrixEquation):
    @staticmethod
    def forward(A, Q, method):
        return _backends.discrete_lyapunov_forward(A, Q, method)

    @staticmethod
    def backward(ctx, gX):
        A, X = ctx.saved_tensors
        Y = _DiscreteLyapunov.apply(A.mT, gX, ctx.method)
        gA = (Y @ A @ X.mT + Y.mT @ A @ X) if ctx.needs_input_grad[0] else None
        return gA, Y, None

    @staticmethod
    def jvp(ctx, dA, dQ, _):
        A, X = ctx.saved_tensors
        rhs = _zeros_if_none(dQ, X)
        if dA is not None:
            rhs = rhs + dA @ X @ A.mT + A @ X @ dA.mT
        return _DiscreteLyapunov.apply(A, rhs, ctx.method)


def _prepare(A, Q, qname="Q"):
    A = as_float_tensor(A, "A")
    Q = as_float_tensor(Q, qname, like=A)
    check_same_device_dtype({"A": A, qname: Q})
    n = check_square(A, "A")
    if Q.shape[-2:] != (n, n):
        raise ValueError(f"{qname} must have shape (..., {n}, {n}) to match A, got {tuple(Q.shape)}; "
                         f"pass an n x n right-hand side with n = size of A")
    (A, Q), _ = broadcast_batch({"A": A, qname: Q})
    return A, Q


def solve_continuous_lyapunov(A, Q, *, method: str = "auto", check: bool = True) -> torch.Tensor:
    r"""Solve :math:`AX + XA^\top = Q` (scipy's convention), differentiably.

    Unique iff :math:`a_i + a_j \ne 0` for all eigenvalues of ``A``; ``A`` need not be stable
    (for the Gramian :math:`\int_0^\infty e^{At}BB^\top e^{A^\top t}dt` use
    :func:`controllability_gramian`, which requires stability).

    Parameters
    ----------
    A, Q : tensor, shape (..., n, n)
        Real float32/float64; batch dimensions broadcast.
    method : {"auto", "scipy", "eig", "kron"}
        Forward algorithm, as in :func:`~neurolatent.linalg.solve_sylvester`.
    check : bool
        Validate shapes, finiteness and unique solvability.

    Returns
    -------
    X : tensor, shape (..., n, n)

    Examples
    --------
    >>> import torch
    >>> A = torch.tensor([[-1.0, 2.0], [0.0, -3.0]], dtype=torch.float64)
    >>> Q = -torch.eye(2, dtype=torch.float64)
    >>> X = solve_continuous_lyapunov(A, Q)
    >>> torch.allclose(A @ X + X @ A.T, Q)
    True
    """
    A, Q = _prepare(A, Q)
    if check:
        check_finite(A, "A")
        check_finite(Q, "Q")
        with torch.no_grad():
            ev = torch.linalg.eigvals(A)
            check_spectral_gap(ev, ev, 2 * torch.linalg.matrix_norm(A), kind="sum", names=("A", "A"),
                               what="the continuous Lyapunov equation AX + XA^T = Q")
    return _ContinuousLyapunov.apply(A, Q, method)


def solve_discrete_lyapunov(A, Q, *, method: str = "auto", check: bool = True) -> torch.Tensor:
    r"""Solve :math:`AXA^\top - X + Q = 0` (scipy's convention), differentiably.

    Unique iff :math:`a_i a_j \ne 1` for all eigenvalues of ``A``; ``A`` need not be stable.

    Parameters
    ----------
    A, Q : tensor, shape (..., n, n)
    method : {"auto", "scipy", "eig", "kron"}
    check : bool

    Returns
    -------
    X : tensor, shape (..., n, n)

    Examples
    --------
    >>> import torch
    >>> A = torch.tensor([[0.5, 0.1], [0.0, -0.3]], dtype=torch.float64)
    >>> Q = torch.eye(2, dtype=torch.float64)
    >>> X = solve_discrete_lyapunov(A, Q)
    >>> torch.allclose(A @ X @ A.T - X + Q, torch.zeros(2, 2, dtype=torch.float64))
    True
    """
    A, Q = _prepare(A, Q)
    if check:
        check_finite(A, "A")
        check_finite(Q, "Q")
        with torch.no_grad():
            ev = torch.linalg.eigvals(A)
            check_spectral_gap(ev, ev, torch.ones(A.shape[:-2], dtype=A.dtype, device=A.device),
                               kind="product", names=("A", "A"),
                               what="the discrete Lyapunov equation AXA^T - X + Q = 0")
    return _DiscreteLyapunov.apply(A, Q, method)


def _check_stable(A: torch.Tensor, discrete: bool, name: str = "A") -> None:
    with torch.no_grad():
        ev = torch.linalg.eigvals(A)
        if discrete:
            worst = ev.abs().amax(-1)
            bad = worst >= 1
            cond, fix = "spectral radius < 1 (Schur stable)", "scale A down, e.g. A / (1.01 * rho(A))"
        else:
            worst = ev.real.amax(-1)
            bad = worst >= 0
            cond, fix = "all eigenvalues with negative real part (Hurwitz)", "shift A, e.g. A - c * I"
    if bool(bad.any()):
        raise ValueError(f"{name} is not stable: the Gramian needs {cond}, but the worst eigenvalue has "
                         f"{'modulus' if discrete else 'real part'} {float(worst.max()):.4g}; "
                         f"the infinite-horizon Gramian diverges: {fix}, or solve the Lyapunov "
                         "equation directly with solve_*_lyapunov if you want its (non-Gramian) solution")


def controllability_gramian(A, B, *, discrete: bool = False, method: str = "auto") -> torch.Tensor:
    r"""Infinite-horizon controllability Gramian of :math:`\dot x = Ax + Bu` (or :math:`x' = Ax + Bu`).

    Continuous: :math:`W = \int_0^\infty e^{At}BB^\top e^{A^\top t}dt`, i.e.
    :math:`AW + WA^\top + BB^\top = 0`; discrete: :math:`W = \sum_k A^k BB^\top A^{\top k}`, i.e.
    :math:`AWA^\top - W + BB^\top = 0`. Requires ``A`` stable (raises otherwise).

    Parameters
    ----------
    A : tensor, shape (..., n, n)
    B : tensor, shape (..., n, m)
    discrete : bool
    method : forward algorithm, as in :func:`solve_continuous_lyapunov`.

    Returns
    -------
    W : tensor, shape (..., n, n), symmetric positive semi-definite.

    Examples
    --------
    >>> import torch
    >>> A = -torch.eye(2, dtype=torch.float64)
    >>> B = torch.ones(2, 1, dtype=torch.float64)
    >>> controllability_gramian(A, B)
    tensor([[0.5000, 0.5000],
            [0.5000, 0.5000]], dtype=torch.float64)
    """
    A = as_float_tensor(A, "A")
    B = as_float_tensor(B, "B", like=A)
    n = check_square(A, "A")
    if B.shape[-2] != n:
        raise ValueError(f"B must have shape (..., {n}, m) to match A, got {tuple(B.shape)}")
    check_finite(A, "A")
    check_finite(B, "B")
    _check_stable(A, discrete)
    BBt = B @ B.mT
    if discrete:
        return solve_discrete_lyapunov(A, BBt, method=method)
    return solve_continuous_lyapunov(A, -BBt, method=method)


def observability_gramian(A, C, *, discrete: bool = False, method: str = "auto") -> torch.Tensor:
    r"""Infinite-horizon observability Gramian of the pair :math:`(A, C)` with :math:`y = Cx`.

    Continuous: :math:`A^\top W + WA + C^\top C = 0`; discrete:
    :math:`A^\top W A - W + C^\top C = 0`. Requires ``A`` stable (raises otherwise).

    Parameters
    ----------
    A : tensor, shape (..., n, n)
    C : tensor, shape (..., p, n)

    Returns
    -------
    W : tensor, shape (..., n, n)

    Examples
    --------
    >>> import torch
    >>> W = observability_gramian(-torch.eye(2, dtype=torch.float64), torch.eye(2, dtype=torch.float64))
    >>> torch.allclose(W, 0.5 * torch.eye(2, dtype=torch.float64))
    True
    """
    A = as_float_tensor(A, "A")
    C = as_float_tensor(C, "C", like=A)
    n = check_square(A, "A")
    if C.shape[-1] != n:
        raise ValueError(f"C must have shape (..., p, {n}) to match A, got {tuple(C.shape)}")
    return controllability_gramian(A.mT, C.mT, discrete=discrete, method=method)
