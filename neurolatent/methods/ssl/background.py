"""Background augmentations (Ryali, Schwab & Morcos 2021, "Characterizing and improving the robustness
of self-supervised learning through background augmentations").

The foreground of every :class:`~neurolatent.methods.ssl.TexturedDigits` image is known, so a view's
background can be replaced:

* **BG_RM** -- the background is removed (a constant, ``background = 0``) with probability ``p``;
* **BG_Random** -- the background is a random patch of a training texture with probability ``p``;
* **BG_Swaps** -- a contrastive loss whose positive keeps the anchor's foreground on a *different*
  background and which adds one extra negative per anchor: a *different* foreground on the anchor's
  *own* background (:class:`BGSwaps`).

The augmentations read their foreground and background from extra input channels, so the shared
:func:`~neurolatent.methods.ssl.pretrain` loop is used unchanged: :func:`with_foreground` stacks
``(image, alpha, background)`` as three channels and the augmentation returns one-channel images.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from .augment import Augmentation, make_augment
from .data import TexturedDigits, texture_patches
from .losses import SSLLoss, check_views

__all__ = ["BG_MODES", "with_foreground", "recover_background", "BackgroundAugment", "BGSwaps",
           "train_texture_names"]

#: Modes of :class:`BackgroundAugment`: ``"remove"`` (BG_RM), ``"random"`` (BG_Random).
BG_MODES = ("remove", "random")


def recover_background(data: TexturedDigits, split: str = "train") -> torch.Tensor:
    r"""The texture patch :math:`b` behind each image, recovered from the composite.

    From :math:`x s + m = \alpha + (1-\alpha) c\, b`, :math:`b = (x s + m - \alpha)/((1-\alpha) c)`
    wherever :math:`\alpha < 0.95`; under the digit (:math:`\alpha \ge 0.95`, where the background is
    barely visible) it is filled with the mean of the image's visible background.

    Returns
    -------
    Tensor, shape ``(n, 1, size, size)``, values clipped to ``[0, 1]``.
    """
    if not isinstance(data, TexturedDigits):
        raise TypeError(f"data must be a TexturedDigits (textured_digits(...)), got {type(data).__name__}")
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    x = data.x_train if split == "train" else data.x_test
    a = (data.alpha_train if split == "train" else data.alpha_test).to(x.dtype)
    raw = x * data.std + data.mean
    visible = a < 0.95
    b = torch.where(visible, (raw - a) / ((1 - a).clamp_min(0.05) * data.contrast), torch.zeros_like(x))
    b = b.clamp(0, 1)
    fill = (b * visible).sum((1, 2, 3), keepdim=True) / visible.sum((1, 2, 3), keepdim=True).clamp_min(1)
    return torch.where(visible, b, fill.expand_as(b))


def with_foreground(data: TexturedDigits, split: str = "train") -> torch.Tensor:
    """Stack ``(image, alpha, background)`` as channels ``(n, 3, size, size)``: the input that
    :class:`BackgroundAugment` and :class:`BGSwaps` expect from :func:`pretrain`.

    Examples
    --------
    >>> from neurolatent.methods.ssl import textured_digits
    >>> d = textured_digits(16, textures=("brick",), test_fraction=0.5)
    >>> with_foreground(d).shape
    torch.Size([899, 3, 16, 16])
    """
    x = data.x_train if split == "train" else data.x_test
    a = data.alpha_train if split == "train" else data.alpha_test
    return torch.cat([x, a.to(x.dtype), recover_background(data, split)], 1)


def train_texture_names(data: TexturedDigits) -> tuple[str, ...]:
    """Names of the textures that occur in the training split (the held-out ones excluded)."""
    used = sorted(set(int(t) for t in data.texture_train.unique()))
    return tuple(data.textures[i] for i in used)


def _split_channels(x: torch.Tensor, where: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(f"{where} expects images stacked with their foreground and background, shape "
                         f"(n, 3, h, w) from with_foreground(data); got shape {tuple(x.shape)}")
    return x[:, :1], x[:, 1:2], x[:, 2:3]


class _Composer(torch.nn.Module):
    """Holds the compositing constants and a bank of training-texture backgrounds."""

    def __init__(self, data: TexturedDigits, n_backgrounds: int, seed: int):
        super().__init__()
        if not isinstance(data, TexturedDigits):
            raise TypeError(f"background augmentations need a TexturedDigits (with its foreground), "
                            f"got {type(data).__name__}")
        if n_backgrounds < 1:
            raise ValueError(f"n_backgrounds must be >= 1, got {n_backgrounds}")
        size = data.x_train.shape[-1]
        bank, _ = texture_patches(train_texture_names(data), int(n_backgrounds), size, seed=seed,
                                  dtype=data.x_train.dtype)
        self.register_buffer("bank", bank)
        self.contrast, self.mean, self.std = data.contrast, data.mean, data.std

    def composite(self, alpha: torch.Tensor, background: torch.Tensor) -> torch.Tensor:
        return (alpha + (1 - alpha) * self.contrast * background - self.mean) / self.std

    def random_backgrounds(self, n: int, generator, like: torch.Tensor) -> torch.Tensor:
        idx = torch.randint(0, self.bank.shape[0], (n,), generator=generator)
        return self.bank[idx].to(device=like.device, dtype=like.dtype)


class BackgroundAugment(Augmentation):
    r"""BG_RM / BG_Random, then the usual augmentations.

    Each sample of a ``(n, 3, h, w)`` batch from :func:`with_foreground` is, with probability ``p``,
    recomposited as :math:`(\alpha + (1-\alpha) c\, b' - m)/s` with :math:`b' = 0` (``"remove"``) or
    a random patch of a training texture (``"random"``); otherwise the original image is kept. Then
    ``augment`` is applied. The output has one channel.

    Parameters
    ----------
    data : TexturedDigits
        Provides the compositing constants and the training textures.
    mode : {"remove", "random"}
    p : float
        Probability of replacing the background (the paper uses 0.2 for BG_RM, higher for BG_Random).
    augment : anything :func:`make_augment` accepts
        Applied after the background change.
    n_backgrounds : int
        Size of the bank of random training-texture patches.
    seed : int
        Seed of the bank.

    Examples
    --------
    >>> from neurolatent.methods.ssl import textured_digits
    >>> d = textured_digits(16, textures=("brick", "grass"))
    >>> aug = BackgroundAugment(d, "remove", p=1.0)
    >>> aug(with_foreground(d)[:4], torch.Generator().manual_seed(0)).shape
    torch.Size([4, 1, 16, 16])
    """

    def __init__(self, data: TexturedDigits, mode: str = "random", p: float = 0.5, augment=None, *,
                 n_backgrounds: int = 256, seed: int = 0):
        super().__init__()
        if mode not in BG_MODES:
            raise ValueError(f"unknown background mode {mode!r}; choose from {BG_MODES} (BG_Swaps is the loss BGSwaps)")
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"p must lie in [0, 1], got {p}")
        self.mode, self.p = mode, float(p)
        self.composer = _Composer(data, n_backgrounds, seed)
        self.augment = make_augment(augment)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        img, alpha, _ = _split_channels(x, "BackgroundAugment")
        n = x.shape[0]
        if self.mode == "remove":
            bg = torch.zeros_like(img)
        else:
            bg = self.composer.random_backgrounds(n, generator, img)
        swap = (torch.rand(n, generator=generator) < self.p).to(x.device).reshape(n, 1, 1, 1)
        out = torch.where(swap, self.composer.composite(alpha, bg), img)
        return self.augment(out, generator)


class BGSwaps(SSLLoss):
    r"""BG_Swaps (Ryali et al. 2021) on SimCLR's InfoNCE.

    For each image, three views: the anchor (its own background), the positive (the same foreground
    on a random training-texture background) and a background-matched negative (the foreground of
    another image of the batch on the anchor's background). With :math:`u` the normalised rows of
    :math:`[z_a; z_+]` and :math:`w_k` the normalised negative of the sample of row :math:`k`,

    .. math:: \mathcal L = \frac{1}{2n}\sum_{k} -\log \frac{e^{u_k\cdot u_{k^+}/\tau}}
              {\sum_{l\ne k} e^{u_k\cdot u_l/\tau} + e^{u_k\cdot w_k/\tau}} .

    :func:`pretrain` must be given :func:`with_foreground` inputs; its ``augment`` is applied to every
    view after compositing. Called directly, ``loss(z1, z2, z_neg=None)`` (plain InfoNCE without
    ``z_neg``).

    Parameters
    ----------
    data : TexturedDigits
    temperature : float
    n_backgrounds, seed
        As for :class:`BackgroundAugment`.
    """

    def __init__(self, data: TexturedDigits, temperature: float = 0.2, *, n_backgrounds: int = 256, seed: int = 0):
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        self.temperature = float(temperature)
        self.composer = _Composer(data, n_backgrounds, seed)

    def make_views(self, x: torch.Tensor, augment: Callable, generator) -> list[torch.Tensor]:
        img, alpha, bg = _split_channels(x, "BGSwaps")
        n = x.shape[0]
        positive = self.composer.composite(alpha, self.composer.random_backgrounds(n, generator, img))
        shift = torch.randint(1, n, (1,), generator=generator).item()  # another sample's foreground
        negative = self.composer.composite(alpha.roll(int(shift), 0), bg)
        return [augment(img, generator), augment(positive, generator), augment(negative, generator)]

    def step_loss(self, encoder, views):
        return self(encoder(views[0]), encoder(views[1]), encoder(views[2]))

    def forward(self, z1: torch.Tensor, z2: torch.Tensor, z_neg: torch.Tensor | None = None) -> torch.Tensor:
        check_views(z1, z2, "BGSwaps")
        n = z1.shape[0]
        u = F.normalize(torch.cat([z1, z2]), dim=1)
        logits = (u @ u.T / self.temperature).masked_fill(
            torch.eye(2 * n, dtype=torch.bool, device=u.device), float("-inf"))
        if z_neg is not None:
            check_views(z1, z_neg, "BGSwaps (negative view)")
            w = F.normalize(torch.cat([z_neg, z_neg]), dim=1)
            logits = torch.cat([logits, (u * w).sum(1, keepdim=True) / self.temperature], 1)
        target = torch.cat([torch.arange(n, 2 * n), torch.arange(n)]).to(u.device)
        return F.cross_entropy(logits, target)
