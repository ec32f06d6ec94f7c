"""CLRS-style neural algorithmic reasoning (``nl.methods.algorithmic``).

Following Veličković et al., "The CLRS Algorithmic Reasoning Benchmark" (ICML 2022):

* feature specifications -- stage (input / hint / output), location (node / edge / graph) and type
  (scalar, mask, mask_one, categorical, pointer) -- (:mod:`.specs`);
* samplers that run classical algorithms and record their full trajectories with hints
  (:mod:`.base`): BFS, DFS, Bellman-Ford and Prim's MST on Erdős–Rényi graphs (:mod:`.graphs`),
  insertion sort, bubble sort and binary search (:mod:`.arrays`), the LCS-length dynamic programme
  and naive string matching (:mod:`.strings`), batched as tensors padded over hint time or as an
  ``xarray.Dataset`` (:mod:`.batch`);
* the encode-process-decode model: per-feature encoders and decoders by location and type
  (:mod:`.layers`), a dense MPNN processor with max aggregation and gating (:mod:`.processor`),
  teacher-forced or self-fed hints (:mod:`.model`), hint and output losses with the CLRS metrics
  -- accuracy, micro-F1, MSE (:mod:`.losses`) -- and the train-at-16 / test-at-64 protocol
  (:mod:`.training`).

Nothing here imports :mod:`neurolatent.models`.
"""
from . import arrays, graphs, strings  # noqa: F401  (registers the algorithms)
from .arrays import BinarySearch, BubbleSort, InsertionSort
from .base import ALGORITHMS, Algorithm, Trajectory, get_algorithm, register
from .batch import Batch, collate, sample_batch
from .graphs import BFS, DFS, ER_PROBABILITIES, BellmanFord, Prim, erdos_renyi
from .layers import FeatureDecoder, FeatureEncoder, dense, soft
from .losses import feature_loss, feature_score, loss, scores
from .model import EncodeProcessDecode, Prediction
from .processor import MPNN
from .specs import LOCATIONS, STAGES, TYPES, Feature, Spec
from .strings import ALPHABET, LCSLength, NaiveStringMatcher, lcs_from_b
from .training import evaluate_model, fit

__all__ = [
    "STAGES",
    "LOCATIONS",
    "TYPES",
    "Feature",
    "Spec",
    "Trajectory",
    "Algorithm",
    "ALGORITHMS",
    "get_algorithm",
    "register",
    "Batch",
    "collate",
    "sample_batch",
    "ER_PROBABILITIES",
    "erdos_renyi",
    "BFS",
    "DFS",
    "BellmanFord",
    "Prim",
    "InsertionSort",
    "BubbleSort",
    "BinarySearch",
    "ALPHABET",
    "LCSLength",
    "NaiveStringMatcher",
    "lcs_from_b",
    "dense",
    "soft",
    "FeatureEncoder",
    "FeatureDecoder",
    "MPNN",
    "EncodeProcessDecode",
    "Prediction",
    "feature_loss",
    "loss",
    "feature_score",
    "scores",
    "fit",
    "evaluate_model",
]
