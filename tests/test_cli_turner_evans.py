"""``neurolatent info`` / ``convert`` on Turner-Evans et al. (2017) trial .mat files, and binning their heading."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

from neurolatent import io
from neurolatent.cli import main
from neurolatent.datasets import read_turner_evans_2017
from neurolatent.datasets.turner_evans import is_turner_evans_2017
from neurolatent.preprocessing import bin_time


@pytest.fixture(scope="module")
def trial(shared_data):
    files = sorted((shared_data / "turner_evans_2017").glob("*.mat"))
    if not files:
        pytest.skip("no turner_evans_2017 trial .mat file in the shared data")
    return files[0]


def test_info_and_convert_read_the_trial_file(trial, tmp_path, capsys):
    assert is_turner_evans_2017(trial)
    assert main(["info", str(trial)]) == 0
    out = capsys.readouterr().out
    assert "Turner-Evans" in out and "neuron: 16" in out
    nc = tmp_path / "trial.nc"
    assert main(["convert", str(trial), str(nc)]) == 0
    back, ref = io.read(nc), read_turner_evans_2017(trial)
    np.testing.assert_array_equal(back["RROIaveMax"].values, ref["RROIaveMax"].values)  # lossless float32
    np.testing.assert_allclose(back["time"].values, ref["time"].values, rtol=0, atol=1e-12)
    capsys.readouterr()
    assert main(["info", str(trial), "--fs", "10"]) != 0  # a file with its own volume times takes no --fs
    assert "drop --fs" in capsys.readouterr().err


def test_other_mat_files_keep_the_format_message(tmp_path, capsys):
    import scipy.io

    other = tmp_path / "other.mat"
    scipy.io.savemat(other, {"F": np.ones((3, 4))})
    assert not is_turner_evans_2017(other)
    assert main(["info", str(other)]) != 0
    assert "read_matlab" in capsys.readouterr().err


def test_binning_the_heading_with_nan_edges_is_silent(trial):
    ds = read_turner_evans_2017(trial)
    assert bool(ds.heading.isnull().any())  # volumes outside the behaviour clock
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # numpy's "Mean of empty slice" was one
        b = bin_time(ds, 6 / ds.attrs["fs"])  # exactly 6 volumes per bin
    h = ds.heading.values[: b.sizes["time"] * 6].reshape(-1, 6).astype(float)
    empty = np.isnan(h).all(1)
    assert np.isnan(b.heading.values[empty]).all() and np.isfinite(b.heading.values[~empty]).all()
    # circular mean of the finite samples of each bin (float32 heading: 1e-5 rad)
    ref = np.mod(np.angle(np.nanmean(np.exp(1j * h[~empty]), axis=1)), 2 * np.pi)
    d = np.angle(np.exp(1j * (b.heading.values[~empty] - ref)))
    assert np.max(np.abs(d)) < 1e-5
