r"""Mode combinability: element-wise convex combinations of two (permutation-aligned) networks.

Csiszárik et al. (2023, "Mode combinability: exploring convex combinations of permutation aligned
models") go beyond the segment :math:`(1-\alpha)\theta_A + \alpha\theta_B`: for a mask
:math:`\lambda \in [0, 1]^{|\theta|}` the *combination*

.. math:: \theta_\lambda = \lambda \odot \theta_A + (1 - \lambda) \odot \theta_B

takes every parameter from anywhere between the two models. The segment is the diagonal of the
hypercube :math:`[0,1]^{|\theta|}`; the other corners (Bernoulli :math:`\lambda`) splice single
weights of A and B. After permutation alignment, combinations from broad regions of the cube have
low loss; without alignment they do not. :func:`sample_lambda` draws masks from several
distributions, :func:`combine` builds the network, :func:`combination_study` evaluates many.
"""
from __future__ import annotations

import copy
from typing import Mapping

import numpy as np
import torch
from torch import nn

from ..._utils import make_generator
from ..common.evaluate import disagreement, evaluate, reset_batchnorm
from .matching import _check_same_architecture

__all__ = ["LAMBDA_KINDS", "sample_lambda", "combine", "combination_study"]

#: Distributions of the mask implemented by :func:`sample_lambda`.
LAMBDA_KINDS = ("uniform", "bernoulli", "layer", "outside", "scalar")


def sample_lambda(model: nn.Module, kind: str = "uniform", *, generator: torch.Generator | None = None,
                  seed: int | None = None, p: float = 0.5, margin: float = 0.1) -> dict[str, torch.Tensor]:
    r"""Draw a combination mask :math:`\lambda` shaped like ``model``'s floating ``state_dict``.

    Parameters
    ----------
    kind : {"uniform", "bernoulli", "layer", "outside", "scalar"}
        * ``"uniform"`` -- every element independently :math:`\lambda_i \sim U[0, 1]`;
        * ``"bernoulli"`` -- every element a corner coordinate, :math:`\lambda_i \sim \mathrm{Bernoulli}(p)`
          (each weight copied from A or from B);
        * ``"layer"`` -- one :math:`\lambda \sim U[0,1]` per tensor (per layer and parameter kind);
        * ``"outside"`` -- elements :math:`\lambda_i \sim U[-m, 1 + m]`, slightly outside the cube;
        * ``"scalar"`` -- one :math:`\lambda \sim U[0,1]` for every element (a point on the segment).
    generator, seed
        Randomness: a ``torch.Generator`` (CPU) or a seed for a fresh one.
    p : float
        Bernoulli probability of taking the element from A.
    margin : float
        ``m`` of ``"outside"``.

    Returns
    -------
    dict of str to Tensor
        Masks on the model's device, one per floating ``state_dict`` entry.
    """
    if kind not in LAMBDA_KINDS:
        raise ValueError(f"kind must be one of {LAMBDA_KINDS}, got {kind!r}")
    if not 0.0 <= p <= 1.0 or margin < 0:
        raise ValueError(f"need 0 <= p <= 1 and margin >= 0, got p={p}, margin={margin}")
    gen = generator if generator is not None else make_generator(seed)
    scalar = torch.rand((), generator=gen)
    out = {}
    for key, v in model.state_dict().items():
        if not v.is_floating_point():
            continue
        shape = v.shape
        if kind == "uniform":
            lam = torch.rand(shape, generator=gen)
        elif kind == "bernoulli":
            lam = (torch.rand(shape, generator=gen) < p).to(torch.float32)
        elif kind == "layer":
            lam = torch.rand((), generator=gen).expand(shape).clone()
        elif kind == "outside":
            lam = -margin + (1 + 2 * margin) * torch.rand(shape, generator=gen)
        else:
            lam = scalar.expand(shape).clone()
        out[key] = lam.to(device=v.device, dtype=v.dtype)
    return out


def combine(model_a: nn.Module, model_b: nn.Module, lam: float | Mapping[str, torch.Tensor | float]) -> nn.Module:
    r"""The network :math:`\theta_\lambda = \lambda \odot \theta_A + (1-\lambda)\odot\theta_B`.

    Parameters
    ----------
    lam : float or mapping
        A scalar (the segment point at :math:`\alpha = 1 - \lambda`), or a mask per floating
        ``state_dict`` key (tensors broadcastable to the entry, or floats); missing keys use
        ``lam = 1`` (A's value). Integer buffers come from A.

    Examples
    --------
    >>> from neurolatent.methods.common import MLP
    >>> a, b = MLP(3, (4,), 2, seed=0), MLP(3, (4,), 2, seed=1)
    >>> lam = sample_lambda(a, "bernoulli", seed=0)
    >>> c = combine(a, b, lam)
    >>> w, m = c.blocks[0].layer.weight, lam["blocks.0.layer.weight"].bool()
    >>> bool((w[m] == a.blocks[0].layer.weight[m]).all() and (w[~m] == b.blocks[0].layer.weight[~m]).all())
    True
    """
    _check_same_architecture(model_a, model_b)
    sa, sb = model_a.state_dict(), model_b.state_dict()
    new = {}
    for k, va in sa.items():
        if not va.is_floating_point():
            new[k] = va
            continue
        lk = lam if isinstance(lam, (int, float)) else lam.get(k, 1.0)
        lk = torch.as_tensor(lk, dtype=va.dtype, device=va.device)
        new[k] = lk * va + (1 - lk) * sb[k].to(va.device, va.dtype)
    out = copy.deepcopy(model_a)
    out.load_state_dict(new)
    return out


def combination_study(model_a: nn.Module, model_b: nn.Module, x: torch.Tensor, y: torch.Tensor, *,
                      kinds=("uniform", "bernoulli", "layer", "outside", "scalar"), n_samples: int = 10,
                      seed: int = 0, reset_bn_data: torch.Tensor | None = None, margin: float = 0.1,
                      device: str | torch.device | None = None) -> dict[str, dict[str, np.ndarray]]:
    """Evaluate ``n_samples`` random combinations of each ``kind`` on ``(x, y)``.

    Returns
    -------
    dict
        ``{kind: {"loss": (n_samples,), "accuracy": (n_samples,), "disagreement_a": ..., "disagreement_b": ...}}``
        where ``disagreement_a`` is the fraction of inputs on which the combination's prediction
        differs from A's (:func:`~neurolatent.methods.common.disagreement`).
    """
    a = copy.deepcopy(model_a)
    if device is not None:
        a.to(device)
    b = copy.deepcopy(model_b).to(next(a.parameters()).device)
    gen = make_generator(seed)
    out: dict[str, dict[str, np.ndarray]] = {}
    for kind in kinds:
        rec: dict[str, list] = {"loss": [], "accuracy": [], "disagreement_a": [], "disagreement_b": []}
        for _ in range(int(n_samples)):
            c = combine(a, b, sample_lambda(a, kind, generator=gen, margin=margin))
            if reset_bn_data is not None:
                reset_batchnorm(c, reset_bn_data)
            ev = evaluate(c, x, y)
            rec["loss"].append(ev["loss"])
            rec["accuracy"].append(ev["accuracy"])
            rec["disagreement_a"].append(disagreement(c, a, x))
            rec["disagreement_b"].append(disagreement(c, b, x))
        out[kind] = {k: np.asarray(v) for k, v in rec.items()}
    return out
