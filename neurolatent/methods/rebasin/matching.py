"""Permutation matching and linear mode connectivity.

Two networks trained from different seeds are, up to a permutation of their hidden units, often
linearly connected: the loss along :math:`\\theta(\\alpha) = (1-\\alpha)\\,\\theta_A + \\alpha\\,\\pi(\\theta_B)`
stays low (Entezari et al. 2022; Ainsworth et al. 2023, "Git Re-Basin"). Benzing et al. (2022,
"Random initialisations performing above chance and how to find them") showed that the
permutation :math:`\\pi` found after training, applied to B's *initialisation*, makes the average
of the two random initialisations perform above chance.

Two ways to find :math:`\\pi` layer by layer, each a linear assignment problem solved exactly with
the Hungarian-type algorithm of :func:`scipy.optimize.linear_sum_assignment`:

* :func:`match_activations` -- maximise the summed correlation of matched units' activations on
  data, :math:`\\max_\\pi \\sum_i \\mathrm{corr}(z^A_i, z^B_{\\pi(i)})`, independently per layer;
* :func:`match_weights` -- maximise :math:`\\sum_\\ell \\langle W^A_\\ell, P_\\ell W^B_\\ell P_{\\ell-1}^\\top\\rangle_F`
  by coordinate ascent over the layers' permutations (Ainsworth et al. 2023, Alg. 1).
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import torch
from scipy.optimize import linear_sum_assignment
from torch import nn

from ..._utils import make_generator, resolve_device
from ..common.evaluate import evaluate, reset_batchnorm
from ..common.models import PermutationSpec, apply_permutation, identity_permutation
from ..common.similarity import representations

__all__ = [
    "match_activations",
    "match_weights",
    "interpolate",
    "barrier",
    "BarrierResult",
    "average_permuted_initialisations",
    "perturb_permutation",
]


def _check_same_architecture(model_a: nn.Module, model_b: nn.Module) -> None:
    sa, sb = model_a.state_dict(), model_b.state_dict()
    if sa.keys() != sb.keys() or any(sa[k].shape != sb[k].shape for k in sa):
        raise ValueError(
            "model_a and model_b must have the same architecture (same state_dict keys and shapes); "
            f"got {type(model_a).__name__} and {type(model_b).__name__} with different parameters"
        )


def _copy_to(model: nn.Module, device) -> nn.Module:
    dev = resolve_device(device, next(model.parameters()))
    return copy.deepcopy(model).to(dev)


def interpolate(model_a: nn.Module, model_b: nn.Module, alpha: float) -> nn.Module:
    r"""The network with parameters :math:`\theta(\alpha) = (1-\alpha)\,\theta_A + \alpha\,\theta_B`.

    Every floating ``state_dict`` entry (weights, biases, BatchNorm statistics) is interpolated;
    integer buffers (BatchNorm's batch counter) are taken from ``model_a``. ``alpha`` outside
    ``[0, 1]`` extrapolates. Returns a new module on ``model_a``'s device.

    Examples
    --------
    >>> from neurolatent.methods.common import MLP
    >>> a, b = MLP(3, (4,), 2, seed=0), MLP(3, (4,), 2, seed=1)
    >>> m = interpolate(a, b, 0.25)
    >>> torch.allclose(m.blocks[0].layer.weight, 0.75 * a.blocks[0].layer.weight + 0.25 * b.blocks[0].layer.weight)
    True
    """
    _check_same_architecture(model_a, model_b)
    sa, sb = model_a.state_dict(), model_b.state_dict()
    out = copy.deepcopy(model_a)
    out.load_state_dict({
        k: torch.lerp(v, sb[k].to(v.device, v.dtype), float(alpha)) if v.is_floating_point() else v
        for k, v in sa.items()
    })
    return out


@dataclass
class BarrierResult:
    r"""Loss and error along the linear path between two networks.

    Attributes
    ----------
    alphas, loss, accuracy : ndarray, shape ``(n_points,)``
    loss_barrier : float
        :math:`\max_\alpha \big[L(\theta(\alpha)) - (1-\alpha) L(\theta_A) - \alpha L(\theta_B)\big]`.
    error_barrier : float
        The same for the classification error :math:`1 - \text{accuracy}`.
    """

    alphas: np.ndarray
    loss: np.ndarray
    accuracy: np.ndarray
    loss_barrier: float
    error_barrier: float

    @property
    def error(self) -> np.ndarray:
        return 1.0 - self.accuracy


def barrier(model_a: nn.Module, model_b: nn.Module, x: torch.Tensor, y: torch.Tensor, *,
            n_points: int = 11, alphas: Sequence[float] | None = None, reset_bn_data: torch.Tensor | None = None,
            device: str | torch.device | None = None) -> BarrierResult:
    r"""Interpolation barrier between ``model_a`` and ``model_b`` on ``(x, y)``.

    Evaluates :math:`L(\alpha)` and the accuracy of :func:`interpolate` ``(model_a, model_b, alpha)``
    on a grid of ``alpha`` and returns the largest excess over the straight line joining the end
    points (see :class:`BarrierResult`). A barrier near zero means the two networks are linearly
    mode connected.

    Parameters
    ----------
    x, y : Tensor
        Evaluation data (use held-out data for generalisation barriers).
    n_points : int
        Grid size on ``[0, 1]`` when ``alphas`` is not given.
    reset_bn_data : Tensor, optional
        Inputs (typically the training inputs) on which BatchNorm statistics of every interpolated
        network are recomputed (:func:`~neurolatent.methods.common.reset_batchnorm`); without it,
        interpolated running statistics are used.
    device
        Where to evaluate (default: ``model_a``'s device).
    """
    alphas = np.linspace(0.0, 1.0, int(n_points)) if alphas is None else np.asarray(alphas, dtype=float)
    if alphas.ndim != 1 or len(alphas) < 2:
        raise ValueError(f"need at least two interpolation points, got alphas={alphas!r}")
    a, b = _copy_to(model_a, device), _copy_to(model_b, device)
    b.to(next(a.parameters()).device)
    losses, accs = [], []
    for al in alphas:
        m = interpolate(a, b, float(al))
        if reset_bn_data is not None:
            reset_batchnorm(m, reset_bn_data)
        ev = evaluate(m, x, y)
        losses.append(ev["loss"])
        accs.append(ev["accuracy"])
    losses, accs = np.asarray(losses), np.asarray(accs)
    # The straight line between the measured end points; alphas need not include 0 and 1, so the
    # end points are evaluated separately when absent.
    ends = {}
    for al, m in ((0.0, a), (1.0, b)):
        hit = np.isclose(alphas, al)
        if hit.any():
            ends[al] = (losses[hit][0], accs[hit][0])
        else:
            mm = copy.deepcopy(m)
            if reset_bn_data is not None:
                reset_batchnorm(mm, reset_bn_data)
            ev = evaluate(mm, x, y)
            ends[al] = (ev["loss"], ev["accuracy"])
    line_loss = (1 - alphas) * ends[0.0][0] + alphas * ends[1.0][0]
    line_err = (1 - alphas) * (1 - ends[0.0][1]) + alphas * (1 - ends[1.0][1])
    return BarrierResult(alphas, losses, accs, float(np.max(losses - line_loss)),
                         float(np.max((1 - accs) - line_err)))


def _assign(score: np.ndarray) -> np.ndarray:
    """Column index matched to each row, maximising the summed score (exact LAP)."""
    _, col = linear_sum_assignment(score, maximize=True)
    return col


def match_activations(model_a: nn.Module, model_b: nn.Module, x: torch.Tensor, *,
                      cost: str = "correlation", return_permutation: bool = False,
                      device: str | torch.device | None = None, batch_size: int = 4096):
    r"""Permute ``model_b``'s hidden units so that their activations best match ``model_a``'s.

    For every hidden layer :math:`k` (an output of a block of a
    :class:`~neurolatent.methods.common.BlockNet`), collect the post-activation representations
    :math:`Z^A, Z^B \in \mathbb R^{m\times d}` on ``x`` (for convolutions every spatial position is
    a sample, :math:`m = n\cdot H W`) and solve

    .. math:: \pi_k = \arg\max_{\pi} \sum_{i=1}^d C_{i,\pi(i)}, \qquad
              C_{ij} = \mathrm{corr}(Z^A_{:,i}, Z^B_{:,j}) \;\;(\text{or } \langle Z^A_{:,i}, Z^B_{:,j}\rangle),

    exactly with :func:`scipy.optimize.linear_sum_assignment`. Each layer's units are defined by
    the network's own earlier layers, so the layers are matched independently. Units that are
    constant on ``x`` (dead ReLUs) have zero correlation with everything.

    Parameters
    ----------
    model_a, model_b : BlockNet
        Same architecture. Neither is modified.
    x : Tensor
        Inputs on which activations are compared (the training inputs, typically).
    cost : {"correlation", "inner"}
        Correlation of activations, or their raw inner product (least-squares matching).
    return_permutation : bool
        Also return the permutation ``{name: index tensor}`` (see
        :func:`~neurolatent.methods.common.apply_permutation` for the convention).
    device
        Where to compute activations (default: ``model_a``'s device); the assignment runs on CPU.

    Returns
    -------
    nn.Module or (nn.Module, dict)
        A permuted copy of ``model_b``, functionally identical to it.
    """
    if cost not in ("correlation", "inner"):
        raise ValueError(f"cost must be 'correlation' or 'inner', got {cost!r}")
    _check_same_architecture(model_a, model_b)
    a, b = _copy_to(model_a, device), _copy_to(model_b, device)
    b.to(next(a.parameters()).device)
    layers = a.hidden_layers
    ra = representations(a, x, layers, batch_size=batch_size)
    rb = representations(b, x, layers, batch_size=batch_size)
    perms = {}
    for k in layers:
        za = ra[k].transpose(0, 1).reshape(ra[k].shape[1], -1).T.double()  # (samples*positions, units)
        zb = rb[k].transpose(0, 1).reshape(rb[k].shape[1], -1).T.double()
        if cost == "correlation":
            za = za - za.mean(0)
            zb = zb - zb.mean(0)
            za = za / za.norm(dim=0).clamp_min(1e-12)
            zb = zb / zb.norm(dim=0).clamp_min(1e-12)
        score = (za.T @ zb).cpu().numpy()
        perms[a.layer_permutation(k)] = torch.as_tensor(_assign(score), dtype=torch.long)
    out = apply_permutation(model_b, perms)
    return (out, perms) if return_permutation else out


def _permuted(spec: PermutationSpec, perms: Mapping[str, torch.Tensor], key: str, w: torch.Tensor,
              skip_axis: int | None) -> torch.Tensor:
    for ax, p in enumerate(spec.axes[key]):
        if p is not None and ax != skip_axis:
            w = w.index_select(ax, perms[p])
    return w


def match_weights(model_a: nn.Module, model_b: nn.Module, *, max_iter: int = 100, seed: int | None = 0,
                  return_permutation: bool = False, device: str | torch.device | None = None):
    r"""Permute ``model_b``'s hidden units so that its weights best match ``model_a``'s.

    Maximises :math:`\sum_{\text{tensors } t} \langle \theta^A_t, \pi(\theta^B)_t\rangle` over the
    permutations of all layers (Ainsworth et al. 2023, weight matching). The objective is not
    separable across layers (a weight matrix carries the permutation of its output *and* its input
    axis), so it is maximised by coordinate ascent: in a random order, each layer's permutation is
    the exact assignment solution with the other layers fixed,

    .. math:: P_\ell \leftarrow \arg\max_P \big\langle P,\; \sum_{(t,\text{ax})\ni\ell}
              \mathrm{mat}_{\text{ax}}(\theta^A_t)\,\mathrm{mat}_{\text{ax}}(\pi_{-\ell}(\theta^B)_t)^\top\big\rangle_F,

    until no layer improves (at most ``max_iter`` sweeps). Uses only the weights -- no data.

    Parameters
    ----------
    model_a, model_b : nn.Module with ``permutation_spec()``
    max_iter : int
        Maximum number of sweeps over the layers.
    seed : int or None
        Seed of the layer order in each sweep.
    return_permutation : bool
        Also return the permutation dictionary.

    Returns
    -------
    nn.Module or (nn.Module, dict)
        A permuted, functionally identical copy of ``model_b``.
    """
    _check_same_architecture(model_a, model_b)
    dev = resolve_device(device, next(model_a.parameters()))
    spec = model_a.permutation_spec()
    sa = {k: v.to(dev, torch.float64) for k, v in model_a.state_dict().items() if v.is_floating_point()}
    sb = {k: v.to(dev, torch.float64) for k, v in model_b.state_dict().items() if v.is_floating_point()}
    perms = {p: t.to(dev) for p, t in identity_permutation(spec, model_b).items()}
    names = spec.perm_names
    gen = make_generator(seed)
    for _ in range(int(max_iter)):
        improved = False
        for i in torch.randperm(len(names), generator=gen).tolist():
            p = names[i]
            n = perms[p].numel()
            score = torch.zeros(n, n, dtype=torch.float64, device=dev)
            for key, ax in spec.perm_to_axes[p]:
                if key not in sa:
                    continue
                wa = sa[key].movedim(ax, 0).reshape(n, -1)
                wb = _permuted(spec, perms, key, sb[key], skip_axis=ax).movedim(ax, 0).reshape(n, -1)
                score += wa @ wb.T
            score_np = score.cpu().numpy()
            new = _assign(score_np)
            old = perms[p].cpu().numpy()
            rows = np.arange(n)
            if score_np[rows, new].sum() > score_np[rows, old].sum() + 1e-12:
                perms[p] = torch.as_tensor(new, dtype=torch.long, device=dev)
                improved = True
        if not improved:
            break
    perms = {p: t.cpu() for p, t in perms.items()}
    out = apply_permutation(model_b, perms, spec)
    return (out, perms) if return_permutation else out


def average_permuted_initialisations(init_a: nn.Module, init_b: nn.Module,
                                     perms: Mapping[str, torch.Tensor] | None = None) -> nn.Module:
    r"""The midpoint :math:`\tfrac12\big(\theta^A_0 + \pi(\theta^B_0)\big)` of two initialisations.

    With ``perms`` found by matching the *trained* networks (``match_activations(..., return_permutation=True)``),
    this is the construction of Benzing et al. (2022): although each initialisation alone is at
    chance level, the average of the suitably permuted pair is not. ``perms=None`` gives the plain
    (unpermuted) average.
    """
    b = apply_permutation(init_b, perms) if perms else init_b
    return interpolate(init_a, b, 0.5)


def perturb_permutation(perms: Mapping[str, torch.Tensor], fraction: float, *,
                        seed: int | None = 0) -> dict[str, torch.Tensor]:
    """Corrupt a matching: in every layer, shuffle a random ``fraction`` of the assigned units among themselves.

    ``fraction = 0`` returns the matching unchanged; ``fraction = 1`` a uniformly random
    permutation composed with it. Used to test how robust mode connectivity is to imperfect
    matchings.
    """
    if not 0.0 <= fraction <= 1.0:
        raise ValueError(f"fraction must lie in [0, 1], got {fraction}")
    gen = make_generator(seed)
    out = {}
    for p, perm in perms.items():
        perm = perm.clone()
        n = perm.numel()
        k = int(round(fraction * n))
        if k >= 2:
            pos = torch.randperm(n, generator=gen)[:k].to(perm.device)
            perm[pos] = perm[pos[torch.randperm(k, generator=gen).to(perm.device)]]
        out[p] = perm
    return out
