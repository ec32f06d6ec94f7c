"""Small offline image data for self-supervised learning: upsampled digits and digits on real textures.

* :func:`upsampled_digits` -- scikit-learn's 8x8 digits resized (bilinear) to ``size x size`` so
  that crops and blurs have room to act;
* :func:`textured_digits` -- the same digits pasted onto patches of real grey-level textures bundled
  with scikit-image (``skimage.data``: brick, grass, gravel, ...), with the soft foreground (alpha)
  and the binary foreground mask returned, and the texture of every sample; train and test may use
  different textures (a background shift);
* :func:`texture_patches` -- random patches of those textures, e.g. to build new backgrounds.

MNIST-1D is :func:`neurolatent.methods.common.make_mnist1d`. Nothing here downloads anything: only
the textures shipped inside the scikit-image wheel (:data:`TEXTURES`) are used.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..._utils import resolve_device
from ..common import ClassificationData, load_digits

__all__ = ["TEXTURES", "upsampled_digits", "textured_digits", "texture_patches", "TexturedDigits"]

#: Grey-level images bundled with scikit-image (no download) used as backgrounds.
TEXTURES: tuple[str, ...] = ("brick", "grass", "gravel", "moon", "cell", "coins", "camera")


def upsampled_digits(size: int = 16, *, test_fraction: float = 0.25, seed: int = 0,
                     device: str | torch.device | None = None,
                     dtype: torch.dtype = torch.float32) -> ClassificationData:
    """scikit-learn's digits as ``(n, 1, size, size)`` images (bilinear upsampling of the 8x8 originals).

    The standardisation of :func:`~neurolatent.methods.common.load_digits` (training mean and
    standard deviation of the pixels) is applied before resizing.

    Parameters
    ----------
    size : int
        Output side, at least 8.
    test_fraction, seed, device, dtype
        As for :func:`~neurolatent.methods.common.load_digits`.

    Examples
    --------
    >>> d = upsampled_digits(16)
    >>> d.x_train.shape, d.name
    (torch.Size([1348, 1, 16, 16]), 'digits16')
    """
    if int(size) < 8:
        raise ValueError(f"size must be at least 8 (the digits are 8x8), got {size}")
    d = load_digits(test_fraction=test_fraction, seed=seed, image=True, device=device, dtype=dtype)
    up = lambda x: F.interpolate(x, size=(int(size), int(size)), mode="bilinear", align_corners=False)  # noqa: E731
    return replace(d, x_train=up(d.x_train), x_test=up(d.x_test), name=f"digits{int(size)}")


@dataclass(frozen=True)
class TexturedDigits(ClassificationData):
    r"""Digits composited onto textures, with their foreground.

    Every image is :math:`x = (\alpha \cdot 1 + (1-\alpha)\, c\, b - m)/s`: the digit's soft
    foreground :math:`\alpha \in [0, 1]` drawn in white over a texture patch :math:`b \in [0, 1]`
    dimmed by ``contrast`` :math:`c`, then standardised by the scalar training mean :math:`m` and
    standard deviation :math:`s`. :meth:`composite` rebuilds an image from any foreground and
    background this way.

    Attributes
    ----------
    alpha_train, alpha_test : Tensor, shape ``(n, 1, size, size)``
        Soft foreground in ``[0, 1]``.
    texture_train, texture_test : Tensor, shape ``(n,)``, int64
        Index into :attr:`textures` of each sample's background.
    textures : tuple of str
        Names of the textures used (train ones first, then held-out test ones).
    contrast, mean, std : float
        The compositing constants above.
    """

    alpha_train: torch.Tensor | None = None
    alpha_test: torch.Tensor | None = None
    texture_train: torch.Tensor | None = None
    texture_test: torch.Tensor | None = None
    textures: tuple[str, ...] = ()
    contrast: float = 0.6
    mean: float = 0.0
    std: float = 1.0

    @property
    def mask_train(self) -> torch.Tensor:
        """Binary foreground mask ``alpha_train > 0.5``, shape ``(n, 1, size, size)``."""
        return self.alpha_train > 0.5

    @property
    def mask_test(self) -> torch.Tensor:
        """Binary foreground mask ``alpha_test > 0.5``."""
        return self.alpha_test > 0.5

    def composite(self, alpha: torch.Tensor, background: torch.Tensor) -> torch.Tensor:
        r"""Standardised image :math:`(\alpha + (1-\alpha) c\, b - m)/s` from a foreground and a background.

        ``background`` in ``[0, 1]`` (e.g. from :func:`texture_patches`, or zeros to remove it),
        broadcastable to ``alpha``.
        """
        if alpha.shape[-2:] != background.shape[-2:]:
            raise ValueError(f"alpha has spatial shape {tuple(alpha.shape[-2:])} but background "
                             f"{tuple(background.shape[-2:])}; they must match")
        return (alpha + (1 - alpha) * self.contrast * background - self.mean) / self.std

    def to(self, device: str | torch.device | None = None, dtype: torch.dtype | None = None) -> "TexturedDigits":
        """A copy on ``device`` (inputs and alphas cast to ``dtype`` when given)."""
        base = ClassificationData.to(self, device, dtype)
        dev = base.x_train.device
        return replace(base, alpha_train=self.alpha_train.to(dev, dtype=dtype or self.alpha_train.dtype),
                       alpha_test=self.alpha_test.to(dev, dtype=dtype or self.alpha_test.dtype),
                       texture_train=self.texture_train.to(dev), texture_test=self.texture_test.to(dev))


def _load_texture(name: str, downscale: int) -> np.ndarray:
    """A bundled scikit-image grey image in ``[0, 1]``, block-averaged by ``downscale``."""
    if name not in TEXTURES:
        raise ValueError(f"unknown texture {name!r}; choose from {TEXTURES} (images bundled with scikit-image)")
    try:
        import skimage.data
    except ImportError as err:
        raise ImportError("textured digits need scikit-image (its textures ship with the wheel, nothing "
                          "downloads): pip install 'neurolatent[ssl]'  (or: pip install scikit-image)") from err
    img = np.asarray(getattr(skimage.data, name)(), dtype=np.float64)
    if img.ndim == 3:
        img = img[..., :3].mean(-1)
    h, w = (img.shape[0] // downscale) * downscale, (img.shape[1] // downscale) * downscale
    img = img[:h, :w].reshape(h // downscale, downscale, w // downscale, downscale).mean((1, 3))
    lo, hi = np.percentile(img, 1), np.percentile(img, 99)
    return np.clip((img - lo) / max(hi - lo, 1e-12), 0.0, 1.0)


def _patches(names: Sequence[str], which: np.ndarray, size: int, rng: np.random.Generator,
             downscale: int) -> np.ndarray:
    out = np.empty((len(which), size, size))
    images = [_load_texture(n, downscale) for n in names]
    for i, t in enumerate(which):
        img = images[t]
        r = rng.integers(0, img.shape[0] - size + 1)
        c = rng.integers(0, img.shape[1] - size + 1)
        out[i] = img[r:r + size, c:c + size]
    return out


def texture_patches(names: Sequence[str], n: int, size: int = 24, *, seed: int = 0, downscale: int = 4,
                    device: str | torch.device | None = None, dtype: torch.dtype = torch.float32
                    ) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` random ``size x size`` patches of the named textures, values in ``[0, 1]``.

    Each texture is block-averaged by ``downscale`` (so that its structure is visible at the scale
    of a small digit) and its 1st-99th percentile range mapped to ``[0, 1]``. The texture of each
    patch is drawn uniformly.

    Returns
    -------
    patches : Tensor, shape ``(n, 1, size, size)``
    which : Tensor, shape ``(n,)``, int64
        Index into ``names`` of each patch's texture.

    Examples
    --------
    >>> p, t = texture_patches(("brick", "grass"), 4, 16, seed=0)
    >>> p.shape, bool(p.min() >= 0) and bool(p.max() <= 1)
    (torch.Size([4, 1, 16, 16]), True)
    """
    if len(names) == 0:
        raise ValueError(f"names must list at least one texture from {TEXTURES}")
    rng = np.random.default_rng(seed)
    which = rng.integers(0, len(names), size=int(n))
    p = _patches(list(names), which, int(size), rng, int(downscale))
    dev = resolve_device(device)
    return (torch.as_tensor(p[:, None], dtype=dtype, device=dev),
            torch.as_tensor(which, dtype=torch.int64, device=dev))


def textured_digits(size: int = 24, *, textures: Sequence[str] = ("brick", "grass", "gravel"),
                    test_textures: Sequence[str] | None = None, contrast: float = 0.6, downscale: int = 4,
                    test_fraction: float = 0.25, seed: int = 0, device: str | torch.device | None = None,
                    dtype: torch.dtype = torch.float32) -> TexturedDigits:
    r"""Digits pasted onto real textures, with the foreground returned.

    The 8x8 digits (intensities :math:`[0, 16]`) are upsampled bilinearly to ``size`` and scaled to
    the soft foreground :math:`\alpha \in [0, 1]`; the background of each image is a random patch of
    one of ``textures`` (:func:`texture_patches`), and the image is composited and standardised as
    described in :class:`TexturedDigits`.

    Parameters
    ----------
    size : int
        Image side (at least 8).
    textures : sequence of str
        Backgrounds of the training split (and of the test split unless ``test_textures`` is given).
    test_textures : sequence of str, optional
        Held-out backgrounds of the test split: a background shift.
    contrast : float
        Brightness of the background relative to the white digit, in ``(0, 1]``.
    downscale, test_fraction, seed, device, dtype
        Texture block-averaging factor; the split and the random patches' seed; where and in
        which type to put the tensors.

    Examples
    --------
    >>> d = textured_digits(16, seed=0)
    >>> d.x_train.shape, d.mask_train.dtype, d.textures
    (torch.Size([1348, 1, 16, 16]), torch.bool, ('brick', 'grass', 'gravel'))
    """
    size = int(size)
    if size < 8:
        raise ValueError(f"size must be at least 8 (the digits are 8x8), got {size}")
    if not 0.0 < contrast <= 1.0:
        raise ValueError(f"contrast must lie in (0, 1], got {contrast}")
    textures = tuple(textures)
    test_textures = tuple(test_textures) if test_textures is not None else None
    if len(textures) == 0 or (test_textures is not None and len(test_textures) == 0):
        raise ValueError(f"textures and test_textures must each name at least one of {TEXTURES}")
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must lie in (0, 1), got {test_fraction}")
    try:
        from sklearn.datasets import load_digits as _sk_load_digits
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("textured_digits needs scikit-learn: pip install 'neurolatent[methods]'") from err
    bunch = _sk_load_digits()
    y = bunch.target.astype(np.int64)
    perm = np.random.default_rng(seed).permutation(len(y))  # the same split as load_digits(seed=seed)
    n_test = int(round(test_fraction * len(y)))
    te, tr = perm[:n_test], perm[n_test:]
    small = torch.as_tensor(bunch.data.reshape(-1, 1, 8, 8) / 16.0, dtype=torch.float64)
    alpha = F.interpolate(small, size=(size, size), mode="bilinear", align_corners=False).clamp(0, 1).numpy()
    all_names = textures + tuple(t for t in (test_textures or ()) if t not in textures)
    rng = np.random.default_rng([seed, 1])
    which_tr = rng.integers(0, len(textures), size=len(tr))
    test_idx = [all_names.index(t) for t in (test_textures or textures)]
    which_te = np.asarray(test_idx)[rng.integers(0, len(test_idx), size=len(te))]
    bg_tr = _patches(all_names, which_tr, size, rng, int(downscale))[:, None]
    bg_te = _patches(all_names, which_te, size, rng, int(downscale))[:, None]
    raw_tr = alpha[tr] + (1 - alpha[tr]) * contrast * bg_tr
    raw_te = alpha[te] + (1 - alpha[te]) * contrast * bg_te
    mean, std = float(raw_tr.mean()), float(raw_tr.std())
    dev = resolve_device(device)
    t = lambda a, dt=dtype: torch.as_tensor(np.ascontiguousarray(a), dtype=dt, device=dev)  # noqa: E731
    name = f"textured-digits{size}" + (f"/test:{'+'.join(test_textures)}" if test_textures else "")
    return TexturedDigits(
        t((raw_tr - mean) / std), t(y[tr], torch.int64), t((raw_te - mean) / std), t(y[te], torch.int64), 10, name,
        alpha_train=t(alpha[tr]), alpha_test=t(alpha[te]), texture_train=t(which_tr, torch.int64),
        texture_test=t(which_te, torch.int64), textures=all_names, contrast=float(contrast), mean=mean, std=std)
