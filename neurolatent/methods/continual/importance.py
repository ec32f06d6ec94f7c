r"""Per-parameter importance estimators of the quadratic continual-learning regularisers.

Benzing ("Unifying importance based regularisation methods for continual learning", AISTATS 2022)
shows that the importances of EWC, SI and MAS all measure, up to scale, the same quantity: the
square root of the Fisher information. This module computes each of them for any ``nn.Module``
classifier with logits :math:`f_\theta(x) \in \mathbb R^K` and predictive
:math:`p_\theta(y\mid x) = \mathrm{softmax}(f_\theta(x))_y`. Writing
:math:`g(x, y) = \nabla_\theta [-\log p_\theta(y\mid x)]` for the gradient of one sample's
cross-entropy, the per-sample kinds are (all squares and absolute values element-wise, the mean
over the inputs :math:`x_1 \dots x_n` of the data):

``"fisher"`` (EWC; Kirkpatrick et al. 2017)
    :math:`F = \mathbb E_x\,\mathbb E_{\tilde y \sim p_\theta(\cdot\mid x)}\, g(x, \tilde y)^2`,
    labels *sampled from the model's predictive* (``samples`` draws per input);
``"empirical_fisher"``
    :math:`\tilde F = \mathbb E_{(x, y)}\, g(x, y)^2`, with the data's labels;
``"af"`` (absolute Fisher; Benzing 2022)
    :math:`\mathrm{AF} = \mathbb E_x\,\mathbb E_{\tilde y \sim p_\theta}\, |g(x, \tilde y)|`;
``"mas"`` (memory-aware synapses; Aljundi et al. 2018)
    :math:`\mathrm{MAS} = \mathbb E_x\, \big|\nabla_\theta \lVert f_\theta(x)\rVert_2^2\big|`, the
    gradient of the squared norm of the logits.

The path-integral kinds (Zenke, Poole & Ganguli 2017, "Continual learning through synaptic
intelligence", and Benzing 2022) need a training run and live in :mod:`.path_integral`; this
module's :func:`importance` dispatches to them for ``"si"``, ``"siu"`` and ``"sib"``.

Per-sample gradients are computed with :func:`torch.func.vmap` over :func:`torch.func.grad`,
in evaluation mode (BatchNorm uses its running statistics); the model is not modified.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call, grad, vmap

from ..._utils import make_generator
from ..common.data import ClassificationData
from ._helpers import IMPORTANCE_KINDS, PATH_KINDS, PER_SAMPLE_KINDS, trainable, xy
from .path_integral import path_importance

__all__ = ["importance", "per_sample_importance", "IMPORTANCE_KINDS", "PER_SAMPLE_KINDS", "PATH_KINDS"]

def per_sample_importance(model: nn.Module, x: torch.Tensor, y: torch.Tensor | None = None, *, kind: str = "fisher",
                          samples: int = 1, batch_size: int = 256,
                          generator: torch.Generator | None = None) -> dict[str, torch.Tensor]:
    r"""The per-sample importance ``kind`` of every trainable parameter of ``model`` on inputs ``x``.

    Parameters
    ----------
    model : nn.Module
        A classifier returning logits of shape ``(n, K)``.
    x : Tensor, shape ``(n, *input_shape)``
    y : Tensor of int64, shape ``(n,)``, optional
        Labels; needed by ``"empirical_fisher"`` only.
    kind : {"fisher", "empirical_fisher", "af", "mas"}
        See the module docstring for the definitions.
    samples : int
        Labels drawn from the predictive per input (``"fisher"``, ``"af"``).
    batch_size : int
        Inputs per vectorised chunk (memory: ``batch_size`` x number of parameters floats).
    generator : torch.Generator, optional
        Source of the sampled labels (on the model's device); a fresh seeded one when ``None``.

    Returns
    -------
    dict of str to Tensor
        One non-negative tensor per trainable parameter, of the parameter's shape.

    Examples
    --------
    >>> net = torch.nn.Linear(3, 2)
    >>> imp = per_sample_importance(net, torch.randn(10, 3), kind="mas")
    >>> sorted(imp), imp["weight"].shape
    (['bias', 'weight'], torch.Size([2, 3]))
    """
    if kind not in PER_SAMPLE_KINDS:
        raise ValueError(f"kind={kind!r} is not a per-sample importance; choose one of {PER_SAMPLE_KINDS}")
    if kind == "empirical_fisher" and y is None:
        raise ValueError("kind='empirical_fisher' needs the labels y (it uses the data's labels, not sampled ones)")
    if samples < 1:
        raise ValueError(f"samples must be a positive number of label draws per input, got {samples}")
    if x.shape[0] == 0:
        raise ValueError("per_sample_importance: x holds no samples; pass at least one input")
    params = {n: p.detach() for n, p in trainable(model).items()}
    if not params:
        raise ValueError("per_sample_importance: the model has no trainable parameters")
    dev = next(iter(params.values())).device
    buffers = {n: b.detach() for n, b in model.named_buffers()}
    gen = generator if generator is not None else make_generator(0, dev)

    def out_one(p, xi):
        return functional_call(model, (p, buffers), (xi.unsqueeze(0),))[0]

    def nll_one(p, xi, yi):
        return F.cross_entropy(out_one(p, xi).unsqueeze(0), yi.unsqueeze(0))

    def sqnorm_one(p, xi):
        return out_one(p, xi).pow(2).sum()

    total = {n: torch.zeros_like(p) for n, p in params.items()}
    count = 0
    was_training = model.training
    model.eval()
    try:
        for i in range(0, x.shape[0], batch_size):
            xb = x[i:i + batch_size].to(dev)
            if kind == "mas":
                g = vmap(grad(sqnorm_one), in_dims=(None, 0))(params, xb)
                for n in total:
                    total[n] += g[n].abs().sum(0)
                count += xb.shape[0]
                continue
            if kind == "empirical_fisher":
                labels = [y[i:i + batch_size].to(dev)]
            else:
                with torch.no_grad():
                    probs = F.softmax(functional_call(model, (params, buffers), (xb,)), dim=-1)
                labels = [torch.multinomial(probs, 1, generator=gen).squeeze(1) for _ in range(samples)]
            for yb in labels:
                g = vmap(grad(nll_one), in_dims=(None, 0, 0))(params, xb, yb)
                for n in total:
                    total[n] += (g[n].abs() if kind == "af" else g[n].pow(2)).sum(0)
                count += xb.shape[0]
    finally:
        model.train(was_training)
    return {n: t / count for n, t in total.items()}


def importance(model: nn.Module, data: ClassificationData | tuple[torch.Tensor, torch.Tensor], kind: str = "fisher", *,
               samples: int = 1, max_samples: int | None = None, batch_size: int | None = None, seed: int = 0,
               **path_kwargs) -> dict[str, torch.Tensor]:
    r"""Importance of every trainable parameter of ``model`` for the task ``data``.

    Parameters
    ----------
    model : nn.Module
        A classifier (logits out).
    data : ClassificationData or (x, y)
        The task; its training split is used.
    kind : {"fisher", "empirical_fisher", "af", "mas", "si", "siu", "sib"}
        The per-sample kinds are defined in the module docstring. The path-integral kinds
        ``"si"``, ``"siu"``, ``"sib"`` (:func:`~neurolatent.methods.continual.path_importance`)
        **train** ``model`` in place on ``data`` and return the importance accumulated along the
        way; ``path_kwargs`` (``epochs``, ``lr``, ``optimizer``, ``batch_size``, ``xi``,
        ``normalise``, ``loss_fn``) go to that function.
    samples : int
        Label draws per input for ``"fisher"`` and ``"af"``.
    max_samples : int, optional
        Use only the first ``max_samples`` training inputs (per-sample kinds).
    batch_size : int, optional
        Vectorised chunk size of the per-sample kinds (default 256); for the path kinds the
        training minibatch (default 64).
    seed : int
        Seed of the sampled labels, or of the minibatch order for the path kinds.

    Returns
    -------
    dict of str to Tensor
        One tensor per trainable parameter name, of that parameter's shape.

    Examples
    --------
    >>> from neurolatent.methods.common import MLP, make_teacher_classification
    >>> d = make_teacher_classification(200, 5, 3, seed=0)
    >>> imp = importance(MLP(5, (8,), 3, seed=0), d, kind="fisher")
    >>> imp["blocks.0.layer.weight"].shape
    torch.Size([8, 5])
    """
    if kind not in IMPORTANCE_KINDS:
        raise ValueError(f"unknown importance kind {kind!r}; known kinds are {list(IMPORTANCE_KINDS)}")
    if kind in PATH_KINDS:
        return path_importance(model, data, kind=kind, seed=seed, batch_size=batch_size or 64, **path_kwargs)
    if path_kwargs:
        raise TypeError(f"importance(kind={kind!r}) got unexpected arguments {sorted(path_kwargs)} "
                        "(these are for the path-integral kinds 'si', 'siu', 'sib')")
    x, y = xy(data, "importance")
    if max_samples is not None:
        x, y = x[:max_samples], y[:max_samples]
    dev = next(iter(model.parameters())).device
    return per_sample_importance(model, x, y, kind=kind, samples=samples, batch_size=batch_size or 256,
                                 generator=make_generator(seed, dev))

