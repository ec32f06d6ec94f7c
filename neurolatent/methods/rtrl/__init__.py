"""Online gradients for recurrent networks (``nl.methods.rtrl``).

Every method is an object that consumes one time step at a time, ``step(x_t, target_t) -> loss``,
and hands back a gradient estimate, ``gradient()`` / ``set_grad()``, usable with any
``torch.optim`` optimiser, on CPU or GPU (the cell's device and dtype):

* cells with closed-form one-step Jacobians: a vanilla tanh RNN and a GRU-like gated cell
  (:mod:`.cells`); the shared interface and a BPTT reference (:mod:`.base`);
* exact real-time recurrent learning with a memory guard (:mod:`.exact`);
* UORO (Tallec & Ollivier 2017) (:mod:`.uoro`), KF-RTRL (Mujika, Meier & Steger 2018) and the
  optimal Kronecker-sum approximation OK(r) (Benzing et al. 2019) (:mod:`.kronecker`);
* truncated BPTT with horizon ``h`` as the baseline (:mod:`.tbptt`);
* generated tasks: copy / delayed recall, string memorisation, the embedded Reber grammar
  (:mod:`.tasks`); online training and evaluation (:mod:`.training`); the variance of each
  estimator around the exact gradient (:mod:`.variance`).

Nothing here imports :mod:`neurolatent.models`.
"""
from .base import OnlineLearner, bptt_gradient
from .cells import GatedCell, RecurrentCell, StepJacobians, TanhCell
from .exact import RTRL, ExactRTRLTooLarge, available_memory, rtrl_memory_bytes
from .kronecker import KFRTRL, OKRTRL, optimal_rank_reduction
from .tbptt import TBPTT
from .tasks import CopyTask, ReberGrammar, SequenceTask, StringMemorisation
from .training import evaluate_sequences, train_online
from .uoro import UORO
from .variance import gradient_variance

__all__ = [
    "RecurrentCell",
    "TanhCell",
    "GatedCell",
    "StepJacobians",
    "OnlineLearner",
    "bptt_gradient",
    "RTRL",
    "ExactRTRLTooLarge",
    "rtrl_memory_bytes",
    "available_memory",
    "UORO",
    "KFRTRL",
    "OKRTRL",
    "optimal_rank_reduction",
    "TBPTT",
    "SequenceTask",
    "CopyTask",
    "StringMemorisation",
    "ReberGrammar",
    "train_online",
    "evaluate_sequences",
    "gradient_variance",
]
