"""Finite random networks in torch: sampling, simulation and analytic Jacobians.

Networks are *batched over seeds*: a :class:`Network` holds weight tensors of shape
``(B, N, N)``, one independent draw per seed, and states of shape ``(B, D)`` with
``D = model.state_size(N)``. Flows (:class:`VanillaRNN`, :class:`GatedRNN`) are integrated with
classical RK4 at step ``dt``; maps (:class:`GRU`, :class:`LSTM`) are iterated.

Jacobians are analytic (derived in the module source, checked against finite differences in
``tests/theory/test_simulate.py``): :func:`jacobian` forms the dense ``(B, D, D)`` matrix of the
vector field (flows) or of the map (maps), :func:`jvp` applies it to ``k`` tangent vectors without
forming it, which is what the Lyapunov code uses (``O(N^2 k)`` per product).

Examples
--------
>>> from neurolatent.theory import VanillaRNN
>>> traj = simulate(VanillaRNN(2.0), N=50, T=5.0, dt=0.1, seeds=[0, 1])
>>> tuple(traj.states.shape)
(2, 51, 50)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from tqdm.auto import tqdm

from .._utils import make_generator, resolve_device, resolve_dtype
from .models import GRU, LSTM, GatedRNN, VanillaRNN

__all__ = ["Network", "Trajectory", "sample_network", "vector_field", "step", "advance",
           "jacobian", "jvp", "tangent_step", "simulate"]

_WEIGHTS = {VanillaRNN: {"J": "g"}, GatedRNN: {"Jh": None, "Jz": None, "Jr": None},
            GRU: {"Uz": "g_z", "Ur": "g_r", "Uh": "g_h"},
            LSTM: {"Ui": "g_i", "Uf": "g_f", "Uo": "g_o", "Ug": "g_g"}}


@dataclass
class Network:
    """A batch of ``B`` random networks of one model, ``weights[name]`` of shape ``(B, N, N)``."""

    model: object
    N: int
    weights: dict
    seeds: tuple

    @property
    def batch(self) -> int:
        return len(self.seeds)

    @property
    def dim(self) -> int:
        return self.model.state_size(self.N)

    @property
    def device(self) -> torch.device:
        return next(iter(self.weights.values())).device

    @property
    def dtype(self) -> torch.dtype:
        return next(iter(self.weights.values())).dtype


@dataclass
class Trajectory:
    """States ``(B, n_times, D)`` at ``times`` ``(n_times,)`` of the networks in ``network``."""

    states: torch.Tensor
    times: torch.Tensor
    network: Network


def _seeds(seeds) -> tuple:
    if isinstance(seeds, int):
        return (seeds,)
    seeds = tuple(int(s) for s in seeds)
    if not seeds:
        raise ValueError("seeds is empty; pass an int or a non-empty list of ints")
    return seeds


def sample_network(model, N: int, seeds: int | Sequence[int] = 0, device=None, dtype=None) -> Network:
    """Draw the random weights of ``len(seeds)`` networks of size ``N`` (one generator per seed).

    Examples
    --------
    >>> from neurolatent.theory import GatedRNN
    >>> net = sample_network(GatedRNN(2.0), N=20, seeds=[3, 4])
    >>> tuple(net.weights["Jh"].shape)
    (2, 20, 20)
    """
    if type(model) not in _WEIGHTS:
        raise TypeError(f"model must be VanillaRNN, GatedRNN, GRU or LSTM, got {type(model).__name__}")
    if int(N) < 1:
        raise ValueError(f"N must be a positive integer, got {N!r}")
    N = int(N)
    device = resolve_device(device)
    dtype = resolve_dtype(dtype)
    seeds = _seeds(seeds)
    weights = {name: [] for name in _WEIGHTS[type(model)]}
    for s in seeds:
        # drawn in float64 on the CPU, then cast and moved: the same seed gives the same network
        # on every device and dtype (results then differ by round-off only)
        gen = make_generator(s, "cpu")
        for name, gain in _WEIGHTS[type(model)].items():
            scale = (1.0 if gain is None else getattr(model, gain)) / N ** 0.5
            w = scale * torch.randn(N, N, generator=gen, dtype=torch.float64)
            weights[name].append(w.to(device=device, dtype=dtype))
    return Network(model, N, {k: torch.stack(v) for k, v in weights.items()}, seeds)


def _mv(W, v):
    """Batched matrix times vector(s): ``W`` (B,N,N), ``v`` (B,N) or (B,N,k)."""
    return (W @ v.unsqueeze(-1)).squeeze(-1) if v.dim() == 2 else W @ v


def _gate(model: GatedRNN, k: str, x):
    s = torch.sigmoid(getattr(model, f"alpha_{k}") * x + model.gate_offset(k))
    return s, getattr(model, f"alpha_{k}") * s * (1 - s)


def _gated_parts(net: Network, x):
    m, N = net.model, net.N
    h, z, r = x[..., :N], x[..., N:2 * N], x[..., 2 * N:]
    phi = torch.tanh(m.g_h * h + m.beta_h)
    dphi = m.g_h * (1 - phi ** 2)
    sz, dsz = _gate(m, "z", z)
    sr, dsr = _gate(m, "r", r)
    eta = _mv(net.weights["Jh"], sr * phi)
    return h, z, r, phi, dphi, sz, dsz, sr, dsr, eta


def vector_field(net: Network, x: torch.Tensor) -> torch.Tensor:
    """Right-hand side ``dx/dt`` of a flow model at states ``x`` ``(B, D)``."""
    m = net.model
    if isinstance(m, VanillaRNN):
        return (-x + _mv(net.weights["J"], torch.tanh(x))) / m.tau
    if isinstance(m, GatedRNN):
        h, z, r, phi, dphi, sz, dsz, sr, dsr, eta = _gated_parts(net, x)
        return torch.cat([sz * (-h + eta) / m.tau_h, (-z + _mv(net.weights["Jz"], phi)) / m.tau_z,
                          (-r + _mv(net.weights["Jr"], phi)) / m.tau_r], dim=-1)
    raise TypeError(f"{type(m).__name__} is a map, not a flow; use step()")


def _gru_parts(net, h):
    m, W = net.model, net.weights
    az = _mv(W["Uz"], h) + m.b_z
    ar = _mv(W["Ur"], h) + m.b_r
    z, r = torch.sigmoid(az), torch.sigmoid(ar)
    ht = torch.tanh(_mv(W["Uh"], r * h) + m.b_h)
    if m.update == "old":  # h' = z h + (1 - z) ht  ==  (1 - w) h + w ht with w = 1 - z
        w, dw = 1 - z, -z * (1 - z)
    else:
        w, dw = z, z * (1 - z)
    return w, dw, r, r * (1 - r), ht


def _lstm_parts(net, x):
    m, W, N = net.model, net.weights, net.N
    h, c = x[..., :N], x[..., N:]
    i = torch.sigmoid(_mv(W["Ui"], h) + m.b_i)
    f = torch.sigmoid(_mv(W["Uf"], h) + m.b_f)
    o = torch.sigmoid(_mv(W["Uo"], h) + m.b_o)
    g = torch.tanh(_mv(W["Ug"], h) + m.b_g)
    c2 = f * c + i * g
    return h, c, i, f, o, g, c2, torch.tanh(c2)


def step(net: Network, x: torch.Tensor) -> torch.Tensor:
    """One application of a map model (GRU, LSTM) to states ``x`` ``(B, D)``."""
    m = net.model
    if isinstance(m, GRU):
        w, _, _, _, ht = _gru_parts(net, x)
        return (1 - w) * x + w * ht
    if isinstance(m, LSTM):
        h, c, i, f, o, g, c2, tc2 = _lstm_parts(net, x)
        return torch.cat([o * tc2, c2], dim=-1)
    raise TypeError(f"{type(m).__name__} is a flow, not a map; use vector_field()")


def advance(net: Network, x: torch.Tensor, dt: float = 0.1) -> torch.Tensor:
    """One RK4 step of length ``dt`` for flows; one map step for maps (``dt`` ignored)."""
    if net.model.kind == "map":
        return step(net, x)
    k1 = vector_field(net, x)
    k2 = vector_field(net, x + 0.5 * dt * k1)
    k3 = vector_field(net, x + 0.5 * dt * k2)
    k4 = vector_field(net, x + dt * k3)
    return x + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4)


def jvp(net: Network, x: torch.Tensor, V: torch.Tensor) -> torch.Tensor:
    """Jacobian (of the vector field for flows, of the map for maps) times ``V`` ``(B, D, k)``.

    Derivations (``'`` = derivative, ``⊙`` = rows scaled):

    * SCS: :math:`J_F V = (-V + J(\\phi'(x) ⊙ V))/\\tau`.
    * Gated: :math:`\\dot h` row: :math:`[\\sigma_z ⊙ (-V_h + J^h(\\sigma_r\\phi' ⊙ V_h + \\sigma_r'\\phi ⊙ V_r))
      + \\sigma_z'(-h+\\eta) ⊙ V_z]/\\tau_h`; z row :math:`(-V_z + J^z(\\phi' ⊙ V_h))/\\tau_z`; r likewise.
    * GRU (``w`` = weight of the candidate): :math:`(1-w)⊙V + (\\tilde h - h) w' ⊙ U_z V
      + w(1-\\tilde h^2) ⊙ U_h(r ⊙ V + h r' ⊙ U_r V)`.
    * LSTM: :math:`\\delta c' = f ⊙ V_c + c f' ⊙ U_f V_h + g i' ⊙ U_i V_h + i(1-g^2) ⊙ U_g V_h`,
      :math:`\\delta h' = \\tanh(c') o' ⊙ U_o V_h + o(1-\\tanh^2 c') ⊙ \\delta c'`.
    """
    m, W, N = net.model, net.weights, net.N
    if isinstance(m, VanillaRNN):
        return (-V + W["J"] @ ((1 - torch.tanh(x) ** 2).unsqueeze(-1) * V)) / m.tau
    if isinstance(m, GatedRNN):
        h, z, r, phi, dphi, sz, dsz, sr, dsr, eta = _gated_parts(net, x)
        Vh, Vz, Vr = V[:, :N], V[:, N:2 * N], V[:, 2 * N:]
        u = (dphi.unsqueeze(-1) * Vh)
        dh = (sz.unsqueeze(-1) * (-Vh + W["Jh"] @ (sr.unsqueeze(-1) * u + (dsr * phi).unsqueeze(-1) * Vr))
              + (dsz * (-h + eta)).unsqueeze(-1) * Vz) / m.tau_h
        return torch.cat([dh, (-Vz + W["Jz"] @ u) / m.tau_z, (-Vr + W["Jr"] @ u) / m.tau_r], dim=1)
    if isinstance(m, GRU):
        w, dw, r, dr, ht = _gru_parts(net, x)
        e = lambda a: a.unsqueeze(-1)  # noqa: E731
        inner = e(r) * V + e(x * dr) * (W["Ur"] @ V)
        return e(1 - w) * V + e((ht - x) * dw) * (W["Uz"] @ V) + e(w * (1 - ht ** 2)) * (W["Uh"] @ inner)
    if isinstance(m, LSTM):
        h, c, i, f, o, g, c2, tc2 = _lstm_parts(net, x)
        e = lambda a: a.unsqueeze(-1)  # noqa: E731
        Vh, Vc = V[:, :N], V[:, N:]
        dc = (e(f) * Vc + e(c * f * (1 - f)) * (W["Uf"] @ Vh) + e(g * i * (1 - i)) * (W["Ui"] @ Vh)
              + e(i * (1 - g ** 2)) * (W["Ug"] @ Vh))
        dh = e(tc2 * o * (1 - o)) * (W["Uo"] @ Vh) + e(o * (1 - tc2 ** 2)) * dc
        return torch.cat([dh, dc], dim=1)
    raise TypeError(f"unsupported model {type(m).__name__}")


def jacobian(net: Network, x: torch.Tensor) -> torch.Tensor:
    """Dense analytic Jacobian ``(B, D, D)`` at states ``x`` ``(B, D)`` (vector field or map)."""
    eye = torch.eye(net.dim, dtype=x.dtype, device=x.device).expand(x.shape[0], -1, -1)
    return jvp(net, x, eye)


def tangent_step(net: Network, x: torch.Tensor, Q: torch.Tensor, dt: float = 0.1):
    """Advance a state and tangent vectors ``Q`` ``(B, D, k)`` by one step of :func:`advance`.

    For flows ``Q`` is multiplied by the exact derivative of the RK4 step (so the Lyapunov
    exponents are those of the RK4 map divided by ``dt``); for maps by the map's Jacobian.
    """
    if net.model.kind == "map":
        return step(net, x), jvp(net, x, Q)
    k1 = vector_field(net, x)
    K1 = jvp(net, x, Q)
    x2 = x + 0.5 * dt * k1
    k2, K2 = vector_field(net, x2), jvp(net, x2, Q + 0.5 * dt * K1)
    x3 = x + 0.5 * dt * k2
    k3, K3 = vector_field(net, x3), jvp(net, x3, Q + 0.5 * dt * K2)
    x4 = x + dt * k3
    k4, K4 = vector_field(net, x4), jvp(net, x4, Q + dt * K3)
    return (x + dt / 6 * (k1 + 2 * k2 + 2 * k3 + k4), Q + dt / 6 * (K1 + 2 * K2 + 2 * K3 + K4))


def initial_state(net: Network, std: float = 1.0, seed: int | None = None) -> torch.Tensor:
    """Gaussian initial states ``(B, D)`` with standard deviation ``std`` (seeded per batch)."""
    gen = make_generator(None if seed is None else seed + 10_007 * net.seeds[0], "cpu")
    x = std * torch.randn(net.batch, net.dim, generator=gen, dtype=torch.float64)
    return x.to(device=net.device, dtype=net.dtype)


def simulate(model, N: int, T: float, dt: float = 0.1, seeds: int | Sequence[int] = 0, x0=None,
             init_std: float = 1.0, burn_in: float = 0.0, record_every: int = 1, device=None,
             dtype=None, network: Network | None = None, progress: bool = False,
             callback=None) -> Trajectory:
    """Simulate ``len(seeds)`` independent networks for time ``T`` after a ``burn_in``.

    Parameters
    ----------
    model : VanillaRNN, GatedRNN, GRU or LSTM
    N : int
        Number of units.
    T : float
        Recorded duration (flows: time units; maps: number of steps, ``dt`` ignored).
    dt : float
        RK4 step for flows.
    seeds : int or list of int
        One network (and initial state) per seed.
    x0 : tensor ``(B, D)``, optional
        Initial states; default Gaussian with ``init_std``.
    record_every : int
        Keep every ``record_every``-th step.
    network : Network, optional
        Reuse already-sampled weights (``N``, ``seeds``, ``device``, ``dtype`` are then taken from it).
    callback : callable, optional
        Called as ``callback(step, x)`` after each recorded step.

    Returns
    -------
    Trajectory
        ``states`` ``(B, n_rec, D)`` including the initial (post burn-in) state.
    """
    if not T > 0 or not dt > 0:
        raise ValueError(f"T and dt must be positive, got T={T!r}, dt={dt!r}")
    net = network or sample_network(model, N, seeds, device=device, dtype=dtype)
    h = 1.0 if net.model.kind == "map" else dt
    x = initial_state(net, init_std, seed=1) if x0 is None else x0.to(net.device, net.dtype)
    for _ in range(int(round(burn_in / h))):
        x = advance(net, x, dt)
    n = int(round(T / h))
    out, times = [x], [0.0]
    for i in tqdm(range(1, n + 1), disable=not progress, desc="simulate"):
        x = advance(net, x, dt)
        if i % record_every == 0:
            out.append(x)
            times.append(i * h)
            if callback is not None:
                callback(i, x)
    if not torch.isfinite(x).all():
        raise FloatingPointError("the simulation diverged (non-finite state); reduce dt")
    return Trajectory(torch.stack(out, dim=1), torch.tensor(times, dtype=net.dtype), net)
