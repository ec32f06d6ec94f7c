"""Generic MATLAB reader: v5 works, v7.3 (HDF5) is rejected with a pointer to h5py."""
from __future__ import annotations

import h5py
import numpy as np
import pytest
import scipy.io

import neurolatent.io as nio
from neurolatent.io import RecordingFormatError, RecordingNotFoundError


def test_v5_round_trip(tmp_path, rng):
    Y = rng.random((3, 4))
    p = tmp_path / "a.mat"
    scipy.io.savemat(p, {"Y": Y, "s": {"t": np.arange(3.0)}})
    m = nio.read_matlab(p)
    np.testing.assert_array_equal(m["Y"], Y)
    np.testing.assert_array_equal(m["s"].t, np.arange(3.0))
    assert not any(k.startswith("__") for k in m)


def _write_v73(path):
    """A MATLAB v7.3 file: HDF5 with a 512-byte user block holding MATLAB's text header."""
    with h5py.File(path, "w", userblock_size=512) as f:
        f["Y"] = np.ones((4, 3))
    header = b"MATLAB 7.3 MAT-file, Platform: GLNXA64, Created on: Mon Jan  1 00:00:00 2024 HDF5 schema 1.00 ."
    with open(path, "r+b") as fh:
        fh.write(header.ljust(116, b" ") + b"\x00" * 8 + b"\x00\x02IM")


def test_v73_points_to_h5py(tmp_path):
    p = tmp_path / "big.mat"
    _write_v73(p)
    with h5py.File(p, "r") as f:  # the file really is readable with h5py
        assert f["Y"].shape == (4, 3)
    with pytest.raises(RecordingFormatError, match=r"big\.mat.*v7\.3.*h5py"):
        nio.read_matlab(p)


def test_missing_and_garbage(tmp_path):
    with pytest.raises(RecordingNotFoundError):
        nio.read_matlab(tmp_path / "x.mat")
    p = tmp_path / "g.mat"
    p.write_bytes(b"\x00garbage" * 20)
    with pytest.raises(RecordingFormatError, match="MAT-file"):
        nio.read_matlab(p)
