"""Time-independent (fixed-point) mean-field theory: the static solutions and their stability.

At a fixed point of the gated RNN σ_z drops out (it is positive), so the z gate plays no part in
where fixed points are (notes §1.2, re-derived): with ``h = J^h(σ_r(r) φ(h))`` and
``r = J^r φ(h)``,

.. math:: \\Delta_h = \\langle\\sigma_r(r)^2\\rangle_{r\\sim N(0,\\Delta_r)}\\,\\Delta_r,
          \\qquad \\Delta_r = \\langle\\phi(h)^2\\rangle_{h\\sim N(0,\\Delta_h)}.

SCS: :math:`\\Delta = g^2\\langle\\tanh^2\\rangle_\\Delta`. GRU (h = h̃ at a fixed point):
:math:`\\Delta_h = \\langle\\tanh^2(\\sqrt{g_h^2\\langle r^2\\rangle\\Delta_h}\\,x + b_h)\\rangle`,
:math:`r = \\sigma(b_r + g_r\\sqrt{\\Delta_h} y)`.

Solutions are found as sign changes of :math:`F(\\Delta)/\\Delta` on a geometric grid, refined by
brentq. Small-Δ expansion (derived, β = 0): :math:`F(\\Delta) \\approx (g_h^2/4 - 1)\\Delta +
g_h^4(\\alpha_r^2/16 - 1/2)\\Delta^2`, so at g_h = 2 the nonzero branch appears continuously for
α_r < 2√2 and discontinuously (saddle-node, ``tests/theory/test_fixed_points.py``) above.
Stability of each solution is judged by the predicted rightmost edge of its Jacobian support
(:func:`jacobian_spectrum` with the static single-site distribution).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import optimize
from scipy.special import expit  # the logistic gate without overflow at large |alpha_r x|

from ._quad import gauss_mean
from .models import GRU, GatedRNN, VanillaRNN

__all__ = ["StaticSolution", "fixed_point_dmft", "static_residual"]


@dataclass
class StaticSolution:
    """One static mean-field solution: variances, predicted rightmost Jacobian edge, stability."""

    delta_h: float
    delta_r: float
    rightmost: float
    stable: bool | None


def static_residual(model, delta: float) -> float:
    """:math:`F(\\Delta) = \\text{rhs}(\\Delta) - \\Delta` of the static equation (see module docstring)."""
    if isinstance(model, VanillaRNN):
        return model.g ** 2 * gauss_mean(lambda x: np.tanh(x) ** 2, delta, 1.0) - delta
    if isinstance(model, GatedRNN):
        m = model
        dr = gauss_mean(lambda x: np.tanh(m.g_h * x + m.beta_h) ** 2, delta, 1 / max(m.g_h, 1e-3))
        s2 = gauss_mean(lambda x: expit(m.alpha_r * x + m.gate_offset("r")) ** 2, dr,
                        1 / max(m.alpha_r, 1e-3))
        return s2 * dr - delta
    if isinstance(model, GRU):
        m = model
        r2 = gauss_mean(lambda x: (1 / (1 + np.exp(-x))) ** 2, m.g_r ** 2 * delta, 1.0, mean=m.b_r)
        return gauss_mean(lambda x: np.tanh(x) ** 2, m.g_h ** 2 * r2 * delta, 1.0, mean=m.b_h) - delta
    raise TypeError(f"fixed_point_dmft supports VanillaRNN, GatedRNN and GRU, got {type(model).__name__}")


def _delta_r(model, dh):
    if isinstance(model, GatedRNN):
        return gauss_mean(lambda x: np.tanh(model.g_h * x + model.beta_h) ** 2, dh, 1 / max(model.g_h, 1e-3))
    return dh


def fixed_point_dmft(model, n_grid: int = 160, delta_min: float = 1e-7, stability: bool = True) -> list:
    """All static mean-field solutions (the zero solution first when it exists).

    Parameters
    ----------
    model : VanillaRNN, GatedRNN or GRU
    n_grid : int
        Points of the geometric Δ grid scanned for sign changes.
    stability : bool
        Also predict each solution's rightmost Jacobian edge (slower).

    Returns
    -------
    list of StaticSolution

    Examples
    --------
    >>> from neurolatent.theory import GatedRNN
    >>> sols = fixed_point_dmft(GatedRNN(1.8, alpha_r=30.0), stability=False)
    >>> len(sols) >= 2   # zero plus the nonzero branch born at large alpha_r
    True
    """
    bound = model.g ** 2 + 1 if isinstance(model, VanillaRNN) else 1.5
    grid = np.geomspace(delta_min, bound, n_grid)
    F = np.array([static_residual(model, d) / d for d in grid])
    roots = []
    zero_ok = abs(static_residual(model, 0.0)) < 1e-14
    if zero_ok:
        roots.append(0.0)
    for i in np.nonzero(np.sign(F[:-1]) != np.sign(F[1:]))[0]:
        roots.append(optimize.brentq(lambda d: static_residual(model, d) / d, grid[i], grid[i + 1], xtol=1e-13))
    if not zero_ok and len(roots) == 0:
        raise RuntimeError(f"no static solution found for {model!r} in [{delta_min}, {bound}]")
    out = []
    for d in roots:
        dr = _delta_r(model, d)
        edge, stable = float("nan"), None
        if stability:
            edge, stable = _stability(model, d, dr)
        out.append(StaticSolution(float(d), float(dr), edge, stable))
    return out


def _stability(model, dh, dr, n=2000, seed=0):
    from .spectrum import jacobian_spectrum

    rng = np.random.default_rng(seed)
    if isinstance(model, VanillaRNN):
        s = {"x": np.sqrt(dh) * rng.standard_normal(n)}
    elif isinstance(model, GatedRNN):
        h = np.sqrt(dh) * rng.standard_normal(n)
        s = {"h": h, "eta": h, "z": np.sqrt(dr) * rng.standard_normal(n), "r": np.sqrt(dr) * rng.standard_normal(n)}
    else:  # GRU at a fixed point: h = tanh(a_h); a_z, a_r, a_h Gaussian
        m = model
        ar = m.b_r + m.g_r * np.sqrt(dh) * rng.standard_normal(n)
        r2 = np.mean(1 / (1 + np.exp(-ar)) ** 2)
        ah = m.b_h + m.g_h * np.sqrt(r2 * dh) * rng.standard_normal(n)
        s = {"h": np.tanh(ah), "ah": ah, "ar": ar, "az": m.b_z + m.g_z * np.sqrt(dh) * rng.standard_normal(n)}
    p = jacobian_spectrum(model, samples=s, n_angles=16)
    if model.kind == "map":
        return p.spectral_radius, bool(p.spectral_radius < 1)
    return p.real_edges[1], bool(p.real_edges[1] < 0)
