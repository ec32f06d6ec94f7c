r"""RealNVP-style normalizing flows on flat vectors, in pure torch (Dinh, Sohl-Dickstein & Bengio 2017).

An affine coupling splits :math:`x \in \mathbb R^D` with a binary mask :math:`m` into a part it
keeps, :math:`m \odot x`, and a part it transforms with a scale and shift computed from the kept part:

.. math::

    y = m \odot x + (1 - m) \odot \bigl(x \odot e^{s(m \odot x)} + t(m \odot x)\bigr), \qquad
    \log\lvert\det \partial y / \partial x\rvert = \sum_i (1 - m_i)\, s_i(m \odot x).

The Jacobian is triangular (after a permutation), so the log-determinant is exact and costs one
sum; the inverse is :math:`x = m \odot y + (1 - m) \odot (y - t(m \odot y)) \odot e^{-s(m \odot y)}`.
:class:`RealNVP` stacks couplings whose masks alternate between odd/even coordinates and the two
halves of the vector, so every coordinate is transformed and mixed with every other. The scale
is bounded, :math:`s = c \tanh(\tilde s)` with a learnt per-coordinate :math:`c` (initialised small),
and the last layer of each coupling network starts at zero, so a new flow is the identity.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ..._utils import make_generator, resolve_device

__all__ = ["AffineCoupling", "RealNVP", "coupling_masks"]


def coupling_masks(dim: int, n_couplings: int, *, device=None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """The masks of :class:`RealNVP`: even/odd coordinates, then first/second half, repeated.

    Parameters
    ----------
    dim : int
        :math:`D \\ge 2`.
    n_couplings : int
        Number of masks (coupling layers).

    Returns
    -------
    Tensor, shape ``(n_couplings, dim)``
        Entries 1 (kept) and 0 (transformed); consecutive masks are complements of each other.

    Examples
    --------
    >>> coupling_masks(4, 4).int().tolist()
    [[1, 0, 1, 0], [0, 1, 0, 1], [1, 1, 0, 0], [0, 0, 1, 1]]
    """
    if int(dim) < 2:
        raise ValueError(f"dim must be at least 2 for a coupling flow (one part kept, one transformed), got {dim}")
    if int(n_couplings) < 1:
        raise ValueError(f"n_couplings must be at least 1, got {n_couplings}")
    idx = torch.arange(dim)
    parity = (idx % 2 == 0)
    half = idx < dim // 2
    patterns = [parity, ~parity, half, ~half]
    return torch.stack([patterns[k % 4] for k in range(n_couplings)]).to(device=resolve_device(device), dtype=dtype)


def _check_input(x: torch.Tensor, dim: int, where: str, name: str) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{where}: {name} must be a torch.Tensor of shape (n, {dim}), got {type(x).__name__}")
    if x.ndim != 2 or x.shape[-1] != dim:
        raise ValueError(f"{where}: {name} must have shape (n, {dim}), got {tuple(x.shape)}; flatten images "
                         "first (e.g. x.flatten(1))")
    if not torch.isfinite(x).all():
        bad = int((~torch.isfinite(x)).any(dim=1).sum())
        raise ValueError(f"{where}: {name} holds NaN or infinite values in {bad} of {x.shape[0]} rows; a flow's "
                         "density is defined for finite inputs only: drop or impute those rows first")


class AffineCoupling(nn.Module):
    r"""One affine coupling layer :math:`y = m x + (1-m)(x e^{s(mx)} + t(mx))`.

    Parameters
    ----------
    mask : Tensor, shape ``(dim,)``
        1 where coordinates are kept (and condition the transform), 0 where they are transformed.
    hidden : int
        Width of the two hidden layers of the network computing :math:`(s, t)`.
    generator : torch.Generator, optional
        Seeds the initial weights (the last layer is zero, so the layer starts as the identity).
    device, dtype
        Where and in which floating type the parameters live.

    Examples
    --------
    >>> layer = AffineCoupling(torch.tensor([1.0, 0.0, 1.0, 0.0]), hidden=8)
    >>> x = torch.randn(5, 4)
    >>> y, logdet = layer(x)
    >>> torch.allclose(layer.inverse(y), x, atol=1e-6), logdet.shape
    (True, torch.Size([5]))
    """

    def __init__(self, mask: torch.Tensor, hidden: int = 64, *, generator: torch.Generator | None = None,
                 device=None, dtype: torch.dtype = torch.float32):
        super().__init__()
        mask = torch.as_tensor(mask)
        if mask.ndim != 1 or not bool(((mask == 0) | (mask == 1)).all()):
            raise ValueError(f"mask must be a 1-D tensor of zeros and ones, got shape {tuple(mask.shape)}")
        if mask.sum() == 0 or mask.sum() == mask.numel():
            raise ValueError("mask must keep some coordinates and transform the others (both 0s and 1s needed)")
        if int(hidden) < 1:
            raise ValueError(f"hidden must be a positive width, got {hidden}")
        dev = resolve_device(device, mask if mask.is_floating_point() else None)
        dim = mask.numel()
        self.dim = dim
        self.register_buffer("mask", mask.to(device=dev, dtype=dtype))
        self.net = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, hidden), nn.GELU(),
                                 nn.Linear(hidden, 2 * dim)).to(device=dev, dtype=dtype)
        with torch.no_grad():
            for lin in self.net[:-1]:
                if isinstance(lin, nn.Linear):
                    bound = 1.0 / math.sqrt(lin.in_features)
                    lin.weight.copy_(torch.empty_like(lin.weight, device="cpu").uniform_(-bound, bound,
                                                                                         generator=generator))
                    lin.bias.zero_()
            self.net[-1].weight.zero_()
            self.net[-1].bias.zero_()
        self.scale = nn.Parameter(torch.full((dim,), 0.1, device=dev, dtype=dtype))

    def _shift_scale(self, kept: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.net(kept)
        s_raw, t = out[:, :self.dim], out[:, self.dim:]
        free = 1.0 - self.mask
        return free * self.scale * torch.tanh(s_raw), free * t

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(y, log|det dy/dx|)`` with shapes ``(n, dim)`` and ``(n,)``."""
        s, t = self._shift_scale(x * self.mask)
        return x * torch.exp(s) + t, s.sum(dim=1)

    def inverse(self, y: torch.Tensor) -> torch.Tensor:
        """The input ``x`` with ``forward(x)[0] == y``."""
        s, t = self._shift_scale(y * self.mask)
        return (y - t) * torch.exp(-s)


class RealNVP(nn.Module):
    r"""A stack of :class:`AffineCoupling` layers :math:`z = f(x)` with an exact log-determinant.

    Parameters
    ----------
    dim : int
        Dimension :math:`D` of the (flattened) inputs.
    n_couplings : int
        Number of coupling layers; masks from :func:`coupling_masks`.
    hidden : int
        Width of each coupling's network.
    seed : int
        Seeds the initial weights.
    device, dtype
        Where and in which floating type the parameters live.

    Notes
    -----
    ``forward`` and ``inverse`` check their inputs: a tensor of the wrong shape or holding NaN or
    infinities raises a :class:`ValueError` naming it, rather than producing a NaN density.

    Examples
    --------
    >>> flow = RealNVP(6, n_couplings=4, hidden=16, seed=0)
    >>> x = torch.randn(10, 6)
    >>> z, logdet = flow(x)
    >>> torch.allclose(flow.inverse(z), x, atol=1e-5), tuple(logdet.shape)
    (True, (10,))
    """

    def __init__(self, dim: int, n_couplings: int = 4, hidden: int = 64, *, seed: int = 0, device=None,
                 dtype: torch.dtype = torch.float32):
        super().__init__()
        dev = resolve_device(device)
        masks = coupling_masks(int(dim), int(n_couplings), device=dev, dtype=dtype)
        gen = make_generator(seed)
        self.dim = int(dim)
        self.layers = nn.ModuleList(AffineCoupling(m, hidden, generator=gen, device=dev, dtype=dtype)
                                    for m in masks)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``(z, log|det dz/dx|)``, shapes ``(n, dim)`` and ``(n,)``."""
        _check_input(x, self.dim, "RealNVP.forward", "x")
        logdet = x.new_zeros(x.shape[0])
        for layer in self.layers:
            x, ld = layer(x)
            logdet = logdet + ld
        return x, logdet

    def inverse(self, z: torch.Tensor) -> torch.Tensor:
        """The inputs ``x`` with ``forward(x)[0] == z``, shape ``(n, dim)``."""
        _check_input(z, self.dim, "RealNVP.inverse", "z")
        for layer in reversed(self.layers):
            z = layer.inverse(z)
        return z

    def extra_repr(self) -> str:
        return f"dim={self.dim}, n_couplings={len(self.layers)}"
