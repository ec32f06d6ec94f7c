"""A compact, seeded minibatch training loop shared by the learning-method families.

The loop is deliberately small: shuffle with a private generator, minibatch, call
``optimizer.step(closure)`` (so optimisers that re-evaluate the loss -- L-BFGS, line searches,
curvature methods -- work unchanged), record a history, run callbacks, show a tqdm bar.
"""
from __future__ import annotations

import time
from typing import Callable, Iterable

import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from ..._utils import make_generator, resolve_device
from .data import ClassificationData
from .evaluate import evaluate

__all__ = ["train", "make_optimizer"]

Callback = Callable[[dict], "bool | None"]


def make_optimizer(name: str | torch.optim.Optimizer | Callable, params: Iterable[torch.nn.Parameter], *,
                   lr: float, weight_decay: float = 0.0, momentum: float = 0.9) -> torch.optim.Optimizer:
    """An optimiser from a name (``"sgd"`` with momentum, ``"adam"``), an instance, or a factory.

    A factory is called as ``factory(params)``; an instance is returned as is (its parameters are
    the caller's responsibility).
    """
    if isinstance(name, torch.optim.Optimizer):
        return name
    if callable(name):
        return name(params)
    key = str(name).lower()
    if key == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=momentum, weight_decay=weight_decay)
    if key == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=weight_decay)
    if key == "adamw":
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)
    raise ValueError(f"optimizer must be 'sgd', 'adam', 'adamw', an Optimizer or a factory, got {name!r}")


def train(model: nn.Module, data: ClassificationData | tuple[torch.Tensor, torch.Tensor], *,
          epochs: int = 20, batch_size: int = 64, optimizer: str | torch.optim.Optimizer | Callable = "adam",
          lr: float = 1e-3, weight_decay: float = 0.0,
          loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = F.cross_entropy,
          params: Iterable[torch.nn.Parameter] | None = None,
          eval_data: tuple[torch.Tensor, torch.Tensor] | None = None, seed: int | None = 0,
          device: str | torch.device | None = None, progress: bool = False,
          callback: Callback | Iterable[Callback] | None = None) -> dict[str, list]:
    """Train ``model`` in place with minibatches; return the history.

    Parameters
    ----------
    model : nn.Module
        Moved to ``device`` (default: where its parameters are).
    data : ClassificationData or (x, y)
        Training data; with a :class:`ClassificationData` the test split is evaluated every epoch
        unless ``eval_data`` is given.
    epochs, batch_size : int
        Passes over the data; minibatch size (the last, smaller batch is kept).
    optimizer : {"adam", "sgd", "adamw"}, Optimizer, or callable
        A name (built with ``lr``, ``weight_decay``; SGD uses momentum 0.9), an instance, or a
        factory ``f(params) -> Optimizer``. ``optimizer.step(closure)`` is called, where ``closure``
        zeroes the gradients, computes the loss, back-propagates and returns the loss.
    loss_fn : callable
        ``loss_fn(logits, y) -> scalar``; cross-entropy by default.
    params : iterable of Parameter, optional
        The parameters to train (default: all of ``model``); used e.g. to train only a stitching layer.
    eval_data : (x, y), optional
        Held-out data evaluated at the end of every epoch.
    seed : int or None
        Seed of the minibatch order (a private generator; the global RNG is not touched).
    progress : bool
        Show a tqdm bar over epochs.
    callback : callable or list of callables, optional
        Called at the end of every epoch with a dict ``{"epoch", "model", "history", "optimizer"}``;
        returning ``True`` stops training (early stopping).

    Returns
    -------
    dict of lists
        ``epoch``, ``train_loss`` (mean minibatch loss of the epoch), ``train_accuracy`` (running),
        ``time`` (seconds since start) and, with evaluation data, ``eval_loss`` and ``eval_accuracy``.

    Examples
    --------
    >>> from neurolatent.methods.common import MLP, make_teacher_classification
    >>> d = make_teacher_classification(300, 5, 3, seed=0)
    >>> h = train(MLP(5, (16,), 3, seed=0), d, epochs=2)
    >>> len(h["train_loss"])
    2
    """
    if isinstance(data, ClassificationData):
        x, y = data.x_train, data.y_train
        if eval_data is None:
            eval_data = (data.x_test, data.y_test)
    else:
        x, y = data
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"train: x has {x.shape[0]} samples but y has {y.shape[0]}; they must match")
    if epochs < 0 or batch_size < 1:
        raise ValueError(f"epochs must be >= 0 and batch_size >= 1, got epochs={epochs}, batch_size={batch_size}")
    first = next(iter(model.parameters()), None)
    dev = resolve_device(device, first)
    model.to(dev)
    x, y = x.to(dev), y.to(dev)
    params = list(model.parameters()) if params is None else list(params)
    opt = make_optimizer(optimizer, params, lr=lr, weight_decay=weight_decay)
    callbacks = [] if callback is None else ([callback] if callable(callback) else list(callback))
    gen = make_generator(seed, "cpu")  # CPU generator: randperm indices are moved to the device
    history: dict[str, list] = {"epoch": [], "train_loss": [], "train_accuracy": [], "time": []}
    if eval_data is not None:
        history["eval_loss"], history["eval_accuracy"] = [], []
    n = x.shape[0]
    t0 = time.perf_counter()
    bar = tqdm(range(epochs), desc="train", disable=not progress, leave=False)
    for epoch in bar:
        model.train()
        order = torch.randperm(n, generator=gen).to(dev)
        tot_loss, tot_correct = 0.0, 0
        for i in range(0, n, batch_size):
            idx = order[i:i + batch_size]
            xb, yb = x[idx], y[idx]
            out: dict[str, torch.Tensor] = {}

            def closure() -> torch.Tensor:
                opt.zero_grad(set_to_none=True)
                logits = model(xb)
                loss = loss_fn(logits, yb)
                loss.backward()
                out.setdefault("logits", logits.detach())
                out.setdefault("loss", loss.detach())
                return loss

            opt.step(closure)
            if not torch.isfinite(out["loss"]):
                raise FloatingPointError(
                    f"train: the loss became {float(out['loss'])} at epoch {epoch}; lower lr (now {lr}) "
                    "or check the inputs for NaN/inf"
                )
            tot_loss += float(out["loss"]) * idx.numel()
            tot_correct += int((out["logits"].argmax(1) == yb).sum())
        history["epoch"].append(epoch)
        history["train_loss"].append(tot_loss / n)
        history["train_accuracy"].append(tot_correct / n)
        if eval_data is not None:
            ev = evaluate(model, eval_data[0], eval_data[1], loss_fn=loss_fn)
            history["eval_loss"].append(ev["loss"])
            history["eval_accuracy"].append(ev["accuracy"])
        history["time"].append(time.perf_counter() - t0)
        bar.set_postfix(loss=f"{history['train_loss'][-1]:.3g}")
        state = {"epoch": epoch, "model": model, "history": history, "optimizer": opt}
        stops = [bool(cb(state)) for cb in callbacks]  # every callback runs, then any may stop
        if any(stops):
            break
    return history
