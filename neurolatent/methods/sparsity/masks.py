r"""Pruning masks as ordinary tensors, kept through training.

A mask is a boolean tensor of a weight's shape (``True`` = kept). Masks live on their layer as a
buffer ``weight_mask`` (so ``state_dict``, ``copy.deepcopy`` and ``.to(device)`` carry them) and a
forward pre-hook multiplies the weight by its mask *in place* before every forward pass, so the
network always computes with the sparse weights whatever the optimiser does between passes (SGD,
Adam, :class:`~neurolatent.methods.optim.FishLeg`, ...). :func:`to_torch_prune` converts them to
``torch.nn.utils.prune`` masks for users of that API.

Between an optimiser step and the next forward pass the pruned entries may hold the step's (unused)
values; :func:`enforce_masks` zeroes them at any time (the training loops here end with it).

Prunable layers are the weights of ``nn.Linear`` and ``nn.Conv1d/2d/3d``; biases and normalisation
parameters are never pruned. Sparsity :math:`s` means a fraction :math:`s` of the prunable weights
(globally, or of each layer with ``scope="layer"``) is zero.
"""
from __future__ import annotations

import contextlib
import math
from typing import Iterator, Mapping

import torch
from torch import nn
from torch.nn.utils import parametrize

__all__ = [
    "PRUNABLE_TYPES", "prunable_layers", "check_sparsity", "apply_masks", "get_masks", "remove_masks",
    "sparsity_report", "to_torch_prune", "select_masks", "masks_paused", "enforce_masks",
]

PRUNABLE_TYPES: tuple[type, ...] = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


def check_sparsity(sparsity: float, name: str = "sparsity") -> float:
    """``sparsity`` as a float in ``[0, 1)``, else a ValueError saying what to pass."""
    try:
        s = float(sparsity)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{name} must be a number in [0, 1), got {sparsity!r}") from err
    if not math.isfinite(s) or not 0.0 <= s < 1.0:
        raise ValueError(f"{name} must lie in [0, 1) (the fraction of prunable weights set to zero), "
                         f"got {sparsity!r}; e.g. 0.9 keeps one weight in ten")
    return s


def prunable_layers(model: nn.Module) -> dict[str, nn.Module]:
    """The prunable layers of ``model`` by the name of their weight (``"blocks.0.layer.weight"``).

    Raises
    ------
    ValueError
        If ``model`` holds none of :data:`PRUNABLE_TYPES`; the message lists the layer types found.
    TypeError
        If ``model`` is not an ``nn.Module``.

    Examples
    --------
    >>> list(prunable_layers(nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))))
    ['0.weight', '2.weight']
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"prunable_layers: model must be an nn.Module, got {type(model).__name__}")
    out = {(f"{name}.weight" if name else "weight"): m for name, m in model.named_modules()
           if isinstance(m, PRUNABLE_TYPES)}
    if not out:
        found = sorted({type(m).__name__ for m in model.modules()})
        raise ValueError(
            f"the model has no prunable layers: pruning acts on the weights of "
            f"{', '.join(t.__name__ for t in PRUNABLE_TYPES)}, but the model holds only {found}; "
            "build it from these layers (e.g. neurolatent.methods.common.MLP or SmallCNN)")
    return out


def _enforce_mask(module: nn.Module, inputs) -> None:
    # Only the module's own Parameter is written. Under torch.func.functional_call (FishLeg's and the
    # exact Fisher's Jacobian/JVP passes) ``module.weight`` is a substituted tensor, possibly a functorch
    # wrapper: an in-place write there would corrupt the transform, and the substitute was taken from the
    # already-zeroed parameter anyway.
    if getattr(module, "_mask_paused", False) or not isinstance(module.weight, nn.Parameter):
        return
    with torch.no_grad():
        module.weight.mul_(module.weight_mask)


@contextlib.contextmanager
def masks_paused(model: nn.Module) -> Iterator[nn.Module]:
    """Skip the in-place mask enforcement inside the block; the pruned weights are zeroed on entry.

    (``torch.func`` passes substitute the parameters and are skipped automatically; this is for any
    other code that must not see in-place writes.)"""
    layers = [m for m in model.modules() if "weight_mask" in m._buffers]
    for m in layers:
        _enforce_mask(m, None)
        m._mask_paused = True
    try:
        yield model
    finally:
        for m in layers:
            m._mask_paused = False


def apply_masks(model: nn.Module, masks: Mapping[str, torch.Tensor]) -> nn.Module:
    """Install (or replace) ``masks`` on ``model`` in place and zero the pruned weights.

    Parameters
    ----------
    model : nn.Module
    masks : mapping of str to bool Tensor
        Weight name (as in :func:`prunable_layers`) to a mask of the weight's shape; layers not named
        keep their current mask (or stay dense).

    Returns
    -------
    nn.Module
        ``model``, whose pruned weights stay zero through training (module docstring).

    Examples
    --------
    >>> net = nn.Linear(2, 2)
    >>> _ = apply_masks(net, {"weight": torch.tensor([[True, False], [False, True]])})
    >>> float((net.weight == 0).float().mean())
    0.5
    """
    layers = prunable_layers(model)
    for name, mask in masks.items():
        if name not in layers:
            raise KeyError(f"apply_masks: {name!r} is not a prunable weight of the model; "
                           f"choose among {list(layers)}")
        m = layers[name]
        if parametrize.is_parametrized(m, "weight"):
            raise ValueError(f"apply_masks: the weight {name!r} is re-parametrised (e.g. by powerpropagate); "
                             "remove the parametrisation first (remove_powerprop(model)), then prune")
        if tuple(mask.shape) != tuple(m.weight.shape):
            raise ValueError(f"apply_masks: the mask of {name!r} has shape {tuple(mask.shape)}, "
                             f"the weight {tuple(m.weight.shape)}")
        mask = mask.to(device=m.weight.device, dtype=torch.bool)
        if "weight_mask" in m._buffers:
            m.weight_mask = mask.clone()
        else:
            m.register_buffer("weight_mask", mask.clone())
        if not any(h is _enforce_mask for h in m._forward_pre_hooks.values()):
            m.register_forward_pre_hook(_enforce_mask)
        _enforce_mask(m, None)
    return model


def enforce_masks(model: nn.Module) -> nn.Module:
    """Zero every pruned weight of ``model`` now (in place); returns ``model``."""
    for m in model.modules():
        if "weight_mask" in m._buffers:
            _enforce_mask(m, None)
    return model


def get_masks(model: nn.Module) -> dict[str, torch.Tensor]:
    """The current mask of every prunable weight (all-``True`` for dense layers)."""
    return {name: (m.weight_mask.clone() if "weight_mask" in m._buffers
                   else torch.ones_like(m.weight, dtype=torch.bool))
            for name, m in prunable_layers(model).items()}


def remove_masks(model: nn.Module) -> nn.Module:
    """Drop the masks and their hooks, leaving the (zeroed) weights as plain dense parameters."""
    for m in prunable_layers(model).values():
        if "weight_mask" in m._buffers:
            _enforce_mask(m, None)
            # find the hook in this module's own dict (a handle kept across copy.deepcopy would point
            # at the original module's hooks)
            for k, h in list(m._forward_pre_hooks.items()):
                if h is _enforce_mask:
                    del m._forward_pre_hooks[k]
            del m._buffers["weight_mask"]
    return model


def to_torch_prune(model: nn.Module) -> nn.Module:
    """Move the masks to ``torch.nn.utils.prune`` (``weight_orig`` + ``weight_mask``), in place.

    Use this at the end (e.g. to export); optimisers that update ``layer.weight`` in place
    (FishLeg) need the native masks of :func:`apply_masks` during training.
    """
    from torch.nn.utils import prune

    masks = get_masks(model)
    layers = prunable_layers(model)
    remove_masks(model)
    for name, m in layers.items():
        prune.custom_from_mask(m, "weight", masks[name].to(m.weight.dtype))
    return model


def select_masks(scores: Mapping[str, torch.Tensor], sparsity: float, *, scope: str = "global",
                 current: Mapping[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
    r"""Keep the highest-scoring weights: a fraction ``1 - sparsity`` globally or per layer.

    Weights already pruned (``current`` False) stay pruned and count towards the sparsity. Ties
    are broken by ``torch.topk``, so exactly ``round(s n)`` of the :math:`n` weights of a group are
    pruned (more if ``current`` already prunes more).

    Parameters
    ----------
    scores : mapping of str to Tensor
        Weight name to a score of the weight's shape (higher = more important).
    sparsity : float in [0, 1)
    scope : {"global", "layer"}
    current : mapping of str to bool Tensor, optional
        Masks already in place.

    Returns
    -------
    dict of str to bool Tensor

    Examples
    --------
    >>> m = select_masks({"w": torch.tensor([3.0, 1.0, 2.0, 4.0])}, 0.5)
    >>> m["w"].tolist()
    [True, False, False, True]
    """
    s = check_sparsity(sparsity)
    if scope not in ("global", "layer"):
        raise ValueError(f"scope must be 'global' (one threshold over all layers) or 'layer' "
                         f"(each layer to the same sparsity), got {scope!r}")
    names = list(scores)
    flat = {k: scores[k].detach().reshape(-1).to(torch.float64).clone() for k in names}
    if current is not None:
        for k in names:
            flat[k][~current[k].reshape(-1).to(flat[k].device)] = -math.inf
    out: dict[str, torch.Tensor] = {}
    groups = [names] if scope == "global" else [[k] for k in names]
    for group in groups:
        allv = torch.cat([flat[k].cpu() for k in group])
        n_prune = int(round(s * allv.numel()))
        keep = torch.ones(allv.numel(), dtype=torch.bool)
        if n_prune:
            keep[torch.topk(allv, n_prune, largest=False).indices] = False
        i = 0
        for k in group:
            n = flat[k].numel()
            out[k] = keep[i:i + n].reshape(scores[k].shape).to(scores[k].device)
            if current is not None:
                out[k] &= current[k].to(out[k].device)
            i += n
    return out


def sparsity_report(model: nn.Module) -> dict[str, float]:
    """Fraction of exactly-zero prunable weights, per weight name and ``"global"``."""
    out, zeros, total = {}, 0, 0
    for name, m in prunable_layers(model).items():
        w = m.weight.detach()
        if "weight_mask" in m._buffers:
            w = w * m.weight_mask
        z = int((w == 0).sum())
        out[name] = z / w.numel()
        zeros, total = zeros + z, total + w.numel()
    out["global"] = zeros / total
    return out
