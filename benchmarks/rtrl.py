"""Time and memory per online step of exact RTRL, UORO, KF-RTRL, OK(r) and TBPTT vs hidden size.

Not a test. A tanh RNN (8 inputs, 8 classes, ``n`` hidden units) consumes random one-hot inputs
with a target at every step; each method runs ``--warmup`` steps, then ``--steps`` timed steps
(``learner.step`` plus the gradient contraction, batch ``--batch``). *State* is the memory the
method carries between steps (influence matrix or its factors, TBPTT's buffer), counted from its
tensors; exact RTRL runs with ``memory_limit = --rtrl-mib`` and its row reports the estimate
when it refuses. ``--plot FILE`` draws time per step against ``n`` (log-log).

    OMP_NUM_THREADS=1 python benchmarks/rtrl.py [--sizes 16 32 64 128 256] [--device cpu] [--plot rtrl.png]

Figures (seed 0, batch 1, float32; 2-core CPU shared with ~8 other jobs, torch 2.13, one thread:
wall time was ~3.5x the CPU time, so compare the rows of one run only -- ratios, not absolute ms).
At n <= 64 every method is dominated by Python/launch overhead (~1-4 ms per step):

    n    RTRL     UORO   KF-RTRL  OK(1)  OK(2)  OK(4)  OK(8)  TBPTT(8)   ms/step
    16   1.19     2.18   2.03     3.61   3.36   3.62   3.55   2.17
    32   1.57     1.79   1.98     3.54   3.41   3.92   3.52   2.19
    64   4.07     1.32   1.96     2.76   3.40   3.33   4.40   2.50
    128  40.8     2.24   2.48     3.76   4.88   5.13   7.67   2.64
    256  refused  3.44   3.79     5.78   8.56   14.0   25.3   4.66
         (511 ms/step with --rtrl-mib 512)

    state carried between steps:
    n    RTRL      UORO      KF-RTRL   OK(1)     OK(2)     OK(4)     OK(8)     TBPTT(8)
    16   25.0 KiB  1.6 KiB   1.1 KiB   1.1 KiB   2.2 KiB   4.4 KiB   8.8 KiB   16.8 KiB
    64   1.1 MiB   18.5 KiB  16.3 KiB  16.3 KiB  32.6 KiB  65.1 KiB  130 KiB   258 KiB
    128  8.6 MiB   69.0 KiB  64.5 KiB  64.5 KiB  129 KiB   258 KiB   516 KiB   1.0 MiB
    256  refused: needs 132.5 MiB (2 n p floats) > limit 64 MiB; 66.2 MiB influence matrix when run
                   266 KiB   257 KiB   257 KiB   514 KiB   1.0 MiB   2.0 MiB   4.0 MiB

Exact RTRL grows as n^4 in time in theory (measured x10 from 64 to 128, x12.5 from 128 to 256) and n^3 in memory; the
Kronecker methods as r n^3 time (OK(8): x3.3 from 128 to 256) and r n^2 memory; UORO and TBPTT as
n^2 (TBPTT's buffer h n^2). CUDA row: not run (no GPU was lent to this session).

``--learning`` instead runs the two online-learning comparisons of the issue at full size (seeds
0, 1, 2; Adam 0.01 after every step; batches of 16 sequences; n = 16), which the test suite only
checks in a reduced form (``tests/methods/rtrl/test_rtrl_claims.py``):

* delayed recall with distractors, lag 8 (``CopyTask(4, length=1, delay=7, distractors=True)``),
  tanh cell with gain 0.3, 150 batches, final held-out recall accuracy (chance 0.25)::

      seed   exact RTRL   OK(2)   TBPTT(2)
      0      0.78         0.51    0.23
      1      1.00         0.74    0.42
      2      0.76         1.00    0.29
      mean   0.85         0.75    0.31

* embedded Reber grammar (strings <= 20 symbols), gated cell, 100 batches, final held-out
  cross-entropy in nats per symbol (lower is better)::

      seed   exact RTRL   OK(2)   TBPTT(4)
      0      0.452        0.468   0.542
      1      0.508        0.508   0.614
      2      0.458        0.539   0.519
      mean   0.473        0.505   0.558

  OK(2) matches (here slightly beats) TBPTT(4) and stays close to exact RTRL.
"""
from __future__ import annotations

import argparse
import time

import torch

from neurolatent._utils import atomic_path
from neurolatent.methods.rtrl import (
    KFRTRL,
    OKRTRL,
    RTRL,
    TBPTT,
    UORO,
    CopyTask,
    ExactRTRLTooLarge,
    GatedCell,
    ReberGrammar,
    TanhCell,
    train_online,
)


def _state_bytes(learner) -> int:
    tensors = []
    for name in ("influence", "A", "u", "theta"):
        if isinstance(getattr(learner, name, None), torch.Tensor):
            tensors.append(getattr(learner, name))
    for jac in getattr(learner, "buffer", []):
        tensors += [jac.state, jac.pre, jac.inputs]
    return sum(t.numel() * t.element_size() for t in tensors)


def _fmt(nbytes: float) -> str:
    for unit, scale in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10)):
        if nbytes >= scale:
            return f"{nbytes / scale:.1f} {unit}"
    return f"{nbytes:.0f} B"


def _sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def measure(n: int, method: str, *, batch: int, steps: int, warmup: int, device, dtype, rtrl_mib: float,
            seed: int = 0) -> dict:
    cell = TanhCell(8, n, seed=seed, device=device, dtype=dtype)
    readout = torch.nn.Linear(n, 8, device=device, dtype=dtype)
    makers = {"RTRL": lambda: RTRL(cell, readout, memory_limit=int(rtrl_mib * 2**20)),
              "UORO": lambda: UORO(cell, readout), "KF-RTRL": lambda: KFRTRL(cell, readout),
              "TBPTT(8)": lambda: TBPTT(cell, readout, h=8)}
    for r in (1, 2, 4, 8):
        makers[f"OK({r})"] = lambda r=r: OKRTRL(cell, readout, r=r)
    try:
        learner = makers[method]()
        learner.reset(batch)
    except ExactRTRLTooLarge as err:
        need = 2 * batch * n * cell.n_params * torch.empty((), dtype=dtype).element_size()
        return {"n": n, "method": method, "refused": f"needs {_fmt(need)} (2 n p floats) > limit {_fmt(rtrl_mib * 2**20)}",
                "error": str(err)}
    gen = torch.Generator().manual_seed(seed)
    xs = torch.nn.functional.one_hot(torch.randint(0, 8, (warmup + steps, batch), generator=gen), 8).to(device, dtype)
    ys = torch.randint(0, 8, (warmup + steps, batch), generator=gen).to(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    for t in range(warmup):
        learner.step(xs[t], ys[t])
    _sync(device)
    start = time.perf_counter()
    for t in range(warmup, warmup + steps):
        learner.step(xs[t], ys[t])
    _sync(device)
    ms = (time.perf_counter() - start) / steps * 1e3
    out = {"n": n, "method": method, "ms": ms, "state": _state_bytes(learner)}
    if device.type == "cuda":
        out["peak"] = torch.cuda.max_memory_allocated(device)
    return out


def learning(seeds=(0, 1, 2)) -> None:
    """The full-size online-learning comparisons (see the module docstring)."""
    setups = [
        ("delayed recall, lag 8: final accuracy", CopyTask(4, length=1, delay=7, distractors=True),
         lambda seed, task: TanhCell(task.n_input, 16, seed=seed, gain=0.3), 150, "eval_accuracy",
         {"exact RTRL": lambda c, r, s: RTRL(c, r), "OK(2)": lambda c, r, s: OKRTRL(c, r, r=2, seed=s),
          "TBPTT(2)": lambda c, r, s: TBPTT(c, r, h=2)}),
        ("embedded Reber grammar: final held-out loss (nats/symbol)", ReberGrammar(embedded=True, max_length=20),
         lambda seed, task: GatedCell(task.n_input, 16, seed=seed), 100, "eval_loss",
         {"exact RTRL": lambda c, r, s: RTRL(c, r), "OK(2)": lambda c, r, s: OKRTRL(c, r, r=2, seed=s),
          "TBPTT(4)": lambda c, r, s: TBPTT(c, r, h=4)}),
    ]
    for title, task, make_cell, n_batches, key, methods in setups:
        print(title)
        print("  seed  " + "  ".join(f"{m:>10s}" for m in methods))
        for seed in seeds:
            vals = []
            for make in methods.values():
                cell = make_cell(seed, task)
                torch.manual_seed(seed)
                learner = make(cell, torch.nn.Linear(16, task.n_output), seed)
                opt = torch.optim.Adam(learner.parameters(), lr=0.01)
                ds = train_online(learner, task, opt, n_batches=n_batches, batch_size=16,
                                  eval_every=n_batches // 5, seed=seed)
                vals.append(float(ds[key][-1]))
            print(f"  {seed:4d}  " + "  ".join(f"{v:10.3f}" for v in vals), flush=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[16, 32, 64, 128, 256])
    ap.add_argument("--methods", nargs="+", default=["RTRL", "UORO", "KF-RTRL", "OK(1)", "OK(2)", "OK(4)", "OK(8)",
                                                     "TBPTT(8)"])
    ap.add_argument("--batch", type=int, default=1)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=10)
    ap.add_argument("--rtrl-mib", type=float, default=64.0, help="memory limit of exact RTRL (MiB)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    ap.add_argument("--plot", default=None, help="save the time-per-step figure here (png/pdf)")
    ap.add_argument("--learning", action="store_true", help="run the online-learning comparisons instead")
    args = ap.parse_args()
    if args.learning:
        torch.set_num_threads(1)
        learning()
        return
    device, dtype = torch.device(args.device), getattr(torch, args.dtype)
    torch.set_num_threads(1)
    rows = []
    print(f"{'n':>4}  {'method':10s}  {'ms/step':>9}  state" + ("  peak CUDA" if device.type == "cuda" else ""))
    for n in args.sizes:
        for method in args.methods:
            steps = args.steps if not (method == "RTRL" and n >= 128) else max(2, args.steps // 10)
            row = measure(n, method, batch=args.batch, steps=steps, warmup=min(args.warmup, steps),
                          device=device, dtype=dtype, rtrl_mib=args.rtrl_mib)
            rows.append(row)
            if "refused" in row:
                print(f"{n:>4}  {method:10s}  refused: {row['refused']}", flush=True)
            else:
                peak = f"  {_fmt(row['peak'])}" if "peak" in row else ""
                print(f"{n:>4}  {method:10s}  {row['ms']:9.3g}  {_fmt(row['state'])}{peak}", flush=True)
    if args.plot:
        import matplotlib

        import matplotlib.ticker

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=(5, 3.5))
        for method in args.methods:
            pts = [(r["n"], r["ms"]) for r in rows if r["method"] == method and "ms" in r]
            if pts:
                ax.loglog(*zip(*pts), marker="o", label=method)
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.set_xticks(args.sizes, [str(n) for n in args.sizes])
        ax.set_xlabel("hidden units n")
        ax.set_ylabel("ms per step")
        ax.set_title(f"online gradient cost ({args.device}, batch {args.batch})")
        ax.legend(fontsize=7)
        fig.tight_layout()
        with atomic_path(args.plot) as tmp:
            fig.savefig(tmp, format=args.plot.rsplit(".", 1)[-1])
        print(f"saved {args.plot}")


if __name__ == "__main__":
    main()
