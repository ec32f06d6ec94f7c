r"""Gradual pruning during training with the cubic sparsity schedule of Zhu & Gupta (2017).

.. math:: s_t = s_f + (s_i - s_f)\Big(1 - \frac{t - t_0}{n\,\Delta t}\Big)^3,
          \qquad t \in \{t_0, t_0 + \Delta t, \dots, t_0 + n\Delta t\},

rising fast at first and levelling off at :math:`s_f` ("To prune, or not to prune", Zhu & Gupta 2017).
Here :math:`t` counts epochs: the network is pruned at the end of epochs :math:`t_0, t_0+\Delta t, \dots`
and trained on with its masks kept.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from ..common.data import ClassificationData
from ..common.train import train
from .masks import check_sparsity, enforce_masks, sparsity_report
from .pruners import Pruner, as_pruner, check_scope

__all__ = ["cubic_sparsity", "gradual_prune"]


def cubic_sparsity(t: int, *, final: float, initial: float = 0.0, start: int = 0, n_steps: int = 10,
                   every: int = 1) -> float:
    r"""Target sparsity :math:`s_t` of the cubic schedule (module docstring); ``initial`` before ``start``,
    ``final`` after ``start + n_steps * every``.

    Examples
    --------
    >>> [round(cubic_sparsity(t, final=0.9, n_steps=4), 4) for t in range(6)]
    [0.0, 0.5203, 0.7875, 0.8859, 0.9, 0.9]
    """
    final, initial = check_sparsity(final, "final"), check_sparsity(initial, "initial")
    if n_steps < 1 or every < 1:
        raise ValueError(f"n_steps and every must be >= 1, got n_steps={n_steps}, every={every}")
    if t < start:
        return initial
    frac = min((t - start) / (n_steps * every), 1.0)
    return final + (initial - final) * (1.0 - frac) ** 3


def gradual_prune(model: nn.Module, data: ClassificationData, method: Pruner | str, final_sparsity: float, *,
                  epochs: int = 20, start: int = 0, n_steps: int = 10, every: int = 1, initial: float = 0.0,
                  scope: str = "global", optimizer="adam", lr: float = 1e-3, batch_size: int = 64, seed: int = 0,
                  device: str | torch.device | None = None, progress: bool = False,
                  callback: Callable[[dict], "bool | None"] | None = None) -> dict[str, list]:
    r"""Train ``model`` while pruning it to ``final_sparsity`` along the cubic schedule; masks kept throughout.

    At the end of every epoch :math:`t` at which the target :math:`s_t` rises (the schedule's pruning
    steps), ``method.prune(model, s_t, scope=scope)`` removes more weights (already-pruned ones stay
    pruned). Training uses :func:`neurolatent.methods.common.train`; pass a
    :class:`~neurolatent.methods.optim.FishLeg` instance as ``optimizer`` together with a
    :class:`~neurolatent.methods.sparsity.FishLegSurgeon` on the same optimiser to refine Q between the
    pruning steps.

    Parameters
    ----------
    epochs : int
        Total epochs; choose ``epochs > start + n_steps * every`` to fine-tune at the final sparsity.
    start, n_steps, every, initial
        The schedule (:func:`cubic_sparsity`).
    optimizer, lr, batch_size, seed, device, progress
        As for :func:`neurolatent.methods.common.train`.
    callback : callable, optional
        Called after every epoch (after pruning) with the training loop's state dict.

    Returns
    -------
    dict of lists
        The training history plus ``sparsity`` (measured global sparsity after each epoch).

    Examples
    --------
    >>> from neurolatent.methods.common import MLP, make_teacher_classification
    >>> d = make_teacher_classification(200, 5, 3, seed=0)
    >>> h = gradual_prune(MLP(5, (16,), 3, seed=0), d, "magnitude", 0.5, epochs=3, n_steps=2)
    >>> round(h["sparsity"][-1], 2)
    0.5
    """
    pruner = as_pruner(method)
    final_sparsity = check_sparsity(final_sparsity, "final_sparsity")
    check_scope(scope)
    sparsities: list[float] = []
    state = {"last": -1.0}

    def step(st: dict) -> bool | None:
        target = cubic_sparsity(st["epoch"], final=final_sparsity, initial=initial, start=start,
                                n_steps=n_steps, every=every)
        if target > state["last"] + 1e-12 and target > 0:
            pruner.prune(model, target, scope=scope)
            state["last"] = target
        sparsities.append(sparsity_report(model)["global"])
        return callback(st) if callback is not None else None

    history = train(model, data, epochs=epochs, batch_size=batch_size, optimizer=optimizer, lr=lr, seed=seed,
                    device=device, progress=progress, callback=step)
    enforce_masks(model)
    history["sparsity"] = sparsities
    return history
