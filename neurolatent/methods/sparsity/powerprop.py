r"""Powerpropagation (Schwarz, Jayakumar, Pascanu, Latham & Teh, NeurIPS 2021).

Each weight is re-parameterised as

.. math:: w = v\,|v|^{\alpha - 1}, \qquad
          \frac{\partial L}{\partial v} = \alpha\,|v|^{\alpha-1}\,\frac{\partial L}{\partial w},

so for :math:`\alpha > 1` small weights receive small gradients ("rich get richer"): training
concentrates the weight mass near zero and the network tolerates magnitude pruning to higher
sparsity. :math:`\alpha = 1` is the plain network.

:func:`powerpropagate` registers the re-parameterisation on the weights of every ``nn.Linear`` /
``nn.Conv*d`` with ``torch.nn.utils.parametrize`` (the trained parameter is then
``layer.parametrizations.weight.original``, i.e. :math:`v`), and :func:`remove_powerprop` folds it back
into plain weights :math:`w`, after which the network is pruned as usual.
"""
from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn.utils import parametrize

from .masks import prunable_layers

__all__ = ["PowerProp", "powerpropagate", "remove_powerprop", "check_alpha"]


def check_alpha(alpha: float) -> float:
    """``alpha`` as a float if finite and > 0, else a ValueError."""
    try:
        a = float(alpha)
    except (TypeError, ValueError) as err:
        raise TypeError(f"alpha must be a positive number, got {alpha!r}") from err
    if not math.isfinite(a) or a <= 0:
        raise ValueError(f"alpha must be finite and > 0 (w = v|v|^(alpha-1); alpha = 1 is the plain network, "
                         f"the paper uses 2-5), got {alpha!r}")
    return a


class PowerProp(nn.Module):
    r"""The parametrisation :math:`v \mapsto v|v|^{\alpha-1}` (and its inverse :math:`w \mapsto \mathrm{sign}(w)|w|^{1/\alpha}`).

    Examples
    --------
    >>> p = PowerProp(2.0)
    >>> p(torch.tensor([-3.0, 0.5])).tolist()
    [-9.0, 0.25]
    >>> p.right_inverse(torch.tensor([-9.0, 0.25])).tolist()
    [-3.0, 0.5]
    """

    def __init__(self, alpha: float):
        super().__init__()
        self.alpha = check_alpha(alpha)

    def forward(self, v: torch.Tensor) -> torch.Tensor:
        if self.alpha == 1.0:
            return v
        return v * v.abs().pow(self.alpha - 1.0)

    def right_inverse(self, w: torch.Tensor) -> torch.Tensor:
        return torch.sign(w) * w.abs().pow(1.0 / self.alpha)

    def extra_repr(self) -> str:
        return f"alpha={self.alpha:g}"


def powerpropagate(model: nn.Module, alpha: float, *, keep_function: bool = False) -> nn.Module:
    """Re-parameterise every prunable weight of ``model`` in place as ``w = v |v|^(alpha-1)``.

    Parameters
    ----------
    model : nn.Module
        Holds ``nn.Linear`` / ``nn.Conv*d`` layers (ValueError naming them otherwise).
    alpha : float
        :math:`\\alpha > 0` (ValueError otherwise).
    keep_function : bool
        ``False`` (the paper's recipe): the current weights become :math:`v`, so a freshly initialised
        network starts from the usual initialisation *of v*. ``True``: :math:`v` is set so that
        :math:`w` is unchanged (the network computes the same function).

    Returns
    -------
    nn.Module
        ``model``.

    Examples
    --------
    >>> net = nn.Linear(3, 2)
    >>> w0 = net.weight.detach().clone()
    >>> _ = powerpropagate(net, 2.0)
    >>> torch.allclose(net.weight, w0 * w0.abs())
    True
    """
    a = check_alpha(alpha)
    for name, m in prunable_layers(model).items():
        if parametrize.is_parametrized(m, "weight"):
            raise ValueError(f"powerpropagate: {name} is already re-parametrised; call remove_powerprop(model) first")
        if "weight_mask" in m._buffers:
            raise ValueError(f"powerpropagate: {name} carries a pruning mask; apply Powerpropagation before pruning")
        v = m.weight.detach().clone()
        parametrize.register_parametrization(m, "weight", PowerProp(a))
        if not keep_function:
            with torch.no_grad():
                m.parametrizations.weight.original.copy_(v)
    return model


def remove_powerprop(model: nn.Module) -> nn.Module:
    """Fold the Powerpropagation re-parameterisation back into plain weights ``w`` (in place).

    Layers without it are left alone; the function the network computes is unchanged.

    ``torch.nn.utils.parametrize`` gives each parametrised module a generated class holding the
    ``weight`` property, and ``copy.deepcopy`` shares that class between a network and its copy, so
    ``parametrize.remove_parametrizations`` on a copy would delete the property from the original too.
    A layer whose only parametrisation is one :class:`PowerProp` on ``weight`` is therefore folded
    here without touching the class (it gets its plain base class back); other cases go through
    ``remove_parametrizations``.
    """
    for m in prunable_layers(model).values():
        if not (parametrize.is_parametrized(m, "weight") and any(
                isinstance(p, PowerProp) for p in m.parametrizations.weight)):
            continue
        plist = m.parametrizations.weight
        if len(m.parametrizations) == 1 and len(plist) == 1:
            with torch.no_grad():
                w = m.weight.detach().clone()
            requires_grad = plist.original.requires_grad
            del m._modules["parametrizations"]
            m.__class__ = type(m).__bases__[0]
            m.register_parameter("weight", nn.Parameter(w, requires_grad=requires_grad))
        else:
            parametrize.remove_parametrizations(m, "weight", leave_parametrized=True)
    return model
