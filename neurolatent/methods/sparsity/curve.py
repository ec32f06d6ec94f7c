"""Sparsity-vs-accuracy curves as an ``xarray.Dataset``."""
from __future__ import annotations

import copy
import time
from typing import Sequence

import numpy as np
import xarray as xr
from torch import nn
from tqdm.auto import tqdm

from ..common.data import ClassificationData
from ..common.evaluate import evaluate
from .masks import check_sparsity, sparsity_report
from .pruners import Pruner, as_pruner, check_scope

__all__ = ["sparsity_curve"]


def sparsity_curve(model: nn.Module, data: ClassificationData, method: Pruner | str, sparsities: Sequence[float], *,
                   scope: str = "global", progress: bool = False) -> xr.Dataset:
    r"""One-shot test accuracy and loss of ``model`` pruned to each sparsity (no fine-tuning).

    Each sparsity starts from a deep copy of ``model`` (left untouched), pruned with ``method``.

    Parameters
    ----------
    model : nn.Module
        A trained network.
    data : ClassificationData
        Its test split is evaluated.
    method : Pruner or "magnitude"
    sparsities : sequence of float in [0, 1)
    scope : {"global", "layer"}
    progress : bool
        A tqdm bar over the sparsities.

    Returns
    -------
    xarray.Dataset
        Dimension ``sparsity``; variables ``accuracy``, ``loss``, ``measured_sparsity`` (the fraction of
        zero prunable weights) and ``seconds`` (the pruning call); attrs ``method``, ``scope``, ``data``.

    Examples
    --------
    >>> from neurolatent.methods.common import MLP, make_teacher_classification, train
    >>> d = make_teacher_classification(300, 5, 3, seed=0)
    >>> net = MLP(5, (16,), 3, seed=0); _ = train(net, d, epochs=2)
    >>> ds = sparsity_curve(net, d, "magnitude", [0.0, 0.5, 0.9])
    >>> ds.accuracy.dims, [round(float(s), 2) for s in ds.measured_sparsity]
    (('sparsity',), [0.0, 0.5, 0.9])
    """
    pruner = as_pruner(method)
    check_scope(scope)
    levels = [check_sparsity(s) for s in sparsities]
    if not levels:
        raise ValueError("sparsity_curve: sparsities is empty; pass e.g. [0.5, 0.8, 0.9, 0.95]")
    if not isinstance(data, ClassificationData):
        raise TypeError(f"sparsity_curve: data must be a ClassificationData, got {type(data).__name__}")
    acc, loss, meas, secs = [], [], [], []
    for s in tqdm(levels, desc=f"prune ({pruner.name})", disable=not progress, leave=False):
        net = copy.deepcopy(model)
        t0 = time.perf_counter()
        if s > 0:
            pruner.prune(net, s, scope=scope)
        secs.append(time.perf_counter() - t0)
        ev = evaluate(net, data.x_test, data.y_test)
        acc.append(ev["accuracy"])
        loss.append(ev["loss"])
        meas.append(sparsity_report(net)["global"])
    coords = {"sparsity": np.asarray(levels, dtype=float)}
    return xr.Dataset(
        {"accuracy": ("sparsity", np.asarray(acc)), "loss": ("sparsity", np.asarray(loss)),
         "measured_sparsity": ("sparsity", np.asarray(meas)), "seconds": ("sparsity", np.asarray(secs))},
        coords=coords, attrs={"method": pruner.name, "scope": scope, "data": data.name},
    )
