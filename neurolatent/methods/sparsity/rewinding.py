r"""Iterative magnitude pruning with rewinding (Frankle, Schwab & Morcos, "The early phase of neural
network training", ICLR 2020; Frankle, Dziugaite, Roy & Carbin 2020).

IMP: train the dense network for :math:`T` epochs, remembering its weights :math:`\theta_k` after
:math:`k` epochs; then, round after round, remove a fraction ``prune_fraction`` of the surviving weights
by global magnitude, *rewind* the survivors to :math:`\theta_k` and train the masked network for the
remaining :math:`T - k` epochs. :math:`k = 0` is the original lottery-ticket procedure (rewind to
initialisation).

The perturbations of the rewound weights (applied to the kept weights only, before re-training with
the final mask) are those of the paper's ablations:

``"reinit"``
    a fresh random initialisation (the network's own initialiser, another seed);
``"reinit_keep_signs"``
    fresh magnitudes, the signs of :math:`\theta_k`;
``"random_signs"``
    the magnitudes of :math:`\theta_k`, random signs;
``"shuffle"``
    the kept values of :math:`\theta_k` permuted at random within each layer.

Rewinding is in whole epochs here (the paper counts iterations); on small data an epoch is a few
dozen iterations.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass, field
import torch
from torch import nn

from ..._utils import make_generator
from ..common.data import ClassificationData
from ..common.evaluate import evaluate
from ..common.train import train
from .masks import apply_masks, check_sparsity, enforce_masks, get_masks, prunable_layers, remove_masks
from .pruners import MagnitudePruner

__all__ = ["IMPResult", "imp", "perturb_weights", "retrain_masked", "PERTURBATIONS"]

PERTURBATIONS = ("reinit", "reinit_keep_signs", "random_signs", "shuffle")


@dataclass
class IMPResult:
    """Outcome of :func:`imp`.

    Attributes
    ----------
    masks : dict of str to bool Tensor
        The final masks.
    rewind_state : dict
        ``state_dict`` of the dense network after ``rewind_epoch`` epochs (no masks).
    model : nn.Module
        The network trained with the final mask.
    sparsity, accuracy : list of float
        Global sparsity and test accuracy after each round (round 0: the dense network).
    """

    masks: dict[str, torch.Tensor]
    rewind_state: dict
    model: nn.Module
    sparsity: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)


def imp(model: nn.Module, data: ClassificationData, *, rounds: int, prune_fraction: float = 0.2,
        rewind_epoch: int = 0, epochs: int = 20, lr: float = 1e-3, optimizer="adam", batch_size: int = 64,
        seed: int = 0, device: str | torch.device | None = None, progress: bool = False) -> IMPResult:
    r"""Iterative magnitude pruning with rewinding to epoch ``rewind_epoch`` (module docstring).

    After ``rounds`` rounds the global sparsity is :math:`1 - (1 - p)^{\text{rounds}}`.

    Parameters
    ----------
    model : nn.Module
        The network at initialisation (not modified; a copy is trained).
    rounds : int
        Pruning rounds (>= 1).
    prune_fraction : float in (0, 1)
        Fraction :math:`p` of the surviving weights removed per round.
    rewind_epoch : int
        :math:`k`, in ``0 .. epochs - 1``.
    epochs, lr, optimizer, batch_size, seed, device, progress
        Training recipe of every round (:func:`neurolatent.methods.common.train`); the minibatch order
        after rewinding continues with seed ``seed + k + 1``.

    Examples
    --------
    >>> from neurolatent.methods.common import MLP, make_teacher_classification
    >>> d = make_teacher_classification(200, 5, 3, seed=0)
    >>> res = imp(MLP(5, (16,), 3, seed=0), d, rounds=2, prune_fraction=0.5, epochs=2, rewind_epoch=1)
    >>> [round(s, 2) for s in res.sparsity]
    [0.0, 0.5, 0.75]
    """
    if int(rounds) < 1:
        raise ValueError(f"imp: rounds must be >= 1, got {rounds!r}")
    check_sparsity(prune_fraction, "prune_fraction")
    if not prune_fraction > 0:
        raise ValueError("imp: prune_fraction must be > 0 (the fraction of surviving weights removed per round)")
    if not 0 <= int(rewind_epoch) < int(epochs):
        raise ValueError(f"imp: rewind_epoch must lie in 0..epochs-1 = 0..{epochs - 1}, got {rewind_epoch!r}")
    k = int(rewind_epoch)
    recipe = dict(lr=lr, optimizer=optimizer, batch_size=batch_size, device=device, progress=progress)
    net = copy.deepcopy(model)
    prunable_layers(net)  # clear error early when there is nothing to prune
    saved: dict = {}
    if k == 0:
        saved["state"] = copy.deepcopy(net.state_dict())

    def keep(st: dict) -> None:
        if st["epoch"] + 1 == k:
            saved["state"] = copy.deepcopy(st["model"].state_dict())

    train(net, data, epochs=epochs, seed=seed, callback=keep, **recipe)
    res = IMPResult(masks=get_masks(net), rewind_state=saved["state"], model=net,
                    sparsity=[0.0], accuracy=[evaluate(net, data.x_test, data.y_test)["accuracy"]])
    for r in range(1, int(rounds) + 1):
        target = 1.0 - (1.0 - prune_fraction) ** r
        masks = MagnitudePruner().prune(net, target)
        net = retrain_masked(model, res.rewind_state, masks, data, epochs=epochs - k, seed=seed + k + 1, **recipe)
        res.masks, res.model = masks, net
        res.sparsity.append(1.0 - sum(int(m.sum()) for m in masks.values()) / sum(m.numel() for m in masks.values()))
        res.accuracy.append(evaluate(net, data.x_test, data.y_test)["accuracy"])
    return res


def perturb_weights(model: nn.Module, kind: str, *, init: nn.Module | None = None,
                    masks: dict[str, torch.Tensor] | None = None, seed: int = 0) -> nn.Module:
    """Apply one of :data:`PERTURBATIONS` to the prunable weights of ``model`` in place (before masking).

    ``init`` is a freshly initialised network of the same architecture (needed by ``"reinit"`` and
    ``"reinit_keep_signs"``); ``"shuffle"`` permutes only the weights kept by ``masks`` (default: the
    masks on ``model``).

    Examples
    --------
    >>> net = nn.Linear(3, 2)
    >>> w = net.weight.detach().clone()
    >>> _ = perturb_weights(net, "random_signs", seed=0)
    >>> torch.equal(net.weight.abs(), w.abs())
    True
    """
    if kind not in PERTURBATIONS:
        raise ValueError(f"perturbation must be one of {PERTURBATIONS}, got {kind!r}")
    if kind.startswith("reinit") and init is None:
        raise ValueError(f"perturbation {kind!r} needs init=, a freshly initialised copy of the architecture")
    gen = make_generator(seed)
    fresh = prunable_layers(init) if init is not None else {}
    masks = get_masks(model) if masks is None else masks
    with torch.no_grad():
        for name, m in prunable_layers(model).items():
            w = m.weight
            if kind == "reinit":
                w.copy_(fresh[name].weight)
            elif kind == "reinit_keep_signs":
                w.copy_(fresh[name].weight.abs() * torch.where(w >= 0, 1.0, -1.0))
            elif kind == "random_signs":
                signs = torch.randint(0, 2, w.shape, generator=gen).to(w) * 2 - 1
                w.mul_(signs)
            else:
                kept = masks[name].reshape(-1).nonzero().squeeze(1)
                flat = w.reshape(-1)
                vals = flat[kept].clone()
                flat[kept] = vals[torch.randperm(vals.numel(), generator=gen).to(vals.device)]
    return model


def retrain_masked(model: nn.Module, state: dict, masks: dict[str, torch.Tensor], data: ClassificationData, *,
                   epochs: int, perturbation: str | None = None, init: nn.Module | None = None,
                   perturb_seed: int = 0, seed: int = 0, **recipe) -> nn.Module:
    """A copy of ``model`` loaded with ``state``, optionally perturbed, masked with ``masks`` and trained.

    ``recipe`` goes to :func:`neurolatent.methods.common.train` (``lr``, ``optimizer``, ...).
    """
    net = remove_masks(copy.deepcopy(model))
    net.load_state_dict({k: v for k, v in state.items() if not k.endswith("weight_mask")})
    if perturbation is not None:
        perturb_weights(net, perturbation, init=init, masks=masks, seed=perturb_seed)
    apply_masks(net, masks)
    train(net, data, epochs=epochs, seed=seed, **recipe)
    return enforce_masks(net)
