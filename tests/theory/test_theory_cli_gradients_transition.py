"""``neurolatent theory gradients`` and ``neurolatent theory transition``: results, files, usage errors."""
from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

from neurolatent_cli import main


@pytest.mark.parametrize("argv, expected", [
    (["theory", "gradients", "--model", "vanilla", "--g-h", "2"], "--g-h is not a parameter of --model vanilla"),
    (["theory", "gradients", "--model", "gru", "--g-h", "2"], "invalid choice: 'gru'"),
    (["theory", "transition", "--alpha-r", "x"], "--alpha-r expects comma-separated numbers"),
    (["theory", "transition", "--g-h", "1:3"], "a grid is start:stop:num"),
    (["theory", "transition", "--xtol", "0"], "--xtol must be > 0"),
    (["theory", "transition", "--alpha-z", "-1"], "--alpha-z must be >= 0"),
    (["theory", "transition", "--alpha-z", "2", "--n-paths", "1"], "--n-paths must be >= 2"),
])
def test_usage_errors_are_one_line_before_any_work(argv, expected, capsys):
    try:
        rc = main(argv)
    except SystemExit as e:  # argparse's own errors (bad choice) exit with 2 too
        rc = e.code
    err = capsys.readouterr().err
    assert rc == 2 and expected in err, err


def test_gradients_command_matches_the_api_and_writes_files(tmp_path, capsys):
    from neurolatent.theory import VanillaRNN, gradient_dmft

    out, png = tmp_path / "g.nc", tmp_path / "g.png"
    assert main(["theory", "gradients", "--model", "vanilla", "--g", "2", "--out", str(out), "--plot", str(png)]) == 0
    printed = json.loads(capsys.readouterr().out)
    ref = gradient_dmft(VanillaRNN(2.0))
    # the same deterministic Gaussian-route computation: equal to round-off
    assert printed["rate"] == pytest.approx(ref.rate, rel=1e-12)
    # the asymptotic rate is the mean-field lambda_max (similar operators; gradients.py docstring)
    assert printed["rate_asymptotic"] == pytest.approx(printed["lambda_max"], abs=1e-5)
    with xr.open_dataset(out, engine="h5netcdf") as ds:
        np.testing.assert_allclose(ds["norm2"].values, ref.norm2, rtol=1e-12)
    assert png.stat().st_size > 0


@pytest.mark.slow
def test_transition_command_lines(tmp_path, capsys):
    out = tmp_path / "t.nc"
    assert main(["theory", "transition", "--alpha-r", "1,16", "--xtol", "0.05", "--out", str(out)]) == 0
    lines = json.loads(capsys.readouterr().out)["lines"]
    # below the tricritical alpha_r = 2 sqrt 2 the static line is the zero fixed point's g_h = 2 exactly
    # (fixed_points docstring); far above it static solutions appear by a saddle-node before chaos
    assert lines["1.0"]["g_static"] == pytest.approx(2.0, abs=1e-6)
    assert lines["16.0"]["g_static"] < lines["16.0"]["g_chaos"] - 0.05
    with xr.open_dataset(out, engine="h5netcdf") as ds:
        assert set(ds["alpha_r"].values) == {1.0, 16.0}
