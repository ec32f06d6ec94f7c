"""GPyTorch kernels on manifolds (each implements only ``forward``)."""
from .linear import ManifoldLinearKernel
from .rbf import ManifoldRBFKernel

__all__ = ["ManifoldRBFKernel", "ManifoldLinearKernel"]
