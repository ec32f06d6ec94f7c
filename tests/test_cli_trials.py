"""``neurolatent fit A.nc B.nc``: several recordings fitted jointly as trials, fit.nc with a ``trial`` dim."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from neurolatent import io
from neurolatent.cli import main
from neurolatent.datasets import make_ring_recording
from neurolatent.fit_pipeline import fit_recording
from neurolatent.models.mgplvm import MGPLVM

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def two_trials(tmp_path) -> tuple[Path, Path]:
    """Two ring recordings of the same 8 neurons, of different lengths (60 and 40 bins, 10 Hz)."""
    light, dark = tmp_path / "light.nc", tmp_path / "dark.nc"
    io.write_netcdf(make_ring_recording(n_neurons=8, n_time=60, seed=1), light)
    io.write_netcdf(make_ring_recording(n_neurons=8, n_time=40, seed=2), dark)
    return light, dark


def _open(path) -> xr.Dataset:
    with xr.open_dataset(path, engine="h5netcdf") as ds:
        return ds.load()


def test_cli_fits_two_files_jointly_and_fit_nc_has_the_trial_dim(two_trials, tmp_path, capsys):
    light, dark = two_trials
    out = tmp_path / "res"
    assert main(["fit", str(light), str(dark), "--out", str(out), "--max-steps", "6", "--quiet"]) == 0
    printed = capsys.readouterr().out
    assert "T1: ran all 6 steps" in printed
    for name in ("fit.nc", "model_T1.pt", "latents_T1_light.png", "latents_T1_dark.png", "tuning_T1.png",
                 "elbo_T1.png"):
        assert (out / name).exists(), name
    assert not (out / "latents_T1.png").exists()  # one latent figure per trial instead
    fit = _open(out / "fit.nc")
    assert fit["trial"].values.tolist() == ["light", "dark"]
    assert fit["n_bins"].values.tolist() == [60, 40]
    assert fit["Y"].dims == ("trial", "time", "neuron") and fit["latent_mean_T1"].dims == ("trial", "time", "coord_T1")
    assert fit["tuning_mean_T1"].dims == ("neuron", "theta_T1")  # shared tuning curves
    # the data round-trip: each trial's rows are its file's activity, NaN past its end
    for k, path in enumerate((light, dark)):
        src = io.read(path)["dff"].transpose("time", "neuron").values
        n = src.shape[0]
        np.testing.assert_allclose(fit["Y"].values[k, :n], src, rtol=1e-6)  # float32 file -> float64
        assert np.isnan(fit["Y"].values[k, n:]).all() and np.isnan(fit["latent_mean_T1"].values[k, n:]).all()
        assert np.isfinite(fit["latent_mean_T1"].values[k, :n]).all()
        np.testing.assert_allclose(fit["trial_time"].values[k, :n], io.read(path)["time"].values, rtol=1e-6)
    # the latents in fit.nc are the saved model's
    model = MGPLVM.load(out / "model_T1.pt")
    assert model.trial_names == ["light", "dark"] and model.trial_lengths == [60, 40]
    np.testing.assert_allclose(fit["latent_mean_T1"].values, model.latents()["mean"].values, equal_nan=True)
    # CF metadata on every variable and coordinate, the trials in the attributes
    for name in list(fit.data_vars) + list(fit.coords):
        assert fit[name].attrs.get("units") and fit[name].attrs.get("long_name"), name
    assert json.loads(fit.attrs["trials"]) == ["light", "dark"]
    assert [Path(p).name for p in json.loads(fit.attrs["trial_sources"])] == ["light.nc", "dark.nc"]
    # the synthetic rings carry their true latent: a per-trial reference error in radians, within [0, pi]
    err = fit["reference_median_error_T1"]
    assert err.dims == ("trial",) and err.attrs["units"] == "rad"
    assert np.all((err.values >= 0) & (err.values <= np.pi))
    # info shows the trials, and the padding is not reported as missing data
    assert main(["info", str(out / "fit.nc")]) == 0
    text = capsys.readouterr().out
    assert "trials:       2: light (60 bins), dark (40 bins)" in text
    assert "warning" not in text


def test_reference_error_matches_an_independent_circular_distance(tmp_path):
    """The stored per-trial error is the median wrapped distance to the best-aligned truth (checked by brute force)."""
    a = make_ring_recording(n_neurons=8, n_time=50, seed=3)
    b = make_ring_recording(n_neurons=8, n_time=30, seed=4)
    paths = fit_recording([a, b], "T1", out_dir=tmp_path / "r", max_steps=8, progress=False)
    fit = _open(paths["fit"])
    assert fit["trial"].values.tolist() == ["0", "1"]
    for k, ds in enumerate((a, b)):
        n = ds.sizes["time"]
        est = fit["latent_mean_T1"].values[k, :n, 0]
        ref = np.asarray(ds["latent"].values, dtype=float)
        best = np.inf  # brute force over reflections and a fine grid of offsets (1e-4 rad)
        for s in (1.0, -1.0):
            offsets = np.linspace(-np.pi, np.pi, 62833)[:, None]
            d = np.abs(np.angle(np.exp(1j * (s * ref[None, :] + offsets - est[None, :]))))
            best = min(best, np.min(np.sum(2 * (1 - np.cos(d)), 1)))
        # the chord-optimal alignment is the one align_latents picks; its median error must be that alignment's
        got = float(fit["reference_median_error_T1"].values[k])
        cands = []
        for s in (1.0, -1.0):
            c = np.angle(np.sum(np.exp(1j * (est - s * ref))))
            resid = np.angle(np.exp(1j * (est - s * ref - c)))  # wrapped to (-pi, pi]
            cands.append((np.sum(1 - np.cos(resid)), np.median(np.abs(resid))))
        expected = min(cands)[1]
        assert got == pytest.approx(expected, abs=1e-6)  # closed-form offset vs align_latents: float64 rounding
        assert min(cands)[0] * 2 <= best + 1e-3  # the closed form is at least as good as the 1e-4 rad grid


def test_single_recording_output_is_unchanged(two_trials, tmp_path):
    light, _ = two_trials
    out = tmp_path / "one"
    assert main(["fit", str(light), "--out", str(out), "--max-steps", "4", "--quiet"]) == 0
    assert (out / "latents_T1.png").exists()
    fit = _open(out / "fit.nc")
    assert "trial" not in fit.dims and fit["Y"].dims == ("time", "neuron") and "trials" not in fit.attrs
    assert not any(v.startswith("reference_") for v in fit.data_vars)


def test_cross_validation_over_trials(two_trials, tmp_path):
    light, dark = two_trials
    out = tmp_path / "cv"
    assert main(["fit", str(light), str(dark), "--manifold", "T1", "--manifold", "R1", "--folds", "2",
                 "--cv-steps", "3", "--max-steps", "3", "--out", str(out), "--quiet"]) == 0
    fit = _open(out / "fit.nc")
    assert fit["cv_log_likelihood"].dims == ("manifold", "fold") and fit.sizes["fold"] == 2
    assert np.isfinite(fit["cv_log_likelihood"].values).all()
    assert fit["latent_mean_R1"].dims == ("trial", "time", "coord_R1")
    assert (out / "latents_R1_dark.png").exists() and (out / "cv.png").exists()


def test_different_neuron_counts_name_the_files(tmp_path, capsys):
    a, b = tmp_path / "a.nc", tmp_path / "b.nc"
    io.write_netcdf(make_ring_recording(n_neurons=8, n_time=30, seed=1), a)
    io.write_netcdf(make_ring_recording(n_neurons=6, n_time=30, seed=1), b)
    out = tmp_path / "res"
    assert main(["fit", str(a), str(b), "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "different neuron counts" in err and f"{a} has 8" in err and f"{b} has 6" in err
    assert "Traceback" not in err and not out.exists()
    with pytest.raises(ValueError, match="different neuron counts"):  # the Python API says the same
        fit_recording([str(a), str(b)], out_dir=out, max_steps=2, progress=False)
    assert not out.exists()


def test_bad_trial_inputs(tmp_path, two_trials):
    light, _ = two_trials
    other = tmp_path / "sub"
    other.mkdir()
    (other / "light.nc").write_bytes(light.read_bytes())
    with pytest.raises(ValueError, match="trial label 'light'"):
        fit_recording([light, other / "light.nc"], out_dir=tmp_path / "r", max_steps=2, progress=False)
    with pytest.raises(ValueError, match="cannot name the trial's figure file"):
        fit_recording({"a/b": light, "c": light}, out_dir=tmp_path / "r", max_steps=2, progress=False)
    with pytest.raises(ValueError, match="empty list"):
        fit_recording([], out_dir=tmp_path / "r", max_steps=2, progress=False)
    with pytest.raises(ValueError, match="too few"):  # folds checked on every trial before any fit
        fit_recording({"a": make_ring_recording(n_neurons=8, n_time=6, seed=0),
                       "b": make_ring_recording(n_neurons=8, n_time=6, seed=1)}, ["T1", "R1"], folds=40,
                      out_dir=tmp_path / "r", max_steps=2, progress=False)
    assert not (tmp_path / "r").exists()


def test_argument_errors_import_no_torch(tmp_path):
    code = ("import sys; from neurolatent_cli import main; "
            "rc = main(['fit', 'x/a.nc', 'y/a.nc']); "
            "assert 'torch' not in sys.modules and 'neurolatent' not in sys.modules, sorted(sys.modules); sys.exit(rc)")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 2, proc.stderr
    assert "would both be trial 'a'" in proc.stderr
    both = code.replace("'x/a.nc', 'y/a.nc'", "'a.nc', '--dataset', 'demo-ring'")
    proc = subprocess.run([sys.executable, "-c", both], capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == 2 and "either a recording path or --dataset" in proc.stderr


@pytest.mark.slow
def test_a_joint_fit_recovers_each_trials_ring():
    """Two synthetic rings (12 neurons, 120 and 80 bins, seeds 1 and 2), 300 steps without early stopping.

    Measured (seed 0): median error 0.10 and 0.21 rad, RMSE 0.15 and 0.23 rad, about 6 s. A fit that
    had mixed up the trials (one path for both, or the wrong trial's bins) would be near the error
    of a random angle, pi/2 median.
    """
    import tempfile

    a = make_ring_recording(n_neurons=12, n_time=120, seed=1)
    b = make_ring_recording(n_neurons=12, n_time=80, seed=2)
    paths = fit_recording({"a": a, "b": b}, "T1", out_dir=tempfile.mkdtemp(), max_steps=300, early_stopping=False,
                          progress=False)
    fit = _open(paths["fit"])
    err = fit["reference_median_error_T1"].values
    assert np.all(err < 0.4), err  # measured 0.10 / 0.21 rad; 0.4 rad leaves room for BLAS/platform differences
    assert np.all(fit["reference_rmse_T1"].values < 0.5)  # measured 0.15 / 0.23 rad; same margin


@pytest.mark.slow
def test_turner_evans_two_trials_through_the_cli(shared_data, tmp_path, capsys):
    """The light and dark trials of Turner-Evans et al. (2017), E-PG channel, fitted jointly by the CLI.

    The ``.mat`` files have no standard layout, so they are read with their loader and written to
    netCDF in ``tmp_path`` first (as a user would with ``neurolatent.io.write_netcdf``). 40 steps
    are far from convergence: the test checks the pipeline (trial layout, per-trial heading error
    finite and within [0, pi], figures), not the fit's quality (tests/models/test_turner_evans_trials.py).
    Measured (seed 0, 40 steps, z-scored RROIaveMax, 750 bins per trial): about 3 s on a shared 2-core machine.
    """
    from neurolatent.datasets import read_turner_evans_2017

    files = sorted((shared_data / "turner_evans_2017").glob("*.mat"))
    if len(files) < 2:
        pytest.skip("the two turner_evans_2017 trial files are absent")
    paths = []
    for f in files:
        p = tmp_path / ("dark.nc" if "_Dark_" in f.name else "light.nc")
        io.write_netcdf(read_turner_evans_2017(f), p)
        paths.append(str(p))
    out = tmp_path / "res"
    assert main(["fit", *paths, "--variable", "RROIaveMax", "--zscore", "--max-steps", "40", "--out", str(out),
                 "--quiet"]) == 0
    fit = _open(out / "fit.nc")
    assert sorted(fit["trial"].values.tolist()) == ["dark", "light"]
    assert fit["n_bins"].values.tolist() == [750, 750] and fit.sizes["neuron"] == 16
    assert fit["time"].attrs["units"] == "1"  # the trials start at different times on the behaviour clock
    err = fit["reference_median_error_T1"].values
    print("median heading error per trial (rad):", dict(zip(fit["trial"].values.tolist(), err.round(3))))
    assert np.all(np.isfinite(err)) and np.all((err >= 0) & (err <= np.pi))  # heading present in both trials
    for lab in ("light", "dark"):
        assert (out / f"latents_T1_{lab}.png").exists()
    assert main(["info", str(out / "fit.nc")]) == 0
    order = ", ".join(f"{Path(p).stem} (750 bins)" for p in paths)  # the trials in the order given
    assert f"trials:       2: {order}" in capsys.readouterr().out
