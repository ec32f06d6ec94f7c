"""GPyTorch kernels on manifolds (each implements only ``forward``)."""
from .linear import ManifoldLinearKernel
from .matern import ManifoldMaternKernel
from .rbf import ManifoldRBFKernel

__all__ = ["ManifoldRBFKernel", "ManifoldMaternKernel", "ManifoldLinearKernel"]
