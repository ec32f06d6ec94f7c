"""The shared pipeline: an encoder, :func:`pretrain` on unlabelled views, then frozen-feature probes.

* :class:`SSLEncoder` -- a backbone (the representation that is probed) followed by a projector
  (what the loss sees); :func:`make_encoder` builds a tiny one on ``nl.methods.common`` networks;
* :func:`pretrain` -- the seeded training loop; the loss object decides the views, the step and
  what happens after it (:class:`~neurolatent.methods.ssl.SSLLoss`);
* :func:`embed`, :func:`linear_probe` (closed-form ridge or L-BFGS logistic regression) and
  :func:`knn_probe` on frozen features.
"""
from __future__ import annotations

import time
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm

from ..._utils import make_generator, resolve_device
from ..common import MLP, ClassificationData, SmallCNN, make_optimizer
from .augment import make_augment
from .losses import SSLLoss

__all__ = ["SSLEncoder", "make_encoder", "pretrain", "embed", "linear_probe", "knn_probe"]


class SSLEncoder(nn.Module):
    """``projector(backbone(x))``; :meth:`represent` returns the backbone output (the probed features).

    Parameters
    ----------
    backbone, projector : nn.Module

    Examples
    --------
    >>> enc = make_encoder((1, 16, 16), rep_dim=8, proj_dim=4, seed=0)
    >>> x = torch.randn(5, 1, 16, 16)
    >>> enc(x).shape, enc.represent(x).shape
    (torch.Size([5, 4]), torch.Size([5, 8]))
    """

    def __init__(self, backbone: nn.Module, projector: nn.Module | None = None):
        super().__init__()
        self.backbone = backbone
        self.projector = projector if projector is not None else nn.Identity()

    def represent(self, x: torch.Tensor) -> torch.Tensor:
        """Backbone features ``(n, rep_dim)``."""
        return self.backbone(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.projector(self.backbone(x))


def make_encoder(input_shape: Sequence[int], *, rep_dim: int = 64, proj_dim: int = 32,
                 channels: Sequence[int] = (16, 32), hidden: Sequence[int] = (128,), proj_hidden: int = 64,
                 arch: str = "auto", seed: int | None = 0, device: str | torch.device | None = None,
                 dtype: torch.dtype | None = None) -> SSLEncoder:
    """A tiny encoder for ``input_shape``: a :class:`~neurolatent.methods.common.SmallCNN` for images
    ``(c, h, w)`` or signals ``(c, length)``, an :class:`~neurolatent.methods.common.MLP` for flat
    inputs ``(d,)`` or with ``arch="mlp"`` (inputs are flattened), whose read-out gives ``rep_dim``
    features; then a projector ``Linear -> BatchNorm -> ReLU -> Linear`` to ``proj_dim`` (none if
    ``proj_dim`` is 0). ``channels`` are the CNN's, ``hidden`` the MLP's widths.
    """
    shape = tuple(int(s) for s in input_shape)
    if arch not in ("auto", "cnn", "mlp"):
        raise ValueError(f"arch must be 'auto', 'cnn' or 'mlp', got {arch!r}")
    if arch == "cnn" and len(shape) not in (2, 3):
        raise ValueError(f"arch='cnn' needs input_shape (c, length) or (c, h, w), got {shape}")
    if arch == "mlp" and len(shape) >= 1:
        backbone = MLP(int(np.prod(shape)), tuple(hidden), rep_dim, seed=seed, device=device, dtype=dtype)
    elif len(shape) == 3 or len(shape) == 2:
        backbone = SmallCNN(shape[0], tuple(channels), rep_dim, ndim=len(shape) - 1, seed=seed, device=device,
                            dtype=dtype)
    elif len(shape) == 1:
        backbone = MLP(shape[0], tuple(hidden), rep_dim, seed=seed, device=device, dtype=dtype)
    else:
        raise ValueError(f"input_shape must be (d,), (c, length) or (c, h, w), got {tuple(input_shape)}")
    projector = None
    if proj_dim:
        with torch.random.fork_rng(devices=[]):
            if seed is not None:
                torch.manual_seed(int(seed) + 1)
            projector = nn.Sequential(nn.Linear(rep_dim, proj_hidden), nn.BatchNorm1d(proj_hidden), nn.ReLU(),
                                      nn.Linear(proj_hidden, proj_dim))
        projector.to(device=resolve_device(device), dtype=dtype)
    return SSLEncoder(backbone, projector)


def _inputs(data: ClassificationData | torch.Tensor) -> torch.Tensor:
    if isinstance(data, ClassificationData):
        return data.x_train
    if isinstance(data, torch.Tensor):
        return data
    raise TypeError(f"data must be a ClassificationData or a tensor of inputs, got {type(data).__name__}")


def pretrain(encoder: nn.Module, data: ClassificationData | torch.Tensor, loss: SSLLoss | Callable,
             augment=None, *, epochs: int = 10, batch_size: int = 128, lr: float = 1e-3,
             optimizer: str | torch.optim.Optimizer | Callable = "adam", weight_decay: float = 0.0,
             seed: int | None = 0, device: str | torch.device | None = None, progress: bool = False,
             callback: Callable[[dict], "bool | None"] | None = None) -> dict[str, list]:
    """Self-supervised training of ``encoder`` (in place) on the unlabelled inputs of ``data``.

    Every minibatch: ``views = loss.make_views(x, augment, gen)``, ``l = loss.step_loss(encoder, views)``,
    back-propagate, one optimiser step over the encoder's parameters and ``loss.trainable_parameters()``,
    then ``loss.after_step(encoder)``. A plain callable ``loss(z1, z2)`` gets two augmented views.

    Parameters
    ----------
    encoder : nn.Module
        Maps a batch of inputs to embeddings ``(n, d)`` (e.g. :func:`make_encoder`).
    data : ClassificationData or Tensor
        Only the training inputs are used (labels are ignored).
    loss : SSLLoss or callable
        The objective (e.g. :class:`~neurolatent.methods.ssl.InfoNCE`).
    augment : str, list, Augmentation or callable, optional
        Anything :func:`~neurolatent.methods.ssl.make_augment` accepts (default: identity).
    epochs, batch_size, lr, optimizer, weight_decay
        Training schedule (the last batch is dropped when it has a single sample).
    seed : int or None
        Seeds the minibatch order and every augmentation (a private CPU generator).
    device : str or torch.device, optional
        Where to train (default: where the encoder's parameters are).
    progress, callback
        A tqdm bar over epochs; ``callback(state)`` at the end of every epoch with
        ``{"epoch", "encoder", "history"}``, returning ``True`` stops.

    Returns
    -------
    dict of lists
        ``epoch``, ``loss`` (mean over the epoch's batches), ``time`` (seconds since the start) and
        ``epoch_time`` (seconds of that epoch).

    Examples
    --------
    >>> from neurolatent.methods.ssl import InfoNCE, upsampled_digits
    >>> d = upsampled_digits(16)
    >>> enc = make_encoder(d.input_shape, rep_dim=16, proj_dim=8, channels=(4, 8), seed=0)
    >>> h = pretrain(enc, d.x_train[:64], InfoNCE(), "crop", epochs=1, batch_size=32)
    >>> len(h["loss"])
    1
    """
    x = _inputs(data)
    if epochs < 0 or batch_size < 1:
        raise ValueError(f"epochs must be >= 0 and batch_size >= 1, got epochs={epochs}, batch_size={batch_size}")
    first = next(iter(encoder.parameters()), None)
    dev = resolve_device(device, first)
    encoder.to(dev)
    x = x.to(dev)
    n = x.shape[0]
    aug = make_augment(augment)
    is_ssl = isinstance(loss, SSLLoss)
    if isinstance(loss, nn.Module):
        loss.to(dev)
    if is_ssl:
        loss.setup(encoder, n, batch_size)
    elif batch_size < 2:
        raise ValueError(f"batch_size={batch_size}; self-supervised losses need batch_size >= 2")
    params = list(encoder.parameters()) + (loss.trainable_parameters() if is_ssl else [])
    opt = make_optimizer(optimizer, params, lr=lr, weight_decay=weight_decay)
    gen = make_generator(seed, "cpu")
    history: dict[str, list] = {"epoch": [], "loss": [], "time": [], "epoch_time": []}
    t0 = time.perf_counter()
    for epoch in tqdm(range(epochs), desc="pretrain", disable=not progress, leave=False):
        te = time.perf_counter()
        encoder.train()
        order = torch.randperm(n, generator=gen).to(dev)
        total, count = 0.0, 0
        for i in range(0, n, batch_size):
            idx = order[i:i + batch_size]
            if idx.numel() < 2:
                continue
            xb = x[idx]
            if is_ssl:
                views = loss.make_views(xb, aug, gen)
            else:
                views = [aug(xb, gen), aug(xb, gen)]
            opt.zero_grad(set_to_none=True)
            value = loss.step_loss(encoder, views) if is_ssl else loss(encoder(views[0]), encoder(views[1]))
            if not torch.isfinite(value):
                raise FloatingPointError(f"pretrain: the loss became {float(value)} at epoch {epoch}; "
                                         f"lower lr (now {lr}) or check the inputs for NaN/inf")
            value.backward()
            opt.step()
            if is_ssl:
                loss.after_step(encoder)
            total += float(value.detach()) * idx.numel()
            count += idx.numel()
        history["epoch"].append(epoch)
        history["loss"].append(total / max(count, 1))
        history["time"].append(time.perf_counter() - t0)
        history["epoch_time"].append(time.perf_counter() - te)
        if callback is not None and callback({"epoch": epoch, "encoder": encoder, "history": history}):
            break
    return history


@torch.no_grad()
def embed(encoder: nn.Module, x: torch.Tensor, *, batch_size: int = 2048, projected: bool = False) -> torch.Tensor:
    """Frozen features of ``x`` in evaluation mode: ``encoder.represent(x)`` for an :class:`SSLEncoder`
    (``encoder(x)`` with ``projected=True``), else ``encoder(x)``. The train/eval mode is restored."""
    was = encoder.training
    encoder.eval()
    try:
        first = next(iter(encoder.parameters()), None)
        dev = first.device if first is not None else x.device
        f = encoder.represent if isinstance(encoder, SSLEncoder) and not projected else encoder
        return torch.cat([f(x[i:i + batch_size].to(dev)) for i in range(0, x.shape[0], batch_size)])
    finally:
        encoder.train(was)


def _features(encoder, data: ClassificationData, projected: bool) -> tuple[torch.Tensor, torch.Tensor]:
    if not isinstance(data, ClassificationData):
        raise TypeError(f"probes need labelled data (a ClassificationData), got {type(data).__name__}")
    ftr = embed(encoder, data.x_train, projected=projected).double()
    fte = embed(encoder, data.x_test, projected=projected).double()
    mu, sd = ftr.mean(0), ftr.std(0).clamp_min(1e-8)
    return (ftr - mu) / sd, (fte - mu) / sd


def linear_probe(encoder: nn.Module, data: ClassificationData, *, method: str = "ridge", l2: float = 1e-3,
                 max_iter: int = 200, projected: bool = False) -> float:
    r"""Test accuracy of a linear classifier trained on frozen, standardised features.

    ``method="ridge"``: closed-form ridge regression onto one-hot labels,
    :math:`W = (F^\top F + \lambda n I)^{-1} F^\top (Y - \bar Y)` on centred features, predicting
    :math:`\arg\max_k (F W)_k`. ``method="logistic"``: multinomial logistic regression with penalty
    :math:`\tfrac{\lambda}{2}\|W\|^2` fitted by full-batch L-BFGS (``max_iter`` iterations, float64).

    Parameters
    ----------
    encoder : nn.Module
    data : ClassificationData
        Features of ``x_train`` fit the probe; the accuracy is on ``x_test``.
    method : {"ridge", "logistic"}
    l2 : float
        :math:`\lambda`.
    projected : bool
        Probe the projector output instead of the backbone's.

    Returns
    -------
    float
        Test accuracy in ``[0, 1]``.
    """
    if method not in ("ridge", "logistic"):
        raise ValueError(f"method must be 'ridge' or 'logistic', got {method!r}")
    ftr, fte = _features(encoder, data, projected)
    ytr, yte = data.y_train.to(ftr.device), data.y_test.to(ftr.device)
    n, d = ftr.shape
    if method == "ridge":
        y1 = F.one_hot(ytr, data.n_classes).double()
        w = torch.linalg.solve(ftr.T @ ftr + l2 * n * torch.eye(d, dtype=ftr.dtype, device=ftr.device),
                               ftr.T @ (y1 - y1.mean(0)))
        pred = (fte @ w).argmax(1)
    else:
        w = torch.zeros(d, data.n_classes, dtype=ftr.dtype, device=ftr.device, requires_grad=True)
        b = torch.zeros(data.n_classes, dtype=ftr.dtype, device=ftr.device, requires_grad=True)
        opt = torch.optim.LBFGS([w, b], lr=1.0, max_iter=max_iter, line_search_fn="strong_wolfe")

        def closure():
            opt.zero_grad()
            obj = F.cross_entropy(ftr @ w + b, ytr) + 0.5 * l2 * (w ** 2).sum()
            obj.backward()
            return obj

        with torch.enable_grad():
            opt.step(closure)
        pred = (fte @ w.detach() + b.detach()).argmax(1)
    return float((pred == yte).double().mean())


def knn_probe(encoder: nn.Module, data: ClassificationData, *, k: int = 20, projected: bool = False) -> float:
    """Test accuracy of a ``k``-nearest-neighbour vote (cosine similarity of standardised features).

    Each test point takes the majority label among its ``k`` most similar training points; ties
    go to the label whose neighbours have the larger summed similarity.
    """
    ftr, fte = _features(encoder, data, projected)
    if not 1 <= k <= ftr.shape[0]:
        raise ValueError(f"k must lie in 1..{ftr.shape[0]} (the training set size), got {k}")
    sim = F.normalize(fte, dim=1) @ F.normalize(ftr, dim=1).T
    top, idx = sim.topk(k, dim=1)
    labels = data.y_train.to(idx.device)[idx]
    votes = torch.zeros(fte.shape[0], data.n_classes, dtype=sim.dtype, device=sim.device)
    votes.scatter_add_(1, labels, 1.0 + 1e-3 * top)
    return float((votes.argmax(1) == data.y_test.to(idx.device)).double().mean())
