r"""Packing several tasks into one network at fixed capacity, with Powerpropagation.

PackNet (Mallya & Lazebnik, "PackNet: adding multiple tasks to a single network by iterative
pruning", CVPR 2018) trains task :math:`t` on the weights no earlier task owns, keeps the largest
(by magnitude) fraction ``capacity`` of all prunable weights as task :math:`t`'s own, freezes them, and
frees the rest for the next task. Task :math:`t` is then solved by the network restricted to the weights
of tasks :math:`0 \dots t`, which later tasks never change -- so there is no forgetting, and the question
is how much accuracy each task loses when cut down to its share. Schwarz et al. (Powerpropagation,
NeurIPS 2021, section 4.3) use their re-parameterisation :math:`w = v|v|^{\alpha-1}` (:mod:`.powerprop`)
here: with :math:`\alpha > 1` the trained weights concentrate in fewer, larger entries, so a task survives
being cut to a small share.

Details of this implementation:

* every ``nn.Linear`` / ``nn.Conv*d`` weight is powerpropagated with ``alpha`` (``alpha = 1``: plain
  PackNet); the trainable entries are those of :math:`v`, frozen ones get zero gradient (a hook);
* biases (and any other non-prunable parameter) are trained with task 0 only and then frozen, as in
  PackNet;
* freed weights are reset to their values at initialisation before the next task (a zero :math:`v`
  would receive no gradient for :math:`\alpha > 1`);
* optionally, after the selection, the kept weights are fine-tuned for ``finetune_epochs`` with the
  freed ones zeroed (PackNet's retraining step);
* task :math:`j` is evaluated with the weights of tasks :math:`0 \dots \min(j, i)` after task :math:`i`
  (:func:`task_network`); the tasks share the output layer, so the streams must share labels
  (e.g. :func:`~neurolatent.methods.common.permuted_tasks`).

BatchNorm's running statistics would be shared and overwritten across tasks, so models with
BatchNorm are refused.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch
import xarray as xr
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm
from tqdm.auto import tqdm

from ..._utils import resolve_device
from ..common.data import ClassificationData
from ..common.evaluate import evaluate
from ..common.train import train
from ..continual.metrics import summarise_accuracy
from .masks import prunable_layers, select_masks
from .powerprop import check_alpha, powerpropagate, remove_powerprop

__all__ = ["PackResult", "pack_tasks", "task_network"]


@dataclass
class PackResult:
    """Outcome of :func:`pack_tasks`.

    Attributes
    ----------
    model : nn.Module
        The packed network, still powerpropagated (parameters :math:`v`).
    owners : dict of str to int64 Tensor
        Per prunable weight (weight shape): the task owning each entry, ``-1`` where none does.
    results : xarray.Dataset
        ``accuracy`` (``after_task``, ``on_task``) and its summaries
        (:func:`~neurolatent.methods.continual.summarise_accuracy`), plus ``dense_accuracy``
        (``on_task``: task :math:`t` just before its selection) and ``share`` (``on_task``: the
        fraction of prunable weights it owns); attrs: ``alpha``, ``capacity``, ``epochs``,
        ``finetune_epochs``, ``lr``, ``seed``.
    """

    model: nn.Module
    owners: dict[str, torch.Tensor]
    results: xr.Dataset


def _v(layer: nn.Module) -> nn.Parameter:
    return layer.parametrizations.weight.original


def task_network(model: nn.Module, owners: dict[str, torch.Tensor], task: int) -> nn.Module:
    """A plain copy of a packed ``model`` that solves ``task``: Powerpropagation folded into the weights
    (:func:`remove_powerprop`) and every entry not owned by tasks ``0 .. task`` set to zero.

    Examples
    --------
    >>> from neurolatent.methods.common import MLP
    >>> net = powerpropagate(MLP(4, (3,), 2, seed=0), 2.0)
    >>> owners = {k: torch.zeros_like(m.weight, dtype=torch.int64) for k, m in prunable_layers(net).items()}
    >>> owners["blocks.0.layer.weight"][0] = 1
    >>> round(float((task_network(net, owners, 0).blocks[0].layer.weight == 0).double().mean()), 3)
    0.333
    """
    if int(task) < 0:
        raise ValueError(f"task_network: task must be >= 0, got {task!r}")
    net = remove_powerprop(copy.deepcopy(model))
    layers = prunable_layers(net)
    if set(owners) != set(layers):
        raise ValueError(f"task_network: owners name {sorted(owners)}, "
                         f"the model's prunable weights are {sorted(layers)}")
    with torch.no_grad():
        for name, m in layers.items():
            own = owners[name].to(m.weight.device)
            m.weight.mul_(((own >= 0) & (own <= int(task))).to(m.weight.dtype))
    return net


def pack_tasks(model: nn.Module, tasks: Sequence[ClassificationData], *, alpha: float = 1.0,
               capacity: float = 0.2, epochs: int = 10, finetune_epochs: int = 0, lr: float = 1e-3,
               optimizer="adam", batch_size: int = 64, seed: int = 0, device: str | torch.device | None = None,
               progress: bool = False, callback: Callable[[dict], None] | None = None) -> PackResult:
    r"""Train ``tasks`` in order into one network, each task keeping ``capacity`` of the weights (module docstring).

    Parameters
    ----------
    model : nn.Module
        The network at initialisation, without BatchNorm (not modified; a copy is packed).
    tasks : sequence of ClassificationData
        Tasks sharing input shape and labels (e.g. ``permuted_tasks(load_digits(), 4)``).
    alpha : float
        Powerpropagation exponent (> 0; 1 is plain PackNet).
    capacity : float in (0, 1]
        Fraction of all prunable weights each task keeps; ``capacity * len(tasks)`` must be <= 1.
    epochs, finetune_epochs : int
        Training epochs per task on the free weights; fine-tuning epochs of the kept ones after selection.
    lr, optimizer, batch_size
        Recipe of :func:`neurolatent.methods.common.train` (a fresh optimiser per phase). Frozen entries
        get exactly zero gradient; an optimiser that moves them anyway (e.g. weight decay) is an error.
    seed : int
        Minibatch orders: task ``t`` uses ``seed * 1000 + t`` (fine-tuning ``seed * 1000 + 500 + t``).
    device, progress, callback
        ``callback`` is called after each task with ``{"task", "model", "owners", "accuracy"}``
        (``accuracy``: that row of the matrix, NumPy).

    Returns
    -------
    PackResult

    Examples
    --------
    >>> from neurolatent.methods.common import MLP, make_teacher_classification, permuted_tasks
    >>> tasks = permuted_tasks(make_teacher_classification(200, 6, 3, seed=0), 2, seed=0)
    >>> res = pack_tasks(MLP(6, (16,), 3, seed=0), tasks, alpha=2.0, capacity=0.3, epochs=2)
    >>> res.results.accuracy.shape, [round(float(s), 2) for s in res.results.share]
    ((2, 2), [0.3, 0.3])
    """
    a = check_alpha(alpha)
    tasks = list(tasks)
    if not tasks or not all(isinstance(t, ClassificationData) for t in tasks):
        raise ValueError("pack_tasks: tasks must be a non-empty sequence of ClassificationData "
                         "(e.g. permuted_tasks(load_digits(), 4))")
    cap = float(capacity)
    if not 0.0 < cap <= 1.0 or cap * len(tasks) > 1.0 + 1e-9:
        raise ValueError(f"pack_tasks: capacity must lie in (0, 1] with capacity * len(tasks) <= 1 (each task keeps "
                         f"that fraction of the weights), got capacity={capacity!r} for {len(tasks)} tasks; "
                         f"use capacity <= {1.0 / len(tasks):.3g}")
    if int(epochs) < 1 or int(finetune_epochs) < 0:
        raise ValueError(f"pack_tasks: epochs must be >= 1 and finetune_epochs >= 0, "
                         f"got {epochs!r}, {finetune_epochs!r}")
    bns = [n for n, m in model.named_modules() if isinstance(m, _BatchNorm)]
    if bns:
        raise ValueError(f"pack_tasks: the model has BatchNorm layers {bns}, whose running statistics later tasks "
                         "would overwrite; build it without (e.g. MLP(..., batchnorm=False))")
    first = next(iter(model.parameters()), None)
    dev = resolve_device(device, first)
    net = powerpropagate(copy.deepcopy(model).to(dev), a)
    layers = prunable_layers(net)
    init_v = {k: _v(m).detach().clone() for k, m in layers.items()}
    owners = {k: torch.full(m.weight.shape, -1, dtype=torch.int64, device=dev) for k, m in layers.items()}
    total = sum(o.numel() for o in owners.values())
    others = [p for p in net.parameters() if all(p is not _v(m) for m in layers.values())]
    recipe = dict(lr=lr, optimizer=optimizer, batch_size=batch_size, device=dev)
    n = len(tasks)
    acc = np.full((n, n), np.nan)
    dense = np.full(n, np.nan)

    def fit(data, trainable: dict[str, torch.Tensor], n_epochs: int, train_seed: int, with_others: bool) -> None:
        frozen = {k: _v(m).detach().clone() for k, m in layers.items()}
        hooks = [_v(m).register_hook(lambda g, t=trainable[k]: g * t.to(g.dtype)) for k, m in layers.items()]
        try:
            params = [_v(m) for m in layers.values()] + (others if with_others else [])
            train(net, data, epochs=n_epochs, seed=train_seed, params=params, **recipe)
        finally:
            for h in hooks:
                h.remove()
        for k, m in layers.items():
            if not torch.equal(_v(m).detach()[~trainable[k]], frozen[k][~trainable[k]]):
                raise RuntimeError("pack_tasks: the optimiser moved frozen weights although their gradient is zero "
                                   "(weight decay?); use an optimiser without decay, e.g. optimizer='adam'")

    bar = tqdm(range(n), desc="pack", disable=not progress, leave=False)
    for t in bar:
        data = tasks[t].to(dev)
        free = {k: o < 0 for k, o in owners.items()}
        fit(data, free, int(epochs), seed * 1000 + t, with_others=(t == 0))
        dense[t] = evaluate(net, data.x_test, data.y_test)["accuracy"]
        keep_n = min(int(round(cap * total)), sum(int(f.sum()) for f in free.values()))
        scores = {k: m.weight.detach().abs() for k, m in layers.items()}
        mine = select_masks(scores, 1.0 - keep_n / total, current=free)
        with torch.no_grad():
            for k, m in layers.items():
                owners[k][mine[k]] = t
                released = free[k] & ~mine[k]
                _v(m)[released] = 0.0
        if int(finetune_epochs) > 0:
            fit(data, mine, int(finetune_epochs), seed * 1000 + 500 + t, with_others=False)
        with torch.no_grad():
            for k, m in layers.items():
                released = owners[k] < 0
                _v(m)[released] = init_v[k][released]
        for j in range(n):
            view = task_network(net, owners, min(j, t))
            acc[t, j] = evaluate(view, tasks[j].x_test.to(dev), tasks[j].y_test.to(dev))["accuracy"]
        if callback is not None:
            callback({"task": t, "model": net, "owners": owners, "accuracy": acc[t].copy()})
    res = summarise_accuracy(acc)
    res["dense_accuracy"] = (("on_task",), dense)
    shares = [sum(int((o == t).sum()) for o in owners.values()) / total for t in range(n)]
    res["share"] = (("on_task",), np.array(shares))
    res = res.assign_coords(task_name=("on_task", [d.name for d in tasks]))
    res.attrs.update(alpha=a, capacity=cap, epochs=int(epochs), finetune_epochs=int(finetune_epochs), lr=float(lr),
                     seed=int(seed))
    return PackResult(model=net, owners=owners, results=res)
