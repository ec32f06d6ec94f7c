"""Random-matrix predictions for the Jacobian spectrum and empirical spectra of finite networks.

Every Jacobian here has the form :math:`D = \\mathrm{blockdiag}_i(m_i) + \\sum_a U_a J^a V_a` (local
blocks plus independent random matrices). With per-site gains :math:`K_{ab}(\\lambda) =
v^a_i (\\lambda - m_i)^{-1} u^b_i` the predicted support is

.. math:: \\{\\lambda \\in \\mathbb{C} : \\rho(T(\\lambda)) \\ge 1\\},\\qquad T_{ab} = \\langle |K_{ab}|^2\\rangle_i

(the "1 inside the disk" argument of Ahmadian, Fumarola & Miller; notes §1.4). Derived here
(module source) for each model:

* SCS: :math:`\\rho = g^2\\langle\\phi'^2\\rangle / |\\tau\\lambda + 1|^2` (a disk);
* gated RNN: the 3×3 T of the notes (h, z, r channels);
* GRU: the 3×3 T of the notes, re-derived by tracking the second moments of the three random
  channels (``U_z v``, ``U_h(r v + h r' U_r v)``, ``U_r v``);
* LSTM: all four random channels read ``v_h``, so T has rank one and
  :math:`\\rho = \\langle o^2(1-\\tanh^2 c')^2 (g_f^2 (c f')^2 + g_i^2 (g i')^2 + g_g^2 (i(1-g^2))^2)
  / |\\lambda - f|^2\\rangle + g_o^2\\langle(\\tanh(c') o')^2\\rangle/|\\lambda|^2`.

Site averages come from single-site samples: for the gated RNN from :func:`dmft` (``samples``
of the result), at a fixed point from :func:`fixed_point_dmft`, for GRU/LSTM from an
*independent* simulated network (different seeds from the one whose spectrum is compared).

The predicted slow-mode fraction is the fraction of local eigenvalues (eigenvalues of the
``m_i``) within ``eps`` of the marginal point (0 for flows, 1 for maps): rows whose gate closes
carry eigenvalues ``≈ -σ_z(z_i)/τ_h`` (gated) or ``≈ 1 - w_i`` (GRU), ``≈ f_i`` (LSTM).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .models import GRU, LSTM, GatedRNN, VanillaRNN
from .simulate import Network, advance, initial_state, jacobian, sample_network

__all__ = ["SpectrumPrediction", "EmpiricalSpectrum", "jacobian_spectrum", "empirical_spectrum", "site_samples"]


def _sig(x):
    return 1 / (1 + np.exp(-x))


def _inv(x):
    """1/x with |x| floored at 1e-12 (a point exactly on a local eigenvalue is inside the support)."""
    return 1 / np.where(np.abs(x) < 1e-12, 1e-12, x)


def site_samples(net: Network, x: torch.Tensor) -> dict:
    """Per-site variables of network states ``x`` ``(B, D)`` flattened over batch, as numpy arrays."""
    m, W, N = net.model, net.weights, net.N
    mv = lambda A, v: (A @ v.unsqueeze(-1)).squeeze(-1)  # noqa: E731
    if isinstance(m, VanillaRNN):
        return {"x": x.reshape(-1).cpu().numpy()}
    if isinstance(m, GatedRNN):
        h, z, r = x[:, :N], x[:, N:2 * N], x[:, 2 * N:]
        sr = torch.sigmoid(m.alpha_r * r + m.gate_offset("r"))
        eta = mv(W["Jh"], sr * torch.tanh(m.g_h * h + m.beta_h))
        return {k: v.reshape(-1).cpu().numpy() for k, v in dict(h=h, z=z, r=r, eta=eta).items()}
    if isinstance(m, GRU):
        ar = mv(W["Ur"], x) + m.b_r
        out = dict(h=x, az=mv(W["Uz"], x) + m.b_z, ar=ar, ah=mv(W["Uh"], torch.sigmoid(ar) * x) + m.b_h)
        return {k: v.reshape(-1).cpu().numpy() for k, v in out.items()}
    if isinstance(m, LSTM):
        h, c = x[:, :N], x[:, N:]
        out = dict(h=h, c=c, ai=mv(W["Ui"], h) + m.b_i, af=mv(W["Uf"], h) + m.b_f, ao=mv(W["Uo"], h) + m.b_o,
                   ag=mv(W["Ug"], h) + m.b_g)
        return {k: v.reshape(-1).cpu().numpy() for k, v in out.items()}
    raise TypeError(f"unsupported model {type(m).__name__}")


def _local(model, s: dict):
    """Local eigenvalues ``(S, d)`` and a function ``lam (L,) -> rho(T(lam)) (L,)``."""
    if isinstance(model, VanillaRNN):
        w = model.g ** 2 * np.mean((1 - np.tanh(s["x"]) ** 2) ** 2)
        return np.full((len(s["x"]), 1), -1.0 / model.tau), lambda lam: w * np.abs(_inv(model.tau * lam + 1)) ** 2
    if isinstance(model, GatedRNN):
        m = model
        sz = _sig(m.alpha_z * s["z"] + m.gate_offset("z"))
        dsz = m.alpha_z * sz * (1 - sz)
        sr = _sig(m.alpha_r * s["r"] + m.gate_offset("r"))
        dsr = m.alpha_r * sr * (1 - sr)
        phi = np.tanh(m.g_h * s["h"] + m.beta_h)
        dphi = m.g_h * (1 - phi ** 2)
        a, b = -sz / m.tau_h, dsz * (s["eta"] - s["h"]) / m.tau_h
        c, d = -1 / m.tau_z, -1 / m.tau_r
        loc = np.stack([a, np.full_like(a, c), np.full_like(a, d)], 1)

        def rho(lam):
            L = lam[:, None]
            ga, gc, gd = _inv(L - a), _inv(L - c), _inv(L - d)
            k_hh = sr * dphi * sz / m.tau_h * ga
            k_hz = sr * dphi * b * ga * gc / m.tau_z
            k_hr = dsr * phi * gd / m.tau_r + 0 * L
            k_zh = dphi * sz / m.tau_h * ga
            k_zz = dphi * b * ga * gc / m.tau_z
            T = np.zeros((len(lam), 3, 3))
            av = lambda k: np.mean(np.abs(k) ** 2, axis=1)  # noqa: E731
            T[:, 0, 0], T[:, 0, 1], T[:, 0, 2] = av(k_hh), av(k_hz), av(k_hr)
            T[:, 1, 0], T[:, 1, 1] = av(k_zh), av(k_zz)
            T[:, 2, 0], T[:, 2, 1] = T[:, 1, 0], T[:, 1, 1]
            return np.max(np.abs(np.linalg.eigvals(T)), axis=1)
        return loc, rho
    if isinstance(model, GRU):
        m = model
        z, r = _sig(s["az"]), _sig(s["ar"])
        ht = np.tanh(s["ah"])
        w, dw = (1 - z, -z * (1 - z)) if m.update == "old" else (z, z * (1 - z))
        mm = 1 - w
        l1, l2 = (ht - s["h"]) * dw, w * (1 - ht ** 2)
        c3 = m.g_h ** 2 * np.mean((s["h"] * r * (1 - r)) ** 2)

        def rho(lam):
            inv = np.abs(_inv(lam[:, None] - mm)) ** 2
            A1, A2 = np.mean(l1 ** 2 * inv, 1), np.mean(l2 ** 2 * inv, 1)
            B1, B2 = np.mean((r * l1) ** 2 * inv, 1), np.mean((r * l2) ** 2 * inv, 1)
            T = np.zeros((len(lam), 3, 3))
            T[:, 0, 0], T[:, 0, 1] = m.g_z ** 2 * A1, m.g_z ** 2 * A2
            T[:, 1, 0], T[:, 1, 1], T[:, 1, 2] = m.g_h ** 2 * B1, m.g_h ** 2 * B2, c3
            T[:, 2, 0], T[:, 2, 1] = m.g_r ** 2 * A1, m.g_r ** 2 * A2
            return np.max(np.abs(np.linalg.eigvals(T)), axis=1)
        return mm[:, None], rho
    if isinstance(model, LSTM):
        m = model
        i, f, o, g = _sig(s["ai"]), _sig(s["af"]), _sig(s["ao"]), np.tanh(s["ag"])
        c2 = f * s["c"] + i * g
        tc2 = np.tanh(c2)
        pref = (o * (1 - tc2 ** 2)) ** 2 * (m.g_f ** 2 * (s["c"] * f * (1 - f)) ** 2
                                            + m.g_i ** 2 * (g * i * (1 - i)) ** 2 + m.g_g ** 2 * (i * (1 - g ** 2)) ** 2)
        w_o = m.g_o ** 2 * np.mean((tc2 * o * (1 - o)) ** 2)
        loc = np.stack([np.zeros_like(f), f], 1)
        return loc, lambda lam: np.mean(pref * np.abs(_inv(lam[:, None] - f)) ** 2, 1) + w_o * np.abs(_inv(lam)) ** 2
    raise TypeError(f"unsupported model {type(model).__name__}")


@dataclass
class SpectrumPrediction:
    """Predicted Jacobian support (see module docstring).

    Attributes
    ----------
    boundary : ndarray complex ``(n_angles,)``
        Outer boundary of the support, one point per ray from ``center``.
    center : complex
    real_edges : tuple of float
        Leftmost and rightmost real points of the support.
    spectral_radius : float
        ``max |λ|`` over the boundary.
    rightmost : float
        ``max Re λ`` over the boundary (stability: < 0 for flows, radius < 1 for maps).
    slow_fraction : float
        Predicted fraction of eigenvalues within ``eps`` of the marginal point.
    eps : float
    rho : callable
        ``rho(lams)`` = spectral radius of T at complex points (support is ``rho >= 1``).
    """

    boundary: np.ndarray
    center: complex
    real_edges: tuple
    spectral_radius: float
    rightmost: float
    slow_fraction: float
    eps: float
    rho: object
    atoms: tuple = ()

    def contains(self, lams, margin: float = 0.0, atol: float = 1e-6) -> np.ndarray:
        """Boolean mask: is each point inside the predicted support (``rho >= 1 - margin``) or
        within ``atol`` of an atom (a local eigenvalue that the random part does not couple,
        e.g. ``-1/τ_z`` and ``-1/τ_r`` of the gated RNN at the zero fixed point)?"""
        lams = np.asarray(lams, dtype=complex).ravel()
        out = np.concatenate([self.rho(ch) for ch in np.array_split(lams, max(1, len(lams) // 200))]) >= 1 - margin
        for a in self.atoms:
            out |= np.abs(lams - a) < atol
        return out


def _outer(f, x0, direction, R):
    """Outermost r in (0, R] with f(x0 + r direction) >= 1 (scan then bisection); 0 if none."""
    r = np.linspace(0, R, 81)[1:]
    vals = f(x0 + r * direction)
    inside = np.nonzero(vals >= 1)[0]
    if len(inside) == 0:
        return 0.0
    j = inside[-1]
    lo, hi = r[j], (r[j + 1] if j + 1 < len(r) else R)
    for _ in range(30):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if f(np.array([x0 + mid * direction]))[0] >= 1 else (lo, mid)
    return lo


def _dmft_samples(model, res, n, seed):
    """Single-site samples of a DMFT result (SCS and the exact-reduction route carry none)."""
    if res.samples is not None:
        return res.samples
    rng = np.random.default_rng(seed)
    if isinstance(model, VanillaRNN):
        return {"x": np.sqrt(res.delta0) * rng.standard_normal(n)}
    # reduce route (alpha_z = alpha_r = 0): h Gaussian; z, r Gaussian with variance <phi^2>;
    # eta - h = tau_h hdot / s_z with var(hdot) = -C''(0), independent of h
    hs = np.sqrt(res.delta0) * rng.standard_normal(n)
    C, dt = res.autocorrelation, res.tau[1] - res.tau[0]
    hdd = max(-(2 * C[1] - 2 * C[0]) / dt ** 2, 0.0)
    dz = float(np.mean(np.tanh(model.g_h * hs + model.beta_h) ** 2))
    return {"h": hs, "z": np.sqrt(dz) * rng.standard_normal(n), "r": np.sqrt(dz) * rng.standard_normal(n),
            "eta": hs + model.tau_h * np.sqrt(hdd) / model.gate_at_zero("z") * rng.standard_normal(n)}


def jacobian_spectrum(model, samples=None, eps: float = 0.05, n_angles: int = 64, n_samples: int = 2000,
                      N_mf: int = 1000, burn_in: int = 200, seed: int = 0) -> SpectrumPrediction:
    """Predicted support, real-axis edges, spectral radius and slow-mode fraction of the Jacobian.

    Parameters
    ----------
    model : VanillaRNN, GatedRNN, GRU or LSTM
    samples : dict or DMFTResult or "zero" or None
        Single-site samples. ``None``: from :func:`dmft` (SCS, gated) or from an independent
        simulated network of ``N_mf`` units (GRU, LSTM); ``"zero"``: the zero state.
    eps : float
        Radius around the marginal point for the slow-mode fraction.
    n_angles : int
        Rays used to trace the boundary.

    Examples
    --------
    >>> from neurolatent.theory import GatedRNN
    >>> p = jacobian_spectrum(GatedRNN(1.5, 0.0, 0.0), samples="zero")
    >>> round(p.real_edges[0], 3), round(p.real_edges[1], 3)   # disk -0.5 ± 0.375
    (-0.875, -0.125)
    """
    from .dmft import DMFTResult, dmft

    if samples is None and isinstance(model, (VanillaRNN, GatedRNN)):
        samples = dmft(model)
    if isinstance(samples, DMFTResult):
        samples = _dmft_samples(model, samples, n_samples, seed)
    elif samples is None:
        net = sample_network(model, N_mf, seeds=[seed + 1000, seed + 1001])
        x = initial_state(net, 1.0, seed=seed + 7)
        for _ in range(burn_in):
            x = advance(net, x)
        samples = site_samples(net, x)
    elif isinstance(samples, str) and samples == "zero":
        net = sample_network(model, 1, seeds=[0])
        samples = site_samples(net, torch.zeros(1, net.dim, dtype=torch.float64))
    if not isinstance(samples, dict):
        raise TypeError("samples must be None, 'zero', a DMFTResult or a dict of per-site arrays")
    rng = np.random.default_rng(seed)
    n = len(next(iter(samples.values())))
    if n > n_samples:
        idx = rng.choice(n, n_samples, replace=False)
        samples = {k: np.asarray(v)[idx] for k, v in samples.items()}
    loc, rho = _local(model, samples)
    f = lambda lam: rho(np.asarray(lam, dtype=complex))  # noqa: E731
    marginal = 1.0 if model.kind == "map" else 0.0
    slow = float(np.mean(np.abs(loc - marginal) < eps))
    lo, hi = float(loc.real.min()), float(loc.real.max())
    R = 1.0
    while f(np.array([hi + R, lo - R, 0.5 * (lo + hi) + 1j * R])).max() >= 0.5 and R < 1e4:
        R *= 2
    xs = np.linspace(lo - R, hi + R, 801)
    inside = np.nonzero(f(xs) >= 1)[0]
    if len(inside) == 0:  # support degenerate (no random part): the local eigenvalues themselves
        edges = (lo, hi)
    else:
        edges = (float(xs[inside[0]]), float(xs[inside[-1]]))
        edges = (edges[0] - _outer(f, edges[0], -1.0, xs[1] - xs[0]), edges[1] + _outer(f, edges[1], 1.0, xs[1] - xs[0]))
    center = 0.5 * (edges[0] + edges[1])
    Rb = max(R + hi - lo, 1.0)
    angles = np.linspace(0, 2 * np.pi, n_angles, endpoint=False)
    radii = np.array([_outer(f, center, np.exp(1j * a), Rb) for a in angles])
    boundary = center + radii * np.exp(1j * angles)
    atoms = tuple(float(v) for v in np.unique(loc.real[:, 1:])) if isinstance(model, GatedRNN) else ()
    if isinstance(model, LSTM):  # local eigenvalue 0 of the h rows: an atom when tanh(c') o' ~ 0
        atoms = (0.0,)
    return SpectrumPrediction(boundary, complex(center), edges, float(np.abs(boundary).max()),
                              float(boundary.real.max()), slow, eps, f, atoms)


@dataclass
class EmpiricalSpectrum:
    """Eigenvalues ``(B, D)`` of the Jacobians of simulated networks at ``state``, and their site samples."""

    eigenvalues: np.ndarray
    samples: dict
    network: Network
    state: torch.Tensor

    def slow_fraction(self, eps: float) -> float:
        marginal = 1.0 if self.network.model.kind == "map" else 0.0
        return float(np.mean(np.abs(self.eigenvalues - marginal) < eps))


def empirical_spectrum(model, N: int, seeds=0, state: str = "attractor", burn_in: float = 100.0,
                       dt: float = 0.1, init_std: float = 1.0, device=None, dtype=None) -> EmpiricalSpectrum:
    """Eigenvalues of the analytic Jacobian of simulated networks.

    ``state="attractor"``: after ``burn_in`` (time units for flows, steps for maps) from a
    Gaussian initial state; ``state="zero"``: at the origin.

    Examples
    --------
    >>> from neurolatent.theory import GatedRNN
    >>> sp = empirical_spectrum(GatedRNN(1.5), N=50, state="zero")
    >>> sp.eigenvalues.shape
    (1, 150)
    """
    net = sample_network(model, N, seeds, device=device, dtype=dtype)
    if state == "zero":
        x = torch.zeros(net.batch, net.dim, dtype=net.dtype, device=net.device)
    elif state == "attractor":
        x = initial_state(net, init_std, seed=3)
        h = 1.0 if model.kind == "map" else dt
        for _ in range(int(round(burn_in / h))):
            x = advance(net, x, dt)
    else:
        raise ValueError(f"state must be 'attractor' or 'zero', got {state!r}")
    ev = torch.linalg.eigvals(jacobian(net, x)).cpu().numpy()
    return EmpiricalSpectrum(ev, site_samples(net, x), net, x)
