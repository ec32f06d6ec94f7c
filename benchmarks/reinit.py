"""Re-initialisation during training (Zaidi et al. 2022) at small scale: test accuracy and lr x wd grid.

Not a test. ``MLP(64, (128, 128), 10)`` on the offline digits (1348 train / 449 test), Adam, batch 128,
30 epochs (10 on the 4x larger augmented set), seeds 0, 1, 2. Methods, as
``nl.methods.common`` callbacks of ``train``:

* ``std`` -- standard training;
* ``sp`` -- ``ShrinkPerturb(0.4, 0.1, every=5, stop=25)`` (shrink-and-perturb, Ash & Adams 2020);
* ``last1`` -- ``ReinitLastLayers(1, every=5, stop=25)`` (the read-out redrawn);
* ``lw`` -- ``LayerwiseReinit(every=8, stop=24)`` (Alabdulmohsin et al. 2021).

Conditions: ``clean`` (no regulariser), ``noise40`` (40% of the training labels replaced by a
different random class, test labels clean), ``tuned`` (clean labels; 1-pixel shift augmentation --
the training fifths not held out plus their four shifted copies, 10 epochs, about 4/3 of the steps
of the plain run, with the schedules scaled to the shorter run -- and the weight decay picked from
{1e-4, 1e-3, 1e-2} by accuracy on the held-out validation fifth of the training set),
``noise40_tuned`` (both; the validation labels are noisy too). Then the lr x weight-decay grid of
``std`` and ``sp`` on clean labels.

    OMP_NUM_THREADS=1 python benchmarks/reinit.py [--device cpu] [--seeds 0 1 2] [--epochs 30]
        [--conditions clean noise40 tuned noise40_tuned] [--methods std sp last1 lw] [--skip-grid]

Figures recorded 2026-12-06 (torch CPU build, one thread, 2 cores shared with other jobs, load ~15;
mean +- s.d. of the final test accuracy over seeds 0, 1, 2; lr 3e-3). CUDA: not run, no GPU lent.

========  ==============  ==============  ==============  ==============
method    clean           noise40         tuned wd+aug    noise40 tuned
========  ==============  ==============  ==============  ==============
std       0.980 +- 0.002  0.818 +- 0.017  0.979 +- 0.007  0.926 +- 0.012
sp        0.948 +- 0.004  0.933 +- 0.005  0.951 +- 0.009  0.918 +- 0.002
last1     0.969 +- 0.002  0.911 +- 0.016  0.970 +- 0.004  0.941 +- 0.003
lw        0.976 +- 0.003  0.866 +- 0.007  0.970 +- 0.005  not run
========  ==============  ==============  ==============  ==============

lr x weight decay (Adam's L2 ``weight_decay``), clean labels, ``std | sp``, mean over the seeds:

=========  ===============  ===============  ===============
lr \\ wd    0                1e-4             1e-3
=========  ===============  ===============  ===============
1e-3       0.976 | 0.872    0.976 | 0.870    0.976 | 0.869
3e-3       0.980 | 0.948    0.978 | 0.949    0.981 | 0.948
1e-2       0.981 | 0.970    0.984 | 0.967    0.973 | 0.961
=========  ===============  ===============  ===============

Reading: under 40% label noise every re-initialisation helps (shrink-and-perturb +0.115, the
read-out +0.093, layer-wise +0.048 over standard training's 0.818), as Zaidi et al. report, and the
benefit shrinks once weight decay and augmentation are tuned (noise40 tuned: standard training rises
to 0.926; shrink-and-perturb -0.008, the read-out +0.015; a reduced version, the weight decay fixed
at 1e-4, the value the selection picks for 5 of 6 runs, is a slow test). Without noise none beats standard training
on digits at this scale (shrink-and-perturb -0.032, -0.028 with tuning); the paper's clean-label gain
does not reproduce (kept as an ``xfail`` in ``tests/methods/common/test_reinit.py``). Shrink-and-perturb is sensitive to the learning
rate, not to the weight decay: at lr 1e-3 the five epochs after the last shrink are not enough to
recover (0.87), at lr 1e-2 it comes within 0.01 of standard training.
"""
from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from neurolatent.methods.common import (
    MLP,
    LayerwiseReinit,
    ReinitLastLayers,
    ShrinkPerturb,
    load_digits,
    train,
)

def _period(epochs: int, fraction: float) -> int:
    return max(int(round(epochs * fraction)), 1)


# schedules as fractions of the run: 30 epochs -> every 5 up to 25 (layer-wise: every 8 up to 24)
METHODS = {
    "std": lambda seed, e: None,
    "sp": lambda seed, e: ShrinkPerturb(0.4, 0.1, every=_period(e, 1 / 6), stop=e - _period(e, 1 / 6), seed=seed),
    "last1": lambda seed, e: ReinitLastLayers(1, every=_period(e, 1 / 6), stop=e - _period(e, 1 / 6), seed=seed),
    "lw": lambda seed, e: LayerwiseReinit(every=_period(e, 4 / 15), stop=e - _period(e, 1 / 5), seed=seed),
}


def flip_labels(y: torch.Tensor, fraction: float, n_classes: int, seed: int) -> torch.Tensor:
    """Replace a ``fraction`` of the labels by a different class drawn uniformly (seeded)."""
    rng = np.random.default_rng(seed)
    y = y.clone()
    m = rng.random(len(y)) < fraction
    shift = torch.as_tensor(rng.integers(1, n_classes, int(m.sum())), device=y.device)
    y[torch.as_tensor(m, device=y.device)] = (y[torch.as_tensor(m, device=y.device)] + shift) % n_classes
    return y


def shift_augment(x: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The 8x8 images and their four 1-pixel shifts (background-filled), stacked."""
    img = x.reshape(-1, 8, 8)
    bg = float(x.min())
    outs = [img]
    for dim, step in ((1, 1), (1, -1), (2, 1), (2, -1)):
        s = torch.roll(img, step, dims=dim)
        idx = 0 if step == 1 else -1
        if dim == 1:
            s[:, idx, :] = bg
        else:
            s[:, :, idx] = bg
        outs.append(s)
    return torch.cat(outs).reshape(-1, 64), y.repeat(5)


def one_run(method, seed, x, y, eval_xy, *, epochs, lr, wd, device):
    net = MLP(64, (128, 128), 10, seed=seed, device=device)
    h = train(net, (x, y), epochs=epochs, lr=lr, weight_decay=wd, batch_size=128, seed=seed, device=device,
              callback=METHODS[method](seed, epochs), eval_data=eval_xy)
    return h["eval_accuracy"][-1]


CONDITIONS = ("clean", "noise40", "tuned", "noise40_tuned")


def run_condition(method, seed, condition, d, args) -> float:
    """Final test accuracy of ``method`` under ``condition`` (see the module docstring)."""
    test = (d.x_test, d.y_test)
    y = flip_labels(d.y_train, 0.4, 10, seed) if condition.startswith("noise40") else d.y_train
    if not condition.endswith("tuned"):
        return one_run(method, seed, d.x_train, y, test, epochs=args.epochs, lr=args.lr, wd=0.0, device=args.device)
    # the validation fifth carries the same (possibly noisy) labels as the rest of the training set
    n_val = d.x_train.shape[0] // 5
    perm = torch.randperm(d.x_train.shape[0], generator=torch.Generator().manual_seed(seed))
    va, tr = perm[:n_val].to(args.device), perm[n_val:].to(args.device)
    xa, ya = shift_augment(d.x_train[tr], y[tr])
    ep = max(args.epochs // 3, 2)  # 4x the data per epoch: 10 epochs ~ 40 plain ones
    best = max((one_run(method, seed, xa, ya, (d.x_train[va], y[va]), epochs=ep, lr=args.lr, wd=wd,
                        device=args.device), wd) for wd in (1e-4, 1e-3, 1e-2))
    return one_run(method, seed, xa, ya, test, epochs=ep, lr=args.lr, wd=best[1], device=args.device)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--lr", type=float, default=3e-3)
    p.add_argument("--methods", nargs="+", default=list(METHODS), choices=list(METHODS))
    p.add_argument("--conditions", nargs="+", default=["clean", "noise40", "tuned"], choices=CONDITIONS)
    p.add_argument("--skip-grid", action="store_true")
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    d = load_digits(seed=0, device=args.device)
    test = (d.x_test, d.y_test)
    t0 = time.perf_counter()
    rows = {}
    for m in args.methods:
        res = {c: [run_condition(m, s, c, d, args) for s in args.seeds] for c in args.conditions}
        rows[m] = res
        print(m, {k: f"{np.mean(v):.3f} +- {np.std(v):.3f}" for k, v in res.items()}, flush=True)
    print(f"\n{'method':8s} " + " ".join(f"{c:>15s}" for c in args.conditions))
    for m, res in rows.items():
        print(f"{m:8s} " + " ".join(f"{np.mean(res[k]):.3f} +- {np.std(res[k]):.3f}" for k in res))
    print(f"({time.perf_counter() - t0:.0f} s)")
    if args.skip_grid:
        return
    lrs, wds = (1e-3, 3e-3, 1e-2), (0.0, 1e-4, 1e-3)
    print("\nlr x weight decay, clean labels: std | sp (mean over seeds)")
    print("lr \\ wd  " + "  ".join(f"{w:>13g}" for w in wds))
    for lr in lrs:
        cells = []
        for wd in wds:
            a = [np.mean([one_run(m, s, d.x_train, d.y_train, test, epochs=args.epochs, lr=lr, wd=wd,
                                  device=args.device) for s in args.seeds]) for m in ("std", "sp")]
            cells.append(f"{a[0]:.3f} | {a[1]:.3f}")
        print(f"{lr:<8g} " + "  ".join(cells), flush=True)
    print(f"({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
