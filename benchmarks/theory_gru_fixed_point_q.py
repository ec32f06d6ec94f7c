"""Why numerically found GRU fixed points have ``q = mean(h²)`` below the mean-field ``Δ_h``.

For ``GRU(g_h=3)`` (b_r = b_h = 0, g_r = 1) the static mean-field equation of
:mod:`neurolatent.theory.gru_fixed_points` gives ``Δ_h = 0.380`` (stability index c = 1.25, predicted
spectral radius 1.056). Step-capped Newton (:func:`find_gru_fixed_points`, 10 starts + zero) finds
nonzero fixed points with q spread below it. This script measures, for N = 250 / 500 / 1000 and a few
network seeds, each found nonzero point's

* ``q`` and spectral radius, and the fraction of Jacobian eigenvalues outside the unit circle;
* ``field_ratio = mean(a_h²) / (g_h² mean((r h)²))`` with ``a_h = U_h (r ⊙ h)``: the mean-field
  closure assumes the field of a fixed point is as large as for a random vector (ratio 1); a
  ratio below 1 means Newton found a point whose field is atypically small -- a large deviation
  of ``U_h`` along ``r ⊙ h``, which the typical (self-averaging) closure cannot describe;
* ``q_closure = <tanh²(sqrt(mean(a_h²)) x)>``: the mean-field map evaluated with the *measured*
  field variance (equal to q when the fields are Gaussian with that variance);
* ``q_pred``: the static mean-field solution with ``g_h`` replaced by ``g_h √κ`` (closed form, one
  measured scalar per point).

Usage: ``python benchmarks/theory_gru_fixed_point_q.py N [seed ...] [--max-iter=200]`` (prints one line per point).
Measured numbers are in the report of the test file (tests/theory/test_theory_gru_fixed_points.py).
"""
from __future__ import annotations

import dataclasses
import sys
import time

import numpy as np
from scipy.special import expit

from neurolatent.theory import GRU
from neurolatent.theory.gru_fixed_points import find_gru_fixed_points, gru_static_solutions

X, W = np.polynomial.hermite_e.hermegauss(81)
W = W / W.sum()


def diagnostics(fp, model):
    """Per nonzero point: (q, radius, fraction |λ| > 1, field ratio κ, q_closure, q_pred(κ))."""
    Ur, Uh = fp.network.weights["Ur"][0].numpy(), fp.network.weights["Uh"][0].numpy()
    rows = []
    for h, q, ev, kappa in zip(fp.states, fp.q, fp.eigenvalues, fp.field_ratio):
        if q < 1e-8:
            continue
        var_a = float(np.mean((Uh @ (expit(Ur @ h + model.b_r) * h)) ** 2))
        tilted = dataclasses.replace(model, g_h=model.g_h * kappa ** 0.5)
        q_pred = max(s.delta_h for s in gru_static_solutions(tilted))
        rows.append((float(q), float(np.abs(ev).max()), float(np.mean(np.abs(ev) > 1)), float(kappa),
                     float(W @ np.tanh(np.sqrt(var_a) * X) ** 2), float(q_pred)))
    return rows


def main(N, seeds, n_starts=10, max_iter=200):
    m = GRU(g_h=3.0)
    delta = gru_static_solutions(m)[1].delta_h
    print(f"# mean-field Delta_h = {delta:.4f}; N = {N}, n_starts = {n_starts}")
    for s in seeds:
        t0 = time.perf_counter()
        fp = find_gru_fixed_points(m, N=N, seed=s, n_starts=n_starts, max_iter=max_iter)
        for row in diagnostics(fp, m):
            print(f"N={N} seed={s} q={row[0]:.4f} radius={row[1]:.4f} frac_out={row[2]:.3f} "
                  f"field_ratio={row[3]:.4f} q_closure={row[4]:.4f} q_pred={row[5]:.4f}", flush=True)
        print(f"# N={N} seed={s}: {fp.n_converged}/{fp.n_starts} converged, {time.perf_counter() - t0:.0f} s",
              flush=True)


if __name__ == "__main__":
    import torch

    torch.set_num_threads(1)
    args = [a for a in sys.argv[1:] if not a.startswith("--max-iter=")]
    its = [int(a.split("=")[1]) for a in sys.argv[1:] if a.startswith("--max-iter=")]
    main(int(args[0]), [int(a) for a in args[1:]] or [0], max_iter=its[0] if its else 200)
