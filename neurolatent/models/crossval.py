"""Model comparison by cross-validation, as in the mGPLVM paper (Jensen et al. 2020, sec. 4).

For each fold the time bins are split into train/test. The model is fitted on ALL neurons at
the training time bins. At the test time bins the latents are inferred from one half of the
neurons (tuning curves, kernel and noise frozen) and the other half is scored with its
predictive density and squared error; the halves are then swapped, so every test entry is
scored once. Held-out log-likelihoods are reported per scored entry (nats), so folds and
data sets of different sizes compare directly.
"""
from __future__ import annotations

import dataclasses
import json

import numpy as np
import xarray as xr
from tqdm.auto import tqdm

from ..inference import EarlyStopping
from ._data import as_recording
from .mgplvm import MGPLVM

__all__ = ["compare_manifolds", "cv_splits", "trial_cv_splits"]


def cv_splits(n_time: int, n_neurons: int, folds: int, seed) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """``[(train_times, test_times, first_neuron_half), ...]``, one per fold (seeded, sorted).

    Examples
    --------
    >>> s = cv_splits(10, 4, 2, 0)
    >>> [len(a) for a in s[0]]
    [5, 5, 2]
    """
    if int(folds) < 2:
        raise ValueError(f"folds must be >= 2, got {folds!r}")
    if n_time < 2 * folds:
        raise ValueError(f"{n_time} time bins are too few for {folds} folds (need >= {2 * folds})")
    rng = np.random.default_rng(seed)
    perm = rng.permutation(n_time)
    out = []
    for k, test in enumerate(np.array_split(perm, int(folds))):
        train = np.setdiff1d(np.arange(n_time), test)
        half = np.sort(rng.permutation(n_neurons)[: n_neurons // 2])
        out.append((train, np.sort(test), half))
    return out


def trial_cv_splits(lengths, n_neurons: int, folds: int, seed) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """:func:`cv_splits` for trials stacked along time: every trial's bins are split into ``folds``.

    ``lengths`` are the bins per trial (trial 0's bins first in the stacked order). Each fold's test
    bins are ``1/folds`` of every trial, so every trial is trained on and scored in every fold.
    Returns ``[(train, test, first_neuron_half), ...]`` with indices into the stacked bins (sorted).

    Examples
    --------
    >>> s = trial_cv_splits([6, 4], 4, 2, 0)
    >>> [len(a) for a in s[0]], bool((s[0][1] >= 6).any() and (s[0][1] < 6).any())
    ([5, 5, 2], True)
    """
    if int(folds) < 2:
        raise ValueError(f"folds must be >= 2, got {folds!r}")
    short = [k for k, n in enumerate(lengths) if n < 2 * folds]
    if short:
        raise ValueError(f"trial(s) at positions {short} have fewer than {2 * folds} bins, too few for {folds} folds "
                         "within each trial; drop them or use fewer folds")
    rng = np.random.default_rng(seed)
    offsets = np.cumsum([0] + list(lengths)[:-1])
    parts = [np.array_split(a + rng.permutation(n), int(folds)) for a, n in zip(offsets, lengths)]
    total = int(sum(lengths))
    out = []
    for k in range(int(folds)):
        test = np.sort(np.concatenate([p[k] for p in parts]))
        half = np.sort(rng.permutation(n_neurons)[: n_neurons // 2])
        out.append((np.setdiff1d(np.arange(total), test), test, half))
    return out


def _as_input(arr, time, rows, trial_index):
    """The bins ``rows`` as the model's input: one (time, neuron) DataArray, or a list of them per trial."""
    if trial_index is None:
        return xr.DataArray(arr[rows], dims=("time", "neuron"), coords={"time": time[rows]})
    return [xr.DataArray(arr[r], dims=("time", "neuron"), coords={"time": time[r]})
            for r in (rows[trial_index[rows] == k] for k in np.unique(trial_index))]


def _fresh(early_stopping):
    """A new criterion per fit (an :class:`EarlyStopping` keeps state), or ``False`` (off)."""
    if early_stopping is True:
        return EarlyStopping()
    if isinstance(early_stopping, EarlyStopping):
        return dataclasses.replace(early_stopping)
    if early_stopping is None or early_stopping is False:
        return False
    raise TypeError(f"early_stopping must be True, False or an EarlyStopping, got {type(early_stopping).__name__}")


def _run_fold(arr, time, spec, train, test, half, likelihood, seed, model_kwargs, fit_kwargs, score_kwargs,
              callback=None, trial_index=None):
    """Fit one manifold on one fold and score it; a plain function so Dask can ship it.

    ``trial_index`` ((T,) ints, or None): the trial of every stacked bin; the fold's train and test
    bins are then passed on as one (time, neuron) DataArray per trial.
    """
    import torch

    torch.set_num_threads(max(1, torch.get_num_threads()))
    Ytr = _as_input(arr, time, train, trial_index)
    fit_kwargs = {**fit_kwargs, "early_stopping": _fresh(fit_kwargs.get("early_stopping", False))}
    model = MGPLVM(spec, likelihood=likelihood, seed=seed, **model_kwargs).fit(Ytr, progress=False, callback=callback,
                                                                               **fit_kwargs)
    # with its time stamps: a temporal prior scores the held-out bins at their real gaps
    Yte = _as_input(arr, time, test, trial_index)
    other = np.setdiff1d(np.arange(arr.shape[1]), half)
    ll = mse = 0.0
    n_entries = 0
    for inp, out in ((half, other), (other, half)):
        l, m = model.log_likelihood(Yte, infer_from=inp, neurons=out, return_mse=True, seed=seed, **score_kwargs)
        ll += l
        mse += m * out.size * len(test)
        n_entries += out.size * len(test)
    return {"log_likelihood": ll / n_entries, "mse": mse / n_entries,
            "elbo": float(np.mean(model.history.elbo[-10:])) / len(train), "steps": len(model.history.elbo)}


class _StepBar:
    """One tqdm bar over every optimisation step of every (manifold, fold) fit.

    Its total is the budget (fits x ``max_steps``); a fit that stops early hands its unused
    steps over at its end, so the bar always reaches 100 %. It stays on screen (``leave=True``).
    """

    def __init__(self, n_fits: int, max_steps: int, progress: bool):
        self.max_steps = int(max_steps)
        self.bar = tqdm(total=n_fits * self.max_steps, desc="cross-validation", unit="step", disable=not progress,
                        leave=True)
        self.done_in_fit = 0

    def start(self, label: str) -> None:
        self.done_in_fit = 0
        self.bar.set_postfix_str(label, refresh=False)

    def __call__(self, state) -> None:  # the fit's callback: one call per step
        self.done_in_fit += 1
        self.bar.update(1)

    def finish(self, steps: int | None = None) -> None:
        used = self.done_in_fit if steps is None else int(steps)
        self.bar.update(max(self.max_steps - min(used, self.max_steps), 0) + max(used - self.done_in_fit, 0))

    def close(self) -> None:
        self.bar.close()


def compare_manifolds(Y, manifolds, *, folds: int = 3, seed=0, likelihood="gaussian", max_steps: int = 500,
                      lr: float = 0.02, client=None, progress: bool = True, model_kwargs=None, fit_kwargs=None,
                      infer_steps: int = 300, n_samples: int = 64, early_stopping=True) -> xr.Dataset:
    """Cross-validated held-out log-likelihood and MSE of mGPLVMs on several manifolds.

    Parameters
    ----------
    Y : xarray.DataArray (time, neuron) or array (T, N), or trials
        With trials (a DataArray with a ``trial`` dim or a list of (time, neuron) trials, as
        :meth:`MGPLVM.fit` takes), every trial's bins are split into the folds
        (:func:`trial_cv_splits`): each fold's model is fitted to all trials at their training
        bins, and the test latents of each trial are inferred as their own chain.
    manifolds : list of str or Manifold
        E.g. ``["T1", "R1", "R2", "S3"]``.
    folds : int
        Number of time folds (each fold's test set is 1/folds of the bins, chosen at random).
    seed : int
        Seeds the splits and the fits (fold k uses ``seed + k``).
    likelihood : str
    max_steps : int
        Upper bound on the steps of each fold's fit (500: with early stopping most folds stop
        before; see ``early_stopping``).
    lr : float
        Adam learning rate of :meth:`MGPLVM.fit`.
    client : dask.distributed.Client, optional
        Run the (manifold, fold) fits in parallel with ``client.submit``, e.g.
        ``Client(LocalCluster(n_workers=3, threads_per_worker=1))`` (``pip install
        "dask[distributed]"``); sequential when None.
    progress : bool
        A tqdm bar that stays on screen: it moves with every optimisation step when sequential,
        and with every finished fit on a Dask client.
    model_kwargs, fit_kwargs : dict, optional
        Extra arguments of :class:`MGPLVM` and :meth:`MGPLVM.fit`.
    infer_steps, n_samples : int
        Steps of the test-latent inference (tuning frozen, so few are needed) and latent
        samples of the score.
    early_stopping : bool or EarlyStopping
        Stop each fold's fit once its ELBO plateaus (``True``: the
        :class:`~neurolatent.inference.EarlyStopping` defaults); ``False`` runs ``max_steps``.

    Returns
    -------
    xarray.Dataset
        ``log_likelihood`` (manifold, fold): mean held-out log predictive density per scored
        entry (nats; higher is better); ``mse`` (manifold, fold); ``elbo`` (manifold, fold):
        final training ELBO per time bin. ``attrs["steps_per_fit"]`` (JSON, manifold x fold) says
        where each fit stopped.

    Notes
    -----
    The score is the predictive density of the held-out neurons given the latents inferred
    from the other half, :math:`\\log \\mathbb E_{q(g_t\\mid y_{\\text{in}})}[p(y_{\\text{out}}\\mid g_t)]`,
    so it rewards any latent dimension that helps predict the held-out neurons, not only the
    right topology. Compare topologies at equal dimension (``"T1"`` vs ``"R1"``, as the
    paper does for the fly data; ``"T1xR1"`` or ``"T2"`` vs ``"R2"``). On the fly
    ellipsoid-body recording every 2-D model (R2, T1xR1, T2) beats T1 because a second latent
    (bump amplitude / mean activity, which the R2 radius tracks) predicts held-out ROIs,
    while T1 beats R1 on every fold. The paper's own test log-likelihood was an importance
    estimate over whole test trajectories (close to a held-out ELBO, which penalises the
    extra latent dimension through its KL term); it is a bound, not the predictive density,
    and is not used here.

    Examples
    --------
    >>> import numpy as np
    >>> th = np.linspace(0, 6 * np.pi, 40)
    >>> Y = np.cos(th[:, None] - np.arange(6)[None]) + 0.1
    >>> cv = compare_manifolds(Y, ["T1", "R1"], folds=2, max_steps=5, infer_steps=5, progress=False)
    >>> cv["log_likelihood"].dims
    ('manifold', 'fold')
    """
    rec = as_recording(Y)
    arr, time = rec.Y, rec.time
    trial_index = None if rec.trials is None else rec.trial_index
    names = [m if isinstance(m, str) else m.name for m in manifolds]
    if len(set(names)) != len(names):
        raise ValueError(f"manifolds must be distinct, got {names}")
    for m in manifolds:  # unknown specs fail here, before any fit starts
        MGPLVM(m)
    from ..likelihoods import get_likelihood
    get_likelihood(likelihood, arr.shape[1]).validate(arr, "Y")
    splits = (cv_splits(arr.shape[0], arr.shape[1], folds, seed) if trial_index is None
              else trial_cv_splits(rec.lengths, arr.shape[1], folds, seed))
    model_kwargs = dict(model_kwargs or {})
    fit_kwargs = {"max_steps": max_steps, "lr": lr, "early_stopping": _fresh(early_stopping), **(fit_kwargs or {})}
    score_kwargs = {"max_steps": infer_steps, "n_samples": n_samples}
    jobs = [(i, k, spec, tr, te, half) for i, spec in enumerate(manifolds) for k, (tr, te, half) in enumerate(splits)]
    results = {}
    bar = _StepBar(len(jobs), fit_kwargs["max_steps"], progress)
    try:
        if client is not None:
            from distributed import as_completed

            futures = {client.submit(_run_fold, arr, time, spec, tr, te, half, likelihood, int(seed) + k,
                                     model_kwargs, fit_kwargs, score_kwargs, None, trial_index, pure=False): (i, k)
                       for i, k, spec, tr, te, half in jobs}
            for fut in as_completed(list(futures)):
                results[futures[fut]] = fut.result()
                bar.finish(0)  # the workers' steps are not seen one by one: the fit's budget at once
        else:
            for i, k, spec, tr, te, half in jobs:
                bar.start(f"{names[i]} fold {k + 1}/{len(splits)}")
                results[(i, k)] = _run_fold(arr, time, spec, tr, te, half, likelihood, int(seed) + k,
                                            model_kwargs, fit_kwargs, score_kwargs, callback=bar,
                                            trial_index=trial_index)
                bar.finish()
    finally:
        bar.close()
    shape = (len(manifolds), len(splits))
    data = {v: np.array([[results[(i, k)][v] for k in range(shape[1])] for i in range(shape[0])])
            for v in ("log_likelihood", "mse", "elbo")}
    ds = xr.Dataset(
        {v: (("manifold", "fold"), a) for v, a in data.items()},
        coords={"manifold": names, "fold": np.arange(shape[1])},
        attrs={"likelihood": str(likelihood), "folds": int(folds), "seed": int(seed), "n_time": int(arr.shape[0]),
               "n_neurons": int(arr.shape[1]), "n_trials": len(rec.lengths), "max_steps": int(fit_kwargs["max_steps"]),
               "infer_steps": int(infer_steps), "early_stopping": int(fit_kwargs["early_stopping"] is not False),
               "steps_per_fit": json.dumps([[int(results[(i, k)]["steps"]) for k in range(len(splits))]
                                            for i in range(len(manifolds))]),
               "method": "fit on all neurons at train bins; infer test latents from half the neurons with tuning "
                         "frozen, score the other half (and swap); mean log predictive density per entry"},
    )
    ds["log_likelihood"].attrs["units"] = "nats per held-out entry"
    return ds
