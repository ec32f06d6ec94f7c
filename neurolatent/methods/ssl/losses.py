"""Two-view self-supervised objectives as ``nn.Module`` losses, and the hooks :func:`pretrain` calls.

Every loss here is an :class:`SSLLoss`: ``loss(z1, z2)`` maps the embeddings of two views of the
same batch, each ``(n, d)``, to a scalar. :func:`~neurolatent.methods.ssl.pretrain` asks the loss
object how to train (so a method that needs more than two views, a momentum encoder or an
adversary overrides one hook and the loop stays the same):

* :meth:`SSLLoss.setup` -- once, before training (checks the data, builds state);
* :meth:`SSLLoss.make_views` -- the augmented views of a batch (two by default);
* :meth:`SSLLoss.step_loss` -- the scalar to back-propagate, from the encoder and the views;
* :meth:`SSLLoss.after_step` -- after each optimiser step (momentum updates, adversaries).

This file holds the base class and the three batch-statistics baselines: :class:`InfoNCE`
(SimCLR), :class:`BarlowTwins` and :class:`VICReg`.
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

__all__ = ["SSLLoss", "InfoNCE", "BarlowTwins", "VICReg", "check_views"]


def check_views(z1: torch.Tensor, z2: torch.Tensor, where: str) -> None:
    """Raise a clear error unless ``z1``, ``z2`` are two ``(n, d)`` batches with ``n >= 2`` of the same shape."""
    if z1.shape != z2.shape:
        raise ValueError(f"{where}: the two views' embeddings have shapes {tuple(z1.shape)} and {tuple(z2.shape)}; "
                         "they must match (same batch, same embedding size)")
    if z1.dim() != 2:
        raise ValueError(f"{where}: embeddings must be (batch, dim) matrices, got shape {tuple(z1.shape)}; "
                         "flatten the encoder output")
    if z1.shape[0] < 2:
        raise ValueError(f"{where}: a batch of size {z1.shape[0]} has no negatives / batch statistics; "
                         "use batch_size >= 2 (pretrain drops a last batch of size 1)")


class SSLLoss(nn.Module):
    """Base class of the two-view objectives; subclasses implement ``forward(z1, z2) -> scalar``."""

    def setup(self, encoder: nn.Module, n_samples: int, batch_size: int) -> None:
        """Called by :func:`pretrain` before training; checks the batch size by default."""
        if batch_size < 2:
            raise ValueError(f"{type(self).__name__}: batch_size={batch_size}; self-supervised losses need "
                             "batch_size >= 2")

    def make_views(self, x: torch.Tensor, augment: Callable, generator: torch.Generator | None) -> list[torch.Tensor]:
        """Two independently augmented views of the batch ``x``."""
        return [augment(x, generator), augment(x, generator)]

    def step_loss(self, encoder: nn.Module, views: list[torch.Tensor]) -> torch.Tensor:
        """The loss to back-propagate: ``self(encoder(views[0]), encoder(views[1]))``."""
        return self(encoder(views[0]), encoder(views[1]))

    def after_step(self, encoder: nn.Module) -> None:
        """Called after each optimiser step (nothing by default)."""

    def trainable_parameters(self) -> list[nn.Parameter]:
        """Parameters of the loss trained with the encoder by :func:`pretrain` (those requiring grad)."""
        return [p for p in self.parameters() if p.requires_grad]


class InfoNCE(SSLLoss):
    r"""SimCLR's NT-Xent / InfoNCE loss (Chen et al. 2020; van den Oord et al. 2018).

    With :math:`u_k` the L2-normalised rows of :math:`[z_1; z_2]` (:math:`2n` of them) and
    :math:`k^+` the other view of sample :math:`k`,

    .. math:: \mathcal L = \frac{1}{2n}\sum_{k=1}^{2n} -\log
              \frac{\exp(u_k\cdot u_{k^+}/\tau)}{\sum_{l\ne k}\exp(u_k\cdot u_l/\tau)} .

    Parameters
    ----------
    temperature : float
        :math:`\tau > 0`.

    Examples
    --------
    >>> z = torch.randn(8, 4)
    >>> float(InfoNCE(0.5)(z, z)) < float(InfoNCE(0.5)(z, torch.randn(8, 4)))
    True
    """

    def __init__(self, temperature: float = 0.2):
        super().__init__()
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        self.temperature = float(temperature)

    def forward(self, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
        check_views(z1, z2, "InfoNCE")
        n = z1.shape[0]
        u = F.normalize(torch.cat([z1, z2]), dim=1)
        logits = u @ u.T / self.temperature
        logits = logits.masked_fill(torch.eye(2 * n, dtype=torch.bool, device=u.device), float("-inf"))
        target = torch.cat([torch.arange(n, 2 * n), torch.arange(n)]).to(u.device)
        return F.cross_entropy(logits, target)


def _standardise(z: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Per-coordinate batch standardisation (biased variance, as BatchNorm without affine)."""
    return (z - z.mean(0)) / torch.sqrt(z.var(0, unbiased=False) + eps)


class BarlowTwins(SSLLoss):
    r"""Barlow Twins (Zbontar et al. 2021): make the cross-correlation matrix of two views the identity.

    With :math:`\tilde z_v` the batch-standardised embeddings and
    :math:`C = \tilde z_1^\top \tilde z_2 / n` (shape :math:`d\times d`),

    .. math:: \mathcal L = \sum_i (1 - C_{ii})^2 + \lambda \sum_{i\ne j} C_{ij}^2 .

    Parameters
    ----------
    lambd : float
        Weight :math:`\lambda` of the redundancy-reduction term (the paper's 5e-3 for ``d = 8192``;
        ``None`` uses :math:`1/d`, suited to small embeddings).
    """

    def __init__(self, lambd: float | None = None):
        super().__init__()
        self.lambd = lambd

    def forward(self, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
        check_views(z1, z2, "BarlowTwins")
        n, d = z1.shape
        c = _standardise(z1).T @ _standardise(z2) / n
        lambd = 1.0 / d if self.lambd is None else self.lambd
        diag = torch.diagonal(c)
        return ((1 - diag) ** 2).sum() + lambd * ((c ** 2).sum() - (diag ** 2).sum())


class VICReg(SSLLoss):
    r"""VICReg (Bardes, Ponce & LeCun 2022): variance, invariance and covariance terms.

    .. math:: \mathcal L = \lambda\,\tfrac1{nd}\|z_1 - z_2\|_F^2
              + \mu \sum_{v} \tfrac1d\sum_j \max\big(0, \gamma - \sqrt{\mathrm{Var}(z_{v,j}) + \epsilon}\big)
              + \nu \sum_{v} \tfrac1d \sum_{i\ne j} \mathrm{Cov}(z_v)_{ij}^2 ,

    with unbiased batch variances and covariances.

    Parameters
    ----------
    sim_weight, var_weight, cov_weight : float
        :math:`\lambda, \mu, \nu` (the paper's 25, 25, 1).
    gamma, eps : float
        Target standard deviation and the variance floor inside the square root.
    """

    def __init__(self, sim_weight: float = 25.0, var_weight: float = 25.0, cov_weight: float = 1.0,
                 gamma: float = 1.0, eps: float = 1e-4):
        super().__init__()
        self.sim_weight, self.var_weight, self.cov_weight = float(sim_weight), float(var_weight), float(cov_weight)
        self.gamma, self.eps = float(gamma), float(eps)

    def terms(self, z1: torch.Tensor, z2: torch.Tensor) -> dict[str, torch.Tensor]:
        """The unweighted ``invariance``, ``variance`` and ``covariance`` terms."""
        check_views(z1, z2, "VICReg")
        n, d = z1.shape
        inv = F.mse_loss(z1, z2)
        var = z1.new_zeros(())
        cov = z1.new_zeros(())
        for z in (z1, z2):
            zc = z - z.mean(0)
            std = torch.sqrt(zc.var(0) + self.eps)
            var = var + F.relu(self.gamma - std).mean()
            c = zc.T @ zc / (n - 1)
            cov = cov + ((c ** 2).sum() - (torch.diagonal(c) ** 2).sum()) / d
        return {"invariance": inv, "variance": var, "covariance": cov}

    def forward(self, z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
        t = self.terms(z1, z2)
        return self.sim_weight * t["invariance"] + self.var_weight * t["variance"] + self.cov_weight * t["covariance"]
