r"""Training BatchNorm and only BatchNorm (Frankle, Schwab & Morcos, ICLR 2021).

All weights stay at their random initialisation; only the affine parameters of the BatchNorm layers,
:math:`y = \gamma\,\hat x + \beta`, are trained. The baseline trains the same *number* of randomly
chosen entries of the other parameters instead (gradients of all other entries are masked to zero,
so Adam or SGD without weight decay leaves them exactly at initialisation).
"""
from __future__ import annotations

from typing import Iterable

import torch
from torch import nn

from ..._utils import make_generator

__all__ = ["batchnorm_parameters", "freeze_all_but_batchnorm", "random_parameter_subset", "gamma_near_zero"]


def _norms(model: nn.Module) -> list[nn.modules.batchnorm._BatchNorm]:
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.affine]
    if not norms:
        raise ValueError(f"the model has no affine BatchNorm layers (found {sorted({type(m).__name__ for m in model.modules()})}); "
                         "build it with batchnorm=True (e.g. MLP(..., batchnorm=True))")
    return norms


def batchnorm_parameters(model: nn.Module) -> list[nn.Parameter]:
    """The :math:`\\gamma` and :math:`\\beta` of every affine BatchNorm layer (ValueError when there are none)."""
    return [p for m in _norms(model) for p in (m.weight, m.bias)]


def freeze_all_but_batchnorm(model: nn.Module) -> list[nn.Parameter]:
    """Set ``requires_grad=False`` on every parameter except BatchNorm's :math:`\\gamma, \\beta`; return those.

    Examples
    --------
    >>> from neurolatent.methods.common import MLP
    >>> net = MLP(4, (8, 8), 3, batchnorm=True, seed=0)
    >>> sum(p.numel() for p in freeze_all_but_batchnorm(net))
    32
    """
    keep = {id(p) for p in batchnorm_parameters(model)}
    for p in model.parameters():
        p.requires_grad_(id(p) in keep)
    return [p for p in model.parameters() if id(p) in keep]


def random_parameter_subset(model: nn.Module, n: int, *, seed: int = 0,
                            exclude: Iterable[nn.Parameter] | None = None) -> list[nn.Parameter]:
    """Make only ``n`` randomly chosen scalar entries of ``model``'s parameters trainable.

    The entries are drawn uniformly without replacement among all parameters not in ``exclude``
    (default: BatchNorm's, which are frozen). Gradient hooks zero the other entries' gradients;
    train the returned parameters with an optimiser without weight decay.

    Returns
    -------
    list of Parameter
        The parameters holding at least one chosen entry (pass them to the training loop).
    """
    excl = {id(p) for p in (exclude if exclude is not None else batchnorm_parameters(model))}
    cands = [p for p in model.parameters() if id(p) not in excl]
    total = sum(p.numel() for p in cands)
    if not 0 < n <= total:
        raise ValueError(f"random_parameter_subset: n must lie in 1..{total} (the entries available), got {n}")
    pick = torch.randperm(total, generator=make_generator(seed))[:n]
    chosen, start = [], 0
    for p in model.parameters():
        p.requires_grad_(False)
    for p in cands:
        sel = pick[(pick >= start) & (pick < start + p.numel())] - start
        start += p.numel()
        if sel.numel() == 0:
            continue
        mask = torch.zeros(p.numel(), dtype=p.dtype, device=p.device)
        mask[sel.to(p.device)] = 1.0
        mask = mask.reshape(p.shape)
        p.requires_grad_(True)
        p.register_hook(lambda g, m=mask: g * m)
        chosen.append(p)
    return chosen


def gamma_near_zero(model: nn.Module, threshold: float = 0.05) -> float:
    r"""Fraction of BatchNorm scales with :math:`|\gamma| <` ``threshold`` (features switched off)."""
    g = torch.cat([m.weight.detach().abs().reshape(-1) for m in _norms(model)])
    return float((g < threshold).double().mean())
