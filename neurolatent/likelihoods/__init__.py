"""Observation models of the mGPLVM: Gaussian, Poisson and negative binomial.

``get_likelihood("gaussian" | "poisson" | "negbinom", n_neurons)`` builds one from its name.
"""
from __future__ import annotations

from .base import Likelihood, gauss_hermite_expectation
from .gaussian import GaussianLikelihood
from .negative_binomial import NegativeBinomialLikelihood
from .poisson import PoissonLikelihood

__all__ = [
    "Likelihood",
    "GaussianLikelihood",
    "PoissonLikelihood",
    "NegativeBinomialLikelihood",
    "gauss_hermite_expectation",
    "get_likelihood",
]

_REGISTRY = {
    "gaussian": GaussianLikelihood,
    "poisson": PoissonLikelihood,
    "negbinom": NegativeBinomialLikelihood,
}


def get_likelihood(spec, n_neurons: int, *, device=None, dtype=None) -> Likelihood:
    """Return ``spec`` if it is a :class:`Likelihood`, else build the named one.

    Examples
    --------
    >>> get_likelihood("poisson", 4).name
    'poisson'
    """
    if isinstance(spec, Likelihood):
        return spec
    key = str(spec).lower()
    if key not in _REGISTRY:
        raise ValueError(f"unknown likelihood {spec!r}; expected one of {sorted(_REGISTRY)}")
    return _REGISTRY[key](n_neurons, device=device, dtype=dtype)
