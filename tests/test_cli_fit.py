"""``neurolatent fit``/``info``: checks before work, datasets by name, a self-describing fit.nc, Ctrl-C."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import xarray as xr

from neurolatent import io
from neurolatent.cli import main
from neurolatent.datasets import make_ring_recording

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def ring_nc(tmp_path) -> Path:
    path = tmp_path / "ring.nc"
    io.write_netcdf(make_ring_recording(n_neurons=8, n_time=60, seed=1), path)
    return path


@pytest.mark.parametrize("extra, expected", [
    (["--manifold", "Q1"], "unknown manifold spec 'Q1'"),
    (["--manifold", "T1", "--manifold", "R1", "--folds", "40"], "too few for 40 folds"),
    (["--device", "nonsense"], "device='nonsense'"),
])
def test_bad_options_fail_before_the_out_folder_exists(ring_nc, tmp_path, capsys, extra, expected):
    out = tmp_path / "res"
    assert main(["fit", str(ring_nc), "--out", str(out), "--quiet", *extra]) == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err
    assert not out.exists()


def test_dff_on_a_placeholder_rate_is_refused_before_work(suite2p_plane0, tmp_path, capsys):
    out = tmp_path / "res"
    assert main(["fit", str(suite2p_plane0), "--dff", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "--dff needs the true frame rate" in err and "--fs" in err
    assert "Warning" not in err  # the reader's raw Python warning is replaced by one note
    assert not out.exists()


def test_cells_only_keeps_curated_rois(tmp_path, capsys):
    plane = tmp_path / "suite2p" / "plane0"
    plane.mkdir(parents=True)
    rng = np.random.default_rng(0)
    np.save(plane / "F.npy", rng.normal(100, 5, (5, 40)).astype(np.float32))
    np.save(plane / "iscell.npy", np.array([[1, .9], [0, .1], [1, .8], [0, .2], [1, .7]]))
    assert main(["info", str(plane), "--fs", "10", "--cells-only"]) == 0
    captured = capsys.readouterr()
    assert "kept 3 of 5 ROIs" in captured.err
    assert "dims:         time: 40, neuron: 3" in captured.out


def test_info_dataset_by_name(fly_dir, capsys):
    assert main(["info", "--dataset", "fly-ellipsoid-body"]) == 0
    out = capsys.readouterr().out
    assert "time: 500, neuron: 16" in out


def test_fit_dataset_writes_a_self_describing_fit_nc(tmp_path, capsys):
    out = tmp_path / "res"
    assert main(["fit", "--dataset", "demo-ring", "--out", str(out), "--max-steps", "12", "--quiet", "--seed", "3"]) == 0
    printed = capsys.readouterr().out
    assert "T1: ran all 12 steps" in printed and "not converged" in printed
    with xr.open_dataset(out / "fit.nc", engine="h5netcdf") as fit:
        fit.load()
    for name in list(fit.data_vars) + list(fit.coords):  # CF: every variable and coordinate
        assert fit[name].attrs.get("units") and fit[name].attrs.get("long_name"), name
    assert fit["time"].attrs["units"] == "s"
    assert fit["latent_mean_T1"].attrs["units"] == "rad" and fit["latent_std_T1"].attrs["units"] == "rad"
    assert fit["theta_T1"].attrs["units"] == "rad" and fit["elbo_T1"].attrs["units"] == "nats"
    np.testing.assert_array_equal(fit["step_T1"].values, np.arange(1, 13))
    a = fit.attrs
    assert a["source_path"] == "dataset:demo-ring" and a["fs"] == 10.0
    assert a["history"].endswith("neurolatent fit --dataset demo-ring --out " + str(out)
                                 + " --max-steps 12 --quiet --seed 3")
    assert "neurolatent.fit_pipeline.fit_recording" in a["source"]
    import neurolatent

    assert a["neurolatent_version"] == neurolatent.__version__
    assert a["max_steps"] == 12 and a["seed"] == 3 and a["lr"] == 0.02 and a["likelihood"] == "gaussian"
    assert json.loads(a["manifolds"]) == ["T1"] and json.loads(a["stop_step"]) == {"T1": 12}
    assert json.loads(a["converged"]) == {"T1": 0} and a["all_converged"] == 0
    assert json.loads(a["early_stopping"])["patience"] > 0
    assert fit["elbo_T1"].attrs["stop_reason"] == "max_steps"
    # info on the result: its source, the rate, the fit record
    assert main(["info", str(out / "fit.nc")]) == 0
    text = capsys.readouterr().out
    assert "path:         dataset:demo-ring" in text and "frame rate:   10 Hz" in text
    assert "T1: 12 steps, NOT converged" in text


def test_summarize_warns_about_nans():
    ds = make_ring_recording(n_neurons=4, n_time=30, seed=0)
    ds["dff"][[3, 7], 1] = np.nan
    text = io.summarize(ds)
    assert "warning:      dff has NaN or inf values in 2 of 30 frames" in text


def test_existing_checkpoint_needs_resume(ring_nc, tmp_path, capsys):
    out = tmp_path / "res"
    out.mkdir()
    (out / "checkpoint_T1.pt").write_bytes(b"")
    assert main(["fit", str(ring_nc), "--out", str(out), "--quiet"]) == 2
    assert "--resume" in capsys.readouterr().err
    empty = tmp_path / "empty"
    assert main(["fit", str(ring_nc), "--out", str(empty), "--resume", "--quiet"]) == 2
    assert "no checkpoint" in capsys.readouterr().err and not empty.exists()


def test_ctrl_c_stops_at_a_step_keeps_a_checkpoint_and_resume_continues(ring_nc, tmp_path):
    out = tmp_path / "res"
    env = {**os.environ, "PYTHONPATH": str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""),
           "OMP_NUM_THREADS": "1"}
    cmd = [sys.executable, "-m", "neurolatent_cli", "fit", str(ring_nc), "--out", str(out),
           "--max-steps", "100000", "--no-early-stopping"]
    err_path = tmp_path / "stderr.txt"
    with open(err_path, "w") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True, env=env)
        ckpt = out / "checkpoint_T1.pt"
        deadline = time.monotonic() + 300
        while not ckpt.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)  # the first checkpoint (step 100) means the fit loop is running
        assert ckpt.exists(), err_path.read_text()
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=120)
    stderr = err_path.read_text()
    assert proc.returncode == 130, stderr
    assert "Traceback" not in stderr
    line = [ln for ln in stderr.splitlines() if "interrupted" in ln]
    assert len(line) == 1 and "--resume" in line[0] and "not converged" in line[0]
    import torch

    state = torch.load(ckpt, weights_only=True)
    assert state["extra"]["stop_reason"] == "interrupted"
    stopped = int(state["step"])
    assert stopped >= 100 and state["history"]["step"] == list(range(1, stopped + 1))
    assert not (out / "fit.nc").exists()
    # --resume continues from that step up to the (new) bound and then cleans the checkpoint up
    assert main(["fit", str(ring_nc), "--out", str(out), "--max-steps", str(stopped + 15),
                 "--no-early-stopping", "--resume", "--quiet"]) == 0
    with xr.open_dataset(out / "fit.nc", engine="h5netcdf") as fit:
        elbo = fit["elbo_T1"].values
    assert elbo.size == stopped + 15
    np.testing.assert_allclose(elbo[:stopped], state["history"]["elbo"])  # the same history, continued
    assert not ckpt.exists()


def test_a_fit_that_fails_midway_leaves_no_empty_folder(ring_nc, tmp_path, capsys, monkeypatch):
    from neurolatent.models.mgplvm import MGPLVM

    def diverge(self, *a, **k):
        raise FloatingPointError("the objective became nan at step 3; try a smaller lr=")

    monkeypatch.setattr(MGPLVM, "fit", diverge)
    out = tmp_path / "res"
    assert main(["fit", str(ring_nc), "--out", str(out), "--quiet"]) == 2
    assert "smaller lr" in capsys.readouterr().err
    assert not out.exists()
