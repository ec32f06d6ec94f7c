"""Evaluation helpers: loss and accuracy, predictions, disagreement, BatchNorm statistics reset."""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["predict_logits", "evaluate", "accuracy", "disagreement", "reset_batchnorm"]


def _check_xy(x: torch.Tensor, y: torch.Tensor | None, where: str) -> None:
    if y is not None and x.shape[0] != y.shape[0]:
        raise ValueError(f"{where}: x has {x.shape[0]} samples but y has {y.shape[0]}; they must match")


def _device_of(model: nn.Module) -> torch.device:
    for t in model.parameters():
        return t.device
    return torch.device("cpu")


@torch.no_grad()
def predict_logits(model: nn.Module, x: torch.Tensor, *, batch_size: int = 4096) -> torch.Tensor:
    """Logits of ``model`` on ``x`` in evaluation mode (BatchNorm uses its running statistics).

    The model's train/eval mode is restored afterwards. ``x`` is moved to the model's device.
    """
    was_training = model.training
    model.eval()
    try:
        dev = _device_of(model)
        return torch.cat([model(x[i:i + batch_size].to(dev)) for i in range(0, x.shape[0], batch_size)])
    finally:
        model.train(was_training)


def evaluate(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *,
             loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = F.cross_entropy,
             batch_size: int = 4096) -> dict[str, float]:
    r"""Mean loss and accuracy of ``model`` on ``(x, y)``.

    .. math:: \text{loss} = \frac1n\sum_i \ell(f(x_i), y_i), \qquad
              \text{accuracy} = \frac1n\sum_i \mathbf 1[\arg\max_k f(x_i)_k = y_i].

    Returns
    -------
    dict
        ``{"loss": float, "accuracy": float, "error": 1 - accuracy}``.

    Examples
    --------
    >>> net = torch.nn.Linear(3, 2)
    >>> sorted(evaluate(net, torch.randn(8, 3), torch.zeros(8, dtype=torch.long)))
    ['accuracy', 'error', 'loss']
    """
    _check_xy(x, y, "evaluate")
    logits = predict_logits(model, x, batch_size=batch_size)
    y = y.to(logits.device)
    loss = float(loss_fn(logits, y))
    acc = float((logits.argmax(1) == y).double().mean())
    return {"loss": loss, "accuracy": acc, "error": 1.0 - acc}


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of samples whose arg-max logit equals the label."""
    return evaluate(model, x, y)["accuracy"]


def disagreement(model_a: nn.Module, model_b: nn.Module, x: torch.Tensor) -> float:
    r"""Fraction of inputs on which two classifiers predict different classes,
    :math:`\frac1n\sum_i \mathbf 1[\arg\max f_A(x_i) \ne \arg\max f_B(x_i)]`."""
    pa = predict_logits(model_a, x).argmax(1)
    pb = predict_logits(model_b, x).argmax(1).to(pa.device)
    return float((pa != pb).double().mean())


@torch.no_grad()
def reset_batchnorm(model: nn.Module, x: torch.Tensor, *, batch_size: int = 4096) -> nn.Module:
    """Recompute every BatchNorm layer's running mean and variance on ``x`` (in place).

    Interpolated or combined weights do not match the running statistics stored with either
    endpoint (Jordan et al. 2023, "REPAIR"); evaluating them with stale statistics inflates the
    barrier. The statistics are reset and accumulated with cumulative averaging
    (``momentum=None``) over the batches of ``x``, then each layer's momentum is restored.
    Models without BatchNorm are returned unchanged.
    """
    norms = [m for m in model.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return model
    was_training = model.training
    momenta = [m.momentum for m in norms]
    for m in norms:
        m.reset_running_stats()
        m.momentum = None
    model.train()
    dev = _device_of(model)
    try:
        for i in range(0, x.shape[0], batch_size):
            model(x[i:i + batch_size].to(dev))
    finally:
        for m, mom in zip(norms, momenta):
            m.momentum = mom
        model.train(was_training)
    return model
