"""The ``neurolatent`` command: help, version, info and convert on the real suite2p example."""
from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

import neurolatent
from neurolatent.cli import main


def test_version(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert neurolatent.__version__ in capsys.readouterr().out


def test_help_lists_subcommands(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    for command in ("info", "convert", "fit", "demo", "theory"):
        assert command in out


def test_console_script_installed():
    result = subprocess.run([sys.executable, "-m", "neurolatent.cli", "--version"], capture_output=True, text=True)
    assert result.returncode == 0 and neurolatent.__version__ in result.stdout


def test_info_suite2p_warns_placeholder_fs(suite2p_plane0, capsys):
    assert main(["info", str(suite2p_plane0)]) == 0
    captured = capsys.readouterr()
    assert "suite2p" in captured.out
    assert "23" in captured.out and "864" in captured.out  # 23 ROIs x 864 frames
    assert "--fs" in captured.err  # the placeholder-fs note says how to pass the frame rate
    assert "Warning" not in captured.err and "read.py" not in captured.err  # one line, not a raw Python warning


def test_convert_roundtrip(suite2p_plane0, tmp_path):
    from neurolatent import io

    out = tmp_path / "rec.nc"
    assert main(["convert", str(suite2p_plane0), str(out), "--fs", "30"]) == 0
    ds = io.read_netcdf(out)
    raw = np.load(suite2p_plane0 / "F.npy")
    np.testing.assert_array_equal(ds["F"].values, raw.T.astype(np.float32))  # exact copy, no arithmetic
    assert ds.attrs["fs"] == 30.0


def test_missing_recording_is_one_line_error(tmp_path, capsys):
    assert main(["info", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert "nope" in err and "Traceback" not in err


def test_convert_rejects_non_nc_and_writes_nothing(suite2p_plane0, tmp_path, capsys):
    out = tmp_path / "rec.csv"
    assert main(["convert", str(suite2p_plane0), str(out), "--fs", "30"]) == 2
    assert not out.exists()
    assert ".nc" in capsys.readouterr().err


@pytest.mark.slow
def test_demo_writes_fit_and_figures(tmp_path, capsys):
    out = tmp_path / "demo"
    assert main(["demo", "--out", str(out), "--quiet"]) == 0
    import xarray as xr

    with xr.open_dataset(out / "fit.nc", engine="h5netcdf") as fit:
        assert "time" in fit.dims
        assert any("mean" in name for name in fit.data_vars), list(fit.data_vars)
    pngs = sorted(out.glob("*.png"))
    assert len(pngs) >= 2, f"expected figures in {out}, found {pngs}"


@pytest.mark.slow
def test_fit_two_manifolds_writes_cv_table(tmp_path):
    from neurolatent.datasets import make_ring_recording
    from neurolatent import io

    rec = tmp_path / "ring.nc"
    io.write_netcdf(make_ring_recording(n_neurons=12, n_time=200, seed=1), rec)
    out = tmp_path / "res"
    assert main(["fit", str(rec), "--manifold", "T1", "--manifold", "R1", "--out", str(out),
                 "--max-steps", "300", "--cv-steps", "100", "--quiet"]) == 0
    import xarray as xr

    assert (out / "fit.nc").exists()
    with xr.open_dataset(out / "fit.nc", engine="h5netcdf") as fit:
        assert fit.sizes["time"] == 200
