"""Speed of the gated-RNN theory: one DMFT solve, a phase diagram serial vs Dask, Lyapunov spectra.

Prints wall-clock times for

* one DMFT solve per route (SCS potential method; gated ``gaussian`` Fourier iteration with the
  resolvent λ_max; gated ``sampling`` Monte-Carlo route),
* a ``n x n`` phase diagram over (g_h, α_r) of the cheap quantities (zero-FP edge, number of
  static solutions), serial and on a Dask ``LocalCluster(n_workers=2, threads_per_worker=1)``;
  with ``--dmft`` also λ_max/Δ₀ on a coarser grid,
* the Lyapunov spectrum (QR every step, RK4) of an SCS network of N units, k exponents.

``python benchmarks/theory_speed.py [--quick] [--n 41] [--N 1000] [--k 100] [--device cuda]``;
``python benchmarks/theory_speed.py large [--n 2000] [--device cuda] ...`` for the large-N row
(below). Not a test: no assertions.

50 × 50 phase diagram of ``lambda_max`` and ``delta0`` (``--grid50``; (g_h, α_r) ∈ [1, 3] ×
[0, 30], α_z = 0, dt = 0.1, τ_max = 100), before/after measured side by side in one run on the
2-core machine shared with ~6 other jobs (load average 13 at the start: every absolute time
below is inflated several-fold; the ratio is the meaningful figure):

* before, per-point :func:`dmft` (Anderson iteration with a fresh PairTable per iteration and
  λ_max by root search over κ with an ARPACK eigensolve per trial): 25.6 s per point on a 4 × 4
  subgrid of the same range -> ~1064 min for 2500 points, serial;
* after, :func:`~neurolatent.theory.dmft_grid.dmft_grid` via ``phase_diagram(vectorize=True)``:
  587 s for all 2500 points serial, pair tables included (~50 s of it under this load; cached
  per process) -> ~109× faster; 2470/2500 points converged, the other 30 (near the transitions,
  ``max_iter = 500``) are NaN with ``converged = 0``;
* after, on a Dask ``LocalCluster(n_workers=2, threads_per_worker=1)`` (two chunks of 1250
  points, each worker building its own pair tables): 365 s (load 10-13 during it);
* agreement at the 16 subgrid points (all converged in both): max relative Δ₀ difference
  7.4e-4, max |Δλ_max| 4.9e-4 (the stated tolerance: 1e-3, tests/theory/test_theory_dmft_grid.py).

Second run, same command, when the load had dropped (load average 3.2 at the start, still
shared): before 1.49 s per point -> ~62 min for 2500 points serial; after 118.2 s serial for
the 50 × 50 diagram, pair tables included (2479/2500 converged; the rest NaN + ``converged = 0``)
-> 32× faster and within the 2-minute goal on one of the two cores.

Large N (``large`` subcommand, :func:`large`): one gated network at (g_h, α_z, α_r) = (3, 0, 2)
(chaotic, the exact Gaussian DMFT route), seed 0, float64, RK4 dt = 0.1, burn-in 100, Benettin/QR
with k = 4 tangent vectors over 150 time units, then the dense 3N × 3N Jacobian's eigenvalues.

* CPU, N = 2000 (``python benchmarks/theory_speed.py large --n 2000 --T 150``; one torch thread,
  2-core machine shared with other jobs, load 2-4 during the run, so absolute times are inflated):
  weights 0.9 s; burn-in 66 s (66 ms per RK4 step); Lyapunov 788 s (525 ms per RK4 + tangent + QR
  step); eigenvalues of the 6000 × 6000 Jacobian 240 s.
  Leading exponents 0.0647, 0.0641, 0.0636, 0.0562 vs DMFT λ_max = 0.0710 (9% below; at N = 1000
  one network gave 0.056, so the gap roughly halves with N, as the O(1/N) finite-size shift of
  SCS); ⟨h²⟩ = 0.1135 over 50 time units vs DMFT Δ₀ = 0.1079 (+5%). Jacobian: 99.73% of the 6000
  eigenvalues inside the predicted support (from the network's own site statistics), rightmost
  Re λ = 0.110 vs the support's edge 0.121.
* GPU, N = 10^4: ``python benchmarks/theory_speed.py large --device cuda --n 10000 --dtype float32``
  (everything stays on the device: the Lyapunov loop keeps its history and diagnostics as tensors,
  the only host copies are the final exponents and eigenvalues; the dense eigenvalue problem is
  30000 × 30000 and needs ~7 GB in float64 per copy, ``--skip-eig`` leaves it out). Not yet run:
  no GPU was available to this session.
"""
from __future__ import annotations

import argparse
import time

import numpy as np


class Factory:
    def __call__(self, g_h, alpha_r):
        from neurolatent.theory import GatedRNN
        return GatedRNN(g_h, 0.0, alpha_r)


def large(argv=None):
    """Large-N run: Benettin/QR Lyapunov exponents and Jacobian eigenvalues of one gated network.

    ``python benchmarks/theory_speed.py large [--n 2000] [--k 4] [--point 3,0,2] [--device cpu]
    [--dtype float64] [--burn-in 100] [--T 100] [--skip-eig]``. Everything runs on ``--device``
    (weights are drawn on the CPU in float64 and moved, so a seed gives the same network on every
    device); the only host copies are the final exponents, the eigenvalues and the timings.
    The DMFT at the same point (λ_max, Δ₀) and the predicted Jacobian support (from the network's
    own site statistics) are computed on the CPU for comparison.
    """
    import os

    import torch

    from neurolatent.theory import GatedRNN, dmft, jacobian, jacobian_spectrum, lyapunov_spectrum
    from neurolatent.theory.simulate import sample_network, simulate
    from neurolatent.theory.spectrum import site_samples

    ap = argparse.ArgumentParser(prog="theory_speed.py large")
    ap.add_argument("--n", type=int, default=2000, help="units per network")
    ap.add_argument("--k", type=int, default=4, help="leading Lyapunov exponents")
    ap.add_argument("--point", default="3,0,2", help="g_h,alpha_z,alpha_r")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dtype", default="float64", choices=["float32", "float64"])
    ap.add_argument("--burn-in", type=float, default=100.0)
    ap.add_argument("--T", type=float, default=100.0, help="Lyapunov averaging time")
    ap.add_argument("--dt", type=float, default=0.1)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-eig", action="store_true", help="no dense Jacobian eigenvalues")
    a = ap.parse_args(argv)
    g_h, alpha_z, alpha_r = (float(v) for v in a.point.split(","))
    model = GatedRNN(g_h, alpha_z, alpha_r)
    dtype = getattr(torch, a.dtype)
    dev = torch.device(a.device)
    sync = (lambda: torch.cuda.synchronize(dev)) if dev.type == "cuda" else (lambda: None)  # noqa: E731
    print(f"large-N run: {model}, N={a.n}, device={dev}, dtype={a.dtype}, torch threads "
          f"{torch.get_num_threads()}, load average {os.getloadavg()}", flush=True)
    t = time.perf_counter()
    net = sample_network(model, a.n, [a.seed], device=dev, dtype=dtype)
    sync()
    print(f"sample weights: {time.perf_counter() - t:.1f} s", flush=True)
    t = time.perf_counter()
    tr = simulate(model, a.n, T=a.burn_in, dt=a.dt, record_every=max(int(round(a.burn_in / a.dt)), 1),
                  network=net)
    x = tr.states[:, -1]
    sync()
    tb = time.perf_counter() - t
    nb = int(round(a.burn_in / a.dt))
    print(f"burn-in {a.burn_in:g} ({nb} RK4 steps): {tb:.1f} s ({tb / nb * 1e3:.1f} ms/step)", flush=True)
    t = time.perf_counter()
    res = lyapunov_spectrum(model, a.n, T=a.T, k=a.k, dt=a.dt, x0=x, burn_in=0.0, network=net,
                            progress=False)
    sync()
    tl = time.perf_counter() - t
    nl = int(round(a.T / a.dt))
    print(f"lyapunov k={a.k} over {a.T:g} ({nl} RK4+QR steps): {tl:.1f} s ({tl / nl * 1e3:.1f} ms/step); "
          f"exponents {np.round(res.mean, 4).tolist()}", flush=True)
    # state after the Lyapunov run: continue briefly for <h^2> and the eigenvalue state
    tr = simulate(model, a.n, T=50.0, dt=a.dt, x0=x, record_every=5, network=net)
    x = tr.states[:, -1]
    var = float((tr.states[:, :, : a.n] ** 2).mean())
    t = time.perf_counter()
    r = dmft(model, on_fail="return", **({"n_paths": 500} if model.alpha_z > 0 else {}))
    print(f"DMFT at the same point: λ_max={r.lambda_max:.4f} Δ0={r.delta0:.4f} converged={r.converged} "
          f"({time.perf_counter() - t:.1f} s); network λ_1={res.mean[0]:.4f}, <h^2>={var:.4f} (50 time units)",
          flush=True)
    if a.skip_eig:
        return
    t = time.perf_counter()
    ev = torch.linalg.eigvals(jacobian(net, x))[0]
    sync()
    te = time.perf_counter() - t
    ev = ev.cpu().numpy()
    pred = jacobian_spectrum(model, samples=site_samples(net, x))
    inside = float(pred.contains(ev, margin=0.0).mean())
    print(f"Jacobian eigenvalues ({ev.size} x {ev.size} dense): {te:.1f} s; rightmost Re λ = {ev.real.max():.4f} "
          f"(predicted support edge {pred.rightmost:.4f}); fraction inside predicted support {inside:.4f}",
          flush=True)


def main():
    import sys

    if len(sys.argv) > 1 and sys.argv[1] == "large":
        return large(sys.argv[2:])
    from neurolatent.theory import GatedRNN, VanillaRNN, dmft, lyapunov_spectrum, phase_diagram

    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--n", type=int, default=41)
    ap.add_argument("--N", type=int, default=1000)
    ap.add_argument("--k", type=int, default=100)
    ap.add_argument("--T", type=float, default=20.0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dmft", action="store_true", help="also a DMFT (λ_max, Δ0) phase diagram")
    ap.add_argument("--grid50", action="store_true",
                    help="only the 50x50 (λ_max, Δ0) phase diagram: per-point vs vectorised, side by side")
    ap.add_argument("--sub", type=int, default=4, help="per-point subgrid (sub x sub) for --grid50")
    a = ap.parse_args()
    if a.grid50:
        return grid50(a.sub)
    if a.quick:
        a.n, a.N, a.k, a.T = 9, 200, 20, 5.0

    for name, m, kw in [("SCS g=2", VanillaRNN(2.0), {}), ("SCS g=10", VanillaRNN(10.0), {}),
                        ("gated gaussian (3,0,4)", GatedRNN(3.0, 0.0, 4.0), {}),
                        ("gated sampling (3,5,0)", GatedRNN(3.0, 5.0, 0.0), {"n_paths": 500})]:
        t = time.perf_counter()
        r = dmft(m, on_fail="return", **kw)
        print(f"dmft {name:26s} {time.perf_counter() - t:8.2f} s  Δ0={r.delta0:.4f} λ={r.lambda_max:.4f} "
              f"iters={r.n_iter} converged={r.converged}")

    grid = {"g_h": f"1:3:{a.n}", "alpha_r": f"0:30:{a.n}"}
    q = ["zero_fp_edge", "n_static"]
    t = time.perf_counter()
    serial = phase_diagram(Factory(), grid, q, progress=False)
    ts = time.perf_counter() - t
    from distributed import Client, LocalCluster
    with LocalCluster(n_workers=2, threads_per_worker=1) as cl, Client(cl) as client:
        t = time.perf_counter()
        par = phase_diagram(Factory(), grid, q, client=client)
        td = time.perf_counter() - t
    same = all(np.allclose(par[v].values, serial[v].values, equal_nan=True) for v in q)
    print(f"phase diagram {a.n}x{a.n} {q}: serial {ts:.1f} s, dask 2 workers {td:.1f} s, identical={same}")
    if a.dmft:
        nd = max(a.n // 4, 3)
        g2 = {"g_h": f"1.6:3:{nd}", "alpha_r": f"0:30:{nd}"}
        t = time.perf_counter()
        phase_diagram(Factory(), g2, ["delta0", "lambda_max"], progress=False)
        ts = time.perf_counter() - t
        with LocalCluster(n_workers=2, threads_per_worker=1) as cl, Client(cl) as client:
            t = time.perf_counter()
            phase_diagram(Factory(), g2, ["delta0", "lambda_max"], client=client)
            td = time.perf_counter() - t
        print(f"phase diagram {nd}x{nd} [delta0, lambda_max]: serial {ts:.1f} s, dask 2 workers {td:.1f} s")

    t = time.perf_counter()
    res = lyapunov_spectrum(VanillaRNN(2.0), N=a.N, T=a.T, k=a.k, dt=0.1, burn_in=0.0, progress=False,
                            device=a.device)
    tl = time.perf_counter() - t
    steps = int(round(a.T / 0.1))
    print(f"lyapunov N={a.N} k={a.k} T={a.T} ({steps} RK4+QR steps) on {a.device}: {tl:.1f} s "
          f"({tl / steps * 1e3:.1f} ms/step); λ1={res.mean[0]:.3f}")


def grid50(sub: int = 4, n: int = 50):
    """50x50 (g_h, α_r) diagram of λ_max and Δ0: per-point route on a sub x sub subgrid of the same
    range (time per point x 2500 = the "before" estimate) vs :func:`dmft_grid`, serial and on a
    2-worker Dask cluster (one process per core); then the vectorised values at the subgrid points
    against the per-point ones."""
    import os

    from neurolatent.theory import phase_diagram

    q = ["delta0", "lambda_max", "converged"]
    kw = {"dt": 0.1, "tau_max": 100.0}
    g_all, a_all = np.linspace(1.0, 3.0, n), np.linspace(0.0, 30.0, n)
    idx = np.linspace(0, n - 1, sub).round().astype(int)
    print(f"load average at start: {os.getloadavg()}")
    t = time.perf_counter()
    per = phase_diagram(Factory(), {"g_h": g_all[idx], "alpha_r": a_all[idx]}, q, dmft_kwargs=kw,
                        progress=False, vectorize=False)
    tp = (time.perf_counter() - t) / sub ** 2
    print(f"before: per-point dmft {tp:.2f} s/point -> {n}x{n} estimate {tp * n * n / 60:.1f} min (serial)", flush=True)
    t = time.perf_counter()
    vec = phase_diagram(Factory(), {"g_h": g_all, "alpha_r": a_all}, q, dmft_kwargs=kw, progress=False)
    tv = time.perf_counter() - t
    print(f"after: dmft_grid {n}x{n} serial {tv:.1f} s (incl. pair tables), converged "
          f"{int(vec.converged.sum())}/{n * n}", flush=True)
    from distributed import Client, LocalCluster
    with LocalCluster(n_workers=2, threads_per_worker=1) as cl, Client(cl) as client:
        t = time.perf_counter()
        phase_diagram(Factory(), {"g_h": g_all, "alpha_r": a_all}, q, dmft_kwargs=kw, client=client)
        td = time.perf_counter() - t
    print(f"after: dmft_grid {n}x{n} on 2 Dask workers {td:.1f} s (each builds its pair tables)", flush=True)
    sel = vec.isel(g_h=idx, alpha_r=idx)
    both = (sel.converged.values == 1) & (per.converged.values == 1)
    dd = np.abs(sel.delta0.values - per.delta0.values)[both] / np.maximum(per.delta0.values[both], 1e-12)
    dl = np.abs(sel.lambda_max.values - per.lambda_max.values)[both]
    print(f"subgrid agreement ({both.sum()} points both converged): max rel Δ0 diff {dd.max():.1e}, "
          f"max |Δλ| {dl.max():.1e}; speed-up serial {tp * n * n / tv:.0f}x")
    print(f"load average at end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
