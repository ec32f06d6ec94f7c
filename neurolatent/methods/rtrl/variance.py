"""Variance of an online gradient estimator around the exact gradient, over its internal noise.

For one sequence from a task, the learner is run ``n_noise`` times (as ``n_noise`` copies of the
sequence in one batch, each drawing its own noise) and each run's recurrent-weight gradient
:math:`\\tilde g_k` is compared with the exact gradient :math:`g` (BPTT, which equals exact RTRL):

.. math::

    \\mathrm{variance} = \\frac{\\frac1K\\sum_k \\|\\tilde g_k - g\\|^2}{\\|g\\|^2}, \\qquad
    \\mathrm{bias} = \\frac{\\|\\frac1K\\sum_k \\tilde g_k - g\\|}{\\|g\\|},

the normalised mean squared error (which is the variance for an unbiased method) and the
normalised bias of the mean (:math:`O(K^{-1/2})` for an unbiased method). Benzing et al. (2019,
Fig. 2) compare UORO, KF-RTRL and OK(r) by the same quantity.
"""
from __future__ import annotations

import torch
import xarray as xr

from .base import OnlineLearner, bptt_gradient
from .tasks import SequenceTask

__all__ = ["gradient_variance"]


def gradient_variance(learner: OnlineLearner, task: SequenceTask, *, n_noise: int = 256, seed: int = 0,
                      x: torch.Tensor | None = None, y: torch.Tensor | None = None) -> xr.Dataset:
    """Normalised variance and bias of ``learner``'s gradient for one sequence of ``task``.

    Parameters
    ----------
    learner : OnlineLearner
        The estimator (its parameters are not changed; its state is reset).
    task : SequenceTask
        Source of the sequence (``task.sample(1, seed)``), unless ``x``/``y`` are given.
    n_noise : int
        Number of independent noise draws ``K`` (>= 2).
    x, y : torch.Tensor, optional
        A given sequence, ``(T, 1, n_in)`` and ``(T, 1)``.

    Returns
    -------
    xarray.Dataset
        Scalars ``variance``, ``bias``, ``grad_norm`` (of the exact gradient) and ``mean_cosine``
        (mean cosine between a single estimate and the exact gradient); attrs name the method.

    Examples
    --------
    >>> import torch
    >>> from neurolatent.methods.rtrl import CopyTask, OKRTRL, TanhCell
    >>> task = CopyTask(delay=3)
    >>> learner = OKRTRL(TanhCell(task.n_input, 8), torch.nn.Linear(8, task.n_output), r=2)
    >>> float(gradient_variance(learner, task, n_noise=16).variance) >= 0
    True
    """
    if int(n_noise) != n_noise or n_noise < 2:
        raise ValueError(f"n_noise must be an integer >= 2, got {n_noise!r}")
    if x is None or y is None:
        x, y = task.sample(1, seed=seed)
    x = x.to(learner.device, learner.dtype)
    y = y.to(learner.device)
    if x.dim() != 3 or x.shape[1] != 1:
        raise ValueError(f"x must have shape (T, 1, n_input) (one sequence), got {tuple(x.shape)}")
    exact = bptt_gradient(learner.cell, learner.readout, x, y)["cell.weight"].detach()
    K = int(n_noise)
    learner.reset(K)
    for t in range(x.shape[0]):
        learner.step(x[t].expand(K, -1), y[t].expand(K, *y.shape[2:]))
    est = learner.per_sample_gradient() * K  # the batch-mean loss weights each copy by 1/K
    norm2 = exact.pow(2).sum()
    err = (est - exact).flatten(1)
    cos = (est.flatten(1) @ exact.flatten()) / (est.flatten(1).norm(dim=1) * exact.norm()).clamp_min(1e-30)
    return xr.Dataset(
        {"variance": ((err**2).sum(1).mean() / norm2).item(),
         "bias": ((est.mean(0) - exact).norm() / exact.norm()).item(),
         "grad_norm": exact.norm().item(), "mean_cosine": cos.mean().item()},
        attrs={"method": type(learner).__name__, "rank": int(getattr(learner, "rank", 0)),
               "n_noise": K, "T": int(x.shape[0]), "task": repr(task)},
    )
