"""MoCo (a queue of keys from a momentum encoder) and contrastive instance discrimination with a
band of hard negatives (Cai et al. 2020).
"""
from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from .losses import SSLLoss, check_views

__all__ = ["MoCo", "HardNegativeCID"]


class MoCo(SSLLoss):
    r"""Momentum contrast (He et al. 2020; MoCo v2, Chen et al. 2020).

    Queries :math:`q = f_\theta(v_1)` come from the encoder, keys :math:`k = f_\xi(v_2)` from a
    momentum copy updated after every step as :math:`\xi \leftarrow m\,\xi + (1-m)\,\theta`
    (buffers such as BatchNorm statistics are copied). With L2-normalised vectors and the queue
    :math:`\{n_j\}` of the last ``queue_size`` keys,

    .. math:: \mathcal L = \frac1n\sum_i -\log\frac{\exp(q_i\cdot k_i/\tau)}
              {\exp(q_i\cdot k_i/\tau) + \sum_{j\in\mathcal N_i}\exp(q_i\cdot n_j/\tau)} ,

    where :math:`\mathcal N_i` is every queued key (:class:`HardNegativeCID` keeps only a band).
    The batch's keys are queued after the step. Until the first keys are queued, the other keys of
    the batch serve as negatives.

    Parameters
    ----------
    queue_size : int
        Number of queued negatives; must not exceed the number of training samples (a larger queue
        would hold stale keys of the same images as negatives).
    momentum : float
        :math:`m \in [0, 1)`.
    temperature : float
        :math:`\tau > 0`.

    Notes
    -----
    ``loss(q, k)`` evaluates the formula with the current queue; :func:`pretrain` calls
    :meth:`setup` (which copies the encoder and empties the queue), :meth:`step_loss` and
    :meth:`after_step`.
    """

    def __init__(self, queue_size: int = 512, momentum: float = 0.99, temperature: float = 0.2):
        super().__init__()
        if queue_size < 1:
            raise ValueError(f"queue_size must be positive, got {queue_size}")
        if not 0.0 <= momentum < 1.0:
            raise ValueError(f"momentum must lie in [0, 1), got {momentum}")
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        self.queue_size, self.momentum, self.temperature = int(queue_size), float(momentum), float(temperature)
        self.key_encoder: nn.Module | None = None
        self.queue: torch.Tensor | None = None
        self.n_queued = 0
        self._ptr = 0
        self._pending: torch.Tensor | None = None

    def setup(self, encoder: nn.Module, n_samples: int, batch_size: int) -> None:
        """Check the queue against the data, copy the encoder into the key encoder, empty the queue."""
        super().setup(encoder, n_samples, batch_size)
        if self.queue_size > n_samples:
            raise ValueError(f"{type(self).__name__}: queue_size={self.queue_size} is larger than the dataset "
                             f"({n_samples} samples), so the queue would hold stale keys of the same images as "
                             f"negatives; use queue_size <= {n_samples}")
        self.key_encoder = copy.deepcopy(encoder)
        for p in self.key_encoder.parameters():
            p.requires_grad_(False)
        self.reset_queue()

    def reset_queue(self) -> None:
        """Empty the queue."""
        self.queue, self.n_queued, self._ptr, self._pending = None, 0, 0, None

    @torch.no_grad()
    def enqueue(self, keys: torch.Tensor) -> None:
        """Add L2-normalised ``keys`` ``(b, d)`` to the queue, overwriting the oldest when full."""
        keys = F.normalize(keys.detach(), dim=1)
        if self.queue is None or self.queue.shape[1] != keys.shape[1] or self.queue.device != keys.device:
            self.queue = keys.new_zeros(self.queue_size, keys.shape[1])
            self.n_queued, self._ptr = 0, 0
        keys = keys[-self.queue_size:]
        slots = (self._ptr + torch.arange(keys.shape[0], device=keys.device)) % self.queue_size
        self.queue[slots] = keys
        self._ptr = (self._ptr + keys.shape[0]) % self.queue_size
        self.n_queued = min(self.queue_size, self.n_queued + keys.shape[0])

    def negative_logits(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        """Similarities ``(n, m)`` of the normalised queries to their negatives (all queued keys)."""
        if self.n_queued == 0:
            sim = q @ k.T
            n = q.shape[0]
            off = ~torch.eye(n, dtype=torch.bool, device=q.device)
            return sim[off].reshape(n, n - 1)
        return q @ self.queue[: self.n_queued].T

    def forward(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        check_views(q, k, type(self).__name__)
        q, k = F.normalize(q, dim=1), F.normalize(k, dim=1)
        pos = (q * k).sum(1, keepdim=True)
        logits = torch.cat([pos, self.negative_logits(q, k)], 1) / self.temperature
        return F.cross_entropy(logits, torch.zeros(q.shape[0], dtype=torch.long, device=q.device))

    def step_loss(self, encoder: nn.Module, views: list[torch.Tensor]) -> torch.Tensor:
        """Queries from ``encoder(views[0])``, keys (no gradient) from the key encoder on ``views[1]``."""
        if self.key_encoder is None:
            raise RuntimeError(f"{type(self).__name__}.setup(encoder, n_samples, batch_size) must run before "
                               "training (pretrain calls it)")
        q = encoder(views[0])
        with torch.no_grad():
            self.key_encoder.train(encoder.training)
            k = self.key_encoder(views[1])
        self._pending = k
        return self(q, k)

    @torch.no_grad()
    def after_step(self, encoder: nn.Module) -> None:
        """Momentum update of the key encoder, then queue this step's keys."""
        m = self.momentum
        for pk, pq in zip(self.key_encoder.parameters(), encoder.parameters()):
            pk.mul_(m).add_(pq.detach(), alpha=1 - m)
        for bk, bq in zip(self.key_encoder.buffers(), encoder.buffers()):
            bk.copy_(bq)
        if self._pending is not None:
            self.enqueue(self._pending)
            self._pending = None


class HardNegativeCID(MoCo):
    r"""Contrastive instance discrimination that keeps only a difficulty band of negatives (Cai et al. 2020).

    For each query the queued negatives are ranked by similarity :math:`q\cdot n_j` (hardest, most
    similar first) and only ranks :math:`[\lfloor \ell K\rceil, \max(\lfloor \ell K\rceil + 1,
    \lfloor h K\rceil))` of the :math:`K` available are kept in the denominator of :class:`MoCo`'s
    loss, for ``band = (l, h)``: ``(0, 0.05)`` is the hardest 5 %, ``(0.05, 1)`` the easiest 95 %,
    ``(0.001, 1)`` drops the hardest 0.1 %. ``(0, 1)`` is plain MoCo.

    Parameters
    ----------
    band : (float, float)
        ``0 <= l < h <= 1``, fractions of the ranked negatives.
    queue_size, momentum, temperature
        As for :class:`MoCo`.

    Examples
    --------
    >>> loss = HardNegativeCID((0.0, 0.5), queue_size=8)
    >>> loss.enqueue(torch.randn(8, 3))
    >>> float(loss(torch.randn(4, 3), torch.randn(4, 3))) > 0
    True
    """

    def __init__(self, band: tuple[float, float] = (0.0, 1.0), queue_size: int = 512, momentum: float = 0.99,
                 temperature: float = 0.2):
        super().__init__(queue_size, momentum, temperature)
        lo, hi = float(band[0]), float(band[1])
        if not 0.0 <= lo < hi <= 1.0:
            raise ValueError(f"band must satisfy 0 <= low < high <= 1 (fractions of the ranked negatives), got {band}")
        self.band = (lo, hi)

    def band_indices(self, k: int) -> tuple[int, int]:
        """The kept rank range ``[a, b)`` among ``k`` ranked negatives."""
        a = min(int(round(self.band[0] * k)), k - 1)
        return a, max(a + 1, min(k, int(round(self.band[1] * k))))

    def negative_logits(self, q: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
        sim = super().negative_logits(q, k)
        a, b = self.band_indices(sim.shape[1])
        return sim.sort(dim=1, descending=True).values[:, a:b]
