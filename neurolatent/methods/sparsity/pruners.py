r"""The pruning-method interface and magnitude pruning.

Every method is a :class:`Pruner` object with one call, ``pruner.prune(model, sparsity, scope=...)``,
which modifies ``model`` in place (weights compensated where the method does so, masks installed by
:func:`~neurolatent.methods.sparsity.masks.apply_masks`) and returns the masks. Weights already
pruned stay pruned, so repeated calls with growing sparsity implement gradual pruning
(:func:`~neurolatent.methods.sparsity.schedule.gradual_prune`).

Subclasses implement :meth:`Pruner.scores` (a saliency per weight: higher = more important); methods
that also move the surviving weights (OBS, FishLeg surgeon) override :meth:`Pruner._prune`.
"""
from __future__ import annotations

import torch
from torch import nn

from .masks import apply_masks, check_sparsity, get_masks, prunable_layers, select_masks

__all__ = ["Pruner", "MagnitudePruner", "as_pruner"]

_SCOPES = ("global", "layer")


def check_scope(scope: str) -> str:
    if scope not in _SCOPES:
        raise ValueError(f"scope must be 'global' (one threshold over all layers) or 'layer' "
                         f"(each layer pruned to the same sparsity), got {scope!r}")
    return scope


class Pruner:
    """Base class of the pruning methods (see the module docstring).

    Attributes
    ----------
    name : str
        Short label used in result coordinates (``"magnitude"``, ``"obd"``, ``"obs"``, ``"fls"``).
    """

    name = "pruner"

    def scores(self, model: nn.Module) -> dict[str, torch.Tensor]:  # pragma: no cover - abstract
        """Saliency of every prunable weight, by weight name (shapes of the weights)."""
        raise NotImplementedError

    def prune(self, model: nn.Module, sparsity: float, *, scope: str = "global") -> dict[str, torch.Tensor]:
        """Prune ``model`` in place to ``sparsity`` and return the masks (weight name -> bool Tensor).

        Parameters
        ----------
        model : nn.Module
            Holds at least one ``nn.Linear`` / ``nn.Conv*d`` (ValueError naming the types otherwise).
        sparsity : float in [0, 1)
            Fraction of prunable weights that are zero afterwards (ValueError outside [0, 1)).
        scope : {"global", "layer"}
            One ranking over all layers, or each layer pruned to ``sparsity``.
        """
        s = check_sparsity(sparsity)
        check_scope(scope)
        layers = prunable_layers(model)
        masks = self._prune(model, layers, s, scope, get_masks(model))
        apply_masks(model, masks)
        return masks

    def _prune(self, model: nn.Module, layers: dict[str, nn.Module], sparsity: float, scope: str,
               current: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        return select_masks(self.scores(model), sparsity, scope=scope, current=current)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class MagnitudePruner(Pruner):
    r"""Prune the weights of smallest magnitude :math:`|w_q|` (Han et al. 2015; Zhu & Gupta 2017).

    Examples
    --------
    >>> net = nn.Linear(4, 3)
    >>> masks = MagnitudePruner().prune(net, 0.5)
    >>> int(masks["weight"].sum())
    6
    """

    name = "magnitude"

    def scores(self, model: nn.Module) -> dict[str, torch.Tensor]:
        return {k: m.weight.detach().abs() for k, m in prunable_layers(model).items()}


def as_pruner(method: Pruner | str) -> Pruner:
    """A :class:`Pruner` from an instance or the name ``"magnitude"`` (the only method needing no data)."""
    if isinstance(method, Pruner):
        return method
    if method == "magnitude":
        return MagnitudePruner()
    raise TypeError(
        f"method must be a Pruner (MagnitudePruner(), OBDPruner(x), OBSPruner(x), FishLegSurgeon(fishleg)) "
        f"or 'magnitude', got {method!r}; the curvature methods need data, so build them as objects")
