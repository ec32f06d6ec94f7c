"""Speed and memory of the mGPLVM fit (prints a table; not a test).

Cases
-----
step       one default fly step (16 neurons x 500 bins, M = 15, forward + backward, full batch) in
           variants timed in interleaved rounds on the same model: autograd vs fused
           (custom-backward) RBF marginals at n_mc = 5, and the fused ones with n_mc = 2 and/or in
           float32, and (``--compile``) the ``torch.compile``'d marginals. Median wall and CPU
           (``time.process_time``) milliseconds per step.
scratch    default fly steps with the fused moments' scratch tensors reused (the default) vs
           freshly allocated, interleaved in one process, and the ELBO trajectories of two fits.
ab         a default fly step of this tree against another checkout (``--baseline-src``), each in
           fresh processes, alternating for ``--ab-rounds`` rounds; this tree's step is timed with
           float64 and float32 moments (``MGPLVM(moments_dtype=)``) interleaved. CPU ms per step.
fitcmp     the default fly fit (600 steps, early stopping) with autograd vs fused marginals.
fitopts    default T1 fits with each speed option (float64 / float32, ``n_mc_after_burnin`` None / 2)
           on the fly data and on synthetic rings (100 neurons x 500 bins), ``--seeds``: steps,
           wall and CPU seconds, median error (fly: to the PV phase; synthetic: to the truth) and
           the ELBO of a float64 copy (``n_mc=20, seed=0``).
fly        the fly recording, full batch, 600 steps: steps/s, time to converge, PV error.
syn10k     synthetic T1 data, T = 10,000 x N = 200, minibatches of ``--batch`` bins, 300 steps.
mem100k    synthetic T1 data, T = 100,000 x N = 500 (``--quick``: 20,000 x 100), time minibatches of
           ``--mem-batches`` bins, ``--mem-steps`` steps, each batch size in a fresh subprocess:
           peak RSS (``torch.cuda.max_memory_allocated`` on CUDA), set-up and per-step seconds
           (wall and CPU), an epoch extrapolated from the per-step time; ``--mem-neuron-batches``
           adds neuron minibatches (``fit(neuron_batch_size=)``).

Latest (scratch tensors for the fused moments; load average 2-3, 1 thread, so CPU times are
close to an idle machine's). A fresh multi-megabyte tensor is mapped from the OS and its pages
faulted in on first touch, every step: the fused moments' forward + backward made five such
(n_mc, N, M, B) tensors (4.8 MB each in float64). Running them with glibc's mmap and trim
thresholds raised (``MALLOC_MMAP_THRESHOLD_``, an environment experiment, not a library setting)
took them from 8.85 to 6.53 ms. What changed (``neurolatent/models/_scratch.py``,
``_sparse_gp.py``):

* ``ScratchPool``: the moments take their large temporaries (and the saved ``E``) from a small
  free list and give them back after the backward; products write into them (``out=``), the
  quadratic form is formed in place. Same operations, so bitwise the same results: the
  moments' forward + backward alone went from 8.62 to 5.66 ms CPU (1.52x, 9 interleaved rounds
  of 20, max abs difference of values and gradients 0.0).
* the mean's rank-1 term folded into the backward's product (``[2Q, alpha] @ [E diag(g); g_mean]``
  instead of a separate ``baddbmm_`` pass): 0.95x the moments' time (4.79 vs 5.07 ms, two runs
  agreeing); gradients change at round-off (1e-13 absolute).
* ``k(x, x) = outputscale`` read directly on the fused RBF path (the distance of a point to
  itself is set to exactly 0, so it is the same number) instead of a kernel call.

``scratch`` and ``ab`` (``--ab-rounds 6 --ab-steps 60``; baseline: the tree before these
changes; ``ab`` alternates fresh processes, CPU ms per default fly step, n_mc = 5, full batch)::

    case                                   median CPU ms (rounds)                     ratio
    scratch reused (this tree)             10.33 (10.1, 10.3, 10.1, 10.4, 10.7, 10.5)  1.39x
    fresh allocations (this tree)          14.35 (13.4, 14.1, 16.2, 12.5, 14.6, 15.7)  1.00x
    ab: baseline, float64 moments          14.75 (15.0, 16.4, 14.1, 14.5, 14.0, 15.3)  1.00x
    ab: this tree, float64 moments         10.28 (10.4, 11.4, 10.2, 9.7, 10.2, 11.1)   1.44x
    ab: baseline, float32 moments          10.02 (9.8, 10.3, 9.3, 10.3, 8.9, 10.2)     1.47x
    ab: this tree, float32 moments          8.16 (8.2, 8.9, 8.0, 7.8, 8.1, 8.9)        1.81x

So a default float64 step now costs what the float32-moments option did before. Scaled to the
~11 ms of an idle machine estimated below for the baseline, a default step is ~7.6 ms (the
<= 10 ms goal, at float64 accuracy). Accuracy: the ``scratch`` case's two 60-step fits agree
exactly (max relative ELBO difference 0.0); a 200-step default fly fit (seed 0) of this tree
against the baseline tree, each in its own process: max relative difference of the ELBO
trajectories 1.7e-11 and final ``elbo(seed=0)`` 2375.236938620 vs 2375.236938624 (the folded
rank-1 term's round-off; with the scratch tensors alone the trajectories were bitwise equal).
The first-step objective with float32 moments moved from 1921.399 to 1921.409 (float32
round-off of another product order; float64: 1921.401 in both trees).
Tried and left out: K_zz and its Cholesky factor straight from the manifold's distance instead of
the GPyTorch kernel's ``forward`` (values equal to 2e-14, gradients to 3e-13) ran its forward +
backward in 0.64-0.77 vs 0.70-0.83 ms (two runs of 7 x 200 calls): ~0.07 ms of a step, not
worth a second code path.

Earlier (adaptive windings, float32 moments, neuron minibatches; load average 11-18, so CPU
times are ~1.5-2x an idle machine's: compare the ratios).

Where a default fly step's time went before (cProfile and torch.profiler of the fused n_mc = 5
step, plus each piece's forward + backward timed alone, load ~1): the fused moments' forward +
backward ~50 % (their batched products, ``aten::bmm``, 26 % of the self CPU time, and their
element-wise passes most of ``aten::mul``'s 26 %), the latent samples and log q(g) 2.9 ms
(wrapped density over 7 preimages), K_zz and its Cholesky factor ~1 ms, KL[q(u)] ~0.3 ms, the
likelihood and the autograd of the small (K, B, N) tensors the rest. Holding the big tensor as
(N, M, K B) for (N,)-batched products with K B columns was tried and gave nothing (8.4 vs 8.3 ms
for the moments' forward + backward, interleaved). What changed:

* ``n_windings="auto"`` for the latent densities (``Torus.windings_needed``: the fewest windings
  whose dropped preimages change log q by < 1e-12 at every evaluated point, from the points'
  whitened distance and the scale's Frobenius norm): on the fly fit's tangent stds that is no
  winding (1 preimage instead of 7). The latent terms' forward + backward went from 2.9 to
  1.2 ms (6 interleaved rounds of 50); the objective is unchanged (1921.401 both).
* ``MGPLVM(moments_dtype="float32")``: the fused moments in float32 inside a float64 model,
  2.0x cheaper alone (5.5 vs 10.6 ms, interleaved). Default fits (``fitopts``-style, early
  stopping, ELBO of the float64 model with n_mc = 20, seed 0; same load)::

    data       seed  moments   steps  CPU s  error (deg)  ELBO
    fly        0     float64    806   21.4   17.91        2432.0
    fly        0     float32    800   12.0   17.61        2428.2
    fly        1     float64    802   15.6   17.75        2432.4
    fly        1     float32    905   14.5   17.46        2432.4
    fly        2     float64    733   15.1   17.76        2430.8
    fly        2     float32    830   13.0   17.35        2435.0
    synthetic  0     float64    622   55.6    3.86       39827.3
    synthetic  0     float32    504   32.8    4.60       39637.2

  On the fly data the ELBOs straddle float64's (-3.8, 0.0, +4.2 nats) and the errors are
  0.3-0.4 deg smaller; on the synthetic ring (100 neurons x 500 bins) 190 nats are lost and the
  error grows by 0.7 deg (the q(u) gradient's round-off, amplified by the conditioning of K_zz:
  ~5e-3 of its largest entry, ``tests/models/test_speed_options.py``), so float32 moments stay
  an option and the default stays float64 (synthetic seeds 1 and 2 were not run: time).
* ``n_mc_after_burnin`` stays ``None`` (= n_mc = 5): the ``fitopts`` table below shows 2 samples
  after the burn-in losing 15-22 nats on the fly data and 23 on a synthetic ring, outside the
  1.6-nat spread of the default over seeds, and 3 samples (run now, same settings as the table
  above, load ~5) lose less but still too much::

    data       seed  option                 steps  CPU s  error (deg)  ELBO (default's)
    fly        0     n_mc 3 after burn-in    779    9.4   17.97        2427.8 (2432.0)
    fly        1     n_mc 3 after burn-in    825    9.1   17.89        2425.8 (2432.4)
    fly        2     n_mc 3 after burn-in    690    7.4   17.97        2420.0 (2430.8)
    synthetic  0     n_mc 3 after burn-in    654   37.2    4.03       39811.4 (39827.3)

``ab`` (this tree against the tree before these changes, fresh processes alternating, n_mc = 5,
full batch; two runs, 5 rounds of 60 steps at load ~13-17, then 4 rounds at load ~5)::

    run  tree / moments       median CPU ms per step (rounds)         ratio to the baseline
    1    baseline, float64    22.98 (21.0, 22.7, 24.8, 23.9, 23.0)    1.00x
    1    this tree, float64   22.81 (21.0, 22.8, 25.7, 21.2, 23.0)    1.01x
    1    this tree, float32   15.94 (14.0, 17.2, 16.6, 13.4, 15.9)    1.44x
    2    baseline, float64    22.44 (22.6, 19.6, 22.3, 30.2)          1.00x
    2    this tree, float64   20.84 (18.2, 20.8, 20.8, 26.7)          1.08x
    2    this tree, float32   13.26 (13.1, 13.5, 12.1, 18.5)          1.69x

Process-to-process spread (+-15 %) is as large as the windings' gain across trees; inside one
process, auto vs 3 windings (8 interleaved rounds of 10 default steps, load ~5-9) gave 21.7 vs
24.5 ms, 1.13x. Scaled to the 12.2 ms of the idle-machine ``step`` run below, a default step is
~11 ms (still above the 10 ms goal) and one with float32 moments ~7-8 ms (below it, with the
accuracy cost above). The objective agrees to 1921.401 (float32 moments: 1921.399).

``mem100k`` with neuron minibatches (T = 100,000 bins x N = 500 neurons, float64, 10 steps per
setting, each in a fresh process, load ~13-17, so wall times are ~10x CPU times)::

    bins x neurons per step   set-up         per step               epoch (extrapolated)     peak RSS
    1000 x 500 (all)          135 s wall,    16.5 s wall, 1.41 CPU  ~1650 s wall, ~141 s CPU  2342 MB
                              15 s CPU
    1000 x 50                 151 s, 14 CPU  1.35 s wall, 0.12 CPU  ~1350 s wall, ~121 s CPU  2342 MB
    5000 x 50                 149 s, 15 CPU  7.53 s wall, 0.67 CPU  ~1510 s wall, ~134 s CPU  2342 MB

An epoch (every entry of Y once in expectation: T / bins x N / neurons steps) costs 120-140 s
of CPU whichever the split; neuron batches make each step ~10x cheaper, so a time batch 5x
longer fits in the same step memory, and the peak RSS stays the data's (set before the first
step, as below). The epochs are extrapolated from 10 steps.

Measured (float64 unless said, 1 thread, on the 2-core machine shared with 10-20 other jobs
(load average 12-19), so wall times are inflated ~10x and even CPU times ~1.5-2x by cache
contention; compare ratios within one case, measured side by side).

``step --compile`` (10 interleaved rounds of 5 steps, load average falling from 11 to 5, so the
CPU times are close to an idle machine's)::

    fly step, autograd, n_mc=5        89.8 ms wall, 30.3 ms CPU  objective 1921.401; CPU 0.40x the fused n_mc=5
    fly step, fused, n_mc=5           35.7 ms wall, 12.2 ms CPU  objective 1921.401; CPU 1.00x
    fly step, fused, n_mc=2           18.9 ms wall,  6.3 ms CPU  objective 1915.037; CPU 1.94x
    fly step, fused, n_mc=5, float32  23.8 ms wall,  8.1 ms CPU  objective 1913.579; CPU 1.51x
    fly step, fused, n_mc=2, float32  14.3 ms wall,  5.1 ms CPU  objective 1899.220; CPU 2.40x
    fly step, compiled, n_mc=5        40.1 ms wall, 14.0 ms CPU  objective 1921.401; CPU 0.87x

(an earlier run at load ~12.5 without ``--compile``: 19.6, 8.7, 11.0 and 6.7 ms CPU for the
fused variants, ratios 2.25x, 1.79x, 2.92x). ``torch.compile`` of the marginals' plain formulas
ran their forward + backward alone in 0.68x the custom function's CPU time (5.7 vs 8.5 ms,
interleaved micro-benchmark at these shapes), but in the whole step it is slower (0.87x): its
per-call overhead (guards, the compiled autograd wrapper) eats the gain at this size, and the
first call compiles C++ for 20 s to minutes. At the long-recording shape (5, 500, 15, 1000) the
marginals alone took 0.81x the custom function's CPU time (791 vs 981 ms per forward + backward;
compiled in 30 s), so it stays an option for large fits (``fit(compile_marginals=True)``).

Where a default step's time goes (torch.profiler and CPU-timed pieces of the fused n_mc=5 step):
the fused marginals' forward + backward 55-65 % (their four batched products over the
(5, 16, 15, 500) tensor, about 2.8e7 multiply-adds, run at ~5 GFLOP/s in float64, and ~8
element-wise passes over it: the step is near its arithmetic floor in float64; replacing the
backward's product ``2 Q (E G)`` by the forward's ``Q E`` times ``G`` was measured and gave
nothing, 0.99x), the latent samples and log q(g) with 7 wrapped windings ~15 %, K_zz and its
Cholesky factor ~5 %, the likelihood ~7 %, KL[q(u)] ~1 %. The two levers left are the number of
Monte-Carlo samples and float32, both options (``fit(n_mc_after_burnin=)``, ``MGPLVM(dtype=)``):

``fitopts`` (default fits, early stopping; ELBO of a float64 copy, n_mc = 20, seed 0; fly
error to the PV phase; synthetic: ``make_manifold_recording("T1", n_neurons=100, n_time=500,
noise=0.1, seed=s)``, every option put 100 % of the points within 0.5 rad)::

    data       seed  option                    steps  CPU s  error (deg)  ELBO
    fly        0     float64 (default)          806   17.8   17.9         2432.0
    fly        1     float64 (default)          802   16.4   17.8         2432.4
    fly        2     float64 (default)          733   13.6   17.8         2430.8
    fly        0     float64, n_mc 2 after      762    9.6   17.8         2417.5
    fly        1     float64, n_mc 2 after      994   11.2   18.5         2411.8
    fly        2     float64, n_mc 2 after      634    8.5   18.0         2410.3
    fly        0     float32                    694   11.8   18.3         2436.1
    fly        1     float32                   1000   13.3   18.6         2444.8
    fly        2     float32                    793   12.0   18.0         2429.0
    fly        0     float32, n_mc 2 after      771    6.5   18.4         2422.7
    fly        1     float32, n_mc 2 after      886    7.8   18.2         2430.9
    fly        2     float32, n_mc 2 after      808    8.6   18.2         2421.2
    synthetic  0     float64 (default)          622   60.0    3.9        39827.3
    synthetic  0     float64, n_mc 2 after      760   38.4    4.2        39804.7
    synthetic  0     float32                    609   36.7    4.0        39748.0
    synthetic  0     float32, n_mc 2 after      637   19.2    5.0        39673.7
    synthetic  1     float32, n_mc 2 after      721   20.9    6.9        39662.8
    synthetic  1     float64 (default)          723   56.8    6.2        39795.3
    synthetic  1     float32                    637   27.4    6.5        39634.3
    synthetic  2     float64 (default)          703   46.6    1.4        39818.1
    synthetic  2     float32                    600   18.5    1.4        39718.8

So two Monte-Carlo samples after the burn-in lose 15-22 nats of ELBO on the fly data (0.6-0.9 %,
far outside the 1.6-nat spread of the default over seeds) and 23 on the synthetic ring, and
float32 on the CPU loses 79, 161 and 99 nats on the synthetic rings of seeds 0-2 (0.2-0.4 %;
errors 0.0-0.3 deg larger) while its fly ELBOs straddle the default's, with fly errors 0.2-0.9
deg larger: neither is "within noise", so the CPU default stays float64
with n_mc = 5 (float32 is the default on CUDA only), and a default fly step stays above the
10 ms goal on the CPU (12.2 ms CPU in the ``step`` run above); the options reach 6.3 ms
(n_mc 2), 8.1 ms (float32) and 5.1 ms (both), at the accuracy above. These fits
ran with a copy of the ``fitopts`` code (the same settings) before it was added here, all
seeds under the same load, except the synthetic seeds 1 and 2 (``--seeds 1,2 --options
"float64;float32"``, load ~5; the fly rows of that run reproduced the ones above to the digit);
the n_mc options were not run on synthetic seeds 1 and 2 (time).

``mem100k`` (T = 100,000 bins x N = 500 neurons, float64, 10 steps per batch size, each in a
fresh process, load average ~12)::

    batch  set-up (PCA init, Z, q(u))  per step             epoch (T / batch steps, extrapolated)  peak RSS
    250    60 s wall, 10 s CPU         1.09 s wall, 0.29 CPU  ~438 s wall, ~116 s CPU                2344 MB
    1000   34 s wall, 11 s CPU         3.87 s wall, 1.13 CPU  ~387 s wall, ~113 s CPU                2344 MB

The peak is the same for both batch sizes: it is set before the first step, by the data (Y in
numpy, 400 MB, and the generator's transients: 1517 MB of peak RSS before the fit) plus the
fit's copy of Y as a tensor (400 MB) and the PCA initialisation's centred copies of it; a step
holds (n_mc, N, M, batch) tensors (~300 MB each at batch 1000), and nothing of length T is
built per step but the random permutation that draws the batch (the prior, the read-out and
the row-sparse Adam touch the batch's rows only),
so memory is bounded by the data's size, not by T x steps. An epoch costs ~115 s of CPU
whatever the batch size (the work is per bin); 10 steps are enough to time it (extrapolated).

Earlier figures (autograd vs fused marginals, load ~4x)::

    case                          steps/s  steps  seconds  note
    fly step, autograd marginals  6.2             162.3 ms/step
    fly step, fused marginals     12.5            80.3 ms/step   same objective 1921.400978; 2.02x
    fly fit, autograd marginals   10.0     600    60.1     PV err 18.5 deg, ELBO 2428.78
    fly fit, fused marginals      16.6     600    36.1     PV err 18.5 deg, ELBO 2428.78 (1.66x)

Usage::

    OMP_NUM_THREADS=1 python benchmarks/mgplvm_speed.py [--device cuda] [--dtype float32] [--quick]
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time

import numpy as np
import torch

from neurolatent.datasets.synthetic_manifolds import make_manifold_recording
from neurolatent.models import MGPLVM


def _converged_at(elbo: np.ndarray, frac: float = 0.99, window: int = 20) -> int:
    """First step at which the running-mean ELBO has made ``frac`` of its total improvement."""
    sm = np.convolve(elbo, np.ones(window) / window, mode="valid")
    target = sm[0] + frac * (sm[-1] - sm[0])
    return int(np.argmax(sm >= target)) + window


def _fit_timed(Y, *, device, dtype, max_steps, batch_size=None, seed=0):
    m = MGPLVM("T1", seed=seed, device=device, dtype=dtype)
    t0 = time.perf_counter()
    m.fit(Y, max_steps=max_steps, batch_size=batch_size, progress=False)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    total = time.perf_counter() - t0
    sec = np.asarray(m.history.seconds)
    steps = len(sec)
    half = steps // 2
    # steady-state speed from the second half (excludes the one-off initialisation)
    sps = (steps - half) / max(sec[-1] - sec[half - 1], 1e-9)
    conv = _converged_at(m.elbo_history)
    return m, f"{conv} / {steps}", f"{sec[conv - 1]:.1f} / {total:.1f}", sps


def case_fly(args):
    from neurolatent.datasets import load_fly_ellipsoid_body

    try:
        ds = load_fly_ellipsoid_body()
    except Exception as e:  # noqa: BLE001 - report and continue with the other cases
        return [("fly 16x500", "skipped: " + str(e)[:60], "", "", "")]
    Y = ds["dff"].astype(float)
    m, steps, total, sps = _fit_timed(Y, device=args.device, dtype=args.dtype, max_steps=150 if args.quick else 600)
    from neurolatent.manifolds import align_latents

    pv = np.angle((Y.values * np.exp(2j * np.pi * np.arange(16) / 16)).sum(1))
    err = np.degrees(align_latents(m.latents()["mean"].values, pv[:, None], "T1")[2]["median_error"])
    return [("fly 16x500 (full batch)", f"{sps:.1f}", steps, total, f"PV err {err:.1f} deg")]


def _step_fn(m, fused, gen, n_mc=5, moments_dtype=None):
    """One default full-batch training step (objective, backward) with the fused or the autograd marginals."""
    from neurolatent.models._sparse_gp import svgp_marginals

    kw = {} if moments_dtype is None else {"moments_dtype": moments_dtype}  # (trees before the option lack it)

    idx = torch.arange(m.n_time, device=m.device_)

    def step():
        m.zero_grad(set_to_none=True)
        g, lat = m._latent_terms(m.latent, m.prior, idx, n_mc, gen)
        mean, var = svgp_marginals(m.kernel, m.Z, m.q_mu, m.q_sqrt, m.mean_const, g, fused=fused, **kw)
        ell = m.likelihood.expected_log_prob(m._Y, mean, var).sum((-1, -2)).mean(0)
        obj = ell + lat.mean(0) - m._kl_u()
        obj.backward()
        return float(obj.detach())

    return step


def case_step(args):
    """ms per default fly step (16 x 500, M = 15): variants timed in interleaved rounds on one model.

    Variants: the autograd and the fused marginals (float64, n_mc = 5), and the fused ones with
    n_mc = 2 (the samples after the burn-in with ``n_mc_after_burnin=2``) and in float32 (a
    ``.float()`` copy of the model). Reports the median wall time and the median CPU time of
    this process (``time.process_time``, one thread), which a loaded machine inflates less.
    """
    import copy

    from neurolatent.datasets import load_fly_ellipsoid_body

    try:
        Y = load_fly_ellipsoid_body()["dff"].astype(float)
    except Exception as e:  # noqa: BLE001 - report and continue with the other cases
        return [("fly step", "skipped: " + str(e)[:60], "", "", "")]
    m = MGPLVM("T1", seed=0, device=args.device, dtype=args.dtype).fit(Y, max_steps=20, progress=False,
                                                                        early_stopping=False)
    m32 = copy.deepcopy(m).float()
    gen = lambda: torch.Generator(device=args.device).manual_seed(0)  # noqa: E731
    variants = {  # name -> step; same generator seed: same samples, so objectives agree across the first two
        "autograd, n_mc=5": _step_fn(m, False, gen()),
        "fused, n_mc=5": _step_fn(m, True, gen()),
        "fused, n_mc=2": _step_fn(m, True, gen(), n_mc=2),
        "fused, n_mc=5, float32": _step_fn(m32, True, gen()),
        "fused, n_mc=2, float32": _step_fn(m32, True, gen(), n_mc=2),
    }
    if args.compile:
        variants["compiled, n_mc=5"] = _step_fn(m, "compile", gen())
    t0 = time.perf_counter()
    objs = {k: f() for k, f in variants.items()}  # the first call of "compiled" compiles
    print(f"first calls (compilation included): {time.perf_counter() - t0:.1f} s", flush=True)
    wall, cpu = {k: [] for k in variants}, {k: [] for k in variants}
    for _ in range(3 if args.quick else 10):  # interleaved rounds: all see the same machine load
        for k, f in variants.items():
            t0, c0 = time.perf_counter(), time.process_time()
            for _ in range(5):
                f()
            if args.device.startswith("cuda"):
                torch.cuda.synchronize()
            wall[k].append((time.perf_counter() - t0) / 5 * 1e3)
            cpu[k].append((time.process_time() - c0) / 5 * 1e3)
    base = float(np.median(cpu["fused, n_mc=5"]))
    rows = []
    for k in variants:
        w, c = float(np.median(wall[k])), float(np.median(cpu[k]))
        rows.append((f"fly step, {k}", f"{1e3 / w:.1f}", "", f"{w:.1f} ms wall, {c:.1f} ms CPU",
                     f"objective {objs[k]:.3f}; CPU {base / c:.2f}x the fused n_mc=5"))
    return rows


def _ab_child(n_steps: int, n_mc: int) -> None:
    """Time default fly steps with whatever ``neurolatent`` this process imports: prints JSON (CPU ms per step)."""
    from neurolatent.datasets import load_fly_ellipsoid_body

    torch.set_num_threads(1)
    Y = load_fly_ellipsoid_body()["dff"].astype(float)
    m = MGPLVM("T1", seed=0, dtype=torch.float64).fit(Y, max_steps=20, progress=False, early_stopping=False)
    import inspect

    from neurolatent.models._sparse_gp import svgp_marginals

    variants = {"float64 moments": _step_fn(m, True, torch.Generator().manual_seed(0), n_mc=n_mc)}
    if "moments_dtype" in inspect.signature(svgp_marginals).parameters:
        variants["float32 moments"] = _step_fn(m, True, torch.Generator().manual_seed(0), n_mc=n_mc,
                                               moments_dtype=torch.float32)
    obj = {k: [f() for _ in range(3)][0] for k, f in variants.items()}
    cpu = {k: [] for k in variants}
    for _ in range(n_steps // 5):  # the variants interleaved
        for k, f in variants.items():
            c0 = time.process_time()
            for _ in range(5):
                f()
            cpu[k].append((time.process_time() - c0) / 5 * 1e3)
    import neurolatent

    print(json.dumps({"cpu_ms": {k: float(np.median(v)) for k, v in cpu.items()}, "objective": obj,
                      "src": neurolatent.__file__}))


def case_ab(args):
    """A default fly step of this tree vs ``--baseline-src`` (another checkout's root), alternating.

    ``--ab-rounds`` rounds; each runs one fresh process per tree (baseline first), which fits 20
    steps and then times ``--ab-steps`` default steps (n_mc = 5, full batch, fused marginals).
    Reports the median over rounds of each tree's median CPU ms per step, and their ratio.
    """
    import os

    from neurolatent.datasets._paths import data_root_candidates

    here = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    trees = {"baseline": os.path.abspath(args.baseline_src), "this tree": here}
    roots = [str(r) for r in data_root_candidates() if r.is_dir()]  # this tree's data, for both children
    res = {k: [] for k in trees}
    for _ in range(args.ab_rounds):
        for name, root in trees.items():
            env = {**os.environ, "PYTHONPATH": root, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                   **({"NEUROLATENT_DATA": roots[0]} if roots else {})}
            cmd = [sys.executable, os.path.abspath(__file__), "--ab-child", str(args.ab_steps)]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env, cwd=here)
            res[name].append(json.loads(out.stdout.strip().splitlines()[-1]))
            if not res[name][-1]["src"].startswith(root):
                raise RuntimeError(f"the {name} process imported {res[name][-1]['src']}, not the tree at {root}")
    base = float(np.median([r["cpu_ms"]["float64 moments"] for r in res["baseline"]]))
    rows = []
    for name in trees:
        for var in res[name][0]["cpu_ms"]:
            c = float(np.median([r["cpu_ms"][var] for r in res[name]]))
            rows.append((f"fly step, {name}, {var}", f"{1e3 / c:.1f}", "", f"{c:.2f} ms CPU (rounds: "
                         + ", ".join(f"{r['cpu_ms'][var]:.1f}" for r in res[name]) + ")",
                         f"objective {res[name][0]['objective'][var]:.3f}; {base / c:.2f}x the baseline"))
    return rows


def case_scratch(args):
    """Default fly steps with the fused moments' scratch tensors reused (the default) vs freshly allocated.

    One process, one model, the two settings interleaved (``ScratchPool.max_bytes = 0`` gives
    nothing back, so every large temporary is a fresh allocation): median CPU ms per step over
    ``--ab-rounds`` rounds of 10 steps each. Then two default fly fits (``--ab-steps`` steps,
    seed 0, early stopping off), one per setting: the largest relative difference of their ELBO
    trajectories (0 when the arithmetic is the same, as it is).
    """
    from neurolatent.datasets import load_fly_ellipsoid_body
    from neurolatent.models._scratch import SCRATCH

    try:
        Y = load_fly_ellipsoid_body()["dff"].astype(float)
    except Exception as e:  # noqa: BLE001 - report and continue with the other cases
        return [("fly step", "skipped: " + str(e)[:60], "", "", "")]
    m = MGPLVM("T1", seed=0, device=args.device, dtype=args.dtype).fit(Y, max_steps=20, progress=False,
                                                                        early_stopping=False)
    cap = SCRATCH.max_bytes
    settings = {"scratch reused": cap, "fresh allocations": 0}
    steps = {k: _step_fn(m, True, torch.Generator(device=args.device).manual_seed(0)) for k in settings}

    def use(k):
        SCRATCH.clear()
        SCRATCH.max_bytes = settings[k]

    try:
        objs = {}
        for k in settings:
            use(k)
            objs[k] = steps[k]()
        cpu = {k: [] for k in settings}
        for _ in range(args.ab_rounds):
            for k in settings:
                use(k)
                c0 = time.process_time()
                for _ in range(10):
                    steps[k]()
                cpu[k].append((time.process_time() - c0) / 10 * 1e3)
        hist = {}
        for k in settings:
            use(k)
            hist[k] = MGPLVM("T1", seed=0, device=args.device, dtype=args.dtype).fit(
                Y, max_steps=args.ab_steps, progress=False, early_stopping=False).elbo_history
    finally:
        SCRATCH.clear()
        SCRATCH.max_bytes = cap
    a, b = hist.values()
    rel = float(np.max(np.abs(a - b) / np.abs(b)))
    base = float(np.median(cpu["fresh allocations"]))
    rows = []
    for k in settings:
        c = float(np.median(cpu[k]))
        rows.append((f"fly step, {k}", f"{1e3 / c:.1f}", "", f"{c:.2f} ms CPU (rounds: "
                     + ", ".join(f"{x:.1f}" for x in cpu[k]) + ")",
                     f"objective {objs[k]:.6f}; {base / c:.2f}x fresh allocations"))
    rows.append((f"fly fit, {args.ab_steps} steps, both settings", "", str(len(a)), "",
                 f"ELBO trajectories: max relative difference {rel:.1e}"))
    return rows


def case_fitcmp(args):
    """The default fly fit (600 steps, early stopping on) with autograd vs fused marginals, back to back."""
    from neurolatent.datasets import load_fly_ellipsoid_body
    from neurolatent.manifolds import align_latents

    try:
        ds = load_fly_ellipsoid_body()
    except Exception as e:  # noqa: BLE001 - report and continue with the other cases
        return [("fly fit", "skipped: " + str(e)[:60], "", "", "")]
    Y = ds["dff"].astype(float)
    pv = np.angle((Y.values * np.exp(2j * np.pi * np.arange(16) / 16)).sum(1))
    rows = []
    for fused in (False, True):
        m = MGPLVM("T1", seed=0, device=args.device, dtype=args.dtype)
        m._fused_marginals = fused
        t0 = time.perf_counter()
        m.fit(Y, max_steps=150 if args.quick else 600, progress=False)
        dt = time.perf_counter() - t0
        err = np.degrees(align_latents(m.latents()["mean"].values, pv[:, None], "T1")[2]["median_error"])
        rows.append((f"fly fit, {'fused' if fused else 'autograd'} marginals", f"{len(m.elbo_history) / dt:.1f}",
                     str(len(m.elbo_history)), f"{dt:.1f}", f"PV err {err:.1f} deg, ELBO {m.elbo(seed=0):.2f}"))
    return rows


FIT_OPTIONS = {  # name -> (dtype, n_mc_after_burnin, moments_dtype)
    "float64": (torch.float64, None, None), "float64, n_mc 2 after burn-in": (torch.float64, 2, None),
    "float32": (torch.float32, None, None), "float32, n_mc 2 after burn-in": (torch.float32, 2, None),
    "float64, float32 moments": (torch.float64, None, "float32"),
}


def case_fitopts(args):
    """Default T1 fits with each speed option, on the fly data and synthetic rings, seeds ``--seeds``.

    Fly: error to the population-vector phase; synthetic (``make_manifold_recording("T1",
    n_neurons=100, n_time=500, noise=0.1, seed=s)``, the accuracy goal's data): error to the true
    latent. The ELBO is :meth:`MGPLVM.elbo` (``n_mc=20, seed=0``) of a float64 copy, so the options
    are scored alike; CPU is this process's CPU time for the fit.
    """
    from neurolatent.datasets import load_fly_ellipsoid_body
    from neurolatent.manifolds import align_latents

    fly = load_fly_ellipsoid_body()["dff"].values.astype(float)
    rows = []
    for data in ("fly", "synthetic"):
        for seed in (int(s) for s in args.seeds.split(",")):
            if data == "fly":
                Y, truth = fly, np.angle((fly * np.exp(2j * np.pi * np.arange(16) / 16)).sum(1))[:, None]
            else:
                ds = make_manifold_recording("T1", n_neurons=100, n_time=500, noise=0.1, seed=seed)
                Y, truth = ds["Y"].values, ds["latent"].values
            for name in args.options.split(";"):
                dtype, late, moments = FIT_OPTIONS[name]
                m = MGPLVM("T1", seed=seed, device=args.device, dtype=dtype, moments_dtype=moments)
                t0, c0 = time.perf_counter(), time.process_time()
                m.fit(Y, progress=False, n_mc_after_burnin=late)
                wall, cpu = time.perf_counter() - t0, time.process_time() - c0
                err = align_latents(m.latents()["mean"].values.astype(float), truth, "T1")[2]["median_error"]
                m._moments_dtype = None  # the ELBO of every option in float64
                elbo = m.double().elbo(n_mc=20, seed=0)
                rows.append((f"{data} seed {seed}, {name}", f"{len(m.elbo_history) / wall:.1f}",
                             str(len(m.elbo_history)), f"{wall:.1f} wall, {cpu:.1f} CPU",
                             f"median err {np.degrees(err):.1f} deg, ELBO {elbo:.1f}"))
                print(*rows[-1], sep="  ", flush=True)
    return rows


def case_syn10k(args):
    T, N = (2000, 50) if args.quick else (10_000, 200)
    ds = make_manifold_recording("T1", n_neurons=N, n_time=T, noise=0.2, seed=0, trajectory="iid")
    m, steps, total, sps = _fit_timed(ds["Y"], device=args.device, dtype=args.dtype, batch_size=args.batch,
                                      max_steps=100 if args.quick else 300)
    from neurolatent.manifolds import align_latents

    err = align_latents(m.latents()["mean"].values, ds["latent"].values, "T1")[2]["median_error"]
    return [(f"synthetic {T}x{N} (batch {args.batch})", f"{sps:.1f}", steps, total,
             f"latent err {err:.3f} rad")]


def _mem_child(T, N, batch, device, dtype, steps, neuron_batch=None):
    """One minibatch fit in this (fresh) process: prints peak memory, set-up and per-step seconds as JSON."""
    torch.set_num_threads(1)
    ds = make_manifold_recording("T1", n_neurons=N, n_time=T, noise=0.2, seed=0, trajectory="iid")
    Y = ds["Y"].values
    del ds
    rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # the data and the imports
    if device.startswith("cuda"):
        torch.cuda.reset_peak_memory_stats()
    t0, c0 = time.perf_counter(), time.process_time()
    cpu_at = []  # CPU seconds after each step (the callback runs after every step)
    m = MGPLVM("T1", seed=0, device=device, dtype=getattr(torch, dtype))
    m.fit(Y, max_steps=steps, batch_size=batch, neuron_batch_size=neuron_batch, progress=False, early_stopping=False,
          callback=lambda state: cpu_at.append(time.process_time()))
    dt, cpu = time.perf_counter() - t0, time.process_time() - c0
    sec = np.asarray(m.history.seconds)
    per_step = (sec[-1] - sec[0]) / max(len(sec) - 1, 1)  # steps 2.. (the first includes no set-up but warms up)
    cpu_step = (cpu_at[-1] - cpu_at[0]) / max(len(cpu_at) - 1, 1)
    peak = (torch.cuda.max_memory_allocated() if device.startswith("cuda")
            else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    print(json.dumps({"peak_mb": peak / 2 ** 20, "data_mb": rss0 / 2 ** 20, "seconds": dt, "cpu": cpu,
                      "setup": dt - sec[-1], "per_step": per_step, "cpu_step": cpu_step, "cpu_setup": cpu_at[0] - c0,
                      "steps": len(sec)}))


def case_mem(args):
    """Long recordings (T = 100,000 bins x N = 500 neurons): time minibatches, each fit in a fresh process.

    Per batch size: peak RSS (``ru_maxrss``, which includes the data: Y in numpy and as a torch
    tensor, 2 x 400 MB in float64), the RSS before the fit, the set-up (PCA initialisation,
    inducing points, q(u)) and the seconds per step after it; an epoch (T / batch steps) is
    extrapolated from the per-step time. ``--mem-neuron-batches`` adds neuron minibatches
    (``fit(neuron_batch_size=)``; 0: all N neurons per step): an epoch (every entry of Y seen once
    in expectation) is then (T / batch) (N / neuron batch) steps.
    """
    T, N = (20_000, 100) if args.quick else (100_000, 500)
    rows = []
    batches = [250, 1000] if args.quick else [int(b) for b in args.mem_batches.split(",")]
    for batch, nb in ((b, int(n)) for b in batches for n in args.mem_neuron_batches.split(",")):
        nb = nb if 0 < nb < N else N
        cmd = [sys.executable, __file__, "--child", f"{T},{N},{batch},{args.mem_steps},{nb}", "--device",
               args.device, "--dtype", str(args.dtype).replace("torch.", "")]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout.strip().splitlines()[-1]
        r = json.loads(out)
        per_epoch = T / batch * N / nb
        epoch, epoch_cpu = r["per_step"] * per_epoch, r["cpu_step"] * per_epoch
        rows.append((f"synthetic {T}x{N} (batch {batch} bins x {nb} neurons), {r['steps']} steps",
                     f"{1 / r['per_step']:.2f}",
                     str(r["steps"]), f"set-up {r['setup']:.0f} s ({r['cpu_setup']:.0f} CPU), "
                     f"{r['per_step']:.2f} s/step ({r['cpu_step']:.2f} CPU)",
                     f"epoch ~{epoch:.0f} s wall, ~{epoch_cpu:.0f} s CPU (extrapolated), peak RSS "
                     f"{r['peak_mb']:.0f} MB (before the fit {r['data_mb']:.0f} MB)"))
    return rows


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--device", default="cpu")
    p.add_argument("--dtype", default="float64", choices=["float32", "float64"])
    p.add_argument("--batch", type=int, default=1000)
    p.add_argument("--quick", action="store_true")
    p.add_argument("--cases", default="step,fly,syn10k,mem100k")
    p.add_argument("--compile", action="store_true", help="step case: add the torch.compile'd marginals")
    p.add_argument("--seeds", default="0,1,2", help="seeds of the fitopts case")
    p.add_argument("--options", default=";".join(FIT_OPTIONS), help="';'-separated FIT_OPTIONS of the fitopts case")
    p.add_argument("--mem-batches", default="250,1000", help="batch sizes of the mem100k case")
    p.add_argument("--mem-steps", type=int, default=10, help="steps per mem100k fit")
    p.add_argument("--mem-neuron-batches", default="0", help="neuron batch sizes of the mem100k case (0: all)")
    p.add_argument("--threads", type=int, default=1, help="torch threads (default 1, as the figures above)")
    p.add_argument("--baseline-src", default=None, help="ab case: root of the checkout to compare with")
    p.add_argument("--ab-rounds", type=int, default=5, help="ab case: alternating rounds")
    p.add_argument("--ab-steps", type=int, default=100, help="ab case: timed steps per process")
    p.add_argument("--child", default=None, help=argparse.SUPPRESS)
    p.add_argument("--ab-child", type=int, default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    if args.ab_child:
        _ab_child(args.ab_child, 5)
        return
    if args.child:
        T, N, b, steps, *nb = (int(x) for x in args.child.split(","))
        _mem_child(T, N, b, args.device, args.dtype, steps, nb[0] if nb and nb[0] < N else None)
        return
    args.dtype = getattr(torch, args.dtype)
    rows = []
    for case in args.cases.split(","):
        cases = {"step": case_step, "scratch": case_scratch, "fitcmp": case_fitcmp, "fly": case_fly, "syn10k": case_syn10k, "mem100k": case_mem,
                 "fitopts": case_fitopts, "ab": case_ab}
        new = cases[case](args)
        print(*new, sep="\n", flush=True)  # partial results as they come
        rows += new
    head = ("case", "steps/s", "steps to 99% / run", "seconds to 99% / run", "note")
    w = [max(len(str(r[i])) for r in rows + [head]) for i in range(5)]
    print(f"device={args.device} dtype={args.dtype} threads={torch.get_num_threads()}")
    for r in [head] + rows:
        print("  ".join(str(c).ljust(w[i]) for i, c in enumerate(r)))


if __name__ == "__main__":
    main()
