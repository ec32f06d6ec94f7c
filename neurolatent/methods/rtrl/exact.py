"""Exact real-time recurrent learning (Williams & Zipser 1989), with a memory guard.

The influence matrix :math:`G_t = \\partial h_t / \\partial \\operatorname{vec} W` (``n x p``,
``p = g n m`` parameters) is carried forward exactly,

.. math::

    G_t = J_t G_{t-1} + D_t \\otimes a_t^\\top,

at a cost of :math:`O(n^2 p) = O(g n^4)` operations and :math:`O(n p)` memory per sequence;
the gradient of :math:`\\sum_t L_t` is :math:`\\sum_t c_t G_t` with
:math:`c_t = \\partial L_t / \\partial h_t`, identical (without parameter updates) to BPTT.
"""
from __future__ import annotations

import os

import torch

from .base import OnlineLearner
from .cells import RecurrentCell

__all__ = ["RTRL", "rtrl_memory_bytes", "available_memory", "ExactRTRLTooLarge"]


def _size(nbytes: int) -> str:
    return f"{nbytes / 2**30:.2f} GiB" if nbytes >= 2**30 else f"{nbytes / 2**20:.1f} MiB"


class ExactRTRLTooLarge(MemoryError, ValueError):
    """Exact RTRL would need more memory than allowed; use an approximation (OK(r), UORO, TBPTT)."""


def rtrl_memory_bytes(cell: RecurrentCell, batch_size: int = 1, dtype: torch.dtype | None = None) -> int:
    """Bytes exact RTRL needs: the influence matrix and its propagated copy, ``2 B n p`` floats.

    Examples
    --------
    >>> from neurolatent.methods.rtrl import TanhCell
    >>> rtrl_memory_bytes(TanhCell(1, 256), dtype=torch.float32) / 2**20   # n = 256: n p = 256 * 256 * 258
    129.0
    """
    dtype = dtype or cell.weight.dtype
    itemsize = torch.empty((), dtype=dtype).element_size()
    return 2 * int(batch_size) * cell.n_hidden * cell.n_params * itemsize


def available_memory(device: str | torch.device = "cpu") -> int:
    """Free memory in bytes on ``device`` (CUDA: ``torch.cuda.mem_get_info``; CPU: available RAM)."""
    device = torch.device(device)
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    try:
        import psutil

        return int(psutil.virtual_memory().available)
    except ImportError:  # pragma: no cover - psutil ships with the test environment
        return int(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))


class RTRL(OnlineLearner):
    """Exact RTRL: the full influence matrix carried forward.

    Parameters
    ----------
    cell, readout, loss, seed :
        As :class:`~neurolatent.methods.rtrl.OnlineLearner` (exact RTRL uses no noise).
    memory_limit : int or None
        Refuse (raise :class:`ExactRTRLTooLarge`) when :func:`rtrl_memory_bytes` exceeds this many
        bytes; default half the free memory of the cell's device.

    Examples
    --------
    >>> import torch
    >>> from neurolatent.methods.rtrl import TanhCell
    >>> cell, out = TanhCell(2, 8, seed=0), torch.nn.Linear(8, 3)
    >>> learner = RTRL(cell, out)
    >>> learner.reset(4)
    >>> loss = learner.step(torch.randn(4, 2), torch.tensor([0, 1, 2, 0]))
    >>> learner.gradient()["cell.weight"].shape
    torch.Size([8, 11])
    """

    def __init__(self, cell, readout, *, loss="cross_entropy", seed=0, memory_limit: int | None = None):
        self.memory_limit = memory_limit
        super().__init__(cell, readout, loss=loss, seed=seed)

    _influence_names = ("influence",)

    def _reset_influence(self, batch_size):
        need = rtrl_memory_bytes(self.cell, batch_size, self.dtype)
        limit = self.memory_limit if self.memory_limit is not None else available_memory(self.device) // 2
        if need > limit:
            raise ExactRTRLTooLarge(
                f"exact RTRL with n = {self.cell.n_hidden} hidden units, p = {self.cell.n_params} parameters and "
                f"batch {batch_size} needs 2 * B * n * p floats = {_size(need)} for the influence matrix, over the "
                f"limit of {_size(limit)}; use an approximation (OKRTRL(r=...), KFRTRL, UORO or TBPTT) "
                f"or a smaller network/batch, or raise memory_limit")
        g, n, m = self.cell.n_gates, self.cell.n_hidden, self.cell.n_features
        self.influence = torch.zeros(batch_size, n, g * n, m, device=self.device, dtype=self.dtype)

    def _propagate(self, jac):
        G = torch.einsum("bij,bjpk->bipk", jac.state, self.influence)
        G += jac.pre[:, :, :, None] * jac.inputs[:, None, None, :]
        self.influence = G

    def _contract(self, c):
        return torch.einsum("bi,bipk->bpk", c, self.influence)
