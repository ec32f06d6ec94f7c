"""Losses and CLRS metrics per feature type.

Losses (on logits): ``scalar`` squared error, ``mask`` binary cross-entropy, ``mask_one`` and
``pointer`` softmax cross-entropy over the nodes, ``categorical`` softmax cross-entropy over the
classes (targets ``-1`` ignored). The hint loss averages the per-frame losses of frames
``1 .. length - 1`` of each trajectory (frame 0 is given).

Metrics as CLRS (Veličković et al. 2022): ``pointer``, ``mask_one`` and ``categorical`` --
accuracy of the arg-max (per node, per graph, per valid element); ``mask`` -- micro-F1 of the
thresholded prediction (``p > 0.5``); ``scalar`` -- mean squared error.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .batch import Batch
from .model import Prediction
from .specs import Feature

__all__ = ["feature_loss", "loss", "feature_score", "scores"]


def _elementwise_loss(feature: Feature, logits: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-element loss and validity mask, both shaped like the target (no class/node axis)."""
    if feature.type == "scalar":
        return (logits - target.to(logits.dtype)) ** 2, torch.ones_like(target, dtype=torch.bool)
    if feature.type == "mask":
        return (F.binary_cross_entropy_with_logits(logits, target.to(logits.dtype), reduction="none"),
                torch.ones_like(target, dtype=torch.bool))
    valid = target >= 0
    safe = target.clamp(min=0).long()
    logp = torch.log_softmax(logits, dim=-1)
    return -logp.gather(-1, safe.unsqueeze(-1)).squeeze(-1), valid


def feature_loss(feature: Feature, logits: torch.Tensor, target: torch.Tensor,
                 weight: torch.Tensor | None = None) -> torch.Tensor:
    """Mean loss of one feature over its valid elements.

    Parameters
    ----------
    feature : Feature
    logits : Tensor
        Decoder output, ``target.shape`` plus a node/class axis where the type has one.
    target : Tensor
        Stored values (indices or floats).
    weight : Tensor, optional
        Broadcastable to ``target``; multiplies the validity mask (e.g. which time frames count).
    """
    per, valid = _elementwise_loss(feature, logits, target)
    w = valid.to(per.dtype)
    if weight is not None:
        w = w * weight.to(per.dtype)
    return (per * w).sum() / w.sum().clamp(min=1.0)


def _frame_weight(batch: Batch, target: torch.Tensor) -> torch.Tensor:
    """(B, T-1, 1, ...) weight: 1 for predicted frames t = 1 .. length-1."""
    t = torch.arange(1, batch.max_length, device=target.device)
    w = (t[None, :] < batch.lengths.to(target.device)[:, None]).float()
    return w.view(w.shape + (1,) * (target.dim() - 2))


def loss(pred: Prediction, batch: Batch, *, hint_weight: float = 1.0) -> tuple[torch.Tensor, dict]:
    """Output loss plus ``hint_weight`` times the hint loss; also the parts as floats.

    Returns
    -------
    total : Tensor (scalar)
    parts : dict
        ``{"output": float, "hint": float}`` (``hint`` is 0 when the model uses no hints).
    """
    spec = batch.spec
    out = sum(feature_loss(spec[k], v, batch.outputs[k].to(v.device)) for k, v in pred["outputs"].items())
    hint = torch.zeros((), device=out.device, dtype=out.dtype)
    for k, v in (pred.get("hints") or {}).items():
        if v is None:
            continue
        target = batch.hints[k][:, 1:].to(v.device)
        hint = hint + feature_loss(spec[k], v, target, _frame_weight(batch, target))
    return out + hint_weight * hint, {"output": float(out.detach()), "hint": float(hint.detach())}


def feature_score(feature: Feature, logits: torch.Tensor, target: torch.Tensor) -> float:
    """The CLRS metric of one feature (accuracy, micro-F1 or MSE; see the module docstring)."""
    with torch.no_grad():
        if feature.type == "scalar":
            return float(((logits - target.to(logits.dtype)) ** 2).mean())
        if feature.type == "mask":
            p, y = logits > 0, target > 0.5
            tp = (p & y).sum().item()
            fp, fn = (p & ~y).sum().item(), (~p & y).sum().item()
            if tp + fp + fn == 0:
                return 1.0  # nothing to find and nothing found
            return 2 * tp / (2 * tp + fp + fn)
        valid = target >= 0
        hit = (logits.argmax(dim=-1) == target) & valid
        return float(hit.sum()) / max(int(valid.sum()), 1)


def scores(pred: Prediction, batch: Batch) -> dict[str, float]:
    """Metric of every output feature, and ``"score"``: their mean (the CLRS per-algorithm score)."""
    out = {k: feature_score(batch.spec[k], v, batch.outputs[k].to(v.device)) for k, v in pred["outputs"].items()}
    out["score"] = sum(out.values()) / len(out)
    return out
