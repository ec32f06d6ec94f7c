"""Compare objectives on one budget: pretrain each loss over seeds, probe, and read off representation statistics.

:func:`compare_losses` returns an ``xarray.Dataset`` over ``(objective, seed)``;
:func:`rank_correlation` is the Spearman correlation of two of its variables across objectives.
(The dimension is not called ``method``: ``Dataset.sel(method=...)`` is the keyword of ``sel`` itself.)
"""
from __future__ import annotations

from typing import Callable, Mapping, Sequence

import numpy as np
import torch
import xarray as xr
from torch import nn

from ..common import ClassificationData
from .augment import make_augment
from .losses import SSLLoss
from .pipeline import embed, knn_probe, linear_probe, make_encoder, pretrain
from .redundancy import average_abs_correlation, linear_predictability, nonlinear_predictability, pairwise_redundancy
from .relic import cross_view_kl

__all__ = ["compare_losses", "rank_correlation", "baseline_losses", "band_losses", "MEASURES"]

#: Variables of :func:`compare_losses` (besides ``loss`` and ``epoch_time``).
MEASURES = ("linear_accuracy", "ridge_accuracy", "knn_accuracy", "average_abs_correlation", "pairwise_redundancy",
            "linear_predictability", "nonlinear_predictability", "cross_view_kl")


def compare_losses(losses: Mapping[str, Callable[[], SSLLoss]], data: ClassificationData, augment=None, *,
                   seeds: Sequence[int] = (0, 1, 2), epochs: int = 10, batch_size: int = 128, lr: float = 1e-3,
                   encoder: Callable[[int], nn.Module] | None = None, redundancy: bool = True,
                   nonlinear: bool = True, nonlinear_kwargs: Mapping | None = None, kl_temperature: float = 0.2,
                   device: str | torch.device | None = None,
                   progress: bool = False) -> xr.Dataset:
    """Pretrain a fresh encoder with every loss and seed, then probe it and measure its embeddings.

    Parameters
    ----------
    losses : mapping of str to callable
        ``name -> factory``; each factory returns a new loss object (e.g. ``lambda: VICReg()``).
    data : ClassificationData
        Pretraining uses ``x_train`` only; probes fit on ``x_train`` and score ``x_test``.
    augment
        Anything :func:`~neurolatent.methods.ssl.make_augment` accepts.
    seeds : sequence of int
        Each seed sets the encoder's initialisation, the minibatch order and the augmentations.
    epochs, batch_size, lr
        The budget, the same for every method.
    encoder : callable, optional
        ``encoder(seed) -> nn.Module``; default :func:`~neurolatent.methods.ssl.make_encoder` for
        ``data.input_shape`` (32 features, 32-d projection).
    redundancy, nonlinear : bool
        Measure the redundancy of the projector's test embeddings (the nonlinear one costs a small
        MLP fit per run, :func:`~neurolatent.methods.ssl.nonlinear_predictability` with
        ``nonlinear_kwargs``, e.g. ``{"hidden": 32, "steps": 100}`` to make it cheaper).
    kl_temperature : float
        Temperature of :func:`~neurolatent.methods.ssl.cross_view_kl`.
    device, progress
        Where to train; a tqdm bar per pretraining.

    Returns
    -------
    xarray.Dataset
        Dims ``objective`` (the keys of ``losses``), ``seed``; variables :data:`MEASURES`
        (accuracies in ``[0, 1]``; logistic
        ``linear_accuracy``, closed-form ``ridge_accuracy``, ``knn_accuracy`` with k = 20), ``loss``
        (final epoch) and ``epoch_time`` (median seconds per epoch). Missing measures are NaN.

    Examples
    --------
    >>> from neurolatent.methods.ssl import VICReg, upsampled_digits
    >>> d = upsampled_digits(8)
    >>> ds = compare_losses({"vicreg": VICReg}, d, "noise", seeds=(0,), epochs=1, nonlinear=False)
    >>> ds["linear_accuracy"].dims
    ('objective', 'seed')
    """
    if len(losses) == 0:
        raise ValueError("losses must name at least one method: {'name': factory}")
    if not isinstance(data, ClassificationData):
        raise TypeError("data must be a ClassificationData (labels are needed by the probes), "
                        f"got {type(data).__name__}")
    aug = make_augment(augment)
    names, seeds = list(losses), [int(s) for s in seeds]
    shape = (len(names), len(seeds))
    out = {k: np.full(shape, np.nan) for k in (*MEASURES, "loss", "epoch_time")}
    for i, name in enumerate(names):
        for j, seed in enumerate(seeds):
            enc = encoder(seed) if encoder is not None else make_encoder(
                data.input_shape, rep_dim=32, proj_dim=32, seed=seed, device=device)
            hist = pretrain(enc, data, losses[name](), aug, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed,
                            device=device, progress=progress)
            out["loss"][i, j] = hist["loss"][-1] if hist["loss"] else np.nan
            out["epoch_time"][i, j] = float(np.median(hist["epoch_time"])) if hist["epoch_time"] else np.nan
            out["linear_accuracy"][i, j] = linear_probe(enc, data, method="logistic")
            out["ridge_accuracy"][i, j] = linear_probe(enc, data, method="ridge")
            out["knn_accuracy"][i, j] = knn_probe(enc, data, k=20)
            out["cross_view_kl"][i, j] = cross_view_kl(enc, data.x_test, aug, temperature=kl_temperature, seed=seed)
            if redundancy:
                z = embed(enc, data.x_test, projected=True).cpu()
                out["average_abs_correlation"][i, j] = average_abs_correlation(z)
                out["pairwise_redundancy"][i, j] = pairwise_redundancy(z)
                out["linear_predictability"][i, j] = linear_predictability(z)
                if nonlinear:
                    out["nonlinear_predictability"][i, j] = nonlinear_predictability(
                        z, **{"seed": seed, **dict(nonlinear_kwargs or {})})
    coords = {"objective": names, "seed": seeds}
    ds = xr.Dataset({k: (("objective", "seed"), v) for k, v in out.items()}, coords=coords)
    ds.attrs.update({"data": data.name, "epochs": int(epochs), "batch_size": int(batch_size), "lr": float(lr)})
    return ds


def rank_correlation(ds: xr.Dataset, x: str = "pairwise_redundancy", y: str = "linear_accuracy", *,
                     over: str = "objective") -> float:
    """Spearman rank correlation between variables ``x`` and ``y`` of :func:`compare_losses`'s result.

    ``over="objective"`` correlates the seed means of each objective; ``over="run"`` every
    (objective, seed) run.
    """
    for v in (x, y):
        if v not in ds:
            raise KeyError(f"{v!r} is not a variable of the dataset; choose from {sorted(ds.data_vars)}")
    from scipy.stats import spearmanr

    if over == "objective":
        a, b = ds[x].mean("seed").values, ds[y].mean("seed").values
    elif over == "run":
        a, b = ds[x].values.ravel(), ds[y].values.ravel()
    else:
        raise ValueError(f"over must be 'objective' or 'run', got {over!r}")
    keep = np.isfinite(a) & np.isfinite(b)
    if keep.sum() < 3:
        raise ValueError(f"rank_correlation needs at least 3 finite pairs, got {int(keep.sum())}")
    return float(spearmanr(a[keep], b[keep]).statistic)


def baseline_losses(*, temperature: float = 0.2, queue_size: int = 512, relic_small_size: int | None = None
                    ) -> dict[str, Callable[[], SSLLoss]]:
    """Factories of every objective of this family with its default settings, for :func:`compare_losses`.

    ``infonce``, ``barlow``, ``vicreg``, ``moco`` (``queue_size`` keys), ``sslpm``, ``relic`` (ReLICv2)
    and ``relic_no_kl`` (the same multi-crop InfoNCE without the invariance term). Encoders that
    cannot take smaller inputs (MLPs) need ``relic_small_size`` equal to the input side.
    """
    from .moco import MoCo
    from .losses import BarlowTwins, InfoNCE, VICReg
    from .relic import ReLICv2
    from .sslpm import SSLPM

    return {
        "infonce": lambda: InfoNCE(temperature),
        "barlow": BarlowTwins,
        "vicreg": VICReg,
        "moco": lambda: MoCo(queue_size, temperature=temperature),
        "sslpm": SSLPM,
        "relic": lambda: ReLICv2(temperature, alpha=1.0, small_size=relic_small_size),
        "relic_no_kl": lambda: ReLICv2(temperature, alpha=0.0, small_size=relic_small_size),
    }


def band_losses(bands: Mapping[str, tuple[float, float]] | None = None, *, queue_size: int = 1024,
                temperature: float = 0.2) -> dict[str, Callable[[], SSLLoss]]:
    """Factories of :class:`~neurolatent.methods.ssl.HardNegativeCID` for each difficulty band.

    Default bands (Cai et al. 2020): ``all`` (0, 1), ``hardest_5`` (0, 0.05), ``easiest_95``
    (0.05, 1), ``drop_hardest_0.1`` (0.001, 1).
    """
    from .moco import HardNegativeCID

    bands = dict(bands) if bands is not None else {"all": (0.0, 1.0), "hardest_5": (0.0, 0.05),
                                                   "easiest_95": (0.05, 1.0), "drop_hardest_0.1": (0.001, 1.0)}
    return {name: (lambda b=b: HardNegativeCID(b, queue_size, temperature=temperature)) for name, b in bands.items()}
