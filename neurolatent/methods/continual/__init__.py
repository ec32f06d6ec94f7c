"""Continual learning: importance-based quadratic regularisers and their link to the Fisher (``nl.methods.continual``).

- :func:`run` -- train on a task stream in order with one method and return the accuracy matrix
  (``after_task`` x ``on_task``) with average final accuracy, forgetting and backward transfer as
  an :class:`xarray.Dataset`;
- :func:`importance` -- per-parameter importances: Fisher (EWC), empirical Fisher, absolute Fisher
  (AF), MAS, and the path integrals SI, SIU (unbiased) and SIB (bias only) of Benzing (2022);
- the methods as objects (:class:`EWC`, :class:`MAS`, :class:`SynapticIntelligence`, ...) for
  :func:`run`, built from names by :func:`make_method`.

The task streams, the small networks and the training loop come from
:mod:`neurolatent.methods.common`.
"""
from ._helpers import IMPORTANCE_KINDS
from .importance import importance, per_sample_importance
from .methods import (
    EWC,
    MAS,
    METHODS,
    AbsoluteFisher,
    EmpiricalFisherEWC,
    Finetune,
    Method,
    QuadraticRegulariser,
    SynapticIntelligence,
    make_method,
)
from .metrics import summarise_accuracy
from .path_integral import PathIntegral, path_importance
from .run import check_tasks, run

__all__ = [
    "run",
    "check_tasks",
    "summarise_accuracy",
    "importance",
    "per_sample_importance",
    "path_importance",
    "PathIntegral",
    "IMPORTANCE_KINDS",
    "Method",
    "Finetune",
    "QuadraticRegulariser",
    "EWC",
    "EmpiricalFisherEWC",
    "AbsoluteFisher",
    "MAS",
    "SynapticIntelligence",
    "METHODS",
    "make_method",
]
