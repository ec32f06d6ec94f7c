r"""The ``"sampling"`` route of :func:`neurolatent.theory.dmft` (``alpha_z > 0``): Monte-Carlo DMFT.

Single-site paths with common random numbers and a frozen-gate control variate, Anderson mixing,
the two-pass static/dynamic split, and the sampled tangent DMFT for λ_max. The method, its history
and the measured table are in the docstring of :mod:`neurolatent.theory.dmft`, which re-exports the
private helpers used by the tests.
"""
from __future__ import annotations

import math

import numpy as np

from ._dmft_common import DMFTResult, _filter, _gated_grid, _phase, _sig_fns, _sym, _tanh_fns
from ._quad import PairTable, gauss_mean
from .models import GatedRNN


def _sample_paths(c, n_paths, rng):
    """Stationary Gaussian paths with correlation ``c`` (lags 0..n-1) by circulant embedding."""
    L = 2 * len(c) - 2
    S = np.clip(np.fft.rfft(_sym(c)).real, 0.0, None)
    w = rng.standard_normal((n_paths, L // 2 + 1)) + 1j * rng.standard_normal((n_paths, L // 2 + 1))
    w[:, 0] = w[:, 0].real * math.sqrt(2)
    w[:, -1] = w[:, -1].real * math.sqrt(2)
    return np.fft.irfft(w * np.sqrt(S * L / 2), n=L)[:, : len(c)]


def _autocorr(x, n_lag):
    """Average over paths and time origins of x(t) x(t + lag), lags 0..n_lag-1 (FFT, zero-padded)."""
    T = x.shape[1]
    F = np.fft.rfft(x, n=2 * T)
    ac = np.fft.irfft(np.abs(F) ** 2, n=2 * T)[:, :n_lag].mean(0)
    return ac / (T - np.arange(n_lag))


def _anderson(G, x, tol, max_iter, damping, depth=5, floor=1e-12, stall=None):
    """Damped fixed-point iteration ``x = G(x)`` with Anderson mixing; returns (x, G(x), history).

    Plain damping needs ~10^3 iterations near the transition; Anderson needs tens. The history is
    reset when the residual grows, and a step that would shrink ``x[0]`` below 30% (extrapolating
    toward the zero solution) falls back to a half step. With ``stall`` it also stops when the
    residual has not halved over the last ``stall`` iterations.
    """
    hist, dX, dF, x_prev, f_prev, new = [], [], [], None, None, None
    for _ in range(max_iter):
        new = G(x)
        f = new - x
        res = float(np.max(np.abs(f)) / max(x[0], floor))
        hist.append(res)
        if x[0] < floor or res < tol:
            break
        if stall and len(hist) > stall and min(hist[-stall:]) > 0.5 * min(hist[:-stall]):
            break
        if f_prev is not None:
            dX.append(x - x_prev)
            dF.append(f - f_prev)
            dX, dF = dX[-depth:], dF[-depth:]
        x_prev, f_prev = x.copy(), f.copy()
        if len(hist) > 1 and res > 2 * hist[-2]:
            dX, dF = [], []
        step = x + damping * f
        if dF:
            Fm, Xm = np.array(dF).T, np.array(dX).T
            gamma = np.linalg.lstsq(Fm, f, rcond=None)[0]
            step = step - (Xm + damping * Fm) @ gamma
        if not np.all(np.isfinite(step)) or step[0] < 0.3 * x[0]:
            step, dX, dF = x + 0.5 * f, [], []
        x = step
    return x, new, hist


def _sampled_h(m: GatedRNN, C_phi, q_phi, dt, n_tot, noise, s_const: float, n_nodes=161):
    r"""Single-site replica pairs for given C_φ = q_φ + D_φ(τ) from *fixed* white noises.

    ``noise = (w_z, w_eta, xi_h, xi_z, xi_eta)``: complex spectral weights of the dynamic z and
    η_h paths (one per path), standard normals for the initial h (one per path) and for the
    quenched fields (one per *pair*: paths ``2k`` and ``2k + 1`` are two replicas sharing them).

    **Static/dynamic split.** A static part :math:`q_\phi = C_\phi(\infty)` of C_φ is a
    quenched random field: the fields of z, r and η_h are :math:`J\phi(h)` with the static part
    of φ(h) frozen, so each of them is a static Gaussian (variance :math:`q_\phi` for z and r,
    :math:`q_\eta = C_{\sigma_r}(\infty) q_\phi` for η_h; both filters have unit gain at zero
    frequency) plus a stationary process with covariance :math:`C - q` that decays. The static
    draw is shared by the two replicas of a pair and the dynamic parts are independent, so
    :math:`E[f(h^a(t)) f(h^b(t))]` over pairs is the static part of :math:`C_f` (the replica
    overlap), free of the time-averaging bias of a long-lag estimate.

    Returns ``(h, h0, z, eta, C_h0, q_eta)``: ``h`` integrated with the gate σ_z(z(t)); ``h0``
    from the *same* η_h with the gate frozen at ``s_const``; ``C_h0`` the exact (Fourier)
    autocorrelation of that frozen-gate h, which is Gaussian; ``q_eta`` the static variance.
    With ``q_phi = 0`` both start at ``N(0, C_η(0))``; with a static part see the comment at the start.

    Two devices remove the Monte-Carlo error that the iteration otherwise amplifies:

    * common random numbers -- reusing the white noises across iterations makes the map
      C_φ -> C_φ' deterministic and smooth, so Anderson mixing finds its fixed point to any
      tolerance (a noisy map stopped "when the change is below the noise" stops short of the
      fixed point where the map contracts slowly);
    * a control variate -- statistics of ``h`` are estimated as ``stat(h) - stat(h0) + exact(h0)``.
      The zero-frequency (static) mode of the map has multiplier :math:`g^2\langle\phi'\rangle^2
      \to 1` near the transition (it is the squared tail rate of SCS, 0.05 at g = 2, 0.01 at
      g = 1.25), so Monte-Carlo error in the slow part of C_φ is amplified ~1/(1 - multiplier) in
      the solution. The slow part of that error comes from the slow modes of η_h, which ``h`` and
      ``h0`` share, and cancels in the difference. At α_z = 0 the estimate is exact.
    """
    w_z, w_eta, xi, xi_z, xi_eta = noise
    sr, _, sc_r = _sig_fns(m.alpha_r, m.gate_offset("r"))
    szf, _, _ = _sig_fns(m.alpha_z, m.gate_offset("z"))
    q = max(float(q_phi), 0.0)
    dp = np.concatenate([C_phi, np.full(n_tot - len(C_phi), C_phi[-1])]) - q  # dynamic part, extended
    C_r = q + _filter(dp, dt, m.tau_r)
    tab_r = PairTable(sr, C_r[0], sc_r, n_nodes)
    C_eta = tab_r(C_r) * (q + dp)
    q_eta = float(tab_r(np.array([q]))[0]) * q
    pair = np.repeat(np.arange(len(xi_z)), 2)[: w_z.shape[0]]
    z = _paths_from(_filter(dp, dt, m.tau_z), w_z) + math.sqrt(q) * xi_z[pair, None]
    eta_s = math.sqrt(q_eta) * xi_eta[pair]
    eta = _paths_from(C_eta - q_eta, w_eta) + eta_s[:, None]
    C_h0 = q_eta + _filter(C_eta - q_eta, dt, m.tau_h, gain=s_const)
    e = 0.5 * (eta[:, 1:] + eta[:, :-1])  # exponential integrator, midpoint gate and input
    a = np.exp(-0.5 * (szf(z[:, 1:]) + szf(z[:, :-1])) * (dt / m.tau_h))
    a0 = math.exp(-s_const * dt / m.tau_h)
    h, h0 = np.empty_like(z), np.empty_like(z)
    if q > 0:
        # a nearly frozen unit (σ_z ≈ 0) keeps its initial h for longer than the burn-in: start each
        # path at η_s plus the stationary dynamic variance of h under its initial gate held fixed,
        # v(s) = ∫ S_η(ω) s²/(s² + τ_h²ω²), which -> 0 as s -> 0 (both replicas then start at η_s)
        s_grid = np.geomspace(1e-4, 1.0, 41)
        v = [_filter(C_eta - q_eta, dt, m.tau_h, gain=sg)[0] for sg in s_grid]
        s0 = np.clip(szf(z[:, 0]), s_grid[0], 1.0)
        h[:, 0] = eta_s + np.sqrt(np.clip(np.interp(np.log(s0), np.log(s_grid), v), 0.0, None)) * xi
        h0[:, 0] = eta_s + math.sqrt(max(C_h0[0] - q_eta, 0.0)) * xi
    else:
        h[:, 0] = h0[:, 0] = math.sqrt(max(C_eta[0], 0.0)) * xi
    for t in range(1, n_tot):
        h[:, t] = e[:, t - 1] + (h[:, t - 1] - e[:, t - 1]) * a[:, t - 1]
        h0[:, t] = e[:, t - 1] + (h0[:, t - 1] - e[:, t - 1]) * a0
    return h, h0, z, eta, C_h0, q_eta


def _overlap(x):
    """Replica overlap: mean over pairs (rows 2k, 2k+1) and times of x[2k] x[2k+1]."""
    k = x.shape[0] // 2
    return float(np.mean(x[0:2 * k:2] * x[1:2 * k:2]))


def _mean_gate(m: GatedRNN, C_phi, dt, n_tot):
    """⟨σ_z(z)⟩ for z ~ N(0, C_z(0)): the frozen gate of the control variate."""
    szf, _, sc_z = _sig_fns(m.alpha_z, m.gate_offset("z"))
    cp = np.concatenate([C_phi, np.full(n_tot - len(C_phi), C_phi[-1])])
    return float(gauss_mean(szf, max(_filter(cp, dt, m.tau_z)[0], 1e-300), sc_z))


def _paths_from(c, w):
    """Gaussian paths with correlation ``c`` from fixed complex weights ``w`` (circulant embedding)."""
    L = 2 * len(c) - 2
    S = np.clip(np.fft.rfft(_sym(c)).real, 0.0, None)
    return np.fft.irfft(w * np.sqrt(S * L / 2), n=L)[:, : len(c)]


def _white(n_paths, n_tot, rng):
    L = 2 * n_tot - 2
    w = rng.standard_normal((n_paths, L // 2 + 1)) + 1j * rng.standard_normal((n_paths, L // 2 + 1))
    w[:, 0] = w[:, 0].real * math.sqrt(2)
    w[:, -1] = w[:, -1].real * math.sqrt(2)
    return w


TAIL_RATIO_MAX = 0.5
"""Largest |C_h(τ_max) - q_h|/Δ₀ (dynamic part left at the end of the window) accepted from the
sampling route; above it the result is flagged."""

STATIC_INIT = (0.0, 0.2)
"""Initial static parts q_φ/C_φ(0) of the two passes of the sampling route: the first has no static
part (a static start can land on a spurious, nearly frozen solution where the true one decays, e.g.
q_h/Δ₀ = 0.94 at (4, 2, 0)); the second, with the static/dynamic split, runs only where the first finds
no decaying solution on the window."""

SPLIT_MIN_WINDOW = 20.0
"""Pass 2 (the static split) runs only on windows of at least this many slowest time constants
(τ_h/σ_z(0), τ_z, τ_r): on a short window the static part would absorb a correlation that has merely
not decayed yet (the fully static solution always solves the split equations), e.g. (4, 2, 0) on a
4-unit window; there the pass-1 result is returned, flagged."""

STALL_ITER = 60
"""The first pass stops when its residual has not halved in this many iterations."""


def _gated_sampling(m: GatedRNN, dt, tau_max, tol, max_iter, damping, init_variance, n_paths, seed,
                    n_nodes=161, lyapunov=True):
    rng = np.random.default_rng(seed)
    sz0 = 1 / (1 + math.exp(-m.gate_offset("z")))
    tau, dt = _gated_grid(m, dt, tau_max, sz0)
    n = len(tau)
    n_burn = n // 2
    n_tot = n_burn + 2 * n
    n_paths = 2 * max(int(n_paths) // 2, 1)  # replica pairs
    phi, _, sc_h = _tanh_fns(m.g_h, m.beta_h)
    sr, _, sc_r = _sig_fns(m.alpha_r, m.gate_offset("r"))
    noise = (_white(n_paths, n_tot, rng), _white(n_paths, n_tot, rng), rng.standard_normal(n_paths),
             rng.standard_normal(n_paths // 2), rng.standard_normal(n_paths // 2))
    keep = slice(n_burn, None)
    s_c = _mean_gate(m, PairTable(phi, init_variance, sc_h)(init_variance * np.exp(-tau)), dt, n_tot)

    def G(x, split):
        # the static part cannot exceed the correlation left at the end of the window (C_φ - q is
        # the covariance of the dynamic part, >= 0 at long lags); projected on both sides of the map
        q = min(max(x[n], 0.0), max(x[n - 1], 0.0)) if split else 0.0
        h, h0, _, _, C_h0, q_eta = _sampled_h(m, x[:n], q, dt, n_tot, noise, s_c, n_nodes)
        tab = PairTable(phi, C_h0[0], sc_h, n_nodes)
        ph, ph0 = phi(h[:, keep]), phi(h0[:, keep])
        C_new = _autocorr(ph, n) - _autocorr(ph0, n) + tab(C_h0[:n])
        if not split:
            return np.append(C_new, 0.0)
        q_new = _overlap(ph) - _overlap(ph0) + float(tab(np.array([q_eta]))[0])
        return np.append(C_new, min(max(q_new, 0.0), max(C_new[-1], 0.0)))

    C0 = PairTable(phi, init_variance, sc_h)(init_variance * np.exp(-tau))
    slowest = max([m.tau_h / max(sz0, 1e-3), m.tau_z] + ([m.tau_r] if m.alpha_r > 0 else []))
    # pass 1: no static part (a decaying solution); pass 2, only where pass 1 finds none on the
    # window (residual stays high, collapse to zero, or an undecayed tail): the static split
    for q0 in STATIC_INIT:
        split = q0 > 0
        x, _, hist = _anderson(lambda v: G(v, split), np.append(C0 + q0 * C0[0], q0 * C0[0]), tol, max_iter,
                               damping, floor=1e-10, stall=None if split else STALL_ITER)
        C_phi, q_phi = x[:n], (min(max(x[n], 0.0), max(x[n - 1], 0.0)) if split else 0.0)
        quiet = C_phi[0] < 1e-10
        if split:
            break
        zero_unstable = m.beta_h != 0 or m.g_h * float(sr(np.zeros(1))[0]) > 1
        decaying = not quiet and hist[-1] < tol and abs(C_phi[-1] / C_phi[0]) <= TAIL_RATIO_MAX
        if tau[-1] < SPLIT_MIN_WINDOW * slowest or (quiet and not zero_unstable) or decaying:
            break
    converged = quiet or hist[-1] < tol
    h, h0, z, eta, C_h0, q_eta = _sampled_h(m, C_phi, q_phi, dt, n_tot, noise, s_c, n_nodes)
    hk, zk, ek = h[:, keep], z[:, keep], eta[:, keep]
    C_h = np.zeros(n) if quiet else _autocorr(hk, n) - _autocorr(h0[:, keep], n) + C_h0[:n]
    q_h = 0.0 if (quiet or q_phi == 0) else _overlap(hk) - _overlap(h0[:, keep]) + q_eta
    # independent paths: the Monte-Carlo s.e. of Δ0 from the per-path control-variate estimates
    per_path = np.mean(hk ** 2 - h0[:, keep] ** 2, 1)
    noise_rel = float(np.std(per_path) / math.sqrt(n_paths) / max(C_h[0], 1e-12))
    cp = np.concatenate([C_phi, np.full(n_tot - n, C_phi[-1])])
    C_r, C_z = _filter(cp, dt, m.tau_r)[:n], _filter(cp, dt, m.tau_z)[:n]
    C_sr = PairTable(sr, C_r[0], sc_r, n_nodes)(C_r)
    pick = rng.integers(0, hk.shape[1], size=hk.shape[0])
    rows = np.arange(hk.shape[0])
    samples = {"h": hk[rows, pick], "z": zk[rows, pick], "eta": ek[rows, pick],
               "r": math.sqrt(max(C_r[0], 0.0)) * rng.standard_normal(hk.shape[0])}
    if quiet:
        samples = {k: np.zeros_like(v) for k, v in samples.items()}
    lam = float(m.g_h * sz0 * sr(np.zeros(1))[0] - sz0) / m.tau_h if quiet else float("nan")
    diag = {"lambda_route": "zero fixed point" if quiet else "unavailable", "mc_noise": noise_rel,
            "n_paths": n_paths, "control_gate": s_c, "q_h": float(q_h), "q_eta": float(q_eta),
            "q_phi": float(q_phi), "static_init": float(q0)}
    # the static part (quenched fields) is part of the solution; what must have decayed by the end
    # of the window is the dynamic part C_h - q_h, else the window does not resolve the solution
    D0 = max(C_h[0], 1e-300)
    tail = 0.0 if quiet else float((C_h[-1] - q_h) / D0)
    diag["tail_ratio"], diag["static_fraction"] = tail, 0.0 if quiet else float(q_h / D0)
    if not converged:
        diag["nonconvergence_reason"] = (f"residual {hist[-1]:.3g} after {len(hist)} iterations of the "
                                         f"{n_paths}-path Monte-Carlo map")
    elif abs(tail) > TAIL_RATIO_MAX:
        converged = False
        diag["nonconvergence_reason"] = (
            f"unresolved window: the dynamic part (C_h(tau_max) - q_h)/Delta0 = {tail:.2f}, beyond "
            f"+-{TAIL_RATIO_MAX}, has not decayed on the {tau[-1]:g}-unit window; raise tau_max")
    out = DMFTResult(m, tau, C_h, {"phi": C_phi, "r": C_r, "z": C_z, "sigma_r": C_sr}, float(C_h[0]), lam,
                     "quiescent", converged, hist[-1], len(hist), "sampling", np.array(hist), diag, samples)
    if not quiet and lyapunov:
        out.lambda_max, diag["lambda_mc_std"] = _tangent_lambda(m, out, seed=seed + 1)
        diag["lambda_route"] = "tangent sampling"
    if not quiet:
        out.phase = _phase(C_h[0], C_h, out.lambda_max)
    return out


def _tangent_lambda(m: GatedRNN, res: "DMFTResult", window: float = 30.0, n_iter: int = 30, M: int = 2000,
                    seed: int = 1):
    r"""Mean-field λ_max for α_z > 0 by a sampled *tangent DMFT* (derived here, see module docstring).

    Perturbations obey :math:`\tau_h\dot{\delta h} = \sigma_z(-\delta h + \delta\eta_h) + \sigma_z'
    (-h+\eta)\delta z`, :math:`\tau_z\dot{\delta z} = -\delta z + \delta\eta_z`, likewise δr, with
    Gaussian tangent noises independent of the base noises (sign symmetry of the linear problem)
    and two-time covariances :math:`\Sigma_h = C_{\sigma_r}\circ A + C_{\sigma_r'}C_\phi\circ Q_r`,
    :math:`\Sigma_z = \Sigma_r = A`, :math:`A(t,s) = \langle\phi'\delta h(t)\,\phi'\delta h(s)\rangle`
    estimated from the samples (no factorisation of φ' and δh). Iterated on a window; λ is the
    growth rate of ⟨δh²⟩ over the second half of the window, averaged over the last iterations.
    """
    from scipy.linalg import toeplitz

    rng = np.random.default_rng(seed)
    tau = res.tau
    dt = tau[1] - tau[0]
    n_w = min(int(round(window / dt)), len(tau))
    phi, dphi, sc_h = _tanh_fns(m.g_h, m.beta_h)
    sr, dsr, sc_r = _sig_fns(m.alpha_r, m.gate_offset("r"))
    szf, dszf, _ = _sig_fns(m.alpha_z, m.gate_offset("z"))
    C_phi, C_r = res.correlations["phi"], res.correlations["r"]
    nb = len(tau)
    n_tot = nb + n_w
    cp = np.concatenate([C_phi, np.full(n_tot - len(C_phi), C_phi[-1])])
    Cz, Cr = _filter(cp, dt, m.tau_z), _filter(cp, dt, m.tau_r)
    z = _sample_paths(Cz, M, rng)
    eta = _sample_paths(PairTable(sr, Cr[0], sc_r)(Cr) * cp, M, rng)
    s = szf(z) * dt / m.tau_h
    h = np.empty_like(z)
    h[:, 0] = math.sqrt(max(res.delta0, 0.0)) * rng.standard_normal(M)
    for t in range(1, n_tot):
        a, e = 0.5 * (s[:, t - 1] + s[:, t]), 0.5 * (eta[:, t - 1] + eta[:, t])
        h[:, t] = e + (h[:, t - 1] - e) * np.exp(-a)
    h, z, eta = h[:, nb:], z[:, nb:], eta[:, nb:]
    T_sr = toeplitz(PairTable(sr, C_r[0], sc_r)(C_r)[:n_w])
    T_q = toeplitz(PairTable(dsr, C_r[0], sc_r)(C_r)[:n_w] * C_phi[:n_w])
    decay = np.exp(-szf(z) * dt / m.tau_h)
    cross = dt / m.tau_h * dszf(z) * (eta - h)
    dph = dphi(h)
    A, Qr, lams = np.zeros((n_w, n_w)), np.zeros((n_w, n_w)), []

    def draw(S):
        w, V = np.linalg.eigh(S)
        return (rng.standard_normal((M, n_w)) * np.sqrt(np.clip(w, 0, None))) @ V.T

    for _ in range(n_iter):
        nh, nz, nr = draw(T_sr * A + T_q * Qr), draw(A), draw(A)
        dh, dz, dr = np.zeros((M, n_w)), np.zeros((M, n_w)), np.zeros((M, n_w))
        dh[:, 0] = rng.standard_normal(M)
        for t in range(n_w - 1):
            dh[:, t + 1] = dh[:, t] * decay[:, t] + (1 - decay[:, t]) * nh[:, t] + cross[:, t] * dz[:, t]
            dz[:, t + 1] = dz[:, t] + dt / m.tau_z * (nz[:, t] - dz[:, t])
            dr[:, t + 1] = dr[:, t] + dt / m.tau_r * (nr[:, t] - dr[:, t])
        u = dph * dh
        A, Qr = u.T @ u / M, dr.T @ dr / M
        half = np.arange(n_w // 2, n_w)
        lams.append(np.polyfit(half * dt, np.log(np.mean(dh[:, half] ** 2, 0)), 1)[0] / 2)
    tail = np.array(lams[-10:])
    return float(tail.mean()), float(tail.std())
