"""read_caiman on synthetic files in CaImAn's cnmf.save layout (CaImAn itself is not needed)."""
from __future__ import annotations

import h5py
import numpy as np
import pytest

import neurolatent.io as nio
from neurolatent.io import FrameRateError, RecordingDataWarning, RecordingFormatError, RecordingNotFoundError


@pytest.mark.parametrize("bytes_none", [False, True])
def test_values_and_layout(caiman_factory, bytes_none):
    path, ref = caiman_factory(bytes_none=bytes_none)
    ds = nio.read_caiman(path)
    assert sorted(ds.data_vars) == ["C", "S", "YrA"]  # F_dff holds 'NoneType': skipped
    for name in ("C", "S", "YrA"):
        # float64 in the file -> float32: equal to float32 rounding of the transposed array
        np.testing.assert_array_equal(ds[name].values, ref[name].T.astype(np.float32))
        assert ds[name].dims == ("time", "neuron") and ds[name].dtype == np.float32
    assert ds.attrs["fs"] == 15.0 and ds.attrs["source"] == "CaImAn"
    np.testing.assert_allclose(ds.time.values, np.arange(30) / 15.0, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(ds.accepted.values, [True, False, True, True])
    assert ds.attrs["decay_time"] == 0.4


def test_roi_centres_against_dense_footprints(caiman_factory):
    path, ref = caiman_factory()
    ds = nio.read_caiman(path)
    A, (d1, d2) = ref["A"], ref["dims"]
    # independent reference: reshape each dense column to the image (Fortran order, as CaImAn does)
    for k in range(A.shape[1]):
        img = A[:, k].reshape(d1, d2, order="F")
        yy, xx = np.mgrid[0:d1, 0:d2]
        assert ds.roi_y.values[k] == pytest.approx((img * yy).sum() / img.sum(), rel=1e-12)
        assert ds.roi_x.values[k] == pytest.approx((img * xx).sum() / img.sum(), rel=1e-12)
        assert ds.npix.values[k] == np.count_nonzero(img)


def test_f_dff_present(caiman_factory, rng):
    fdff = rng.standard_normal((4, 30))
    path, _ = caiman_factory(f_dff=fdff)
    np.testing.assert_array_equal(nio.read_caiman(path).F_dff.values, fdff.T.astype(np.float32))


def test_no_idx_components_means_no_accepted_coord(caiman_factory):
    path, _ = caiman_factory(idx_components=None)
    assert "accepted" not in nio.read_caiman(path).coords


def test_fs_rules(caiman_factory):
    path, _ = caiman_factory(fr=30.0)
    with pytest.warns(RecordingDataWarning, match="CaImAn's default"):
        nio.read_caiman(path)
    assert nio.read_caiman(path, fs=12.5).attrs["fs"] == 12.5
    with pytest.raises(FrameRateError):
        nio.read_caiman(path, fs=0)
    path2, _ = caiman_factory("nofr.hdf5", fr=None)
    with pytest.raises(FrameRateError, match="fs="):
        nio.read_caiman(path2)


def test_netcdf_round_trip(caiman_factory, tmp_path):
    path, _ = caiman_factory()
    ds = nio.read(path)
    back = nio.read_netcdf(nio.write_netcdf(ds, tmp_path / "cm.nc"))
    assert back.identical(ds)
    assert back.accepted.dtype == bool


def test_missing_file(tmp_path):
    with pytest.raises(RecordingNotFoundError, match="does not exist"):
        nio.read_caiman(tmp_path / "missing.hdf5")


def test_truncated_hdf5(caiman_factory, tmp_path):
    path, _ = caiman_factory()
    raw = path.read_bytes()
    bad = tmp_path / "truncated.hdf5"
    bad.write_bytes(raw[: len(raw) // 3])
    with pytest.raises(RecordingFormatError, match=r"truncated\.hdf5.*(truncated|corrupt)"):
        nio.read_caiman(bad)
    with pytest.raises(RecordingFormatError):
        nio.read(bad)


def test_corrupt_not_hdf5(tmp_path, rng):
    bad = tmp_path / "garbage.hdf5"
    bad.write_bytes(rng.integers(0, 256, 4096, dtype=np.uint8).tobytes())
    with pytest.raises(RecordingFormatError, match="could not be opened as HDF5"):
        nio.read_caiman(bad)


def test_hdf5_without_estimates(tmp_path):
    p = tmp_path / "other.hdf5"
    with h5py.File(p, "w") as f:
        f["data"] = np.ones(3)
    with pytest.raises(RecordingFormatError, match=r"/estimates/C.*data"):
        nio.read_caiman(p)


def test_shape_mismatch(tmp_path, rng):
    p = tmp_path / "mismatch.hdf5"
    with h5py.File(p, "w") as f:
        f["estimates/C"] = rng.random((3, 10))
        f["estimates/S"] = rng.random((3, 9))
        f["params/data/fr"] = 5.0
    with pytest.raises(RecordingFormatError, match=r"S.*\(3, 9\)"):
        nio.read_caiman(p)
