"""Training and evaluation of the encode-process-decode model on one algorithm (CLRS protocol).

The CLRS protocol (Veličković et al., ICML 2022): train on graphs of 16 nodes, validate on 16,
test out of distribution on 64; report the per-algorithm output metric (:func:`~.losses.scores`).
:func:`fit` draws minibatches from a fixed training set of ``n_train`` recorded trajectories (CLRS
uses 1000), or fresh ones each step with ``n_train=None``.
"""
from __future__ import annotations

import time
from typing import Callable, Iterable

import numpy as np
import torch
from tqdm.auto import tqdm

from ..._utils import resolve_device
from ..common import make_optimizer
from .base import Algorithm, get_algorithm
from .batch import Batch, collate, sample_batch
from .losses import loss, scores
from .model import EncodeProcessDecode

__all__ = ["fit", "evaluate_model"]


def fit(model: EncodeProcessDecode, algorithm: str | Algorithm, *, n_nodes: int = 16, steps: int = 500,
        batch_size: int = 32, n_train: int | None = 1000, lr: float = 1e-3, teacher_forcing: float = 0.5,
        hint_weight: float = 1.0, grad_clip: float | None = 1.0, seed: int = 0, device=None,
        progress: bool = False, callback: Callable[[dict], "bool | None"] | Iterable[Callable] | None = None
        ) -> dict[str, list]:
    """Train ``model`` in place with Adam on recorded trajectories of ``algorithm``; return the history.

    Parameters
    ----------
    model : EncodeProcessDecode
        Built from ``algorithm.spec``.
    algorithm : str or Algorithm
    n_nodes : int
        Training size (CLRS: 16).
    steps, batch_size : int
    n_train : int or None
        Size of the fixed training set; None samples a fresh batch every step.
    lr : float
    teacher_forcing : float in [0, 1]
        Probability of feeding the true next hint (ignored when the model uses no hints).
    hint_weight : float
        Weight of the hint loss.
    grad_clip : float or None
        Clip the gradient norm.
    seed : int
        Seeds the training set, the minibatch order and the teacher-forcing coins.
    device
        Default: where the model's parameters are.
    progress : bool
        Show a tqdm bar.
    callback : callable or list of callables, optional
        Called after every step with ``{"step", "loss", "output_loss", "hint_loss", "model"}``;
        returning True stops training.

    Returns
    -------
    dict
        ``step``, ``loss``, ``output_loss``, ``hint_loss`` (lists) and ``seconds``.
    """
    algo = get_algorithm(algorithm)
    if list(algo.spec) != list(model.spec):
        raise ValueError(f"the model was built for another spec than {algo.name!r}'s; build it from algorithm.spec")
    if steps < 1 or batch_size < 1:
        raise ValueError(f"steps and batch_size must be positive, got steps={steps}, batch_size={batch_size}")
    param = next(model.parameters())
    device = resolve_device(device, like=param)
    model.to(device)
    rng = np.random.default_rng(seed)
    pool = [algo.trajectory(rng, algo.check_size(n_nodes)) for _ in range(n_train)] if n_train else None
    gen = torch.Generator(device=device).manual_seed(seed)
    opt = make_optimizer("adam", model.parameters(), lr=lr)
    callbacks = [] if callback is None else ([callback] if callable(callback) else list(callback))
    history: dict[str, list] = {"step": [], "loss": [], "output_loss": [], "hint_loss": []}
    start = time.perf_counter()
    model.train()
    for step in tqdm(range(steps), disable=not progress, desc=f"fit {algo.name}"):
        if pool is None:
            batch = sample_batch(algo, batch_size, n_nodes, rng=rng, device=device, dtype=param.dtype)
        else:
            idx = rng.choice(len(pool), size=min(batch_size, len(pool)), replace=False)
            batch = collate(algo, [pool[i] for i in idx], device=device, dtype=param.dtype)
        pred = model(batch, teacher_forcing=teacher_forcing if model.use_hints else 0.0, generator=gen)
        total, parts = loss(pred, batch, hint_weight=hint_weight)
        opt.zero_grad(set_to_none=True)
        total.backward()
        if grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(model.parameters(), grad_clip)
        opt.step()
        history["step"].append(step)
        history["loss"].append(float(total.detach()))
        history["output_loss"].append(parts["output"])
        history["hint_loss"].append(parts["hint"])
        info = {"step": step, "loss": history["loss"][-1], "output_loss": parts["output"],
                "hint_loss": parts["hint"], "model": model}
        if any(cb(info) for cb in callbacks):
            break
    history["seconds"] = time.perf_counter() - start
    model.eval()
    return history


def evaluate_model(model: EncodeProcessDecode, data: Batch | str | Algorithm, *, n_nodes: int = 64,
                   n_samples: int = 64, batch_size: int = 32, seed: int = 1) -> dict[str, float]:
    """CLRS output metrics of ``model`` (predicted hints fed back, no teacher forcing).

    Parameters
    ----------
    model : EncodeProcessDecode
    data : Batch, or an algorithm (name or object)
        A batch to score, or the algorithm to draw ``n_samples`` test problems of ``n_nodes`` nodes
        from (seeded by ``seed``; in chunks of ``batch_size``).

    Returns
    -------
    dict
        Metric per output feature and ``"score"`` (averaged over the test problems, weighted by chunk size).
    """
    param = next(model.parameters())
    batches = [data] if isinstance(data, Batch) else None
    if batches is None:
        algo = get_algorithm(data)
        rng = np.random.default_rng(seed)
        sizes = [min(batch_size, n_samples - i) for i in range(0, n_samples, batch_size)]
        batches = [sample_batch(algo, s, n_nodes, rng=rng, device=param.device, dtype=param.dtype) for s in sizes]
    was_training = model.training
    model.eval()
    total: dict[str, float] = {}
    count = 0
    with torch.no_grad():
        for b in batches:
            res = scores(model(b), b)
            for k, v in res.items():
                total[k] = total.get(k, 0.0) + v * b.size
            count += b.size
    model.train(was_training)
    return {k: v / count for k, v in total.items()}
