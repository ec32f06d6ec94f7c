r"""Second-order pruning: diagonal-Fisher OBD, exact OBS and the FishLeg surgeon.

Around a trained network the loss is modelled by the damped Fisher quadratic
:math:`\delta L \approx \tfrac12\,\delta\theta^\top (F + \gamma I)\,\delta\theta` (gradient ~ 0), with
:math:`F` the Fisher / Gauss-Newton matrix of the model's predictive distribution. Removing a set
:math:`E` of weights means :math:`\delta\theta_E = -\theta_E`; the best compensation of the others and
its cost are (Hassibi & Stork 1993, "Optimal Brain Surgeon"; Singh & Alistarh 2020, "WoodFisher")

.. math:: \delta\theta = -H^{-1}_{:,E}\,\big(H^{-1}_{EE}\big)^{-1}\theta_E, \qquad
          \delta L_E = \tfrac12\,\theta_E^\top \big(H^{-1}_{EE}\big)^{-1}\theta_E ,

which for one weight :math:`q` is the saliency :math:`\rho_q = w_q^2 / (2[H^{-1}]_{qq})` and
:math:`\delta\theta = -w_q H^{-1} e_q / [H^{-1}]_{qq}`. After the removal the inverse restricted to the
remaining coordinates is the Schur downdate
:math:`H^{-1} \leftarrow H^{-1} - H^{-1}_{:,E}(H^{-1}_{EE})^{-1}H^{-1}_{E,:}`.

* :class:`OBDPruner` -- Optimal Brain Damage (LeCun et al. 1990) with the diagonal Fisher:
  :math:`\rho_q = \tfrac12 F_{qq} w_q^2`, no compensation.
* :class:`OBSPruner` -- exact OBS with the explicit damped inverse Fisher (full, or one block per
  layer), greedy in chunks with the joint update above (``chunk=1`` is the classic one-at-a-time OBS).
  Feasible on small networks only (a :math:`P\times P` matrix); the oracle of the tests.
* :class:`FishLegSurgeon` -- the same saliency and compensation with FishLeg's learned
  :math:`Q(\lambda) \approx (F + \gamma I)^{-1}` in place of the inverse (McGowan, Garcia et al. 2024,
  "Efficient model compression techniques with FishLeg", arXiv:2412.02328). Q cannot be downdated,
  so the weights removed in one call are compensated together as
  :math:`\delta\theta = -Q u`, :math:`u_q = w_q/Q_{qq}` on :math:`E` (the sum of the single-weight updates,
  exact when :math:`Q_{EE}` is diagonal); gradual pruning refines Q between calls instead
  (auxiliary FishLeg steps, or training with the FishLeg optimiser).

Parameters are flattened per layer as ``[weight.flatten(), bias]`` (the order of
:meth:`FishLeg.q_matrix <neurolatent.methods.optim.FishLeg.q_matrix>`), layers in model order. All
curvature algebra is in float64.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ..optim import FishLeg
from ..optim.natural_gradient import _scaled_jacobian
from .masks import apply_masks, masks_paused, prunable_layers
from .pruners import Pruner

__all__ = ["OBDPruner", "OBSPruner", "FishLegSurgeon", "obs_update", "fisher_blocks", "inverse_fisher_cosine"]


# ----------------------------------------------------------------------------- helpers
def _layer_entries(model: nn.Module) -> list[tuple[str, nn.Module, str | None]]:
    """``(weight name, layer, bias name or None)`` for every prunable layer, in model order."""
    out = []
    for wname, m in prunable_layers(model).items():
        bname = (wname[: -len("weight")] + "bias") if m.bias is not None else None
        out.append((wname, m, bname))
    return out


def _flat_params(model: nn.Module) -> tuple[torch.Tensor, list[tuple[int, int, int]]]:
    """Concatenated ``[W.flatten(), b]`` of all layers (float64) and each layer's ``(start, n_weight, n_total)``."""
    parts, spans, i = [], [], 0
    for _, m, _ in _layer_entries(model):
        w = m.weight.detach().reshape(-1)
        b = m.bias.detach().reshape(-1) if m.bias is not None else w[:0]
        parts += [w, b]
        spans.append((i, w.numel(), w.numel() + b.numel()))
        i += w.numel() + b.numel()
    return torch.cat(parts).to(torch.float64), spans


def _write_params(model: nn.Module, theta: torch.Tensor) -> None:
    i = 0
    with torch.no_grad():
        for _, m, _ in _layer_entries(model):
            for p in (m.weight, m.bias):
                if p is None:
                    continue
                p.copy_(theta[i:i + p.numel()].reshape(p.shape).to(p.dtype))
                i += p.numel()


def _check_x(x: torch.Tensor, owner: str) -> torch.Tensor:
    if not isinstance(x, torch.Tensor) or x.dim() < 2 or x.shape[0] < 1:
        raise ValueError(f"{owner}: x must be a tensor of inputs of shape (n, ...) with n >= 1 "
                         f"(the Fisher is the model's own predictive Fisher, no labels needed), got "
                         f"{type(x).__name__ if not isinstance(x, torch.Tensor) else tuple(x.shape)}")
    return x


def fisher_blocks(model: nn.Module, x: torch.Tensor, *, loss: str = "cross_entropy", block: str = "layer",
                  batch_size: int = 64) -> list[torch.Tensor]:
    r"""Exact Fisher / Gauss-Newton of the prunable layers' parameters, float64.

    :math:`F = \frac1N\sum_n J_n^\top H_n J_n` (see :func:`neurolatent.methods.optim.fisher_matrix`),
    accumulated over chunks of ``batch_size`` samples; BatchNorm layers use their running statistics
    (evaluation mode) so that samples do not interact.

    Parameters
    ----------
    block : {"layer", "full", "diag"}
        One ``(P_l, P_l)`` block per layer, the whole ``(P, P)`` matrix (as a one-element list), or
        the diagonal per layer (``(P_l,)`` vectors).

    Returns
    -------
    list of Tensor
        In layer order, each layer flattened as ``[weight.flatten(), bias]``.

    Examples
    --------
    >>> net = nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))
    >>> [tuple(b.shape) for b in fisher_blocks(net, torch.randn(6, 3))]
    [(16, 16), (10, 10)]
    """
    if block not in ("layer", "full", "diag"):
        raise ValueError(f"block must be 'layer', 'full' or 'diag', got {block!r}")
    x = _check_x(x, "fisher_blocks")
    entries = _layer_entries(model)
    named = dict(model.named_parameters())
    params = {}
    for wname, m, bname in entries:
        params[wname] = m.weight
        if bname is not None:
            params[bname] = named[bname]
    spans, i = [], 0
    for _, m, _ in entries:
        n = m.weight.numel() + (m.bias.numel() if m.bias is not None else 0)
        spans.append((i, i + n))
        i += n
    p_total = i
    acc: list[torch.Tensor] | None = None
    dev = next(iter(params.values())).device
    was_training = model.training
    model.eval()
    try:
        with masks_paused(model):
            for xb in x.split(batch_size):
                jh = _scaled_jacobian(model, xb.to(dev), loss, params).to(torch.float64)
                if block == "full":
                    parts = [jh.T @ jh]
                elif block == "layer":
                    parts = [jh[:, a:b].T @ jh[:, a:b] for a, b in spans]
                else:
                    parts = [(jh[:, a:b] ** 2).sum(0) for a, b in spans]
                acc = parts if acc is None else [u + v for u, v in zip(acc, parts)]
    finally:
        model.train(was_training)
    assert acc is not None and (block != "full" or acc[0].shape[0] == p_total)
    return [a / x.shape[0] for a in acc]


def obs_update(theta: torch.Tensor, hinv: torch.Tensor, remove: torch.Tensor
               ) -> tuple[torch.Tensor, float, torch.Tensor]:
    r"""Joint OBS removal of the coordinates ``remove`` (module docstring).

    Parameters
    ----------
    theta : Tensor, shape ``(P,)``
        Current parameters.
    hinv : Tensor, shape ``(P, P)``
        Inverse Hessian restricted to the coordinates still free (zero rows/columns elsewhere).
    remove : LongTensor, shape ``(m,)``
        Coordinates set to zero.

    Returns
    -------
    delta : Tensor, shape ``(P,)``
        :math:`\delta\theta`, with ``delta[remove] == -theta[remove]`` exactly.
    increase : float
        Predicted loss increase :math:`\tfrac12\theta_E^\top (H^{-1}_{EE})^{-1}\theta_E`.
    hinv_new : Tensor, shape ``(P, P)``
        The Schur downdate, with the removed rows and columns set to zero.

    Examples
    --------
    >>> h = torch.tensor([[2.0, 1.0], [1.0, 2.0]], dtype=torch.float64)
    >>> d, inc, _ = obs_update(torch.tensor([1.0, 1.0], dtype=torch.float64), torch.linalg.inv(h), torch.tensor([0]))
    >>> d.tolist(), round(inc, 6)
    ([-1.0, 0.5], 0.75)
    """
    hee = hinv[remove][:, remove]
    cols = hinv[:, remove]
    sol = torch.linalg.solve(hee, theta[remove])
    delta = -cols @ sol
    delta[remove] = -theta[remove]
    increase = 0.5 * float(theta[remove] @ sol)
    hinv_new = hinv - cols @ torch.linalg.solve(hee, cols.T)
    hinv_new[remove, :] = 0.0
    hinv_new[:, remove] = 0.0
    return delta, increase, hinv_new


def _weight_index(spans: list[tuple[int, int, int]]) -> tuple[torch.Tensor, torch.Tensor]:
    """Global indices of the weights (not biases) and the layer of each."""
    idx, layer = [], []
    for li, (start, n_w, _) in enumerate(spans):
        idx.append(torch.arange(start, start + n_w))
        layer.append(torch.full((n_w,), li))
    return torch.cat(idx), torch.cat(layer)


def _n_to_prune(sparsity: float, scope: str, spans, n_done_layer: torch.Tensor) -> torch.Tensor:
    """Number of weights still to prune per layer (``scope="layer"``) or in total (one entry)."""
    n_w = torch.tensor([s[1] for s in spans])
    if scope == "layer":
        target = torch.round(sparsity * n_w.double()).long()
        return (target - n_done_layer).clamp(min=0)
    target = int(round(sparsity * int(n_w.sum())))
    return torch.tensor([max(target - int(n_done_layer.sum()), 0)])


# ----------------------------------------------------------------------------- OBD
class OBDPruner(Pruner):
    r"""Optimal Brain Damage with the diagonal Fisher: saliency :math:`\tfrac12 F_{qq} w_q^2`, no compensation.

    Parameters
    ----------
    x : Tensor, shape ``(n, ...)``
        Inputs at which the Fisher is taken (the model's predictive distribution supplies the labels).
    loss : {"cross_entropy", "mse"}
    batch_size : int
        Samples per Jacobian chunk (memory ``batch_size * C * P``).

    Examples
    --------
    >>> net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    >>> masks = OBDPruner(torch.randn(16, 4)).prune(net, 0.5)
    >>> sum(int(m.sum()) for m in masks.values())
    28
    """

    name = "obd"

    def __init__(self, x: torch.Tensor, *, loss: str = "cross_entropy", batch_size: int = 64):
        self.x, self.loss, self.batch_size = _check_x(x, "OBDPruner"), loss, int(batch_size)

    def scores(self, model: nn.Module) -> dict[str, torch.Tensor]:
        diags = fisher_blocks(model, self.x, loss=self.loss, block="diag", batch_size=self.batch_size)
        out = {}
        for (wname, m, _), d in zip(_layer_entries(model), diags):
            w = m.weight.detach().to(torch.float64)
            out[wname] = 0.5 * d[: w.numel()].reshape(w.shape) * w ** 2
        return out


# ----------------------------------------------------------------------------- exact OBS
class OBSPruner(Pruner):
    r"""Exact Optimal Brain Surgeon with the explicit damped inverse Fisher :math:`(F + \gamma I)^{-1}`.

    Greedy: at each step the ``chunk`` free weights of smallest single-weight saliency
    :math:`w_q^2/(2[H^{-1}]_{qq})` are removed together with the joint compensation of
    :func:`obs_update`, and :math:`H^{-1}` is downdated; biases are never removed but are compensated.
    After :meth:`prune`, ``predicted_increase`` holds the summed predicted loss increase
    :math:`\sum \delta L_E` (exact for a quadratic loss at its minimum).

    Parameters
    ----------
    x : Tensor, shape ``(n, ...)``
        Inputs of the Fisher.
    damping : float
        :math:`\gamma > 0`.
    block : {"layer", "full"}
        Block-diagonal per layer (as FishLeg), or the full :math:`P\times P` matrix.
    chunk : int or float
        Weights removed per greedy step: an int, or a fraction of the prunable weights (per layer
        with ``scope="layer"``); ``1`` is one-at-a-time OBS.
    loss : {"cross_entropy", "mse"}
    max_params : int
        Refuse blocks larger than this (memory ``8 P^2`` bytes).

    Examples
    --------
    >>> net = nn.Sequential(nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
    >>> pruner = OBSPruner(torch.randn(32, 4), damping=1e-2)
    >>> masks = pruner.prune(net, 0.5)
    >>> sum(int(m.sum()) for m in masks.values()), pruner.predicted_increase >= 0
    (28, True)
    """

    name = "obs"

    def __init__(self, x: torch.Tensor, *, damping: float = 1e-3, block: str = "layer",
                 chunk: int | float = 0.01, loss: str = "cross_entropy", batch_size: int = 64,
                 max_params: int = 20000):
        if not (isinstance(damping, (int, float)) and math.isfinite(damping) and damping > 0):
            raise ValueError(f"OBSPruner: damping must be finite and > 0, got {damping!r}; try 1e-3")
        if block not in ("layer", "full"):
            raise ValueError(f"OBSPruner: block must be 'layer' or 'full', got {block!r}")
        if not chunk > 0:
            raise ValueError(f"OBSPruner: chunk must be a positive int or fraction, got {chunk!r}")
        self.x, self.damping, self.block, self.chunk = _check_x(x, "OBSPruner"), float(damping), block, chunk
        self.loss, self.batch_size, self.max_params = loss, int(batch_size), int(max_params)
        self.predicted_increase = 0.0

    def inverse_blocks(self, model: nn.Module, free: torch.Tensor) -> tuple[list[torch.Tensor], list[tuple[int, int]]]:
        """``(F_b + γI)^{-1}`` restricted to the ``free`` coordinates of each block, and the blocks' spans."""
        _, spans = _flat_params(model)
        bspans = [(a, a + n) for a, _, n in spans] if self.block == "layer" else [(0, spans[-1][0] + spans[-1][2])]
        big = max(b - a for a, b in bspans)
        if big > self.max_params:
            raise ValueError(f"OBSPruner: a curvature block has {big} parameters (> max_params={self.max_params}); "
                             "use block='layer', a smaller network, or FishLegSurgeon for large models")
        fs = fisher_blocks(model, self.x, loss=self.loss, block=self.block, batch_size=self.batch_size)
        invs = []
        for (a, b), f in zip(bspans, fs):
            fr = free[a:b].to(f.device)
            h = f[fr][:, fr] + self.damping * torch.eye(int(fr.sum()), dtype=f.dtype, device=f.device)
            inv = torch.zeros_like(f)
            inv[torch.outer(fr, fr)] = torch.linalg.inv(h).reshape(-1)
            invs.append(inv)
        return invs, bspans

    def scores(self, model: nn.Module) -> dict[str, torch.Tensor]:
        theta, spans = _flat_params(model)
        free = theta != 0
        free[torch.cat([torch.arange(a + nw, a + n) for a, nw, n in spans])] = True  # biases stay free
        invs, bspans = self.inverse_blocks(model, free)
        diag = torch.cat([inv.diagonal() for inv in invs])
        sal = torch.where(free, theta ** 2 / (2 * diag.clamp_min(1e-300)), torch.zeros_like(theta))
        return {wname: sal[a:a + nw].reshape(m.weight.shape)
                for (wname, m, _), (a, nw, _) in zip(_layer_entries(model), spans)}

    def _prune(self, model, layers, sparsity, scope, current):
        theta, spans = _flat_params(model)
        dev = theta.device
        widx, wlayer = _weight_index(spans)
        cur = torch.cat([current[k].reshape(-1).cpu() for k in layers])
        free = torch.ones_like(theta, dtype=torch.bool)
        free[widx[~cur]] = False
        theta[widx[~cur]] = 0.0
        invs, bspans = self.inverse_blocks(model, free)
        done = torch.bincount(wlayer[~cur], minlength=len(spans))
        todo = _n_to_prune(sparsity, scope, spans, done)
        n_w = torch.tensor([s[1] for s in spans])
        per_step = (lambda n: max(1, int(self.chunk)) if isinstance(self.chunk, int) or self.chunk >= 1
                    else max(1, int(round(self.chunk * n))))
        steps = [per_step(int(n)) for n in (n_w if scope == "layer" else n_w.sum().reshape(1))]
        self.predicted_increase = 0.0
        block_of = torch.zeros(theta.numel(), dtype=torch.long)
        for bi, (a, b) in enumerate(bspans):
            block_of[a:b] = bi
        while int(todo.sum()) > 0:
            diag = torch.cat([inv.diagonal() for inv in invs]).cpu()
            sal = theta.cpu() ** 2 / (2 * diag.clamp_min(1e-300))
            sal_w = sal[widx]
            sal_w[~free[widx].cpu()] = math.inf
            chosen = []
            groups = range(len(spans)) if scope == "layer" else [None]
            for gi, g in enumerate(groups):
                k = min(int(todo[gi]), steps[gi])
                if k == 0:
                    continue
                s = sal_w.clone() if g is None else torch.where(wlayer == g, sal_w, torch.full_like(sal_w, math.inf))
                pick = torch.topk(s, k, largest=False).indices
                chosen.append(widx[pick])
                todo[gi] -= k
            chosen = torch.cat(chosen)
            for bi, (a, b) in enumerate(bspans):
                rem = chosen[block_of[chosen] == bi]
                if rem.numel() == 0:
                    continue
                delta, inc, invs[bi] = obs_update(theta[a:b], invs[bi], (rem - a).to(dev))
                theta[a:b] += delta
                self.predicted_increase += inc
            free[chosen] = False
        _write_params(model, theta)
        keep = free[widx].cpu()
        out, i = {}, 0
        for (wname, m), (_, nw, _) in zip(layers.items(), spans):
            out[wname] = keep[i:i + nw].reshape(m.weight.shape).to(m.weight.device)
            i += nw
        return out


# ----------------------------------------------------------------------------- FishLeg surgeon
class FishLegSurgeon(Pruner):
    r"""OBS saliencies and compensation with FishLeg's learned inverse Fisher :math:`Q` (module docstring).

    Saliency :math:`\rho_q = w_q^2/(2Q_{qq})` (from :meth:`FishLeg.q_diagonal`); the weights pruned in one
    call are compensated with :math:`\delta\theta = -Q u`, :math:`u_q = w_q/Q_{qq}` on the removed set
    (one :meth:`FishLeg.inverse_fisher_product`), then zeroed.

    Parameters
    ----------
    fishleg : FishLeg
        An optimiser whose :math:`Q` has been fitted (at least one auxiliary step: training with it,
        or ``fishleg.update_q(x, steps=...)``); its layers must match the pruned model's prunable
        layers one to one (the same network, or a deep copy of it). ``Linear`` and ``Conv2d``
        (``groups=1``) layers, a conv weight read as its ``(C_out, C_in k_h k_w)`` matrix; on a
        SmallCNN, fit Q longer than on an MLP of similar size (its large conv block converges slowly).
    x : Tensor, optional
        Inputs on which :math:`Q` is refined by ``refine_steps`` auxiliary steps before each pruning
        call (gradual pruning: Q is refined, not re-estimated).
    refine_steps : int
    n_steps : int
        A call from sparsity :math:`s_0` to :math:`s` goes through ``n_steps`` equally spaced
        intermediate sparsities, each with its own compensation (and Q refinement): smaller removed
        sets make the summed single-weight compensation closer to the joint one. ``1`` is plain
        one-shot.

    Raises
    ------
    RuntimeError
        At :meth:`prune` when Q has never been fitted (no silent fallback to magnitude pruning).
    """

    name = "fls"

    def __init__(self, fishleg: FishLeg, *, x: torch.Tensor | None = None, refine_steps: int = 0,
                 n_steps: int = 1):
        if not isinstance(fishleg, FishLeg):
            raise TypeError(f"FishLegSurgeon needs a neurolatent.methods.optim.FishLeg optimiser, got {type(fishleg).__name__}")
        if int(refine_steps) < 0 or (refine_steps and x is None):
            raise ValueError("FishLegSurgeon: refine_steps must be >= 0, and needs inputs x to refine Q on")
        if int(n_steps) < 1:
            raise ValueError(f"FishLegSurgeon: n_steps must be >= 1, got {n_steps!r}")
        self.fishleg, self.x, self.refine_steps, self.n_steps = fishleg, x, int(refine_steps), int(n_steps)

    def _check_fitted(self) -> None:
        if not self.fishleg.aux_history:
            raise RuntimeError(
                "FishLegSurgeon: the FishLeg optimiser has not fitted its inverse Fisher Q yet (no auxiliary step "
                "taken, Q is still its initial multiple of I); train with it or call fishleg.update_q(x, steps=...) "
                "first. There is no fallback to magnitude pruning; use MagnitudePruner for that")

    def _pairs(self, model: nn.Module) -> list[tuple[str, nn.Module, nn.Module]]:
        entries = _layer_entries(model)
        fl = self.fishleg.layers
        if len(entries) != len(fl) or any(m.weight.shape != f.weight.shape or (m.bias is None) != (f.bias is None)
                                          for (_, m, _), f in zip(entries, fl)):
            raise ValueError(
                f"FishLegSurgeon: the model's prunable layers {[tuple(m.weight.shape) for _, m, _ in entries]} do not "
                f"match the FishLeg optimiser's Linear/Conv2d layers {[tuple(f.weight.shape) for f in fl]}; "
                "build FishLeg on this network (or the network it was copied from)")
        return [(w, m, f) for (w, m, _), f in zip(entries, fl)]

    def _q_diag(self) -> dict[nn.Module, torch.Tensor]:
        names = {id(p): k for k, p in self.fishleg.model.named_parameters()}
        diag = self.fishleg.q_diagonal()
        return {f: diag[names[id(f.weight)]] for f in self.fishleg.layers}

    def scores(self, model: nn.Module) -> dict[str, torch.Tensor]:
        self._check_fitted()
        qd = self._q_diag()
        return {w: m.weight.detach() ** 2 / (2 * qd[f].to(m.weight).clamp_min(1e-30))
                for w, m, f in self._pairs(model)}

    def _prune(self, model, layers, sparsity, scope, current):
        self._check_fitted()
        if self.n_steps == 1:
            return self._prune_once(model, layers, sparsity, scope, current)
        n_w = sum(m.numel() for m in current.values())
        s0 = 1.0 - sum(int(m.sum()) for m in current.values()) / n_w
        masks = current
        for k in range(1, self.n_steps + 1):
            target = s0 + (sparsity - s0) * k / self.n_steps
            masks = self._prune_once(model, layers, target, scope, masks)
            apply_masks(model, masks)
        return masks

    def _prune_once(self, model, layers, sparsity, scope, current):
        if self.refine_steps:
            self.fishleg.update_q(self.x.to(self.fishleg.layers[0].weight.device), steps=self.refine_steps)
        masks = super()._prune(model, layers, sparsity, scope, current)
        pairs = self._pairs(model)
        qd = self._q_diag()
        tangents = {}
        for w, m, f in pairs:
            removed = current[w] & ~masks[w]
            u = torch.where(removed, m.weight.detach() / qd[f].to(m.weight).clamp_min(1e-30),
                            torch.zeros_like(m.weight))
            tangents[f] = (u.to(f.weight), torch.zeros_like(f.bias) if f.bias is not None else None)
        delta = self.fishleg.inverse_fisher_product(tangents)
        with torch.no_grad():
            for w, m, f in pairs:
                dw, db = delta[f]
                m.weight.sub_(dw.to(m.weight))
                if m.bias is not None:
                    m.bias.sub_(db.to(m.bias))
        return masks


def inverse_fisher_cosine(fishleg: FishLeg, model: nn.Module, x: torch.Tensor, y: torch.Tensor, *,
                          damping: float | None = None, block: str = "layer", loss: str = "cross_entropy") -> float:
    r"""Cosine between FishLeg's :math:`Q g` and the exact :math:`(F + \gamma I)^{-1} g` at the loss gradient.

    :math:`g` is the gradient of the mean loss on ``(x, y)`` (cross-entropy, or
    :math:`\tfrac12\lVert f - \mathrm{onehot}(y)\rVert^2` with ``loss="mse"``) with respect to the prunable
    layers' parameters; :math:`F` is the exact Fisher / Gauss-Newton at ``x`` for the same loss (per layer
    with ``block="layer"``, the structure FishLeg approximates, or ``"full"``); :math:`\gamma` defaults
    to FishLeg's damping.
    """
    gamma = float(fishleg.param_groups[0]["damping"] if damping is None else damping)
    pairs = FishLegSurgeon(fishleg)._pairs(model)
    model.zero_grad(set_to_none=True)
    was = model.training
    model.eval()
    with masks_paused(model):
        out = model(x)
        if loss == "mse":
            (0.5 * ((out - F.one_hot(y, out.shape[1]).to(out)) ** 2).sum(1).mean()).backward()
        else:
            F.cross_entropy(out, y).backward()
    model.train(was)
    grads = {f: (m.weight.grad.detach(), m.bias.grad.detach() if m.bias is not None else None) for _, m, f in pairs}
    qg = fishleg.inverse_fisher_product(grads)
    flat_q = torch.cat([torch.cat([a.reshape(-1), b.reshape(-1)] if b is not None else [a.reshape(-1)])
                        for a, b in (qg[f] for _, _, f in pairs)]).to(torch.float64)
    flat_g = torch.cat([torch.cat([a.reshape(-1), b.reshape(-1)] if b is not None else [a.reshape(-1)])
                        for a, b in (grads[f] for _, _, f in pairs)]).to(torch.float64)
    fs = fisher_blocks(model, x, block=block, loss=loss)
    parts, i = [], 0
    for f in fs:
        n = f.shape[0]
        parts.append(torch.linalg.solve(f + gamma * torch.eye(n, dtype=f.dtype), flat_g[i:i + n].cpu()))
        i += n
    exact = torch.cat(parts)
    model.zero_grad(set_to_none=True)
    return float(torch.nn.functional.cosine_similarity(flat_q.cpu(), exact, dim=0))
