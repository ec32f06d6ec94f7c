"""Why does the fly latent sit ~15-18 deg from the bump phase? A diagnosis, with numbers.

The question (the issue's accuracy goal): on the fly ellipsoid-body recording (16 E-PG ROIs x
500 bins, Turner-Evans et al. 2020, as used by Jensen et al. 2020) the median error of a T1
mGPLVM latent to the bump (population-vector, PV) phase after the best rigid alignment
(``align_latents``) is 17-18 deg with the uniform prior and ~15 deg with
``prior="temporal_gp"``; the goal was <= 12 deg. Is the gap the fit (initialisation, inducing
points, lengthscale, kernel, steps, local optima), a smooth warp of the ring, or the PV phase?

Metrics, per fit (deg): ``rigid`` = median error after ``align_latents``; ``warp`` = after the
best *monotone circular warp* of the rigidly aligned latent (:func:`monotone_warp`, a degree-1
diffeomorphism of the circle with a 4-harmonic log-density, fitted by least squares on the
chord); ``smooth`` = rigid error of latent and PV phase both smoothed over 3 bins; ``q1..q4`` =
rigid error in the quartiles of the normalised PV length
:math:`|\\sum_n y_n e^{2\\pi i n/16}| / \\sum_n |y_n|` (the bump's contrast); ``elbo`` = per
bin, ``elbo(n_mc=20, seed=0)``. The PCA angle is ``pca_init``'s ``atan2(PC2, PC1)`` of the
z-scored data.

Measured (2026-12-06, one CPU thread on a shared, heavily loaded 2-core machine; 300 steps
unless said; seed 0 unless said)::

    fit                          rigid   warp  smooth  elbo/bin   rigid by contrast quartile
    PCA angle                    15.82    6.1   15.48        -    25.4 / 14.9 / 12.3 / 13.6
    default (uniform), seed 0    17.23    9.5   17.28    4.809    26.0 / 17.3 / 15.3 /  9.5
    default, seed 1              18.08    9.2   17.11    4.811    27.7 / 17.0 / 16.4 / 10.1
    default, seed 2              17.10    9.2   17.04    4.814    27.2 / 16.9 / 15.1 /  9.0
    latents started at PV        18.02    8.8   17.07    4.732    26.9 / 17.9 / 16.3 / 10.9
    latents held at PV            0       0      0       3.399    (everything else fitted)
    init="random"                76.35   37.0   70.32    2.700    (a poor local optimum)
    n_inducing=8                 18.26    9.3   18.17    4.741    27.4 / 18.3 / 16.5 /  9.8
    n_inducing=30                17.22    9.5   17.29    4.809    26.0 / 17.2 / 15.3 /  9.4
    1000 steps, early stopping   17.91    9.1   17.10    4.864    28.1 / 15.3 / 19.0 / 14.6  (806 steps)
    kernel="matern52"            17.77    9.4   18.08    4.841    29.7 / 16.1 / 16.4 /  9.6
    init_scale=0.1               18.34    8.8   18.32    4.826    27.9 / 16.3 / 18.2 / 11.9
    temporal_gp, seed 0          15.25    9.5   14.51    6.190    25.4 / 14.1 / 13.3 / 10.5
    temporal_gp, seed 1          15.05    9.5   14.50    6.187    26.2 / 14.0 / 13.2 / 10.3
    temporal_gp, seed 2          15.13    9.6   14.65    6.189    26.4 / 14.0 / 13.6 / 10.2
    temporal_gp, started at PV   14.86    9.6   13.76    6.060    23.9 / 13.8 / 14.2 / 12.9
    temporal_gp, held at PV       0       0      0       4.257
    temporal_gp, 1000 steps      15.35    9.8   14.73    6.195    27.2 / 13.5 / 13.2 / 11.2  (483 steps)

(One ``--parts variants`` run, 10-40 s per fit. With 1, 2, 4, 8 harmonics the monotone warp
gives 10.2 / 6.2 / 6.1 / 6.3 deg (PCA), 13.8 / 11.1 / 9.5 / 9.5 (default seed 0), 13.9 / 11.3 /
9.5 / 9.1 (temporal_gp seed 0): the gain saturates at 4.)

The PCA baseline depends on the preprocessing: ``pca_init`` (z-scored ROIs, PCs scaled to unit
variance) 15.8 deg, z-scored ROIs with unscaled PCs 11.2 deg, raw dF/F with scaled PCs 15.6 deg; the issue's
13.5 deg lies between. Every version is an atan2 of two linear read-outs of the ROIs, as the PV
phase is.

Also measured (seed 0, uniform prior, 300 steps): a time lag between latent and PV phase is not
the cause (rigid error with the latent shifted by -2..2 bins: 26.8 / 22.3 / 17.2 / 19.1 / 22.1
deg, the same shape for PCA and the temporal prior); the initial lengthscale 0.4 or 1.6 instead
of 0.8 gives 17.9 / 18.2 deg (ELBO 4.875 / 4.850; fitted lengthscales 0.55-1.65 either way); the
Gaussian likelihood fits the dF/F residuals (skew 0.16, excess kurtosis 0.17; their std grows
mildly with the predicted mean, 0.126 to 0.163 from its lowest to its highest quintile).

Parametric bootstrap (``--parts bootstrap``): data simulated from the fitted model itself
(latent means of the seed-0 fit as the truth, its posterior-mean tuning curves, its per-ROI
Gaussian noise), then the PV phase and a fresh default fit compared with that truth::

    prior     sim  PV vs truth (rigid / warp*)  refit vs truth  refit vs PV
    uniform    0        17.85 / 15.0               6.00           17.88
    uniform    1        15.96 / 13.6               6.22           15.95
    uniform    2        15.24 / 15.1               5.92           13.55
    temporal   0        15.06 / 14.3               4.53           13.56
    temporal   1        14.28 / 14.5               4.76           12.95
    temporal   2        14.20 / 14.7               4.48           13.24

(* this column was measured with the first-pass Fourier warp, not :func:`monotone_warp`.)

Independent synthetic rings (``--parts synthetic``): ``make_ring_recording(16, 500, noise,
seed=s)`` (evenly spaced von Mises tuning, amplitude 1, kappa 3, a smooth walk; judged by the PV
phase's error to the truth, 14-18 deg in the fly bootstrap above, noise 0.5 is the closest match
to the fly), 300 steps; median rigid error (deg) to the true latent, and of the fits to the PV
phase::

    noise seed  PV   PCA   uniform  temporal_gp  | uniform vs PV  temporal_gp vs PV
    0.1   0      3.1   6.2    3.85     2.89       |   4.16           3.86
    0.1   1      3.5   7.0    4.56     3.85       |   4.82           4.16
    0.1   2      3.3  26.6   16.27    13.02       |  16.50          12.77
    0.3   0     10.0  11.3    7.22     4.38       |   9.22           9.29
    0.3   1     10.8  13.5    8.66     4.58       |   9.96           9.09
    0.3   2     10.0  29.2   24.23    14.71       |  25.56          15.04
    0.5   0     16.8  17.5   12.00     8.09       |  12.44          15.29
    0.5   1     18.3  18.9   13.94     6.93       |  12.95          15.42
    0.5   2     16.9  34.3   30.96    22.19       |  29.78          22.96

At fly-like noise (0.5) the PV phase is 17-18 deg from the truth and the temporal-prior fit 7-8
deg, yet 15 deg from the PV phase -- the fly's numbers. Seed 2 visits the ring very unevenly
(4 to 101 bins per 30 deg sector; seeds 0/1: 16-87, 10-70): there every fit is off by a smooth
warp, which a monotone circular warp removes (noise 0.1: uniform 16.27 -> 1.95 deg, temporal
prior 13.02 -> 1.68; seed 3, 13-90 bins per sector: 10.31 -> 2.19 and 8.11 -> 1.92). Started at
the truth the uniform-prior fit drifts to the same warp (15.30 deg, ELBO 10.099 vs 10.107 per
bin from PCA; temporal prior 12.31 deg, 12.424 vs 12.420), so the warp is what the ELBO
prefers, not a local optimum: a T1 latent with GP tuning curves is identified only up to such a
warp, and the prior picks it. The uniform prior favours even occupancy of the ring (the entropy
term that stretches an arc, benchmarks/arc_vs_ring.py); the temporal prior favours steps of
even size, which is closer to a smooth walk, and lowers the error by 16-50 % on every recording
here (9/9 lower than the uniform prior).

Conclusions.

* Not the optimisation: restarts agree within 1 deg (ELBO 4.809-4.814), a start at the PV
  phase drifts back to 18 deg with a lower ELBO, more inducing points, more steps, a Matérn
  kernel, another initial lengthscale or a smaller starting spread change the error by < 1.2
  deg; nor a lag or the likelihood. A random start is worse
  (a local optimum), so the PCA start stays.
* The ELBO does not want the PV phase: holding the latents at it (tuning, noise, spreads fitted)
  costs 1.4 nats per bin (uniform) and 1.9 (temporal prior).
* Partly a warp: after the best monotone circular warp the error halves (17 -> 9 deg). The PCA
  angle is an elliptical warp of the PV phase (both are atan2 of two linear read-outs of the
  same 16 ROIs), 6 deg after the warp: it shares the PV phase's noise, which is why it looks
  good against it. The warp follows the fly's uneven path (7 to 98 bins per 30 deg sector of the
  PV phase): over the 12 sectors the local stretch of the latent against the PV phase correlates
  with the occupancy, r = 0.85 for the PCA angle, 0.45 for the uniform-prior fit, 0.06 with the
  temporal prior; the synthetic rings above show the same warp against a known truth.
* Mostly the PV phase: the error is concentrated where the bump is weak (26 deg in the lowest
  contrast quartile, 10 deg in the highest), the same for PCA, the mGPLVM and the temporal prior.
  On data simulated from the fitted model, where the truth is known, the PV phase is 14-18 deg
  from the truth, a refit 4.5-6 deg, and the refit is 13-18 deg from the PV phase -- the value
  measured on the real data. So ~15-18 deg is what a correct latent scores against the PV
  phase at this signal-to-noise ratio, and <= 12 deg rigid-aligned to the PV phase is not a
  meaningful goal for the model: reaching it would mean copying the PV phase's errors.
  ``tests/models/test_fly_accuracy_goal.py`` keeps the goal as a non-strict xfail with these
  numbers.
* What does help is the temporal prior: 17.5 -> 15.1 deg on the fly (closer to a copy of the PV
  phase is not the aim) and 9/9 lower errors to the truth on the synthetic rings, most where the
  ring is visited unevenly. It does not hurt the synthetic accuracy goal either
  (``make_manifold_recording("T1", n_neurons=100, n_time=500, noise=0.1, seed=s)``, every default
  but the prior: 100 % within 0.5 rad on seeds 0-2, median 0.036 / 0.084 / 0.024 rad in 665 /
  639 / 650 steps, against 0.043 / 0.098 / 0.024 rad in 1000 / 1000 / 910 steps with the
  uniform prior, tests/models/test_accuracy_goals.py). The default prior was not changed here
  (it changes every model's objective and held-out inference, and on the fly it leaves the CV
  criterion T1xR1 >= R2 at a tie on seed 1, benchmarks/fly_temporal_prior.py); the measurements
  above are the case for doing so.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/fly_bump_error.py [--parts variants bootstrap synthetic] [--data PATH]
"""
from __future__ import annotations

import argparse
import time
from unittest import mock

import numpy as np
import torch
import xarray as xr
from scipy.optimize import least_squares

from neurolatent.datasets import load_fly_ellipsoid_body
from neurolatent.manifolds import align_latents
from neurolatent.models import MGPLVM
from neurolatent.models._init import pca_init


def pv_phase(Y: np.ndarray) -> np.ndarray:
    """Angle of sum_n y_n exp(2 pi i n / N): the bump position (ROIs ordered around the ring)."""
    n = Y.shape[1]
    return np.angle((Y * np.exp(1j * 2 * np.pi * np.arange(n) / n)).sum(1))


def _wrap(a):
    return np.angle(np.exp(1j * np.asarray(a)))


def rigid(est, ref):
    """Rigidly aligned estimate (T,) and its geodesic error (T,) to ``ref`` (rad)."""
    al, err, _ = align_latents(np.asarray(est, float).reshape(-1, 1), np.asarray(ref, float)[:, None], "T1")
    return al[:, 0], err


def monotone_warp(est, ref, n_harmonics: int = 4, n_grid: int = 720) -> np.ndarray:
    """Error (T,) after the best monotone circular warp w of ``est`` onto ``ref`` (both rad).

    :math:`w(\\theta) = c + 2\\pi \\int_{-\\pi}^{\\theta} e^{h}/\\int e^{h}` with
    :math:`h(\\theta) = \\sum_{k \\le K} a_k \\cos k\\theta + b_k \\sin k\\theta`: an increasing map
    of the circle onto itself (a degree-1 diffeomorphism), fitted by least squares on the chord
    :math:`|e^{i\\,\\mathrm{ref}} - e^{i w(\\mathrm{est})}|`.
    """
    g = np.linspace(-np.pi, np.pi, n_grid + 1)
    k = np.arange(1, n_harmonics + 1)
    C, S = np.cos(np.outer(g, k)), np.sin(np.outer(g, k))

    def w(p, x):
        dens = np.exp(np.clip(C @ p[1:n_harmonics + 1] + S @ p[n_harmonics + 1:], -30.0, 30.0))
        cum = np.r_[0.0, np.cumsum(0.5 * (dens[1:] + dens[:-1]) * np.diff(g))]
        return c0 + p[0] - np.pi + 2 * np.pi * np.interp(_wrap(x), g, cum / cum[-1])

    def res(p):
        return np.abs(np.exp(1j * ref) - np.exp(1j * w(p, est)))

    # start at the best rotation; the parameters start at exactly 0 so that least_squares'
    # first trust region has radius 1 (it scales with |p0|, tiny when p0 is near 0 but not 0)
    c0 = np.angle(np.mean(np.exp(1j * (ref - est))))
    p = least_squares(res, np.zeros(2 * n_harmonics + 1)).x
    return np.abs(_wrap(ref - w(p, est)))


def _smooth(a, width: int = 3):
    return np.angle(np.convolve(np.exp(1j * a), np.ones(width) / width, mode="same"))


def metrics(lat, pv, contrast) -> dict:
    al, err = rigid(lat, pv)
    q = np.quantile(contrast, [0, 0.25, 0.5, 0.75, 1])
    quart = [np.median(err[(contrast >= lo) & (contrast <= hi)]) for lo, hi in zip(q[:-1], q[1:])]
    return {"rigid": np.degrees(np.median(err)), "warp": np.degrees(np.median(monotone_warp(al, pv))),
            "smooth": np.degrees(np.median(rigid(_smooth(lat), _smooth(pv))[1])),
            "quartiles": np.degrees(quart)}


def fit(Y, seed=0, start=None, hold=False, steps=300, **model_kw) -> MGPLVM:
    """A T1 fit; ``start``: latent means start there; ``hold``: and are put back after every step."""
    m = MGPLVM("T1", seed=seed, **model_kw)
    if start is None:
        return m.fit(Y, max_steps=steps, progress=False)
    s = np.asarray(start, float).reshape(-1, 1)

    def put_back(state):
        with torch.no_grad():
            state.model.latent.loc.copy_(torch.as_tensor(s, dtype=state.model.latent.loc.dtype))

    with mock.patch("neurolatent.models.mgplvm.pca_init", lambda *a, **k: s):
        return m.fit(Y, max_steps=steps, progress=False, callback=put_back if hold else None)


VARIANTS = {
    "default, seed 0": {}, "default, seed 1": {"seed": 1}, "default, seed 2": {"seed": 2},
    "latents started at PV": {"start": "pv"}, "latents held at PV": {"start": "pv", "hold": True},
    'init="random"': {"init": "random"}, "n_inducing=8": {"n_inducing": 8}, "n_inducing=30": {"n_inducing": 30},
    "1000 steps, early stopping": {"steps": 1000}, 'kernel="matern52"': {"kernel": "matern52"},
    "init_scale=0.1": {"init_scale": 0.1},
    "temporal_gp, seed 0": {"prior": "temporal_gp"}, "temporal_gp, seed 1": {"prior": "temporal_gp", "seed": 1},
    "temporal_gp, seed 2": {"prior": "temporal_gp", "seed": 2},
    "temporal_gp, started at PV": {"prior": "temporal_gp", "start": "pv"},
    "temporal_gp, held at PV": {"prior": "temporal_gp", "start": "pv", "hold": True},
    "temporal_gp, 1000 steps": {"prior": "temporal_gp", "steps": 1000},
}


def variants(Y, pv, contrast, names) -> None:
    m = metrics(pca_init(Y.values, "T1", np.random.default_rng(0))[:, 0], pv, contrast)
    print(f"{'PCA angle':30s} {m['rigid']:6.2f} {m['warp']:6.1f} {m['smooth']:7.2f}        -   "
          + " / ".join(f"{v:.1f}" for v in m["quartiles"]), flush=True)
    for name in names:
        kw = dict(VARIANTS[name])
        if kw.get("start") == "pv":
            kw["start"] = pv
        t0 = time.perf_counter()
        model = fit(Y, **kw)
        m = metrics(model.latents()["mean"].values[:, 0], pv, contrast)
        elbo = model.elbo(n_mc=20, seed=0) / len(pv)
        print(f"{name:30s} {m['rigid']:6.2f} {m['warp']:6.1f} {m['smooth']:7.2f} {elbo:8.3f}   "
              + " / ".join(f"{v:.1f}" for v in m["quartiles"]) + f"   ({len(model.history.elbo)} steps, "
              f"{time.perf_counter() - t0:.0f} s)", flush=True)


def bootstrap(Y, prior: str, sims=(0, 1, 2)) -> None:
    """Simulate from the seed-0 fit (its latent means, tuning curves, noise) and compare with the truth."""
    model = fit(Y, prior=prior)
    truth = model.latents()["mean"].values
    mean, _ = model.predict(truth)
    sd = model.likelihood.noise_var.detach().cpu().numpy() ** 0.5
    for s in sims:
        y = mean + sd * np.random.default_rng(100 + s).standard_normal(mean.shape)
        pv = pv_phase(y)
        al, e_pv = rigid(pv, truth[:, 0])
        Ys = xr.DataArray(y, dims=("time", "neuron"), coords={"time": Y["time"].values})
        lat = fit(Ys, seed=s, prior=prior).latents()["mean"].values[:, 0]
        print(f"{prior:12s} sim {s}: PV vs truth {np.degrees(np.median(e_pv)):.2f} rigid / "
              f"{np.degrees(np.median(monotone_warp(al, truth[:, 0]))):.1f} warp; refit vs truth "
              f"{np.degrees(np.median(rigid(lat, truth[:, 0])[1])):.2f}; refit vs PV "
              f"{np.degrees(np.median(rigid(lat, pv)[1])):.2f}", flush=True)


def synthetic(noises=(0.1, 0.3, 0.5), seeds=(0, 1, 2)) -> None:
    """PV phase, PCA angle and T1 fits (both priors) against the true latent of synthetic rings."""
    from neurolatent.datasets import make_ring_recording

    def deg(a, b):
        return np.degrees(np.median(rigid(a, b)[1]))

    for noise in noises:
        for seed in seeds:
            ds = make_ring_recording(16, 500, noise=noise, seed=seed)
            Y, truth = ds["dff"].astype(float), ds["latent"].values.astype(float)
            pv = pv_phase(Y.values)
            pca = pca_init(Y.values, "T1", np.random.default_rng(seed))[:, 0]
            line = f"noise {noise:.1f} seed {seed}: PV {deg(pv, truth):5.1f}  PCA {deg(pca, truth):5.1f}"
            for prior in ("uniform", "temporal_gp"):
                lat = fit(Y, seed=seed, prior=prior).latents()["mean"].values[:, 0]
                al, err = rigid(lat, truth)
                warped = np.degrees(np.median(monotone_warp(al, truth)))
                line += f"  {prior} {np.degrees(np.median(err)):5.2f} (warped {warped:4.2f}, vs PV {deg(lat, pv):5.2f})"
            print(line, flush=True)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--parts", nargs="+", choices=["variants", "bootstrap", "synthetic"],
                   default=["variants", "bootstrap", "synthetic"])
    p.add_argument("--variants", nargs="+", choices=list(VARIANTS), default=list(VARIANTS))
    p.add_argument("--data", default=None)
    a = p.parse_args(argv)
    torch.set_num_threads(1)
    Y = load_fly_ellipsoid_body(a.data)["dff"].astype(float)
    y = Y.values
    pv = pv_phase(y)
    contrast = np.abs((y * np.exp(1j * 2 * np.pi * np.arange(y.shape[1]) / y.shape[1])).sum(1)) / np.abs(y).sum(1)
    if "variants" in a.parts:
        print(f"{'fit':30s}  rigid   warp  smooth  elbo/bin   rigid by contrast quartile (deg)")
        variants(Y, pv, contrast, a.variants)
    if "bootstrap" in a.parts:
        for prior in ("uniform", "temporal_gp"):
            bootstrap(Y, prior)
    if "synthetic" in a.parts:
        synthetic()


if __name__ == "__main__":
    main()
