"""Self-supervised representation learning (``nl.methods.ssl``).

* offline data: digits upsampled, MNIST-1D (``nl.methods.common.make_mnist1d``), and digits pasted
  onto real textures bundled with scikit-image with their foreground mask (:mod:`.data`);
* batched, seeded augmentations as torch modules, by name (:mod:`.augment`);
* one loss object per method, an ``nn.Module`` taking two views' embeddings: InfoNCE/SimCLR,
  Barlow Twins, VICReg (:mod:`.losses`);
* MoCo (queue + momentum encoder) and contrastive instance discrimination restricted to a band of
  hard negatives (Cai et al. 2020) (:mod:`.moco`);
* ReLICv2: InfoNCE plus a KL invariance term with large and small crops (Tomasev et al. 2022)
  (:mod:`.relic`);
* redundancy measures of an embedding matrix -- average absolute correlation, pairwise redundancy,
  linear and nonlinear predictability (:mod:`.redundancy`) -- and SSLPM, the encoder-vs-predictor
  minimax (Zollikofer et al. 2024) (:mod:`.sslpm`);
* the pipeline: :func:`pretrain`, then :func:`linear_probe` / :func:`knn_probe` on frozen
  features (:mod:`.pipeline`), and :func:`compare_losses`, every method on one budget over seeds
  as an ``xarray.Dataset`` (:mod:`.compare`).
* background augmentations BG_RM, BG_Random and BG_Swaps on textured digits (Ryali et al. 2021)
  (:mod:`.background`);
* the Decodable Information Bottleneck: V-minimality by gradient reversal against nuisance heads,
  decoder generalisation and V-information estimates (Dubois et al. 2020) (:mod:`.dib`);
* reasoning-modulated representations: a bouncing-balls world rendered to pixels with its true
  states (:mod:`.physics`), a processor pre-trained on state transitions and frozen inside a
  contrastive pixel-to-latent pipeline (Veličković et al. 2021) (:mod:`.reasoning`).

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
from .background import (
    BG_MODES,
    BackgroundAugment,
    BGSwaps,
    recover_background,
    train_texture_names,
    with_foreground,
)
from .dib import DIB, decoder_generalisation, grad_reverse, nuisance_labels, train_dib, v_information
from .physics import BouncingBalls, bouncing_balls, reflect_step, render_balls, simulate_balls
from .reasoning import Processor, RMRModel, frame_pairs, pretrain_processor, state_probe, train_rmr
from .compare import MEASURES, band_losses, baseline_losses, compare_losses, rank_correlation
from .data import TEXTURES, TexturedDigits, texture_patches, textured_digits, upsampled_digits
from .losses import BarlowTwins, InfoNCE, SSLLoss, VICReg, check_views
from .moco import HardNegativeCID, MoCo
from .pipeline import SSLEncoder, embed, knn_probe, linear_probe, make_encoder, pretrain
from .redundancy import (
    MaskedPredictor,
    average_abs_correlation,
    correlation_matrix,
    linear_predictability,
    nonlinear_predictability,
    pairwise_redundancy,
    redundancy_report,
)
from .relic import ReLICv2, cross_view_kl, similarity_distributions
from .sslpm import SSLPM

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
    "MoCo",
    "HardNegativeCID",
    "ReLICv2",
    "similarity_distributions",
    "cross_view_kl",
    "SSLPM",
    "MaskedPredictor",
    "correlation_matrix",
    "average_abs_correlation",
    "pairwise_redundancy",
    "linear_predictability",
    "nonlinear_predictability",
    "redundancy_report",
    "SSLEncoder",
    "make_encoder",
    "pretrain",
    "embed",
    "linear_probe",
    "knn_probe",
    "compare_losses",
    "rank_correlation",
    "baseline_losses",
    "band_losses",
    "MEASURES",
    "BG_MODES",
    "BackgroundAugment",
    "BGSwaps",
    "recover_background",
    "train_texture_names",
    "with_foreground",
    "DIB",
    "grad_reverse",
    "nuisance_labels",
    "train_dib",
    "decoder_generalisation",
    "v_information",
    "BouncingBalls",
    "bouncing_balls",
    "reflect_step",
    "render_balls",
    "simulate_balls",
    "Processor",
    "RMRModel",
    "frame_pairs",
    "pretrain_processor",
    "state_probe",
    "train_rmr",
]
