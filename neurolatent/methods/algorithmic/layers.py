"""Per-feature encoders and decoders of the encode-process-decode model, chosen by location and type.

A feature value is first made *dense* (:func:`dense`): a float tensor with a trailing channel axis
whose location is where the encoder adds it -- node ``(B, n, c)``, edge ``(B, n, n, c)`` or graph
``(B, c)``. ``mask_one`` indices become one-hot node flags, categorical indices one-hot classes
(``-1`` gives all zeros) and node pointers ``pi[i] = j`` the one-hot *edge* flag on ``(i, j)``, as
in CLRS (Veličković et al. 2022). Decoders return logits in the same layout (no channel axis for
one-channel features); :func:`soft` turns them into the dense form that is fed back as the next
hint when hints are not teacher-forced.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .specs import Feature

__all__ = ["dense", "soft", "dense_location", "FeatureEncoder", "FeatureDecoder"]


def dense_location(feature: Feature) -> str:
    """Where a feature is added after encoding: a node pointer becomes an edge feature."""
    return "edge" if feature.type == "pointer" else feature.location


def _channels(feature: Feature) -> int:
    return feature.n_classes if feature.type == "categorical" else 1


def dense(feature: Feature, value: torch.Tensor, n_nodes: int, dtype: torch.dtype) -> torch.Tensor:
    """The dense float form of a stored value (batch axis first, no time axis).

    Parameters
    ----------
    feature : Feature
    value : Tensor
        Shape ``(B, *feature.value_shape(n))``.
    n_nodes : int
    dtype : torch.dtype

    Returns
    -------
    Tensor
        ``(B, n, c)``, ``(B, n, n, c)`` or ``(B, c)`` following :func:`dense_location`.
    """
    if feature.type == "mask_one":
        return F.one_hot(value.long(), n_nodes).to(dtype).unsqueeze(-1)
    if feature.type == "pointer":
        return F.one_hot(value.long(), n_nodes).to(dtype).unsqueeze(-1)
    if feature.type == "categorical":
        valid = value >= 0
        out = F.one_hot(value.long().clamp(min=0), feature.n_classes).to(dtype)
        return out * valid.unsqueeze(-1).to(dtype)
    return value.to(dtype).unsqueeze(-1)


def soft(feature: Feature, logits: torch.Tensor) -> torch.Tensor:
    """The dense form of a prediction: probabilities (sigmoid, softmax over nodes or classes) or the scalar."""
    if feature.type == "scalar":
        return logits.unsqueeze(-1)
    if feature.type == "mask":
        return torch.sigmoid(logits).unsqueeze(-1)
    if feature.type in ("mask_one", "pointer"):
        return torch.softmax(logits, dim=-1).unsqueeze(-1)
    return torch.softmax(logits, dim=-1)


class FeatureEncoder(nn.Module):
    """A linear map of one feature's dense form to the hidden width (added to node/edge/graph embeddings).

    Parameters
    ----------
    feature : Feature
    hidden : int
    device, dtype
    """

    def __init__(self, feature: Feature, hidden: int, *, device=None, dtype=None) -> None:
        super().__init__()
        self.feature = feature
        self.location = dense_location(feature)
        self.linear = nn.Linear(_channels(feature), hidden, device=device, dtype=dtype)

    def forward(self, x_dense: torch.Tensor) -> torch.Tensor:
        """``(B, ..., c) -> (B, ..., hidden)``."""
        return self.linear(x_dense)


class FeatureDecoder(nn.Module):
    """Logits of one feature from the node states ``h`` (B, n, H), edge embeddings ``e`` (B, n, n, H)
    and graph embedding ``g`` (B, H).

    Node features: a linear read-out of ``h_i``. Pointers and edge features: additive attention
    ``w^T relu(U h_i + V h_j + E e_ij)`` (a pointer's logits are a softmax over ``j``). Graph features:
    a linear read-out of ``[max_i h_i, g]``.

    Returns
    -------
    Tensor
        node ``(B, n[, C])``, mask_one ``(B, n)``, pointer ``(B, n, n)``, edge ``(B, n, n[, C])``,
        graph ``(B[, C])``.
    """

    def __init__(self, feature: Feature, hidden: int, *, device=None, dtype=None) -> None:
        super().__init__()
        self.feature = feature
        out = _channels(feature)
        kw = {"device": device, "dtype": dtype}
        if feature.type == "pointer" or feature.location == "edge":
            self.u = nn.Linear(hidden, hidden, **kw)
            self.v = nn.Linear(hidden, hidden, bias=False, **kw)
            self.e = nn.Linear(hidden, hidden, bias=False, **kw)
            self.w = nn.Linear(hidden, out, **kw)
        elif feature.location == "graph":
            self.w = nn.Linear(2 * hidden, out, **kw)
        else:
            self.w = nn.Linear(hidden, out, **kw)

    def forward(self, h: torch.Tensor, e: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
        f = self.feature
        if f.type == "pointer" or f.location == "edge":
            z = torch.relu(self.u(h)[:, :, None] + self.v(h)[:, None, :] + self.e(e))
            out = self.w(z)
        elif f.location == "graph":
            out = self.w(torch.cat([h.max(dim=1).values, g], dim=-1))
        else:
            out = self.w(h)
        return out.squeeze(-1) if f.type != "categorical" else out
