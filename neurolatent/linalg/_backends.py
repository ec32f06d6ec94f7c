"""Forward solvers (no autograd) for Sylvester and Stein/Lyapunov equations.

Three backends, all batched over the leading dimensions:

``"scipy"``
    LAPACK Bartels--Stewart through :mod:`scipy.linalg`, one call per batch element, in float64.
    This is the most accurate method (backward stable, based on the real Schur form) and torch
    has no Schur decomposition, so on CPU it is the default; the Python loop costs a few
    microseconds per element, small next to the O(n^3) LAPACK work except for tiny n.
``"eig"``
    Diagonalisation ``A = V diag(a) V^-1`` with :func:`torch.linalg.eig` (batched, runs on
    CUDA), an element-wise division in the eigenbasis, then ``refine`` steps of iterative
    refinement on the residual re-using the same factors. The error grows like
    ``cond(V) * cond(W) * eps`` before refinement, so it is accurate for diagonalisable,
    well-conditioned eigenvector bases (random or normal matrices) and degrades for nearly
    defective matrices (Jordan blocks); refinement recovers most of the loss when
    ``cond(V) cond(W) eps << 1``.
``"kron"``
    The vectorised ``(nm) x (nm)`` linear system solved with :func:`torch.linalg.solve`
    (LU with partial pivoting, batched, any device). Backward stable in the sense of the
    dense solve but O((nm)^3) time and O((nm)^2) memory, so only for small matrices.

``"auto"`` picks ``"scipy"`` on CPU, and on other devices ``"kron"`` when ``n*m <= 256``
and ``"eig"`` otherwise.
"""
from __future__ import annotations

import numpy as np
import scipy.linalg
import torch

METHODS = ("auto", "scipy", "eig", "kron")
KRON_MAX = 256


def resolve_method(method: str, device: torch.device, size: int) -> str:
    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, got {method!r}")
    if method != "auto":
        return method
    if device.type == "cpu":
        return "scipy"
    return "kron" if size <= KRON_MAX else "eig"


def scipy_batched(fn, *mats: torch.Tensor) -> torch.Tensor:
    """Apply a scipy matrix solver to each batch element (float64), return a tensor like mats[0]."""
    ref = mats[0]
    batch = torch.broadcast_shapes(*(m.shape[:-2] for m in mats))
    arrs = [m.detach().expand(*batch, *m.shape[-2:]).reshape(-1, *m.shape[-2:])
            .to("cpu", torch.float64).numpy() for m in mats]
    outs = [fn(*(a[i] for a in arrs)) for i in range(arrs[0].shape[0])]
    out = np.stack(outs) if outs else np.zeros((0, *arrs[-1].shape[-2:]))
    out = torch.from_numpy(np.ascontiguousarray(out.real if np.iscomplexobj(out) else out))
    return out.reshape(*batch, *out.shape[-2:]).to(ref.device, ref.dtype)


def _cplx(x: torch.Tensor) -> torch.Tensor:
    return x.to(torch.complex128 if x.dtype == torch.float64 else torch.complex64)


# ----------------------------------------------------------------------------------- Sylvester
def sylvester_eig(A, B, C, refine: int = 2):
    """Solve AX + XB = C by diagonalising A and B (batched); see module docstring."""
    a, V = torch.linalg.eig(A)
    b, W = torch.linalg.eig(B)
    Vinv = torch.linalg.inv(V)
    Winv = torch.linalg.inv(W)
    denom = a[..., :, None] + b[..., None, :]

    def apply(rhs):
        Ct = Vinv @ _cplx(rhs) @ W
        return (V @ (Ct / denom) @ Winv).real.to(A.dtype)

    X = apply(C)
    for _ in range(refine):
        X = X + apply(C - A @ X - X @ B)
    return X


def sylvester_kron(A, B, C):
    """Solve AX + XB = C as the (nm x nm) system (A (x) I + I (x) B^T) vec_r X = vec_r C."""
    n, m = A.shape[-1], B.shape[-1]
    In = torch.eye(n, dtype=A.dtype, device=A.device)
    Im = torch.eye(m, dtype=A.dtype, device=A.device)
    K = (A[..., :, None, :, None] * Im[:, None, :]
         + In[:, None, :, None] * B.mT[..., None, :, None, :])
    K = K.reshape(*K.shape[:-4], n * m, n * m)
    x = torch.linalg.solve(K, C.reshape(*C.shape[:-2], n * m, 1))
    return x.reshape(C.shape)


def sylvester_forward(A, B, C, method: str):
    method = resolve_method(method, A.device, A.shape[-1] * B.shape[-1])
    if method == "scipy":
        return scipy_batched(scipy.linalg.solve_sylvester, A, B, C)
    if method == "eig":
        return sylvester_eig(A, B, C)
    return sylvester_kron(A, B, C)


# ------------------------------------------------------------------ continuous Lyapunov
def lyapunov_forward(A, Q, method: str):
    """Solve AX + XA^T = Q (scipy's convention)."""
    method = resolve_method(method, A.device, A.shape[-1] ** 2)
    if method == "scipy":
        return scipy_batched(scipy.linalg.solve_continuous_lyapunov, A, Q)
    if method == "eig":
        return sylvester_eig(A, A.mT, Q)
    return sylvester_kron(A, A.mT, Q)


# --------------------------------------------------------------------- discrete Lyapunov
def stein_eig(A, Q, refine: int = 2):
    """Solve A X A^T - X + Q = 0 by diagonalising A (batched)."""
    a, V = torch.linalg.eig(A)
    Vinv = torch.linalg.inv(V)
    denom = 1 - a[..., :, None] * a[..., None, :]

    def apply(rhs):
        Qt = Vinv @ _cplx(rhs) @ Vinv.mT
        return (V @ (Qt / denom) @ V.mT).real.to(A.dtype)

    X = apply(Q)
    for _ in range(refine):
        X = X + apply(Q + A @ X @ A.mT - X)
    return X


def stein_kron(A, Q):
    """Solve A X A^T - X + Q = 0 as (I - A (x) A) vec_r X = vec_r Q."""
    n = A.shape[-1]
    K = A[..., :, None, :, None] * A[..., None, :, None, :]
    K = torch.eye(n * n, dtype=A.dtype, device=A.device) - K.reshape(*K.shape[:-4], n * n, n * n)
    x = torch.linalg.solve(K, Q.reshape(*Q.shape[:-2], n * n, 1))
    return x.reshape(Q.shape)


def discrete_lyapunov_forward(A, Q, method: str):
    method = resolve_method(method, A.device, A.shape[-1] ** 2)
    if method == "scipy":
        return scipy_batched(scipy.linalg.solve_discrete_lyapunov, A, Q)
    if method == "eig":
        return stein_eig(A, Q)
    return stein_kron(A, Q)
