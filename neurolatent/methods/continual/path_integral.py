r"""Synaptic intelligence and its two components (SI, SIU, SIB) as optimiser hooks.

Zenke, Poole & Ganguli (2017, "Continual learning through synaptic intelligence") credit each
parameter with its share of the decrease of the task loss along the training trajectory
:math:`\theta_0, \theta_1, \dots, \theta_T`. With :math:`\Delta_t = \theta_{t+1} - \theta_t` the
optimiser's update and :math:`\tilde g_t` the minibatch gradient of the task loss at
:math:`\theta_t` (the one the update was computed from), the running sums are (element-wise)

.. math::

    \omega^{\mathrm{SI}} = -\sum_t \tilde g_t \odot \Delta_t, \qquad
    \omega^{\mathrm{SIU}} = -\sum_t \tilde g'_t \odot \Delta_t, \qquad
    \omega^{\mathrm{SIB}} = -\sum_t (\tilde g_t - \tilde g'_t) \odot \Delta_t
                          = \omega^{\mathrm{SI}} - \omega^{\mathrm{SIU}},

where :math:`\tilde g'_t` is the gradient at :math:`\theta_t` of an *independent* minibatch
(Benzing 2022, "Unifying importance based regularisation methods for continual learning"). Since
:math:`\Delta_t` is built from :math:`\tilde g_t`, the product :math:`\tilde g_t \Delta_t`
contains the minibatch noise twice: SI is a biased estimate of the path integral
:math:`-\int \nabla L \cdot d\theta`, SIU an unbiased one, and SIB is the bias alone. For Adam,
:math:`\Delta_t \approx -\eta\, \tilde g_t / \sqrt{v_t}` with :math:`v_t` the running second moment
of the minibatch gradients (an empirical Fisher), so the bias is
:math:`\approx \eta \sum_t \sigma_t^2 / \sqrt{v_t} \propto \sqrt{\text{Fisher}}` when the noise
dominates -- Benzing's explanation of why SI works (and SIU does not).

The importance of a task is the running sum normalised by the squared total displacement
(Zenke et al. 2017),

.. math:: \Omega = \frac{\omega}{(\theta_T - \theta_0)^2 + \xi}.

The task-loss gradient is ``p.grad`` minus the gradient of the continual regulariser, which the
caller supplies in closed form (``penalty_grad``), so the regulariser's pull on later tasks is not
credited to the task.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..._utils import make_generator, resolve_device
from ..common.train import make_optimizer, train
from ._helpers import PATH_KINDS, trainable, xy

__all__ = ["PathIntegral", "path_importance"]


class PathIntegral:
    r"""Accumulate :math:`\omega^{\mathrm{SI}}`, :math:`\omega^{\mathrm{SIU}}` or :math:`\omega^{\mathrm{SIB}}` over optimiser steps.

    Parameters
    ----------
    model : nn.Module
        The network being trained; its trainable parameters are tracked.
    kind : {"si", "siu", "sib"}
    x, y : Tensor
        The task's training data, from which the independent minibatches of SIU/SIB are drawn
        (without replacement, ``batch_size`` samples).
    batch_size : int
        Size of the independent minibatch (use the training minibatch size).
    loss_fn : callable
        The task loss ``loss_fn(outputs, y)``.
    penalty_grad : callable, optional
        ``penalty_grad() -> {name: tensor}``: gradient of the regulariser at the current
        parameters, subtracted from ``p.grad`` to obtain the task-loss gradient.
    generator : torch.Generator, optional
        Source of the independent minibatches (CPU).

    Notes
    -----
    :meth:`attach` registers a step pre-hook (remembers :math:`\theta_t`, computes
    :math:`\tilde g'_t` on an independent minibatch) and a step post-hook (reads
    :math:`\tilde g_t` from ``p.grad`` and :math:`\Delta_t`) on a ``torch.optim.Optimizer``.
    SIU and SIB cost one extra forward and backward pass per step.

    Examples
    --------
    >>> net = torch.nn.Linear(3, 2)
    >>> x, y = torch.randn(32, 3), torch.randint(0, 2, (32,))
    >>> opt = torch.optim.SGD(net.parameters(), lr=0.1)
    >>> pi = PathIntegral(net, "si", x, y, batch_size=8)
    >>> handles = pi.attach(opt)
    >>> for _ in range(3):
    ...     opt.zero_grad(); torch.nn.functional.cross_entropy(net(x), y).backward(); _ = opt.step()
    >>> bool((pi.omega["weight"] >= 0).all())  # full-batch SGD: omega = lr * g**2 >= 0
    True
    """

    def __init__(self, model: nn.Module, kind: str, x: torch.Tensor, y: torch.Tensor, *, batch_size: int = 64,
                 loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = F.cross_entropy,
                 penalty_grad: Callable[[], dict[str, torch.Tensor]] | None = None,
                 generator: torch.Generator | None = None):
        if kind not in PATH_KINDS:
            raise ValueError(f"PathIntegral: kind must be one of {PATH_KINDS}, got {kind!r}")
        if x.shape[0] == 0:
            raise ValueError("PathIntegral: the task holds no training samples")
        self.model, self.kind, self.x, self.y = model, kind, x, y
        self.batch_size = int(batch_size)
        self.loss_fn, self.penalty_grad = loss_fn, penalty_grad
        self.generator = generator if generator is not None else make_generator(0)
        self.params = trainable(model)
        self.start = {n: p.detach().clone() for n, p in self.params.items()}
        self.omega = {n: torch.zeros_like(p) for n, p in self.params.items()}
        self.steps = 0
        self._before: dict[str, torch.Tensor] = {}
        self._pen: dict[str, torch.Tensor] | None = None
        self._gind: dict[str, torch.Tensor] | None = None

    def _independent_grad(self) -> dict[str, torch.Tensor]:
        idx = torch.randperm(self.x.shape[0], generator=self.generator)[: self.batch_size].to(self.x.device)
        with torch.enable_grad():
            loss = self.loss_fn(self.model(self.x[idx]), self.y[idx])
            grads = torch.autograd.grad(loss, list(self.params.values()), allow_unused=True)
        return {n: (torch.zeros_like(p) if g is None else g.detach())
                for (n, p), g in zip(self.params.items(), grads)}

    def _pre(self, optimizer, args, kwargs) -> None:
        self._before = {n: p.detach().clone() for n, p in self.params.items()}
        self._pen = self.penalty_grad() if self.penalty_grad is not None else None
        self._gind = self._independent_grad() if self.kind != "si" else None

    def _post(self, optimizer, args, kwargs) -> None:
        for n, p in self.params.items():
            delta = p.detach() - self._before[n]
            if self.kind == "siu":
                self.omega[n] -= self._gind[n] * delta
                continue
            g = p.grad.detach() if p.grad is not None else torch.zeros_like(p)
            if self._pen is not None and n in self._pen:
                g = g - self._pen[n]
            if self.kind == "sib":
                g = g - self._gind[n]
            self.omega[n] -= g * delta
        self.steps += 1

    def attach(self, optimizer: torch.optim.Optimizer) -> list:
        """Register the hooks on ``optimizer``; returns the handles (call ``.remove()`` on each to detach)."""
        return [optimizer.register_step_pre_hook(self._pre), optimizer.register_step_post_hook(self._post)]

    def importance(self, *, xi: float = 1e-3, normalise: bool = True) -> dict[str, torch.Tensor]:
        r"""The task's importance :math:`\Omega = \omega / ((\theta_T - \theta_0)^2 + \xi)` (or :math:`\omega` itself).

        ``xi`` (:math:`\xi > 0`) keeps parameters that barely moved from getting huge importances.
        """
        if not normalise:
            return {n: w.clone() for n, w in self.omega.items()}
        if xi <= 0:
            raise ValueError(f"xi must be positive (it bounds the importance of parameters that did not move), got {xi}")
        return {n: w / ((self.params[n].detach() - self.start[n]).pow(2) + xi) for n, w in self.omega.items()}


def path_importance(model: nn.Module, data, kind: str = "si", *, epochs: int = 1, lr: float = 1e-3,
                    optimizer: str | torch.optim.Optimizer | Callable = "adam", batch_size: int = 64,
                    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = F.cross_entropy,
                    xi: float = 1e-3, normalise: bool = True, seed: int = 0,
                    device: str | torch.device | None = None) -> dict[str, torch.Tensor]:
    r"""Train ``model`` on ``data`` (in place) and return its SI, SIU or SIB importance.

    Parameters
    ----------
    model : nn.Module
    data : ClassificationData or (x, y)
        Training data (the training split of a :class:`~neurolatent.methods.common.ClassificationData`).
    kind : {"si", "siu", "sib"}
        See the module docstring.
    epochs, lr, optimizer, batch_size, loss_fn
        Passed to :func:`neurolatent.methods.common.train`; the optimiser is built with
        :func:`~neurolatent.methods.common.make_optimizer` (Adam by default, as in Benzing 2022).
    xi : float
        Damping :math:`\xi` of the normalisation.
    normalise : bool
        ``False`` returns the raw running sum :math:`\omega`.
    seed : int
        Seed of the minibatch order and of the independent minibatches.
    device : str or torch.device, optional

    Returns
    -------
    dict of str to Tensor
        One tensor per trainable parameter (may hold negative entries: SIU and SIB are estimates).

    Examples
    --------
    >>> from neurolatent.methods.common import MLP, make_teacher_classification
    >>> d = make_teacher_classification(200, 5, 3, seed=0)
    >>> imp = path_importance(MLP(5, (8,), 3, seed=0), d, kind="sib", epochs=1)
    >>> imp["blocks.1.linear.bias"].shape
    torch.Size([3])
    """
    x, y = xy(data, "path_importance")
    dev = resolve_device(device, next(iter(model.parameters())))
    model.to(dev)
    x, y = x.to(dev), y.to(dev)
    tracker = PathIntegral(model, kind, x, y, batch_size=batch_size, loss_fn=loss_fn,
                           generator=make_generator(seed + 7919))
    opt = make_optimizer(optimizer, list(tracker.params.values()), lr=lr)
    handles = tracker.attach(opt)
    try:
        train(model, (x, y), epochs=epochs, batch_size=batch_size, optimizer=opt, lr=lr, loss_fn=loss_fn,
              seed=seed, device=dev)
    finally:
        for h in handles:
            h.remove()
    return tracker.importance(xi=xi, normalise=normalise)
