r"""Summaries of a continual-learning accuracy matrix.

With :math:`R_{ij}` the test accuracy on task :math:`j` after training on tasks
:math:`0 \dots i` (:math:`T` tasks; Lopez-Paz & Ranzato 2017, "Gradient episodic memory"):

* average final accuracy :math:`\bar a = \frac1T \sum_j R_{T-1, j}`;
* forgetting of task :math:`j < T-1` (Chaudhry et al. 2018, "Riemannian walk"):
  :math:`f_j = \max_{j \le l < T-1} R_{lj} - R_{T-1, j}` -- the best accuracy the task had once
  learnt, minus its final accuracy (undefined, ``NaN``, for the last task);
* backward transfer :math:`\mathrm{BWT} = \frac1{T-1} \sum_{j < T-1} (R_{T-1, j} - R_{jj})`
  (negative when learning later tasks hurts earlier ones).
"""
from __future__ import annotations

import numpy as np
import xarray as xr

__all__ = ["summarise_accuracy"]


def summarise_accuracy(accuracy: np.ndarray | xr.DataArray) -> xr.Dataset:
    """Average final accuracy, per-task forgetting and backward transfer of an accuracy matrix.

    Parameters
    ----------
    accuracy : array, shape ``(T, T)``
        ``accuracy[i, j]``: accuracy on task ``j`` after training on task ``i``.

    Returns
    -------
    xarray.Dataset
        ``accuracy`` (``after_task``, ``on_task``), ``final_accuracy`` (``on_task``),
        ``average_accuracy`` (scalar), ``forgetting`` (``on_task``; ``NaN`` for the last task),
        ``average_forgetting`` and ``backward_transfer`` (scalars; ``NaN`` with one task).

    Examples
    --------
    >>> r = np.array([[0.9, 0.1], [0.6, 0.95]])
    >>> s = summarise_accuracy(r)
    >>> [round(float(s[v]), 3) for v in ("average_accuracy", "average_forgetting", "backward_transfer")]
    [0.775, 0.3, -0.3]
    """
    r = np.asarray(accuracy, dtype=np.float64)
    if r.ndim != 2 or r.shape[0] != r.shape[1] or r.shape[0] == 0:
        raise ValueError(f"accuracy must be a square (after_task, on_task) matrix with at least one task, got shape {r.shape}")
    t = r.shape[0]
    forgetting = np.full(t, np.nan)
    for j in range(t - 1):
        forgetting[j] = r[j:t - 1, j].max() - r[t - 1, j]
    bwt = float(np.mean(r[t - 1, :t - 1] - np.diag(r)[:t - 1])) if t > 1 else float("nan")
    coords = {"after_task": np.arange(t), "on_task": np.arange(t)}
    return xr.Dataset(
        {
            "accuracy": (("after_task", "on_task"), r),
            "final_accuracy": (("on_task",), r[t - 1].copy()),
            "average_accuracy": ((), float(r[t - 1].mean())),
            "forgetting": (("on_task",), forgetting),
            "average_forgetting": ((), float(np.nanmean(forgetting)) if t > 1 else float("nan")),
            "backward_transfer": ((), bwt),
        },
        coords=coords,
    )
