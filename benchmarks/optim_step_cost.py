"""Per-step cost of every optimiser in ``neurolatent.methods.optim`` relative to plain SGD.

Not a test: times ``zero_grad + forward + backward + step`` on random digits-sized batches and prints
a table (median milliseconds per step and the ratio to SGD on the same network, device and batch).
The exact methods (natural gradient, Gauss-Newton) form full Jacobians and are timed on a smaller
network of their own, with their own SGD baseline.

    OMP_NUM_THREADS=1 python benchmarks/optim_step_cost.py [--device cpu|cuda] [--repeats 30]
"""
from __future__ import annotations

import argparse
import statistics
import time

import torch
import torch.nn.functional as F

from neurolatent.methods.common import MLP
from neurolatent.methods.optim import (FOOF, KFAC, RLLC, ExactNaturalGradient, FishLeg, ReversibleMLP,
                                       exact_gauss_newton, onehot_mse)


def time_steps(make_model, make_opt, x, y, loss_fn, repeats: int, device: torch.device) -> float:
    model = make_model().to(device)
    opt = make_opt(model)
    times = []
    for i in range(repeats + 3):  # 3 warm-up steps
        if device.type == "cuda":
            torch.cuda.synchronize()
        t = time.perf_counter()
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
        if device.type == "cuda":
            torch.cuda.synchronize()
        if i >= 3:
            times.append(time.perf_counter() - t)
    return 1e3 * statistics.median(times)


def table(title, rows, base):
    print(f"\n{title}")
    print(f"{'optimiser':<24}{'ms / step':>12}{'x SGD':>10}")
    for name, ms in rows:
        print(f"{name:<24}{ms:>12.2f}{ms / base:>10.1f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--repeats", type=int, default=30)
    ap.add_argument("--batch", type=int, default=128)
    args = ap.parse_args()
    dev = torch.device(args.device)
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(args.batch, 64, generator=gen).to(dev)
    y = torch.randint(0, 10, (args.batch,), generator=gen).to(dev)

    big = lambda: MLP(64, (128, 128), 10, seed=0)  # noqa: E731
    first_order = {
        "SGD": lambda m: torch.optim.SGD(m.parameters(), lr=0.1),
        "SGD + momentum": lambda m: torch.optim.SGD(m.parameters(), lr=0.1, momentum=0.9),
        "Adam": lambda m: torch.optim.Adam(m.parameters(), lr=1e-3),
        "RLLC (k=3)": lambda m: RLLC(m.parameters(), lr=0.3, law_lr=0.2),
        "KFAC": lambda m: KFAC(m, lr=0.1, damping=1e-2),
        "KFAC (inverse every 10)": lambda m: KFAC(m, lr=0.1, damping=1e-2, update_freq=10),
        "KFAC (sampled Fisher)": lambda m: KFAC(m, lr=0.1, damping=1e-2, fisher="sampled"),
        "FOOF": lambda m: FOOF(m, lr=0.1, damping=1e-2),
        "FishLeg (1 aux step)": lambda m: FishLeg(m, lr=0.1, damping=0.3),
    }
    rows = [(k, time_steps(big, f, x, y, F.cross_entropy, args.repeats, dev)) for k, f in first_order.items()]
    table(f"MLP 64-128-128-10, batch {args.batch}, device {dev}", rows, rows[0][1])

    xs, ys = x[:32], y[:32]
    small = lambda: MLP(64, (32,), 10, seed=0)  # noqa: E731
    rows = [(k, time_steps(small, f, xs, ys, F.cross_entropy, args.repeats, dev)) for k, f in {
        "SGD": lambda m: torch.optim.SGD(m.parameters(), lr=0.1),
        "KFAC": lambda m: KFAC(m, lr=0.1, damping=1e-2),
        "exact natural gradient": lambda m: ExactNaturalGradient(m, lr=0.3, damping=1e-2),
    }.items()]
    table(f"MLP 64-32-10 (2.4k parameters), batch 32, device {dev}", rows, rows[0][1])

    for hidden, jacobian in ((16, True), (1024, False)):
        rev = lambda: ReversibleMLP(64, 10, n_blocks=2, hidden=hidden, seed=0)  # noqa: E731
        opts = {
            "SGD": lambda m: torch.optim.SGD(m.parameters(), lr=0.03),
            "Adam": lambda m: torch.optim.Adam(m.parameters(), lr=1e-2),
            "exact GN (Gram form)": lambda m: exact_gauss_newton(m, lr=0.3),
        }
        if jacobian:  # the full-Jacobian form needs N*C*P floats: only for the small network
            opts["exact GN (full Jacobian)"] = lambda m: exact_gauss_newton(m, lr=0.3, method="jacobian")
        n_par = sum(p.numel() for p in rev().parameters())
        rows = [(k, time_steps(rev, f, xs, ys, onehot_mse, args.repeats, dev)) for k, f in opts.items()]
        table(f"Reversible MLP 2 blocks x hidden {hidden} ({n_par / 1e3:.1f}k parameters), batch 32, device {dev}",
              rows, rows[0][1])


if __name__ == "__main__":
    main()
