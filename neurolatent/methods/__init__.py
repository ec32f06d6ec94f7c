"""Supporting learning methods from recent papers, one subpackage per family.

- :mod:`neurolatent.methods.common`: the shared harness (offline datasets, small models with
  permutation specs, a training loop with re-initialisation callbacks, evaluation, linear CKA);
- :mod:`neurolatent.methods.rebasin`: permutation matching, linear mode connectivity, mode
  combinability and model stitching;
- :mod:`neurolatent.methods.optim`: KFAC, FOOF, exact natural gradient, RLLC, FishLeg and exact
  Gauss-Newton in reversible networks;
- :mod:`neurolatent.methods.infotheory`: information-bottleneck theory;
- :mod:`neurolatent.methods.continual`: continual learning (EWC, SI, MAS and their Fisher link,
  KFAC-Laplace and NCL for recurrent networks; forgetting sweeps over width and depth);
- :mod:`neurolatent.methods.sparsity`: pruning (magnitude, OBD, OBS, FishLeg surgeon), gradual
  pruning, sparsity curves, Powerpropagation, BatchNorm-only training and IMP with rewinding;
- :mod:`neurolatent.methods.rtrl`: online gradients for recurrent networks (exact RTRL, UORO,
  KF-RTRL, the optimal Kronecker-sum approximation OK(r), truncated BPTT) and their tasks;
- :mod:`neurolatent.methods.algorithmic`: CLRS-style algorithm samplers with hints and the
  encode-process-decode MPNN (in- and out-of-distribution evaluation);
- :mod:`neurolatent.methods.molecular`: pre-training via denoising on 3-D molecules (RDKit conformers,
  MMFF94 forces, a SchNet-like network, the learning curve and the force-field link);
- :mod:`neurolatent.methods.ssl`: self-supervised learning (the pretrain -> probe pipeline, augmentations,
  SimCLR/Barlow Twins/VICReg/MoCo, redundancy measures and SSLPM, ReLICv2, hard negatives).

Nothing here imports :mod:`neurolatent.models`.
"""
from . import algorithmic, common, continual, infotheory, molecular, optim, rebasin, rtrl, sparsity, ssl

__all__ = [
    "common", "rebasin", "optim", "infotheory", "continual", "sparsity", "rtrl", "algorithmic", "molecular",
    "ssl",
]
