r"""Differentiable Sylvester equation :math:`AX + XB = C`.

Derivatives follow Kao & Hennequin (2020), "Automatic differentiation of Sylvester, Lyapunov,
and algebraic Riccati equations": differentiating the equation gives another Sylvester equation
with the same coefficient matrices,

.. math:: A\,\dot X + \dot X B = \dot C - \dot A X - X \dot B ,

(forward mode), and the adjoint :math:`\bar Y` of an output cotangent :math:`\bar X` solves the
transposed equation :math:`A^\top \bar Y + \bar Y B^\top = \bar X`, after which

.. math:: \bar C = \bar Y,\qquad \bar A = -\bar Y X^\top,\qquad \bar B = -X^\top \bar Y

(reverse mode). Both are written with the same differentiable solver, so higher derivatives
(``gradgradcheck``, Hessians) work, and nothing is differentiated through solver iterations.
"""
from __future__ import annotations

import torch

from . import _backends
from ._checks import (as_float_tensor, broadcast_batch, check_finite, check_same_device_dtype,
                      check_spectral_gap, check_square)

__all__ = ["solve_sylvester"]


def _zeros_if_none(t, like):
    return torch.zeros_like(like) if t is None else t


class _MatrixEquation(torch.autograd.Function):
    """Shared plumbing of the matrix-equation Functions: inputs are tensors then the backend name.

    ``setup_context`` keeps the inputs listed in ``saved_inputs`` and the solution (for both
    reverse and forward mode) and the backend for the adjoint solve (``adjoint_method`` when set,
    else the forward's); ``vmap`` moves every batched input's vmapped dimension first and calls the
    batched kernels once. Subclasses define ``forward``, ``backward`` and ``jvp``.
    """

    saved_inputs: tuple = (0,)
    adjoint_method: str | None = None

    @classmethod
    def setup_context(cls, ctx, inputs, output):
        ctx.method = cls.adjoint_method or inputs[-1]
        saved = [inputs[i] for i in cls.saved_inputs] + [output]
        ctx.save_for_backward(*saved)
        ctx.save_for_forward(*saved)

    @classmethod
    def vmap(cls, info, in_dims, *inputs):
        *tensors, method = inputs
        return cls.apply(*(_move(x, d, info.batch_size) for x, d in zip(tensors, in_dims)), method), 0


class _Sylvester(_MatrixEquation):
    """AX + XB = C with reverse- and forward-mode derivatives by implicit differentiation."""

    saved_inputs = (0, 1)

    @staticmethod
    def forward(A, B, C, method):
        return _backends.sylvester_forward(A, B, C, method)

    @staticmethod
    def backward(ctx, gX):
        A, B, X = ctx.saved_tensors
        Y = _Sylvester.apply(A.mT, B.mT, gX, ctx.method)
        gA = -Y @ X.mT if ctx.needs_input_grad[0] else None
        gB = -X.mT @ Y if ctx.needs_input_grad[1] else None
        return gA, gB, Y, None

    @staticmethod
    def jvp(ctx, dA, dB, dC, _):
        A, B, X = ctx.saved_tensors
        rhs = _zeros_if_none(dC, X)
        if dA is not None:
            rhs = rhs - dA @ X
        if dB is not None:
            rhs = rhs - X @ dB
        return _Sylvester.apply(A, B, rhs, ctx.method)


def _move(x: torch.Tensor, d, size: int) -> torch.Tensor:
    """Put the vmapped dimension first (or add it by expanding) for the batched kernels."""
    if d is None:
        return x.expand(size, *x.shape)
    return x.movedim(d, 0)


def solve_sylvester(A, B, C, *, method: str = "auto", check: bool = True) -> torch.Tensor:
    r"""Solve the Sylvester equation :math:`AX + XB = C`, differentiably.

    A unique solution exists iff no eigenvalue of ``A`` is the negative of an eigenvalue of
    ``B`` (:math:`a_i + b_j \ne 0`); neither matrix needs to be stable.

    Parameters
    ----------
    A : tensor, shape (..., n, n)
    B : tensor, shape (..., m, m)
    C : tensor, shape (..., n, m)
        Real float32/float64 tensors on one device; the batch dimensions broadcast.
    method : {"auto", "scipy", "eig", "kron"}
        Forward algorithm (see :mod:`neurolatent.linalg._backends`): ``"scipy"`` is LAPACK
        Bartels--Stewart (CPU default, most accurate), ``"eig"`` batched diagonalisation with
        iterative refinement (GPU default for larger n; accurate for well-conditioned
        eigenvectors), ``"kron"`` the dense vectorised solve (GPU default when ``n*m <= 256``).
    check : bool
        Validate shapes, finiteness and solvability (costs two eigenvalue computations).

    Returns
    -------
    X : tensor, shape (..., n, m), same dtype and device as the inputs.

    Notes
    -----
    Differentiable in reverse mode (``backward``, ``torch.autograd.grad``, ``gradgradcheck``)
    and forward mode (:func:`torch.func.jvp`, :mod:`torch.autograd.forward_ad`);
    ``torch.func.jacrev``/``jacfwd`` work too, and so does ``torch.vmap`` with ``check=False`` (the
    checks read values, which vmap forbids; every solver of this module works the same way). Every derivative is one more Sylvester
    solve (Kao & Hennequin 2020).

    Examples
    --------
    >>> import torch
    >>> A = torch.tensor([[-2.0, 1.0], [0.0, -3.0]], dtype=torch.float64)
    >>> B = torch.tensor([[-1.0]], dtype=torch.float64)
    >>> C = torch.tensor([[1.0], [2.0]], dtype=torch.float64)
    >>> X = solve_sylvester(A, B, C)
    >>> torch.allclose(A @ X + X @ B, C)
    True
    """
    A = as_float_tensor(A, "A")
    B = as_float_tensor(B, "B", like=A)
    C = as_float_tensor(C, "C", like=A)
    check_same_device_dtype({"A": A, "B": B, "C": C})
    n = check_square(A, "A")
    m = check_square(B, "B")
    if C.shape[-2:] != (n, m):
        raise ValueError(f"C must have shape (..., {n}, {m}) to match A ({n} x {n}) and B ({m} x {m}), "
                         f"got {tuple(C.shape)}; pass C with rows = size of A and columns = size of B")
    (A, B, C), _ = broadcast_batch({"A": A, "B": B, "C": C})
    if check:
        for name, x in (("A", A), ("B", B), ("C", C)):
            check_finite(x, name)
        with torch.no_grad():
            scale = torch.linalg.matrix_norm(A) + torch.linalg.matrix_norm(B)
            check_spectral_gap(torch.linalg.eigvals(A), torch.linalg.eigvals(B), scale, kind="sum",
                               names=("A", "-B"), what="the Sylvester equation AX + XB = C")
    return _Sylvester.apply(A, B, C, method)
