"""Small helpers shared by the continual-learning modules (not public API)."""
from __future__ import annotations

import torch
from torch import nn

from ..common.data import ClassificationData

PER_SAMPLE_KINDS = ("fisher", "empirical_fisher", "af", "mas")
PATH_KINDS = ("si", "siu", "sib")
IMPORTANCE_KINDS = PER_SAMPLE_KINDS + PATH_KINDS


def xy(data, where: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The training inputs and labels of a ClassificationData or an ``(x, y)`` pair, checked."""
    if isinstance(data, ClassificationData):
        return data.x_train, data.y_train
    if isinstance(data, (tuple, list)) and len(data) == 2:
        x, y = data
        if x.shape[0] != y.shape[0]:
            raise ValueError(f"{where}: x has {x.shape[0]} samples but y has {y.shape[0]}; they must match")
        return x, y
    raise TypeError(f"{where}: data must be a ClassificationData or an (x, y) pair of tensors, got {type(data).__name__}")


def trainable(model: nn.Module) -> dict[str, torch.nn.Parameter]:
    """The parameters of ``model`` that require gradients, by name."""
    return {n: p for n, p in model.named_parameters() if p.requires_grad}
