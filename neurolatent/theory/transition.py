"""The discontinuous transition of the gated RNN: topological vs dynamical complexity.

Krishnamurthy, Can & Schwab (PRX 12, 011011, 2022) show that the output gate r *decouples* two
transitions that coincide in the classical network (Sompolinsky, Crisanti & Sommers 1988):

* **topological complexity** — nonzero solutions of the static mean-field equation appear
  (exponentially many unstable fixed points). With ``β_h = β_r = 0`` the static residual is
  :math:`F(\\Delta) \\approx (g_h^2/4 - 1)\\Delta + g_h^4(\\alpha_r^2/16 - 1/2)\\Delta^2`, so for
  :math:`\\alpha_r < 2\\sqrt 2` the nonzero branch grows continuously out of zero at
  :math:`g_h = 2` (:math:`g_h\\sigma_r(0) = 1`), while for :math:`\\alpha_r > 2\\sqrt 2` it is born
  by a saddle-node at :math:`g_h^*(\\alpha_r) < 2` (tricritical point :math:`(2, 2\\sqrt 2)`);
* **dynamical complexity (chaos)** — a time-dependent DMFT solution with :math:`\\lambda_{max} > 0`.
  For :math:`\\alpha_r < 2\\sqrt 2` it appears continuously at :math:`g_h = 2`; at large
  :math:`\\alpha_r` it appears at :math:`g_c(\\alpha_r)` between :math:`g_h^*` and 2, with a
  finite amplitude, and coexists with the still-stable zero fixed point.

:func:`static_line` finds :math:`g_h^*(\\alpha_r)` by bisection on the number of nonzero static
solutions (:func:`fixed_point_dmft`, cheap and precise). :func:`chaos_line` brackets
:math:`g_c(\\alpha_r)` by bisection on "the DMFT iterated from a large initial variance converges to
a chaotic solution" (:func:`dmft`, ``alpha_z = 0``: the exact Gaussian route). Because the
transition is discontinuous the iteration slows down near the line (tens to hundreds of
iterations); a point whose iteration does not converge counts as *not chaotic* and is counted in
``n_unconverged`` — the line is then an upper bound by at most the bracket width.
:func:`dmft_point` gives the characterisation quantities (Δ₀, λ_max, autocorrelation time
:math:`\\tau_c = \\int_0^\\infty C(\\tau)\\,d\\tau / C(0)`), :func:`simulate_point` the finite-N
check (RK4 networks, Benettin λ_max, ⟨h²⟩) and :func:`transition_diagram` assembles both lines,
a (α_r, g_h) grid and simulations into one ``xarray.Dataset``.

**Output-gate bias.** With :math:`s = \\sigma_r(0) \\ne 1/2` both lines move: the zero fixed point
loses stability at :math:`g_h = 1/s` and the tricritical point is at
:math:`\\alpha_r^{tc} = \\sqrt{2/((1-s)(2-3s))}` (:func:`tricritical_point`; none for
:math:`s \\ge 2/3`). Measured at ``β_r = 1`` (1/s = 3.718, α_r^tc = 1.514): α_r = 1 — static line
3.7183, chaos bracket [3.733, 3.751] (coincide, up to the DMFT's slow convergence at the
continuous onset, Δ₀ ≈ 1e-3 there); α_r = 4 — static line 2.794, chaos line [3.007, 3.023]
(distinct, onset Δ₀ = 0.026, λ = 0.086). An N = 1000 network (seed 0, burn-in 60) at
(g_h, α_r) = (3.3, 4), above the chaos line with the zero fixed point still stable, stays chaotic:
⟨h²⟩ = 0.0555 vs Δ₀ = 0.0601, Benettin λ_max = 0.108 vs DMFT 0.117.

**Update gate.** σ_z > 0 multiplies the whole h equation, so the static line (and every fixed
point) does not depend on α_z or β_z; at ``alpha_z = 0``, β_z and τ_h only rescale time (λ and τ_c
by :math:`\\sigma_z(0)/\\tau_h`). With α_z > 0 the chaotic solution is no longer a time rescaling
and the chaos line could move; :func:`chaos_line` then uses the sampling DMFT (``alpha_z=...``).
Measured at α_r = 16, α_z = 2 (500 paths, bisection from [1.74, 1.82], xtol 0.01): chaos bracket
[1.785, 1.790] against [1.783, 1.789] at α_z = 0 — the line does not move at this precision; just
above it Δ₀ is unchanged to 0.3% (0.02060 vs 0.02057 at g_h = 1.80, 0.04547 vs 0.04559 at 1.9)
while λ_max drops (0.091 vs 0.097 at 1.80, 0.107 vs 0.122 at 1.9): the update gate slows the
chaotic state without changing where it exists. (Each sampling evaluation costs 30 s to 5 min on a
loaded core; the two evaluations nearest the line, 1.78 and 1.785, did not converge in 200
iterations and count as not chaotic, so the bracket is an upper bound like the α_z = 0 one.)

**Transients between the lines** (:func:`transient_lifetimes`): α_r = 16 (g_h* = 1.663,
g_c = 1.786), 8 seeds per point, networks started from var h = 1, lifetime = first time
⟨h²⟩ < 1e-4, T_max = 400. Median lifetimes (N = 50 / 100 / 200): g_h = 1.70 (d = −0.086):
41.5 / 60.5 / 61.5; 1.74 (d = −0.046): 48.5 / 76.5 / 73.0; 1.77 (d = −0.016): 62 / 77.5 / 84.5
(one N = 50 network at 1.77 still active at 400); at N = 400 (separate run, same seeds): 64.5 at
1.70 and 114 at 1.77. They grow as the line is approached at every N, and the gap widens with N
(ratio 1.77 : 1.70 of 1.49, 1.28, 1.37, 1.77 at N = 50 … 400), but slowly: fitted
:math:`T \\propto |d|^{-\\nu}` gives ν = 0.24 / 0.13 / 0.18 / 0.34 (N = 50 … 400), and over
N = 50 … 400 a power law :math:`T \\propto N^{c}` fits better than an exponential: c = 0.19 at
1.70 (saturating: 60.5, 61.5, 64.5 from N = 100) and 0.28 at 1.77 (residual sums 0.035 / 0.008 vs
0.065 / 0.011 for the exponential, rate 0.0009 / 0.0016 per unit). Extrapolated to N = 1000 the
power law at 1.77 gives ~150, the order of the decays at t = 164–244 of N = 1000 networks above.
No divergence at the line is visible at these sizes: the transients last 6–16 autocorrelation
times (τ_c ≈ 7 just above the line), not exponentially long (in N) transients of a chaotic saddle;
larger N (GPU) is the open check.

Measured (``β = 0``, ``τ = 1``, chaos brackets from ``xtol = 0.01``, DMFT ``max_iter = 200``):

======  ========  ==========================  =========  =========  ==========
α_r     g_h*      g_c  [bracket]              λ onset    Δ₀ onset   λ zero FP
======  ========  ==========================  =========  =========  ==========
2       2.0000    2.0019  [1.9975, 2.0062]      0.0013     0.0015     0.0016
4       1.9638    1.9936  [1.9903, 1.9969]      0.0177     0.0076     −0.0008
8       1.8046    1.8966  [1.8924, 1.9007]      0.0609     0.0189     −0.0248
16      1.6632    1.7862  [1.7830, 1.7894]      0.0888     0.0154     −0.0527
32      1.5685    1.7170  [1.7131, 1.7209]      0.1229     0.0134     −0.0698
======  ========  ==========================  =========  =========  ==========

("onset": the DMFT at the bracket's upper end; "zero FP": the stable zero fixed point's exponent
there.) Below the tricritical point both lines sit at g_h = 2 and λ_max is continuous; above it
the lines separate (gap 0.03, 0.09, 0.12, 0.15 in g_h at α_r = 4, 8, 16, 32) and λ_max jumps
by 0.02, 0.09, 0.14, 0.19 across the chaos line, growing with α_r.

The static line agrees with an independent quad + brentq saddle-node to 1e-4. Along α_r = 16
just above the line (distance d = g_h − g_c = 0.003 … 0.2) the DMFT gives Δ₀ = 0.0154 … 0.0617,
λ_max = 0.089 … 0.134 and τ_c = 7.5 … 6.6: λ_max *jumps* from the zero fixed point's
−(1 − g_h/2)/2 = −0.054 to ≈ +0.09 with a finite amplitude Δ₀ ≈ 0.015, and τ_c stays finite
(no critical slowing down of the chaotic state). 0.003 below the upper bracket end the iteration
neither converges nor decays in 600 iterations (Δ₀ ≈ 0.016, λ ≈ 0.089): the line carries that
uncertainty. N = 1000 networks (seed 0, RK4 dt = 0.1, burn-in 100, λ over 150 time units):
between the lines at (1.7, 16) the network decays to the zero fixed point (λ = −0.086 vs the
zero FP's −0.075); above at (1.9, 16) it stays chaotic, λ = 0.1224 vs DMFT 0.1222, ⟨h²⟩ = 0.060
(one network, 100 time units; seeds 1–3 over 250 units: 0.0418 ± 0.0022) vs Δ₀ = 0.0456; in the
continuous regime at (2.5, 2) λ = 0.032 vs DMFT 0.043 and ⟨h²⟩ = 0.071 vs Δ₀ = 0.068. Long
transients below the chaos line: networks started from a large state stay active for a long time
before they reach the zero fixed point — at α_r = 16 they decay at t = 164, 225 (g_h = 1.76,
d = −0.026) and 217, 244 (g_h = 1.78, d = −0.006), within the 100-unit burn-in at g_h = 1.7.
"""
from __future__ import annotations

import math

import numpy as np
import torch
import xarray as xr
from tqdm.auto import tqdm

from .dmft import dmft
from .fixed_points import fixed_point_dmft
from .lyapunov import lyapunov_spectrum
from .models import GatedRNN
from .simulate import sample_network, simulate

__all__ = ["static_line", "chaos_line", "dmft_point", "simulate_point", "transition_diagram",
           "tricritical_point", "transient_lifetimes", "TRICRITICAL_ALPHA_R"]

TRICRITICAL_ALPHA_R = 2.0 * math.sqrt(2.0)
"""α_r of the tricritical point at ``β_h = β_r = 0``: above it the static branch is born by a saddle-node."""

_PHASES = {"quiescent": 0, "critical": 1, "static": 2, "chaotic": 3}


def _model(g_h, alpha_r, beta_r=0.0, alpha_z=0.0, **kw) -> GatedRNN:
    return GatedRNN(float(g_h), alpha_z=float(alpha_z), alpha_r=float(alpha_r), beta_r=float(beta_r), **kw)


def _check_alpha(alpha_r):
    if not (math.isfinite(alpha_r) and alpha_r >= 0):
        raise ValueError(f"alpha_r must be finite and >= 0, got {alpha_r!r}")


def _zero_fp_gain(beta_r: float) -> float:
    """g_h at which the zero fixed point loses stability: g_h σ_r(0) = 1."""
    return 1.0 / _model(1.0, 0.0, beta_r).gate_at_zero("r")


def tricritical_point(beta_r: float = 0.0, gate_bias: str = "subtract") -> tuple:
    """Tricritical point :math:`(g_h, \\alpha_r)` of the static line at output-gate bias ``β_r`` (β_h = 0).

    With :math:`s = \\sigma_r(0)` and, at a fixed point, :math:`h \\sim N(0, \\Delta)` independent of
    :math:`r \\sim N(0, \\langle\\phi^2\\rangle)`, expanding :math:`\\tanh^2` to :math:`x^4` and
    :math:`\\sigma_r^2` to :math:`r^2` (:math:`\\sigma' = s(1-s)`, :math:`\\sigma'' = \\sigma'(1-2s)`)
    gives the static residual

    .. math:: F(\\Delta) \\approx (s^2 g_h^2 - 1)\\,\\Delta
              + g_h^4\\,[c\\,\\alpha_r^2 - 2 s^2]\\,\\Delta^2, \\qquad c = s^2 (1-s)(2-3s),

    so the zero fixed point loses stability at :math:`g_h = 1/s` and the new branch is born
    continuously while :math:`c\\alpha_r^2 < 2s^2`, by a saddle-node below :math:`1/s` above
    :math:`\\alpha_r^{tc} = \\sqrt{2/((1-s)(2-3s))}` (:math:`(2, 2\\sqrt2)` at ``β_r = 0``). For
    :math:`s \\ge 2/3` the quadratic coefficient is negative for every α_r: no discontinuous
    transition (returned α_r is ``inf``).

    Returns
    -------
    tuple of float
        ``(g_h, alpha_r)`` of the tricritical point.

    Examples
    --------
    >>> g, a = tricritical_point(0.0)
    >>> round(g, 6), round(a ** 2, 6)
    (2.0, 8.0)
    """
    if not math.isfinite(beta_r):
        raise ValueError(f"beta_r must be finite, got {beta_r!r}")
    s = GatedRNN(1.0, beta_r=float(beta_r), gate_bias=gate_bias).gate_at_zero("r")
    k = (1.0 - s) * (2.0 - 3.0 * s)
    return 1.0 / s, (math.sqrt(2.0 / k) if k > 0 else math.inf)


def static_line(alpha_r: float, beta_r: float = 0.0, g_min: float = 0.5, xtol: float = 1e-6) -> float:
    """Smallest g_h with a nonzero static mean-field solution (the topological-complexity line).

    Parameters
    ----------
    alpha_r : float
        Output-gate sensitivity (>= 0).
    beta_r : float
        Output-gate bias (the zero fixed point loses stability at ``g_h = 1/σ_r(0)``).
    g_min : float
        Lower end of the bisection bracket (must have no nonzero static solution).
    xtol : float
        Bisection tolerance in g_h.

    Returns
    -------
    float
        :math:`g_h^*(\\alpha_r)`; equal to :math:`1/\\sigma_r(0)` (2 for ``β_r = 0``) below the
        tricritical point, smaller above it (saddle-node).

    Examples
    --------
    >>> round(static_line(1.0), 4), static_line(20.0) < 1.9
    (2.0, True)
    """
    _check_alpha(alpha_r)
    g_hi = _zero_fp_gain(beta_r)

    def has_static(g):
        return any(s.delta_h > 0 for s in fixed_point_dmft(_model(g, alpha_r, beta_r), stability=False))

    if has_static(g_min):
        raise ValueError(f"g_min={g_min} already has a nonzero static solution at alpha_r={alpha_r}; lower g_min")
    lo, hi = g_min, g_hi
    while hi - lo > xtol:
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if has_static(mid) else (mid, hi)
    return hi


def dmft_point(model: GatedRNN, init_variance: float = 2.0, max_iter: int = 200, **dmft_kwargs) -> dict:
    """DMFT quantities at one point, iterated from a large initial variance (the chaotic branch).

    Returns
    -------
    dict
        ``delta0``, ``lambda_max``, ``tau_c`` (:math:`\\int_0^{\\tau_{max}} C\\,d\\tau / C(0)`, nan when
        Δ₀ = 0 or not converged), ``phase_code`` (0 quiescent, 1 critical, 2 static, 3 chaotic), ``converged``
        (1/0), ``n_iter``, ``chaotic`` (converged and phase chaotic with λ_max > 0).

    Examples
    --------
    >>> from neurolatent.theory import GatedRNN
    >>> out = dmft_point(GatedRNN(2.5, alpha_r=2.0))
    >>> out["chaotic"], out["lambda_max"] > 0
    (True, True)
    """
    res = dmft(model, init_variance=init_variance, max_iter=max_iter, on_fail="return", **dmft_kwargs)
    C = res.autocorrelation
    ok = res.converged and res.delta0 > 1e-12  # an unconverged, decaying iterate has no meaningful τ_c
    tau_c = float(np.trapezoid(C, res.tau) / C[0]) if ok else float("nan")
    chaotic = bool(res.converged and res.phase == "chaotic" and res.lambda_max > 0)
    return {"delta0": float(res.delta0), "lambda_max": float(res.lambda_max), "tau_c": tau_c,
            "phase_code": float(_PHASES[res.phase]), "converged": float(res.converged),
            "n_iter": float(res.n_iter), "chaotic": chaotic}


def chaos_line(alpha_r: float, g_lo: float | None = None, g_hi: float | None = None, beta_r: float = 0.0,
               xtol: float = 0.01, progress: bool = False, callback=None, alpha_z: float = 0.0,
               **point_kwargs) -> dict:
    """Bracket of the chaos line :math:`g_c(\\alpha_r)` by bisection on :func:`dmft_point`'s ``chaotic``.

    Parameters
    ----------
    alpha_r, beta_r : float
    alpha_z : float
        Update-gate sensitivity. ``0`` (default) uses the exact Gaussian DMFT route; ``> 0`` the
        Monte-Carlo sampling route (pass ``n_paths`` in ``point_kwargs``; ~30 s per evaluation
        with 500 paths), whose convergence flag then decides "chaotic".
    g_lo, g_hi : float, optional
        Bracket: ``g_lo`` must not be chaotic, ``g_hi`` must be (checked). Defaults: the static
        line minus 0.02 (no chaos without static solutions is the paper's picture; checked at
        ``g_lo``) and ``1/σ_r(0) + 0.05``.
    xtol : float
        Final bracket width.
    callback : callable, optional
        ``callback(g_h, point_dict)`` after each DMFT evaluation.
    **point_kwargs
        Passed to :func:`dmft_point` (``max_iter``, ``init_variance``, ``dt``, ...).

    Returns
    -------
    dict
        ``g_chaos`` (bracket midpoint), ``lo``, ``hi``, ``n_unconverged`` (evaluations that did
        not converge, counted as not chaotic), ``onset`` (the :func:`dmft_point` dict at ``hi``,
        the lowest chaotic point found: Δ₀ and λ_max just above the line).
    """
    _check_alpha(alpha_r)
    g_lo = static_line(alpha_r, beta_r) - 0.02 if g_lo is None else float(g_lo)
    g_hi = _zero_fp_gain(beta_r) + 0.05 if g_hi is None else float(g_hi)
    evals = {}

    def point(g):
        out = dmft_point(_model(g, alpha_r, beta_r, alpha_z), **point_kwargs)
        evals[g] = out
        if callback is not None:
            callback(g, out)
        return out

    if point(g_lo)["chaotic"]:
        raise ValueError(f"g_lo={g_lo} is already chaotic at alpha_r={alpha_r}; lower g_lo")
    if not point(g_hi)["chaotic"]:
        raise ValueError(f"g_hi={g_hi} is not chaotic at alpha_r={alpha_r}; raise g_hi or max_iter")
    lo, hi = g_lo, g_hi
    n_steps = max(int(math.ceil(math.log2((hi - lo) / xtol))), 0)
    for _ in tqdm(range(n_steps), disable=not progress, desc=f"chaos line alpha_r={alpha_r:g}"):
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if point(mid)["chaotic"] else (mid, hi)
    n_unc = sum(1 for v in evals.values() if not v["converged"])
    return {"g_chaos": 0.5 * (lo + hi), "lo": lo, "hi": hi, "n_unconverged": n_unc, "onset": evals[hi]}


def simulate_point(model: GatedRNN, N: int = 1000, seeds=(0,), burn_in: float = 100.0, T_var: float = 100.0,
                   T_lyap: float = 150.0, init_std: float = 1.0, dt: float = 0.1, device=None,
                   dtype=torch.float64) -> dict:
    """Finite-N check at one point: ⟨h²⟩ and the Benettin λ_max of ``len(seeds)`` networks.

    Networks start from a large random state (``init_std``, so the chaotic attractor is reached
    where it coexists with the stable zero fixed point), run ``burn_in``, record ⟨h²⟩ over
    ``T_var``, then continue with one tangent vector (QR/Benettin, :func:`lyapunov_spectrum`)
    over ``T_lyap``.

    Returns
    -------
    dict
        ``lambda_max`` and ``variance`` (means over networks), ``lambda_std`` / ``variance_std``
        (spread over networks, 0 for one), ``final_variance`` (⟨h²⟩ at the end of the ``T_var``
        window: ~0 when the network decayed to the zero fixed point).
    """
    seeds = [int(s) for s in np.atleast_1d(seeds)]
    net = sample_network(model, N, seeds, device=device, dtype=dtype)
    tr = simulate(model, N, T=T_var, dt=dt, init_std=init_std, burn_in=burn_in, record_every=10, network=net)
    h = tr.states[:, :, :N]
    var = (h ** 2).mean(dim=(1, 2)).cpu().numpy()
    final = (h[:, -1] ** 2).mean(-1).cpu().numpy()
    lam = lyapunov_spectrum(model, N, T=T_lyap, k=1, dt=dt, x0=tr.states[:, -1], burn_in=0.0, network=net,
                            progress=False).exponents[:, 0]
    return {"lambda_max": float(lam.mean()), "lambda_std": float(lam.std()), "variance": float(var.mean()),
            "variance_std": float(var.std()), "final_variance": float(final.mean())}


def _zero_fp_lambda(g_h, beta_r=0.0):
    m = _model(g_h, 0.0, beta_r)
    return -m.gate_at_zero("z") / m.tau_h * (1.0 - g_h * m.gate_at_zero("r"))


def transition_diagram(alpha_r=(1.0, 4.0, 8.0, 16.0), g_h=None, beta_r: float = 0.0, alpha_z: float = 0.0,
                       sim_points=(),
                       N: int = 1000, seeds=(0,), sim_kwargs: dict | None = None, xtol: float = 0.01,
                       point_kwargs: dict | None = None, progress: bool = True, callback=None,
                       device=None, dtype=torch.float64) -> xr.Dataset:
    """Both critical lines on the (g_h, α_r) plane, the DMFT on a grid, and finite-N checks.

    Parameters
    ----------
    alpha_r : sequence of float
        Output-gate sensitivities at which both lines are located (and the grid's α_r axis).
    g_h : sequence of float, optional
        Gains of the grid (default: none, lines only). Each grid point is one :func:`dmft_point`.
    beta_r : float
        Output-gate bias (moves both lines: the zero fixed point loses stability at
        ``g_h = 1/σ_r(0)``, the tricritical point is :func:`tricritical_point`).
    alpha_z : float
        Update-gate sensitivity (``beta_z = beta_h = 0``). The static line does not depend on it;
        the chaos line and the grid use the sampling DMFT route when it is ``> 0``.
    sim_points : sequence of (g_h, alpha_r)
        Points simulated with :func:`simulate_point` (``N`` units, ``seeds``), each also solved by
        the DMFT for comparison.
    xtol : float
        Bracket width of the chaos line in g_h.
    point_kwargs, sim_kwargs : dict, optional
        Passed to :func:`dmft_point` and :func:`simulate_point`.
    callback : callable, optional
        ``callback(stage, info)`` after each line, grid point and simulation.

    Returns
    -------
    xarray.Dataset
        Over ``alpha_r``: ``g_static``, ``g_chaos`` (+ ``g_chaos_lo``/``_hi``), ``lambda_onset`` and
        ``delta0_onset`` (the DMFT just above the chaos line), ``lambda_zero_fp`` (the zero fixed
        point's exponent there, so ``lambda_onset - lambda_zero_fp`` is the jump),
        ``n_unconverged``. Over ``(alpha_r, g_h)``: ``n_static``, ``delta0``, ``lambda_max``,
        ``tau_c``, ``phase_code``, ``converged``, ``distance`` (``g_h - g_chaos``). Over ``sim``:
        ``sim_g_h``, ``sim_alpha_r``, ``sim_lambda_max`` (± ``sim_lambda_std``), ``sim_variance``,
        ``sim_final_variance``, ``dmft_lambda_max``, ``dmft_delta0``. Model parameters in ``attrs``.

    Examples
    --------
    >>> ds = transition_diagram(alpha_r=[1.0], xtol=0.05, progress=False)  # doctest: +SKIP
    >>> float(ds.g_static.sel(alpha_r=1.0))  # doctest: +SKIP
    2.0
    """
    alphas = np.asarray(alpha_r, dtype=float)
    if alphas.ndim != 1 or alphas.size == 0:
        raise ValueError(f"alpha_r must be a non-empty 1-D sequence, got {alpha_r!r}")
    for a in alphas:
        _check_alpha(a)
    gs = np.asarray([] if g_h is None else g_h, dtype=float)
    point_kwargs = dict(point_kwargs or {})
    cb = callback or (lambda stage, info: None)
    line = {k: [] for k in ("g_static", "g_chaos", "g_chaos_lo", "g_chaos_hi", "lambda_onset", "delta0_onset",
                            "tau_c_onset", "lambda_zero_fp", "n_unconverged")}
    for a in tqdm(alphas, disable=not progress, desc="critical lines"):
        gs_ = static_line(a, beta_r)
        ch = chaos_line(a, beta_r=beta_r, xtol=xtol, alpha_z=alpha_z, **point_kwargs)
        for k, v in (("g_static", gs_), ("g_chaos", ch["g_chaos"]), ("g_chaos_lo", ch["lo"]), ("g_chaos_hi", ch["hi"]),
                     ("lambda_onset", ch["onset"]["lambda_max"]), ("delta0_onset", ch["onset"]["delta0"]),
                     ("tau_c_onset", ch["onset"]["tau_c"]), ("lambda_zero_fp", _zero_fp_lambda(ch["hi"], beta_r)),
                     ("n_unconverged", ch["n_unconverged"])):
            line[k].append(float(v))
        cb("line", {"alpha_r": float(a), "g_static": gs_, **{k: ch[k] for k in ("g_chaos", "lo", "hi")}})
    grid_names = ("n_static", "delta0", "lambda_max", "tau_c", "phase_code", "converged")
    grid = {k: np.full((alphas.size, gs.size), np.nan) for k in grid_names}
    for i, a in enumerate(alphas):
        for j, g in enumerate(tqdm(gs, disable=not progress, desc=f"grid alpha_r={a:g}")):
            m = _model(g, a, beta_r, alpha_z)
            out = dmft_point(m, **point_kwargs)
            out["n_static"] = float(sum(s.delta_h > 0 for s in fixed_point_dmft(m, stability=False)))
            for k in grid_names:
                grid[k][i, j] = out[k]
            cb("grid", {"alpha_r": float(a), "g_h": float(g), **out})
    sims = {k: [] for k in ("sim_g_h", "sim_alpha_r", "sim_lambda_max", "sim_lambda_std", "sim_variance",
                            "sim_final_variance", "dmft_lambda_max", "dmft_delta0")}
    for g, a in tqdm(list(sim_points), disable=not progress, desc="simulations"):
        m = _model(g, a, beta_r, alpha_z)
        s = simulate_point(m, N=N, seeds=seeds, device=device, dtype=dtype, **(sim_kwargs or {}))
        d = dmft_point(m, **point_kwargs)
        for k, v in (("sim_g_h", g), ("sim_alpha_r", a), ("sim_lambda_max", s["lambda_max"]),
                     ("sim_lambda_std", s["lambda_std"]), ("sim_variance", s["variance"]),
                     ("sim_final_variance", s["final_variance"]), ("dmft_lambda_max", d["lambda_max"]),
                     ("dmft_delta0", d["delta0"])):
            sims[k].append(float(v))
        cb("sim", {"g_h": float(g), "alpha_r": float(a), **s, "dmft": d})
    ds = xr.Dataset(coords={"alpha_r": alphas, "g_h": gs, "sim": np.arange(len(sims["sim_g_h"]))})
    for k, v in line.items():
        ds[k] = ("alpha_r", np.array(v))
    ds["distance"] = (("alpha_r", "g_h"), gs[None, :] - np.array(line["g_chaos"])[:, None])
    for k, v in grid.items():
        ds[k] = (("alpha_r", "g_h"), v)
    for k, v in sims.items():
        ds[k] = ("sim", np.array(v, dtype=float))
    from ._cf import annotate, model_attrs

    fixed = model_attrs(_model(1.0, 0.0, beta_r, alpha_z), skip=("g_h", "alpha_r"))
    annotate(ds, _TABLE, **fixed, model="GatedRNN", N=int(N), seeds=str([int(x) for x in np.atleast_1d(seeds)]),
             chaos_xtol=float(xtol), tricritical_alpha_r=tricritical_point(beta_r)[1],
             phase_codes=str(_PHASES), reference="Krishnamurthy, Can & Schwab, PRX 12, 011011 (2022)")
    return ds


def _decay_times(model, N, seeds, T_max, threshold, init_std, dt, check_every, device, dtype):
    """First time ⟨h²⟩ < ``threshold`` for each network (``inf`` if not before ``T_max``)."""
    from .simulate import advance, initial_state

    net = sample_network(model, N, list(seeds), device=device, dtype=dtype)
    x = initial_state(net, init_std, seed=2)
    t_dec = torch.full((net.batch,), float("inf"), dtype=torch.float64)
    n = int(round(T_max / dt))
    for i in range(1, n + 1):
        x = advance(net, x, dt)
        if i % check_every == 0 or i == n:
            v = (x[:, :N] ** 2).mean(-1).cpu()  # one host copy of B numbers per check
            new = (v < threshold) & torch.isinf(t_dec)
            t_dec[new] = i * dt
            if torch.isfinite(t_dec).all():
                break
    if not torch.isfinite(x).all():
        raise FloatingPointError("the simulation diverged (non-finite state); reduce dt")
    return t_dec.numpy()


def transient_lifetimes(alpha_r: float, g_h, N=(100, 200, 400), seeds=range(8), beta_r: float = 0.0,
                        T_max: float = 400.0, threshold: float = 1e-4, init_std: float = 1.0, dt: float = 0.1,
                        check_every: int = 10, g_chaos: float | None = None, progress: bool = True,
                        callback=None, device=None, dtype=torch.float64) -> xr.Dataset:
    """Lifetimes of chaotic-looking transients between the static and the chaos line, vs N and distance.

    Between :math:`g_h^*` and :math:`g_c` the DMFT has no chaotic solution but exponentially many
    unstable fixed points exist; finite networks started from a large random state wander
    irregularly before they fall onto the stable zero fixed point. For every ``(g_h, N, seed)`` this
    simulates one network (RK4, ``dt``; the seeds of one N form one batch, whose initial state is one
    draw of :func:`~neurolatent.theory.simulate.initial_state` with seed 2) from a Gaussian state of
    standard deviation ``init_std`` and
    records the first time :math:`T` at which :math:`\\langle h^2\\rangle` falls below ``threshold`` (the zero
    fixed point is then reached: it is stable below :math:`1/\\sigma_r(0)`, so the network stays there;
    the check runs every ``check_every`` steps). Networks still active at ``T_max`` are censored.

    The summary per ``(g_h, N)`` is the median lifetime (defined while fewer than half of the
    networks are censored; NaN otherwise) and, per ``g_h``, two least-squares fits of the log median
    over ``N`` (points with a defined median): exponential :math:`\\log T = a + N/N_0` (slope
    ``1/N_0`` as ``exp_rate``) and power law :math:`\\log T = a + c\\log N` (``power``), with their
    residual sums of squares; and, per ``N``, a power law in the distance to the chaos line,
    :math:`\\log T = a - \\nu \\log(g_c - g_h)` (``nu``).

    Parameters
    ----------
    alpha_r, beta_r : float
        Output-gate sensitivity and bias (``alpha_z = 0``: the z gate only rescales time here).
    g_h : sequence of float
        Gains, expected between the static and the chaos line.
    N : sequence of int
        Network sizes.
    seeds : sequence of int
        One network (weights and initial state) per seed; all seeds of one N run as one batch.
    T_max, threshold, init_std, dt, check_every : float, float, float, float, int
        Simulation horizon, decay threshold on ⟨h²⟩, initial spread, RK4 step, steps between checks.
    g_chaos : float, optional
        The chaos line (default: :func:`chaos_line` with ``xtol = 0.01``).
    callback : callable, optional
        ``callback(g_h, N, lifetimes)`` after each batch.

    Returns
    -------
    xarray.Dataset
        ``lifetime`` ``(g_h, N, seed)`` (``inf`` where censored), ``censored`` (1/0),
        ``median_lifetime`` ``(g_h, N)``, ``distance`` ``(g_h,)`` (:math:`g_h - g_c`, negative),
        ``exp_rate``, ``exp_rss``, ``power``, ``power_rss`` ``(g_h,)``, ``nu`` ``(N,)``; the settings,
        ``g_static`` and ``g_chaos`` in ``attrs``.

    Examples
    --------
    >>> ds = transient_lifetimes(16.0, [1.72], N=[60], seeds=[0, 1], T_max=50.0, g_chaos=1.786,
    ...                          progress=False)
    >>> ds.lifetime.dims
    ('g_h', 'N', 'seed')
    """
    _check_alpha(alpha_r)
    gs = np.atleast_1d(np.asarray(g_h, dtype=float))
    Ns = np.atleast_1d(np.asarray(N, dtype=int))
    seeds = [int(s) for s in seeds]
    if gs.size == 0 or Ns.size == 0 or not seeds:
        raise ValueError("g_h, N and seeds must be non-empty; pass e.g. g_h=[1.72, 1.76], N=[100, 200], seeds=range(8)")
    if (Ns < 2).any():
        raise ValueError(f"every N must be >= 2, got {Ns.tolist()}")
    if not (T_max > 0 and threshold > 0 and dt > 0 and int(check_every) >= 1):
        raise ValueError(f"T_max, threshold, dt must be > 0 and check_every >= 1, got {T_max}, {threshold}, "
                         f"{dt}, {check_every}")
    g_c = chaos_line(alpha_r, beta_r=beta_r)["g_chaos"] if g_chaos is None else float(g_chaos)
    life = np.full((gs.size, Ns.size, len(seeds)), np.inf)
    with tqdm(total=gs.size * Ns.size, disable=not progress, desc="transients") as bar:
        for i, g in enumerate(gs):
            for j, n in enumerate(Ns):
                life[i, j] = _decay_times(_model(g, alpha_r, beta_r), int(n), seeds, T_max, threshold, init_std,
                                          dt, int(check_every), device, dtype)
                if callback is not None:
                    callback(float(g), int(n), life[i, j].copy())
                bar.update()
    cens = ~np.isfinite(life)
    med = np.where(cens.mean(-1) < 0.5, np.median(life, axis=-1), np.nan)
    lg = np.log(med)
    fits = {k: np.full(gs.size, np.nan) for k in ("exp_rate", "exp_rss", "power", "power_rss")}
    for i in range(gs.size):
        ok = np.isfinite(lg[i])
        if ok.sum() >= 2:
            for x, (kc, kr) in ((Ns[ok].astype(float), ("exp_rate", "exp_rss")),
                                (np.log(Ns[ok]), ("power", "power_rss"))):
                c, res = np.polyfit(x, lg[i, ok], 1, full=True)[:2]
                fits[kc][i], fits[kr][i] = c[0], float(res[0]) if len(res) else 0.0
    dist = gs - g_c
    nu = np.full(Ns.size, np.nan)
    for j in range(Ns.size):
        ok = np.isfinite(lg[:, j]) & (dist < 0)
        if ok.sum() >= 2:
            nu[j] = -np.polyfit(np.log(-dist[ok]), lg[ok, j], 1)[0]
    ds = xr.Dataset({"lifetime": (("g_h", "N", "seed"), life), "censored": (("g_h", "N", "seed"), cens.astype(int)),
                     "median_lifetime": (("g_h", "N"), med), "distance": ("g_h", dist), "nu": ("N", nu),
                     **{k: ("g_h", v) for k, v in fits.items()}},
                    coords={"g_h": gs, "N": Ns, "seed": seeds})
    from ._cf import annotate, model_attrs

    return annotate(ds, _TABLE, **model_attrs(_model(1.0, alpha_r, beta_r), skip=("g_h",)), model="GatedRNN",
                    g_chaos=float(g_c), g_static=float(static_line(alpha_r, beta_r)), T_max=float(T_max),
                    threshold=float(threshold), init_std=float(init_std), dt=float(dt),
                    reference="Krishnamurthy, Can & Schwab, PRX 12, 011011 (2022)")


# units and long names of the transition outputs (the shared ones are in _cf.VARIABLES)
_TABLE = {
    "alpha_r": ("1", "output-gate sensitivity alpha_r"),
    "g_h": ("1", "activation gain g_h"),
    "g_static": ("1", "topological-complexity line: smallest g_h with a nonzero static solution"),
    "g_chaos": ("1", "chaos line: smallest g_h with a chaotic DMFT solution (bracket midpoint)"),
    "g_chaos_lo": ("1", "largest g_h found non-chaotic"),
    "g_chaos_hi": ("1", "smallest g_h found chaotic"),
    "lambda_onset": ("1/tau", "DMFT lambda_max at g_chaos_hi"),
    "delta0_onset": ("1", "DMFT variance of h at g_chaos_hi"),
    "tau_c_onset": ("tau", "DMFT autocorrelation time at g_chaos_hi"),
    "lambda_zero_fp": ("1/tau", "lambda_max of the zero fixed point at g_chaos_hi"),
    "n_unconverged": ("1", "DMFT evaluations of the bisection that did not converge"),
    "distance": ("1", "distance to the chaos line g_h - g_chaos"),
    "n_static": ("1", "number of nonzero static mean-field solutions"),
    "delta0": ("1", "DMFT variance of h (from a large initial variance)"),
    "lambda_max": ("1/tau", "DMFT maximal Lyapunov exponent"),
    "tau_c": ("tau", "DMFT autocorrelation time int C dtau / C(0)"),
    "phase_code": ("1", "DMFT phase (see attrs phase_codes)"),
    "converged": ("1", "DMFT converged (1) or flagged (0)"),
    "sim_g_h": ("1", "g_h of the simulated point"),
    "sim_alpha_r": ("1", "alpha_r of the simulated point"),
    "sim_lambda_max": ("1/tau", "Benettin lambda_max, mean over networks"),
    "sim_lambda_std": ("1/tau", "Benettin lambda_max, std over networks"),
    "sim_variance": ("1", "time-averaged <h^2> of the networks"),
    "sim_final_variance": ("1", "<h^2> at the end of the variance window"),
    "dmft_lambda_max": ("1/tau", "DMFT lambda_max at the simulated point"),
    "dmft_delta0": ("1", "DMFT variance of h at the simulated point"),
    "N": ("1", "units per network"),
    "seed": ("1", "network seed"),
    "lifetime": ("tau", "first time <h^2> falls below the threshold (inf: censored at T_max)"),
    "censored": ("1", "network still active at T_max (1) or decayed (0)"),
    "median_lifetime": ("tau", "median lifetime over seeds (NaN if half or more are censored)"),
    "exp_rate": ("1", "slope 1/N_0 of log median lifetime vs N"),
    "exp_rss": ("1", "residual sum of squares of the exponential fit"),
    "power": ("1", "exponent c of median lifetime ~ N^c"),
    "power_rss": ("1", "residual sum of squares of the power-law fit"),
    "nu": ("1", "exponent nu of median lifetime ~ (g_chaos - g_h)^-nu"),
}
