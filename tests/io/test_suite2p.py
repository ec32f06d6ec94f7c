"""read_suite2p on the real example (values against the raw .npy files) and on built folders."""
from __future__ import annotations

import warnings

import numpy as np
import pytest

import neurolatent.io as nio
from neurolatent.io import FrameRateError, RecordingDataWarning, RecordingFormatError, RecordingNotFoundError


def _read_quiet(path, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RecordingDataWarning)
        return nio.read_suite2p(path, **kw)


def test_real_example_matches_raw_files(suite2p_plane0):
    with pytest.warns(RecordingDataWarning, match=r"fs=") as rec:
        ds = nio.read_suite2p(suite2p_plane0)
    assert any("placeholder" in str(w.message) for w in rec)
    F = np.load(suite2p_plane0 / "F.npy")
    iscell = np.load(suite2p_plane0 / "iscell.npy")
    stat = np.load(suite2p_plane0 / "stat.npy", allow_pickle=True)
    assert ds.sizes == {"time": 864, "neuron": 23}
    # exact: float32 in, float32 out, only transposed
    np.testing.assert_array_equal(ds.F.values, F.T)
    np.testing.assert_array_equal(ds.Fneu.values, np.load(suite2p_plane0 / "Fneu.npy").T)
    np.testing.assert_array_equal(ds.spks.values, np.load(suite2p_plane0 / "spks.npy").T)
    assert ds.F.dims == ("time", "neuron") and ds.F.dtype == np.float32
    np.testing.assert_array_equal(ds.iscell.values, iscell[:, 0].astype(bool))
    assert ds.iscell.dtype == bool
    np.testing.assert_array_equal(ds.iscell_prob.values, iscell[:, 1])
    np.testing.assert_array_equal(ds.roi_y.values, [s["med"][0] for s in stat])
    np.testing.assert_array_equal(ds.roi_x.values, [s["med"][1] for s in stat])
    np.testing.assert_array_equal(ds.npix.values, [s["npix"] for s in stat])
    np.testing.assert_array_equal(ds.neuron.values, np.arange(23))
    assert ds.time.dtype == np.float64
    assert ds.attrs["fs"] == 1.0 and ds.attrs["source"].startswith("suite2p")
    assert ds.attrs["neucoeff"] == 0.7


def test_real_example_fs_override_and_cells_only(suite2p_plane0):
    with warnings.catch_warnings():
        warnings.simplefilter("error", RecordingDataWarning)  # fs= given: no placeholder warning
        ds = nio.read_suite2p(suite2p_plane0, fs=30.0, cells_only=True)
    iscell = np.load(suite2p_plane0 / "iscell.npy")[:, 0].astype(bool)
    assert ds.attrs["fs"] == 30.0 and ds.attrs["fs_origin"] == "argument fs="
    np.testing.assert_allclose(ds.time.values, np.arange(864) / 30.0, rtol=0, atol=1e-12)  # float64 arithmetic
    np.testing.assert_array_equal(ds.neuron.values, np.flatnonzero(iscell))
    np.testing.assert_array_equal(ds.F.values, np.load(suite2p_plane0 / "F.npy")[iscell].T)
    assert ds.attrs["n_rois_total"] == 23


def test_real_example_netcdf_round_trip(suite2p_plane0, tmp_path):
    ds = _read_quiet(suite2p_plane0)
    back = nio.read_netcdf(nio.write_netcdf(ds, tmp_path / "s2p.nc"))
    assert back.identical(ds)
    for name in list(ds.variables):
        assert back[name].dtype == ds[name].dtype, name


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf"), "fast"])
def test_bad_fs_argument(suite2p_factory, bad):
    folder = suite2p_factory(F=np.ones((2, 5)))
    with pytest.raises(FrameRateError, match="fs="):
        nio.read_suite2p(folder, fs=bad)


def test_missing_folder(tmp_path):
    with pytest.raises(RecordingNotFoundError, match="does not exist"):
        nio.read_suite2p(tmp_path / "nope")
    with pytest.raises(FileNotFoundError):  # also an ordinary FileNotFoundError
        nio.read(tmp_path / "nope")


def test_folder_without_F(tmp_path):
    (tmp_path / "plane0").mkdir()
    np.save(tmp_path / "plane0" / "Fneu.npy", np.ones((2, 3)))
    with pytest.raises(RecordingFormatError, match="no F.npy"):
        nio.read_suite2p(tmp_path / "plane0")
    with pytest.raises(RecordingFormatError, match="F.npy"):
        nio.read(tmp_path / "plane0")


def test_F_Fneu_shape_mismatch(suite2p_factory):
    folder = suite2p_factory(F=np.ones((3, 10)))
    np.save(folder / "Fneu.npy", np.ones((3, 9), dtype=np.float32))
    with pytest.raises(RecordingFormatError, match=r"Fneu.npy.*\(3, 9\).*\(3, 10\)"):
        nio.read_suite2p(folder)


def test_nan_frames_warn_and_are_kept(suite2p_factory, rng):
    F = rng.random((3, 12)) + 1
    F[1, 4] = np.nan
    F[2, 7] = np.inf
    folder = suite2p_factory(F=F)
    with warnings.catch_warnings(record=True) as rec:
        warnings.simplefilter("always")
        ds = nio.read_suite2p(folder)
    messages = [str(w.message) for w in rec if issubclass(w.category, RecordingDataWarning)]
    assert any("'F'" in m and "2 frame(s)" in m and "time indices 4, 7" in m for m in messages), messages
    assert any("'Fneu'" in m for m in messages)  # each variable is reported
    assert ds.sizes["time"] == 12  # never dropped
    assert np.isnan(ds.F.values[4, 1]) and np.isinf(ds.F.values[7, 2])


def test_all_zero_roi_warns(suite2p_factory, rng):
    F = rng.random((4, 10)) + 1
    F[2] = 0
    folder = suite2p_factory(F=F)
    with pytest.warns(RecordingDataWarning, match=r"zero at every frame.*neuron 2"):
        ds = nio.read_suite2p(folder)
    assert ds.sizes["neuron"] == 4  # documented: warn, keep


def test_no_frame_rate_anywhere(suite2p_factory):
    folder = suite2p_factory(F=np.ones((2, 5)), fs=None)
    with pytest.raises(FrameRateError, match=r"fs=") as exc:
        nio.read_suite2p(folder)
    assert isinstance(exc.value, ValueError)
    assert nio.read_suite2p(folder, fs=5.0).attrs["fs"] == 5.0


def test_newer_suite2p_settings_file(suite2p_factory):
    folder = suite2p_factory(F=np.ones((2, 5)) + np.arange(5), ops_file=None)
    np.save(folder / "db.npy", {"nplanes": 1, "data_path": ["x"]}, allow_pickle=True)
    np.save(folder / "settings.npy", {"fs": 7.5, "tau": 1.0}, allow_pickle=True)
    ds = nio.read_suite2p(folder)
    assert ds.attrs["fs"] == 7.5 and ds.attrs["fs_origin"] == "settings.npy['fs']"
    np.testing.assert_allclose(ds.time.values[1], 1 / 7.5, rtol=1e-15)


def test_suite2p_default_fs_warns(suite2p_factory):
    folder = suite2p_factory(F=np.ones((2, 5)) + np.arange(5), fs=10.0)
    with pytest.warns(RecordingDataWarning, match="default"):
        nio.read_suite2p(folder)


def test_parent_folder_planes(tmp_path, suite2p_factory, rng):
    F0, F1 = rng.random((3, 8)) + 1, rng.random((2, 8)) + 1
    suite2p_factory("suite2p/plane0", F=F0, iscell=[[1, .9], [0, .1], [1, .8]])
    suite2p_factory("suite2p/plane1", F=F1, iscell=[[0, .2], [1, .7]])
    (tmp_path / "suite2p" / "combined").mkdir()  # ignored
    for path in (tmp_path / "suite2p", tmp_path):  # the parent, or the folder above it
        ds = nio.read(path)
        assert ds.sizes["neuron"] == 5
        np.testing.assert_array_equal(ds.F.values, np.concatenate([F0, F1]).astype(np.float32).T)
        np.testing.assert_array_equal(ds.plane.values, [0, 0, 0, 1, 1])
        np.testing.assert_array_equal(ds.roi.values, [0, 1, 2, 0, 1])
        np.testing.assert_array_equal(ds.neuron.values, np.arange(5))
    one = nio.read_suite2p(tmp_path / "suite2p", plane=1)
    np.testing.assert_array_equal(one.F.values, F1.astype(np.float32).T)
    np.testing.assert_array_equal(one.neuron.values, [0, 1])
    cells = nio.read_suite2p(tmp_path / "suite2p", cells_only=True)
    np.testing.assert_array_equal(cells.neuron.values, [0, 2, 4])
    np.testing.assert_array_equal(cells.plane.values, [0, 0, 1])
    with pytest.raises(RecordingNotFoundError, match="available planes"):
        nio.read_suite2p(tmp_path / "suite2p", plane=3)


def test_planes_of_different_lengths_truncate_with_warning(suite2p_factory, tmp_path):
    suite2p_factory("s2p/plane0", F=np.ones((2, 8)) + np.arange(8))
    suite2p_factory("s2p/plane1", F=np.ones((2, 7)) + np.arange(7))
    with pytest.warns(RecordingDataWarning, match="different numbers of frames"):
        ds = nio.read_suite2p(tmp_path / "s2p")
    assert ds.sizes["time"] == 7


def test_cells_only_needs_iscell(suite2p_factory):
    folder = suite2p_factory(F=np.ones((2, 5)) + np.arange(5))
    with pytest.raises(RecordingFormatError, match="iscell"):
        nio.read_suite2p(folder, cells_only=True)


def test_F_npy_path_and_truncated_npy(suite2p_factory):
    folder = suite2p_factory(F=np.ones((2, 5)) + np.arange(5))
    assert nio.read_suite2p(folder / "F.npy").sizes["neuron"] == 2
    (folder / "spks.npy").write_bytes((folder / "spks.npy").read_bytes()[:100])
    with pytest.raises(RecordingFormatError, match="spks.npy"):
        nio.read_suite2p(folder)
