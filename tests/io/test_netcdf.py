"""write_netcdf/read_netcdf: lossless round trip, atomic writes, and nothing written when reading fails."""
from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

import neurolatent.io as nio
from neurolatent.datasets import make_ring_recording
from neurolatent.io import RecordingFormatError, RecordingNotFoundError


def test_round_trip_keeps_values_dtypes_coords_attrs(tmp_path, rng):
    ds = make_ring_recording(n_neurons=5, n_time=30, seed=3)
    ds = ds.assign_coords(iscell=("neuron", np.array([True, False, True, True, False])),
                          npix=("neuron", np.arange(5, dtype=np.int32)))
    ds.attrs.update(flag=True, nothing=None, nested={"a": [1, 2.5, "x"], "b": {"c": False}}, names=["a", "b"])
    ds["dff"].attrs["meta"] = {"k": True}
    back = nio.read_netcdf(nio.write_netcdf(ds, tmp_path / "r.nc"))
    assert back.identical(ds)
    for name in ds.variables:
        assert back[name].dtype == ds[name].dtype, name
    assert back.iscell.dtype == bool and back.attrs["flag"] is True and back.attrs["nothing"] is None
    assert back.attrs["nested"] == {"a": [1, 2.5, "x"], "b": {"c": False}}
    assert json.loads(back.attrs["provenance"])[0]["step"] == "make_ring_recording"


def test_overwrite_and_no_temporary_files_left(tmp_path):
    ds = make_ring_recording(n_neurons=3, n_time=10)
    p = tmp_path / "x.nc"
    nio.write_netcdf(ds, p)
    nio.write_netcdf(ds.isel(time=slice(0, 5)), p)  # readers close the file: overwriting works
    assert nio.read_netcdf(p).sizes["time"] == 5
    assert sorted(f.name for f in tmp_path.iterdir()) == ["x.nc"]


def test_failed_write_leaves_nothing_and_keeps_old_file(tmp_path):
    ds = make_ring_recording(n_neurons=3, n_time=10)
    bad = ds.assign(obj=("time", np.array([object()] * 10, dtype=object)))  # not serialisable
    p = tmp_path / "new.nc"
    with pytest.raises(Exception):
        nio.write_netcdf(bad, p)
    assert list(tmp_path.iterdir()) == []
    old = tmp_path / "old.nc"
    nio.write_netcdf(ds, old)
    with pytest.raises(Exception):
        nio.write_netcdf(bad, old)
    assert nio.read_netcdf(old).identical(ds)
    assert sorted(f.name for f in tmp_path.iterdir()) == ["old.nc"]


def test_convert_of_failing_read_writes_nothing(tmp_path, caiman_factory):
    """What `neurolatent convert bad out.nc` does: read fails, so no output file appears."""
    path, _ = caiman_factory()
    bad = tmp_path / "cut.hdf5"
    bad.write_bytes(path.read_bytes()[:500])
    out = tmp_path / "out.nc"
    for src in (bad, tmp_path / "missing_folder"):
        with pytest.raises(nio.RecordingError):
            nio.write_netcdf(nio.read(src), out)
        assert not out.exists()
    assert not any(f.name.startswith(".out.nc") for f in tmp_path.iterdir())


def test_write_needs_dataset_and_existing_folder(tmp_path):
    with pytest.raises(TypeError, match="Dataset"):
        nio.write_netcdf(xr.DataArray([1.0]), tmp_path / "a.nc")
    with pytest.raises(FileNotFoundError, match="does not exist"):
        nio.write_netcdf(make_ring_recording(n_time=5), tmp_path / "no" / "a.nc")


def test_read_missing_and_corrupt(tmp_path):
    with pytest.raises(RecordingNotFoundError):
        nio.read_netcdf(tmp_path / "none.nc")
    p = tmp_path / "bad.nc"
    p.write_bytes(b"not a netcdf file" * 10)
    with pytest.raises(RecordingFormatError, match="netCDF"):
        nio.read(p)
