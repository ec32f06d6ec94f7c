"""read_nwb on NWB files written with pynwb in the test."""
from __future__ import annotations

import sys

import numpy as np
import pytest

import neurolatent.io as nio
from neurolatent.io import RecordingDataWarning, RecordingFormatError, RecordingNotFoundError


def test_rate_variant_values_ids_and_centres(nwb_factory):
    path, ref = nwb_factory()
    ds = nio.read_nwb(path)
    # two containers share the series name 'RoiResponseSeries': prefixed by container
    assert sorted(ds.data_vars) == ["DfOverF_RoiResponseSeries", "Fluorescence_RoiResponseSeries"]
    np.testing.assert_array_equal(ds.Fluorescence_RoiResponseSeries.values, ref["F"].astype(np.float32))
    np.testing.assert_array_equal(ds.DfOverF_RoiResponseSeries.values, ref["dFF"].astype(np.float32))
    np.testing.assert_array_equal(ds.neuron.values, ref["ids"])  # ids of the PlaneSegmentation rows
    np.testing.assert_allclose(ds.time.values, ref["times"], rtol=0, atol=1e-12)  # 2.0 + k / 20
    assert ds.attrs["fs"] == 20.0 and ds.attrs["source"].startswith("NWB")
    yy = np.arange(5)[None, :, None]
    xx = np.arange(4)[None, None, :]
    m = ref["masks"]
    np.testing.assert_allclose(ds.roi_y.values, (m * yy).sum((1, 2)) / m.sum((1, 2)), rtol=1e-12)
    np.testing.assert_allclose(ds.roi_x.values, (m * xx).sum((1, 2)) / m.sum((1, 2)), rtol=1e-12)


def test_timestamps_variant(nwb_factory):
    path, ref = nwb_factory(timestamps=True, dff=False)
    ds = nio.read_nwb(path)
    assert list(ds.data_vars) == ["RoiResponseSeries"]
    np.testing.assert_array_equal(ds.time.values, ref["times"])
    assert ds.attrs["fs"] == pytest.approx(1 / np.median(np.diff(ref["times"])), rel=1e-12)
    assert ds.attrs["fs_origin"] == "timestamps"


@pytest.mark.filterwarnings("ignore:.*(oriented incorrectly|Your data may be transposed).*:UserWarning")
@pytest.mark.parametrize("timestamps", [False, True])
def test_transposed_series(nwb_factory, timestamps):
    path, ref = nwb_factory(transposed=True, dff=False, timestamps=timestamps, n_rois=3, n_time=40)
    with pytest.warns(RecordingDataWarning, match="transposed"):
        ds = nio.read_nwb(path)
    np.testing.assert_array_equal(ds.RoiResponseSeries.values, ref["F"].astype(np.float32))


def test_series_selection(nwb_factory):
    path, ref = nwb_factory()
    ds = nio.read_nwb(path, series="DfOverF/RoiResponseSeries")
    assert list(ds.data_vars) == ["DfOverF_RoiResponseSeries"]
    with pytest.raises(RecordingFormatError, match="matches 2 series"):
        nio.read_nwb(path, series="RoiResponseSeries")
    with pytest.raises(RecordingFormatError, match="available"):
        nio.read_nwb(path, series="nope")


def test_netcdf_round_trip(nwb_factory, tmp_path):
    path, _ = nwb_factory()
    ds = nio.read(path)
    assert nio.read_netcdf(nio.write_netcdf(ds, tmp_path / "nwb.nc")).identical(ds)


def test_no_ophys_module(nwb_factory):
    path, _ = nwb_factory(ophys=False)
    with pytest.raises(RecordingFormatError, match=r"no 'ophys' processing module.*processing/ophys"):
        nio.read_nwb(path)


def test_missing_and_corrupt(nwb_factory, tmp_path):
    with pytest.raises(RecordingNotFoundError):
        nio.read_nwb(tmp_path / "none.nwb")
    path, _ = nwb_factory()
    bad = tmp_path / "cut.nwb"
    bad.write_bytes(path.read_bytes()[:2000])
    with pytest.raises(RecordingFormatError, match=r"cut\.nwb.*could not be read as an NWB file"):
        nio.read(bad)


def test_missing_pynwb_names_the_extra(nwb_factory, monkeypatch):
    path, _ = nwb_factory(dff=False)
    monkeypatch.setitem(sys.modules, "pynwb", None)  # makes `import pynwb` raise ImportError
    with pytest.raises(ImportError, match=r"pip install 'neurolatent\[nwb\]'"):
        nio.read_nwb(path)
