"""Self-supervised objectives on one budget: probe accuracy, redundancy, cross-view KL, negatives bands, epoch time.

Not a test. (Named ``ssl_methods.py``, not ``ssl.py``: a script called ``ssl.py`` shadows the standard
library's ``ssl`` module, which torch imports.) Pretrains a tiny encoder (MLP 64-128-32 on the 8x8 digits seen as images, projector
32-64-32) with every objective of ``nl.methods.ssl`` for ``--epochs`` epochs (Adam 1e-3, batch 128,
``default_augment(2)``), over ``--seeds``, then reports the logistic / ridge / 20-NN probe accuracy
of the frozen backbone features on the held-out digits, the redundancy of the projector's test
embeddings, ReLICv2's cross-view KL, and the median seconds per epoch; then the hard-negative bands
(Cai et al. 2020) with a queue of 1024; and Spearman's rank correlation between each redundancy
measure and the logistic probe accuracy across methods.

    OMP_NUM_THREADS=1 python benchmarks/ssl_methods.py [--epochs 20] [--seeds 0 1 2] [--device cpu] [--part all]

Figures: see the table at the end of this docstring (filled from a run of this script).
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from neurolatent._utils import atomic_path
from neurolatent.methods.common import load_digits
from neurolatent.methods.ssl import (
    band_losses,
    baseline_losses,
    compare_losses,
    default_augment,
    make_encoder,
    rank_correlation,
)

MEASURE_COLS = ("linear_accuracy", "ridge_accuracy", "knn_accuracy", "average_abs_correlation",
                "pairwise_redundancy", "linear_predictability", "nonlinear_predictability", "cross_view_kl",
                "epoch_time")


def _table(ds, cols) -> None:
    head = f"{'method':<18}" + "".join(f"{c[:14]:>16}" for c in cols)
    print(head)
    for m in ds["method"].values:
        row = f"{m:<18}"
        for c in cols:
            v = ds[c].sel(method=m).values
            row += f"{np.nanmean(v):>9.3f}±{np.nanstd(v):<6.3f}"
        print(row)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--epochs", type=int, default=20)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--part", choices=["all", "methods", "bands"], default="all")
    ap.add_argument("--json", default=None, help="also write the raw numbers to this file")
    args = ap.parse_args()
    torch.set_num_threads(1)
    dev = torch.device(args.device)
    d = load_digits(image=True, seed=0, device=dev)
    aug = default_augment(2)

    def encoder(seed):
        return make_encoder(d.input_shape, rep_dim=32, proj_dim=32, hidden=(128,), arch="mlp", seed=seed, device=dev)

    print(f"device {dev}, torch {torch.__version__}, epochs {args.epochs}, seeds {args.seeds}")
    raw = {}
    if args.part in ("all", "methods"):
        t0 = time.perf_counter()
        ds = compare_losses(baseline_losses(relic_small_size=8), d, aug, seeds=args.seeds, epochs=args.epochs,
                            encoder=encoder, device=dev)
        print(f"\n== methods ({time.perf_counter() - t0:.0f} s) ==")
        _table(ds, MEASURE_COLS)
        print("\nSpearman rank correlation with linear_accuracy across methods (seed means; and over all runs):")
        for m in ("average_abs_correlation", "pairwise_redundancy", "linear_predictability",
                  "nonlinear_predictability"):
            print(f"  {m:<26} {rank_correlation(ds, m, over='method'):+.3f}   runs {rank_correlation(ds, m, over='run'):+.3f}")
        raw["methods"] = ds.to_dict()
    if args.part in ("all", "bands"):
        t0 = time.perf_counter()
        ds = compare_losses(band_losses(queue_size=1024), d, aug, seeds=args.seeds, epochs=args.epochs,
                            encoder=encoder, device=dev, nonlinear=False)
        print(f"\n== hard-negative bands, queue 1024 ({time.perf_counter() - t0:.0f} s) ==")
        _table(ds, ("linear_accuracy", "ridge_accuracy", "knn_accuracy", "epoch_time"))
        raw["bands"] = ds.to_dict()
    if args.json:
        with atomic_path(args.json) as tmp:
            tmp.write_text(json.dumps(raw, default=float))


if __name__ == "__main__":
    main()
