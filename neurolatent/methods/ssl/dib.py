r"""Decodable Information Bottleneck (Dubois, Kiela, Schwab & Vedantam 2020, "Learning optimal
representations with the decodable information bottleneck").

For a predictive family :math:`\mathcal V` (here: MLP decoders of a given width), a representation
:math:`Z` of the training set is *V-sufficient* when the best decoder in :math:`\mathcal V` predicts
the label :math:`Y` from it (:math:`H_\mathcal V[Y|Z]` small) and *V-minimal* when no decoder in
:math:`\mathcal V` can predict anything else about the example -- in particular not arbitrary labellings
:math:`N_k` of the training examples (:math:`H_\mathcal V[N_k|Z]` large). DIB minimises

.. math:: H_\mathcal V[Y|Z] - \beta\, \frac{1}{K}\sum_{k=1}^{K} H_\mathcal V[N_k|Z]

with the paper's adversarial scheme: :math:`K` nuisance heads in :math:`\mathcal V` minimise their
cross-entropy on :math:`N_k` while a gradient-reversal layer makes the encoder maximise it.

* :func:`grad_reverse` -- identity forward, gradient times :math:`-\lambda` backward;
* :func:`nuisance_labels` -- the :math:`K` random labellings :math:`N_k` of the training examples;
* :class:`DIB` and :func:`train_dib` -- encoder, label head and nuisance heads, and their training;
* :func:`decoder_generalisation` -- train a fresh decoder of the family on the frozen representation
  and report its train/test accuracy and generalisation gap;
* :func:`v_information` -- the V-sufficiency and V-minimality estimates of a trained encoder.
"""
from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..._utils import make_generator, resolve_device
from ..common import MLP, ClassificationData, accuracy, train

__all__ = ["grad_reverse", "nuisance_labels", "DIB", "train_dib", "decoder_generalisation", "v_information"]


class _GradReverse(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, scale):
        ctx.scale = scale
        return x.view_as(x)

    @staticmethod
    def backward(ctx, grad):
        return -ctx.scale * grad, None


def grad_reverse(x: torch.Tensor, scale: float = 1.0) -> torch.Tensor:
    r"""Gradient reversal (Ganin & Lempitsky 2015): returns ``x``; back-propagates :math:`-\text{scale}\cdot g`.

    Examples
    --------
    >>> x = torch.ones(3, requires_grad=True)
    >>> grad_reverse(x, 2.0).sum().backward()
    >>> x.grad
    tensor([-2., -2., -2.])
    """
    return _GradReverse.apply(x, float(scale))


def nuisance_labels(n: int, n_heads: int, n_values: int, *, seed: int = 0) -> torch.Tensor:
    """``n_heads`` independent uniform labellings of ``n`` training examples into ``n_values`` classes,
    shape ``(n_heads, n)`` (int64): functions of the example index only, so any decoder that predicts
    them above chance on the training set has memorised which example it sees."""
    if n_heads < 1 or n_values < 2:
        raise ValueError(f"need n_heads >= 1 and n_values >= 2, got {n_heads}, {n_values}")
    g = make_generator(seed)
    return torch.randint(0, int(n_values), (int(n_heads), int(n)), generator=g)


def _decoder(rep_dim: int, hidden: Sequence[int], n_out: int, seed, device, dtype) -> nn.Module:
    if len(hidden) == 0:
        with torch.random.fork_rng(devices=[]):
            if seed is not None:
                torch.manual_seed(int(seed))
            lin = nn.Linear(rep_dim, n_out)
        return lin.to(device=resolve_device(device), dtype=dtype)
    return MLP(rep_dim, tuple(hidden), n_out, seed=seed, device=device, dtype=dtype)


class DIB(nn.Module):
    r"""An encoder :math:`x \mapsto z`, a label head and ``n_heads`` nuisance heads, all heads in the
    decoder family ``decoder_hidden`` (an MLP with those hidden widths; ``()`` is linear).

    Parameters
    ----------
    in_features : int
        Flattened input size.
    rep_dim : int
        Size of :math:`z`.
    n_classes : int
    encoder_hidden, decoder_hidden : sequence of int
    n_heads : int
        :math:`K`, the number of nuisance labellings.
    beta : float
        :math:`\beta`; 0 trains the label head only (an unregularised representation); a negative
        value *rewards* decodable nuisance (a memorising representation), a control used to span a
        range of generalisation behaviour.
    seed, device, dtype
    """

    def __init__(self, in_features: int, rep_dim: int = 32, n_classes: int = 10, *,
                 encoder_hidden: Sequence[int] = (128,), decoder_hidden: Sequence[int] = (64,), n_heads: int = 3,
                 beta: float = 1.0, seed: int | None = 0, device=None, dtype=None):
        super().__init__()
        self.beta, self.n_classes = float(beta), int(n_classes)
        self.encoder = MLP(in_features, tuple(encoder_hidden), rep_dim, seed=seed, device=device, dtype=dtype)
        s = lambda k: None if seed is None else int(seed) * 1000 + k  # noqa: E731
        self.head = _decoder(rep_dim, decoder_hidden, n_classes, s(1), device, dtype)
        self.nuisance_heads = nn.ModuleList(
            [_decoder(rep_dim, decoder_hidden, n_classes, s(2 + k), device, dtype) for k in range(int(n_heads))])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Label logits ``(n, n_classes)``."""
        return self.head(self.encoder(x))

    def loss(self, x: torch.Tensor, y: torch.Tensor, nuisance: torch.Tensor) -> tuple[torch.Tensor, dict]:
        """The DIB objective on a batch; ``nuisance`` has shape ``(n_heads, n)``.

        Returns the scalar to back-propagate (label cross-entropy plus the heads' cross-entropy behind a
        gradient reversal of strength ``beta``) and the two cross-entropies. The heads always descend
        their cross-entropy; with ``beta = 0`` the encoder gets no gradient from them (the baseline).
        """
        z = self.encoder(x)
        ce_y = F.cross_entropy(self.head(z), y)
        zr = grad_reverse(z, self.beta)
        ce_n = torch.stack([F.cross_entropy(h(zr), nuisance[k]) for k, h in enumerate(self.nuisance_heads)]).mean()
        total = ce_y + ce_n  # heads descend ce_n; the reversal sends -beta * its gradient to the encoder
        return total, {"ce_y": float(ce_y.detach()), "ce_nuisance": float(ce_n.detach())}


def train_dib(data: ClassificationData, *, beta: float = 1.0, rep_dim: int = 32, n_heads: int = 3,
              encoder_hidden: Sequence[int] = (128,), decoder_hidden: Sequence[int] = (64,), epochs: int = 50,
              batch_size: int = 64, lr: float = 1e-3, seed: int = 0, device=None) -> tuple[DIB, dict[str, list]]:
    r"""Train a :class:`DIB` on ``data``'s training split (inputs flattened); ``beta=0`` is the
    unregularised baseline (same networks and schedule, the nuisance heads do not touch the encoder).

    Returns
    -------
    model : DIB
    history : dict of lists
        ``epoch``, ``ce_y``, ``ce_nuisance`` (epoch means).

    Examples
    --------
    >>> from neurolatent.methods.common import load_digits
    >>> d = load_digits()
    >>> model, h = train_dib(d, beta=1.0, epochs=1, rep_dim=8, encoder_hidden=(16,), decoder_hidden=(8,))
    >>> model.encoder(d.x_test[:2]).shape
    torch.Size([2, 8])
    """
    if not isinstance(data, ClassificationData):
        raise TypeError(f"data must be a ClassificationData, got {type(data).__name__}")
    if epochs < 0 or batch_size < 2:
        raise ValueError(f"need epochs >= 0 and batch_size >= 2, got {epochs}, {batch_size}")
    dev = resolve_device(device, data.x_train)
    x = data.x_train.flatten(1).to(dev)
    y = data.y_train.to(dev)
    n = x.shape[0]
    model = DIB(x.shape[1], rep_dim, data.n_classes, encoder_hidden=encoder_hidden, decoder_hidden=decoder_hidden,
                n_heads=n_heads, beta=beta, seed=seed, device=dev, dtype=x.dtype)
    nuis = nuisance_labels(n, n_heads, data.n_classes, seed=seed + 7919).to(dev)
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    gen = make_generator(seed)
    hist: dict[str, list] = {"epoch": [], "ce_y": [], "ce_nuisance": []}
    for epoch in range(epochs):
        order = torch.randperm(n, generator=gen).to(dev)
        sums, count = {"ce_y": 0.0, "ce_nuisance": 0.0}, 0
        for i in range(0, n, batch_size):
            idx = order[i:i + batch_size]
            if idx.numel() < 2:
                continue
            opt.zero_grad(set_to_none=True)
            total, parts = model.loss(x[idx], y[idx], nuis[:, idx])
            total.backward()
            opt.step()
            for k in sums:
                sums[k] += parts[k] * idx.numel()
            count += idx.numel()
        hist["epoch"].append(epoch)
        for k in sums:
            hist[k].append(sums[k] / max(count, 1))
    return model, hist


@torch.no_grad()
def _represent(model: DIB | nn.Module, x: torch.Tensor) -> torch.Tensor:
    enc = model.encoder if isinstance(model, DIB) else model
    was = enc.training
    enc.eval()
    try:
        return enc(x.flatten(1).to(next(enc.parameters()).device))
    finally:
        enc.train(was)


def decoder_generalisation(model: DIB | nn.Module, data: ClassificationData, *, hidden: Sequence[int] = (64,),
                           epochs: int = 100, lr: float = 1e-3, seed: int = 0) -> dict[str, float]:
    """Train a fresh decoder of the family (MLP with ``hidden`` widths) on the frozen representation of
    the training split and report ``train_accuracy``, ``test_accuracy``, ``gap`` (train minus test
    accuracy), ``train_loss``, ``test_loss`` and ``loss_gap`` (test minus train cross-entropy)."""
    ztr, zte = _represent(model, data.x_train), _represent(model, data.x_test)
    ytr, yte = data.y_train.to(ztr.device), data.y_test.to(ztr.device)
    dec = _decoder(ztr.shape[1], hidden, data.n_classes, seed, ztr.device, ztr.dtype)
    train(dec, (ztr, ytr), epochs=epochs, batch_size=64, lr=lr, seed=seed)
    with torch.no_grad():
        ltr = float(F.cross_entropy(dec(ztr), ytr))
        lte = float(F.cross_entropy(dec(zte), yte))
    atr, ate = accuracy(dec, ztr, ytr), accuracy(dec, zte, yte)
    return {"train_accuracy": atr, "test_accuracy": ate, "gap": atr - ate, "train_loss": ltr, "test_loss": lte,
            "loss_gap": lte - ltr}


def v_information(model: DIB | nn.Module, data: ClassificationData, *, hidden: Sequence[int] = (64,),
                  n_heads: int = 2, epochs: int = 100, lr: float = 1e-3, seed: int = 0) -> dict[str, float]:
    r"""Estimates of V-sufficiency and V-minimality of a frozen representation of the training split.

    * ``h_y`` -- :math:`\hat H_\mathcal V[Y|Z]`, the training cross-entropy (nats) of a fresh decoder
      of the family fitted to the labels (smaller: more V-sufficient);
    * ``h_n`` -- :math:`\hat H_\mathcal V[N|Z]`, the mean training cross-entropy of fresh decoders
      fitted to ``n_heads`` *new* random labellings of the examples (larger: more V-minimal; at most
      :math:`\log |Y|`);
    * ``log_classes`` -- :math:`\log |Y|`, the chance level of both.
    """
    ztr = _represent(model, data.x_train)
    ytr = data.y_train.to(ztr.device)
    labels = [ytr] + list(nuisance_labels(ztr.shape[0], n_heads, data.n_classes, seed=seed + 104729).to(ztr.device))
    ce = []
    for k, lab in enumerate(labels):
        dec = _decoder(ztr.shape[1], hidden, data.n_classes, seed + k, ztr.device, ztr.dtype)
        train(dec, (ztr, lab), epochs=epochs, batch_size=64, lr=lr, seed=seed + k)
        with torch.no_grad():
            ce.append(float(F.cross_entropy(dec(ztr), lab)))
    return {"h_y": ce[0], "h_n": sum(ce[1:]) / n_heads, "log_classes": float(torch.log(torch.tensor(data.n_classes)))}
