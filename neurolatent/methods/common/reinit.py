r"""Re-initialisation during training, as callbacks of :func:`~neurolatent.methods.common.train`.

Zaidi et al. (2022, "When does re-initialization work?") compare methods that, every few epochs,
partly reset a network while it trains, and find that they improve test accuracy over standard
training when no other regulariser is used, that the gain shrinks once weight decay and data
augmentation are tuned, and that it is largest under label noise. The methods here:

* :class:`ShrinkPerturb` -- shrink-and-perturb (Ash & Adams 2020, "On warm-starting neural network
  training"): :math:`\theta \leftarrow \lambda\,\theta + \gamma\,\theta^{\mathrm{init}}`, with
  :math:`\theta^{\mathrm{init}}` a fresh draw from the network's initialisation distribution (the
  form Zaidi et al. use; Ash & Adams add Gaussian noise of a fixed scale);
* :class:`ReinitLastLayers` -- re-initialise the last :math:`k` layers (Li et al. 2020, "RIFLE");
* :class:`LayerwiseReinit` -- the layer-wise schedule of Alabdulmohsin et al. (2021, "The impact of
  reinitialization on generalization in convolutional neural networks"): at the :math:`s`-th
  re-initialisation the first :math:`s` layers are kept and every later layer is drawn afresh, so
  the network is grown from the bottom, one layer per stage.

Each is a callable ``cb(state)`` run by :func:`train` at the end of every epoch; it acts at the
epochs its schedule names (after ``every`` completed epochs, from ``start`` to ``stop``) and records
them in ``cb.events``. Re-initialised parameters lose their optimiser state (momentum, Adam moments),
so the next step treats them as new. A *layer* is a block of a
:class:`~neurolatent.methods.common.BlockNet` (linear or conv map, its BatchNorm and activation), or,
for any other module, each sub-module that owns parameters, in registration order
(:func:`network_layers`).

Examples
--------
>>> from neurolatent.methods.common import MLP, make_teacher_classification, train
>>> d = make_teacher_classification(300, 5, 3, seed=0)
>>> cb = ShrinkPerturb(0.5, 0.1, every=2, stop=4)
>>> h = train(MLP(5, (16,), 3, seed=0), d, epochs=6, callback=cb)
>>> cb.events
[2, 4]
"""
from __future__ import annotations

import copy
from typing import Sequence

import torch
from torch import nn

__all__ = ["network_layers", "reinitialise", "Reinitialiser", "ShrinkPerturb", "ReinitLastLayers",
           "LayerwiseReinit"]


def network_layers(model: nn.Module) -> list[nn.Module]:
    """The layers of ``model``, input to output, as re-initialisation sees them.

    A :class:`~neurolatent.methods.common.BlockNet` (``MLP``, ``SmallCNN``) gives its blocks; any
    other module gives its sub-modules that own parameters directly (``nn.Linear``, ``nn.Conv2d``,
    ``nn.BatchNorm1d``, ...), in registration order.

    Examples
    --------
    >>> from neurolatent.methods.common import MLP
    >>> len(network_layers(MLP(4, (8, 8), 3)))
    3
    """
    blocks = getattr(model, "blocks", None)
    if isinstance(blocks, nn.ModuleList) and len(blocks) > 0:
        return list(blocks)
    layers = [m for m in model.modules() if any(True for _ in m.parameters(recurse=False))]
    if not layers:
        raise ValueError(f"{type(model).__name__} has no parameters: there is nothing to re-initialise")
    return layers


def _fresh_state(layer: nn.Module, seed: int) -> dict[str, torch.Tensor]:
    """A fresh initialisation of ``layer`` (its own ``reset_parameters``), drawn on the CPU with ``seed``.

    The draw happens on a CPU copy inside a forked RNG, so the result does not depend on the
    layer's device and the global random stream is untouched.
    """
    twin = copy.deepcopy(layer).to("cpu")
    resettable = [m for m in twin.modules() if callable(getattr(m, "reset_parameters", None))]
    owners = [m for m in twin.modules() if any(True for _ in m.parameters(recurse=False))]
    missing = [type(m).__name__ for m in owners if m not in resettable]
    if missing:
        raise TypeError(f"cannot re-initialise {type(layer).__name__}: its sub-modules {missing} own parameters but "
                        "have no reset_parameters() method; give them one (as torch's layers have)")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        for m in resettable:
            m.reset_parameters()
    return twin.state_dict()


def _check_index(i: int, n: int, model: nn.Module) -> int:
    if not -n <= int(i) < n:
        raise IndexError(f"layer index {i} is outside the {n} layers of this {type(model).__name__}; "
                         f"use 0 ... {n - 1} or negative indices from the output")
    return int(i)


def _forget_state(optimizer: torch.optim.Optimizer | None, params: Sequence[torch.Tensor]) -> None:
    if optimizer is None:
        return
    for p in params:
        optimizer.state.pop(p, None)


@torch.no_grad()
def reinitialise(model: nn.Module, layers: Sequence[int], *, seed: int = 0,
                 optimizer: torch.optim.Optimizer | None = None) -> nn.Module:
    """Re-initialise the given layers of ``model`` in place (parameters and BatchNorm statistics).

    Parameters
    ----------
    model : nn.Module
    layers : sequence of int
        Indices into :func:`network_layers` (negative indices count from the output).
    seed : int
        Seed of the fresh draw (a forked CPU generator; the global stream is untouched).
    optimizer : torch.optim.Optimizer, optional
        Its state for the re-initialised parameters is dropped.

    Returns
    -------
    nn.Module
        ``model``.

    Examples
    --------
    >>> from neurolatent.methods.common import MLP
    >>> net = MLP(4, (8,), 3, seed=0)
    >>> w = net.blocks[1].linear.weight.clone()
    >>> _ = reinitialise(net, [-1], seed=1)
    >>> bool((net.blocks[1].linear.weight != w).any())
    True
    """
    all_layers = network_layers(model)
    for k, i in enumerate(layers):
        layer = all_layers[_check_index(i, len(all_layers), model)]
        fresh = _fresh_state(layer, seed * 7919 + k)
        own = layer.state_dict(keep_vars=True)
        for key, value in fresh.items():
            own[key].data.copy_(value.to(own[key].device, own[key].dtype) if value.is_floating_point()
                                else value.to(own[key].device))
        _forget_state(optimizer, list(layer.parameters()))
    return model


class Reinitialiser:
    """Base class: a training callback that acts on a schedule of completed epochs.

    The callback acts after epoch ``e`` (counted from 1) when ``e % every == 0``,
    ``e >= start`` and (if ``stop`` is given) ``e <= stop``. Subclasses implement
    :meth:`apply`. Leave a few epochs after ``stop`` so the last re-initialisation is trained out.

    Parameters
    ----------
    every : int
        Period in epochs.
    start, stop : int, optional
        First and last epoch at which the callback may act (``start`` defaults to ``every``).
    seed : int
        Seed of the fresh initialisations (application ``m`` uses ``seed * 1000 + m``).
    reset_optimizer : bool
        Drop the optimiser state of the parameters that were changed.

    Attributes
    ----------
    events : list of int
        The epochs at which the callback acted.
    """

    def __init__(self, *, every: int, start: int | None = None, stop: int | None = None, seed: int = 0,
                 reset_optimizer: bool = True):
        if int(every) < 1:
            raise ValueError(f"every must be a positive number of epochs, got {every}")
        self.every, self.start = int(every), int(every if start is None else start)
        self.stop = None if stop is None else int(stop)
        self.seed, self.reset_optimizer = int(seed), bool(reset_optimizer)
        self.events: list[int] = []

    def due(self, epoch: int) -> bool:
        """Whether the callback acts after ``epoch`` completed epochs."""
        return epoch % self.every == 0 and epoch >= self.start and (self.stop is None or epoch <= self.stop)

    def apply(self, model: nn.Module, optimizer: torch.optim.Optimizer | None, seed: int) -> bool | None:
        """Modify ``model`` in place (overridden by every method); return ``False`` if nothing was done."""
        raise NotImplementedError(f"{type(self).__name__} must implement apply(model, optimizer, seed)")

    def __call__(self, state: dict) -> bool:
        epoch = int(state["epoch"]) + 1
        if self.due(epoch):
            opt = state.get("optimizer") if self.reset_optimizer else None
            if self.apply(state["model"], opt, self.seed * 1000 + len(self.events)) is not False:
                self.events.append(epoch)
        return False

    def __repr__(self) -> str:
        return f"{type(self).__name__}(every={self.every}, start={self.start}, stop={self.stop})"


class ShrinkPerturb(Reinitialiser):
    r"""Shrink-and-perturb: :math:`\theta \leftarrow \lambda\theta + \gamma\,\theta^{\mathrm{init}}`.

    Ash & Adams (2020) showed that warm-started networks generalise worse than freshly
    initialised ones and that shrinking the weights towards zero and adding a little noise closes
    the gap; Zaidi et al. (2022) apply it periodically during ordinary training, with the noise a
    fresh draw :math:`\theta^{\mathrm{init}}` from the network's initialisation scaled by
    :math:`\gamma`. BatchNorm running statistics are left alone (the affine parameters are shrunk
    and perturbed like any other); with ``layers`` only those layers change.

    Parameters
    ----------
    shrink : float
        :math:`\lambda \in [0, 1]`; ``1`` with ``perturb=0`` does nothing, ``0`` with ``perturb=1`` is a
        full re-initialisation.
    perturb : float
        :math:`\gamma \ge 0`.
    layers : sequence of int, optional
        Indices into :func:`network_layers`; default all.
    every, start, stop, seed, reset_optimizer
        As for :class:`Reinitialiser`.

    Examples
    --------
    >>> from neurolatent.methods.common import MLP
    >>> net = MLP(4, (8,), 3, seed=0)
    >>> w = net.blocks[0].layer.weight.clone()
    >>> ShrinkPerturb(0.5, 0.0, every=1).apply(net, None, seed=0)
    >>> torch.allclose(net.blocks[0].layer.weight, 0.5 * w)
    True
    """

    def __init__(self, shrink: float = 0.4, perturb: float = 0.1, *, layers: Sequence[int] | None = None,
                 every: int, start: int | None = None, stop: int | None = None, seed: int = 0,
                 reset_optimizer: bool = True):
        super().__init__(every=every, start=start, stop=stop, seed=seed, reset_optimizer=reset_optimizer)
        if not 0.0 <= float(shrink) <= 1.0:
            raise ValueError(f"shrink must lie in [0, 1] (the factor multiplying the weights), got {shrink}")
        if float(perturb) < 0.0:
            raise ValueError(f"perturb must be >= 0 (the scale of the fresh initialisation added), got {perturb}")
        self.shrink, self.perturb = float(shrink), float(perturb)
        self.layers = None if layers is None else [int(i) for i in layers]

    @torch.no_grad()
    def apply(self, model: nn.Module, optimizer: torch.optim.Optimizer | None, seed: int) -> None:
        all_layers = network_layers(model)
        idx = range(len(all_layers)) if self.layers is None else self.layers
        changed = []
        for k, i in enumerate(idx):
            layer = all_layers[_check_index(i, len(all_layers), model)]
            fresh = _fresh_state(layer, seed * 7919 + k) if self.perturb > 0 else {}
            for name, p in layer.named_parameters():
                p.mul_(self.shrink)
                if name in fresh:
                    p.add_(fresh[name].to(p.device, p.dtype), alpha=self.perturb)
                changed.append(p)
        _forget_state(optimizer, changed)


class ReinitLastLayers(Reinitialiser):
    """Periodically re-initialise the last ``k`` layers (Li et al. 2020, "RIFLE"; Zaidi et al. 2022).

    Parameters
    ----------
    k : int
        Number of layers, counted from the output (``1``: the read-out only).
    every, start, stop, seed, reset_optimizer
        As for :class:`Reinitialiser`.

    Examples
    --------
    >>> from neurolatent.methods.common import MLP
    >>> net = MLP(4, (8, 8), 3, seed=0)
    >>> w0 = net.blocks[0].layer.weight.clone()
    >>> ReinitLastLayers(2, every=1).apply(net, None, seed=0)
    >>> torch.equal(net.blocks[0].layer.weight, w0)
    True
    """

    def __init__(self, k: int = 1, *, every: int, start: int | None = None, stop: int | None = None,
                 seed: int = 0, reset_optimizer: bool = True):
        super().__init__(every=every, start=start, stop=stop, seed=seed, reset_optimizer=reset_optimizer)
        if int(k) < 1:
            raise ValueError(f"k must be at least 1 (the number of output-side layers to reset), got {k}")
        self.k = int(k)

    def apply(self, model: nn.Module, optimizer: torch.optim.Optimizer | None, seed: int) -> None:
        n = len(network_layers(model))
        if self.k > n:
            raise ValueError(f"ReinitLastLayers(k={self.k}) but {type(model).__name__} has only {n} layers")
        reinitialise(model, range(n - self.k, n), seed=seed, optimizer=optimizer)


class LayerwiseReinit(Reinitialiser):
    """Layer-wise re-initialisation (Alabdulmohsin et al. 2021): keep the bottom, redraw the top.

    At its :math:`s`-th application (:math:`s = 1, 2, \\dots`) the first :math:`s + \\text{offset}`
    layers are kept and all later layers are re-initialised; once every layer but the read-out
    is kept, the callback stops acting. With ``every`` epochs per stage a network of :math:`L`
    layers needs about ``(L - offset) * every`` epochs plus a final stage.

    Parameters
    ----------
    offset : int
        Layers kept in addition to the stage number (``0``: the first stage keeps one layer).
    every, start, stop, seed, reset_optimizer
        As for :class:`Reinitialiser`.

    Examples
    --------
    >>> from neurolatent.methods.common import MLP
    >>> net = MLP(4, (8, 8), 3, seed=0)
    >>> cb = LayerwiseReinit(every=1)
    >>> w1 = net.blocks[1].layer.weight.clone()
    >>> _ = cb.apply(net, None, seed=0)  # stage 1: keep block 0, redraw blocks 1 and 2
    >>> torch.equal(net.blocks[1].layer.weight, w1)
    False
    """

    def __init__(self, *, offset: int = 0, every: int, start: int | None = None, stop: int | None = None,
                 seed: int = 0, reset_optimizer: bool = True):
        super().__init__(every=every, start=start, stop=stop, seed=seed, reset_optimizer=reset_optimizer)
        if int(offset) < 0:
            raise ValueError(f"offset must be >= 0, got {offset}")
        self.offset = int(offset)
        self.stage = 0

    def apply(self, model: nn.Module, optimizer: torch.optim.Optimizer | None, seed: int) -> bool:
        n = len(network_layers(model))
        keep = self.stage + 1 + self.offset
        if keep >= n:
            return False
        self.stage += 1
        reinitialise(model, range(keep, n), seed=seed, optimizer=optimizer)
        return True

