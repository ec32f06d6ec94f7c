"""Variational families and priors on manifolds."""
from .lie_gaussian import OnManifold, ReparameterisedLieGaussian

__all__ = ["ReparameterisedLieGaussian", "OnManifold"]
