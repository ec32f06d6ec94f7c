"""Turner-Evans et al. (2017) E-PG trials: why the T1 latent's error to the bump phase varies, and joint fits.

Data: the two trials in ``turner_evans_2017`` (fly 1, closed-loop stripe "light" and walking in
the "dark"), E-PG channel ``RROIaveMax``, 16 ROIs x 750 volumes (11.4 Hz). Reference: the bump
phase, the angle of the population vector of the ROIs (evenly spaced around the ellipsoid body).
Error: median over bins of the geodesic distance after the best global isometry
(``align_latents``). Fits: ``MGPLVM("T1", seed=s).fit(Y)`` with the defaults (1000 steps, early
stopping) unless said otherwise. All numbers 2026-12-06, one torch thread per process on a shared
2-core machine under a load average of 8-17 (so the seconds are not speed measurements).

**1. The reference itself is uncertain by 5-28 deg** (``refs``). Three reasonable per-ROI
normalisations before the population vector give different phases: centred F, z-scored F, and
dF/F with an 8th-percentile baseline (not centred). The PCA angle of the raw F is::

    trial  centred  zscore  dff      centred-vs-zscore reference
    light   15.24   12.61   28.32    8.25 deg apart
    dark    10.84    9.01   26.79    5.49 deg apart

The issue's 16-30 deg cannot be reproduced without its reference; below ``err(z)`` uses the
z-scored one (every ROI weighted alike), ``err(c)`` the centred one.

**2. Not initialisation, nor (for separate fits) local optima: the objective prefers another
angle.** The fit starts
at the PCA angle and *moves away from the bump phase while the ELBO rises* (``drift``: light, seed 0,
error to the z-scored phase at steps 1, 100, ..., 800)::

    step       1     100    200    300    400    500    600    700    800
    err(deg)  12.9   15.0   17.1   17.2   20.2   22.4   22.9   22.8   23.4
    elbo/bin  32.02  33.59  34.96  35.23  35.34  35.46  35.49  35.50  35.51

With the latent means pinned at the (aligned) bump phase and everything else learned for 1000
steps the ELBO is 32.25 nats/bin, 3.3 nats/bin (2450 nats) below the free fit (the phase is noisy
where the bump is faint, see 3, so part of the gap is the reference's noise). Three seeds (the
restarts ``n_restarts=3`` would choose among) end at 23.2/23.4/22.7 deg (light, ELBO 26636/26659/
26668; error vs the centred phase) and 20.7/22.2/22.0 deg (dark, ELBO 26882/26663/26740): the
best-ELBO restart gives 22.7 and 20.7 deg, one degree better than the worst (default fits of
the raw F; ELBO from ``elbo(n_mc=20)``, the score ``n_restarts`` ranks by).

**3. Where the error sits.** By quartile of the bump amplitude (|population vector| of z-scored
ROIs), the error is 48 deg (light) / 36 deg (dark) in the weakest quarter and 19 / 15 deg in the
strongest (``low-amp``, ``high-amp`` below): where the bump is faint both the reference and the
latent are noisy. The ROIs differ threefold in modulation depth (std/mean 2-3 % for ROIs 7-12,
5-7 % for ROIs 0-2 and 13-15, light), and the fitted latent spaces the ROIs unevenly (``rois``:
each ROI's preferred angle in the aligned latent deviates from the even 22.5 deg spacing by up
to 56 deg (light: -56 -53 -28 51 43 34 29 43 38 38 17 -10 -22 -33 -47 -53) and 25 deg (dark);
the weak half of the ring is compressed). The mean signed error per 45-deg sector of the
reference swings by 36-74 deg (``warp``): a smooth reparameterisation of the angle, which the
uniform prior does not penalise and per-ROI tuning curves (own lengthscale and output scale)
absorb (whether the latent or the phase is the warped one, 6 below asks).

**4. Candidate changes, seed 0** (``fits``; err vs z-scored / centred / dF/F phase; low/high-amp
quartile errors; warp; ELBO per bin on the fitted input; steps; seconds)::

    trial  config         seed  err(z)  err(c)  err(dff)  low-amp  high-amp  warp   elbo/bin  steps   s
    light  raw/uniform       0   23.52   23.24    35.62    47.99     19.14  36.4    35.5143    808  175
    light  raw/temporal      0   23.23   19.02    25.03    50.93     17.54  60.8    36.4284    652  100
    light  z/uniform         0   23.68   22.90    34.91    47.43     19.04  36.1   -15.4983    803   99
    light  z/temporal        0   22.64   19.15    24.88    53.39     16.34  73.8   -14.4705   1000  199
    light  raw/M30           0   23.37   23.48    33.76    48.14     19.07  36.0    35.7127   1000  497
    dark   raw/uniform       0   20.52   20.69    24.19    35.76     15.28  59.8    35.8432    928  285
    dark   raw/temporal      0   20.19   21.58    19.19    34.09     16.80  71.5    36.9613    677  222
    dark   z/uniform         0   20.13   21.07    22.59    36.32     14.88  59.3   -17.4411    978  240
    dark   z/temporal        0   18.88   19.31    18.27    33.58     14.31  53.8   -16.2310    852  135
    dark   raw/M30           0   18.98   18.69    25.59    35.91     15.43  45.8    36.0893    954  439

and the temporal prior on seeds 1 and 2 (run later, at a load of ~4)::

    light  raw/temporal      1   22.65   18.79    25.19    50.60     16.20  63.9    36.4710    593   36
    light  raw/temporal      2   21.30   18.21    22.44    53.77     14.31  73.6    36.4730    691   27
    dark   raw/temporal      1   20.18   20.87    19.87    33.60     15.93  76.7    37.0299    768   32
    dark   raw/temporal      2   20.27   21.53    17.76    32.00     18.61  80.2    37.0466    686   33

z-scoring the input changes little (the model has a mean and output scale per ROI); 30 inducing
points instead of 15 change the light trial by 0.2 deg (dark -1.5); the temporal GP prior helps
against the centred phase on light (23.2 -> 19.0) but not on dark (20.7 -> 21.6), and against
the z-scored phase by 0.3-1.3 deg. Over seeds 0-2 the temporal prior is the most consistent
candidate: vs the z-scored phase light 23.3 -> 22.4 and dark 21.1 -> 20.2 deg (means; uniform
seeds 1-2 are the separate fits of the ``joint`` table), vs the centred phase light 23.1 -> 18.7 but dark 21.6 ->
21.3 (uniform: 20.7, 22.2, 22.0; temporal: 21.6, 20.9, 21.5), with the gain on the strong-bump
bins, not the faint ones. None brings both trials under 20 deg against the z-scored phase, so
**no default was changed** (see the conclusion for what would justify one).

**5. Joint vs separate fits** (``joint``, default settings, error to the z-scored phase; the joint
fit's latents aligned per trial, and with one alignment for both trials)::

    prior        seed  separate (light, dark)  joint, own alignment  joint, one alignment  joint steps
    uniform         0  23.52  20.52            23.51  19.91          23.21  19.73          963
    uniform         1  23.42  21.33            24.29  19.95          23.69  19.52          864
    uniform         2  23.05  21.40            17.05  23.55          17.21  23.08          738
    temporal_gp     0  23.23  20.19            21.39  20.14          21.69  19.60          877
    temporal_gp     1  22.65  20.18            21.47  20.27          21.42  20.20          842
    temporal_gp     2  21.30  20.27            18.91  20.59          19.81  20.94          611

Fitting both trials jointly (shared tuning curves) leaves the mean error about where it was
(uniform prior, mean over trials and seeds: separate 22.2, joint 21.4 deg), but not trial by
trial: seed 2 found a joint optimum that is 6 deg better on light and 2 deg worse on dark, so no
fit is <= 20 deg on both trials. One common alignment serves both trials as well as per-trial
ones (the tuning is shared, so the two paths live in one frame). With the temporal prior (seeds 1
and 2 at a load of ~4) the joint fit is the closest to the goal: light 21.4 / 21.5 / 18.9, dark
20.1 / 20.3 / 20.6 deg (own alignment; separate temporal fits 23.2 / 22.7 / 21.3 and 20.2 / 20.2 /
20.3), i.e. about 1 deg better than the uniform prior's separate fits and still just above 20 on
the dark trial.

**6. Is the bump phase the truth? Synthetic rings with a known angle** (``hetero``: the path of
``make_ring_recording(n_neurons=16, n_time=500, seed=s)``, von Mises tuning with kappa 3 at evenly
spaced angles, Gaussian noise 0.4, amplitudes all 1 or ``1 + 0.55 cos(angle)`` (3.4-fold range,
as in the light trial); median aligned errors in deg)::

    seed  amplitudes    mGPLVM-truth  PV-truth  mGPLVM-PV
       0  homogeneous         10.12     13.58      10.41
       0  hetero 3.4x         13.54     17.12      13.14
       1  homogeneous         12.08     15.65      11.04
       1  hetero 3.4x          9.93     15.01      12.40
       2  homogeneous         27.85     29.88      17.17
       2  hetero 3.4x         31.08     32.80      18.89

On every run the fitted latent is nearer the true angle than the population-vector phase is, and
yet the two disagree by 10-19 deg, the size of the disagreement on the real trials. Amplitude
heterogeneity alone changes the latent's error by -2 to +3 deg (not a consistent cause).

**7. The temporal prior elsewhere** (``rings``: ``make_ring_recording(n_neurons=16, n_time=500,
noise=0.1, seed=s)``, median error to the true angle, deg, seeds 0/1/2)::

    uniform       3.39   4.57  16.81
    temporal_gp   2.13   2.66   8.42

and on the fly ellipsoid-body recording ``benchmarks/fly_temporal_prior.py`` found 17.5 -> 15.1 deg
to the bump phase and a better held-out log-likelihood on all three seeds.

**Conclusion.** On these two trials the default T1 latent is 20-24 deg from the z-scored bump
phase (19-23 from the centred one). It is not the initialisation (the PCA angle is 9-13 deg from
the phase and the fit moves away from it while the ELBO rises by 3.5 nats/bin), not local optima of
separate fits (three seeds within 1 deg; restarts keeping the best ELBO gain 1 deg), not the
inducing points (15 vs 30), not the input scaling (z-scored vs raw F), and the temporal GP prior
moves it by 0.3-4 deg in either direction depending on the reference. The disagreement
concentrates where the bump is faint (36-48 deg in the weakest quarter of bins, 15-19 deg in the
strongest), and on synthetic rings of similar noise the mGPLVM is *closer to the truth* than the
population-vector phase while disagreeing with it by 10-19 deg: the phase is a noisy reference,
uncertain by itself by 5-8 deg between normalisations (27 deg with an uncentred dF/F). So the
"<= 20 deg to the bump phase on every trial" goal mixes the model's error with the reference's; no
default was changed here. The one change that helped on every data set tried is
``prior="temporal_gp"`` (Turner-Evans: ~1 deg vs the z-scored phase on both trials, 4.4 deg vs the
centred phase on light; synthetic rings: 2.1-8.4 vs 3.4-16.8 deg; fly: 15.1 vs 17.5 deg); making it
the default is a decision for the whole model (other tests, tutorials and the cross-validation
defaults assume the uniform prior) and it still leaves the dark trial at 20.1-20.6 deg. Restricted to the
bins with a strong bump (upper half of the amplitude; same seed-0 fits, one global alignment) the
error is 18.5 (light) and 16.6 (dark) deg, within 20 on both; the PCA angle is 9.8 / 6.9 deg there,
but with 16 evenly spaced ROIs its two leading PCs are nearly the first Fourier mode, i.e. nearly
the population vector itself, so that is agreement by construction, not accuracy. A reference from
an independent channel (the P-EN1 green channel, or the heading in closed loop) was not tried.
The slow test ``tests/models/test_turner_evans_trials.py`` records the joint fit as a non-strict
xfail.

Usage::

    OMP_NUM_THREADS=1 python benchmarks/turner_evans_robustness.py refs
    OMP_NUM_THREADS=1 python benchmarks/turner_evans_robustness.py fits [--seeds 0 1 2] [--configs ...]
    OMP_NUM_THREADS=1 python benchmarks/turner_evans_robustness.py joint [--seeds 0 1 2] [--prior uniform]
    OMP_NUM_THREADS=1 python benchmarks/turner_evans_robustness.py rings [--seeds 0 1 2] [--prior uniform]
    OMP_NUM_THREADS=1 python benchmarks/turner_evans_robustness.py rois [--seeds 0]
    OMP_NUM_THREADS=1 python benchmarks/turner_evans_robustness.py drift [--seeds 0]
    OMP_NUM_THREADS=1 python benchmarks/turner_evans_robustness.py hetero [--seeds 0 1 2]

The trial files are looked up in ``$NEUROLATENT_DATA/turner_evans_2017`` and
``../shared/data/turner_evans_2017``; ``--data FOLDER`` (holding ``turner_evans_2017/``) overrides.
``rings`` is the synthetic-ring check a change of defaults would need (none was made).
"""
from __future__ import annotations

import argparse
import glob
import os
import time

import numpy as np
import torch
import xarray as xr

from neurolatent.datasets import make_ring_recording, read_turner_evans_2017
from neurolatent.manifolds import align_latents
from neurolatent.models import MGPLVM
from neurolatent.models._init import pca_init

CHANNEL = "RROIaveMax"  # jRGECO1a in E-PG neurons (the compass neurons); 16 ROIs around the ellipsoid body


def trial_files(data: str | None) -> list[str]:
    roots = [data] if data else [os.environ.get("NEUROLATENT_DATA", ""), os.path.join("..", "shared", "data")]
    for r in roots:
        files = sorted(glob.glob(os.path.join(r, "turner_evans_2017", "*.mat"))) if r else []
        if files:
            return files
    raise SystemExit("turner_evans_2017/*.mat not found: pass --data FOLDER or set NEUROLATENT_DATA")


def label(path: str) -> str:
    return "dark" if "_Dark_" in os.path.basename(path) else "light"


def pv(Y: np.ndarray) -> np.ndarray:
    """Population vector sum_n y_n exp(i 2 pi n / N) (ROIs ordered around the ring), complex (T,)."""
    n = Y.shape[1]
    return (Y * np.exp(1j * 2 * np.pi * np.arange(n) / n)).sum(1)


def references(F: np.ndarray) -> dict:
    """Bump phases from the raw fluorescence F (T, 16) under three per-ROI normalisations."""
    centred = F - F.mean(0)
    f0 = np.percentile(F, 8, axis=0)
    return {"centred": np.angle(pv(centred)), "zscore": np.angle(pv(centred / F.std(0))),
            "dff": np.angle(pv((F - f0) / f0))}


def zscored(F: np.ndarray) -> np.ndarray:
    return (F - F.mean(0)) / F.std(0)


def error_deg(est: np.ndarray, ref: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    """Median aligned error (deg), per-bin error (deg) and the aligned estimate (one global isometry)."""
    al, err, info = align_latents(est.reshape(len(ref), -1), ref[:, None], "T1")
    return float(np.degrees(info["median_error"])), np.degrees(err), al[:, 0]


def warp_deg(aligned: np.ndarray, ref: np.ndarray, n_bins: int = 8) -> float:
    """Range (max - min) of the circular-mean signed error over ``n_bins`` sectors of the reference phase."""
    d = np.angle(np.exp(1j * (aligned - ref)))
    edges = np.linspace(-np.pi, np.pi, n_bins + 1)
    means = [np.degrees(np.angle(np.exp(1j * d[(ref >= a) & (ref < b)]).mean()))
             for a, b in zip(edges, edges[1:]) if ((ref >= a) & (ref < b)).sum() >= 10]
    return float(np.ptp(means))


def load(path: str) -> xr.DataArray:
    ds = read_turner_evans_2017(path)
    return ds[CHANNEL].astype(float)


def part_refs(files):
    print(f"{'trial':6s} {'ref':8s} {'PCA err':>8s}  (PCA angle of the fitted input vs each reference; deg)")
    for f in files:
        F = load(f).values
        refs = references(F)
        for name, ref in refs.items():
            z = pca_init(F, "T1", np.random.default_rng(0))
            print(f"{label(f):6s} {name:8s} {error_deg(z, ref)[0]:8.2f}")
        print(f"{label(f):6s} centred-vs-zscore references differ by median "
              f"{error_deg(refs['centred'], refs['zscore'])[0]:.2f} deg; pv amplitude quartiles "
              f"{np.round(np.quantile(np.abs(pv(zscored(F))), [.25, .5, .75]), 2).tolist()}")


CONFIGS = {  # name -> (input transform, MGPLVM kwargs)
    "raw/uniform": ("raw", {}),
    "raw/temporal": ("raw", {"prior": "temporal_gp"}),
    "z/uniform": ("z", {}),
    "z/temporal": ("z", {"prior": "temporal_gp"}),
    "raw/M30": ("raw", {"n_inducing": 30}),
}


def fit_one(Y, seed, kwargs, steps):
    t0 = time.perf_counter()
    m = MGPLVM("T1", seed=seed, **kwargs).fit(Y, max_steps=steps, progress=False)
    return m, time.perf_counter() - t0


def part_fits(files, seeds, configs, steps):
    print(f"{'trial':6s} {'config':14s} seed  err(z)  err(c)  err(dff)  low-amp  high-amp  warp   elbo/bin  steps   s")
    for f in files:
        da = load(f)
        F = da.values
        refs = references(F)
        amp = np.abs(pv(zscored(F)))
        lo, hi = amp <= np.quantile(amp, 0.25), amp >= np.quantile(amp, 0.75)
        for c in configs:
            kind, kw = CONFIGS[c]
            Y = da if kind == "raw" else da.copy(data=zscored(F))
            for s in seeds:
                m, sec = fit_one(Y, s, kw, steps)
                lat = m.latents()["mean"].values
                ez, per, al = error_deg(lat, refs["zscore"])
                print(f"{label(f):6s} {c:14s} {s:4d} {ez:7.2f} {error_deg(lat, refs['centred'])[0]:7.2f} "
                      f"{error_deg(lat, refs['dff'])[0]:8.2f} {np.median(per[lo]):8.2f} {np.median(per[hi]):9.2f} "
                      f"{warp_deg(al, refs['zscore']):5.1f} {m.elbo(n_mc=20) / len(F):10.4f} {len(m.elbo_history):6d} "
                      f"{sec:4.0f}", flush=True)


def part_joint(files, seeds, prior, steps, z):
    das = [load(f) for f in files]
    if z:
        das = [d.copy(data=zscored(d.values)) for d in das]
    refs = [references(load(f).values)["zscore"] for f in files]
    kw = {} if prior == "uniform" else {"prior": prior}
    print(f"prior={prior} input={'z' if z else 'raw'}: error to the z-scored bump phase (deg), per trial "
          f"({', '.join(label(f) for f in files)})")
    for s in seeds:
        sep = []
        for d, ref in zip(das, refs):
            m, _ = fit_one(d, s, kw, steps)
            sep.append(error_deg(m.latents()["mean"].values, ref)[0])
        t0 = time.perf_counter()
        j = MGPLVM("T1", seed=s, **kw).fit(das, max_steps=steps, progress=False)
        lat = j.latents()["mean"]
        ests = [lat.isel(trial=k).values[:len(r)] for k, r in enumerate(refs)]
        own = [error_deg(e, r)[0] for e, r in zip(ests, refs)]  # each trial aligned on its own
        common, per, _ = error_deg(np.concatenate(ests), np.concatenate(refs))  # one alignment for both
        cuts = np.cumsum([0] + [len(r) for r in refs])
        one = [float(np.median(per[a:b])) for a, b in zip(cuts, cuts[1:])]
        print(f"seed {s}: separate {np.round(sep, 2).tolist()}  joint (own alignment) {np.round(own, 2).tolist()}  "
              f"joint (one alignment) {np.round(one, 2).tolist()}  joint steps {len(j.elbo_history)} "
              f"{time.perf_counter() - t0:.0f}s", flush=True)


def part_rois(files, seed, steps):
    """Where the fitted latent puts each ROI: its preferred angle vs the even 22.5 deg spacing."""
    for f in files:
        da = load(f)
        F = da.values
        ref = references(F)["zscore"]
        m, _ = fit_one(da, seed, {}, steps)
        e, _, al = error_deg(m.latents()["mean"].values, ref)
        pref = np.angle((np.clip(zscored(F), 0, None) * np.exp(1j * al)[:, None]).sum(0))  # ROI's mean latent when active
        even = 2 * np.pi * np.arange(F.shape[1]) / F.shape[1]
        dev = np.angle(np.exp(1j * (pref - even - np.angle(np.exp(1j * (pref - even)).mean()))))
        print(f"{label(f)} (err {e:.1f} deg): preferred-angle deviation from even spacing (deg) "
              f"{np.round(np.degrees(dev)).astype(int).tolist()}")
        print(f"{label(f)}: ROI modulation std/mean (%) {np.round(100 * F.std(0) / F.mean(0)).astype(int).tolist()}",
              flush=True)


def part_drift(files, seed, steps):
    """Error and ELBO along a default fit of the first trial, and the ELBO with the latents pinned at the phase."""
    da = load(files[0])
    F = da.values
    ref = references(F)["zscore"]
    traj = []

    def cb(st):
        if st.step == 1 or st.step % 100 == 0:
            traj.append((st.step, error_deg(st.model.latent.loc.detach().numpy(), ref)[0], st.elbo / len(F)))

    m = MGPLVM("T1", seed=seed).fit(da, max_steps=steps, progress=False, callback=cb)
    print(f"{label(files[0])}: (step, err deg, elbo/bin) {[(a, round(b, 1), round(c, 2)) for a, b, c in traj]}")
    print(f"free fit: elbo/bin {m.elbo(n_mc=20) / len(F):.4f}", flush=True)
    pinned = error_deg(ref, m.latent.loc.detach().numpy()[:, 0])[2]  # the phase in the fitted frame
    m2 = MGPLVM("T1", seed=seed).fit(da, max_steps=1, progress=False)
    with torch.no_grad():
        m2.latent.loc.copy_(torch.as_tensor(pinned[:, None]))
    m2.latent.loc.requires_grad_(False)  # means fixed; scales, tuning curves and noise learned
    m2.fit(da, max_steps=steps, progress=False, warm_start=True)
    print(f"latent means pinned at the phase: elbo/bin {m2.elbo(n_mc=20) / len(F):.4f}")


def part_hetero(seeds, steps, noise=0.4):
    """Synthetic rings with a known angle: homogeneous vs 3.4-fold heterogeneous ROI amplitudes.

    Compares the fitted latent and the population-vector phase of the z-scored neurons with the
    true angle, and with each other (what the Turner-Evans numbers measure).
    """
    from neurolatent.datasets import ring_tuning

    pref = 2 * np.pi * np.arange(16) / 16
    for s in seeds:
        th = make_ring_recording(n_neurons=16, n_time=500, seed=s)["latent"].values.astype(float)
        rng = np.random.default_rng(100 + s)
        for name, amp in (("homogeneous", np.ones(16)), ("hetero 3.4x", 1 + 0.55 * np.cos(pref))):
            Y = ring_tuning(th, pref, 3.0) * amp + noise * rng.standard_normal((500, 16))
            m, sec = fit_one(Y, s, {}, steps)
            lat = m.latents()["mean"].values
            phase = np.angle(pv(zscored(Y)))
            print(f"seed {s} {name}: mGPLVM-truth {error_deg(lat, th)[0]:.2f}  PV-truth {error_deg(phase, th)[0]:.2f}  "
                  f"mGPLVM-PV {error_deg(lat, phase)[0]:.2f} deg ({sec:.0f}s)", flush=True)


def part_rings(seeds, prior, steps):
    kw = {} if prior == "uniform" else {"prior": prior}
    for s in seeds:
        ds = make_ring_recording(n_neurons=16, n_time=500, noise=0.1, seed=s)
        m, sec = fit_one(ds["dff"], s, kw, steps)
        e = error_deg(m.latents()["mean"].values, ds["latent"].values.astype(float))[0]
        print(f"ring seed {s} prior={prior}: median error to the true angle {e:.2f} deg ({sec:.0f}s)", flush=True)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("part", choices=["refs", "fits", "joint", "rings", "rois", "drift", "hetero"])
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--configs", nargs="+", default=list(CONFIGS), choices=list(CONFIGS))
    ap.add_argument("--prior", default="uniform")
    ap.add_argument("--z", action="store_true", help="joint: fit z-scored ROIs")
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--data", default=None)
    a = ap.parse_args()
    torch.set_num_threads(1)
    if a.part == "rings":
        return part_rings(a.seeds, a.prior, a.steps)
    if a.part == "hetero":
        return part_hetero(a.seeds, a.steps)
    files = trial_files(a.data)
    if a.part == "refs":
        part_refs(files)
    elif a.part == "rois":
        part_rois(files, a.seeds[0], a.steps)
    elif a.part == "drift":
        part_drift(files, a.seeds[0], a.steps)
    elif a.part == "fits":
        part_fits(files, a.seeds, a.configs, a.steps)
    else:
        part_joint(files, a.seeds, a.prior, a.steps, a.z)


if __name__ == "__main__":
    main()
