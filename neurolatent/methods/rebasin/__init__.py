"""Re-basin family: permutation matching, linear mode connectivity, mode combinability, stitching."""
from .matching import (
    BarrierResult,
    average_permuted_initialisations,
    barrier,
    interpolate,
    match_activations,
    match_weights,
    perturb_permutation,
)

__all__ = [
    "match_activations",
    "match_weights",
    "interpolate",
    "barrier",
    "BarrierResult",
    "average_permuted_initialisations",
    "perturb_permutation",
]
from .combine import LAMBDA_KINDS, combination_study, combine, sample_lambda

__all__ += ["LAMBDA_KINDS", "sample_lambda", "combine", "combination_study"]
from .stitching import StitchedModel, StitchingLayer, fit_lstsq_stitch, stitch

__all__ += ["stitch", "fit_lstsq_stitch", "StitchingLayer", "StitchedModel"]
