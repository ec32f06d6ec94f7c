r"""Procedurally generated cognitive tasks for recurrent networks, as sequence-classification data.

A small version of the task families of Yang, Joglekar, Song, Newsome & Wang (2019, "Task
representations in neural networks trained to perform many cognitive tasks"), used by Kao et al.
(2021, "Natural continual learning") for continual learning in RNNs. Every task shares one input
layout, so a stream of tasks can be learnt by one network:

====================  ========================================================================
input channel          meaning
====================  ========================================================================
0                      fixation: 1 until the response period, then 0
1, 2                   modality 1: :math:`c\,(\cos\theta, \sin\theta)` while a stimulus is shown
3, 4                   modality 2: same for a second stimulus stream
5 ... 9                rule: one-hot task identity (order of :data:`COGNITIVE_TASKS`), always on
====================  ========================================================================

plus i.i.d. Gaussian input noise of standard deviation ``noise``. A trial has ``n_steps`` steps
split into fixation (first 20 %), stimulus 1 (next 20 %), delay (40 %, with stimulus 2 of DMS in
its second half) and response (last 20 %). Directions are one of ``K = 8`` angles
:math:`\theta_k = 2\pi k / 8`; the label is read out at the end of the trial, one of 8 classes:

* ``"delaygo"`` -- respond to the direction of the stimulus after the delay: :math:`y = k`;
* ``"delayanti"`` -- respond opposite: :math:`y = (k + 4) \bmod 8`;
* ``"dms"`` (delayed match-to-sample) -- two stimuli separated by a delay; :math:`y = 0` if they
  point the same way, :math:`y = 1` otherwise (equal odds);
* ``"ctxdm1"``, ``"ctxdm2"`` (context-dependent decision; Mante et al. 2013) -- both modalities
  show one of the two directions :math:`0` or :math:`\pi` with coherence
  :math:`c \sim U(0.1, 0.5)`, independently; the rule says which to attend, and :math:`y \in \{0, 4\}`
  is the attended direction.

Inputs have shape ``(n, n_steps, 10)`` and labels shape ``(n,)`` (``int64`` in ``[0, 8)``), in a
:class:`~neurolatent.methods.common.ClassificationData` named ``"cognitive/<task>"``.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch

from dataclasses import replace

from ..._utils import resolve_device
from ..common.data import ClassificationData

__all__ = ["COGNITIVE_TASKS", "cognitive_task", "cognitive_tasks", "row_sequences", "N_COGNITIVE_INPUTS", "N_DIRECTIONS"]

COGNITIVE_TASKS = ("delaygo", "delayanti", "dms", "ctxdm1", "ctxdm2")
N_DIRECTIONS = 8
N_COGNITIVE_INPUTS = 5 + len(COGNITIVE_TASKS)


def _trials(name: str, n: int, n_steps: int, noise: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    x = np.zeros((n, n_steps, N_COGNITIVE_INPUTS))
    f, s1, d, r = (int(round(n_steps * q)) for q in (0.2, 0.4, 0.6, 0.8))  # period boundaries
    x[:, :r, 0] = 1.0
    x[:, :, 5 + COGNITIVE_TASKS.index(name)] = 1.0
    angle = 2 * math.pi / N_DIRECTIONS

    def show(channel: int, start: int, stop: int, theta: np.ndarray, c: np.ndarray | float = 1.0) -> None:
        x[:, start:stop, channel] = (c * np.cos(theta))[:, None]
        x[:, start:stop, channel + 1] = (c * np.sin(theta))[:, None]

    if name in ("delaygo", "delayanti"):
        k = rng.integers(0, N_DIRECTIONS, n)
        show(1, f, s1, k * angle)
        y = k if name == "delaygo" else (k + N_DIRECTIONS // 2) % N_DIRECTIONS
    elif name == "dms":
        k1 = rng.integers(0, N_DIRECTIONS, n)
        match = rng.random(n) < 0.5
        k2 = np.where(match, k1, (k1 + rng.integers(1, N_DIRECTIONS, n)) % N_DIRECTIONS)
        show(1, f, s1, k1 * angle)
        show(1, d, r, k2 * angle)
        y = np.where(match, 0, 1)
    elif name in ("ctxdm1", "ctxdm2"):
        k = rng.integers(0, 2, (n, 2)) * (N_DIRECTIONS // 2)  # direction 0 or pi in each modality
        c = rng.uniform(0.1, 0.5, (n, 2))
        show(1, f, d, k[:, 0] * angle, c[:, 0])
        show(3, f, d, k[:, 1] * angle, c[:, 1])
        y = k[:, 0] if name == "ctxdm1" else k[:, 1]
    else:  # pragma: no cover - guarded by cognitive_task
        raise AssertionError(name)
    x += noise * rng.standard_normal(x.shape)
    return x, np.asarray(y, dtype=np.int64)


def cognitive_task(name: str, n_train: int = 512, n_test: int = 256, *, n_steps: int = 20, noise: float = 0.1,
                   seed: int = 0, device: str | torch.device | None = None,
                   dtype: torch.dtype = torch.float32) -> ClassificationData:
    """One cognitive task as train/test trials (see the module docstring for the layout).

    Parameters
    ----------
    name : {"delaygo", "delayanti", "dms", "ctxdm1", "ctxdm2"}
    n_train, n_test : int
        Trials in each split.
    n_steps : int
        Time steps per trial (at least 10).
    noise : float
        Standard deviation of the input noise.
    seed : int
        Seed of the trials (the test trials are drawn after the training ones).
    device, dtype

    Returns
    -------
    ClassificationData
        ``x`` of shape ``(n, n_steps, 10)``, labels in ``[0, 8)``, ``n_classes = 8``.

    Examples
    --------
    >>> d = cognitive_task("delayanti", 16, 8, seed=0)
    >>> d.x_train.shape, d.n_classes
    (torch.Size([16, 20, 10]), 8)
    """
    if name not in COGNITIVE_TASKS:
        raise ValueError(f"unknown cognitive task {name!r}; known tasks are {list(COGNITIVE_TASKS)}")
    if n_steps < 10:
        raise ValueError(f"n_steps must be at least 10 (five periods of at least two steps), got {n_steps}")
    if n_train < 1 or n_test < 1:
        raise ValueError(f"n_train and n_test must be positive, got {n_train} and {n_test}")
    rng = np.random.default_rng([seed, COGNITIVE_TASKS.index(name)])
    xtr, ytr = _trials(name, n_train, n_steps, noise, rng)
    xte, yte = _trials(name, n_test, n_steps, noise, rng)
    dev = resolve_device(device)
    t = lambda a, dt: torch.as_tensor(a, dtype=dt, device=dev)  # noqa: E731
    return ClassificationData(t(xtr, dtype), t(ytr, torch.int64), t(xte, dtype), t(yte, torch.int64),
                              N_DIRECTIONS, f"cognitive/{name}")


def cognitive_tasks(names: Sequence[str] = COGNITIVE_TASKS, n_train: int = 512, n_test: int = 256, *,
                    seed: int = 0, **kwargs) -> list[ClassificationData]:
    """A stream of cognitive tasks, in the order given (keyword options as :func:`cognitive_task`).

    Examples
    --------
    >>> [t.name for t in cognitive_tasks(("dms", "ctxdm1"), 8, 8)]
    ['cognitive/dms', 'cognitive/ctxdm1']
    """
    return [cognitive_task(n, n_train, n_test, seed=seed, **kwargs) for n in names]


def row_sequences(tasks: Sequence[ClassificationData], n_rows: int = 8) -> list[ClassificationData]:
    """Turn flat or image tasks into sequences of rows for an RNN ("sequential digits").

    Each input of ``d`` features (after flattening) becomes ``n_rows`` steps of ``d / n_rows``
    features, read top to bottom; e.g. the 8x8 digits give ``(n, 8, 8)``. Apply it after
    :func:`~neurolatent.methods.common.permuted_tasks` to get sequential permuted digits.

    Examples
    --------
    >>> from neurolatent.methods.common import load_digits, permuted_tasks
    >>> seq = row_sequences(permuted_tasks(load_digits(), 2))
    >>> seq[1].x_train.shape
    torch.Size([1348, 8, 8])
    """
    out = []
    for t in tasks:
        d = int(np.prod(t.input_shape))
        if d % n_rows:
            raise ValueError(f"{t.name}: {d} input features do not split into {n_rows} rows; choose n_rows dividing {d}")
        shape = lambda x: x.reshape(x.shape[0], n_rows, d // n_rows)  # noqa: E731
        out.append(replace(t, x_train=shape(t.x_train), x_test=shape(t.x_test), name=f"{t.name}/rows"))
    return out
