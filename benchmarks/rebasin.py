"""Re-basin measurements on digits: barriers, initialisation averages, combinability, stitching, timings.

Not a test: prints the numbers the claim tests in ``tests/methods/rebasin`` are calibrated on, for
several seed pairs, with wall-clock timings of training and of each matching method.

    OMP_NUM_THREADS=1 python benchmarks/rebasin.py [--pairs 3] [--device cpu]
"""
from __future__ import annotations

import argparse
import copy
import time

import numpy as np
import torch

from neurolatent.methods.common import MLP, SmallCNN, evaluate, linear_cka, load_digits, representations, rescale_units, train
from neurolatent.methods.rebasin import (
    average_permuted_initialisations,
    barrier,
    combination_study,
    match_activations,
    match_weights,
    stitch,
)

RECIPE = dict(epochs=20, lr=0.05, optimizer="sgd", batch_size=64)


def pair(make, data, seeds, device):
    out = []
    for s in seeds:
        init = make(s).to(device)
        net = copy.deepcopy(init)
        t = time.perf_counter()
        train(net, data, seed=s, device=device, **RECIPE)
        out.append((init, net, time.perf_counter() - t))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pairs", type=int, default=3)
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args()
    dev = torch.device(args.device)
    flat, img = load_digits(device=dev), load_digits(image=True, device=dev)
    for i in range(args.pairs):
        seeds = (2 * i, 2 * i + 1)
        for name, make, d in [("mlp", lambda s: MLP(64, (256, 256), 10, seed=s), flat),
                              ("cnn", lambda s: SmallCNN(1, (16, 32), 10, seed=s), img)]:
            (ia, a, ta), (ib, b, tb) = pair(make, d, seeds, dev)
            x, y = d.x_test, d.y_test
            t = time.perf_counter()
            pb, perms = match_activations(a, b, d.x_train, return_permutation=True)
            t_act = time.perf_counter() - t
            t = time.perf_counter()
            wb = match_weights(a, b)
            t_w = time.perf_counter() - t
            b0, b1, b2 = barrier(a, b, x, y), barrier(a, pb, x, y), barrier(a, wb, x, y)
            avg0 = evaluate(average_permuted_initialisations(ia, ib), x, y)["accuracy"]
            avgp = evaluate(average_permuted_initialisations(ia, ib, perms), x, y)["accuracy"]
            print(f"{name} seeds {seeds}: acc {b0.accuracy[0]:.3f}/{b0.accuracy[-1]:.3f}  train {ta:.1f}s  "
                  f"loss barrier {b0.loss_barrier:.3f} -> act {b1.loss_barrier:.3f} ({t_act:.2f}s) "
                  f"/ weights {b2.loss_barrier:.3f} ({t_w:.2f}s); error barrier {b0.error_barrier:.3f} -> "
                  f"{b1.error_barrier:.3f} / {b2.error_barrier:.3f}; init average {avg0:.3f} -> permuted {avgp:.3f}")
            if name == "mlp":
                kinds = ("uniform", "bernoulli", "outside", "layer")
                st_al = combination_study(a, pb, x, y, kinds=kinds, n_samples=8, seed=0)
                st_un = combination_study(a, b, x, y, kinds=kinds, n_samples=8, seed=0)
                for k in kinds:
                    print(f"   combine {k:9s} aligned loss <= {st_al[k]['loss'].max():.3f} "
                          f"(acc >= {st_al[k]['accuracy'].min():.3f}, disagreement {st_al[k]['disagreement_a'].mean():.3f})"
                          f" | unaligned loss >= {st_un[k]['loss'].min():.3f}")
        (_, a, _), (_, b, _) = pair(lambda s: MLP(64, (64, 64, 64), 10, seed=s), flat, seeds, dev)
        x, y = flat.x_test, flat.y_test
        for k in a.hidden_layers:
            task = evaluate(stitch(a, b, k, flat, method="task", epochs=5), x, y)
            lsq = evaluate(stitch(a, b, k, flat, method="lstsq"), x, y)
            t4 = evaluate(stitch(a, b, k, flat, method="task", rank=4, epochs=5), x, y)
            l4 = evaluate(stitch(a, b, k, flat, method="lstsq", rank=4), x, y)
            n = a.forward_to(x[:1], k).shape[1]
            scale = torch.ones(n)
            scale[torch.randperm(n, generator=torch.Generator().manual_seed(0))[:3]] = 30.0
            twin = rescale_units(a, k, scale)
            ra, rt, rb = (representations(m, x, [k])[k] for m in (a, twin, b))
            tw = evaluate(stitch(a, twin, k, flat, method="task", epochs=5), x, y)
            print(f"   stitch layer {k}: task {task['accuracy']:.3f} lstsq {lsq['accuracy']:.3f} | rank 4: task "
                  f"{t4['accuracy']:.3f} lstsq {l4['accuracy']:.3f} | CKA(A,B) {float(linear_cka(ra, rb)):.3f} "
                  f"CKA(A,twin) {float(linear_cka(ra, rt)):.3f}, stitch to twin {tw['accuracy']:.3f}")
        print("   end points", [round(evaluate(m, x, y)["accuracy"], 3) for m in (a, b)])
        np.random.seed(0)


if __name__ == "__main__":
    main()
