"""HCL on split digits at ``run_hcl``'s full defaults: accuracy, forgetting, detection, time per task.

Not a test. Five tasks of two digit classes (class-incremental), ``run_hcl(tasks, mode, seed=s)`` with
its defaults (RealNVP of 8 couplings of width 128, Adam lr 3e-3, 6 epochs per task, batch 64, noise
0.05, strengths FR 1 / GR 4) and a ``TypicalityDetector()`` watching the stream (true boundaries).
The claim tests (``tests/methods/continual/test_hcl_claims.py``) run a smaller flow (4 couplings) to
fit the CI budget.

    OMP_NUM_THREADS=1 python benchmarks/hcl.py [--device cpu] [--seeds 0 1 2] [--modes finetune gr fr]
                                              [--boundaries given|detected] [--stream split|recurring]
                                              [--recognise]

Figures recorded 2026-12-06 (torch 2.13 CPU build, one thread, 2 cores shared with about eight other
jobs: the seconds are only comparable within the table). Per seed 0 / 1 / 2:

========= ===================== ===================== ============== ============ ==========
mode       avg final accuracy    avg forgetting        delays (4 b.)  false alarms  s / run
========= ===================== ===================== ============== ============ ==========
finetune   0.200 0.200 0.196     0.986 0.994 1.000     all 0          0 1 0        25 13 13
HCL-GR     0.823 0.840 0.855     0.141 0.132 0.132     all 0          0 1 0        18 17 13
HCL-FR     0.852 0.890 0.896     0.125 0.102 0.088     all 0          0 1 0        19 18 17
========= ===================== ===================== ============== ============ ==========

(false alarms: out of 149 in-task batches per stream; the seed-1 alarm falls in the first task,
before any replay, which is why it is shared by the three modes.) Fine-tuning ends with only the
last task right (final accuracies 0 0 0 0 0.99); both HCL mechanisms keep every task at 0.60 or above.
A replayed batch costs one inverse pass of the frozen flow plus a forward pass of the same size as
the data batch, so HCL's step is at most ~2x fine-tuning's; the measured ratio is lower because the
first run in a process also pays torch's optimiser import (a few seconds).

``--boundaries detected`` (the detector sets the boundaries: task-agnostic HCL), same day and machine:

========= ===================== ===================== ==================
mode       avg final accuracy    avg forgetting        model tasks found
========= ===================== ===================== ==================
HCL-GR     0.823 0.819 0.855     0.141 0.056 0.132     5 6 5
HCL-FR     0.852 0.856 0.896     0.125 0.051 0.088     5 6 5
========= ===================== ===================== ==================

Seeds 0 and 2 find exactly the true boundaries (delay 0), so their numbers equal the table above;
seed 1's false alarm in the first task opens a sixth model task (its classes get a second
component), which costs FR 0.034 and GR 0.021 of average accuracy against the given boundaries.

``--stream recurring --boundaries detected --modes fr`` (split-digits tasks 0 1 0 2 1: a task comes
back), with and without ``--recognise``:

================ ===================== ===================== ==================
run               avg final accuracy    avg forgetting        model tasks found
================ ===================== ===================== ==================
FR               0.916 0.948 0.947     0.066 0.046 0.044     5 5 5
FR, recognise    0.975 0.968 0.975     0.009 0.023 0.006     3 3 3
================ ===================== ===================== ==================

Every boundary was flagged at delay 0 with no false alarm in these six streams. Recognition sends
both returning tasks back to their own components (3 model tasks, as many as distinct tasks); without
it each return opens a new task with a second component per class.

No GPU was lent to the session that wrote this, so there is no CUDA row: run with ``--device cuda``
and add it.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from neurolatent.methods.common import load_digits, split_tasks
from neurolatent.methods.continual import TypicalityDetector, run_hcl


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--modes", nargs="+", default=["finetune", "gr", "fr"])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--boundaries", choices=["given", "detected"], default="given",
                        help="'detected': the detector sets the task boundaries (task-agnostic HCL)")
    parser.add_argument("--stream", choices=["split", "recurring"], default="split",
                        help="'recurring': split-digits tasks 0 1 0 2 1 (tasks come back)")
    parser.add_argument("--recognise", action="store_true",
                        help="with --boundaries detected: return to an earlier task when the new data is typical of it")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    tasks = split_tasks(load_digits(seed=0, device=args.device), 2)
    if args.stream == "recurring":
        tasks = [tasks[i] for i in (0, 1, 0, 2, 1)]
    print(f"{'mode':9s} {'seed':>4s} {'avg acc':>8s} {'forget':>7s} {'delays':>14s} {'FA':>3s} {'tasks':>5s} "
          f"{'s/task':>7s} {'s/run':>6s}")
    for mode in args.modes:
        for seed in args.seeds:
            t0 = time.perf_counter()
            r = run_hcl(tasks, mode, seed=seed, device=args.device, progress=False, detector=TypicalityDetector(),
                        boundaries=args.boundaries, recognise=args.recognise)
            wall = time.perf_counter() - t0
            delays = " ".join("-" if np.isnan(d) else str(int(d)) for d in r.detection_delay.values)
            print(f"{mode:9s} {seed:4d} {float(r.average_accuracy):8.3f} {float(r.average_forgetting):7.3f} "
                  f"{delays:>14s} {int(r.false_alarms):3d} {r.attrs['model_tasks']:5d} {float(r.train_seconds.mean()):7.2f} "
                  f"{wall:6.1f}",
                  flush=True)


if __name__ == "__main__":
    main()
