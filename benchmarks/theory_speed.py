"""Speed of the gated-RNN theory: one DMFT solve, a phase diagram serial vs Dask, Lyapunov spectra.

Prints wall-clock times for

* one DMFT solve per route (SCS potential method; gated ``gaussian`` Fourier iteration with the
  resolvent λ_max; gated ``sampling`` Monte-Carlo route),
* a ``n x n`` phase diagram over (g_h, α_r) of the cheap quantities (zero-FP edge, number of
  static solutions), serial and on a Dask ``LocalCluster(n_workers=2, threads_per_worker=1)``;
  with ``--dmft`` also λ_max/Δ₀ on a coarser grid,
* the Lyapunov spectrum (QR every step, RK4) of an SCS network of N units, k exponents.

``python benchmarks/theory_speed.py [--quick] [--n 41] [--N 1000] [--k 100] [--device cuda]``.
Not a test: no assertions.
"""
from __future__ import annotations

import argparse
import time

import numpy as np


class Factory:
    def __call__(self, g_h, alpha_r):
        from neurolatent.theory import GatedRNN
        return GatedRNN(g_h, 0.0, alpha_r)


def main():
    from neurolatent.theory import GatedRNN, VanillaRNN, dmft, lyapunov_spectrum, phase_diagram

    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--n", type=int, default=41)
    ap.add_argument("--N", type=int, default=1000)
    ap.add_argument("--k", type=int, default=100)
    ap.add_argument("--T", type=float, default=20.0)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--dmft", action="store_true", help="also a DMFT (λ_max, Δ0) phase diagram")
    a = ap.parse_args()
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


if __name__ == "__main__":
    main()
