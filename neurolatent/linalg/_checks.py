"""Input validation shared by the matrix-equation solvers.

Every check raises an exception that names the argument, says what was expected and what to
do, so that an ill-posed control problem fails at the call site rather than deep inside LAPACK.
"""
from __future__ import annotations

import torch

__all__ = [
    "as_float_tensor",
    "check_square",
    "check_finite",
    "broadcast_batch",
    "check_same_device_dtype",
    "check_spectral_gap",
]


def as_float_tensor(x, name: str, like: torch.Tensor | None = None) -> torch.Tensor:
    """Convert ``x`` to a real floating tensor (float32 or float64), at least 2-D."""
    if not isinstance(x, torch.Tensor):
        x = torch.as_tensor(x, dtype=like.dtype if like is not None else torch.float64,
                            device=like.device if like is not None else None)
    if x.is_complex():
        raise TypeError(f"{name} is complex ({x.dtype}); only real float32/float64 matrices are "
                        "supported: pass the real matrix, or split real and imaginary parts yourself")
    if not x.is_floating_point():
        x = x.to(like.dtype if like is not None else torch.float64)
    if x.dtype not in (torch.float32, torch.float64):
        raise TypeError(f"{name} has dtype {x.dtype}; expected torch.float32 or torch.float64: "
                        f"convert it with {name}.to(torch.float64)")
    if x.ndim < 2:
        raise ValueError(f"{name} must be a matrix (shape (..., rows, cols)), got shape {tuple(x.shape)}; "
                         "for a single vector v use v[:, None]")
    return x


def check_square(x: torch.Tensor, name: str) -> int:
    """Return ``n`` for a ``(..., n, n)`` tensor, else raise naming ``name``."""
    if x.shape[-1] != x.shape[-2]:
        raise ValueError(f"{name} must be square in its last two dimensions, got shape "
                         f"{tuple(x.shape)} ({x.shape[-2]} x {x.shape[-1]}); pass an (..., n, n) matrix")
    return x.shape[-1]


def check_finite(x: torch.Tensor, name: str) -> None:
    """Raise if ``x`` contains NaN or infinity (checked without leaving the device)."""
    if not bool(torch.isfinite(x).all()):
        n_bad = int((~torch.isfinite(x)).sum())
        raise ValueError(f"{name} contains {n_bad} non-finite entries (NaN or inf); every entry must be "
                         "finite: check the computation that produced it, or mask those entries first")


def broadcast_batch(named: dict[str, torch.Tensor]) -> tuple[list[torch.Tensor], torch.Size]:
    """Broadcast the leading (batch) dimensions of several matrices to a common shape.

    The matrix dimensions (last two) are left alone; the batch dimensions follow torch's
    broadcasting rules. ``expand`` is differentiable, so gradients are summed back to the
    original shapes by autograd.
    """
    shapes = {k: tuple(v.shape[:-2]) for k, v in named.items()}
    try:
        batch = torch.broadcast_shapes(*shapes.values())
    except RuntimeError:
        desc = ", ".join(f"{k}: {s}" for k, s in shapes.items())
        raise ValueError(f"the batch (leading) dimensions do not broadcast ({desc}); expected equal "
                         "batch shapes or shapes that broadcast (size-1 or missing dimensions): "
                         "reshape the inputs so their batch dimensions agree") from None
    out = [v.expand(*batch, *v.shape[-2:]) for v in named.values()]
    return out, batch


def check_same_device_dtype(named: dict[str, torch.Tensor]) -> None:
    """All inputs on one device and of one dtype (no silent up-casting or transfers)."""
    items = list(named.items())
    k0, v0 = items[0]
    for k, v in items[1:]:
        if v.device != v0.device:
            raise ValueError(f"{k} is on {v.device} but {k0} is on {v0.device}; move all inputs to one "
                             f"device, e.g. {k}.to({k0}.device)")
        if v.dtype != v0.dtype:
            raise TypeError(f"{k} has dtype {v.dtype} but {k0} has {v0.dtype}; cast all inputs to one "
                            f"dtype, e.g. {k}.to({k0}.dtype)")


def _tol(dtype: torch.dtype, n: int) -> float:
    return 100.0 * n * torch.finfo(dtype).eps


def check_spectral_gap(eig_a: torch.Tensor, eig_b: torch.Tensor, scale: torch.Tensor,
                       *, kind: str, names: tuple[str, str], what: str) -> None:
    """Raise when the equation's linear operator is (numerically) singular.

    ``kind="sum"``: operator eigenvalues are ``a_i + b_j`` (continuous-time Sylvester/Lyapunov).
    ``kind="product"``: eigenvalues are ``1 - a_i b_j`` (discrete-time Lyapunov/Stein).
    ``scale`` (batch shape) sets the relative tolerance.
    """
    if kind == "sum":
        gap = (eig_a[..., :, None] + eig_b[..., None, :]).abs().amin(dim=(-2, -1))
    else:
        gap = (1 - eig_a[..., :, None] * eig_b[..., None, :]).abs().amin(dim=(-2, -1))
    n = max(eig_a.shape[-1], eig_b.shape[-1])
    tol = _tol(eig_a.real.dtype if eig_a.is_complex() else eig_a.dtype, n) * scale.clamp_min(1.0)
    bad = gap <= tol
    if bool(bad.any()):
        idx = tuple(int(i) for i in torch.nonzero(bad)[0]) if bad.ndim else ()
        raise ValueError(
            f"{what} is singular: {names[0]} and {names[1]} violate the solvability condition "
            f"({'eigenvalues a_i + b_j = 0' if kind == 'sum' else 'products a_i * b_j = 1'}; "
            f"smallest gap {float(gap.reshape(-1).min()):.3g}, tolerance {float(tol.reshape(-1).min()):.3g}"
            f"{', batch index ' + str(idx) if idx else ''}). Expected spectra with no such pairs "
            "(no solution or infinitely many exist otherwise): shift or perturb one of the matrices")
