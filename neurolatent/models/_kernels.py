"""Per-neuron batched GPyTorch kernels for the mGPLVM tuning curves."""
from __future__ import annotations

import gpytorch
import torch

from ..kernels import ManifoldLinearKernel, ManifoldRBFKernel

__all__ = ["make_kernel"]


def make_kernel(name: str, manifold, n_neurons: int) -> gpytorch.kernels.ScaleKernel:
    """``ScaleKernel(ManifoldRBFKernel)`` (or the linear kernel) with batch shape ``(n_neurons,)``.

    One lengthscale and one output scale per neuron; inputs broadcast against the batch, so
    ``kernel.forward(Z, X)`` with ``Z`` (M, amb) and ``X`` (K, 1, B, amb) gives (K, N, M, B).
    """
    batch = torch.Size([int(n_neurons)])
    if name == "squared_exponential":
        base = ManifoldRBFKernel(manifold, batch_shape=batch)
    elif name == "linear":
        base = ManifoldLinearKernel(manifold, batch_shape=batch)
    else:
        raise ValueError(f"kernel must be 'squared_exponential' or 'linear', got {name!r}")
    return gpytorch.kernels.ScaleKernel(base, batch_shape=batch)
