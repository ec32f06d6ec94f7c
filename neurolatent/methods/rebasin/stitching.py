r"""Model stitching ("Dr. Frankenstein", Csiszárik et al. 2021, "Similarity and matching of neural
network representations").

The front of network A (blocks :math:`1..k`) is joined to the back of network B (blocks
:math:`k+1..L`) through an affine *stitching layer* :math:`T(h) = M h + c` acting on the units
(channels, for convolutions: a 1x1 convolution, the same map at every position):

.. math:: f_{A\to B}(x) = f^B_{>k}\big(T(f^A_{\le k}(x))\big).

Both networks stay frozen; only :math:`T` is fitted, either

* ``method="lstsq"`` -- *matching*: :math:`\min_{M,c}\lVert M h^A + c - h^B\rVert^2` over the data
  (ordinary least squares via the pseudo-inverse; with ``rank=r`` reduced-rank regression: the
  fitted values are projected on their top-``r`` principal subspace), or
* ``method="task"`` -- trained on the task loss :math:`\ell(f_{A\to B}(x), y)` through B's back,
  initialised at the least-squares solution (optionally low-rank, :math:`M = UV`).

Csiszárik et al. find that task-loss stitching recovers almost the original accuracy at every
layer, least-squares matching is clearly worse, and similarity indices such as CKA do not predict
how well two representations stitch.
"""
from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from ..._utils import resolve_device
from ..common.similarity import representations
from ..common.train import train

__all__ = ["StitchingLayer", "StitchedModel", "stitch", "fit_lstsq_stitch"]


def _units_last(h: torch.Tensor) -> torch.Tensor:
    """``(n, d)`` stays; ``(n, C, *spatial)`` becomes ``(n * prod(spatial), C)``."""
    if h.dim() == 2:
        return h
    return h.movedim(1, -1).reshape(-1, h.shape[1])


class StitchingLayer(nn.Module):
    r"""Affine map :math:`h \mapsto M h + c` on the unit (channel) axis, optionally :math:`M = UV` of rank ``r``.

    Parameters
    ----------
    d_in, d_out : int
        Units of A's layer and of B's layer.
    rank : int, optional
        Low-rank factorisation :math:`M = U V`, :math:`U\in\mathbb R^{d_\text{out}\times r}`,
        :math:`V\in\mathbb R^{r\times d_\text{in}}`; ``None`` gives a full matrix.
    """

    def __init__(self, d_in: int, d_out: int, rank: int | None = None, *, device=None, dtype=None):
        super().__init__()
        if rank is not None and not 1 <= rank <= min(d_in, d_out):
            raise ValueError(f"rank must lie in 1..{min(d_in, d_out)} (the smaller layer width), got {rank}")
        self.rank = rank
        kw = {"device": device, "dtype": dtype}
        if rank is None:
            self.weight = nn.Parameter(torch.zeros(d_out, d_in, **kw))
        else:
            self.u = nn.Parameter(torch.zeros(d_out, rank, **kw))
            self.v = nn.Parameter(torch.zeros(rank, d_in, **kw))
        self.bias = nn.Parameter(torch.zeros(d_out, **kw))

    @property
    def matrix(self) -> torch.Tensor:
        """The map :math:`M`, shape ``(d_out, d_in)``."""
        return self.weight if self.rank is None else self.u @ self.v

    def set_affine(self, matrix: torch.Tensor, bias: torch.Tensor) -> None:
        """Set :math:`M` and :math:`c` (a rank-``r`` layer takes the best rank-``r`` factorisation of ``matrix``)."""
        with torch.no_grad():
            if self.rank is None:
                self.weight.copy_(matrix)
            else:
                uu, s, vh = torch.linalg.svd(matrix, full_matrices=False)
                root = s[: self.rank].sqrt()
                self.u.copy_(uu[:, : self.rank] * root)
                self.v.copy_(root[:, None] * vh[: self.rank])
            self.bias.copy_(bias)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        m = self.matrix
        if h.dim() == 2:
            return F.linear(h, m, self.bias)
        out = torch.einsum("oc,nc...->no...", m, h)
        return out + self.bias.reshape(1, -1, *([1] * (h.dim() - 2)))


class StitchedModel(nn.Module):
    """``back_B(stitch(front_A(x)))``: frozen copies of the two networks around a trainable layer."""

    def __init__(self, model_a: nn.Module, model_b: nn.Module, layer: int, stitch_layer: StitchingLayer):
        super().__init__()
        self.front, self.back, self.layer = model_a, model_b, int(layer)
        self.stitch = stitch_layer
        for p in (*self.front.parameters(), *self.back.parameters()):
            p.requires_grad_(False)

    def train(self, mode: bool = True) -> "StitchedModel":
        # The two halves stay in eval mode (frozen BatchNorm statistics); only the stitch trains.
        super().train(mode)
        self.front.eval()
        self.back.eval()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.back.forward_from(self.stitch(self.front.forward_to(x, self.layer)), self.layer)


def fit_lstsq_stitch(h_a: torch.Tensor, h_b: torch.Tensor, rank: int | None = None,
                     *, rcond: float | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Least-squares affine map from representation ``h_a`` to ``h_b``.

    Solves :math:`\min_{M,c} \sum_i \lVert M a_i + c - b_i\rVert^2` with the pseudo-inverse of the
    centred inputs, :math:`M = \big(\tilde B^\top \tilde A^{+\top}\big)`, :math:`c = \bar b - M\bar a`,
    in float64. With ``rank=r`` it returns the reduced-rank regression solution
    :math:`M_r = \Pi_r M`, where :math:`\Pi_r` projects onto the top-``r`` right singular vectors of
    the fitted values :math:`\tilde A M^\top` (the optimum of the rank-constrained problem).

    Parameters
    ----------
    h_a : Tensor, shape ``(n, d_in)`` or ``(n, C_in, *spatial)``
    h_b : Tensor, shape ``(n, d_out)`` or ``(n, C_out, *spatial)``
        Representations of the same inputs; spatial positions count as samples.

    Returns
    -------
    (M, c) : Tensors of shape ``(d_out, d_in)`` and ``(d_out,)``, in ``h_a``'s dtype.
    """
    a, b = _units_last(h_a).double(), _units_last(h_b).double()
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"h_a gives {a.shape[0]} samples but h_b gives {b.shape[0]}; they must be the same inputs")
    am, bm = a.mean(0), b.mean(0)
    ac, bc = a - am, b - bm
    mt = torch.linalg.pinv(ac, rcond=rcond) @ bc if rcond is not None else torch.linalg.pinv(ac) @ bc  # (d_in, d_out)
    if rank is not None:
        _, _, vh = torch.linalg.svd(ac @ mt, full_matrices=False)
        proj = vh[:rank].T @ vh[:rank]
        mt = mt @ proj
    m = mt.T
    c = bm - m @ am
    return m.to(h_a.dtype), c.to(h_a.dtype)


def stitch(model_a: nn.Module, model_b: nn.Module, layer: int, data, *, method: str = "task",
           rank: int | None = None, epochs: int = 10, lr: float = 1e-3, batch_size: int = 64,
           seed: int | None = 0, device: str | torch.device | None = None, progress: bool = False) -> StitchedModel:
    r"""Stitch the first ``layer`` blocks of ``model_a`` to the remaining blocks of ``model_b``.

    Parameters
    ----------
    model_a, model_b : BlockNet
        Trained networks of the same kind (they may differ in width). Not modified: frozen copies
        are used.
    layer : int
        A hidden layer index (``model_a.hidden_layers``).
    data : ClassificationData or (x, y)
        Training data of the stitching layer.
    method : {"task", "lstsq"}
        ``"lstsq"`` fits :math:`T` by least squares from A's to B's representation
        (:func:`fit_lstsq_stitch`); ``"task"`` starts there and trains :math:`T` with Adam on the
        cross-entropy of the stitched network.
    rank : int, optional
        Low-rank stitching layer.
    epochs, lr, batch_size, seed, progress
        Task training (see :func:`~neurolatent.methods.common.train`).
    device
        Default: ``model_a``'s device.

    Returns
    -------
    StitchedModel

    Examples
    --------
    >>> from neurolatent.methods.common import MLP, make_teacher_classification, train, evaluate
    >>> d = make_teacher_classification(400, 6, 3, seed=0)
    >>> a, b = MLP(6, (16, 16), 3, seed=0), MLP(6, (16, 16), 3, seed=1)
    >>> _ = train(a, d, epochs=3); _ = train(b, d, epochs=3)
    >>> s = stitch(a, b, 1, d, method="lstsq")
    >>> s(d.x_test).shape
    torch.Size([100, 3])
    """
    if method not in ("task", "lstsq"):
        raise ValueError(f"method must be 'task' or 'lstsq', got {method!r}")
    dev = resolve_device(device, next(model_a.parameters()))
    a, b = copy.deepcopy(model_a).to(dev).eval(), copy.deepcopy(model_b).to(dev).eval()
    if layer not in a.hidden_layers or layer not in b.hidden_layers:
        raise IndexError(f"layer {layer} must be a hidden layer of both models: {a.hidden_layers} and {b.hidden_layers}")
    x, y = (data.x_train, data.y_train) if hasattr(data, "x_train") else data
    h_a = representations(a, x, [layer])[layer]
    h_b = representations(b, x, [layer])[layer]
    m, c = fit_lstsq_stitch(h_a, h_b, rank)
    layer_t = StitchingLayer(h_a.shape[1], h_b.shape[1], rank, device=dev, dtype=h_a.dtype)
    layer_t.set_affine(m, c)
    model = StitchedModel(a, b, layer, layer_t)
    if method == "task":
        train(model, (x, y), epochs=epochs, lr=lr, batch_size=batch_size, optimizer="adam", seed=seed,
              params=list(layer_t.parameters()), device=dev, progress=progress)
    return model.eval()
