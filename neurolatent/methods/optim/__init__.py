"""Second-order and memory-augmented optimisers (``nl.methods.optim``).

* :class:`KFAC`, :class:`FOOF` -- Kronecker-factored curvature from layer hooks (Benzing 2022).
* :class:`ExactNaturalGradient`, :func:`fisher_matrix`, :func:`fisher_vector_product` -- exact
  Fisher / Gauss-Newton on small networks through ``torch.func``.
* :class:`RLLC` -- retrospective learning-law correction over linear memory units (Szegedy et al.).
* :class:`FishLeg` -- learned Kronecker-structured inverse Fisher (Garcia et al.), exposing Q.
* :class:`GaussNewton`, :func:`gauss_newton_kernel` -- exact (Moore-Penrose) Gauss-Newton for squared error
  from layer-wise Gram matrices, without forming the Jacobian.
* :class:`ReversibleMLP`, :func:`exact_gauss_newton`, :func:`onehot_mse` -- exact Gauss-Newton in
  additive-coupling reversible networks (Buffelli et al. 2024).

Checkpointing: ``state_dict()`` of KFAC/FOOF (Kronecker factors, step counter, sampled-Fisher generator),
FishLeg (Q's factors, auxiliary Adam, probe generator) and RLLC (the law) holds everything needed for a
fresh optimiser to continue identically after ``load_state_dict``.

Non-finite gradients: every optimiser takes ``nonfinite="skip"`` (default: skip the whole step with a
``RuntimeWarning``) or ``"raise"`` (``FloatingPointError``). ``damping <= 0`` raises ``ValueError``;
layers that own parameters but are not supported raise ``TypeError`` naming the layer type.
"""
from .fishleg import FishLeg
from .gauss_newton import GaussNewton, gauss_newton_kernel
from .kfac import FOOF, KFAC
from .natural_gradient import ExactNaturalGradient, fisher_matrix, fisher_vector_product
from .reversible import ReversibleMLP, exact_gauss_newton, onehot_mse
from .rllc import RLLC

__all__ = [
    "KFAC",
    "FOOF",
    "ExactNaturalGradient",
    "fisher_matrix",
    "fisher_vector_product",
    "RLLC",
    "FishLeg",
    "GaussNewton",
    "gauss_newton_kernel",
    "ReversibleMLP",
    "exact_gauss_newton",
    "onehot_mse",
]
