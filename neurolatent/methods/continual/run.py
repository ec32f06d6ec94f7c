"""The continual-learning runner: train on a task stream in order, record the accuracy matrix."""
from __future__ import annotations

import copy
import time
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
import xarray as xr
from torch import nn
from tqdm.auto import tqdm

from ..._utils import make_generator, resolve_device
from ..common.data import ClassificationData
from ..common.evaluate import evaluate
from ..common.train import train
from .methods import Method
from .registry import make_method
from .metrics import summarise_accuracy

__all__ = ["run", "check_tasks"]


def check_tasks(tasks: Sequence[ClassificationData]) -> list[ClassificationData]:
    """Check a task stream: a non-empty sequence of non-empty tasks with one input shape.

    Raises
    ------
    TypeError
        ``tasks`` is not a sequence of :class:`~neurolatent.methods.common.ClassificationData`.
    ValueError
        No tasks; a task without training or test samples; input shapes that differ between tasks.
    """
    if isinstance(tasks, ClassificationData) or not isinstance(tasks, Sequence):
        raise TypeError("tasks must be a list of ClassificationData (e.g. permuted_tasks(load_digits(), 5)), "
                        f"got {type(tasks).__name__}")
    tasks = list(tasks)
    if not tasks:
        raise ValueError("tasks is empty: pass at least one task (e.g. permuted_tasks(load_digits(), 5))")
    for k, t in enumerate(tasks):
        if not isinstance(t, ClassificationData):
            raise TypeError(f"task {k} is a {type(t).__name__}, expected a ClassificationData")
        for split in ("train", "test"):
            if getattr(t, f"x_{split}").shape[0] == 0:
                raise ValueError(f"task {k} ({t.name}) has no {split}ing samples; every task needs training and "
                                 "test data (check the class split or filtering that built it)")
    shape = tasks[0].input_shape
    for k, t in enumerate(tasks[1:], start=1):
        if t.input_shape != shape:
            raise ValueError(f"task {k} ({t.name}) has inputs of shape {t.input_shape} but task 0 ({tasks[0].name}) "
                             f"has {shape}; every task of a stream must share one input shape")
    return tasks


def run(model: nn.Module, tasks: Sequence[ClassificationData], method: str | Method = "finetune", *,
        epochs: int = 5, lr: float = 1e-3, seed: int = 0, device: str | torch.device | None = None,
        batch_size: int = 64, optimizer: str | Callable = "adam", strength: float | None = None,
        progress: bool = True, callback: Callable[[dict], None] | None = None,
        **method_kwargs) -> xr.Dataset:
    r"""Train a copy of ``model`` on ``tasks`` in order with a continual-learning ``method``.

    After each task :math:`i` the network is evaluated on the test split of every task :math:`j`,
    filling the accuracy matrix :math:`R_{ij}` (dims ``after_task``, ``on_task``); see
    :func:`~neurolatent.methods.continual.summarise_accuracy` for the summaries.

    Parameters
    ----------
    model : nn.Module
        A classifier with logits as output, at least as wide as the largest label. It is **not**
        modified: a deep copy is trained, so one initial network can be passed to every method.
    tasks : list of ClassificationData
        The stream (``permuted_tasks``, ``rotated_tasks``, ``split_tasks`` of
        :mod:`neurolatent.methods.common`, or your own); all tasks share one input shape.
    method : str or Method
        ``"finetune"``, ``"ewc"``, ``"ewc_empirical"``, ``"af"``, ``"mas"``, ``"si"``, ``"siu"``,
        ``"sib"``, ``"kfac"``, ``"ncl"``, ``"owm"`` (:data:`~neurolatent.methods.continual.METHODS`; the last three
        need a model with ``kfac_factors``, e.g. :class:`~neurolatent.methods.continual.RNNClassifier`), or a
        :class:`~neurolatent.methods.continual.Method` instance (reset at the start; its
        importances can be read afterwards).
    epochs, lr, batch_size, optimizer
        Training of each task with :func:`neurolatent.methods.common.train`; a fresh optimiser per
        task (Adam by default).
    seed : int
        Seed of the minibatch orders (task ``k`` uses ``seed * 1000 + k``) and of the method's
        sampling (Fisher labels, SI's independent minibatches). Seed the model yourself.
    device : str or torch.device, optional
        Where to train (default: where ``model`` lives).
    strength : float, optional
        Regularisation strength :math:`\lambda` of the quadratic methods (each has a default).
    progress : bool
        A tqdm bar over tasks.
    callback : callable, optional
        Called after each task with ``{"task", "model", "method", "accuracy"}`` (``accuracy``: that
        row of the matrix, a NumPy array).
    **method_kwargs
        Further options of the named method (e.g. ``samples=``, ``xi=``).

    Returns
    -------
    xarray.Dataset
        ``accuracy`` and ``loss`` (``after_task``, ``on_task``), ``final_accuracy``,
        ``forgetting`` (``on_task``), ``average_accuracy``, ``average_forgetting``,
        ``backward_transfer`` (scalars), ``train_seconds`` (``after_task``); coordinate
        ``task_name`` on ``on_task``; attributes: the method and its settings, ``epochs``, ``lr``,
        ``seed``, ``batch_size``, ``optimizer``.

    Raises
    ------
    ValueError
        Unknown method (the message lists the known ones), an empty task stream or task,
        mismatched input shapes, labels the model's output cannot represent.
    FloatingPointError
        The loss became NaN or infinite; the message names the task and the step.

    Examples
    --------
    >>> from neurolatent.methods.common import MLP, make_teacher_classification, permuted_tasks
    >>> tasks = permuted_tasks(make_teacher_classification(300, 8, 3, seed=0), 2)
    >>> res = run(MLP(8, (16,), 3, seed=0), tasks, "ewc", epochs=1, progress=False)
    >>> res.accuracy.dims, res.accuracy.shape
    (('after_task', 'on_task'), (2, 2))
    """
    kwargs = dict(method_kwargs)
    if strength is not None:
        kwargs["strength"] = strength
    method = make_method(method, **kwargs)
    if isinstance(optimizer, torch.optim.Optimizer):
        raise TypeError("optimizer must be a name ('adam', 'sgd', 'adamw') or a factory f(params) -> Optimizer: "
                        "run builds a fresh optimiser for each task, so an existing instance cannot be reused")
    tasks = check_tasks(tasks)
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1 per task, got {epochs}")
    first = next(iter(model.parameters()), None)
    if first is None:
        raise ValueError("model has no parameters to train")
    dev = resolve_device(device, first)
    net = copy.deepcopy(model).to(dev)
    tasks = [t.to(dev) for t in tasks]
    with torch.no_grad():
        was = net.training
        net.eval()
        width = net(tasks[0].x_train[:2]).shape[-1]
        net.train(was)
    for k, t in enumerate(tasks):
        top = int(max(t.y_train.max(), t.y_test.max()))
        if top >= width:
            raise ValueError(f"task {k} ({t.name}) has label {top} but the model outputs {width} logits; "
                             f"build the model with at least {top + 1} outputs")
    gen = make_generator(seed)
    method.reset(net)
    n_tasks = len(tasks)
    acc, loss = np.full((n_tasks, n_tasks), np.nan), np.full((n_tasks, n_tasks), np.nan)
    seconds = np.zeros(n_tasks)
    bar = tqdm(range(n_tasks), desc=f"continual[{method.name}]", disable=not progress)
    for k in bar:
        task = tasks[k]
        opt = method.build_optimizer(net, optimizer, lr=lr)
        step = {"n": 0}
        handles = [opt.register_step_post_hook(lambda *_: step.__setitem__("n", step["n"] + 1))]
        handles += method.attach(opt, net, task.x_train, task.y_train, batch_size=batch_size, generator=gen)

        def loss_fn(logits: torch.Tensor, y: torch.Tensor, k=k, task=task) -> torch.Tensor:
            task_loss = F.cross_entropy(logits, y)
            pen = method.penalty(net)
            total = task_loss if pen is None else task_loss + pen
            if not torch.isfinite(total):
                what = "task loss" if not torch.isfinite(task_loss) else "regulariser"
                raise FloatingPointError(
                    f"run({method.name}): the {what} became {float(total.detach())} on task {k} ({task.name}) at "
                    f"step {step['n']} (epoch {step['n'] // -(-task.x_train.shape[0] // batch_size)}); lower lr "
                    f"(now {lr}) or the strength, or check the task's inputs for NaN/inf")
            return total

        t0 = time.perf_counter()
        try:
            train(net, (task.x_train, task.y_train), epochs=epochs, batch_size=batch_size, optimizer=opt, lr=lr,
                  loss_fn=loss_fn, seed=seed * 1000 + k, device=dev)
        finally:
            for h in handles:
                h.remove()
        if k < n_tasks - 1:
            method.end_task(net, task.x_train, task.y_train, generator=gen)
        seconds[k] = time.perf_counter() - t0
        for j, other in enumerate(tasks):
            ev = evaluate(net, other.x_test, other.y_test)
            acc[k, j], loss[k, j] = ev["accuracy"], ev["loss"]
        bar.set_postfix(avg_acc=f"{acc[k, :k + 1].mean():.3f}")
        if callback is not None:
            callback({"task": k, "model": net, "method": method, "accuracy": acc[k].copy()})
    out = summarise_accuracy(acc)
    out["loss"] = (("after_task", "on_task"), loss)
    out["train_seconds"] = (("after_task",), seconds)
    out = out.assign_coords(task_name=("on_task", [t.name for t in tasks]))
    out.attrs.update({**{k: v for k, v in method.config().items()}, "epochs": int(epochs), "lr": float(lr),
                      "seed": int(seed), "batch_size": int(batch_size),
                      "optimizer": optimizer if isinstance(optimizer, str) else type(optimizer).__name__})
    return out
