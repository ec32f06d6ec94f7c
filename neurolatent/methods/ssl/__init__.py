"""Self-supervised representation learning (``nl.methods.ssl``).

* offline data: digits upsampled, MNIST-1D (``nl.methods.common.make_mnist1d``), and digits pasted
  onto real textures bundled with scikit-image with their foreground mask (:mod:`.data`);
* batched, seeded augmentations as torch modules, by name (:mod:`.augment`);
* one loss object per method, an ``nn.Module`` taking two views' embeddings: InfoNCE/SimCLR,
  Barlow Twins, VICReg (:mod:`.losses`);
* the pipeline: :func:`pretrain`, then :func:`linear_probe` / :func:`knn_probe` on frozen
  features (:mod:`.pipeline`).

Nothing here imports :mod:`neurolatent.models`.
"""
from .augment import (
    AUGMENTATIONS,
    Augmentation,
    Compose,
    ContrastJitter,
    Flip,
    GaussianBlur,
    GaussianNoise,
    RandomResizedCrop,
    default_augment,
    make_augment,
)
from .data import TEXTURES, TexturedDigits, texture_patches, textured_digits, upsampled_digits
from .losses import BarlowTwins, InfoNCE, SSLLoss, VICReg, check_views
from .pipeline import SSLEncoder, embed, knn_probe, linear_probe, make_encoder, pretrain

__all__ = [
    "TEXTURES",
    "TexturedDigits",
    "upsampled_digits",
    "textured_digits",
    "texture_patches",
    "Augmentation",
    "RandomResizedCrop",
    "Flip",
    "GaussianNoise",
    "GaussianBlur",
    "ContrastJitter",
    "Compose",
    "AUGMENTATIONS",
    "make_augment",
    "default_augment",
    "SSLLoss",
    "check_views",
    "InfoNCE",
    "BarlowTwins",
    "VICReg",
    "SSLEncoder",
    "make_encoder",
    "pretrain",
    "embed",
    "linear_probe",
    "knn_probe",
]
