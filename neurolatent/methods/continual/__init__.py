"""Continual learning: importance-based quadratic regularisers, their link to the Fisher, and NCL (``nl.methods.continual``).

- :func:`run` -- train on a task stream in order with one method and return the accuracy matrix
  (``after_task`` x ``on_task``) with average final accuracy, forgetting and backward transfer as
  an :class:`xarray.Dataset`;
- :func:`importance` -- per-parameter importances: Fisher (EWC), empirical Fisher, absolute Fisher
  (AF), MAS, and the path integrals SI, SIU (unbiased) and SIB (bias only) of Benzing (2022);
- the methods as objects (:class:`EWC`, :class:`MAS`, :class:`SynapticIntelligence`,
  :class:`KFACLaplace`, :class:`NCL`, :class:`OWM`, ...) for :func:`run`, built from names by :func:`make_method`;
- width and architecture studies: :func:`forgetting_sweep` (forgetting, relative weight change,
  gradient cosine between tasks and fraction of active units over a width x depth x BatchNorm grid,
  optionally at matched parameter counts; serial or on Dask);
- recurrent networks: :class:`RNNClassifier`, the cognitive-task generators
  (:func:`cognitive_tasks`) and the activity-subspace overlap (:func:`subspace_overlap`);
- hybrid continual learning (HCL, Kirichenko et al. 2021): a RealNVP flow (:class:`RealNVP`) with one
  Gaussian per task and class (:class:`HybridFlow`), trained on a stream with generative replay or
  functional regularisation (:func:`run_hcl`), and task-change detection by a typicality test
  (:class:`TypicalityDetector`, :func:`detection_summary`).

The task streams, the small feed-forward networks and the training loop come from
:mod:`neurolatent.methods.common`.
"""
from ._helpers import IMPORTANCE_KINDS
from .cognitive import COGNITIVE_TASKS, cognitive_task, cognitive_tasks, row_sequences
from .flows import AffineCoupling, RealNVP, coupling_masks
from .hcl import HCL_MODES, run_hcl
from .hybrid_flow import HybridFlow
from .importance import importance, per_sample_importance
from .methods import (
    EWC,
    MAS,
    AbsoluteFisher,
    EmpiricalFisherEWC,
    Finetune,
    Method,
    QuadraticRegulariser,
    SynapticIntelligence,
)
from .metrics import summarise_accuracy
from .ncl import NCL, OWM, KFACLaplace, KroneckerPreconditionedSGD, nearest_kronecker
from .path_integral import PathIntegral, path_importance
from .registry import METHODS, make_method
from .rnn import RNNClassifier
from .run import check_tasks, run
from .sweeps import forgetting_sweep, mlp_parameter_count, width_for_parameters
from .subspace import activity_subspace, subspace_overlap
from .typicality import TypicalityDetector, detection_summary

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
    "KFACLaplace",
    "NCL",
    "OWM",
    "KroneckerPreconditionedSGD",
    "nearest_kronecker",
    "METHODS",
    "make_method",
    "RNNClassifier",
    "COGNITIVE_TASKS",
    "cognitive_task",
    "cognitive_tasks",
    "row_sequences",
    "activity_subspace",
    "subspace_overlap",
    "forgetting_sweep",
    "mlp_parameter_count",
    "width_for_parameters",
    "run_hcl",
    "HCL_MODES",
    "HybridFlow",
    "RealNVP",
    "AffineCoupling",
    "coupling_masks",
    "TypicalityDetector",
    "detection_summary",
]
