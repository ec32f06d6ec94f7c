"""ReLICv2: contrastive loss plus an explicit invariance (KL) term, with large and small crops.

Tomasev et al. 2022, "Pushing the limits of self-supervised ResNets: can we outperform supervised
learning without labels on ImageNet?" (ReLICv2), building on Mitrovic et al. 2021, "Representation
learning via invariant causal mechanisms" (ReLIC).
"""
from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F
from torch import nn

from ..._utils import make_generator
from .augment import RandomResizedCrop, make_augment
from .losses import SSLLoss, check_views

__all__ = ["ReLICv2", "similarity_distributions", "cross_view_kl"]


def similarity_distributions(za: torch.Tensor, zb: torch.Tensor, temperature: float
                             ) -> tuple[torch.Tensor, torch.Tensor]:
    r"""Log-probabilities of the two cross-view similarity distributions.

    With L2-normalised rows and :math:`S = u_a u_b^\top`, sample :math:`i` seen through view ``a``
    puts probability :math:`p_{ab}(j\,|\,i) = \mathrm{softmax}_j(S_{ij}/\tau)` on being sample
    :math:`j` of view ``b``; :math:`p_{ba}(j\,|\,i) = \mathrm{softmax}_j(S_{ji}/\tau)` is the same with
    the roles of the views swapped.

    Returns
    -------
    log_p_ab, log_p_ba : Tensor, shape ``(n, n)``
    """
    check_views(za, zb, "similarity_distributions")
    s = F.normalize(za, dim=1) @ F.normalize(zb, dim=1).T / temperature
    return F.log_softmax(s, 1), F.log_softmax(s.T, 1)


class ReLICv2(SSLLoss):
    r"""ReLICv2's objective for a query view ``a`` and a target view ``b``:

    .. math:: \mathcal L_{ab} = \frac1n\sum_i \Big[-\log p_{ab}(i\,|\,i)
              + \alpha\, \mathrm{KL}\big(p_{ab}(\cdot\,|\,i)\,\big\|\,\mathrm{sg}[p_{ba}(\cdot\,|\,i)]\big)\Big],

    with :math:`p_{ab}, p_{ba}` from :func:`similarity_distributions` (``sg``: stop-gradient). The
    first term is InfoNCE; the second makes the similarity distribution invariant to which view is
    the query. :meth:`make_views` builds the paper's multi-crop: 2 large views (``augment``) and
    ``n_small`` small ones (``augment`` then a :class:`~neurolatent.methods.ssl.RandomResizedCrop`
    of area ``small_scale`` resized to ``small_size``); :meth:`step_loss` averages
    :math:`\mathcal L_{ab}` over every query view ``a`` and large target view ``b \ne a``. The
    paper's target (EMA) network is replaced by the online encoder.

    Parameters
    ----------
    temperature : float
    alpha : float
        Weight of the invariance term (``0``: the same multi-crop InfoNCE, the ablation).
    n_small : int
        Number of small crops.
    small_scale : (float, float)
        Area fraction of the small crops.
    small_size : int, optional
        Side of the small crops (default: half the input's, at least 4); the encoder must accept
        it (the :func:`~neurolatent.methods.ssl.make_encoder` CNNs pool globally).

    Examples
    --------
    >>> z = torch.randn(6, 3)
    >>> float(ReLICv2(alpha=1.0)(z, z)) < float(ReLICv2(alpha=1.0)(z, torch.randn(6, 3)))
    True
    """

    def __init__(self, temperature: float = 0.2, alpha: float = 1.0, n_small: int = 2,
                 small_scale: tuple[float, float] = (0.1, 0.4), small_size: int | None = None):
        super().__init__()
        if temperature <= 0 or alpha < 0 or n_small < 0:
            raise ValueError(f"need temperature > 0, alpha >= 0, n_small >= 0; got {temperature}, {alpha}, {n_small}")
        self.temperature, self.alpha, self.n_small = float(temperature), float(alpha), int(n_small)
        self.small_scale, self.small_size = tuple(small_scale), small_size

    def terms(self, za: torch.Tensor, zb: torch.Tensor) -> dict[str, torch.Tensor]:
        """The ``contrastive`` and ``invariance`` (KL) terms of :math:`\\mathcal L_{ab}`."""
        log_ab, log_ba = similarity_distributions(za, zb, self.temperature)
        contrastive = -torch.diagonal(log_ab).mean()
        invariance = F.kl_div(log_ba.detach(), log_ab, reduction="batchmean", log_target=True)
        return {"contrastive": contrastive, "invariance": invariance}

    def forward(self, za: torch.Tensor, zb: torch.Tensor) -> torch.Tensor:
        t = self.terms(za, zb)
        return t["contrastive"] + self.alpha * t["invariance"]

    def make_views(self, x: torch.Tensor, augment: Callable, generator: torch.Generator | None) -> list[torch.Tensor]:
        """Two large views, then ``n_small`` small crops."""
        views = [augment(x, generator), augment(x, generator)]
        if self.n_small:
            size = self.small_size if self.small_size is not None else max(4, x.shape[-1] // 2)
            crop = RandomResizedCrop(self.small_scale, size=size if x.dim() == 4 else (size,))
            views += [crop(augment(x, generator), generator) for _ in range(self.n_small)]
        return views

    def step_loss(self, encoder: nn.Module, views: list[torch.Tensor]) -> torch.Tensor:
        z = [encoder(v) for v in views]
        pairs = [(a, b) for b in (0, 1) for a in range(len(z)) if a != b]
        return sum(self(z[a], z[b]) for a, b in pairs) / len(pairs)


@torch.no_grad()
def cross_view_kl(encoder: nn.Module, x: torch.Tensor, augment=None, *, temperature: float = 0.2,
                  seed: int = 0, batch_size: int = 256) -> float:
    r"""Mean :math:`\mathrm{KL}(p_{ab}(\cdot|i)\,\|\,p_{ba}(\cdot|i))` between two augmented views of ``x``.

    The divergence ReLICv2's invariance term minimises, computed on the encoder's output in
    evaluation mode over batches of ``batch_size`` (the distributions are over each batch).
    """
    aug = make_augment(augment)
    gen = make_generator(seed)
    was = encoder.training
    encoder.eval()
    dev = next(iter(encoder.parameters())).device
    total, count = 0.0, 0
    try:
        for i in range(0, x.shape[0], batch_size):
            xb = x[i:i + batch_size].to(dev)
            if xb.shape[0] < 2:
                continue
            log_ab, log_ba = similarity_distributions(encoder(aug(xb, gen)), encoder(aug(xb, gen)), temperature)
            total += float((log_ab.exp() * (log_ab - log_ba)).sum())
            count += xb.shape[0]
    finally:
        encoder.train(was)
    return total / count
