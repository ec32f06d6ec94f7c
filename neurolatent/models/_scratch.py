"""Reusable scratch tensors for the fused tuning-curve moments (fewer fresh large allocations).

A fresh multi-megabyte tensor is mapped from the operating system by the allocator and its pages
are faulted in (zeroed) on first touch, every time: at the default fly step's shapes
((n_mc, N, M, B) = (5, 16, 15, 500), 4.8 MB in float64) that cost about a quarter of the fused
moments' forward + backward time on one CPU thread. :class:`ScratchPool` keeps a few such tensors
for reuse instead. Only tensors that no caller can still see are given back: temporaries of one
forward or backward, and the saved factor ``E`` of :func:`~neurolatent.models._sparse_gp.rbf_marginal_moments`
once its backward has run. A graph kept with ``retain_graph=True`` whose ``E`` was reused in the
meantime fails loudly (autograd's version counter: "modified by an inplace operation"), never
silently, because every reuse writes the tensor in place; and a backward never takes for its
temporaries the ``E`` it is reading (``take(avoid=)``).
"""
from __future__ import annotations

import threading

import torch

__all__ = ["ScratchPool", "SCRATCH"]


class ScratchPool:
    """A small free list of tensors keyed by ``(shape, dtype, device)``.

    Parameters
    ----------
    max_bytes : int
        Most bytes held in the free lists together; a tensor given back beyond it is dropped
        (left to the allocator), so the pool never holds more than this between steps.
    per_key : int
        Most free tensors kept per key.

    Examples
    --------
    >>> pool = ScratchPool(max_bytes=1 << 20)
    >>> a = pool.take((3, 4), torch.float64, torch.device("cpu"))
    >>> pool.give(a)
    >>> pool.take((3, 4), torch.float64, torch.device("cpu")) is a
    True
    """

    def __init__(self, max_bytes: int = 256 << 20, per_key: int = 3):
        self.max_bytes, self.per_key = int(max_bytes), int(per_key)
        self._free: dict = {}
        self._bytes = 0
        self._lock = threading.Lock()  # fits in several threads share the pool

    def take(self, shape, dtype: torch.dtype, device: torch.device, avoid: torch.Tensor | None = None) -> torch.Tensor:
        """A tensor of ``shape`` (uninitialised contents: write it completely before reading).

        ``avoid``: a tensor the caller is still reading (a saved tensor it gave back earlier, as a
        retained graph's second backward does): never handed out by this call.
        """
        key = (tuple(shape), dtype, torch.device(device))
        skip = None if avoid is None else avoid.data_ptr()
        with self._lock:
            free = self._free.get(key)
            for i in range(len(free) - 1, -1, -1) if free else ():
                if free[i].data_ptr() != skip:
                    t = free.pop(i)
                    self._bytes -= t.numel() * t.element_size()
                    return t
        return torch.empty(key[0], dtype=dtype, device=device)

    def give(self, t: torch.Tensor) -> None:
        """Return ``t`` (contiguous, owning its storage, seen by no caller any more) for reuse."""
        nbytes = t.numel() * t.element_size()
        key = (tuple(t.shape), t.dtype, t.device)
        with self._lock:
            free = self._free.setdefault(key, [])
            if any(f.data_ptr() == t.data_ptr() for f in free):  # given twice (a retained graph's second backward)
                return
            if len(free) >= self.per_key or self._bytes + nbytes > self.max_bytes:
                return
            free.append(t)
            self._bytes += nbytes

    def clear(self) -> None:
        """Drop every held tensor."""
        with self._lock:
            self._free.clear()
            self._bytes = 0


SCRATCH = ScratchPool()
