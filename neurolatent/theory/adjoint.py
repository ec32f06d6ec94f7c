"""Back-propagated gradients of finite random networks: the adjoint of the linearised flow.

For a loss on the state at time ``T``, the gradient with respect to an earlier state is the
*adjoint* :math:`a(T-\\tau) = \\partial L / \\partial x(T-\\tau) = \\Phi(T, T-\\tau)^\\top a(T)`, where
:math:`\\Phi` is the propagator of the linearised dynamics. In continuous time it obeys
:math:`-\\dot a = D(x(t))^\\top a`; here it is propagated through the *exact* transpose of the
derivative of each RK4 step (the same numbers torch autograd gives through
:func:`~neurolatent.theory.simulate.advance`; checked in ``tests/theory/test_theory_gradients.py``),
with the analytic transposed Jacobian :func:`vjp`.

:func:`adjoint_norms` is the finite-N reference for :func:`~neurolatent.theory.gradient_dmft`:
it runs ``B`` networks to their attractor, starts ``k`` random loss gradients
:math:`a_h(T) = e`, :math:`e_i \\sim N(0, 1)` on the h block, and records the per-neuron squared norm
:math:`\\|a_h(T-\\tau)\\|^2 / N` as a function of the lag τ (log-renormalised every step, so no
under- or overflow however long the lag).

Examples
--------
>>> from neurolatent.theory import VanillaRNN
>>> out = adjoint_norms(VanillaRNN(0.5), N=50, T=2.0, dt=0.1, seeds=[0], burn_in=1.0, n_vectors=2)
>>> out["log_norm2"].shape   # (networks, windows, loss vectors, lags)
(1, 1, 2, 21)
"""
from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from tqdm.auto import tqdm

from .._utils import make_generator
from .models import GatedRNN, VanillaRNN
from .simulate import Network, _gated_parts, advance, initial_state, sample_network, vector_field

__all__ = ["vjp", "adjoint_step", "adjoint_norms"]


def vjp(net: Network, x: torch.Tensor, A: torch.Tensor) -> torch.Tensor:
    """Transposed Jacobian of the vector field times ``A`` ``(B, D, k)``: :math:`D(x)^\\top A`.

    Derivation (from the vector fields in :mod:`~neurolatent.theory.models`, ``'`` = derivative):

    * SCS: :math:`D^\\top A = (-A + \\phi'(x) \\odot J^\\top A)/\\tau`.
    * Gated, with :math:`\\xi_h = J^{h\\top}(\\sigma_z \\odot A_h)`:
      h block :math:`[-\\sigma_z A_h + \\sigma_r\\phi' \\xi_h]/\\tau_h + \\phi' J^{z\\top}A_z/\\tau_z
      + \\phi' J^{r\\top}A_r/\\tau_r`; z block :math:`\\sigma_z'(-h+\\eta) A_h/\\tau_h - A_z/\\tau_z`;
      r block :math:`\\sigma_r'\\phi\\, \\xi_h/\\tau_h - A_r/\\tau_r`.

    Parameters
    ----------
    net : Network
        A batch of flow networks (:class:`VanillaRNN` or :class:`GatedRNN`).
    x : tensor ``(B, D)``
    A : tensor ``(B, D, k)``

    Returns
    -------
    tensor ``(B, D, k)``
    """
    m, W, N = net.model, net.weights, net.N
    e = lambda v: v.unsqueeze(-1)  # noqa: E731
    if isinstance(m, VanillaRNN):
        return (-A + e(1 - torch.tanh(x) ** 2) * (W["J"].transpose(-1, -2) @ A)) / m.tau
    if isinstance(m, GatedRNN):
        h, z, r, phi, dphi, sz, dsz, sr, dsr, eta = _gated_parts(net, x)
        Ah, Az, Ar = A[:, :N], A[:, N:2 * N], A[:, 2 * N:]
        xi_h = W["Jh"].transpose(-1, -2) @ (e(sz) * Ah)
        bh = (-e(sz) * Ah + e(sr * dphi) * xi_h) / m.tau_h + e(dphi) * (
            W["Jz"].transpose(-1, -2) @ Az / m.tau_z + W["Jr"].transpose(-1, -2) @ Ar / m.tau_r)
        bz = e(dsz * (-h + eta)) * Ah / m.tau_h - Az / m.tau_z
        br = e(dsr * phi) * xi_h / m.tau_h - Ar / m.tau_r
        return torch.cat([bh, bz, br], dim=1)
    raise TypeError(f"vjp needs a flow model (VanillaRNN or GatedRNN), got {type(m).__name__}")


def adjoint_step(net: Network, x: torch.Tensor, A: torch.Tensor, dt: float) -> torch.Tensor:
    """Pull cotangents ``A`` ``(B, D, k)`` at ``advance(x)`` back to ``x``: :math:`(\\partial x'/\\partial x)^\\top A`.

    The RK4 step's derivative is :math:`M = I + \\tfrac{dt}{6}(K_1 + 2K_2 + 2K_3 + K_4)` with
    :math:`K_1 = D_1`, :math:`K_2 = D_2(I + \\tfrac{dt}{2}K_1)`, :math:`K_3 = D_3(I + \\tfrac{dt}{2}K_2)`,
    :math:`K_4 = D_4(I + dt K_3)` (:math:`D_s` the Jacobian at stage ``s``); its transpose is applied
    stage by stage in reverse: :math:`b_4 = D_4^\\top \\tfrac{dt}{6}A`,
    :math:`b_3 = D_3^\\top(\\tfrac{dt}{3}A + dt\\, b_4)`, :math:`b_2 = D_2^\\top(\\tfrac{dt}{3}A + \\tfrac{dt}{2}b_3)`,
    :math:`b_1 = D_1^\\top(\\tfrac{dt}{6}A + \\tfrac{dt}{2}b_2)`, :math:`M^\\top A = A + b_1 + b_2 + b_3 + b_4`.
    """
    k1 = vector_field(net, x)
    x2 = x + 0.5 * dt * k1
    k2 = vector_field(net, x2)
    x3 = x + 0.5 * dt * k2
    k3 = vector_field(net, x3)
    x4 = x + dt * k3
    b4 = vjp(net, x4, dt / 6 * A)
    b3 = vjp(net, x3, dt / 3 * A + dt * b4)
    b2 = vjp(net, x2, dt / 3 * A + 0.5 * dt * b3)
    b1 = vjp(net, x, dt / 6 * A + 0.5 * dt * b2)
    return A + b1 + b2 + b3 + b4


def adjoint_norms(model, N: int, T: float, dt: float = 0.1, seeds: int | Sequence[int] = 0,
                  burn_in: float = 100.0, n_vectors: int = 8, n_windows: int = 1, init_std: float = 1.0,
                  network: Network | None = None, device=None, dtype=None, progress: bool = False,
                  callback=None) -> dict:
    """Per-neuron squared norm of back-propagated gradients :math:`\\|\\partial L/\\partial h(T-\\tau)\\|^2/N`.

    Parameters
    ----------
    model : VanillaRNN or GatedRNN
    N : int
        Units per network.
    T : float
        Longest lag τ (time units); the forward run records ``T`` after ``burn_in``.
    dt : float
        RK4 step; the adjoint is the exact transpose of that step.
    seeds : int or list of int
        One network per seed.
    burn_in : float
        Forward time before the recorded window (to reach the attractor).
    n_vectors : int
        Random loss gradients ``e`` per network (iid N(0, 1) on the h block, zero on z and r).
    n_windows : int
        Consecutive forward windows of length ``T`` per network; a loss is placed at the end of
        each and back-propagated to its start (independent samples of the finite-time growth).
    progress : bool
        tqdm bar over the backward pass.
    callback : callable, optional
        ``callback(step, log_norm2)`` after each backward step.

    Returns
    -------
    dict
        ``tau`` ``(n,)`` lags; ``log_norm2`` ``(B, n_windows, k, n)`` log of :math:`\\|a_h\\|^2/N` per
        network, window and loss vector; ``mean_norm2`` ``(n,)`` the mean of :math:`\\|a_h\\|^2/N` over
        all of them (the quantity the DMFT predicts); ``var_h`` ``(B,)`` time-averaged ⟨h²⟩ over the
        recorded windows (to check that the networks sit on the expected attractor).
    """
    if not T > 0 or not dt > 0:
        raise ValueError(f"T and dt must be positive, got T={T!r}, dt={dt!r}")
    if int(n_vectors) < 1 or int(n_windows) < 1:
        raise ValueError(f"n_vectors and n_windows must be >= 1, got {n_vectors!r}, {n_windows!r}")
    net = network or sample_network(model, N, seeds, device=device, dtype=dtype)
    if net.model.kind != "flow":
        raise TypeError(f"adjoint_norms needs a flow model, got {type(net.model).__name__}")
    N, k, nw = net.N, int(n_vectors), int(n_windows)
    x = initial_state(net, init_std, seed=1)
    for _ in range(int(round(burn_in / dt))):
        x = advance(net, x, dt)
    n = int(round(T / dt))
    gen = make_generator(54_321 + net.seeds[0], "cpu")
    logs = torch.zeros(net.batch, nw, k, n + 1, dtype=torch.float64)
    var_h = torch.zeros(net.batch, dtype=torch.float64)
    bar = tqdm(total=nw * n, disable=not progress, desc="adjoint")
    for w in range(nw):
        xs = [x]
        for _ in range(n):
            xs.append(advance(net, xs[-1], dt))
        x = xs[-1]
        if not torch.isfinite(x).all():
            raise FloatingPointError("the forward simulation diverged (non-finite state); reduce dt")
        var_h += torch.stack([s[:, :N] for s in xs[1:]]).pow(2).mean(dim=(0, 2)).double().cpu() / nw
        A = torch.zeros(net.batch, net.dim, k, dtype=torch.float64)
        A[:, :N] = torch.randn(net.batch, N, k, generator=gen, dtype=torch.float64)
        A = A.to(device=net.device, dtype=net.dtype)
        scale = A[:, :N].pow(2).sum(1) / N  # (B, k)
        acc = torch.log(scale).double().cpu()
        logs[:, w, :, 0] = acc
        A = A / scale.sqrt().unsqueeze(1)
        for i in range(1, n + 1):
            A = adjoint_step(net, xs[n - i], A, dt)
            s = A[:, :N].pow(2).sum(1) / N
            acc = acc + torch.log(s).double().cpu()
            logs[:, w, :, i] = acc
            A = A / s.sqrt().unsqueeze(1)  # renormalise the whole adjoint (h, z, r) by the h-norm
            bar.update()
            if callback is not None:
                callback(w * n + i, logs[:, w, :, i])
    bar.close()
    if not torch.isfinite(logs).all():
        raise FloatingPointError("non-finite adjoint norms; reduce dt")
    L = logs.numpy()
    flat = L.reshape(-1, n + 1)
    top = flat.max(0)
    mean_norm2 = np.exp(flat - top).mean(0) * np.exp(top)
    return {"tau": np.arange(n + 1) * dt, "log_norm2": L, "mean_norm2": mean_norm2, "var_h": var_h.numpy()}
