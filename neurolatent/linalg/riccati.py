r"""Differentiable continuous- and discrete-time algebraic Riccati equations (CARE, DARE).

Conventions follow :mod:`scipy.linalg`:

* CARE: :math:`A^\top P + PA - PBR^{-1}B^\top P + Q = 0`, stabilising solution
  (closed loop :math:`A_c = A - BR^{-1}B^\top P` Hurwitz);
* DARE: :math:`A^\top PA - P - A^\top PB(R + B^\top PB)^{-1}B^\top PA + Q = 0`, stabilising
  solution (closed loop :math:`A_c = A - BK`, :math:`K = (R + B^\top PB)^{-1}B^\top PA`,
  spectral radius < 1).

Derivatives (Kao & Hennequin 2020). Differentiating the CARE, the terms in :math:`\dot P`
collect into the closed-loop Lyapunov equation

.. math:: A_c^\top \dot P + \dot P A_c = -\big(\dot Q + \dot A^\top P + P\dot A - P\dot G P\big),
   \qquad \dot G = \dot B R^{-1}B^\top + BR^{-1}\dot B^\top - BR^{-1}\dot R R^{-1}B^\top .

For the DARE, the optimality of :math:`K` (envelope theorem on the Joseph form
:math:`P = A_c^\top P A_c + K^\top R K + Q`) removes :math:`\dot K`, leaving the Stein equation

.. math:: \dot P = A_c^\top \dot P A_c + \dot Q + K^\top \dot R K + E^\top P A_c + A_c^\top P E,
   \qquad E = \dot A - \dot B K .

Reverse mode solves the adjoint equation once: CARE :math:`A_c\bar Y + \bar Y A_c^\top = \bar P`,
then :math:`\bar Q = -\bar Y`, :math:`\bar A = -P(\bar Y + \bar Y^\top)`, with
:math:`H = P\bar Y P`: :math:`\bar B = (H + H^\top)BR^{-1}`, :math:`\bar R = -R^{-1}B^\top HBR^{-1}`;
DARE :math:`A_c\bar Y A_c^\top - \bar Y + \bar P = 0`, then :math:`\bar Q = \bar Y`,
:math:`\bar R = K\bar Y K^\top`, :math:`\bar A = PA_c(\bar Y + \bar Y^\top)`,
:math:`\bar B = -\bar A K^\top`. Only the symmetric parts of ``Q`` and ``R`` enter (they are
symmetrised, differentiably, before the solve), so their gradients are symmetric.
"""
from __future__ import annotations

import numpy as np
import scipy.linalg
import torch

from . import _backends
from ._checks import as_float_tensor, broadcast_batch, check_finite, check_same_device_dtype, check_square
from .lyapunov import _ContinuousLyapunov, _DiscreteLyapunov
from .sylvester import _MatrixEquation, _zeros_if_none

__all__ = ["solve_continuous_are", "solve_discrete_are"]

RICCATI_METHODS = ("auto", "scipy", "torch")


def _sym(x):
    return 0.5 * (x + x.mT)


# ----------------------------------------------------------------------------- forward solvers
def _care_torch(A, B, Q, R, newton: int = 3):
    """Batched CARE: stable invariant subspace of the Hamiltonian, then Newton--Kleinman steps."""
    n = A.shape[-1]
    G = B @ torch.linalg.solve(R, B.mT)
    H = torch.cat([torch.cat([A, -G], -1), torch.cat([-Q, -A.mT], -1)], -2)
    lam, U = torch.linalg.eig(H)
    idx = torch.argsort(lam.real, dim=-1)[..., :n]
    U = torch.gather(U, -1, idx[..., None, :].expand(*U.shape[:-1], n))
    P = torch.linalg.solve(U[..., :n, :].mT, U[..., n:, :].mT).mT.real.to(A.dtype)
    P = _sym(P)
    for _ in range(newton):  # Kleinman: (A - GP)^T P+ + P+ (A - GP) = -(Q + PGP)
        Ac = A - G @ P
        P = _sym(_backends.sylvester_eig(Ac.mT, Ac, -(Q + P @ G @ P)))
    return P


def _dare_torch(A, B, Q, R, max_iter: int = 80):
    """Batched DARE by the structure-preserving doubling algorithm (quadratic convergence)."""
    I = torch.eye(A.shape[-1], dtype=A.dtype, device=A.device)
    Ak, Gk, Hk = A, B @ torch.linalg.solve(R, B.mT), Q
    tol = 10 * torch.finfo(A.dtype).eps
    for _ in range(max_iter):
        W = I + Gk @ Hk
        WA = torch.linalg.solve(W, Ak)
        WG = torch.linalg.solve(W, Gk)
        H_new = Hk + Ak.mT @ Hk @ WA
        Gk = Gk + Ak @ WG @ Ak.mT
        Ak = Ak @ WA
        done = bool(((H_new - Hk).abs().amax((-2, -1)) <= tol * H_new.abs().amax((-2, -1))).all())
        Hk = H_new
        if done:
            break
    return _sym(Hk)


def _forward(kind, A, B, Q, R, method):
    if method not in RICCATI_METHODS:
        raise ValueError(f"method must be one of {RICCATI_METHODS}, got {method!r}")
    if method == "auto":
        method = "scipy" if A.device.type == "cpu" else "torch"
    if method == "scipy":
        fn = scipy.linalg.solve_continuous_are if kind == "care" else scipy.linalg.solve_discrete_are
        try:
            return _sym(_backends.scipy_batched(fn, A, B, Q, R))
        except (np.linalg.LinAlgError, ValueError) as err:
            raise ValueError(_no_solution_msg(kind, str(err))) from None
    return _care_torch(A, B, Q, R) if kind == "care" else _dare_torch(A, B, Q, R)


def _no_solution_msg(kind: str, detail: str = "") -> str:
    stab = "Hurwitz" if kind == "care" else "spectral radius < 1"
    return (f"no stabilising solution of the {'continuous' if kind == 'care' else 'discrete'} Riccati "
            f"equation ({detail or 'closed loop not ' + stab}); expected (A, B) stabilisable and (Q, A) "
            "detectable with R positive definite: check that every unstable mode of A is reachable "
            "from B and penalised by Q (e.g. make Q positive definite)")


# ----------------------------------------------------------------------------- autograd
class _CARE(_MatrixEquation):
    saved_inputs = (0, 1, 3)
    adjoint_method = "auto"  # the adjoint Lyapunov solve picks its backend by device

    @staticmethod
    def forward(A, B, Q, R, method):
        return _forward("care", A, B, Q, R, method)

    @staticmethod
    def backward(ctx, gP):
        A, B, R, P = ctx.saved_tensors
        RiBt = torch.linalg.solve(R, B.mT)
        Ac = A - B @ RiBt @ P
        Y = _ContinuousLyapunov.apply(Ac, gP, ctx.method)
        Hm = P @ Y @ P
        gA = -P @ (Y + Y.mT)
        gB = (Hm + Hm.mT) @ RiBt.mT
        gR = -RiBt @ Hm @ RiBt.mT
        return gA, gB, -Y, gR, None

    @staticmethod
    def jvp(ctx, dA, dB, dQ, dR, _):
        A, B, R, P = ctx.saved_tensors
        RiBt = torch.linalg.solve(R, B.mT)
        Ac = A - B @ RiBt @ P
        S = _zeros_if_none(dQ, P)
        if dA is not None:
            S = S + dA.mT @ P + P @ dA
        dG = torch.zeros_like(P)
        if dB is not None:
            dG = dG + dB @ RiBt + RiBt.mT @ dB.mT
        if dR is not None:
            dG = dG - RiBt.mT @ dR @ RiBt
        S = S - P @ dG @ P
        return _ContinuousLyapunov.apply(Ac.mT, -S, ctx.method)


class _DARE(_MatrixEquation):
    saved_inputs = (0, 1, 3)
    adjoint_method = "auto"  # the adjoint Lyapunov solve picks its backend by device

    @staticmethod
    def forward(A, B, Q, R, method):
        return _forward("dare", A, B, Q, R, method)

    @staticmethod
    def _gain(A, B, R, P):
        K = torch.linalg.solve(R + B.mT @ P @ B, B.mT @ P @ A)
        return K, A - B @ K

    @staticmethod
    def backward(ctx, gP):
        A, B, R, P = ctx.saved_tensors
        K, Ac = _DARE._gain(A, B, R, P)
        Y = _DiscreteLyapunov.apply(Ac, gP, ctx.method)
        gA = P @ Ac @ (Y + Y.mT)
        return gA, -gA @ K.mT, Y, K @ Y @ K.mT, None

    @staticmethod
    def jvp(ctx, dA, dB, dQ, dR, _):
        A, B, R, P = ctx.saved_tensors
        K, Ac = _DARE._gain(A, B, R, P)
        S = _zeros_if_none(dQ, P)
        if dR is not None:
            S = S + K.mT @ dR @ K
        E = torch.zeros_like(A)
        if dA is not None:
            E = E + dA
        if dB is not None:
            E = E - dB @ K
        S = S + E.mT @ P @ Ac + Ac.mT @ P @ E
        return _DiscreteLyapunov.apply(Ac.mT, S, ctx.method)


# ----------------------------------------------------------------------------- public API
def _prepare(A, B, Q, R, check=True):
    A = as_float_tensor(A, "A")
    B, Q, R = (as_float_tensor(x, k, like=A) for x, k in ((B, "B"), (Q, "Q"), (R, "R")))
    named = {"A": A, "B": B, "Q": Q, "R": R}
    check_same_device_dtype(named)
    n = check_square(A, "A")
    check_square(Q, "Q")
    check_square(R, "R")
    m = B.shape[-1]
    for name, x, shape in (("B", B, (n, m)), ("Q", Q, (n, n)), ("R", R, (m, m))):
        if tuple(x.shape[-2:]) != shape:
            raise ValueError(f"{name} must have shape (..., {shape[0]}, {shape[1]}) for A of size {n} and "
                             f"B with {m} columns, got {tuple(x.shape)}; check the argument order (A, B, Q, R)")
    (A, B, Q, R), _ = broadcast_batch(named)
    Q, R = _sym(Q), _sym(R)
    if not check:  # value checks read data (not allowed under torch.vmap); shapes were checked above
        return A, B, Q, R
    for k, v in named.items():
        check_finite(v, k)
    with torch.no_grad():
        info = torch.linalg.cholesky_ex(R).info
    if bool((info != 0).any()):
        raise ValueError("R must be symmetric positive definite (the control cost), but its Cholesky "
                         "factorisation failed; add a small multiple of the identity, e.g. R + 1e-6 * I")
    return A, B, Q, R


def _check_closed_loop(P, A, B, R, kind):
    with torch.no_grad():
        if kind == "care":
            ev = torch.linalg.eigvals(A - B @ torch.linalg.solve(R, B.mT) @ P)
            bad = (ev.real >= 0).any(-1) | ~torch.isfinite(P).all((-2, -1))
        else:
            K = torch.linalg.solve(R + B.mT @ P @ B, B.mT @ P @ A)
            ev = torch.linalg.eigvals(A - B @ K)
            bad = (ev.abs() >= 1).any(-1) | ~torch.isfinite(P).all((-2, -1))
    if bool(bad.any()):
        raise ValueError(_no_solution_msg(kind))


def solve_continuous_are(A, B, Q, R, *, method: str = "auto", check: bool = True) -> torch.Tensor:
    r"""Stabilising solution of :math:`A^\top P + PA - PBR^{-1}B^\top P + Q = 0`, differentiably.

    Parameters
    ----------
    A : tensor, shape (..., n, n)
    B : tensor, shape (..., n, m)
    Q : tensor, shape (..., n, n)
        State cost; only its symmetric part is used.
    R : tensor, shape (..., m, m)
        Control cost; symmetric part must be positive definite.
    method : {"auto", "scipy", "torch"}
        ``"scipy"`` (CPU default): :func:`scipy.linalg.solve_continuous_are` (ordered real
        Schur form of the Hamiltonian, balanced) per batch element. ``"torch"`` (default on
        other devices): batched eigendecomposition of the Hamiltonian followed by three
        Newton--Kleinman refinement steps; accurate when the Hamiltonian's eigenvectors are
        well conditioned.
    check : bool
        Validate values (finite inputs, R positive definite) and that the closed loop is Hurwitz.

    Returns
    -------
    P : tensor, shape (..., n, n), symmetric.

    Notes
    -----
    Needs (A, B) stabilisable and (Q, A) detectable; ``A`` itself may be unstable. Derivatives
    solve one closed-loop Lyapunov equation each (module docstring).

    Examples
    --------
    >>> import torch
    >>> A = torch.tensor([[0.0, 1.0], [0.0, 0.0]], dtype=torch.float64)   # double integrator
    >>> B = torch.tensor([[0.0], [1.0]], dtype=torch.float64)
    >>> P = solve_continuous_are(A, B, torch.eye(2, dtype=torch.float64), torch.eye(1, dtype=torch.float64))
    >>> res = A.T @ P + P @ A - P @ B @ B.T @ P + torch.eye(2, dtype=torch.float64)
    >>> bool(res.abs().max() < 1e-12)
    True
    """
    A, B, Q, R = _prepare(A, B, Q, R, check)
    P = _CARE.apply(A, B, Q, R, method)
    if check:
        _check_closed_loop(P, A, B, R, "care")
    return P


def solve_discrete_are(A, B, Q, R, *, method: str = "auto", check: bool = True) -> torch.Tensor:
    r"""Stabilising solution of the DARE
    :math:`A^\top PA - P - A^\top PB(R + B^\top PB)^{-1}B^\top PA + Q = 0`, differentiably.

    Parameters
    ----------
    A : tensor, shape (..., n, n)
    B : tensor, shape (..., n, m)
    Q : tensor, shape (..., n, n)
    R : tensor, shape (..., m, m)
    method : {"auto", "scipy", "torch"}
        ``"scipy"`` (CPU default): :func:`scipy.linalg.solve_discrete_are` per batch element.
        ``"torch"``: batched structure-preserving doubling algorithm (matrix products and
        solves only; converges quadratically when the closed loop is strictly stable).
    check : bool
        Validate values (finite inputs, R positive definite) and that the closed loop has spectral radius < 1.

    Returns
    -------
    P : tensor, shape (..., n, n), symmetric.

    Examples
    --------
    >>> import torch
    >>> A = torch.tensor([[1.0, 1.0], [0.0, 1.0]], dtype=torch.float64)
    >>> B = torch.tensor([[0.0], [1.0]], dtype=torch.float64)
    >>> P = solve_discrete_are(A, B, torch.eye(2, dtype=torch.float64), torch.eye(1, dtype=torch.float64))
    >>> K = torch.linalg.solve(1 + B.T @ P @ B, B.T @ P @ A)
    >>> bool(torch.linalg.eigvals(A - B @ K).abs().max() < 1)
    True
    """
    A, B, Q, R = _prepare(A, B, Q, R, check)
    P = _DARE.apply(A, B, Q, R, method)
    if check:
        _check_closed_loop(P, A, B, R, "dare")
    return P
