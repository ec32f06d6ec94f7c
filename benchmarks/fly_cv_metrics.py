"""Cross-validated held-out log-likelihood AND MSE of mGPLVMs on the real fly data (prints a table).

The question this answers: ``compare_manifolds`` reports two held-out metrics per manifold and
fold, the log predictive density per entry (nats, higher is better) and the mean squared error
of the predicted E[y] (lower is better). On the fly ellipsoid-body recording (16 ROIs x 500 bins,
Jensen et al. 2020) the log-likelihood prefers R2 (and T1xR1) to T1; does the MSE agree?

Protocol: ``compare_manifolds(fly["dff"], ["T1", "R1", "R2", "T1xR1"], folds=3, seed=s,
max_steps=300)`` (default ``infer_steps=300``, ``n_samples=64``) for each seed, one CPU thread.
Prints, per seed, the per-fold table of both metrics, the mean over folds, the ranking by each
metric and the pairwise T1-vs-other fold wins.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/fly_cv_metrics.py [--seeds 0 1] [--steps 300] [--folds 3]
        [--manifolds T1 R1 R2 T1xR1] [--data PATH] [--out results.nc]

Needs the recording in ``$NEUROLATENT_DATA`` or ``../shared/data`` (``--data`` overrides). About
25 s per (manifold, fold) fit on one core, so ~5 min per seed with the default settings.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import xarray as xr

from neurolatent._utils import atomic_path
from neurolatent.datasets import load_fly_ellipsoid_body
from neurolatent.models import compare_manifolds


def _table(cv: xr.Dataset) -> str:
    names = [str(m) for m in cv["manifold"].values]
    folds = [int(f) for f in cv["fold"].values]
    head = f"{'manifold':>9} | " + " ".join(f"ll f{k:<4}" for k in folds) + "  ll mean | " + \
        " ".join(f"mse f{k:<3}" for k in folds) + "  mse mean"
    lines = [head, "-" * len(head)]
    for m in names:
        ll = cv["log_likelihood"].sel(manifold=m).values
        mse = cv["mse"].sel(manifold=m).values
        lines.append(f"{m:>9} | " + " ".join(f"{v:7.4f}" for v in ll) + f"  {ll.mean():7.4f} | "
                     + " ".join(f"{v:8.5f}" for v in mse) + f"  {mse.mean():8.5f}")
    ll_rank = cv["log_likelihood"].mean("fold").to_pandas().sort_values(ascending=False)
    mse_rank = cv["mse"].mean("fold").to_pandas().sort_values()
    lines.append("ranking by held-out log-lik (best first): " + " > ".join(ll_rank.index))
    lines.append("ranking by held-out MSE     (best first): " + " > ".join(mse_rank.index))
    if "T1" in names:
        for m in names:
            if m == "T1":
                continue
            ll_w = int((cv["log_likelihood"].sel(manifold="T1") > cv["log_likelihood"].sel(manifold=m)).sum())
            mse_w = int((cv["mse"].sel(manifold="T1") < cv["mse"].sel(manifold=m)).sum())
            lines.append(f"T1 beats {m:>6} on {ll_w}/{len(folds)} folds by log-lik, {mse_w}/{len(folds)} by MSE")
    return "\n".join(lines)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--seeds", type=int, nargs="+", default=[0])
    p.add_argument("--steps", type=int, default=300)
    p.add_argument("--folds", type=int, default=3)
    p.add_argument("--infer-steps", type=int, default=300)
    p.add_argument("--manifolds", nargs="+", default=["T1", "R1", "R2", "T1xR1"])
    p.add_argument("--data", default=None, help="folder of the fly recording (default: the usual search)")
    p.add_argument("--out", default=None, help="optional netCDF file for the concatenated results")
    a = p.parse_args(argv)

    fly = load_fly_ellipsoid_body(a.data)
    Y = fly["dff"].astype(float)
    results = []
    for seed in a.seeds:
        t0 = time.perf_counter()
        cv = compare_manifolds(Y, a.manifolds, folds=a.folds, seed=seed, max_steps=a.steps,
                               infer_steps=a.infer_steps, progress=False)
        dt = time.perf_counter() - t0
        print(f"\n== seed {seed}: {a.folds} folds, {a.steps} steps, {dt:.0f} s "
              f"({dt / (len(a.manifolds) * a.folds):.0f} s per fit) ==")
        print(_table(cv), flush=True)
        results.append(cv.expand_dims(seed=[seed]))
    if len(results) > 1:
        both = xr.concat(results, "seed")
        print("\n== mean over seeds and folds ==")
        print(xr.Dataset({"log_likelihood": both["log_likelihood"].mean(("seed", "fold")),
                          "mse": both["mse"].mean(("seed", "fold"))}).to_pandas().to_string())
    if a.out:
        with atomic_path(a.out) as tmp:
            xr.concat(results, "seed").to_netcdf(tmp, engine="h5netcdf")


if __name__ == "__main__":
    main()
