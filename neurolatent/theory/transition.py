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

The z gate does not move fixed points and, at ``alpha_z = 0``, only rescales time, so it is kept
at 0 here (``beta_z`` and ``tau_h`` rescale λ and τ_c by :math:`\\sigma_z(0)/\\tau_h`).

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

from .._version import __version__
from .dmft import dmft
from .fixed_points import fixed_point_dmft
from .lyapunov import lyapunov_spectrum
from .models import GatedRNN
from .simulate import sample_network, simulate

__all__ = ["static_line", "chaos_line", "dmft_point", "simulate_point", "transition_diagram",
           "TRICRITICAL_ALPHA_R"]

TRICRITICAL_ALPHA_R = 2.0 * math.sqrt(2.0)
"""α_r of the tricritical point at ``β_h = β_r = 0``: above it the static branch is born by a saddle-node."""

_PHASES = {"quiescent": 0, "critical": 1, "static": 2, "chaotic": 3}


def _model(g_h, alpha_r, beta_r=0.0, **kw) -> GatedRNN:
    return GatedRNN(float(g_h), alpha_z=0.0, alpha_r=float(alpha_r), beta_r=float(beta_r), **kw)


def _check_alpha(alpha_r):
    if not (math.isfinite(alpha_r) and alpha_r >= 0):
        raise ValueError(f"alpha_r must be finite and >= 0, got {alpha_r!r}")


def _zero_fp_gain(beta_r: float) -> float:
    """g_h at which the zero fixed point loses stability: g_h σ_r(0) = 1."""
    return 1.0 / _model(1.0, 0.0, beta_r).gate_at_zero("r")


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
               xtol: float = 0.01, progress: bool = False, callback=None, **point_kwargs) -> dict:
    """Bracket of the chaos line :math:`g_c(\\alpha_r)` by bisection on :func:`dmft_point`'s ``chaotic``.

    Parameters
    ----------
    alpha_r, beta_r : float
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
        out = dmft_point(_model(g, alpha_r, beta_r), **point_kwargs)
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


def transition_diagram(alpha_r=(1.0, 4.0, 8.0, 16.0), g_h=None, beta_r: float = 0.0, sim_points=(),
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
        Output-gate bias (``alpha_z = beta_h = 0`` throughout; see the module docstring).
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
        ch = chaos_line(a, beta_r=beta_r, xtol=xtol, **point_kwargs)
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
            m = _model(g, a, beta_r)
            out = dmft_point(m, **point_kwargs)
            out["n_static"] = float(sum(s.delta_h > 0 for s in fixed_point_dmft(m, stability=False)))
            for k in grid_names:
                grid[k][i, j] = out[k]
            cb("grid", {"alpha_r": float(a), "g_h": float(g), **out})
    sims = {k: [] for k in ("sim_g_h", "sim_alpha_r", "sim_lambda_max", "sim_lambda_std", "sim_variance",
                            "sim_final_variance", "dmft_lambda_max", "dmft_delta0")}
    for g, a in tqdm(list(sim_points), disable=not progress, desc="simulations"):
        m = _model(g, a, beta_r)
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
    _annotate(ds)
    ds.attrs.update({"model": "GatedRNN", "alpha_z": 0.0, "beta_r": float(beta_r), "beta_h": 0.0, "tau_h": 1.0,
                     "tau_r": 1.0, "gate_bias": "subtract", "N": int(N),
                     "seeds": str([int(x) for x in np.atleast_1d(seeds)]),
                     "chaos_xtol": float(xtol), "tricritical_alpha_r": TRICRITICAL_ALPHA_R,
                     "phase_codes": str(_PHASES), "neurolatent_version": __version__,
                     "reference": "Krishnamurthy, Can & Schwab, PRX 12, 011011 (2022)"})
    return ds


_ATTRS = {
    "alpha_r": ("output-gate sensitivity alpha_r", "1"),
    "g_h": ("activation gain g_h", "1"),
    "g_static": ("topological-complexity line: smallest g_h with a nonzero static solution", "1"),
    "g_chaos": ("chaos line: smallest g_h with a chaotic DMFT solution (bracket midpoint)", "1"),
    "g_chaos_lo": ("largest g_h found non-chaotic", "1"),
    "g_chaos_hi": ("smallest g_h found chaotic", "1"),
    "lambda_onset": ("DMFT lambda_max at g_chaos_hi", "1/tau_h"),
    "delta0_onset": ("DMFT variance of h at g_chaos_hi", "1"),
    "tau_c_onset": ("DMFT autocorrelation time at g_chaos_hi", "tau_h"),
    "lambda_zero_fp": ("lambda_max of the zero fixed point at g_chaos_hi", "1/tau_h"),
    "n_unconverged": ("DMFT evaluations of the bisection that did not converge", "count"),
    "distance": ("distance to the chaos line g_h - g_chaos", "1"),
    "n_static": ("number of nonzero static mean-field solutions", "count"),
    "delta0": ("DMFT variance of h (from a large initial variance)", "1"),
    "lambda_max": ("DMFT maximal Lyapunov exponent", "1/tau_h"),
    "tau_c": ("DMFT autocorrelation time int C dtau / C(0)", "tau_h"),
    "phase_code": ("DMFT phase (see attrs phase_codes)", "1"),
    "converged": ("DMFT converged (1) or flagged (0)", "1"),
    "sim_g_h": ("g_h of the simulated point", "1"),
    "sim_alpha_r": ("alpha_r of the simulated point", "1"),
    "sim_lambda_max": ("Benettin lambda_max, mean over networks", "1/tau_h"),
    "sim_lambda_std": ("Benettin lambda_max, std over networks", "1/tau_h"),
    "sim_variance": ("time-averaged <h^2> of the networks", "1"),
    "sim_final_variance": ("<h^2> at the end of the variance window", "1"),
    "dmft_lambda_max": ("DMFT lambda_max at the simulated point", "1/tau_h"),
    "dmft_delta0": ("DMFT variance of h at the simulated point", "1"),
}


def _annotate(ds: xr.Dataset) -> None:
    for k, (name, unit) in _ATTRS.items():
        if k in ds.variables:
            ds[k].attrs.update(long_name=name, units=unit)
