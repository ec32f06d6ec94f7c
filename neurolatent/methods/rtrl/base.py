"""The shared interface of the online-gradient methods: ``step(x_t, target_t) -> loss``, ``gradient()``.

A learner owns a :class:`~.cells.RecurrentCell` and a linear readout ``y_t = readout(h_t)``. At every
step it advances the state, updates its (exact or approximate) *influence matrix*
:math:`G_t \\approx \\partial h_t / \\partial \\operatorname{vec} W`, and, when a target is given,
adds :math:`c_t G_t` to the recurrent gradient (:math:`c_t = \\partial L_t / \\partial h_t`) and the
exact readout gradient. Summed over steps this is the online estimate of
:math:`\\nabla_\\theta \\sum_t L_t` (Williams & Zipser 1989). The per-step loss is the batch mean,
so a batch of ``B`` independent sequences gives the usual minibatch gradient.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from .cells import RecurrentCell, StepJacobians

__all__ = ["OnlineLearner", "bptt_gradient"]

IGNORE = -100  # target value of a step that is not scored (cross-entropy), as in torch


def _cross_entropy(y: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
    if not bool((t != IGNORE).any()):  # no scored sample at this step: zero loss, zero gradient
        return y.sum() * 0.0
    return F.cross_entropy(y, t, ignore_index=IGNORE)


def _loss_fn(loss: str | Callable) -> Callable:
    if callable(loss):
        return loss
    if loss == "cross_entropy":
        return _cross_entropy
    if loss == "mse":
        return lambda y, t: 0.5 * ((y - t) ** 2).sum(-1).mean()
    raise ValueError(f"loss must be 'cross_entropy', 'mse' or a callable (outputs, target) -> scalar, got {loss!r}")


class OnlineLearner:
    """Base class of the online-gradient methods (exact RTRL, UORO, KF-RTRL, OK(r), TBPTT).

    Parameters
    ----------
    cell : RecurrentCell
        The recurrent cell; its ``weight`` is what the method estimates the gradient of.
    readout : nn.Linear
        Output map ``(n,) -> (n_out,)``; its gradient is exact in every method.
    loss : {"cross_entropy", "mse"} or callable
        Per-step loss ``loss(outputs (B, n_out), target) -> scalar`` (batch mean). With
        cross-entropy, target ``-100`` marks an unscored sample.
    seed : int or None
        Seed of the method's internal noise (UORO, KF-RTRL, OK(r)).

    Notes
    -----
    Subclasses implement ``_reset_influence(batch_size)``, ``_propagate(jac)`` and
    ``_contract(c) -> (B, g n, m)``. The learner lives on the cell's device and dtype.
    """

    def __init__(self, cell: RecurrentCell, readout: nn.Linear, *, loss: str | Callable = "cross_entropy",
                 seed: int | None = 0):
        if not isinstance(cell, RecurrentCell):
            raise TypeError(f"cell must be a neurolatent.methods.rtrl.RecurrentCell (TanhCell, GatedCell), "
                            f"got {type(cell).__name__}")
        if not isinstance(readout, nn.Linear) or readout.in_features != cell.n_hidden:
            raise ValueError(f"readout must be an nn.Linear with in_features = cell.n_hidden = {cell.n_hidden}, "
                             f"got {readout!r}")
        self.cell, self.readout = cell, readout
        self.loss_fn = _loss_fn(loss)
        self.generator = torch.Generator(device=cell.weight.device)
        if seed is None:
            self.generator.seed()
        else:
            self.generator.manual_seed(int(seed))
        self.batch_size = 0
        self.reset(1)

    # -- public interface ---------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        """The cell's device (where the state and influence matrix live)."""
        return self.cell.weight.device

    @property
    def dtype(self) -> torch.dtype:
        """The cell's float type."""
        return self.cell.weight.dtype

    def parameters(self) -> list[nn.Parameter]:
        """The trained parameters: the cell's ``weight``, then the readout's weight and bias."""
        return [self.cell.weight, *self.readout.parameters()]

    def reset(self, batch_size: int = 1, h0: torch.Tensor | None = None) -> None:
        """Start new sequences: state ``h0`` (default zeros ``(batch_size, n)``), empty influence
        matrix, zero accumulated gradient."""
        if int(batch_size) != batch_size or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.batch_size = int(batch_size)
        n = self.cell.n_hidden
        if h0 is None:
            self.h = torch.zeros(self.batch_size, n, device=self.device, dtype=self.dtype)
        else:
            if h0.shape != (self.batch_size, n):
                raise ValueError(f"h0 must have shape (batch_size, n) = {(self.batch_size, n)}, got {tuple(h0.shape)}")
            self.h = h0.detach().to(self.device, self.dtype)
        self.t = 0
        self._reset_influence(self.batch_size)
        self.zero_gradient()

    def zero_gradient(self) -> None:
        """Forget the accumulated gradient (the state and influence matrix are kept)."""
        self._grad_w = torch.zeros(self.batch_size, *self.cell.weight.shape, device=self.device, dtype=self.dtype)
        self._grad_out = [torch.zeros_like(p) for p in self.readout.parameters()]

    def step(self, x_t: torch.Tensor, target_t: torch.Tensor | None = None) -> torch.Tensor:
        """Advance one time step; return the step's loss (0 when ``target_t`` is None).

        Parameters
        ----------
        x_t : torch.Tensor
            Input, shape ``(B, n_in)`` (or ``(n_in,)`` when ``B = 1``).
        target_t : torch.Tensor or None
            Class indices ``(B,)`` (cross-entropy, ``-100`` = unscored) or values ``(B, n_out)``.
        """
        x_t = torch.as_tensor(x_t, device=self.device, dtype=self.dtype)
        if x_t.dim() == 1:
            x_t = x_t[None]
        if x_t.shape != (self.batch_size, self.cell.n_input):
            raise ValueError(f"x_t must have shape (batch_size, n_input) = {(self.batch_size, self.cell.n_input)}, "
                             f"got {tuple(x_t.shape)}; call reset(batch_size) to change the batch size")
        if not bool(torch.isfinite(x_t).all()):
            raise ValueError(f"x_t at step {self.t} contains NaN or inf; online learners carry the state and "
                             f"influence matrix forward and cannot recover from it: clean or impute the sequence first")
        h, jac = self.cell.step(self.h, x_t)
        self._propagate(jac)
        self.h = h
        self.t += 1
        if target_t is None:
            return torch.zeros((), device=self.device, dtype=self.dtype)
        target_t = torch.as_tensor(target_t, device=self.device)
        if target_t.is_floating_point():
            target_t = target_t.to(self.dtype)
        h_req = h.detach().requires_grad_(True)
        with torch.enable_grad():
            loss = self.loss_fn(self.readout(h_req), target_t)
            grads = torch.autograd.grad(loss, [h_req, *self.readout.parameters()], allow_unused=True)
        if not bool(torch.isfinite(loss)):
            raise ValueError(f"the loss at step {self.t - 1} is not finite ({float(loss)}); check target_t")
        for acc, g in zip(self._grad_out, grads[1:]):
            if g is not None:
                acc += g
        self._grad_w += self._contract(grads[0])
        return loss.detach()

    def per_sample_gradient(self) -> torch.Tensor:
        """The recurrent-weight gradient of each sequence of the batch, shape ``(B, g n, m)``."""
        return self._grad_w.clone()

    def gradient(self) -> dict[str, torch.Tensor]:
        """Accumulated gradient estimate since the last :meth:`reset`/:meth:`zero_gradient`.

        Returns
        -------
        dict
            ``{"cell.weight": (g n, m), "readout.weight": ..., "readout.bias": ...}``, in the order
            of :meth:`parameters`.
        """
        names = ["cell.weight"] + [f"readout.{k}" for k, _ in self.readout.named_parameters()]
        values = [self._grad_w.sum(0)] + [g.clone() for g in self._grad_out]
        return dict(zip(names, values))

    def set_grad(self, zero: bool = True) -> None:
        """Write :meth:`gradient` into the parameters' ``.grad`` (for any ``torch.optim`` optimiser),
        then (``zero=True``) zero the accumulator so that the next update sees only new steps."""
        for p, g in zip(self.parameters(), self.gradient().values()):
            p.grad = g.detach().clone()
        if zero:
            self.zero_gradient()

    def state_dict(self) -> dict:
        """Everything the learner carries between steps, for checkpoints (``torch.save``-able).

        The state, step count, accumulated gradient, the method's influence-matrix state and its
        noise generator; the parameters themselves are saved with ``cell.state_dict()`` and
        ``readout.state_dict()`` (and the optimiser's). :meth:`load_state_dict` continues the
        sequence bit-identically.
        """
        return {"method": type(self).__name__, "t": self.t, "batch_size": self.batch_size,
                "h": self.h.clone(), "grad_w": self._grad_w.clone(), "grad_out": [g.clone() for g in self._grad_out],
                "generator": self.generator.get_state(), "influence": self._influence_state()}

    def load_state_dict(self, state: dict) -> None:
        """Restore a :meth:`state_dict` of the same method and sizes."""
        if state.get("method") != type(self).__name__:
            raise ValueError(f"this state_dict was saved by {state.get('method')!r}, not {type(self).__name__!r}")
        self.reset(state["batch_size"], h0=state["h"].to(self.device, self.dtype))
        if state["grad_w"].shape != self._grad_w.shape:
            raise ValueError(f"the saved gradient has shape {tuple(state['grad_w'].shape)}, this learner's cell "
                             f"needs {tuple(self._grad_w.shape)}: build the learner with the same cell sizes")
        self.t = int(state["t"])
        self._grad_w = state["grad_w"].to(self.device, self.dtype).clone()
        self._grad_out = [g.to(self.device, self.dtype).clone() for g in state["grad_out"]]
        self.generator.set_state(state["generator"])
        self._load_influence_state(state["influence"])

    # -- for subclasses -----------------------------------------------------------------------
    _influence_names: tuple[str, ...] = ()

    def _influence_state(self) -> dict:
        return {k: getattr(self, k).clone() for k in self._influence_names}

    def _load_influence_state(self, state: dict) -> None:
        for k in self._influence_names:
            setattr(self, k, state[k].to(self.device, self.dtype).clone())

    def _reset_influence(self, batch_size: int) -> None:
        raise NotImplementedError

    def _propagate(self, jac: StepJacobians) -> None:
        raise NotImplementedError

    def _contract(self, c: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _signs(self, *shape: int) -> torch.Tensor:
        """Independent Rademacher (+-1) variables from the learner's generator."""
        r = torch.randint(0, 2, shape, generator=self.generator, device=self.device)
        return (2 * r - 1).to(self.dtype)


def bptt_gradient(cell: RecurrentCell, readout: nn.Linear, x: torch.Tensor, target: torch.Tensor, *,
                  loss: str | Callable = "cross_entropy", h0: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """Exact gradient of :math:`\\sum_t L_t` by backpropagation through the whole sequence (autograd).

    The independent reference for the online methods.

    Parameters
    ----------
    x : torch.Tensor
        Inputs ``(T, B, n_in)``.
    target : torch.Tensor
        Targets ``(T, B)`` (class indices, ``-100`` unscored) or ``(T, B, n_out)``.

    Returns
    -------
    dict
        Same keys as :meth:`OnlineLearner.gradient`.
    """
    fn = _loss_fn(loss)
    T, B = x.shape[:2]
    h = torch.zeros(B, cell.n_hidden, device=cell.weight.device, dtype=cell.weight.dtype) if h0 is None else h0
    total = 0.0
    with torch.enable_grad():
        for t in range(T):
            h = cell(h, x[t])
            total = total + fn(readout(h), target[t])
        params = [cell.weight, *readout.parameters()]
        grads = torch.autograd.grad(total, params)
    names = ["cell.weight"] + [f"readout.{k}" for k, _ in readout.named_parameters()]
    return dict(zip(names, grads))
