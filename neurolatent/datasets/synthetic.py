"""Synthetic recordings with known latents (pure numpy), for tests, tutorials and the demo."""
from __future__ import annotations

import numpy as np
import xarray as xr

from ..io._layout import build_dataset, check_fs

__all__ = ["make_ring_recording", "make_demo_recording", "ring_tuning"]


def ring_tuning(theta: np.ndarray, preferred: np.ndarray, kappa: float, amplitude: float = 1.0,
                baseline: float = 0.0) -> np.ndarray:
    """Von-Mises-shaped bumps: ``baseline + amplitude * exp(kappa * (cos(theta - preferred) - 1))``.

    Parameters
    ----------
    theta : array, shape (n_time,)
        Angles (rad).
    preferred : array, shape (n_neurons,)
        Preferred angles (rad).

    Returns
    -------
    array, shape (n_time, n_neurons)
        Peak ``baseline + amplitude`` at the preferred angle, ``baseline + amplitude * exp(-2 kappa)``
        opposite to it.
    """
    d = np.asarray(theta, dtype=np.float64)[:, None] - np.asarray(preferred, dtype=np.float64)[None, :]
    return baseline + amplitude * np.exp(kappa * (np.cos(d) - 1.0))


def make_ring_recording(
    n_neurons: int = 16,
    n_time: int = 500,
    noise: float = 0.1,
    seed: int | None = 0,
    *,
    fs: float = 10.0,
    kappa: float = 3.0,
    amplitude: float = 1.0,
    baseline: float = 0.0,
    speed_sd: float = 1.0,
    speed_tau: float = 1.0,
    arc: float | None = None,
) -> xr.Dataset:
    r"""A ring-attractor-like population: bump tuning to a latent angle that drifts smoothly.

    Generative model (all in float64, stored as float32):

    - angular velocity, an Ornstein-Uhlenbeck/AR(1) process in rad/s:
      :math:`\omega_t = a\,\omega_{t-1} + \sqrt{1-a^2}\,\sigma_\omega\,\xi_t`,
      :math:`a = e^{-1/(f_s \tau)}`, :math:`\omega_0 \sim N(0, \sigma_\omega^2)`;
    - latent angle :math:`\theta_t = \theta_{t-1} + \omega_t / f_s` (mod :math:`2\pi`),
      :math:`\theta_0 \sim U[0, 2\pi)` -- a smooth random walk on the circle; with ``arc``
      the unwrapped walk :math:`u_t = \sum_{s \le t} \omega_s / f_s` is instead reflected at the
      ends of an arc of length :math:`a`, :math:`\theta_t = \theta_0 + a\,\Lambda(u_t / a)`
      with the triangle wave :math:`\Lambda(x) = 1 - |(x \bmod 2) - 1|` (mod :math:`2\pi`), so
      the path covers only that arc of the ring;
    - preferred angles :math:`\phi_n = 2\pi n / N` (evenly spaced);
    - :math:`\mathrm{dff}_{tn} = b + A\,e^{\kappa(\cos(\theta_t - \phi_n) - 1)} + \sigma\,\epsilon_{tn}`,
      :math:`\epsilon_{tn} \sim N(0, 1)` i.i.d.

    Parameters
    ----------
    n_neurons, n_time : int
        Sizes.
    noise : float
        Gaussian noise standard deviation :math:`\sigma` (>= 0).
    seed : int or None
        Seed of :func:`numpy.random.default_rng`; the same seed gives the same recording.
    fs : float
        Frame rate (Hz); ``time = k / fs``.
    kappa, amplitude, baseline : float
        Tuning concentration, peak height above baseline, baseline.
    speed_sd, speed_tau : float
        Stationary standard deviation (rad/s) and correlation time (s) of the angular velocity.
    arc : float, optional
        Length (rad, ``0 < arc < 2 pi``) of the arc the latent is confined to (reflected at its
        ends); ``None`` (default) lets it wander around the whole ring. Used to test whether model
        selection tells an interval (R1) from a ring (T1).

    Returns
    -------
    xarray.Dataset
        ``dff`` (time, neuron) float32; ``latent`` (time,) float32 ground-truth angle in [0, 2 pi);
        neuron coordinate ``preferred_angle`` (rad); generator parameters in ``attrs["params"]``.

    Examples
    --------
    >>> from neurolatent.datasets import make_ring_recording
    >>> ds = make_ring_recording(n_neurons=8, n_time=50, noise=0.05, seed=1)
    >>> ds.dff.shape, ds.latent.shape
    ((50, 8), (50,))
    >>> bool((ds.latent >= 0).all() and (ds.latent < 6.2832).all())
    True
    >>> arc = make_ring_recording(n_neurons=8, n_time=300, seed=1, speed_sd=3.0, arc=np.pi / 2)
    >>> th = np.sort(arc.latent.values)  # the path stays on a quarter of the ring
    >>> bool(2 * np.pi - np.diff(np.r_[th, th[0] + 2 * np.pi]).max() <= np.pi / 2 + 1e-4)
    True
    """
    if int(n_neurons) < 1 or int(n_time) < 1:
        raise ValueError(f"n_neurons and n_time must be >= 1, got {n_neurons} and {n_time}")
    if not noise >= 0:
        raise ValueError(f"noise must be a standard deviation >= 0, got {noise}")
    if arc is not None and not 0 < arc < 2 * np.pi:
        raise ValueError(f"arc must be an arc length in (0, 2 pi) radians or None, got {arc!r}")
    if not speed_tau > 0 or not speed_sd >= 0:
        raise ValueError(f"speed_tau must be > 0 and speed_sd >= 0, got {speed_tau} and {speed_sd}")
    fs = check_fs(fs, "make_ring_recording")
    n_neurons, n_time = int(n_neurons), int(n_time)
    rng = np.random.default_rng(seed)
    a = np.exp(-1.0 / (fs * speed_tau))
    xi = rng.standard_normal(n_time)
    omega = np.empty(n_time)
    omega[0] = speed_sd * xi[0]
    for t in range(1, n_time):  # AR(1) recursion; n_time is small, a plain loop is clearest
        omega[t] = a * omega[t - 1] + np.sqrt(1.0 - a * a) * speed_sd * xi[t]
    theta0 = rng.uniform(0.0, 2 * np.pi)
    unwrapped = np.cumsum(omega) / fs - omega[0] / fs
    if arc is not None:  # reflect at the arc's ends (triangle wave), starting at a random point of it
        unwrapped = arc * (1.0 - np.abs(np.mod(unwrapped / arc + rng.uniform(0.0, 2.0), 2.0) - 1.0))
    theta = np.mod(theta0 + unwrapped, 2 * np.pi)
    preferred = 2 * np.pi * np.arange(n_neurons) / n_neurons
    clean = ring_tuning(theta, preferred, kappa, amplitude, baseline)
    dff = clean + noise * rng.standard_normal(clean.shape)
    params = dict(n_neurons=n_neurons, n_time=n_time, noise=float(noise), seed=seed, fs=fs, kappa=float(kappa),
                  amplitude=float(amplitude), baseline=float(baseline), speed_sd=float(speed_sd),
                  speed_tau=float(speed_tau), arc=None if arc is None else float(arc))
    ds = build_dataset(
        {"dff": dff},
        time=np.arange(n_time, dtype=np.float64) / fs,
        neuron=np.arange(n_neurons, dtype=np.int64),
        fs=fs,
        source="synthetic ring recording (make_ring_recording)",
        source_path="-",
        neuron_coords={"preferred_angle": preferred},
        time_vars={"latent": theta},
        attrs={"params": params},
        step="make_ring_recording",
        params=params,
    )
    ds["latent"].attrs.update(units="rad", circular=1, long_name="ground-truth latent angle")
    return ds


def make_demo_recording() -> xr.Dataset:
    """The small ring recording ``neurolatent demo`` fits (shipped as ``data/demo_ring.nc``).

    16 neurons x 300 bins at 10 Hz from :func:`make_ring_recording` (bump tuning with
    ``kappa=3``, noise 0.1, seed 0). ``data/make_demo_data.py`` writes it to disk; the CLI
    regenerates it in memory when the package is installed without the repository.

    Examples
    --------
    >>> ds = make_demo_recording()
    >>> ds["dff"].shape
    (300, 16)
    """
    ds = make_ring_recording(n_neurons=16, n_time=300, noise=0.1, seed=0, fs=10.0, kappa=3.0)
    ds.attrs["description"] = "neurolatent demo: synthetic ring recording (data/make_demo_data.py)"
    return ds
