"""Small networks (MLP, small CNN, with or without BatchNorm) with a permutation specification.

Every network here is a :class:`BlockNet`: a stack of blocks ``f = f_L o ... o f_1`` where each
hidden block is ``activation(norm(linear_or_conv(h)))`` and the last block is the read-out. This
gives every family the same handles:

* ``net.forward_to(x, k)`` -- the representation :math:`h_k = f_k \\circ\\dots\\circ f_1(x)` after
  block ``k`` (``k = 0`` is the input), used by stitching, CKA and activation matching;
* ``net.forward_from(h, k)`` -- the rest of the network, :math:`f_L \\circ\\dots\\circ f_{k+1}(h)`;
* ``net.permutation_spec()`` -- a :class:`PermutationSpec`: which axes of which ``state_dict``
  entries are permuted together when the hidden units of a layer are reordered;
* plain ``nn.Linear`` / ``nn.Conv{1,2}d`` / ``nn.BatchNorm*`` modules, so optimisers that hook
  layers (KFAC, FOOF) find them with ``net.modules()``.

Permutation symmetry: for a hidden layer with units permuted by a permutation matrix ``P``,
``W_k -> P W_k``, ``b_k -> P b_k``, ``W_{k+1} -> W_{k+1} P^T`` (and the BatchNorm affine parameters
and running statistics of layer ``k`` follow ``P``) leaves the function unchanged, because the
element-wise activation commutes with permutations.
"""
from __future__ import annotations

import copy
from typing import Mapping, Sequence

import torch
from torch import nn

from ..._utils import resolve_device

__all__ = [
    "PermutationSpec", "BlockNet", "MLP", "SmallCNN", "apply_permutation", "identity_permutation", "rescale_units",
]

_ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU}


class PermutationSpec:
    """Which axes of which tensors permute together.

    Parameters
    ----------
    axes : mapping of str to tuple of (str or None)
        For every ``state_dict`` key, one entry per tensor axis: the name of the permutation acting
        on that axis, or ``None``. E.g. the first layer of an MLP has
        ``{"blocks.0.linear.weight": ("P0", None), "blocks.0.linear.bias": ("P0",)}`` and the second
        ``{"blocks.1.linear.weight": ("P1", "P0"), ...}``.

    Attributes
    ----------
    perm_to_axes : dict of str to list of (str, int)
        The inverse map: for each permutation, the ``(key, axis)`` pairs it acts on.
    """

    def __init__(self, axes: Mapping[str, Sequence[str | None]]):
        self.axes: dict[str, tuple[str | None, ...]] = {k: tuple(v) for k, v in axes.items()}
        self.perm_to_axes: dict[str, list[tuple[str, int]]] = {}
        for key, names in self.axes.items():
            for ax, p in enumerate(names):
                if p is not None:
                    self.perm_to_axes.setdefault(p, []).append((key, ax))

    @property
    def perm_names(self) -> list[str]:
        return list(self.perm_to_axes)

    def sizes(self, state: Mapping[str, torch.Tensor]) -> dict[str, int]:
        """Size of each permutation, read off ``state`` (and checked to be consistent)."""
        out: dict[str, int] = {}
        for p, pairs in self.perm_to_axes.items():
            for key, ax in pairs:
                n = state[key].shape[ax]
                if out.setdefault(p, n) != n:
                    raise ValueError(f"permutation {p!r}: axis {ax} of {key!r} has size {n}, expected {out[p]}")
        return out

    def __repr__(self) -> str:
        return f"PermutationSpec({', '.join(f'{p}: {len(v)} axes' for p, v in self.perm_to_axes.items())})"


def identity_permutation(spec: PermutationSpec, model: nn.Module) -> dict[str, torch.Tensor]:
    """The identity permutation of every permutable layer of ``model``."""
    sd = model.state_dict()
    return {p: torch.arange(n, device=next(iter(sd.values())).device) for p, n in spec.sizes(sd).items()}


def apply_permutation(model: nn.Module, perms: Mapping[str, torch.Tensor],
                      spec: PermutationSpec | None = None) -> nn.Module:
    """A deep copy of ``model`` with its hidden units reordered.

    ``perms[p]`` is an index tensor: unit ``i`` of the permuted copy is unit ``perms[p][i]`` of
    ``model`` (``new = old.index_select(axis, perms[p])`` on every axis tagged ``p``). The copy
    computes the same function as ``model``.

    Examples
    --------
    >>> net = MLP(4, (5,), 3, seed=0)
    >>> perm = {"P0": torch.tensor([4, 3, 2, 1, 0])}
    >>> x = torch.randn(2, 4)
    >>> torch.allclose(net(x), apply_permutation(net, perm)(x), atol=1e-6)
    True
    """
    spec = spec if spec is not None else model.permutation_spec()
    unknown = set(perms) - set(spec.perm_names)
    if unknown:
        raise KeyError(f"permutations {sorted(unknown)} are not in the model's spec {spec.perm_names}")
    sd = model.state_dict()
    new_sd = {}
    for key, value in sd.items():
        for ax, p in enumerate(spec.axes.get(key, ())):
            if p is not None and p in perms:
                value = value.index_select(ax, perms[p].to(value.device))
        new_sd[key] = value
    out = copy.deepcopy(model)
    out.load_state_dict(new_sd)
    return out


def rescale_units(model: "BlockNet", layer: int, scale: torch.Tensor) -> "BlockNet":
    r"""A copy of a ReLU ``model`` with the units of hidden ``layer`` multiplied by positive ``scale``.

    ReLU (and max-pooling) are positively homogeneous, :math:`\mathrm{relu}(s z) = s\,\mathrm{relu}(z)`
    for :math:`s > 0`, so scaling unit ``i``'s pre-activation (its weights and bias, or its
    BatchNorm affine parameters) by :math:`s_i` and the next layer's input weights from unit ``i`` by
    :math:`1/s_i` leaves the function unchanged while the representation :math:`h_k` becomes
    :math:`D h_k`, :math:`D = \mathrm{diag}(s)`. Useful to show which similarity measures see
    through this symmetry (linear CKA does not).

    Examples
    --------
    >>> net = MLP(4, (6,), 3, seed=0)
    >>> twin = rescale_units(net, 1, torch.linspace(0.1, 10, 6))
    >>> x = torch.randn(5, 4)
    >>> torch.allclose(net(x), twin(x), atol=1e-5)
    True
    """
    if layer not in model.hidden_layers:
        raise IndexError(f"layer {layer} is not a hidden layer; choose one of {model.hidden_layers}")
    block, nxt = model.blocks[layer - 1], model.blocks[layer]
    if not isinstance(block.act, nn.ReLU):
        raise ValueError(f"rescale_units needs a ReLU activation (positively homogeneous), got {type(block.act).__name__}")
    scale = torch.as_tensor(scale)
    if scale.dim() != 1 or not bool((scale > 0).all()):
        raise ValueError("scale must be a 1-D tensor of positive numbers, one per unit of the layer")
    out = copy.deepcopy(model)
    blk, nx = out.blocks[layer - 1], out.blocks[layer]
    with torch.no_grad():
        first = blk.norm if not isinstance(blk.norm, nn.Identity) else blk.layer
        s = scale.to(first.weight.device, first.weight.dtype)
        if s.numel() != first.weight.shape[0]:
            raise ValueError(f"scale has {s.numel()} entries but layer {layer} has {first.weight.shape[0]} units")
        first.weight.mul_(s.reshape(-1, *([1] * (first.weight.dim() - 1))))
        first.bias.mul_(s)
        w = nx.linear.weight if isinstance(nx, _Readout) else nx.layer.weight
        w.div_(s.reshape(1, -1, *([1] * (w.dim() - 2))))
    return out


class BlockNet(nn.Module):
    """A network made of ``blocks`` run in sequence; base of :class:`MLP` and :class:`SmallCNN`."""

    blocks: nn.ModuleList

    @property
    def n_blocks(self) -> int:
        return len(self.blocks)

    @property
    def hidden_layers(self) -> list[int]:
        """The layer indices ``k`` (1-based) whose outputs are hidden representations."""
        return list(range(1, self.n_blocks))

    def layer_permutation(self, k: int) -> str:
        """Name, in :meth:`permutation_spec`, of the permutation of the units output by block ``k``."""
        if k not in self.hidden_layers:
            raise IndexError(f"layer {k} is not a hidden layer of this {type(self).__name__}; "
                             f"choose one of {self.hidden_layers}")
        return f"P{k - 1}"

    def _check_k(self, k: int) -> int:
        if not 0 <= k <= self.n_blocks:
            raise IndexError(f"layer index {k} is outside 0..{self.n_blocks} for this {type(self).__name__}")
        return k

    def forward_to(self, x: torch.Tensor, k: int) -> torch.Tensor:
        """Output of the first ``k`` blocks (``k = 0`` returns ``x``)."""
        for block in self.blocks[: self._check_k(k)]:
            x = block(x)
        return x

    def forward_from(self, h: torch.Tensor, k: int) -> torch.Tensor:
        """Run blocks ``k+1 ... L`` on a representation ``h`` taken after block ``k``."""
        for block in self.blocks[self._check_k(k):]:
            h = block(h)
        return h

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_from(x, 0)

    def permutation_spec(self) -> PermutationSpec:  # pragma: no cover - overridden
        raise NotImplementedError


class _Hidden(nn.Module):
    """``act(norm(layer(x)))``; the layer is Linear or Conv, the norm BatchNorm or Identity."""

    def __init__(self, layer: nn.Module, norm: nn.Module, act: nn.Module, flatten: bool = False,
                 pool: nn.Module | None = None):
        super().__init__()
        self.flatten = flatten
        self.layer, self.norm, self.act = layer, norm, act
        self.pool = pool if pool is not None else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.flatten:
            x = x.flatten(1)
        return self.pool(self.act(self.norm(self.layer(x))))


class _Readout(nn.Module):
    """Global average pool over spatial axes (if any), flatten, then a linear map."""

    def __init__(self, linear: nn.Linear, pool: bool):
        super().__init__()
        self.pool, self.linear = pool, linear

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pool and x.dim() > 2:
            x = x.mean(dim=tuple(range(2, x.dim())))
        return self.linear(x.flatten(1))


def _build(seed: int | None, fn):
    """Build modules with torch's CPU generator forked, so a seed never touches the global stream."""
    if seed is None:
        return fn()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(int(seed))
        return fn()


def _norm_axes(prefix: str, p: str, norm: nn.Module) -> dict[str, tuple]:
    if isinstance(norm, nn.Identity):
        return {}
    axes = {f"{prefix}.norm.{n}": (p,) for n in ("weight", "bias", "running_mean", "running_var")}
    axes[f"{prefix}.norm.num_batches_tracked"] = ()
    return axes


class MLP(BlockNet):
    """Multilayer perceptron ``in -> hidden[0] -> ... -> hidden[-1] -> n_classes``.

    Parameters
    ----------
    in_features : int
        Number of input features (inputs of any shape ``(n, ...)`` are flattened).
    hidden : sequence of int
        Widths of the hidden layers.
    n_classes : int
        Output width (logits).
    batchnorm : bool
        Insert ``BatchNorm1d`` between each hidden linear map and its activation.
    activation : {"relu", "tanh", "gelu"}
    seed : int, optional
        Seed of the (PyTorch default) initialisation; the global generator is left untouched.
    device, dtype
        Where and in which type the parameters live.

    Examples
    --------
    >>> net = MLP(64, (32, 32), 10, seed=0)
    >>> net(torch.randn(5, 64)).shape, net.forward_to(torch.randn(5, 64), 1).shape
    (torch.Size([5, 10]), torch.Size([5, 32]))
    """

    def __init__(self, in_features: int, hidden: Sequence[int] = (128, 128), n_classes: int = 10, *,
                 batchnorm: bool = False, activation: str = "relu", seed: int | None = None,
                 device: str | torch.device | None = None, dtype: torch.dtype | None = None):
        super().__init__()
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}")
        if len(hidden) == 0 or min(hidden) < 1:
            raise ValueError(f"hidden must be a non-empty sequence of positive widths, got {hidden!r}")
        widths = [int(in_features), *map(int, hidden)]
        self.batchnorm = batchnorm

        def make():
            blocks = [
                _Hidden(nn.Linear(widths[i], widths[i + 1]),
                        nn.BatchNorm1d(widths[i + 1]) if batchnorm else nn.Identity(),
                        _ACTIVATIONS[activation](), flatten=(i == 0))
                for i in range(len(hidden))
            ]
            blocks.append(_Readout(nn.Linear(widths[-1], n_classes), pool=False))
            return nn.ModuleList(blocks)

        self.blocks = _build(seed, make)
        self.to(device=resolve_device(device), dtype=dtype)

    def permutation_spec(self) -> PermutationSpec:
        axes: dict[str, tuple] = {}
        prev = None
        for i in range(self.n_blocks - 1):
            p = f"P{i}"
            axes[f"blocks.{i}.layer.weight"] = (p, prev)
            axes[f"blocks.{i}.layer.bias"] = (p,)
            axes.update(_norm_axes(f"blocks.{i}", p, self.blocks[i].norm))
            prev = p
        axes[f"blocks.{self.n_blocks - 1}.linear.weight"] = (None, prev)
        axes[f"blocks.{self.n_blocks - 1}.linear.bias"] = (None,)
        return PermutationSpec(axes)


class SmallCNN(BlockNet):
    """Small convolutional network: ``[conv -> (BN) -> act -> (max-pool 2)] x len(channels) -> mean-pool -> linear``.

    Convolutions keep the spatial size (``padding = kernel_size // 2``); hidden blocks listed in
    ``pool`` halve it with a 2-wide max-pool; the read-out averages over the remaining space. Max-pooling
    and averaging act channel by channel, so permuting the channels of every conv layer is an exact
    symmetry.

    Parameters
    ----------
    in_channels : int
    channels : sequence of int
        Output channels of each conv layer.
    n_classes : int
    ndim : {1, 2}
        ``2`` for images ``(n, c, h, w)`` (digits with ``image=True``), ``1`` for signals
        ``(n, c, length)`` (MNIST-1D with ``channel=True``).
    kernel_size : int
    pool : sequence of int
        0-based indices of the hidden blocks followed by a 2-wide max-pool (default: the first two).
    batchnorm, activation, seed, device, dtype
        As for :class:`MLP`.

    Examples
    --------
    >>> net = SmallCNN(1, (8, 16), 10, seed=0)
    >>> net(torch.randn(3, 1, 8, 8)).shape
    torch.Size([3, 10])
    """

    def __init__(self, in_channels: int = 1, channels: Sequence[int] = (16, 32), n_classes: int = 10, *,
                 ndim: int = 2, kernel_size: int = 3, pool: Sequence[int] = (0, 1), batchnorm: bool = False,
                 activation: str = "relu",
                 seed: int | None = None, device: str | torch.device | None = None,
                 dtype: torch.dtype | None = None):
        super().__init__()
        if ndim not in (1, 2):
            raise ValueError(f"ndim must be 1 (signals) or 2 (images), got {ndim}")
        if activation not in _ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(_ACTIVATIONS)}, got {activation!r}")
        if len(channels) == 0 or min(channels) < 1:
            raise ValueError(f"channels must be a non-empty sequence of positive ints, got {channels!r}")
        conv = nn.Conv1d if ndim == 1 else nn.Conv2d
        bn = nn.BatchNorm1d if ndim == 1 else nn.BatchNorm2d
        maxpool = nn.MaxPool1d if ndim == 1 else nn.MaxPool2d
        widths = [int(in_channels), *map(int, channels)]
        self.batchnorm, self.ndim = batchnorm, ndim

        def make():
            blocks = [
                _Hidden(conv(widths[i], widths[i + 1], kernel_size, padding=kernel_size // 2),
                        bn(widths[i + 1]) if batchnorm else nn.Identity(), _ACTIVATIONS[activation](),
                        pool=maxpool(2) if i in pool else None)
                for i in range(len(channels))
            ]
            blocks.append(_Readout(nn.Linear(widths[-1], n_classes), pool=True))
            return nn.ModuleList(blocks)

        self.blocks = _build(seed, make)
        self.to(device=resolve_device(device), dtype=dtype)

    def permutation_spec(self) -> PermutationSpec:
        axes: dict[str, tuple] = {}
        prev = None
        extra = (None,) * self.ndim  # the spatial kernel axes never permute
        for i in range(self.n_blocks - 1):
            p = f"P{i}"
            axes[f"blocks.{i}.layer.weight"] = (p, prev, *extra)
            axes[f"blocks.{i}.layer.bias"] = (p,)
            axes.update(_norm_axes(f"blocks.{i}", p, self.blocks[i].norm))
            prev = p
        axes[f"blocks.{self.n_blocks - 1}.linear.weight"] = (None, prev)
        axes[f"blocks.{self.n_blocks - 1}.linear.bias"] = (None,)
        return PermutationSpec(axes)
