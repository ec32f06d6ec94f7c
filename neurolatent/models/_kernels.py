"""Per-neuron batched GPyTorch kernels for the mGPLVM tuning curves."""
from __future__ import annotations

import gpytorch
import torch

from ..kernels import ManifoldLinearKernel, ManifoldMaternKernel, ManifoldRBFKernel

__all__ = ["make_kernel", "KERNELS"]

_MATERN_NU = {"matern12": 0.5, "matern32": 1.5, "matern52": 2.5}
KERNELS = ("squared_exponential", "linear", *_MATERN_NU)


def make_kernel(name: str, manifold, n_neurons: int, ard=False) -> gpytorch.kernels.ScaleKernel:
    """``ScaleKernel(ManifoldRBFKernel)`` (or Matérn, or linear) with batch shape ``(n_neurons,)``.

    One output scale per neuron and one lengthscale per neuron (``ard=False``) or per neuron and
    block of the distance (``ard="factor"``/``"dim"``/``True``, see
    :class:`~neurolatent.kernels.ManifoldRBFKernel`); inputs broadcast against the batch, so
    ``kernel.forward(Z, X)`` with ``Z`` (M, amb) and ``X`` (K, 1, B, amb) gives (K, N, M, B).
    """
    batch = torch.Size([int(n_neurons)])
    if name == "squared_exponential":
        base = ManifoldRBFKernel(manifold, ard=ard, batch_shape=batch)
    elif name in _MATERN_NU:
        base = ManifoldMaternKernel(manifold, nu=_MATERN_NU[name], ard=ard, batch_shape=batch)
    elif name == "linear":
        if ard is not False:
            raise ValueError(f"the linear kernel has no lengthscales, so ard={ard!r} does not apply; use ard=False")
        base = ManifoldLinearKernel(manifold, batch_shape=batch)
    else:
        raise ValueError(f"kernel must be one of {KERNELS}, got {name!r}")
    return gpytorch.kernels.ScaleKernel(base, batch_shape=batch)
