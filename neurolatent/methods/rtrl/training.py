"""Online training of a recurrent network with any online-gradient learner, and its evaluation.

Online means the parameters change *during* a sequence: after every ``update_every`` steps the
learner's accumulated gradient is written into ``.grad`` and the optimiser steps, while the state
and the influence matrix are carried on (Williams & Zipser 1989's real-time setting; the
influence matrix then mixes Jacobians of slightly different parameters, as in all the papers).
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
import xarray as xr
from torch import nn
from tqdm.auto import tqdm

from .base import OnlineLearner
from .cells import RecurrentCell
from .tasks import IGNORE, SequenceTask

__all__ = ["train_online", "evaluate_sequences"]


@torch.no_grad()
def evaluate_sequences(cell: RecurrentCell, readout: nn.Linear, x: torch.Tensor,
                       y: torch.Tensor) -> tuple[float, float]:
    """Mean cross-entropy (nats) and accuracy over the scored steps of a batch of sequences.

    Parameters
    ----------
    x, y : torch.Tensor
        ``(T, B, n_in)`` inputs and ``(T, B)`` class targets (``-100`` unscored).

    Examples
    --------
    >>> from neurolatent.methods.rtrl import TanhCell, CopyTask
    >>> x, y = CopyTask(delay=2).sample(8)
    >>> loss, acc = evaluate_sequences(TanhCell(5, 8), torch.nn.Linear(8, 4), x, y)
    >>> 0.0 <= acc <= 1.0
    True
    """
    x = x.to(cell.weight.device, cell.weight.dtype)
    y = y.to(cell.weight.device)
    h = torch.zeros(x.shape[1], cell.n_hidden, device=x.device, dtype=x.dtype)
    logits = []
    for t in range(x.shape[0]):
        h = cell(h, x[t])
        logits.append(readout(h))
    logits = torch.stack(logits).flatten(0, 1)
    target = y.flatten()
    scored = target != IGNORE
    if not bool(scored.any()):
        raise ValueError("evaluate_sequences: no step of y is scored (all targets are -100)")
    loss = F.cross_entropy(logits[scored], target[scored])
    acc = (logits[scored].argmax(-1) == target[scored]).to(torch.float64).mean()
    return float(loss), float(acc)


def train_online(learner: OnlineLearner, task: SequenceTask, optimizer: torch.optim.Optimizer, *,
                 n_batches: int = 100, batch_size: int = 16, update_every: int = 1, eval_every: int = 10,
                 eval_size: int = 256, seed: int = 0, progress: bool = False,
                 callback: Callable[[dict], bool | None] | None = None) -> xr.Dataset:
    """Train online on ``n_batches`` fresh batches of ``task``; return the learning curve.

    Parameters
    ----------
    learner : OnlineLearner
        Any online method; its :meth:`~OnlineLearner.parameters` must be the optimiser's.
    task : SequenceTask
        Source of ``(x, y)`` batches (batch ``i`` uses seed ``seed * 100_003 + i``).
    optimizer : torch.optim.Optimizer
        Steps after every ``update_every`` time steps (and at the end of each sequence).
    eval_every, eval_size :
        Evaluate every ``eval_every`` batches on one fixed held-out batch of ``eval_size`` sequences.
    progress : bool
        Show a tqdm bar.
    callback : callable or None
        Called after each batch with ``{"batch", "loss"}`` (plus ``eval_loss``/``eval_accuracy``
        when evaluated); returning ``True`` stops training.

    Returns
    -------
    xarray.Dataset
        ``loss`` (dim ``batch``: mean training loss per scored step) and ``eval_loss``,
        ``eval_accuracy`` (dim ``evaluation``, coordinate ``evaluated_at`` = batches seen).
    """
    if int(update_every) != update_every or update_every < 1:
        raise ValueError(f"update_every must be an integer >= 1, got {update_every!r}")
    x_eval, y_eval = task.sample(eval_size, seed=10**9 + seed)  # disjoint from training seeds
    losses, evals = [], []

    def _evaluate(i):
        loss, acc = evaluate_sequences(learner.cell, learner.readout, x_eval, y_eval)
        evals.append((i, loss, acc))
        return loss, acc

    _evaluate(0)
    for i in tqdm(range(n_batches), desc=type(learner).__name__, disable=not progress, leave=False):
        x, y = task.sample(batch_size, seed=seed * 100_003 + i)
        learner.reset(batch_size)
        total, scored = 0.0, 0
        for t in range(x.shape[0]):
            loss = learner.step(x[t], y[t])
            if bool((y[t] != IGNORE).any()):
                total, scored = total + float(loss), scored + 1
            if (t + 1) % update_every == 0 or t == x.shape[0] - 1:
                learner.set_grad()
                optimizer.step()
        losses.append(total / max(scored, 1))
        record = {"batch": i + 1, "loss": losses[-1]}
        if (i + 1) % eval_every == 0 or i == n_batches - 1:
            record["eval_loss"], record["eval_accuracy"] = _evaluate(i + 1)
        if callback is not None and callback(record):
            break
    at, eval_loss, eval_acc = (np.array(v) for v in zip(*evals))
    return xr.Dataset(
        {"loss": ("batch", np.array(losses)), "eval_loss": ("evaluation", eval_loss),
         "eval_accuracy": ("evaluation", eval_acc)},
        coords={"batch": np.arange(1, len(losses) + 1), "evaluated_at": ("evaluation", at)},
        attrs={"method": type(learner).__name__, "task": repr(task), "batch_size": int(batch_size),
               "update_every": int(update_every), "seed": int(seed)},
    )
