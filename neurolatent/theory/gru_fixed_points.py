"""Fixed points of the randomly initialised GRU: mean-field phase diagram and numerical check.

Following Can, Krishnamurthy & Schwab, "Gating creates slow modes and controls phase-space
complexity in GRUs and LSTMs" (MSML 2020, PMLR 107:476–511), for the map of :class:`GRU`

.. math:: h' = (1-w)\\odot h + w\\odot\\tilde h,\\quad \\tilde h = \\tanh(U_h(r\\odot h) + b_h),\\quad
          r = \\sigma(U_r h + b_r),

with ``w = σ(U_z h + b_z)`` (``update="new"``) or ``w = 1 - σ(U_z h + b_z)`` (``"old"``).

**Where the fixed points are (derived here).** Since ``w > 0``, a fixed point solves
``h = h̃``: the update gate drops out. At large N the coordinates of a fixed point are
independent draws of ``h = tanh(a_h)``, ``a_h ~ N(b_h, g_h² ⟨r²⟩ Δ_h)``,
``r = σ(a_r)``, ``a_r ~ N(b_r, g_r² Δ_h)``, with the static equation

.. math:: \\Delta_h = \\langle \\tanh^2(b_h + g_h\\sqrt{\\langle r^2\\rangle \\Delta_h}\\, x)\\rangle_x
          \\quad (x \\sim N(0,1)).

With ``b_h = 0`` the zero fixed point always exists; its small-Δ expansion is
:math:`F(\\Delta)/\\Delta \\approx g_h^2\\sigma(b_r)^2 - 1 + \\Delta\\,[\\tfrac12 g_h^2 g_r^2 (\\sigma^2)''(b_r)
- 2 g_h^4\\sigma(b_r)^4]`, so at ``b_r = 0`` the nonzero branch is born continuously at
``g_h = 2`` when ``g_r < 2√2`` and by a saddle-node (below ``g_h = 2``, the zero point still
stable) when ``g_r > 2√2``: the reset gate controls the topological complexity, as the
output gate does in the gated flow (:mod:`.fixed_points`).

**Stability (derived here).** At a fixed point ``h̃ = h``, so the update-gate channel of the
Jacobian (``(h̃ - h) w'``) vanishes and the T-matrix of :mod:`.spectrum` reduces to a 2×2 matrix
whose spectral radius at ``λ = 1`` is ≥ 1 exactly when

.. math:: c \\equiv g_h^2 \\big(\\langle r^2\\rangle + g_r^2 \\Delta_h\\langle \\sigma'(a_r)^2\\rangle\\big)
          \\langle (1-h^2)^2\\rangle \\ge 1 .

On the unit circle ``ρ(T(e^{iθ}))`` is at most its value at ``θ = 0``, so the fixed point is
stable (support inside the unit disk) iff ``c < 1``, *whatever the update gate*: ``b_z``, ``g_z``
shift no boundary. They set where the spectrum sits: the local eigenvalues are ``1 - w_i``, so
as the gate closes (``w → 0``) the support is pinched toward ``λ = 1`` — marginal stability, an
accumulation of slow modes. For the zero fixed point the spectrum is the disk centred at
``1 - s_w`` of radius ``s_w g_h σ(b_r)`` (``s_w`` the gate at 0), whose rightmost point
``1 - s_w (1 - g_h σ(b_r))`` tends to 1 and whose fraction of eigenvalues within ``ε`` of 1 is
the area of the disk inside the ``ε``-ball (circular law). For a nonzero fixed point the
slow-mode fraction is predicted by the fraction of local eigenvalues within ``ε`` of 1,
``P(w < ε)``, a heuristic that ignores how the random coupling spreads each local eigenvalue:
at N = 500, g_h = 3 it is within 0.1 of the measured fraction and puts the half-way point at
``b_z = logit(ε)`` (measured within 0.3), while the circular law for the zero point agrees to
counting noise (``tests/theory/test_theory_gru_fixed_points.py``).

**Which fixed points the mean field describes (measured here).** The static equation is the
closure of a *typical* fixed point: its recurrent field ``U_h(r ⊙ h)`` is as large as that of a
vector independent of ``U_h`` (field ratio ``κ = 1``, :attr:`FoundFixedPoints.field_ratio`).
Step-capped Newton from random and trajectory starts also finds points along directions that
``U_h`` shrinks (κ < 1, a large deviation), whose ``q = mean(h²)`` lies below ``Δ_h``: at g_h = 3
(Δ_h = 0.380), N = 500, seeds 0-2, q = 0.267-0.342 with κ = 0.77-0.91, while the points with
κ = 0.97-1.05 (N = 250 and 500) have q = 0.35-0.41. With the measured field the single-site closure
holds again: q = ⟨tanh²(σ_a x)⟩ with the measured field variance σ_a² (within 0.02), and q is near the
static solution with ``g_h → g_h √κ`` (within 0.05 at N = 500, 0.06 at N = 250).
These points are more unstable (more eigenvalues outside the unit circle), i.e. carry a larger
Kac-Rice weight ``|det(1 - ∂h')|``; whether they are the most numerous fixed points, and whether the
spread of κ closes with N, is not settled (``benchmarks/theory_gru_fixed_point_q.py``).

Functions
---------
:func:`gru_static_solutions`
    All static solutions of one GRU with their stability index ``c``.
:func:`gru_fixed_point_diagram`
    The phase diagram over two GRU parameters, an ``xarray.Dataset``.
:func:`find_gru_fixed_points`
    Fixed points of finite networks by step-capped Newton (analytic Jacobian) from many starts.
:func:`nonzero_onset`
    Where nonzero solutions appear along one parameter (reset-bias and reset-gain lines).
:func:`fixed_point_spectrum`
    Predicted Jacobian support at a mean-field fixed point.
:func:`zero_fp_slow_fraction`, :func:`slow_fraction_prediction`
    Predicted fraction of Jacobian eigenvalues within ``ε`` of 1.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import torch
from scipy import optimize
from scipy.special import expit, logit, ndtr
from tqdm.auto import tqdm

from .models import GRU
from .simulate import jacobian, sample_network

__all__ = ["GRUStaticSolution", "gru_static_solutions", "gru_fixed_point_diagram", "FoundFixedPoints",
           "find_gru_fixed_points", "continue_fixed_points", "fixed_point_samples", "fixed_point_spectrum",
           "stability_index", "nonzero_onset", "zero_fp_slow_fraction", "slow_fraction_prediction", "PHASES"]

# standard-normal quadrature: trapezoid on a uniform grid (smooth integrands; widths >= 1/g_h)
_X = np.linspace(-9.0, 9.0, 1801)
_W = np.exp(-0.5 * _X ** 2)
_W /= _W.sum()

PHASES = ("zero only (stable)", "zero stable + nonzero (complexity)", "zero unstable, nonzero unstable",
          "nonzero stable")
"""Names of the integer ``phase`` codes of :func:`gru_fixed_point_diagram`."""


def _check_gru(model):
    if not isinstance(model, GRU):
        raise TypeError(f"model must be a neurolatent.theory.GRU, got {type(model).__name__}; "
                        "build one with GRU(g_z=..., g_r=..., g_h=..., b_z=..., b_r=..., b_h=...)")


def _moments(model: GRU, delta):
    """Per-Δ site moments at a fixed point: ⟨r²⟩, ⟨σ'(a_r)²⟩, ⟨tanh²⟩ = rhs, ⟨(1-h²)²⟩."""
    d = np.atleast_1d(np.asarray(delta, dtype=float))[:, None]
    r = expit(model.b_r + model.g_r * np.sqrt(d) * _X)
    r2 = (r ** 2) @ _W
    dr2 = ((r * (1 - r)) ** 2) @ _W
    h = np.tanh(model.b_h + model.g_h * np.sqrt(r2[:, None] * d) * _X)
    return r2, dr2, (h ** 2) @ _W, ((1 - h ** 2) ** 2) @ _W


def _rhs(model, delta):
    return _moments(model, delta)[2]


@dataclass
class GRUStaticSolution:
    """One static mean-field solution of the GRU.

    Attributes
    ----------
    delta_h : float
        :math:`\\Delta_h = \\langle h^2\\rangle` at the fixed point (0 for the zero fixed point).
    stability_index : float
        ``c`` of the module docstring (``ρ(T(1)) ≥ 1`` iff ``c ≥ 1``); stable iff ``c < 1``.
    stable : bool
    """

    delta_h: float
    stability_index: float
    stable: bool


def gru_static_solutions(model: GRU, n_grid: int = 200, delta_min: float = 1e-8) -> list:
    """All static mean-field solutions of a GRU, the zero solution first when it exists.

    Parameters
    ----------
    model : GRU
    n_grid : int
        Points of the geometric grid of Δ in ``[delta_min, 1]`` scanned for sign changes of
        ``F(Δ)/Δ`` (``F = rhs - Δ``; ``Δ_h ≤ 1`` since ``h = tanh``); roots refined by brentq.

    Returns
    -------
    list of GRUStaticSolution

    Examples
    --------
    >>> sols = gru_static_solutions(GRU(g_h=3.0))
    >>> [round(s.delta_h, 3) for s in sols], [s.stable for s in sols]
    ([0.0, 0.38], [False, False])
    """
    _check_gru(model)
    grid = np.geomspace(delta_min, 1.0, n_grid)
    F = _rhs(model, grid) / grid - 1.0
    roots = [0.0] if abs(float(_rhs(model, 0.0)[0])) < 1e-14 else []
    f = lambda d: float(_rhs(model, d)[0]) / d - 1.0  # noqa: E731
    for i in np.nonzero(np.sign(F[:-1]) != np.sign(F[1:]))[0]:
        roots.append(optimize.brentq(f, grid[i], grid[i + 1], xtol=1e-14, rtol=1e-12))
    out = []
    for d in roots:
        c = float(stability_index(model, d)[0])
        out.append(GRUStaticSolution(float(d), c, bool(c < 1)))
    return out


def stability_index(model: GRU, delta):
    """``c(Δ) = g_h² (⟨r²⟩ + g_r² Δ ⟨σ'(a_r)²⟩) ⟨(1-h²)²⟩`` (module docstring); stable iff < 1."""
    r2, dr2, _, dphi2 = _moments(model, delta)
    return model.g_h ** 2 * (r2 + model.g_r ** 2 * np.atleast_1d(np.asarray(delta, dtype=float)) * dr2) * dphi2


def _gate_offset(model):
    """``w = σ(s · a_z)`` with ``s = +1`` (update="new") or ``-1`` ("old"): returns s."""
    return 1.0 if model.update == "new" else -1.0


def zero_fp_slow_fraction(model: GRU, eps: float) -> float:
    """Fraction of the zero fixed point's eigenvalues within ``eps`` of 1 (circular law).

    The spectrum is uniform on the disk of centre ``1 - s_w``, radius ``R = s_w g_h σ(b_r)``;
    the fraction is the area of its intersection with the disk ``|λ - 1| < eps`` over ``πR²``.

    Examples
    --------
    >>> round(zero_fp_slow_fraction(GRU(g_h=1.0, b_z=-8.0), 0.05), 3)   # gate closed: all slow
    1.0
    """
    _check_gru(model)
    s = float(expit(_gate_offset(model) * model.b_z))
    R, d = s * model.g_h * float(expit(model.b_r)), s
    if R <= 0:
        return float(d < eps)
    if d >= R + eps:
        return 0.0
    if d <= abs(R - eps):
        return min(R, eps) ** 2 / R ** 2
    a1 = R ** 2 * np.arccos((d ** 2 + R ** 2 - eps ** 2) / (2 * d * R))
    a2 = eps ** 2 * np.arccos((d ** 2 + eps ** 2 - R ** 2) / (2 * d * eps))
    a3 = 0.5 * np.sqrt(max((-d + R + eps) * (d + R - eps) * (d - R + eps) * (d + R + eps), 0.0))
    return float((a1 + a2 - a3) / (np.pi * R ** 2))


def slow_fraction_prediction(model: GRU, delta_h: float, eps: float) -> float:
    """Predicted fraction of eigenvalues within ``eps`` of 1 at a fixed point of variance ``delta_h``.

    Zero fixed point (``delta_h == 0``): :func:`zero_fp_slow_fraction`. Otherwise the fraction
    of local eigenvalues ``1 - w_i`` within ``eps`` of 1, ``P(w < eps) =
    Φ((logit(eps) - s b_z)/(g_z √Δ_h))`` with ``s = ±1`` the update convention.
    """
    _check_gru(model)
    if delta_h <= 0:
        return zero_fp_slow_fraction(model, eps)
    sd = model.g_z * np.sqrt(delta_h)
    mu = _gate_offset(model) * model.b_z
    if sd == 0:
        return float(expit(mu) < eps)
    return float(ndtr((logit(eps) - mu) / sd))


def nonzero_onset(model: GRU, param: str, lo: float, hi: float, tol: float = 1e-4, n_grid: int = 200) -> float:
    """Value of one GRU parameter at which nonzero static solutions appear, by bisection.

    Assumes none exist at ``param = lo`` and some at ``hi`` (checked; ``ValueError`` otherwise).
    With ``param="b_r"`` and a small reset gain this is the continuous line
    ``b_r* = logit(1/g_h)``; with ``param="g_r"`` at ``g_h < 2`` it is the saddle-node
    (discontinuous) line ``g_r*(g_h)``, which tends to ``2√2`` as ``g_h → 2`` (module docstring).

    Examples
    --------
    >>> round(nonzero_onset(GRU(g_h=3.0), "b_r", -3.0, 1.0), 3)   # logit(1/3) = -0.693
    -0.693
    """
    _check_gru(model)
    has = lambda v: any(s.delta_h > 0 for s in gru_static_solutions(  # noqa: E731
        dataclasses.replace(model, **{param: float(v)}), n_grid=n_grid))
    if has(lo) or not has(hi):
        raise ValueError(f"nonzero_onset needs no nonzero solution at {param}={lo} and one at {param}={hi}; "
                         "widen or swap the bracket")
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if has(mid) else (mid, hi)
    return 0.5 * (lo + hi)


def fixed_point_samples(model: GRU, delta_h: float, n: int = 4000, seed: int = 0) -> dict:
    """Site samples ``{h, az, ar, ah}`` (``n`` each) of a mean-field fixed point of variance ``delta_h``.

    ``a_r ~ N(b_r, g_r² Δ)``, ``a_h ~ N(b_h, g_h² ⟨r²⟩ Δ)``, ``h = tanh(a_h)``, ``a_z ~ N(b_z, g_z² Δ)``,
    all independent (large N); the input format of :func:`jacobian_spectrum`.
    """
    _check_gru(model)
    rng = np.random.default_rng(seed)
    d = float(delta_h)
    r2 = float(_moments(model, d)[0][0])
    ah = model.b_h + model.g_h * np.sqrt(r2 * d) * rng.standard_normal(n)
    return {"h": np.tanh(ah), "ah": ah, "ar": model.b_r + model.g_r * np.sqrt(d) * rng.standard_normal(n),
            "az": model.b_z + model.g_z * np.sqrt(d) * rng.standard_normal(n)}


def fixed_point_spectrum(model: GRU, delta_h: float, eps: float = 0.05, n: int = 4000, seed: int = 0,
                         n_angles: int = 32):
    """Predicted Jacobian support at a mean-field fixed point (:func:`jacobian_spectrum` on
    :func:`fixed_point_samples`): ``.spectral_radius`` (stable iff < 1), ``.rightmost``, ``.boundary``.

    Examples
    --------
    >>> p = fixed_point_spectrum(GRU(g_h=1.0, b_h=1.0), gru_static_solutions(GRU(g_h=1.0, b_h=1.0))[0].delta_h)
    >>> bool(p.spectral_radius < 1)
    True
    """
    from .spectrum import jacobian_spectrum

    return jacobian_spectrum(model, samples=fixed_point_samples(model, delta_h, n, seed), eps=eps,
                             n_samples=n, n_angles=n_angles, seed=seed)


def gru_fixed_point_diagram(model: GRU, axes: dict, eps: float = 0.05, n_grid: int = 200,
                            max_branches: int = 3, spectra: bool = False, progress: bool = False,
                            callback=None):
    """Mean-field phase diagram of the GRU's fixed points over two of its parameters.

    Parameters
    ----------
    model : GRU
        Base model; the two parameters named in ``axes`` are replaced grid point by grid point.
    axes : dict
        ``{name: values}`` for exactly two GRU parameters (e.g. ``{"b_r": ..., "g_r": ...}``).
    eps : float
        Radius around λ = 1 for the slow-mode fractions.
    max_branches : int
        Nonzero solutions kept per point (sorted by Δ_h; more raise ``RuntimeError``).
    spectra : bool
        Also predict the spectral radius of each nonzero branch (:func:`fixed_point_spectrum`
        with 1000 site samples; ~0.5 s per branch). Stability itself never needs it (``c < 1``).
    progress, callback
        tqdm bar; ``callback(index, solutions)`` after each point.

    Returns
    -------
    xarray.Dataset
        Dims ``(axis0, axis1)`` named after the parameters, and ``branch`` for nonzero solutions.
        Variables: ``n_solutions``, ``n_nonzero``, ``phase`` (codes of :data:`PHASES`),
        ``zero_exists``, ``zero_stability_index`` (``g_h σ(b_r)`` squared), ``zero_rightmost``
        (rightmost eigenvalue of the zero point), ``zero_slow_fraction``, ``delta_h``,
        ``stability_index``, ``stable``, ``slow_fraction``, ``spectral_radius`` (per branch, NaN
        where absent or not computed).
        Attrs carry the base model's parameters.

    Examples
    --------
    >>> ds = gru_fixed_point_diagram(GRU(g_h=1.8), {"b_r": [0.0, 2.0], "g_r": [1.0, 12.0]})
    >>> ds.n_nonzero.values.tolist()   # g_r = 12: a saddle-node pair while zero is still stable
    [[0, 2], [1, 1]]
    >>> ds.phase.values.tolist()
    [[0, 1], [2, 2]]
    """
    import xarray as xr

    _check_gru(model)
    names = list(axes)
    fields = {f.name for f in dataclasses.fields(GRU)} - {"update"}
    if len(names) != 2 or any(n not in fields for n in names):
        raise ValueError(f"axes must name exactly two GRU parameters among {sorted(fields)}, got {names}")
    vals = [np.asarray(axes[n], dtype=float).ravel() for n in names]
    shape = (len(vals[0]), len(vals[1]))
    out = {k: np.full(shape, np.nan) for k in ("zero_stability_index", "zero_rightmost", "zero_slow_fraction")}
    n_sol = np.zeros(shape, int)
    n_nz = np.zeros(shape, int)
    phase = np.zeros(shape, int)
    zero_exists = np.zeros(shape, bool)
    br = {k: np.full(shape + (max_branches,), np.nan)
          for k in ("delta_h", "stability_index", "slow_fraction", "spectral_radius")}
    stable = np.zeros(shape + (max_branches,), bool)
    idx = [(i, j) for i in range(shape[0]) for j in range(shape[1])]
    for i, j in tqdm(idx, disable=not progress, desc="GRU fixed points"):
        m = dataclasses.replace(model, **{names[0]: vals[0][i], names[1]: vals[1][j]})
        sols = gru_static_solutions(m, n_grid=n_grid)
        nz = [s for s in sols if s.delta_h > 0]
        if len(nz) > max_branches:
            raise RuntimeError(f"{len(nz)} nonzero static solutions at {m!r}; raise max_branches")
        n_sol[i, j], n_nz[i, j] = len(sols), len(nz)
        zero = [s for s in sols if s.delta_h == 0]
        if zero:
            zero_exists[i, j] = True
            sw = float(expit(_gate_offset(m) * m.b_z))
            out["zero_stability_index"][i, j] = zero[0].stability_index
            out["zero_rightmost"][i, j] = 1 - sw + sw * m.g_h * float(expit(m.b_r))
            out["zero_slow_fraction"][i, j] = zero_fp_slow_fraction(m, eps)
        for k, s in enumerate(nz):
            br["delta_h"][i, j, k], br["stability_index"][i, j, k] = s.delta_h, s.stability_index
            br["slow_fraction"][i, j, k] = slow_fraction_prediction(m, s.delta_h, eps)
            if spectra:
                br["spectral_radius"][i, j, k] = fixed_point_spectrum(m, s.delta_h, eps, n=1000,
                                                                      n_angles=16).spectral_radius
            stable[i, j, k] = s.stable
        zero_stable = bool(zero and zero[0].stable)
        if any(s.stable for s in nz):
            phase[i, j] = 3
        elif nz:
            phase[i, j] = 1 if zero_stable else 2
        else:
            phase[i, j] = 0 if zero_stable else 2
        if callback is not None:
            callback((i, j), sols)
    dims, bdims = tuple(names), tuple(names) + ("branch",)
    from ._cf import annotate, model_attrs

    coords = {n: (n, v) for n, v in zip(names, vals)}
    coords["branch"] = ("branch", np.arange(max_branches))
    flags = {"flag_values": list(range(len(PHASES))), "flag_meanings": " | ".join(PHASES)}
    table = {**{n: ("1", f"GRU parameter {n}") for n in names},
             "branch": ("1", "nonzero solution (by Δ_h)"),
             "phase": ("1", "phase code", flags),
             "zero_slow_fraction": ("1", f"fraction of eigenvalues within {eps} of 1, zero FP"),
             "slow_fraction": ("1", f"predicted fraction of eigenvalues within {eps} of 1")}
    ds = xr.Dataset({
        "n_solutions": (dims, n_sol), "n_nonzero": (dims, n_nz), "phase": (dims, phase),
        "zero_exists": (dims, zero_exists), "zero_stability_index": (dims, out["zero_stability_index"]),
        "zero_rightmost": (dims, out["zero_rightmost"]), "zero_slow_fraction": (dims, out["zero_slow_fraction"]),
        "delta_h": (bdims, br["delta_h"]), "stability_index": (bdims, br["stability_index"]),
        "stable": (bdims, stable), "slow_fraction": (bdims, br["slow_fraction"]),
        "spectral_radius": (bdims, br["spectral_radius"]),
    }, coords=coords)
    return annotate(ds, {**_TABLE, **table}, **model_attrs(model, skip=names), model="GRU", eps=float(eps),
                    n_grid=int(n_grid), spectra=int(spectra),
                    reference="Can, Krishnamurthy & Schwab, MSML 2020 (arXiv 2002.00025)")


# units and long names of the GRU fixed-point diagram (the shared ones are in _cf.VARIABLES)
_TABLE = {
    "n_solutions": ("1", "number of static mean-field solutions"),
    "n_nonzero": ("1", "number of nonzero static solutions"),
    "zero_exists": ("1", "the zero fixed point exists (b_h = 0)"),
    "zero_stability_index": ("1", "(g_h sigma(b_r))^2 at the zero fixed point"),
    "zero_rightmost": ("1", "rightmost Jacobian eigenvalue at the zero fixed point"),
    "delta_h": ("1", "variance of h at the nonzero fixed point, Delta_h"),
    "stability_index": ("1", "rho(T(1)) criterion c; stable iff c < 1"),
    "stable": ("1", "nonzero fixed point predicted stable"),
    "spectral_radius": ("1", "predicted spectral radius of the Jacobian"),
}


@dataclass
class FoundFixedPoints:
    """Distinct fixed points of one finite GRU found by root finding.

    Attributes
    ----------
    states : ndarray ``(K, N)``
        The fixed points, sorted by ``q``.
    q : ndarray ``(K,)``
        ``mean(h²)`` of each (compare with the mean-field ``Δ_h``).
    residual : ndarray ``(K,)``
        ``max |h - h̃(h)|`` at each.
    eigenvalues : ndarray complex ``(K, N)``
        Eigenvalues of the map's Jacobian at each fixed point.
    n_starts, n_converged : int
        Starts tried and how many converged (before deduplication).
    network : Network
    """

    states: np.ndarray
    q: np.ndarray
    residual: np.ndarray
    eigenvalues: np.ndarray
    n_starts: int
    n_converged: int
    network: object

    @property
    def spectral_radius(self) -> np.ndarray:
        """``max |λ|`` per fixed point (stable iff < 1)."""
        return np.abs(self.eigenvalues).max(axis=1) if len(self.q) else np.zeros(0)

    @property
    def field_ratio(self) -> np.ndarray:
        r"""Field ratio :math:`\kappa = \overline{(a_h - b_h)^2} / (g_h^2\, \overline{(r\odot h)^2})` per
        fixed point, :math:`a_h = U_h(r\odot h) + b_h` (overlines: averages over the N units).

        The mean-field closure assumes the recurrent field of a fixed point is as large as that of a
        vector independent of ``U_h`` (κ = 1 up to :math:`O(\sqrt{2/N})`). Root finding also finds
        fixed points along directions that ``U_h`` shrinks (κ < 1, a large deviation); their ``q``
        is the static solution with ``g_h`` replaced by ``g_h √κ`` (module docstring). ``nan`` for
        the zero fixed point.

        Examples
        --------
        >>> fp = find_gru_fixed_points(GRU(g_h=1.5), N=60, n_starts=2)
        >>> bool(np.isnan(fp.field_ratio).all())   # only the zero fixed point
        True
        """
        if not len(self.q):
            return np.zeros(0)
        m = self.network.model
        Ur, Uh = self.network.weights["Ur"][0].numpy(), self.network.weights["Uh"][0].numpy()
        v = self.states * expit(self.states @ Ur.T + m.b_r)
        num, den = np.mean((v @ Uh.T) ** 2, axis=1), m.g_h ** 2 * np.mean(v ** 2, axis=1)
        out = np.full(len(self.q), np.nan)
        ok = den > 1e-300
        out[ok] = num[ok] / den[ok]
        return out

    def slow_fraction(self, eps: float) -> np.ndarray:
        """Fraction of eigenvalues within ``eps`` of 1, per fixed point."""
        return np.mean(np.abs(self.eigenvalues - 1) < eps, axis=1) if len(self.q) else np.zeros(0)

    def with_model(self, model: GRU) -> "FoundFixedPoints":
        """The same fixed points in the network with other update-gate parameters (``b_z``, ``g_z``,
        ``update``): the fixed points do not move, only their Jacobian eigenvalues are recomputed."""
        _check_gru(model)
        old = self.network.model
        if any(getattr(model, k) != getattr(old, k) for k in ("g_r", "g_h", "b_r", "b_h")):
            raise ValueError("with_model may change only g_z, b_z and update (the fixed points depend on "
                             f"g_r, g_h, b_r, b_h); got {model!r} for a network of {old!r}")
        W = dict(self.network.weights)
        if old.g_z > 0:
            W["Uz"] = W["Uz"] * (model.g_z / old.g_z)
        elif model.g_z > 0:
            raise ValueError("cannot rescale U_z from g_z = 0; sample the network with g_z > 0")
        net = dataclasses.replace(self.network, model=model, weights=W)
        return dataclasses.replace(self, eigenvalues=_eigs(net, self.states), network=net)


def _eigs(net, states):
    if len(states) == 0:
        return np.zeros((0, net.N), complex)
    x = torch.as_tensor(states, dtype=torch.float64)
    one = dataclasses.replace(net, weights={k: v[:1].expand(len(states), -1, -1) for k, v in net.weights.items()},
                              seeds=tuple(net.seeds[:1]) * len(states))
    return torch.linalg.eigvals(jacobian(one, x)).numpy()


def _residual(model: GRU, net):
    """``G(h) = h - h̃(h)`` and its Jacobian for the (single) network ``net`` with ``model``'s biases."""
    Ur = net.weights["Ur"][0].numpy()
    Uh = net.weights["Uh"][0].numpy()
    eye = np.eye(net.N)

    def G(h):
        r = expit(Ur @ h + model.b_r)
        ht = np.tanh(Uh @ (r * h) + model.b_h)
        return h - ht, r, ht

    def DG(h, r, ht):
        inner = np.diag(r) + (h * r * (1 - r))[:, None] * Ur
        return eye - (1 - ht ** 2)[:, None] * (Uh @ inner)

    return G, DG


def _newton(G, DG, h, max_step, tol, max_iter):
    """Step-capped Newton; returns ``(h, converged)``."""
    h = h.copy()
    g, r, ht = G(h)
    for _ in range(max_iter):
        if not np.abs(g).max() >= tol:  # converged (or NaN: stop)
            break
        try:
            d = np.linalg.solve(DG(h, r, ht), -g)
        except np.linalg.LinAlgError:
            break
        size = np.linalg.norm(d) / np.sqrt(len(h))
        h = h + (d * (max_step / size) if size > max_step else d)
        g, r, ht = G(h)
    return h, bool(np.abs(g).max() < tol)


def find_gru_fixed_points(model: GRU, N: int, seed: int = 0, n_starts: int = 30, init_stds=(0.3, 0.6),
                          from_trajectory: bool = True, max_step: float = 0.15, tol: float = 1e-10,
                          max_iter: int = 200, dedup_tol: float = 1e-4, include_zero: bool = True,
                          progress: bool = False, callback=None) -> FoundFixedPoints:
    """Fixed points of one random GRU of ``N`` units by step-capped Newton from many starts.

    Solves ``G(h) = h - tanh(U_h(r ⊙ h) + b_h) = 0`` (``r = σ(U_r h + b_r)``; the update gate
    drops out) with the analytic Jacobian
    ``∂G = I - diag(1-h̃²) U_h [diag(r) + diag(h σ'(a_r)) U_r]``. Each Newton step solves
    ``∂G δ = -G`` and is shortened to RMS length ``max_step`` (a crude trust region). Tried
    here at N = 500, g_h = 3: plain Newton from random starts wanders without converging;
    backtracking on ``|G|`` and Levenberg–Marquardt stall at slow points (local minima of
    ``|G|``) or fall to near-zero fixed points; ``max_step = 0.15`` converged in about half of
    the starts to nonzero fixed points. Points
    with ``max|G| < tol`` closer than ``dedup_tol·√N`` (Euclidean) are merged.

    Parameters
    ----------
    model : GRU
    N : int
    seed : int
        Network seed (as :func:`sample_network`); the starts use ``seed + 1``.
    n_starts : int
        Number of starts besides zero. Half (``from_trajectory``) are states of the map's own
        trajectory from a random state (every 20 steps after 100), the rest Gaussian with the
        standard deviations ``init_stds`` in turn.
    include_zero : bool
        Also start at ``h = 0`` (the zero fixed point when ``b_h = 0``).

    Returns
    -------
    FoundFixedPoints

    Examples
    --------
    >>> fp = find_gru_fixed_points(GRU(g_h=1.5), N=60, n_starts=4)
    >>> fp.q.round(8).tolist()   # only the zero fixed point below g_h σ(b_r) = 1
    [0.0]
    """
    from .simulate import step

    _check_gru(model)
    net = sample_network(model, N, [seed], dtype=torch.float64)
    G, DG = _residual(model, net)

    rng = np.random.default_rng(seed + 1)
    n_traj = n_starts // 2 if from_trajectory else 0
    starts = [np.zeros(N)] if include_zero else []
    x = torch.as_tensor(rng.standard_normal((1, N)))
    for t in range(100 + 20 * n_traj):
        x = step(net, x)
        if t >= 100 and (t - 100) % 20 == 0:
            starts.append(x[0].numpy().copy())
    starts += [init_stds[k % len(init_stds)] * rng.standard_normal(N) for k in range(n_starts - n_traj)]
    found, n_conv = [], 0
    for k, h in enumerate(tqdm(starts, disable=not progress, desc="Newton starts")):
        h, ok = _newton(G, DG, h, max_step, tol, max_iter)
        if ok:
            n_conv += 1
            if not any(np.linalg.norm(h - f) < dedup_tol * np.sqrt(N) for f in found):
                found.append(h)
        if callback is not None:
            callback(k, h)
    states = np.array(sorted(found, key=lambda v: float(np.mean(v ** 2)))).reshape(-1, N)
    res = np.array([np.abs(G(h)[0]).max() for h in states])
    return FoundFixedPoints(states, np.mean(states ** 2, axis=1), res, _eigs(net, states), len(starts), n_conv, net)


def continue_fixed_points(found: FoundFixedPoints, models, max_step: float = 0.15, tol: float = 1e-10,
                          max_iter: int = 60) -> list:
    """Follow found fixed points along a path of models (natural-parameter continuation).

    The network keeps its standard-normal weight draws; each model rescales them by its gains
    (as :func:`sample_network` with the same seed does) and takes its biases. At every model the
    previous solutions are corrected by Newton, halving the parameter step (up to 2⁶ substeps)
    where Newton fails; a branch that still fails (a fold) or merges with another is dropped.

    Parameters
    ----------
    found : FoundFixedPoints
    models : sequence of GRU
        The path, e.g. ``[GRU(g_h=g, g_r=20) for g in np.linspace(2.5, 1.9, 13)]``.

    Returns
    -------
    list of FoundFixedPoints, one per model (``n_starts`` = branches carried in).

    Examples
    --------
    >>> fp = find_gru_fixed_points(GRU(g_h=1.5), N=40, n_starts=2)
    >>> [len(f.q) for f in continue_fixed_points(fp, [GRU(g_h=1.4), GRU(g_h=1.3)])]
    [1, 1]
    """
    base = found.network
    old = base.model

    def network(m):
        _check_gru(m)
        W = {}
        for name, gain in (("Uz", "g_z"), ("Ur", "g_r"), ("Uh", "g_h")):
            g_old, g_new = getattr(old, gain), getattr(m, gain)
            if g_old == 0 and g_new != 0:
                raise ValueError(f"cannot continue from {gain} = 0 (the weights are zero); start from {gain} > 0")
            W[name] = base.weights[name] * (g_new / g_old if g_old else 0.0)
        return dataclasses.replace(base, model=m, weights=W)

    fields = ("g_z", "g_r", "g_h", "b_z", "b_r", "b_h")

    def track(h, m0, m1, depth):
        """Newton at m1 from h (solution at m0); on failure, go through the midpoint (<= 2^6 substeps)."""
        G, DG = _residual(m1, network(m1))
        h1, ok = _newton(G, DG, h, max_step, tol, max_iter)
        if ok or depth == 0:
            return h1, ok
        mid = dataclasses.replace(m1, **{f: 0.5 * (getattr(m0, f) + getattr(m1, f)) for f in fields})
        hm, ok = track(h, m0, mid, depth - 1)
        return track(hm, mid, m1, depth - 1) if ok else (hm, False)

    states, out, prev = found.states, [], old
    for m in models:
        net = network(m)
        G, _ = _residual(m, net)
        kept = []
        for h0 in states:
            h, ok = track(h0, prev, m, 6)
            if ok and not any(np.linalg.norm(h - f) < 1e-4 * np.sqrt(net.N) for f in kept):
                kept.append(h)
        n_in = len(states)
        states = np.array(kept).reshape(-1, net.N)
        res = np.array([np.abs(G(h)[0]).max() for h in states])
        out.append(FoundFixedPoints(states, np.mean(states ** 2, axis=1), res, _eigs(net, states), n_in,
                                    len(states), net))
        prev = m
    return out
