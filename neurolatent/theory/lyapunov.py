"""Lyapunov exponents of finite random networks: QR/Benettin spectra and two-trajectory λ_max.

:func:`lyapunov_spectrum` propagates ``k`` tangent vectors with the exact derivative of the
integration step (RK4 for flows, the map itself for GRU/LSTM) and re-orthonormalises them by a
QR decomposition every ``qr_every`` steps (Benettin et al. 1980; Shimada & Nagashima 1979):

.. math:: \\lambda_i = \\frac{1}{T} \\sum_n \\log |R^{(n)}_{ii}|.

For flows the exponents are those of the RK4 map divided by ``dt``; they converge to the flow's
exponents as ``dt -> 0`` (the RK4 local error is ``O(dt^5)``). Because the determinant of the RK4
step's derivative is ``exp(∫ tr J dt)`` up to that local error, the sum of all ``D`` exponents
equals the time average of :math:`\\mathrm{tr}\\, J(x(t))` (Liouville); the result reports that
average as ``mean_trace`` so the identity can be checked (``tests/theory/test_lyapunov.py``).
For maps the corresponding identity is the average of :math:`\\log|\\det Df|`, reported as
``mean_logdet`` when ``k`` equals the state dimension.

:func:`lyapunov_max` is the brute-force check: two nearby trajectories, separation renormalised
to ``d0`` every ``renorm_every`` steps (the classical two-trajectory estimate).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from tqdm.auto import tqdm

from .models import GatedRNN, VanillaRNN
from .simulate import Network, advance, initial_state, jacobian, sample_network, tangent_step

__all__ = ["LyapunovResult", "lyapunov_spectrum", "lyapunov_max", "jacobian_trace"]


@dataclass
class LyapunovResult:
    """Output of :func:`lyapunov_spectrum`.

    Attributes
    ----------
    exponents : ndarray ``(B, k)``
        Exponents per network, sorted descending (per unit time for flows, per step for maps).
    mean : ndarray ``(k,)``
        Average over the batch of networks.
    mean_trace : ndarray ``(B,)``
        Time average of ``tr J`` along the trajectory (flows), for the Liouville check.
    mean_logdet : ndarray ``(B,)`` or None
        Time average of ``log|det Df|`` (maps, only when ``k == D``).
    history : ndarray ``(n_qr, B)``
        Running estimate of the largest exponent after each QR (convergence diagnostic).
    times : ndarray ``(n_qr,)``
        Time of each history entry.
    min_r_diag : float
        Smallest ``|R_ii|`` seen (a conditioning diagnostic: if it underflows, lower ``qr_every``).
    """

    exponents: np.ndarray
    mean: np.ndarray
    mean_trace: np.ndarray
    mean_logdet: np.ndarray | None
    history: np.ndarray
    times: np.ndarray
    min_r_diag: float


def jacobian_trace(net: Network, x: torch.Tensor) -> torch.Tensor:
    """Analytic trace of the Jacobian ``(B,)`` at states ``x`` (vector field or map)."""
    m, W, N = net.model, net.weights, net.N
    diag = lambda A: torch.diagonal(A, dim1=-2, dim2=-1)  # noqa: E731
    if isinstance(m, VanillaRNN):
        return ((-1 + diag(W["J"]) * (1 - torch.tanh(x) ** 2)).sum(-1)) / m.tau
    if isinstance(m, GatedRNN):
        h, r = x[:, :N], x[:, 2 * N:]
        phi = torch.tanh(m.g_h * h + m.beta_h)
        sz = torch.sigmoid(m.alpha_z * x[:, N:2 * N] + m.gate_offset("z"))
        sr = torch.sigmoid(m.alpha_r * r + m.gate_offset("r"))
        th = (sz * (-1 + diag(W["Jh"]) * sr * m.g_h * (1 - phi ** 2))).sum(-1) / m.tau_h
        return th - N / m.tau_z - N / m.tau_r
    # maps: trace of the dense Jacobian (cheap enough for the sizes where it is wanted)
    return diag(jacobian(net, x)).sum(-1)


def _check_common(T, dt, k, D):
    if not T > 0 or not dt > 0:
        raise ValueError(f"T and dt must be positive, got T={T!r}, dt={dt!r}")
    if k is not None and not 1 <= int(k) <= D:
        raise ValueError(f"k must be between 1 and the state dimension {D}, got {k!r}")


def lyapunov_spectrum(model, N: int, T: float, k: int | None = None, dt: float = 0.1,
                      seeds=0, burn_in: float = 50.0, qr_every: int = 1, x0=None,
                      network: Network | None = None, device=None, dtype=None,
                      progress: bool = True, callback=None) -> LyapunovResult:
    """Leading ``k`` Lyapunov exponents of ``len(seeds)`` random networks by QR/Benettin.

    Parameters
    ----------
    model : VanillaRNN, GatedRNN, GRU or LSTM
    N : int
        Units per network.
    T : float
        Averaging time after ``burn_in`` (flows: time units; maps: steps).
    k : int, optional
        Number of exponents (default: all ``D``).
    dt : float
        RK4 step (flows only).
    qr_every : int
        Steps between re-orthonormalisations.
    progress : bool
        Show a tqdm bar.
    callback : callable, optional
        ``callback(step, running_lambda_1)`` after each QR.

    Returns
    -------
    LyapunovResult

    Examples
    --------
    >>> from neurolatent.theory import VanillaRNN
    >>> res = lyapunov_spectrum(VanillaRNN(0.5), N=20, T=20, k=3, burn_in=5, progress=False)
    >>> bool((res.mean < 0).all())   # below g_c = 1 every exponent is negative
    True
    """
    net = network or sample_network(model, N, seeds, device=device, dtype=dtype)
    D = net.dim
    _check_common(T, dt, k, D)
    k = D if k is None else int(k)
    h = 1.0 if net.model.kind == "map" else dt
    x = initial_state(net, 1.0, seed=1) if x0 is None else x0.to(net.device, net.dtype)
    for _ in range(int(round(burn_in / h))):
        x = advance(net, x, dt)
    gen = torch.Generator().manual_seed(12345)
    Q0 = torch.randn(net.batch, D, k, generator=gen, dtype=torch.float64)
    Q, _ = torch.linalg.qr(Q0.to(device=net.device, dtype=net.dtype))
    n = max(int(round(T / h)), 1)
    logsum = torch.zeros(net.batch, k, dtype=net.dtype, device=net.device)
    trace_sum = torch.zeros(net.batch, dtype=net.dtype, device=net.device)
    logdet_sum = torch.zeros(net.batch, dtype=net.dtype, device=net.device) if (
        net.model.kind == "map" and k == D) else None
    # the loop stays on the device: history and the smallest |R_ii| are kept as tensors and copied
    # to the host once at the end (a callback, when given, forces one copy per QR)
    history, times = [], []
    rmin = torch.full((), float("inf"), dtype=net.dtype, device=net.device)
    for i in tqdm(range(1, n + 1), disable=not progress, desc="lyapunov"):
        if net.model.kind == "flow":
            trace_sum += jacobian_trace(net, x)
        elif logdet_sum is not None:
            logdet_sum += torch.linalg.slogdet(jacobian(net, x))[1]
        x, Q = tangent_step(net, x, Q, dt)
        if i % qr_every == 0 or i == n:
            Q, R = torch.linalg.qr(Q)
            d = torch.diagonal(R, dim1=-2, dim2=-1).abs()
            rmin = torch.minimum(rmin, d.min())
            logsum += torch.log(d)
            history.append(logsum[:, 0] / (i * h))
            times.append(i * h)
            if callback is not None:
                callback(i, history[-1].cpu().numpy())
    if not torch.isfinite(logsum).all():
        raise FloatingPointError("non-finite Lyapunov sums: the tangent vectors under/overflowed; "
                                 "lower qr_every or dt")
    exps = np.sort((logsum / (n * h)).cpu().numpy(), axis=1)[:, ::-1]
    return LyapunovResult(
        exponents=exps, mean=exps.mean(0), mean_trace=(trace_sum / n).cpu().numpy(),
        mean_logdet=None if logdet_sum is None else (logdet_sum / n).cpu().numpy(),
        history=torch.stack(history).cpu().numpy(), times=np.array(times), min_r_diag=float(rmin))


def lyapunov_max(model, N: int, T: float, dt: float = 0.1, seeds=0, burn_in: float = 50.0,
                 d0: float = 1e-7, renorm_every: int = 10, network: Network | None = None,
                 device=None, dtype=None, progress: bool = True) -> np.ndarray:
    """Largest Lyapunov exponent ``(B,)`` from two nearby trajectories (renormalised separation).

    Examples
    --------
    >>> from neurolatent.theory import VanillaRNN
    >>> lam = lyapunov_max(VanillaRNN(0.5), N=20, T=20, burn_in=5, progress=False)
    >>> bool(lam[0] < 0)
    True
    """
    net = network or sample_network(model, N, seeds, device=device, dtype=dtype)
    _check_common(T, dt, None, net.dim)
    h = 1.0 if net.model.kind == "map" else dt
    x = initial_state(net, 1.0, seed=1)
    for _ in range(int(round(burn_in / h))):
        x = advance(net, x, dt)
    gen = torch.Generator().manual_seed(54321)
    p = torch.randn(x.shape, generator=gen, dtype=torch.float64).to(device=net.device, dtype=net.dtype)
    y = x + d0 * p / p.norm(dim=-1, keepdim=True)
    n = max(int(round(T / h)), 1)
    total = torch.zeros(net.batch, dtype=net.dtype, device=net.device)
    for i in tqdm(range(1, n + 1), disable=not progress, desc="lyapunov_max"):
        x, y = advance(net, x, dt), advance(net, y, dt)
        if i % renorm_every == 0 or i == n:
            d = (y - x).norm(dim=-1)
            total += torch.log(d / d0)
            y = x + (y - x) * (d0 / d).unsqueeze(-1)
    return (total / (n * h)).cpu().numpy()
