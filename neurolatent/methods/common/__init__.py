"""Shared harness of the learning-method families (``nl.methods.common``).

Offline datasets and task streams (:mod:`.data`), small networks with permutation specs
(:mod:`.models`), a seeded training loop (:mod:`.train`), evaluation helpers (:mod:`.evaluate`),
representational similarity (:mod:`.similarity`) and re-initialisation callbacks for the training
loop (:mod:`.reinit`: shrink-and-perturb, last-layer and layer-wise re-initialisation).
"""
from .data import (
    ClassificationData,
    load_digits,
    make_mnist1d,
    make_teacher_classification,
    permuted_tasks,
    rotated_tasks,
    split_tasks,
)
from .evaluate import accuracy, disagreement, evaluate, predict_logits, reset_batchnorm
from .models import MLP, BlockNet, PermutationSpec, SmallCNN, apply_permutation, identity_permutation, rescale_units
from .reinit import LayerwiseReinit, ReinitLastLayers, Reinitialiser, ShrinkPerturb, network_layers, reinitialise
from .similarity import linear_cka, representations
from .train import make_optimizer, train

__all__ = [
    "ClassificationData",
    "load_digits",
    "make_mnist1d",
    "make_teacher_classification",
    "permuted_tasks",
    "rotated_tasks",
    "split_tasks",
    "MLP",
    "SmallCNN",
    "BlockNet",
    "PermutationSpec",
    "apply_permutation",
    "identity_permutation",
    "rescale_units",
    "train",
    "make_optimizer",
    "evaluate",
    "accuracy",
    "predict_logits",
    "disagreement",
    "reset_batchnorm",
    "linear_cka",
    "representations",
    "Reinitialiser",
    "ShrinkPerturb",
    "ReinitLastLayers",
    "LayerwiseReinit",
    "reinitialise",
    "network_layers",
]
