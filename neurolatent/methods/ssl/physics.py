"""A small physics world for reasoning-modulated representations: balls bouncing in a box, rendered to pixels.

* :func:`simulate_balls` -- true states ``(x, y, vx, vy)`` of ``n_balls`` balls moving at constant
  velocity in the unit square and reflecting elastically off its walls (balls pass through each
  other: no ball-ball collisions, so every transition is a known function of the state);
* :func:`render_balls` -- grey frames, each ball a Gaussian blob (ball ``k`` drawn with intensity
  ``1 - 0.3 k / n_balls`` so that balls are distinguishable);
* :func:`bouncing_balls` -- both at once, as a :class:`BouncingBalls` record.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from ..._utils import resolve_device

__all__ = ["BouncingBalls", "simulate_balls", "render_balls", "bouncing_balls", "reflect_step"]


def reflect_step(state: np.ndarray, dt: float, radius: float) -> np.ndarray:
    r"""One exact step of free flight with elastic wall reflections, for states ``(..., 4)`` = ``(x, y, vx, vy)``.

    Each coordinate moves :math:`p \leftarrow p + v\,dt` and is folded back into
    :math:`[r, 1-r]` (reflection about the wall it crossed, the velocity flipping sign), which is
    exact for any step shorter than the box.
    """
    s = np.array(state, dtype=np.float64, copy=True)
    lo, hi = radius, 1.0 - radius
    for p, v in ((0, 2), (1, 3)):
        pos = s[..., p] + s[..., v] * dt
        over, under = pos > hi, pos < lo
        pos = np.where(over, 2 * hi - pos, np.where(under, 2 * lo - pos, pos))
        s[..., v] = np.where(over | under, -s[..., v], s[..., v])
        s[..., p] = pos
    return s


def simulate_balls(n_traj: int, n_steps: int, *, n_balls: int = 1, radius: float = 0.1, speed: float = 0.3,
                   dt: float = 0.3, seed: int = 0) -> np.ndarray:
    """True states, shape ``(n_traj, n_steps, n_balls, 4)``: start uniform in ``[r, 1-r]^2``, speed
    uniform in ``[speed/2, speed]`` in a uniform direction, then :func:`reflect_step` every ``dt``.

    Examples
    --------
    >>> s = simulate_balls(2, 5, n_balls=2, seed=0)
    >>> s.shape, bool((s[..., :2] >= 0.1).all() and (s[..., :2] <= 0.9).all())
    ((2, 5, 2, 4), True)
    """
    if n_traj < 1 or n_steps < 1 or n_balls < 1:
        raise ValueError(f"n_traj, n_steps and n_balls must be >= 1, got {n_traj}, {n_steps}, {n_balls}")
    if not 0 < radius < 0.5:
        raise ValueError(f"radius must lie in (0, 0.5), got {radius}")
    if not 0 < speed * dt < 1 - 2 * radius:
        raise ValueError(f"speed * dt = {speed * dt} must be positive and shorter than the free box width "
                         f"{1 - 2 * radius} (lower speed or dt)")
    rng = np.random.default_rng(seed)
    out = np.empty((n_traj, n_steps, n_balls, 4))
    pos = rng.uniform(radius, 1 - radius, size=(n_traj, n_balls, 2))
    ang = rng.uniform(0, 2 * np.pi, size=(n_traj, n_balls))
    sp = rng.uniform(speed / 2, speed, size=(n_traj, n_balls))
    s = np.concatenate([pos, (sp * np.cos(ang))[..., None], (sp * np.sin(ang))[..., None]], -1)
    for t in range(n_steps):
        out[:, t] = s
        s = reflect_step(s, dt, radius)
    return out


def render_balls(states: np.ndarray, size: int = 16, radius: float = 0.1) -> np.ndarray:
    r"""Frames ``(..., 1, size, size)`` from states ``(..., n_balls, 4)``: ball :math:`k` at :math:`(x, y)`
    adds :math:`a_k \exp(-\|u - (x, y)\|^2 / (2 (r/1.5)^2))` at pixel centres :math:`u`, clipped to 1."""
    states = np.asarray(states, dtype=np.float64)
    n_balls = states.shape[-2]
    centres = (np.arange(size) + 0.5) / size
    sig = radius / 1.5
    gx = np.exp(-(centres - states[..., 0, None]) ** 2 / (2 * sig ** 2))  # (..., n_balls, size)
    gy = np.exp(-(centres - states[..., 1, None]) ** 2 / (2 * sig ** 2))
    amp = 1.0 - 0.3 * np.arange(n_balls) / n_balls
    img = np.einsum("...ky,...kx,k->...yx", gy, gx, amp)
    return np.clip(img, 0.0, 1.0)[..., None, :, :]


@dataclass(frozen=True)
class BouncingBalls:
    """Rendered trajectories and their true states.

    Attributes
    ----------
    frames : Tensor, shape ``(n_traj, n_steps, 1, size, size)``
    states : Tensor, shape ``(n_traj, n_steps, n_balls * 4)``
        ``(x, y, vx, vy)`` of every ball, flattened ball by ball.
    dt, radius : float
    """

    frames: torch.Tensor
    states: torch.Tensor
    dt: float
    radius: float

    @property
    def state_dim(self) -> int:
        return int(self.states.shape[-1])


def bouncing_balls(n_traj: int, n_steps: int, *, n_balls: int = 1, size: int = 16, radius: float = 0.1,
                   speed: float = 0.3, dt: float = 0.3, seed: int = 0, device=None,
                   dtype: torch.dtype = torch.float32) -> BouncingBalls:
    """Simulate (:func:`simulate_balls`) and render (:func:`render_balls`) ``n_traj`` trajectories.

    Examples
    --------
    >>> w = bouncing_balls(3, 6, size=12)
    >>> w.frames.shape, w.states.shape
    (torch.Size([3, 6, 1, 12, 12]), torch.Size([3, 6, 4]))
    """
    s = simulate_balls(n_traj, n_steps, n_balls=n_balls, radius=radius, speed=speed, dt=dt, seed=seed)
    dev = resolve_device(device)
    frames = torch.as_tensor(render_balls(s, size, radius), dtype=dtype, device=dev)
    states = torch.as_tensor(s.reshape(n_traj, n_steps, -1), dtype=dtype, device=dev)
    return BouncingBalls(frames, states, float(dt), float(radius))
