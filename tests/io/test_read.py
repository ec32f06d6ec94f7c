"""nl.io.read dispatch and nl.io.summarize."""
from __future__ import annotations

import numpy as np
import pytest

import neurolatent.io as nio
from neurolatent.io import RecordingDataWarning, RecordingFormatError


def test_dispatch_each_format(tmp_path, suite2p_factory, caiman_factory, nwb_factory, rng):
    folder = suite2p_factory(F=rng.random((2, 6)) + 1)
    assert nio.read(folder).attrs["source"].startswith("suite2p")
    assert nio.read(folder / "F.npy", fs=2.0).attrs["fs"] == 2.0
    path, _ = caiman_factory()
    assert nio.read(path).attrs["source"] == "CaImAn"
    h5 = tmp_path / "results.h5"
    h5.write_bytes(path.read_bytes())
    assert nio.read(h5).attrs["source"] == "CaImAn"
    nwb, _ = nwb_factory(dff=False)
    assert nio.read(nwb).attrs["source"].startswith("NWB")
    nwb_h5 = tmp_path / "rec.h5"
    nwb_h5.write_bytes(nwb.read_bytes())
    assert nio.read(nwb_h5).attrs["source"].startswith("NWB")
    nc = nio.write_netcdf(nio.read(folder), tmp_path / "x.nc")
    assert nio.read(nc).identical(nio.read(folder))


def test_unknown_inputs(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(RecordingFormatError, match="suite2p"):
        nio.read(tmp_path / "empty")
    txt = tmp_path / "a.csv"
    txt.write_text("1,2")
    with pytest.raises(RecordingFormatError, match=r"\.csv.*expected"):
        nio.read(txt)
    mat = tmp_path / "a.mat"
    mat.write_bytes(b"x")
    with pytest.raises(RecordingFormatError, match="read_matlab"):
        nio.read(mat)


def test_summarize_real_suite2p(suite2p_plane0):
    with pytest.warns(RecordingDataWarning):
        ds = nio.read(suite2p_plane0)
    text = nio.summarize(ds)
    assert "suite2p" in text and "time: 864, neuron: 23" in text
    assert "1 Hz" in text and "suspect" in text  # placeholder frame rate flagged
    assert "21 of 23 labelled cells (iscell)" in text  # iscell.npy has 21 ones
    assert int(np.load(suite2p_plane0 / "iscell.npy")[:, 0].sum()) == 21
    assert "F (time, neuron) float32" in text and "863 s" in text


def test_summarize_cells_only(suite2p_plane0):
    ds = nio.read(suite2p_plane0, fs=10.0, cells_only=True)
    text = nio.summarize(ds)
    assert "21 of 23 ROIs" in text and "10 Hz" in text


def test_fs_is_rejected_for_self_timed_formats(nwb_factory, tmp_path):
    nwb, _ = nwb_factory(dff=False)
    with pytest.raises(nio.FrameRateError, match="fs= applies to suite2p and CaImAn"):
        nio.read(nwb, fs=10.0)
