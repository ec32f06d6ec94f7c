"""Pruning and sparsity (``nl.methods.sparsity``).

* masks as ordinary boolean tensors kept through training (:mod:`.masks`), convertible to
  ``torch.nn.utils.prune``;
* one pruning call per method -- :class:`MagnitudePruner`, :class:`OBDPruner` (diagonal Fisher),
  :class:`OBSPruner` (exact Optimal Brain Surgeon, the oracle on small networks) and
  :class:`FishLegSurgeon` (OBS with FishLeg's learned inverse Fisher) -- globally or layer-wise
  (:mod:`.pruners`, :mod:`.surgeon`);
* gradual pruning with the cubic schedule of Zhu & Gupta 2017 (:mod:`.schedule`);
* sparsity-vs-accuracy curves as ``xarray.Dataset`` (:mod:`.curve`);
* Powerpropagation, ``w = v|v|^(alpha-1)`` (Schwarz et al. 2021) (:mod:`.powerprop`), and its
  continual-learning use, a mask per task at fixed capacity (PackNet; :mod:`.packing`);
* training BatchNorm and only BatchNorm, with the equal-count random-parameter baseline (Frankle,
  Schwab & Morcos 2021) (:mod:`.batchnorm_only`);
* iterative magnitude pruning with rewinding and the perturbations of the rewound weights
  (Frankle, Schwab & Morcos 2020) (:mod:`.rewinding`), and the paper's pre-training ablations
  (blurred inputs, rotation prediction) before IMP (:mod:`.pretraining`).

Nothing here imports :mod:`neurolatent.models`.
"""
from .batchnorm_only import batchnorm_parameters, freeze_all_but_batchnorm, gamma_near_zero, random_parameter_subset
from .curve import sparsity_curve
from .masks import (
    PRUNABLE_TYPES,
    apply_masks,
    check_sparsity,
    enforce_masks,
    get_masks,
    masks_paused,
    prunable_layers,
    remove_masks,
    select_masks,
    sparsity_report,
    to_torch_prune,
)
from .packing import PackResult, pack_tasks, task_network
from .powerprop import PowerProp, powerpropagate, remove_powerprop
from .pretraining import PRETRAINING_KINDS, blur_images, pretrain, rotation_task
from .pruners import MagnitudePruner, Pruner, as_pruner
from .rewinding import PERTURBATIONS, IMPResult, imp, perturb_weights, retrain_masked
from .schedule import cubic_sparsity, gradual_prune
from .surgeon import FishLegSurgeon, OBDPruner, OBSPruner, fisher_blocks, inverse_fisher_cosine, obs_update

__all__ = [
    "PRUNABLE_TYPES",
    "prunable_layers",
    "check_sparsity",
    "apply_masks",
    "enforce_masks",
    "get_masks",
    "remove_masks",
    "masks_paused",
    "select_masks",
    "sparsity_report",
    "to_torch_prune",
    "Pruner",
    "MagnitudePruner",
    "as_pruner",
    "OBDPruner",
    "OBSPruner",
    "FishLegSurgeon",
    "obs_update",
    "fisher_blocks",
    "inverse_fisher_cosine",
    "cubic_sparsity",
    "gradual_prune",
    "sparsity_curve",
    "PowerProp",
    "powerpropagate",
    "remove_powerprop",
    "pack_tasks",
    "PackResult",
    "task_network",
    "batchnorm_parameters",
    "freeze_all_but_batchnorm",
    "random_parameter_subset",
    "gamma_near_zero",
    "imp",
    "IMPResult",
    "perturb_weights",
    "retrain_masked",
    "PERTURBATIONS",
    "pretrain",
    "PRETRAINING_KINDS",
    "blur_images",
    "rotation_task",
]
