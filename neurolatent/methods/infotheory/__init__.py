"""Information-bottleneck theory (``nl.methods.infotheory``): exact maths with numerical checks.

* :mod:`.gaussian_ib` -- Gaussian IB (Chechik et al. 2005) and its Rényi-α / Jeffreys
  generalisations: closed-form encoders, critical trade-offs, numerical optimiser.
* :mod:`.discrete_ib` -- Blahut--Arimoto with annealing; perturbation theory of the onset.
* :mod:`.regression` -- relevant vs residual information of (randomised) ridge regression.
* :mod:`.double_descent` -- gradient descent vs min-norm least squares (double descent).
"""
from .discrete_ib import blahut_arimoto, ib_curve, ib_onset, ib_onset_prediction, mutual_information
from .double_descent import double_descent_curve, gd_excess_risk, gd_least_squares, smallest_nonzero_eigenvalue
from .gaussian_ib import (encoder_information, gaussian_dependence, gaussian_ib_curve, gaussian_ib_encoder,
                          gaussian_ib_spectrum, gaussian_jeffreys_divergence, gaussian_renyi_divergence,
                          optimal_correlation, optimal_relevance, optimize_gaussian_encoder)
from .regression import optimal_regression_bound, regression_spectrum, ridge_efficiency, ridge_information

__all__ = [
    "gaussian_ib_spectrum", "gaussian_ib_encoder", "gaussian_ib_curve", "optimal_correlation", "optimal_relevance",
    "optimize_gaussian_encoder", "encoder_information", "gaussian_dependence",
    "gaussian_renyi_divergence", "gaussian_jeffreys_divergence",
    "blahut_arimoto", "ib_curve", "ib_onset", "ib_onset_prediction", "mutual_information",
    "regression_spectrum", "ridge_information", "optimal_regression_bound", "ridge_efficiency",
    "gd_least_squares", "gd_excess_risk", "double_descent_curve", "smallest_nonzero_eigenvalue",
]
