"""Batched, seeded augmentations for small grey images ``(n, c, h, w)`` and signals ``(n, c, length)``.

Each augmentation is an ``nn.Module`` whose ``forward(x, generator=None)`` draws its random
parameters per sample from ``generator`` (a CPU ``torch.Generator``; the global stream is used when
``None``), so a seeded :func:`~neurolatent.methods.ssl.pretrain` is reproducible. They compose with
:class:`Compose`; :func:`make_augment` turns names into objects once, at the boundary
(:data:`AUGMENTATIONS` lists the names).
"""
from __future__ import annotations

import math
from typing import Callable, Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

__all__ = [
    "Augmentation", "RandomResizedCrop", "Flip", "GaussianNoise", "GaussianBlur", "ContrastJitter", "Compose",
    "AUGMENTATIONS", "make_augment", "default_augment",
]


def _spatial(x: torch.Tensor, where: str) -> int:
    if x.dim() not in (3, 4):
        raise ValueError(f"{where} expects a batch of signals (n, c, length) or images (n, c, h, w), "
                         f"got a tensor of shape {tuple(x.shape)}")
    return x.dim() - 2


def _uniform(n: int, lo: float, hi: float, generator, like: torch.Tensor) -> torch.Tensor:
    u = torch.rand(n, generator=generator, dtype=torch.float64)
    return (lo + (hi - lo) * u).to(device=like.device, dtype=like.dtype)


def _batch(x: torch.Tensor, where: str) -> None:
    if x.dim() < 2:
        raise ValueError(f"{where} expects a batch (n, ...) of at least 2 dimensions, got shape {tuple(x.shape)}")


def _apply_with_p(x: torch.Tensor, out: torch.Tensor, p: float, generator) -> torch.Tensor:
    if p >= 1.0:
        return out
    keep = (torch.rand(x.shape[0], generator=generator) < p).to(x.device)
    return torch.where(keep.reshape(-1, *([1] * (x.dim() - 1))), out, x)


class Augmentation(nn.Module):
    """Base class: ``forward(x, generator=None)`` returns an augmented copy of the batch ``x``."""

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError


class RandomResizedCrop(Augmentation):
    r"""Crop a random box of area fraction ``scale`` and aspect ``ratio``, resize it to ``size`` (bilinear).

    Per sample: area fraction :math:`a \sim U(\text{scale})`, log-aspect :math:`\log r \sim
    U(\log \text{ratio})`, box sides :math:`w = \min(1, \sqrt{a r})`, :math:`h = \min(1, \sqrt{a/r})`
    of the image, centre uniform among the boxes that fit. For signals only the length is cropped
    (:math:`w = a`). Resampling uses ``grid_sample`` with border padding.

    Parameters
    ----------
    scale : (float, float)
        Range of the area (signals: length) fraction, within ``(0, 1]``.
    ratio : (float, float)
        Range of the aspect ratio ``w / h`` (images only).
    size : int or tuple, optional
        Output spatial size (default: the input's). ReLICv2's small crops use a smaller size.

    Examples
    --------
    >>> crop = RandomResizedCrop((0.5, 1.0), size=8)
    >>> crop(torch.randn(3, 1, 16, 16), torch.Generator().manual_seed(0)).shape
    torch.Size([3, 1, 8, 8])
    """

    def __init__(self, scale: tuple[float, float] = (0.3, 1.0), ratio: tuple[float, float] = (3 / 4, 4 / 3),
                 size: int | Sequence[int] | None = None):
        super().__init__()
        if not 0.0 < scale[0] <= scale[1] <= 1.0:
            raise ValueError(f"scale must satisfy 0 < lo <= hi <= 1, got {scale}")
        if not 0.0 < ratio[0] <= ratio[1]:
            raise ValueError(f"ratio must satisfy 0 < lo <= hi, got {ratio}")
        self.scale, self.ratio, self.size = tuple(scale), tuple(ratio), size

    def forward(self, x, generator=None):
        nd = _spatial(x, "RandomResizedCrop")
        n = x.shape[0]
        a = _uniform(n, *self.scale, generator, x)
        if nd == 1:
            w, h = a, torch.ones_like(a)
        else:
            logr = _uniform(n, math.log(self.ratio[0]), math.log(self.ratio[1]), generator, x)
            w = torch.sqrt(a * logr.exp()).clamp(max=1.0)
            h = torch.sqrt(a / logr.exp()).clamp(max=1.0)
        cx = (1 - w) * (2 * _uniform(n, 0, 1, generator, x) - 1)
        cy = (1 - h) * (2 * _uniform(n, 0, 1, generator, x) - 1) if nd == 2 else torch.zeros_like(a)
        zero = torch.zeros_like(a)
        theta = torch.stack([torch.stack([w, zero, cx], 1), torch.stack([zero, h, cy], 1)], 1)
        img = x if nd == 2 else x.unsqueeze(2)
        if self.size is None:
            out_hw = img.shape[2:]
        else:
            size = (self.size,) * nd if isinstance(self.size, int) else tuple(self.size)
            out_hw = size if nd == 2 else (1, size[-1])
        grid = F.affine_grid(theta, [n, img.shape[1], *out_hw], align_corners=False)
        out = F.grid_sample(img, grid, mode="bilinear", padding_mode="border", align_corners=False)
        return out if nd == 2 else out.squeeze(2)


class Flip(Augmentation):
    """Reverse the last axis (``axis=-1``: horizontal flip; ``axis=-2``: vertical, images only) with probability ``p``.

    Examples
    --------
    >>> x = torch.arange(4.0).reshape(1, 1, 4)
    >>> Flip(p=1.0)(x)
    tensor([[[3., 2., 1., 0.]]])
    """

    def __init__(self, p: float = 0.5, axis: int = -1):
        super().__init__()
        if axis not in (-1, -2):
            raise ValueError(f"axis must be -1 (horizontal) or -2 (vertical), got {axis}")
        self.p, self.axis = float(p), axis

    def forward(self, x, generator=None):
        nd = _spatial(x, "Flip")
        if self.axis == -2 and nd == 1:
            raise ValueError("a vertical flip (axis=-2) needs images (n, c, h, w); got signals (n, c, length)")
        return _apply_with_p(x, x.flip(self.axis), self.p, generator)


class GaussianNoise(Augmentation):
    """Add i.i.d. Gaussian noise of standard deviation ``std`` (in the data's units) with probability ``p``.

    Works on any batch ``(n, ...)``, flat feature vectors included.
    """

    def __init__(self, std: float = 0.2, p: float = 1.0):
        super().__init__()
        if std < 0:
            raise ValueError(f"std must be non-negative, got {std}")
        self.std, self.p = float(std), float(p)

    def forward(self, x, generator=None):
        _batch(x, "GaussianNoise")
        noise = torch.randn(x.shape, generator=generator, dtype=torch.float64).to(x.device, x.dtype)
        return _apply_with_p(x, x + self.std * noise, self.p, generator)


class GaussianBlur(Augmentation):
    r"""Separable Gaussian blur with per-sample width :math:`\sigma \sim U(\text{sigma})` pixels, probability ``p``.

    The kernel has ``2 * ceil(2 * sigma_max) + 1`` taps, normalised to sum 1; borders are reflected.
    """

    def __init__(self, sigma: tuple[float, float] = (0.1, 1.0), p: float = 0.5):
        super().__init__()
        if not 0.0 < sigma[0] <= sigma[1]:
            raise ValueError(f"sigma must satisfy 0 < lo <= hi, got {sigma}")
        self.sigma, self.p = tuple(sigma), float(p)

    def forward(self, x, generator=None):
        nd = _spatial(x, "GaussianBlur")
        n, c = x.shape[:2]
        half = int(math.ceil(2 * self.sigma[1]))
        s = _uniform(n, *self.sigma, generator, x)
        taps = torch.arange(-half, half + 1, device=x.device, dtype=x.dtype)
        k = torch.exp(-0.5 * (taps[None] / s[:, None]) ** 2)
        k = (k / k.sum(1, keepdim=True)).repeat_interleave(c, 0)  # (n * c, taps)
        out = x.reshape(1, n * c, *x.shape[2:])
        for axis in range(nd):
            shape = [n * c, 1] + [1] * nd
            shape[2 + axis] = 2 * half + 1
            pad = [0, 0] * nd
            pad[2 * (nd - 1 - axis)] = pad[2 * (nd - 1 - axis) + 1] = half
            padded = F.pad(out, pad, mode="reflect")
            conv = F.conv1d if nd == 1 else F.conv2d
            out = conv(padded, k.reshape(shape), groups=n * c)
        return _apply_with_p(x, out.reshape(x.shape), self.p, generator)


class ContrastJitter(Augmentation):
    r"""Grey-level colour jitter: :math:`x' = \bar x + c\,(x - \bar x) + b\,\sigma_x` with probability ``p``.

    :math:`\bar x, \sigma_x` are each sample's mean and standard deviation; contrast
    :math:`c \sim U(1-\text{contrast}, 1+\text{contrast})`, brightness
    :math:`b \sim U(-\text{brightness}, \text{brightness})`. Works on any batch ``(n, ...)``.
    """

    def __init__(self, brightness: float = 0.4, contrast: float = 0.4, p: float = 0.8):
        super().__init__()
        if brightness < 0 or not 0 <= contrast < 1:
            raise ValueError(f"need brightness >= 0 and 0 <= contrast < 1, got {brightness}, {contrast}")
        self.brightness, self.contrast, self.p = float(brightness), float(contrast), float(p)

    def forward(self, x, generator=None):
        _batch(x, "ContrastJitter")
        n = x.shape[0]
        dims = tuple(range(1, x.dim()))
        mean = x.mean(dims, keepdim=True)
        sd = x.std(dims, keepdim=True)
        shape = (n,) + (1,) * (x.dim() - 1)
        c = _uniform(n, 1 - self.contrast, 1 + self.contrast, generator, x).reshape(shape)
        b = _uniform(n, -self.brightness, self.brightness, generator, x).reshape(shape)
        return _apply_with_p(x, mean + c * (x - mean) + b * sd, self.p, generator)


class Compose(Augmentation):
    """Apply augmentations in order (each given the same generator)."""

    def __init__(self, steps: Sequence[Augmentation | Callable]):
        super().__init__()
        self.steps = list(steps)
        for i, s in enumerate(self.steps):
            if isinstance(s, nn.Module):
                self.add_module(str(i), s)

    def forward(self, x, generator=None):
        for step in self.steps:
            x = step(x, generator)
        return x


#: Augmentation names understood by :func:`make_augment`.
AUGMENTATIONS: dict[str, Callable[..., Augmentation]] = {
    "crop": RandomResizedCrop,
    "hflip": lambda **kw: Flip(axis=-1, **kw),
    "vflip": lambda **kw: Flip(axis=-2, **kw),
    "noise": GaussianNoise,
    "blur": GaussianBlur,
    "contrast": ContrastJitter,
}


def make_augment(spec: str | Augmentation | Callable | Sequence | Mapping[str, Mapping] | None) -> Augmentation:
    """An augmentation pipeline from names, objects, or ``{name: kwargs}``.

    Parameters
    ----------
    spec : str, Augmentation, callable, sequence of those, mapping, or None
        ``"crop"`` or ``["crop", "noise"]`` (defaults of each), ``{"crop": {"scale": (0.5, 1)}}``,
        augmentation objects, or any callable ``f(x, generator) -> x``. ``None`` is the identity.
        Names: :data:`AUGMENTATIONS`.

    Raises
    ------
    ValueError
        An unknown name (the message lists the known ones).

    Examples
    --------
    >>> aug = make_augment(["crop", {"noise": {"std": 0.1}}])
    >>> aug(torch.randn(2, 1, 8, 8), torch.Generator().manual_seed(0)).shape
    torch.Size([2, 1, 8, 8])
    """
    if spec is None:
        return Compose([])
    if isinstance(spec, Compose):
        return spec
    if isinstance(spec, (Augmentation, nn.Module)) or (callable(spec) and not isinstance(spec, str)):
        return Compose([spec])
    if isinstance(spec, str):
        if spec not in AUGMENTATIONS:
            raise ValueError(f"unknown augmentation {spec!r}; choose from {sorted(AUGMENTATIONS)} "
                             "or pass an Augmentation object / a callable f(x, generator)")
        return Compose([AUGMENTATIONS[spec]()])
    if isinstance(spec, Mapping):
        steps = []
        for name, kwargs in spec.items():
            if name not in AUGMENTATIONS:
                raise ValueError(f"unknown augmentation {name!r}; choose from {sorted(AUGMENTATIONS)}")
            steps.append(AUGMENTATIONS[name](**dict(kwargs or {})))
        return Compose(steps)
    steps = []
    for item in spec:
        steps.extend(make_augment(item).steps)
    return Compose(steps)


def default_augment(ndim: int = 2, *, strength: float = 1.0) -> Compose:
    """The augmentations used by this family's examples: crop, flip (images), blur, contrast, noise.

    ``strength`` scales the noise, jitter and crop range (``1`` = the defaults below).
    ``ndim`` is 2 for images and 1 for signals.
    """
    if ndim not in (1, 2):
        raise ValueError(f"ndim must be 1 (signals) or 2 (images), got {ndim}")
    lo = max(0.05, 1.0 - 0.7 * strength)
    steps: list[Augmentation] = [RandomResizedCrop((lo, 1.0))]
    if ndim == 2:
        steps.append(Flip(0.5, -1))
    steps += [GaussianBlur((0.1, 1.0), 0.5), ContrastJitter(0.4 * strength, min(0.9, 0.4 * strength), 0.8),
              GaussianNoise(0.2 * strength)]
    return Compose(steps)
