"""Time and peak memory of one pruning call per method (magnitude, OBD, exact OBS, FishLeg surgeon).

Not a test. Trains a 64-width-10 MLP on digits (Adam, 30 epochs), fits FishLeg's Q (300 auxiliary
steps), then times one one-shot pruning call to 90 % sparsity per method and reports the resulting
test accuracy. CPU peak memory is the growth of the process's maximum resident set size
(``resource.getrusage``, a coarse upper bound); on CUDA it is ``torch.cuda.max_memory_allocated``.

    OMP_NUM_THREADS=1 python benchmarks/pruning.py [--widths 32 64] [--device cpu] [--seed 0]

Figures (seed 0, 90 % sparsity; 2-core CPU shared with other jobs, torch 2.13, one thread; compare
the rows of one run only -- ratios, not absolute seconds; no GPU row: no device was lent):

    width 32 (P = 2410)  time      peak RSS growth  accuracy
      magnitude          0.001 s   +0 MiB           0.610
      OBD                0.79 s    +41 MiB          0.461
      OBS (layer blocks) 21.5 s    +179 MiB         0.849
      FishLeg surgeon    0.044 s   +0 MiB           0.726   (Q fit beforehand: 6.6 s)
    width 64 (P = 4810)
      magnitude          0.001 s   +0 MiB           0.786
      OBD                1.63 s    +0 MiB           0.486
      OBS (layer blocks) 101 s     +708 MiB         0.931
      FishLeg surgeon    0.052 s   +0 MiB           0.851   (Q fit beforehand: 4.8 s)

The exact OBS cost grows as P_l^3 per layer block (inverse) plus P_l^2 per removed chunk; the
FishLeg surgeon's as one Kronecker product per layer, which is why it scales.
"""
from __future__ import annotations

import argparse
import copy
import resource
import time

import torch

from neurolatent.methods.common import MLP, evaluate, load_digits, train
from neurolatent.methods.optim import FishLeg
from neurolatent.methods.sparsity import FishLegSurgeon, MagnitudePruner, OBDPruner, OBSPruner


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--widths", type=int, nargs="+", default=[32, 64])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sparsity", type=float, default=0.9)
    args = ap.parse_args()
    torch.set_num_threads(1)
    dev = torch.device(args.device)
    d = load_digits(seed=0, device=dev)
    gamma = 1e-2
    for width in args.widths:
        net = MLP(64, (width,), 10, seed=args.seed, device=dev)
        train(net, d, epochs=30, lr=1e-3, seed=args.seed, device=dev)
        fl = FishLeg(net, damping=gamma, aux_lr=0.02, seed=args.seed)
        gen = torch.Generator().manual_seed(args.seed)
        t = time.perf_counter()
        for _ in range(300):
            fl.update_q(d.x_train[torch.randint(0, len(d.x_train), (256,), generator=gen).to(dev)], steps=1)
        t_q = time.perf_counter() - t
        xf = d.x_train[:512]
        n_params = sum(p.numel() for p in net.parameters())
        print(f"width {width}: P = {n_params}, dense accuracy {evaluate(net, d.x_test, d.y_test)['accuracy']:.3f}, "
              f"FishLeg Q fit {t_q:.1f} s (300 auxiliary steps)")
        methods = {"magnitude": MagnitudePruner(), "obd": OBDPruner(xf),
                   "obs": OBSPruner(xf, damping=gamma, block="layer", chunk=0.02),
                   "fls": FishLegSurgeon(fl, n_steps=10)}
        for name, m in methods.items():
            pruned = copy.deepcopy(net)
            if dev.type == "cuda":
                torch.cuda.synchronize()
                torch.cuda.reset_peak_memory_stats()
            rss0 = _peak_rss_mb()
            t = time.perf_counter()
            m.prune(pruned, args.sparsity)
            if dev.type == "cuda":
                torch.cuda.synchronize()
                mem = f"{torch.cuda.max_memory_allocated() / 2**20:.0f} MiB (GPU peak)"
            else:
                mem = f"+{_peak_rss_mb() - rss0:.0f} MiB (RSS peak growth)"
            secs = time.perf_counter() - t
            acc = evaluate(pruned, d.x_test, d.y_test)["accuracy"]
            print(f"  {name:9s} {secs:8.3f} s  {mem:28s} accuracy at {args.sparsity:.0%}: {acc:.3f}")


if __name__ == "__main__":
    main()
