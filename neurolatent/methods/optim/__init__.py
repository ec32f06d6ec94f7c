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

Copies and pickles: the optimisers attach their layer/batch hooks to the model through weak references
(``_base.OwnedHook``); ``copy.deepcopy(model)`` or pickling the model yields a model whose copies of those
hooks are inert, so a snapshot trains with any optimiser (plain SGD or a fresh one of the same kind) and
the original optimiser keeps stepping its own model. The hooks are removed when the optimiser is collected.
Batch recorders (ExactNaturalGradient, FishLeg, GaussNewton) record only the user's training-mode forward
passes, never the optimiser's own re-runs of the model inside ``torch.func`` transforms.

A second ``step()`` without a new forward/backward pass: :class:`GaussNewton` raises ``RuntimeError`` (its
step needs the output gradient of a fresh backward pass); the others step again with the gradients still
in ``.grad`` -- ExactNaturalGradient and FishLeg on the last recorded batch (the Fisher recomputed at the
new parameters), KFAC/FOOF with their current factors (no new statistics), RLLC with its memory updated
by the same gradient -- as ``torch.optim.SGD`` repeats its update.

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
