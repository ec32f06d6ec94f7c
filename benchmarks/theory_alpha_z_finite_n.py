"""Finite-N simulations of the gated RNN against the α_z > 0 DMFT: Δ₀ = <h²> and λ_max vs N.

For each (g_h, α_z, α_r) point and network size N the script simulates ``B`` independent networks
with the package's own RK4 (:func:`neurolatent.theory.simulate.tangent_step`, one tangent vector
renormalised every step = Benettin λ_max) after a burn-in, and writes one JSON line per run with
block averages of <h²> (over neurons and time) and of the log growth rate, so that time
dependence (slow modes) shows up as a drift between blocks. Before the runs it checks
:func:`~neurolatent.theory.simulate.advance` against an independent NumPy RK4 written from the
model equations (same weights and initial state; agreement to round-off over a short horizon).

``python benchmarks/theory_alpha_z_finite_n.py --out runs.jsonl [--points 4,2,0 3,5,2] [--N 500 1000]``

Measured results (see ``tests/theory/test_theory_dmft_alpha_z.py`` for the table and the
DMFT values): recorded there. Not a test: no assertions.

Strong update gate, against the static/dynamic split of the sampling DMFT (``--lags`` records
C_h(τ) = <h_i(t) h_i(t+τ)> over neurons and time origins, h sampled every 0.5 units). Measured
with the same package calls as :func:`run` (one network per seed, tangent vector seeded 7);
equivalent invocation ``--points 3,5,0 2.5,10,0 3,20,0 --N 1000 --nets 2 --burn 300 --T 400
--init-std 0.3 --lags``; one torch thread, 2 shared cores under load: 46-730 s per network.
Seeds 0 and 1:

============  ==============  ========================================  ==============  =============
(g_h, α_z,    sim <h²>        sim C_h(τ)/C_h(0), τ = 5 / 20 / 50 / 100  sim λ_max       DMFT Δ₀
α_r)                                                                                    (q_h/Δ₀)
============  ==============  ========================================  ==============  =============
(3, 5, 0)     0.0880, 0.0893  1.000 / 0.988 / 0.937 / 0.833 (seed 0)    0.0043, 0.0061  0.0895 (0.69)
(2.5, 10, 0)  0.0508, 0.0473  1.000 / 0.999 / 0.996 / 0.989 (seed 0)    0.0015, 0.0030  0.0522 (1.00)
(3, 20, 0)    0.0728, 0.0755  1.000 / 0.998 / 0.990 / 0.974 (seed 0)    0.0052, 0.0045  0.0844 (0.55)
============  ==============  ========================================  ==============  =============

DMFT: 200 paths, seed 0, default window; its C_h(τ)/Δ₀ stays above 0.97 to τ = 100 at all three
points (slower than the networks at (3, 5, 0)). Static mean-field solution (fixed points):
Δ_h = 0.0882, 0.0522, 0.0882.
"""
from __future__ import annotations

import argparse
import json
import math
import time

import numpy as np
import torch


def numpy_rk4_check(model, N=200, steps=50, dt=0.1, seed=0):
    """Max |x_package - x_numpy| after ``steps`` RK4 steps from the same state and weights."""
    from neurolatent.theory.simulate import advance, initial_state, sample_network

    net = sample_network(model, N, seeds=[seed], dtype=torch.float64)
    Jh, Jz, Jr = (net.weights[k][0].numpy() for k in ("Jh", "Jz", "Jr"))
    x0 = initial_state(net, 1.0, seed=1)
    sig = lambda a, b, x: 1.0 / (1.0 + np.exp(-a * x + b))  # noqa: E731  (subtract convention)

    def f(x):  # the model equations, written out independently of the package
        h, z, r = x[:N], x[N:2 * N], x[2 * N:]
        p = np.tanh(model.g_h * h + model.beta_h)
        dh = sig(model.alpha_z, model.beta_z, z) * (-h + Jh @ (sig(model.alpha_r, model.beta_r, r) * p)) / model.tau_h
        return np.concatenate([dh, (-z + Jz @ p) / model.tau_z, (-r + Jr @ p) / model.tau_r])

    x, y = x0.clone(), x0[0].numpy().copy()
    for _ in range(steps):
        x = advance(net, x, dt)
        k1 = f(y)
        k2 = f(y + 0.5 * dt * k1)
        k3 = f(y + 0.5 * dt * k2)
        k4 = f(y + dt * k3)
        y = y + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return float(np.max(np.abs(x[0].numpy() - y)))


def lagged_correlation(H, lags, dt_rec):
    """C(τ) = mean over neurons and time origins of h(t) h(t + τ) for recorded states ``H`` ``(T, N)``."""
    out = {}
    for L in lags:
        k = int(round(L / dt_rec))
        if k < len(H) // 2:
            out[L] = float(np.mean(H[: len(H) - k] * H[k:]))
    return out


def run(model, N, seeds, T, burn_in, dt=0.1, block=50.0, tangent=True, dtype=torch.float32, init_std=1.0,
        lags=None, rec=5):
    from neurolatent.theory.simulate import advance, initial_state, sample_network, tangent_step

    net = sample_network(model, N, seeds=seeds, dtype=dtype)
    x = initial_state(net, init_std, seed=1)
    for _ in range(int(round(burn_in / dt))):
        x = advance(net, x, dt)
    B = len(seeds)
    Q = torch.randn(B, 3 * N, 1, dtype=dtype, generator=torch.Generator().manual_seed(7))
    Q = Q / Q.norm(dim=1, keepdim=True)
    n_block = int(round(block / dt))
    h2_blocks, lam_blocks = [], []
    h2, logg = torch.zeros(B, dtype=torch.float64), torch.zeros(B, dtype=torch.float64)
    hs = []
    for i in range(1, int(round(T / dt)) + 1):
        if tangent:
            x, Q = tangent_step(net, x, Q, dt)
            nrm = Q.norm(dim=1, keepdim=True)
            logg += torch.log(nrm[:, 0, 0]).double()
            Q = Q / nrm
        else:
            x = advance(net, x, dt)
        h2 += (x[:, :N].double() ** 2).mean(1)
        if lags and i % rec == 0:
            hs.append(x[:, :N].double().numpy().copy())
        if i % n_block == 0:
            h2_blocks.append((h2 / n_block).tolist())
            lam_blocks.append((logg / (n_block * dt)).tolist())
            h2.zero_()
            logg.zero_()
    if not torch.isfinite(x).all():
        raise FloatingPointError("simulation diverged")
    corr = [lagged_correlation(np.array(hs)[:, b], lags, dt * rec) for b in range(B)] if lags else None
    return np.array(h2_blocks), np.array(lam_blocks), corr


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--points", nargs="+", default=["4,2,0", "3,5,2", "2.5,10,0"])
    ap.add_argument("--N", nargs="+", type=int, default=[500, 1000, 2000])
    ap.add_argument("--nets", nargs="+", type=int, default=None, help="networks per N (default 4,2,1,1)")
    ap.add_argument("--T", type=float, default=300.0)
    ap.add_argument("--burn", type=float, default=100.0)
    ap.add_argument("--no-tangent-above", type=int, default=3000)
    ap.add_argument("--init-std", type=float, default=1.0,
                    help="initial state std: at large alpha_z units with z < 0 stay frozen near their "
                         "initial h for long times, so a large value biases <h^2> up")
    ap.add_argument("--lags", action="store_true", help="also record C_h at lags 0, 5, 20, 50, 100")
    a = ap.parse_args()
    torch.set_num_threads(1)
    from neurolatent.theory import GatedRNN

    nets = a.nets or [{500: 4, 1000: 2}.get(N, 1) for N in a.N]
    err = numpy_rk4_check(GatedRNN(3.0, 5.0, 2.0, beta_z=0.5, beta_r=-0.3, beta_h=0.1))
    print(f"package RK4 vs independent numpy RK4, N = 200, 50 steps: max|diff| = {err:.2e}", flush=True)
    for p in a.points:
        g_h, az, ar = map(float, p.split(","))
        for N, B in zip(a.N, nets):
            t0 = time.perf_counter()
            tangent = N <= a.no_tangent_above
            h2, lam, corr = run(GatedRNN(g_h, az, ar), N, list(range(B)), a.T, a.burn, tangent=tangent,
                                init_std=a.init_std, lags=(0, 5, 20, 50, 100) if a.lags else None)
            rec = {"g_h": g_h, "alpha_z": az, "alpha_r": ar, "N": N, "nets": B, "T": a.T, "burn_in": a.burn,
                   "h2_blocks": h2.tolist(), "lam_blocks": lam.tolist() if tangent else None,
                   "h2_per_net": h2.mean(0).tolist(), "lam_per_net": lam.mean(0).tolist() if tangent else None,
                   "seconds": time.perf_counter() - t0, "rk4_check": err, "init_std": a.init_std,
                   "C_h_per_net": corr}
            with open(a.out, "a") as fh:
                fh.write(json.dumps(rec) + "\n")
            msg = (f"({g_h}, {az}, {ar}) N={N} B={B} init_std={a.init_std}: <h2> per net {np.round(h2.mean(0), 4)}"
                   f", per block (net mean) {np.round(h2.mean(1), 4)}")
            if tangent:
                msg += f", lambda per net {np.round(lam.mean(0), 4)}"
            print(msg + f"  [{rec['seconds']:.0f} s]", flush=True)


if __name__ == "__main__":
    main()
