"""Pruning and sparsity (``nl.methods.sparsity``).

* masks as ordinary boolean tensors kept through training (:mod:`.masks`), convertible to
  ``torch.nn.utils.prune``;
* one pruning call per method -- :class:`MagnitudePruner`, :class:`OBDPruner` (diagonal Fisher),
  :class:`OBSPruner` (exact Optimal Brain Surgeon, the oracle on small networks) and
  :class:`FishLegSurgeon` (OBS with FishLeg's learned inverse Fisher) -- globally or layer-wise
  (:mod:`.pruners`, :mod:`.surgeon`);
* gradual pruning with the cubic schedule of Zhu & Gupta 2017 (:mod:`.schedule`);
* sparsity-vs-accuracy curves as ``xarray.Dataset`` (:mod:`.curve`);
* Powerpropagation, ``w = v|v|^(alpha-1)`` (Schwarz et al. 2021) (:mod:`.powerprop`).

Nothing here imports :mod:`neurolatent.models`.
"""
from .curve import sparsity_curve
from .masks import (
    PRUNABLE_TYPES,
    apply_masks,
    check_sparsity,
    get_masks,
    masks_paused,
    prunable_layers,
    remove_masks,
    select_masks,
    sparsity_report,
    to_torch_prune,
)
from .powerprop import PowerProp, powerpropagate, remove_powerprop
from .pruners import MagnitudePruner, Pruner, as_pruner
from .schedule import cubic_sparsity, gradual_prune
from .surgeon import FishLegSurgeon, OBDPruner, OBSPruner, fisher_blocks, inverse_fisher_cosine, obs_update

__all__ = [
    "PRUNABLE_TYPES",
    "prunable_layers",
    "check_sparsity",
    "apply_masks",
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
]
