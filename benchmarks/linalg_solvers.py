"""Per-solve time of ``nl.linalg`` against direct scipy.linalg calls, and backward/forward cost.

For each equation, n in (10, 50, 200) and batch in (1, 64) it prints the time per solve (one
batch element) of

* ``scipy``      : a Python loop of scipy.linalg calls on numpy arrays (the reference),
* ``nl``         : ``nl.linalg`` with default settings (CPU -> scipy backend, input checks on),
* ``nl nocheck`` : the same with ``check=False`` (no eigenvalue-based solvability check),
* ``nl eig``     : the batched eigendecomposition backend (the GPU default for large n),

and the cost of one reverse pass relative to the forward solve (``bwd/fwd``; a backward is
one adjoint solve plus a few matrix products, so ~1 is expected). Run with
``python benchmarks/linalg_solvers.py [--quick] [--device cuda]``. Not a test: no assertions.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import scipy.linalg as sl
import torch

import neurolatent.linalg as L


def _time(fn, repeat):
    t0 = time.perf_counter()
    fn()  # warm-up; a call slower than 2 s is timed once (the warm-up itself)
    best = time.perf_counter() - t0
    if best > 2.0:
        return best
    for _ in range(repeat):
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        t0 = time.perf_counter()
        fn()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - t0)
    return best


def _problem(kind, n, batch, device, gen):
    r = lambda *s: torch.randn(*s, dtype=torch.float64, generator=gen).to(device)  # noqa: E731
    A = r(batch, n, n) / np.sqrt(n) - 1.5 * torch.eye(n, dtype=torch.float64, device=device)
    if kind == "sylvester":
        return (A, r(batch, n, n) / np.sqrt(n) - 1.5 * torch.eye(n, dtype=torch.float64, device=device),
                r(batch, n, n)), L.solve_sylvester, sl.solve_sylvester
    if kind == "lyapunov":
        return (A, r(batch, n, n)), L.solve_continuous_lyapunov, sl.solve_continuous_lyapunov
    m = max(n // 5, 1)
    Q = torch.eye(n, dtype=torch.float64, device=device)
    R = torch.eye(m, dtype=torch.float64, device=device)
    return (A + 1.5 * Q, r(batch, n, m), Q.expand(batch, n, n), R.expand(batch, m, m)), \
        L.solve_continuous_are, sl.solve_continuous_are


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="n in (10, 50) only, fewer repeats")
    ap.add_argument("--device", default="cpu")
    args = ap.parse_args(argv)
    sizes = (10, 50) if args.quick else (10, 50, 200)
    repeat = 2 if args.quick else 3
    gen = torch.Generator().manual_seed(0)
    print(f"device={args.device}  torch threads={torch.get_num_threads()}  times in ms per solve")
    header = f"{'equation':10s} {'n':>4s} {'batch':>5s} {'scipy':>9s} {'nl':>9s} {'nl nocheck':>10s} {'nl eig':>9s} {'bwd/fwd':>8s}"
    print(header)
    print("-" * len(header))
    for kind in ("sylvester", "lyapunov", "care"):
        for n in sizes:
            for batch in (1, 64):
                inputs, fn, ref = _problem(kind, n, batch, args.device, gen)
                arrs = [x.cpu().numpy() for x in inputs]
                t_sp = _time(lambda: [ref(*(a[i] for a in arrs)) for i in range(batch)], repeat)
                t_nl = _time(lambda: fn(*inputs), repeat)
                t_nc = _time(lambda: fn(*inputs, check=False), repeat)
                eig_kw = {"method": "eig"} if kind != "care" else {"method": "torch"}
                t_eig = _time(lambda: fn(*inputs, check=False, **eig_kw), repeat)
                leaves = [x.clone().requires_grad_() for x in inputs]

                def fwd_bwd():
                    out = fn(*leaves, check=False)
                    out.sum().backward()

                t_fb = _time(fwd_bwd, repeat)
                ratio = (t_fb - t_nc) / t_nc
                ms = lambda t: 1e3 * t / batch  # noqa: E731
                print(f"{kind:10s} {n:4d} {batch:5d} {ms(t_sp):9.3f} {ms(t_nl):9.3f} {ms(t_nc):10.3f} "
                      f"{ms(t_eig):9.3f} {ratio:8.2f}")


if __name__ == "__main__":
    main()
