"""Supporting learning methods from recent papers, one subpackage per family.

- :mod:`neurolatent.methods.common`: the shared harness (offline datasets, small models with
  permutation specs, a training loop, evaluation, linear CKA);
- :mod:`neurolatent.methods.rebasin`: permutation matching, linear mode connectivity, mode
  combinability and model stitching;
- :mod:`neurolatent.methods.optim`: KFAC, FOOF, exact natural gradient, RLLC, FishLeg and exact
  Gauss-Newton in reversible networks;
- :mod:`neurolatent.methods.infotheory`: information-bottleneck theory;
- :mod:`neurolatent.methods.continual`: continual learning (EWC, SI, MAS and their Fisher link,
  KFAC-Laplace and NCL for recurrent networks);
- :mod:`neurolatent.methods.sparsity`: pruning (magnitude, OBD, OBS, FishLeg surgeon), gradual
  pruning, sparsity curves, Powerpropagation, BatchNorm-only training and IMP with rewinding;
- :mod:`neurolatent.methods.ssl`: self-supervised learning (the pretrain -> probe pipeline, augmentations,
  SimCLR/Barlow Twins/VICReg/MoCo, redundancy measures and SSLPM, ReLICv2, hard negatives).

Nothing here imports :mod:`neurolatent.models`.
"""
from . import common, continual, infotheory, optim, rebasin, sparsity
from . import ssl

__all__ = ["common", "rebasin", "optim", "infotheory", "continual", "sparsity", "ssl"]
