"""Shared pieces of the DMFT routes: the result and error types and small single-site helpers.

Split out of :mod:`neurolatent.theory.dmft` (which re-exports every name) so that the sampling route
(:mod:`neurolatent.theory._dmft_sampling`) and the closed-form routes share them without a cycle.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import xarray as xr
from scipy.special import expit

from .models import GatedRNN


class DMFTConvergenceError(RuntimeError):
    """The DMFT iteration did not reach ``tol``; ``.residual``, ``.n_iter`` and ``.result`` say how far."""

    def __init__(self, message: str, residual: float, n_iter: int, result: "DMFTResult"):
        super().__init__(message)
        self.residual, self.n_iter, self.result = residual, n_iter, result


@dataclass
class DMFTResult:
    """Solution of the stationary DMFT.

    Attributes
    ----------
    model : VanillaRNN or GatedRNN
    tau : ndarray ``(n,)``
        Lags (time units of the model), starting at 0.
    autocorrelation : ndarray ``(n,)``
        :math:`C(\\tau)` of the main variable (x for SCS, h for the gated RNN).
    correlations : dict of ndarray ``(n,)``
        Further correlation functions (``"phi"``, and for gated ``"z"``, ``"r"``, ``"sigma_r"``).
    delta0 : float
        :math:`\\Delta_0 = C(0)`.
    lambda_max : float
        Mean-field maximal Lyapunov exponent (``nan`` where the route has none).
    phase : str
        ``"quiescent"`` (Δ₀ = 0, zero fixed point stable), ``"chaotic"`` (time-dependent
        stationary solution, C decays), ``"static"`` (nonzero Δ₀ with C constant in τ),
        ``"critical"`` (at the zero-fixed-point instability).
    converged : bool
    residual : float
        Final relative change ``max|C_new - C| / Δ₀`` (SCS: ``|energy condition| / Δ₀²``).
    n_iter : int
    method : str
    history : ndarray
        Residual per iteration.
    diagnostics : dict
        Route-specific checks (e.g. ``excited_state_energy``, ``mc_noise``, ``lambda_route``).
    samples : dict of ndarray, optional
        Single-site samples (``h, z, r, eta``) for :func:`jacobian_spectrum`.
    """

    model: object
    tau: np.ndarray
    autocorrelation: np.ndarray
    correlations: dict
    delta0: float
    lambda_max: float
    phase: str
    converged: bool
    residual: float
    n_iter: int
    method: str
    history: np.ndarray = field(default_factory=lambda: np.zeros(0))
    diagnostics: dict = field(default_factory=dict)
    samples: dict | None = None

    def to_dataset(self) -> xr.Dataset:
        """Correlations as a self-describing ``xarray.Dataset`` over ``tau``.

        Every variable and the ``tau`` coordinate carry CF ``units``/``long_name`` (lags in units
        of the model time constant, λ in 1/τ); the scalar results, the convergence diagnostics
        (bools as 0/1) and the model (``model_family``, ``model_params`` as JSON and one
        ``param_<name>`` each, ``neurolatent_version``) are attributes, so ``to_netcdf`` round-trips.

        Examples
        --------
        >>> from neurolatent.theory import VanillaRNN, dmft
        >>> ds = dmft(VanillaRNN(2.0)).to_dataset()
        >>> ds.tau.attrs["units"], ds.attrs["lambda_units"], ds.attrs["model_family"]
        ('tau', '1/tau', 'VanillaRNN')
        """
        from ._cf import annotate, model_attrs

        data = {"C": ("tau", self.autocorrelation)}
        data.update({f"C_{k}": ("tau", v) for k, v in self.correlations.items()})
        attrs = {"model": repr(self.model), "delta0": float(self.delta0), "lambda_max": float(self.lambda_max),
                 "lambda_units": "1/tau", "phase": self.phase, "converged": int(self.converged),
                 "residual": float(self.residual), "n_iter": int(self.n_iter), "method": self.method}
        attrs.update(model_attrs(self.model))
        attrs.update({k: v for k, v in self.diagnostics.items() if isinstance(v, (int, float, str))})
        return annotate(xr.Dataset(data, coords={"tau": self.tau}, attrs=attrs))


def _tanh_fns(g: float, b: float = 0.0):
    phi = lambda x: np.tanh(g * x + b)  # noqa: E731
    dphi = lambda x: g * (1 - np.tanh(g * x + b) ** 2)  # noqa: E731
    return phi, dphi, 1.0 / max(g, 1e-3)


def _sig_fns(alpha: float, c: float):
    s = lambda x: expit(alpha * x + c)  # noqa: E731  (no overflow at large |alpha x|)
    ds = lambda x: alpha * s(x) * (1 - s(x))  # noqa: E731
    return s, ds, 1.0 / max(alpha, 1e-3)



def _sym(c):
    """Even periodic extension [c0..c_{n-1}, c_{n-2}..c1] of a one-sided correlation."""
    return np.concatenate([c, c[-2:0:-1]])


def _filter(c, dt, tau_c, gain=1.0):
    """Stationary output correlation of ``tau_c y' = gain (-y + input)`` for input correlation ``c``."""
    L = 2 * len(c) - 2
    w = 2 * np.pi * np.fft.rfftfreq(L, d=dt)
    S = np.fft.rfft(_sym(c)).real
    return np.fft.irfft(S * gain ** 2 / (gain ** 2 + (tau_c * w) ** 2), n=L)[: len(c)]



def _gated_grid(m: GatedRNN, dt, tau_max, sz):
    # the grid follows the effective time constants tau_h / s_z and tau_r (and tau_z when the z
    # gate is dynamic): a grid much finer than the slow scale makes the iteration stagnate
    eff = ([m.tau_h / max(sz, 1e-3)] + ([m.tau_r] if m.alpha_r > 0 else [])
           + ([m.tau_z] if m.alpha_z > 0 else []))
    dt = dt or 0.1 * min(eff)
    tau_max = tau_max or max(1000 * dt, 40.0 * max(eff))
    return np.arange(int(round(tau_max / dt)) + 1) * dt, dt


def _phase(D0, C, lam, quiet=1e-10):
    """quiescent (Δ0 = 0); static (C flat in τ and no positive λ); chaotic otherwise."""
    if D0 < quiet:
        return "quiescent"
    if abs(C[-1]) > 0.95 * D0 and not lam > 1e-3:
        return "static"
    return "chaotic"
