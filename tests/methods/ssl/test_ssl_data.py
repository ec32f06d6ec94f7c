"""Data and augmentations of ``nl.methods.ssl``: shapes, masks, seeding, and each transform's maths."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from neurolatent.methods.common import load_digits
from neurolatent.methods.ssl import (
    AUGMENTATIONS,
    ContrastJitter,
    Flip,
    GaussianBlur,
    GaussianNoise,
    RandomResizedCrop,
    default_augment,
    make_augment,
    texture_patches,
    textured_digits,
    upsampled_digits,
)


def gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_upsampled_digits_keep_split_and_labels():
    d8 = load_digits(seed=3, image=True)
    d = upsampled_digits(16, seed=3, dtype=torch.float64)
    assert d.x_train.shape == (1348, 1, 16, 16) and d.x_train.dtype == torch.float64
    assert torch.equal(d.y_train, d8.y_train) and torch.equal(d.y_test, d8.y_test)
    # Bilinear upsampling by 2 then average-pooling by 2 gives back a smoothed image whose mean
    # equals the original's mean up to border effects; check the global mean exactly-ish.
    assert abs(float(d.x_train.mean()) - float(d8.x_train.double().mean())) < 0.05  # border weights only
    with pytest.raises(ValueError, match="at least 8"):
        upsampled_digits(4)


@pytest.fixture(scope="module")
def textured():
    pytest.importorskip("skimage", reason="textured digits need scikit-image (extra 'ssl')")
    return textured_digits(16, textures=("brick", "grass"), test_textures=("gravel",), seed=1, dtype=torch.float64)


def test_textured_digits_composite_and_mask(textured):
    d = textured
    assert d.textures == ("brick", "grass", "gravel")
    assert set(d.texture_train.tolist()) == {0, 1} and set(d.texture_test.tolist()) == {2}  # background shift
    assert d.mask_train.shape == d.x_train.shape and d.mask_train.dtype == torch.bool
    assert 0.1 < float(d.mask_train.double().mean()) < 0.6  # digits cover part of the image
    # The standardisation uses the training statistics: mean 0 and sd 1 on the training images.
    assert abs(float(d.x_train.mean())) < 1e-9 and abs(float(d.x_train.std(unbiased=False)) - 1) < 1e-9
    # composite() with a white background of 1/contrast recovers a constant image under the digit's
    # complement: alpha + (1 - alpha) = 1 everywhere.
    ones = torch.full_like(d.alpha_train[:4], 1.0 / d.contrast)
    assert torch.allclose(d.composite(d.alpha_train[:4], ones), torch.full_like(ones, (1 - d.mean) / d.std))
    # Foreground pixels are bright: a masked pixel is at least alpha > 0.5 white.
    fg = d.x_train[d.mask_train] * d.std + d.mean
    assert float(fg.min()) > 0.5 - 1e-9
    # Labels and split match load_digits with the same seed.
    assert torch.equal(d.y_test, load_digits(seed=1).y_test)


def test_texture_patches_and_errors():
    pytest.importorskip("skimage", reason="textures need scikit-image (extra 'ssl')")
    p1, w1 = texture_patches(("brick", "moon"), 6, 12, seed=5)
    p2, w2 = texture_patches(("brick", "moon"), 6, 12, seed=5)
    assert torch.equal(p1, p2) and torch.equal(w1, w2) and p1.shape == (6, 1, 12, 12)
    with pytest.raises(ValueError, match="unknown texture 'lava'"):
        texture_patches(("lava",), 2)
    with pytest.raises(ValueError, match="contrast"):
        textured_digits(16, contrast=0.0)


def test_crop_full_box_is_identity_and_resizes():
    x = torch.randn(4, 1, 10, 10, dtype=torch.float64)
    # scale (1, 1) and ratio (1, 1): the box is the whole image; grid_sample at pixel centres is exact.
    out = RandomResizedCrop((1.0, 1.0), (1.0, 1.0))(x, gen())
    assert torch.allclose(out, x, atol=1e-12)
    sig = torch.randn(3, 2, 40)
    assert RandomResizedCrop((1.0, 1.0))(sig, gen()).shape == sig.shape
    assert torch.allclose(RandomResizedCrop((1.0, 1.0))(sig, gen()), sig, atol=1e-5)
    small = RandomResizedCrop((0.2, 0.4), size=5)(x, gen())
    assert small.shape == (4, 1, 5, 5)
    # A crop of a linear ramp is a linear ramp with slope = box width (in the image's coordinates).
    ramp = torch.linspace(-1, 1, 41, dtype=torch.float64).expand(2, 1, 41).contiguous()
    half = RandomResizedCrop((0.5, 0.5))(ramp, gen())
    slope = (half[:, 0, 30] - half[:, 0, 10]) / (ramp[0, 0, 30] - ramp[0, 0, 10])
    assert torch.allclose(slope, torch.full_like(slope, 0.5), atol=1e-9)  # exact for a linear signal


def test_flip_noise_blur_contrast():
    x = torch.randn(64, 1, 6, 6, dtype=torch.float64)
    f = Flip(p=0.5)(x, gen())
    flipped = torch.tensor([torch.equal(f[i], x[i].flip(-1)) for i in range(64)])
    kept = torch.tensor([torch.equal(f[i], x[i]) for i in range(64)])
    assert bool((flipped | kept).all()) and 15 < int(flipped.sum()) < 49  # Binomial(64, 0.5): ~4 sd
    with pytest.raises(ValueError, match="vertical flip"):
        Flip(axis=-2)(torch.randn(2, 1, 5))
    big = torch.zeros(20000, 1, 1, 1, dtype=torch.float64)
    noise = GaussianNoise(0.3)(big, gen())
    assert abs(float(noise.std()) - 0.3) < 0.01  # sd of the sample sd ~ 0.3 / sqrt(2 * 20000) = 0.0015
    # Blur: the kernel sums to one (constants are preserved) and a delta becomes a sampled Gaussian.
    const = torch.full((2, 1, 9, 9), 2.5, dtype=torch.float64)
    assert torch.allclose(GaussianBlur((0.8, 0.8), p=1.0)(const, gen()), const)
    delta = torch.zeros(1, 1, 15, dtype=torch.float64)
    delta[0, 0, 7] = 1.0
    out = GaussianBlur((1.0, 1.0), p=1.0)(delta, gen())[0, 0]
    taps = torch.arange(-2, 3, dtype=torch.float64)
    ref = torch.exp(-0.5 * taps ** 2)
    assert torch.allclose(out[5:10], ref / ref.sum(), atol=1e-12)
    # Contrast jitter with fixed contrast factor c and no brightness: mean kept, sd scaled by c.
    cj = ContrastJitter(brightness=0.0, contrast=0.0, p=1.0)
    assert torch.allclose(cj(x, gen()), x)
    y = ContrastJitter(brightness=0.0, contrast=0.5, p=1.0)(x, gen())
    ratio = y.std((1, 2, 3)) / x.std((1, 2, 3))
    assert torch.allclose(y.mean((1, 2, 3)), x.mean((1, 2, 3)), atol=1e-12)
    assert float(ratio.min()) >= 0.5 - 1e-12 and float(ratio.max()) <= 1.5 + 1e-12


def test_make_augment_names_seeding_and_errors():
    x = torch.randn(8, 1, 12, 12)
    a = make_augment(["crop", "hflip", {"noise": {"std": 0.1}}, "blur", "contrast"])
    assert len(a.steps) == 5
    assert torch.equal(a(x, gen(4)), a(x, gen(4)))  # the generator fixes every draw
    assert not torch.equal(a(x, gen(4)), a(x, gen(5)))
    assert torch.equal(make_augment(None)(x, gen()), x)
    with pytest.raises(ValueError, match="unknown augmentation 'rotate'.*crop"):
        make_augment("rotate")
    with pytest.raises(ValueError, match="unknown augmentation 'jitter'"):
        make_augment({"jitter": {}})
    with pytest.raises(ValueError, match=r"\(n, c, length\) or images"):
        make_augment("crop")(torch.randn(3, 4), gen())
    assert make_augment(["noise", "contrast"])(torch.randn(3, 4), gen()).shape == (3, 4)  # flat vectors
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        make_augment("noise")(torch.randn(3), gen())
    assert set(AUGMENTATIONS) >= {"crop", "hflip", "vflip", "noise", "blur", "contrast"}
    sig = torch.randn(5, 1, 40)
    assert default_augment(1)(sig, gen()).shape == sig.shape
    assert math.isfinite(float(default_augment(2)(x, gen()).sum()))
    assert np.isfinite(default_augment(2, strength=2.0)(x, gen()).numpy()).all()
