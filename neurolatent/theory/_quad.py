"""Gaussian averages for the mean-field equations (float64 numpy/scipy).

Why not Gauss–Hermite: at large gain the integrands (``tanh``, ``tanh'``, sigmoid gates) vary
on a scale ``~1/g`` much narrower than the standard deviation ``sqrt(Δ0)`` of their argument, and
Gauss–Hermite with ~100 nodes then mis-weights them (the notes measured the failure for
``g >~ 5``). Here every average is a trapezoid sum on a *uniform grid in the argument* ``u`` with
spacing a tenth of the function's own scale (spectrally accurate for these analytic functions),
and the pair averages

.. math:: C_f(c) = E[f(a) f(b)],\\quad (a, b) \\sim N\\Big(0, \\begin{pmatrix} v & c \\\\ c & v\\end{pmatrix}\\Big)
          = \\int Dz\\, f_s(\\sqrt{c} z)^2,\\qquad f_s = f * N(0, v - c)

are computed by Gaussian smoothing of ``f`` on that grid (batched FFT convolution with edge
padding, valid because every ``f`` used here is constant at ``±∞``), tabulated at Chebyshev
nodes in ``c ∈ [-v, v]`` (dense near ``±v``, where ``C_f`` is steepest) and interpolated with a
cubic spline. ``tests/theory/test_quad.py`` checks them against ``scipy.integrate.dblquad``.
"""
from __future__ import annotations

import numpy as np
from scipy.interpolate import CubicSpline

__all__ = ["gauss_mean", "PairTable"]


def _grid(var: float, scale: float, width: float = 9.0, pad: float = 0.0):
    sd = np.sqrt(max(var, 0.0))
    du = min(scale / 10.0, sd / 20.0) if sd > 0 else scale / 10.0
    R = width * sd + 10 * du + pad
    n = int(np.ceil(R / du))
    return np.arange(-n, n + 1) * du, du


def gauss_mean(f, var: float, scale: float, mean: float = 0.0) -> float:
    """:math:`E f(a)`, :math:`a \\sim N(mean, var)`, by the trapezoid rule on a uniform grid."""
    if var <= 0:
        return float(f(np.array([mean]))[0])
    u, _ = _grid(var, scale)
    w = np.exp(-0.5 * u ** 2 / var)
    return float(np.sum(w * f(u + mean)) / np.sum(w))


class PairTable:
    """Spline of :math:`c \\mapsto E[f(a)f(b)]` for ``var(a) = var(b) = var``, ``cov(a,b) = c``.

    Parameters
    ----------
    f : callable
        Vectorised function, constant (saturating) at ``±∞``.
    var : float
        Common variance ``v`` (>= 0).
    scale : float
        Length scale over which ``f`` varies (e.g. ``1/g`` for ``tanh(g x)``).
    n_nodes : int
        Chebyshev nodes of the table.

    Examples
    --------
    >>> t = PairTable(np.tanh, 2.0, 1.0)
    >>> round(float(t(0.0)), 12)   # E[tanh a] E[tanh b] = 0
    0.0
    """

    def __init__(self, f, var: float, scale: float, n_nodes: int = 161, mean: float = 0.0):
        self.var = float(max(var, 0.0))
        if self.var < 1e-14:
            val = float(f(np.array([mean]))[0]) ** 2
            self._const = val
            return
        self._const = None
        v = self.var
        u, du = _grid(v, scale, pad=9 * np.sqrt(v))
        fu = f(u + mean)
        k = np.arange(n_nodes)
        c = -v * np.cos(np.pi * k / (n_nodes - 1))  # Chebyshev–Lobatto nodes in [-v, v]
        s2 = np.clip(v - np.abs(c), 0.0, None)
        # batched Gaussian smoothing in Fourier space on an edge-padded grid
        npad = len(u)
        ext = np.concatenate([np.full(npad, fu[0]), fu, np.full(npad, fu[-1])])
        L = len(ext)
        freq = 2 * np.pi * np.fft.rfftfreq(L, d=du)
        F = np.fft.rfft(ext)
        fs = np.fft.irfft(F[None, :] * np.exp(-0.5 * s2[:, None] * freq[None, :] ** 2), n=L)[:, npad:npad + len(u)]
        ac = np.abs(c)
        vals = np.empty(n_nodes)
        wide = np.sqrt(ac) > 3 * du
        # outer average over m ~ N(0, |c|) on the same grid (symmetric grid: fs[::-1] is f_s(-m))
        for j in np.nonzero(wide)[0]:
            w = np.exp(-0.5 * u ** 2 / ac[j])
            other = fs[j] if c[j] >= 0 else fs[j][::-1]
            vals[j] = np.sum(w * fs[j] * other) / np.sum(w)
        xg, wg = np.polynomial.hermite_e.hermegauss(30)
        wg = wg / wg.sum()
        for j in np.nonzero(~wide)[0]:
            m = np.sqrt(ac[j]) * xg
            a = np.interp(m, u, fs[j])
            b = np.interp(np.sign(c[j]) * m if c[j] != 0 else m, u, fs[j])
            vals[j] = np.sum(wg * a * b)
        self.nodes, self.values = c, vals
        self._spline = CubicSpline(c, vals)

    def __call__(self, c):
        c = np.asarray(c, dtype=float)
        if self._const is not None:
            return np.full_like(c, self._const)
        return self._spline(np.clip(c, -self.var, self.var))
