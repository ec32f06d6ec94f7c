# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 01 · Loading calcium-imaging recordings
#
# Every reader in `neurolatent.io` returns the same `xarray.Dataset`: dims `("time", "neuron")`,
# `time` in seconds, `neuron` = the ROI index in the source tool, float32 traces, and attrs
# `fs`, `source`, `source_path` and a `provenance` list. This tutorial
#
# 1. reads a suite2p folder (the real example in `../shared/data` when present, otherwise a small
#    suite2p-like folder written here),
# 2. preprocesses it (neuropil, dF/F, cell selection, binning, z-scoring),
# 3. saves and reloads it losslessly as netCDF,
# 4. loads the Drosophila ellipsoid-body recording and a synthetic ring recording.

# %%
import json
import os
import tempfile
import warnings
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np

import neurolatent.datasets as nld
import neurolatent.io as nio
import neurolatent.preprocessing as pp

QUICK = bool(os.environ.get("NEUROLATENT_QUICK"))
workdir = Path(tempfile.mkdtemp(prefix="nl_tutorial01_"))
out_dir = Path("_output") if Path("_output").is_dir() else workdir

# %% [markdown]
# ## 1. A suite2p folder
# `nio.read` recognises a suite2p plane folder (or its parent with `plane0`, `plane1`, ...).
# The example's `ops.npy` stores the placeholder frame rate 1.0, so reading it warns; pass the
# true rate with `fs=` (here an assumed 30 Hz, for illustration).

# %%
example = nld._paths.REPO_SHARED_DATA / "suite2p_example" / "plane0"
if os.environ.get("NEUROLATENT_DATA"):
    example = Path(os.environ["NEUROLATENT_DATA"]) / "suite2p_example" / "plane0"
if not (example / "F.npy").is_file():
    # no real data here: write a small suite2p-like folder from the synthetic ring recording
    ring = nld.make_ring_recording(n_neurons=12, n_time=600, noise=0.05, fs=30.0, seed=0)
    example = workdir / "suite2p" / "plane0"
    example.mkdir(parents=True)
    F = 200 + 100 * ring.dff.values.T
    np.save(example / "F.npy", F.astype(np.float32))
    np.save(example / "Fneu.npy", (50 + 0 * F).astype(np.float32))
    np.save(example / "iscell.npy", np.c_[np.ones(12), np.full(12, 0.9)])
    np.save(example / "ops.npy", {"fs": 1.0, "neucoeff": 0.7}, allow_pickle=True)

with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    raw = nio.read(example)
print("warning:", caught[0].message if caught else None)

ds = nio.read(example, fs=30.0)
print(nio.summarize(ds))

# %% [markdown]
# The traces are the suite2p arrays, transposed to (time, neuron):

# %%
assert np.array_equal(ds.F.values, np.load(example / "F.npy").T)
ds

# %% [markdown]
# ## 2. Preprocessing
# Each step returns a new Dataset and appends itself to `attrs["provenance"]`.
# `dff` uses a running 8th percentile over `window_s` seconds as the baseline F0 and returns
# (F - F0) / F0.

# %%
cells = pp.select_cells(ds)
corrected = pp.neuropil_correct(cells)  # coefficient from ops["neucoeff"] (0.7 here)
with warnings.catch_warnings():
    warnings.simplefilter("ignore", nio.RecordingDataWarning)  # ROIs with F0 <= 0 become NaN
    d = pp.dff(corrected, window_s=10.0 if QUICK else 30.0, q=8)
binned = pp.bin_time(d, 0.1)  # 3 frames per bin at 30 Hz
z = pp.zscore(binned, "dff")
print([step["step"] for step in json.loads(z.attrs["provenance"])])
print(nio.summarize(z))

# %%
fig, ax = plt.subplots(figsize=(7, 3))
ax.imshow(z.dff.T, aspect="auto", cmap="viridis",
          extent=[float(z.time[0]), float(z.time[-1]), z.sizes["neuron"], 0], vmin=-2, vmax=4)
ax.set(xlabel="time (s)", ylabel="cell", title="z-scored dF/F")
fig.tight_layout()
fig.savefig(out_dir / "01_dff.png", dpi=80)

# %% [markdown]
# ## 3. Lossless netCDF
# `write_netcdf` writes to a temporary file and renames it, so a failure never leaves a partial
# file; `read_netcdf` returns an identical Dataset (values, dtypes, coordinates, attrs).

# %%
path = nio.write_netcdf(z, workdir / "recording.nc")
back = nio.read_netcdf(path)
print("identical after round trip:", back.identical(z))
assert back.identical(z)

# %% [markdown]
# ## 4. The fly ellipsoid body and a synthetic ring
# `load_fly_ellipsoid_body()` finds the data through its argument, `$NEUROLATENT_DATA` or
# `../shared/data`. Its bins have no stored duration, so `time` is the bin index (see
# `attrs["fs_note"]`). The E-PG bump phase (population vector over the 16 ROIs ordered around the
# ring) follows the heading up to a drifting offset.

# %%
try:
    fly = nld.load_fly_ellipsoid_body()
except nio.RecordingNotFoundError as exc:
    print("fly data not available:", str(exc)[:120], "...")
    fly = None
if fly is not None:
    print(nio.summarize(fly))
    phase = np.angle((fly.dff * np.exp(2j * np.pi * np.arange(16) / 16)).sum("neuron"))
    fig, ax = plt.subplots(figsize=(7, 2.5))
    ax.plot(fly.time, np.mod(phase, 2 * np.pi), ".", ms=2, label="bump phase")
    ax.plot(fly.time, fly.heading, ".", ms=2, label="heading")
    ax.set(xlabel="bin", ylabel="angle (rad)")
    ax.legend()
    fig.savefig(out_dir / "01_fly.png", dpi=80)

# %%
ring = nld.make_ring_recording(n_neurons=16, n_time=200 if QUICK else 1000, noise=0.1, seed=0)
pv = np.angle((ring.dff.values * np.exp(1j * ring.preferred_angle.values)).sum(1))
err = np.angle(np.exp(1j * (pv - ring.latent.values)))
print(f"population-vector decoding error on the synthetic ring: {np.degrees(np.sqrt(np.mean(err ** 2))):.1f} deg")
plt.close("all")
