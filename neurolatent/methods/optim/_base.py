"""Checks shared by the optimisers of :mod:`neurolatent.methods.optim` (private).

Every optimiser here validates its hyper-parameters the same way and treats non-finite gradients
with the same documented policy:

``nonfinite="skip"`` (default)
    If any gradient holds NaN or +-inf the step is skipped entirely (no parameter, curvature or
    memory update) and a :class:`RuntimeWarning` names the first offending parameter.
``nonfinite="raise"``
    A :class:`FloatingPointError` is raised instead.
"""
from __future__ import annotations

import contextlib
import math
import warnings
import weakref
from typing import Iterable, Iterator

import torch
from torch import nn

SUPPORTED_LAYERS = (nn.Linear, nn.Conv2d)


def check_positive(value: float, name: str, owner: str) -> float:
    """``value`` as a float if finite and > 0, else a ValueError naming ``owner`` and ``name``."""
    try:
        v = float(value)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{owner}: {name} must be a positive number, got {value!r}") from err
    if not math.isfinite(v) or v <= 0.0:
        raise ValueError(f"{owner}: {name} must be finite and > 0, got {value!r}; "
                         f"pass a small positive {name} such as 1e-3")
    return v


def check_nonneg(value: float, name: str, owner: str, upper: float | None = None) -> float:
    v = float(value)
    if not math.isfinite(v) or v < 0.0 or (upper is not None and v >= upper):
        rng = f"[0, {upper})" if upper is not None else ">= 0"
        raise ValueError(f"{owner}: {name} must lie in {rng}, got {value!r}")
    return v


def check_policy(policy: str, owner: str) -> str:
    if policy not in ("skip", "raise"):
        raise ValueError(f"{owner}: nonfinite must be 'skip' or 'raise', got {policy!r}")
    return policy


def run_closure(closure) -> torch.Tensor | None:
    """torch's optimiser closure protocol: evaluate ``closure`` with gradients on; None when absent."""
    if closure is None:
        return None
    with torch.enable_grad():
        return closure()


def gradients_finite(named: Iterable[tuple[str, torch.Tensor]], policy: str, owner: str) -> bool:
    """True when every gradient is finite; otherwise warn (``skip``) and return False, or raise."""
    for name, p in named:
        if p.grad is not None and not bool(torch.isfinite(p.grad).all()):
            msg = (f"{owner}: the gradient of parameter {name!r} holds NaN or inf; "
                   "the step was skipped (lower the learning rate, check the inputs, or clip gradients)")
            if policy == "raise":
                raise FloatingPointError(msg.replace("the step was skipped", "no step was taken"))
            warnings.warn(msg, RuntimeWarning, stacklevel=3)
            return False
    return True


def named_params_of(params: list[torch.Tensor]) -> list[tuple[str, torch.Tensor]]:
    return [(f"#{i} (shape {tuple(p.shape)})", p) for i, p in enumerate(params)]


def split_layers(model: nn.Module, owner: str, unsupported: str = "raise",
                 supported: tuple[type, ...] = SUPPORTED_LAYERS) -> tuple[list[nn.Module], list[nn.Parameter]]:
    """The supported layers of ``model`` and the parameters of everything else.

    ``unsupported="raise"`` raises a TypeError naming the first module type that owns trainable
    parameters but is not one of ``supported``; ``"sgd"`` returns those parameters so the caller
    can update them with a first-order rule.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"{owner} needs the model (an nn.Module) to attach its layer hooks, got {type(model).__name__}")
    if unsupported not in ("raise", "sgd"):
        raise ValueError(f"{owner}: unsupported must be 'raise' or 'sgd', got {unsupported!r}")
    layers, rest = [], []
    for name, mod in model.named_modules():
        own = [p for p in mod.parameters(recurse=False) if p.requires_grad]
        if not own:
            continue
        ok = isinstance(mod, supported) and not (isinstance(mod, nn.Conv2d) and mod.groups != 1)
        if ok:
            layers.append(mod)
        elif unsupported == "raise":
            kinds = ", ".join(t.__name__ for t in supported)
            extra = " with groups=1" if nn.Conv2d in supported else ""
            raise TypeError(
                f"{owner}: layer {name!r} of type {type(mod).__name__} has trainable parameters but only "
                f"{kinds}{extra} layers are supported; remove it (e.g. use a model without BatchNorm), "
                "freeze its parameters, or pass unsupported='sgd' to update it with plain SGD"
            )
        else:
            rest.extend(own)
    if not layers:
        raise TypeError(f"{owner}: the model has no supported layer ({', '.join(t.__name__ for t in supported)}); "
                        "use a first-order optimiser for it")
    return layers, rest


def in_functorch_transform() -> bool:
    """True while a ``torch.func`` transform (vmap, grad, jacrev, jvp, ...) is running.

    Inputs seen inside a transform are wrapper tensors that must not outlive it (storing one leaks
    it: a later ``copy.deepcopy`` fails with "Cannot access storage of TensorWrapper").
    """
    return torch._C._functorch.maybe_current_level() is not None


class OwnedHook:
    """A module hook that calls ``owner.<method>`` through a weak reference to ``owner``.

    The optimisers attach their hooks to the user's model. A bound method as hook would make the model
    own the optimiser: ``copy.deepcopy(model)`` would then deep-copy the optimiser too, and the copy's
    hooks would call a half-built optimiser copy (torch optimisers pickle only their param groups and
    state). An ``OwnedHook`` instead

    * does nothing once ``owner`` has been garbage-collected;
    * is copied by :func:`copy.deepcopy` and pickled as an *inert* hook (it never fires again), so a
      copied or saved model carries no optimiser and trains with any optimiser of its own.

    Parameters
    ----------
    owner : object
        The object whose method runs (an optimiser or an :class:`InputRecorder`).
    method : str
        Name of the method, called with the hook's arguments.
    """

    __slots__ = ("_ref", "_method")

    def __init__(self, owner: object | None, method: str):
        self._ref = None if owner is None else weakref.ref(owner)
        self._method = method

    @property
    def owner(self) -> object | None:
        return None if self._ref is None else self._ref()

    def __call__(self, *args):
        owner = self.owner
        if owner is None:
            return None
        return getattr(owner, self._method)(*args)

    def __deepcopy__(self, memo: dict) -> "OwnedHook":
        return OwnedHook(None, self._method)

    def __copy__(self) -> "OwnedHook":
        return OwnedHook(None, self._method)

    def __reduce__(self):
        return (OwnedHook, (None, self._method))


def attach_forward_hook(owner: object, module: nn.Module, method: str, *, pre: bool = False):
    """Register ``OwnedHook(owner, method)`` on ``module``; the hook is removed when ``owner`` is collected."""
    hook = OwnedHook(owner, method)
    handle = module.register_forward_pre_hook(hook) if pre else module.register_forward_hook(hook)
    weakref.finalize(owner, handle.remove).atexit = False
    return handle


class InputRecorder:
    """Keeps the model's last training-mode input (a forward hook), for optimisers that recompute
    per-example quantities on the current batch (exact natural gradient, FishLeg, Gauss-Newton).

    With ``output_grad=True`` it also keeps ``out_grad``, the gradient of the loss with respect to
    that forward pass's output (a tensor hook fired by the caller's ``loss.backward()``).

    What is recorded: only a training-mode forward pass with gradients enabled, run by the user --
    never one inside a ``torch.func`` transform (whose inputs are wrappers that must not leak) and
    never one while :meth:`paused` (the optimiser re-running the model on the recorded batch).
    The hook is an :class:`OwnedHook`: ``copy.deepcopy(model)`` gives a model without it.
    """

    def __init__(self, model: nn.Module, output_grad: bool = False):
        self.x: torch.Tensor | None = None
        self.out_grad: torch.Tensor | None = None
        self.output_grad = output_grad
        self.active = True
        self._handle = attach_forward_hook(self, model, "_record")

    @contextlib.contextmanager
    def paused(self) -> Iterator[None]:
        """Record nothing inside the block (the optimiser's own re-runs of the model)."""
        before, self.active = self.active, False
        try:
            yield
        finally:
            self.active = before

    def _record(self, mod: nn.Module, inputs: tuple, output) -> None:
        if not (self.active and mod.training and torch.is_grad_enabled()) or in_functorch_transform():
            return
        self.x = inputs[0].detach()
        if self.output_grad:
            self.out_grad = None
            if isinstance(output, torch.Tensor) and output.requires_grad:
                output.register_hook(self._grab)

    def _grab(self, g: torch.Tensor) -> None:
        self.out_grad = g.detach()

    def remove(self) -> None:
        self._handle.remove()
