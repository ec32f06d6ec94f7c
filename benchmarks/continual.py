"""Continual-learning methods on one stream: wall time per task and peak memory, per method.

Not a test. Each method runs in its own subprocess (so that the peak resident memory of one does not
hide another's) on the same stream: 5 permuted digits tasks, ``MLP(64, (W, W), 10)``, Adam lr 1e-3,
5 epochs per task, batch 64, seed 0. Reported: mean training seconds per task (training plus the
end-of-task importance; evaluation excluded), peak memory (CPU: the subprocess's maximum resident
set minus that of a subprocess that only loads the data and builds the network; CUDA:
``torch.cuda.max_memory_allocated``) and the average final accuracy.

    OMP_NUM_THREADS=1 python benchmarks/continual.py [--stream digits|cognitive] [--device cpu] [--width W]

``--stream cognitive`` runs the RNN methods (fine-tuning, EWC, KFAC-Laplace, NCL) on the five
cognitive tasks (384 training trials each, ``RNNClassifier(10, 64, 8)``, Adam lr 3e-3, 10 epochs).

Figures recorded 2026-12-06 (torch 2.13 CPU build; 2 CPU cores shared with other jobs, one thread:
compare the ratios within the table, not the absolute seconds; width 100, seed 0). No GPU was lent
to the session that wrote this, so there is no CUDA row yet: run with ``--device cuda`` and add it.

============== ======== ======== ========
method          s/task   peak MiB avg acc
============== ======== ======== ========
finetune        0.210     85.2    0.584
ewc             0.442    121.6    0.735
ewc_empirical   0.534    114.5    0.701
af              0.559    121.1    0.708
mas             0.537    123.3    0.705
si              0.428     86.0    0.722
siu             0.649     85.9    0.699
sib             0.594     86.3    0.723
============== ======== ======== ========

``--stream cognitive`` (same day and machine, load average about 11 on 2 cores; width 64):

============== ======== ======== ========
method          s/task   peak MiB avg acc
============== ======== ======== ========
finetune        0.477     89.4    0.443
ewc             0.744    229.9    0.543
kfac            0.687    102.3    0.518
ncl             0.663    100.4    0.605
============== ======== ======== ========

(a first run of the same command, concurrent with another job of ours, gave 1.40 s/task for
fine-tuning and 0.67 for NCL: under this load only differences above ~2x mean anything.) EWC's
memory is the vectorised per-sample gradients through 20 time steps; KFAC/NCL need only the two
Kronecker factors per layer and cost one extra forward-backward pass over 512 trials per task.

The per-sample importances (EWC, AF, MAS) cost one vectorised per-sample-gradient pass over up to
1000 training inputs at the end of each task (about +0.25 s per task here, +35 MiB for the
256 x 17,310 per-sample gradients of a chunk); SI costs a copy of the parameters per step, and SIU/SIB
one extra forward-backward pass per step on an independent minibatch (about 1.5x SI's time).
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import torch

METHODS = {"digits": ("finetune", "ewc", "ewc_empirical", "af", "mas", "si", "siu", "sib"),
           "cognitive": ("finetune", "ewc", "kfac", "ncl")}


def one(method: str, device: str, width: int, stream: str) -> dict:
    from neurolatent.methods.common import MLP, load_digits, permuted_tasks
    from neurolatent.methods.continual import RNNClassifier, cognitive_tasks, run

    torch.set_num_threads(1)
    dev = torch.device(device)
    if stream == "digits":
        tasks = permuted_tasks(load_digits(device=dev), 5, seed=0)
        net = MLP(64, (width, width), 10, seed=0, device=dev)
        opts = dict(epochs=5, lr=1e-3)
    else:
        tasks = cognitive_tasks(n_train=384, n_test=256, seed=0, device=dev)
        net = RNNClassifier(10, width, 8, seed=0, device=dev)
        opts = dict(epochs=10, lr=3e-3, **({"strength": 1e3} if method == "ewc" else {}))
    if dev.type == "cuda":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    if method == "baseline":
        return {"method": method, "maxrss_kib": base}
    t0 = time.perf_counter()
    res = run(net, tasks, method, seed=0, device=dev, progress=False, **opts)
    if dev.type == "cuda":
        torch.cuda.synchronize()
    out = {"method": method, "seconds_per_task": float(res.train_seconds.mean()),
           "total_seconds": time.perf_counter() - t0, "average_accuracy": float(res.average_accuracy),
           "maxrss_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}
    if dev.type == "cuda":
        out["cuda_peak_mib"] = torch.cuda.max_memory_allocated() / 2**20
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--width", type=int, default=None, help="hidden width (default: 100 digits MLP, 64 RNN)")
    ap.add_argument("--stream", choices=sorted(METHODS), default="digits")
    ap.add_argument("--one", default=None, help="internal: run one method and print JSON")
    args = ap.parse_args()
    width = args.width or (100 if args.stream == "digits" else 64)
    if args.one:
        print(json.dumps(one(args.one, args.device, width, args.stream)))
        return
    rows = []
    for m in ("baseline", *METHODS[args.stream]):
        out = subprocess.run([sys.executable, __file__, "--one", m, "--device", args.device, "--width", str(width),
                              "--stream", args.stream], capture_output=True, text=True, check=True)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    base = rows[0]["maxrss_kib"]
    print(f"stream {args.stream}, device {args.device}, width {width}, torch {torch.__version__}")
    print(f"{'method':14s} {'s/task':>8s} {'peak MiB':>9s} {'avg acc':>8s}")
    for r in rows[1:]:
        mem = r.get("cuda_peak_mib", (r["maxrss_kib"] - base) / 1024)
        print(f"{r['method']:14s} {r['seconds_per_task']:8.3f} {mem:9.1f} {r['average_accuracy']:8.3f}")


if __name__ == "__main__":
    main()
