"""Shared helpers of the optimiser tests: equal-budget learning-rate sweeps on small tasks."""
from __future__ import annotations

import math

import torch

from neurolatent.methods.common import evaluate, train


def best_loss(make_model, make_opt, lrs, data, *, epochs: int, batch_size: int = 64, seed: int = 0,
              loss_fn=None) -> tuple[float, float]:
    """Lowest full-training-set loss over ``lrs`` (the tuning budget), with its learning rate.

    A run whose loss becomes non-finite counts as ``inf`` (the harness raises on it).
    """
    kw = {} if loss_fn is None else {"loss_fn": loss_fn}
    best = (math.inf, float("nan"))
    for lr in lrs:
        model = make_model(seed)
        try:
            train(model, data, epochs=epochs, batch_size=batch_size, optimizer=make_opt(model, lr), seed=seed, **kw)
            loss = evaluate(model, data.x_train, data.y_train, **kw)["loss"]
        except FloatingPointError:
            loss = math.inf
        if not math.isfinite(loss):
            loss = math.inf
        best = min(best, (loss, lr))
    return best


def sgd(model, lr):
    return torch.optim.SGD(model.parameters(), lr=lr)


def momentum(model, lr):
    return torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)


def adam(model, lr):
    return torch.optim.Adam(model.parameters(), lr=lr)
