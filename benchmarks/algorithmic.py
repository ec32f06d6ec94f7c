"""CLRS-style algorithmic reasoning: in- vs out-of-distribution scores, hints vs no hints, and costs.

Not a test. For each algorithm, trains the encode-process-decode model (dense MPNN, max aggregation,
gating) on graphs of 16 nodes twice -- with the hint loss (teacher forcing 0.5) and without hints --
and scores it (CLRS output metric, predicted hints fed back) on fresh problems of 16 nodes (in
distribution) and 64 nodes (out of distribution). Also times the samplers (trajectories per
second) and one training step (batch of 16 at 16 nodes).

    OMP_NUM_THREADS=1 python benchmarks/algorithmic.py [--algorithms bfs dfs ...] [--steps 150]
        [--hidden 32] [--batch-size 16] [--n-test 32] [--device cpu] [--seed 0] [--out results.json]

Figures: see the table filled in below from one run (CPU, one thread, 2 cores shared with other
jobs; times are only comparable within the run).

FIGURES
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from neurolatent._utils import atomic_path
from neurolatent.methods.algorithmic import ALGORITHMS, EncodeProcessDecode, evaluate_model, fit, get_algorithm

CHEAP_FIRST = ["bfs", "binary_search", "bellman_ford", "naive_string_matcher", "insertion_sort", "bubble_sort",
               "lcs_length", "mst_prim", "dfs"]


def sampler_throughput(name: str, n_nodes: int, seconds: float = 1.0) -> float:
    """Trajectories per second of one algorithm's sampler at ``n_nodes`` nodes."""
    algo, rng = get_algorithm(name), np.random.default_rng(0)
    count, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        algo.trajectory(rng, n_nodes)
        count += 1
    return count / (time.perf_counter() - start)


def run_one(name: str, use_hints: bool, args) -> dict:
    algo = get_algorithm(name)
    torch.manual_seed(args.seed)
    model = EncodeProcessDecode(algo.spec, hidden=args.hidden, use_hints=use_hints, device=args.device)
    hist = fit(model, algo, n_nodes=16, steps=args.steps, batch_size=args.batch_size, n_train=args.n_train,
               lr=args.lr, teacher_forcing=0.5, seed=args.seed, device=args.device)
    start = time.perf_counter()
    ind = evaluate_model(model, algo, n_nodes=16, n_samples=args.n_test, batch_size=args.batch_size, seed=101)
    ood = evaluate_model(model, algo, n_nodes=64, n_samples=args.n_test, batch_size=args.batch_size, seed=102)
    return {"algorithm": name, "hints": use_hints, "in_dist": ind["score"], "ood": ood["score"],
            "gap": ind["score"] - ood["score"], "step_s": hist["seconds"] / len(hist["step"]),
            "eval_s": time.perf_counter() - start, "final_loss": hist["loss"][-1]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--algorithms", nargs="+", default=CHEAP_FIRST, choices=sorted(ALGORITHMS))
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--hidden", type=int, default=32)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--n-train", type=int, default=500)
    ap.add_argument("--n-test", type=int, default=32)
    ap.add_argument("--lr", type=float, default=5e-3)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="write the rows as JSON here (atomically)")
    args = ap.parse_args()
    torch.set_num_threads(1)

    print("sampler throughput (trajectories / s)")
    print(f"{'algorithm':22s} {'n=16':>8s} {'n=64':>8s}")
    for name in args.algorithms:
        print(f"{name:22s} {sampler_throughput(name, 16):8.0f} {sampler_throughput(name, 64):8.0f}", flush=True)

    rows = []
    print(f"\n{'algorithm':22s} {'hints':>5s} {'ID(16)':>7s} {'OOD(64)':>7s} {'gap':>6s} {'s/step':>7s} {'eval s':>7s}")
    for name in args.algorithms:
        for use_hints in (True, False):
            r = run_one(name, use_hints, args)
            rows.append(r)
            print(f"{name:22s} {str(use_hints):>5s} {r['in_dist']:7.3f} {r['ood']:7.3f} {r['gap']:6.3f} "
                  f"{r['step_s']:7.3f} {r['eval_s']:7.1f}", flush=True)
            if args.out:
                with atomic_path(args.out) as tmp:
                    tmp.write_text(json.dumps({"settings": vars(args), "rows": rows}, indent=1))
    if args.device.startswith("cuda"):
        print("\n(CUDA run)")


if __name__ == "__main__":
    main()
