"""Dataset loaders (real files in ../shared/data) and the synthetic ring generator."""
from __future__ import annotations

import glob
import hashlib
from pathlib import Path
import re
import warnings

import numpy as np
import pytest
import scipy.io

import neurolatent.io as nio
from neurolatent.datasets import load_fly_ellipsoid_body, make_ring_recording, read_turner_evans_2017, ring_tuning
from neurolatent.datasets import _paths
from neurolatent.io import RecordingDataWarning, RecordingFormatError, RecordingNotFoundError


def test_fly_matches_tsv(fly_dir):
    ds = load_fly_ellipsoid_body(fly_dir)
    Y = np.loadtxt(fly_dir / "fly1_trial1_light_Y.tsv", delimiter="\t")
    x = np.loadtxt(fly_dir / "fly1_trial1_light_x.tsv")
    assert ds.dff.dims == ("time", "neuron") and ds.dff.shape == (500, 16) and ds.dff.dtype == np.float32
    np.testing.assert_array_equal(ds.dff.values, Y.T.astype(np.float32))
    np.testing.assert_array_equal(ds.heading.values, x.astype(np.float32))  # already in [0, 2 pi)
    assert ds.heading.attrs["units"] == "rad"
    np.testing.assert_array_equal(ds.time.values, np.arange(500.0))
    assert "nominal" in ds.attrs["fs_note"]
    # also found without a path (env var or ../shared/data) and from the data root
    assert load_fly_ellipsoid_body().identical(ds)
    assert load_fly_ellipsoid_body(fly_dir.parent).dff.shape == (500, 16)


def test_fly_netcdf_round_trip(fly_dir, tmp_path):
    ds = load_fly_ellipsoid_body(fly_dir)
    assert nio.read_netcdf(nio.write_netcdf(ds, tmp_path / "fly.nc")).identical(ds)


def test_path_resolution_errors(tmp_path, monkeypatch):
    with pytest.raises(RecordingNotFoundError, match="fly1_trial1_light_Y.tsv"):
        load_fly_ellipsoid_body(tmp_path)
    # nothing anywhere and downloads off (as in every test): a clear message saying where to get the data
    monkeypatch.setenv("NEUROLATENT_DATA", str(tmp_path))
    monkeypatch.setattr(_paths, "REPO_SHARED_DATA", tmp_path / "absent")
    with pytest.raises(RecordingNotFoundError, match=r"switched off.*10\.25378/janelia\.12490325\.v1.*NEUROLATENT_DATA"):
        load_fly_ellipsoid_body()


def _no_local_copy(tmp_path, monkeypatch):
    """No local data anywhere, downloads allowed, the pooch cache in tmp_path/cache."""
    import pooch

    monkeypatch.setenv("NEUROLATENT_DATA", str(tmp_path / "empty"))
    monkeypatch.setattr(_paths, "REPO_SHARED_DATA", tmp_path / "absent")
    monkeypatch.delenv("NEUROLATENT_NO_DOWNLOAD")
    monkeypatch.setattr(pooch, "os_cache", lambda project: tmp_path / "cache" / project)
    return pooch


def test_download_fallback_fetches_pinned_hash_checked_files(tmp_path, monkeypatch, rng):
    """Without a local copy the fly loader downloads through pooch (mocked: tests never touch the network)."""
    pooch = _no_local_copy(tmp_path, monkeypatch)
    Y, x = rng.random((16, 9)), rng.random(9) * 2 * np.pi
    calls = []

    def fake_retrieve(url, known_hash, fname, path, progressbar=False):
        calls.append((url, known_hash, fname, Path(path)))
        Path(path).mkdir(parents=True, exist_ok=True)
        if fname.endswith("_Y.tsv"):
            np.savetxt(Path(path) / fname, Y, delimiter="\t")
        else:
            np.savetxt(Path(path) / fname, x)
        return str(Path(path) / fname)

    monkeypatch.setattr(pooch, "retrieve", fake_retrieve)
    ds = load_fly_ellipsoid_body()
    np.testing.assert_allclose(ds.dff.values, Y.T, rtol=1e-6)  # float32 storage of the TSV values
    assert [c[2] for c in calls] == ["fly1_trial1_light_Y.tsv", "fly1_trial1_light_x.tsv"]
    for url, known_hash, _, path in calls:
        # pinned to a 40-hex commit (never a moving branch) and verified by SHA-256
        assert re.match(r"https://raw\.githubusercontent\.com/[\w-]+/[\w-]+/[0-9a-f]{40}/", url), url
        assert re.fullmatch(r"sha256:[0-9a-f]{64}", known_hash)
        assert path == tmp_path / "cache" / "neurolatent" / "fly_ellipsoid_body"


def test_failed_download_says_where_to_get_the_data(tmp_path, monkeypatch):
    pooch = _no_local_copy(tmp_path, monkeypatch)

    def offline(url, **kw):
        raise ConnectionError("no route to host")

    monkeypatch.setattr(pooch, "retrieve", offline)
    with pytest.raises(RecordingNotFoundError,
                       match=r"downloading fly1_trial1_light_Y\.tsv from https://.*ConnectionError.*10\.25378"):
        load_fly_ellipsoid_body()
    # a dataset without a verified address never reaches pooch
    with pytest.raises(RecordingNotFoundError, match=r"no verified download address.*eLife"):
        _paths.resolve_dataset_dir("turner_evans_2017", ["x.mat"])


def test_registered_hashes_are_those_of_the_shared_copy(fly_dir):
    # the SHA-256 pinned for the download is that of the files the tests read, so both are one matrix
    for fname, (_, sha) in _paths._REMOTE["fly_ellipsoid_body"].items():
        assert hashlib.sha256((fly_dir / fname).read_bytes()).hexdigest() == sha, fname


def test_env_var_wins_over_repo_copy(tmp_path, monkeypatch, rng):
    d = tmp_path / "fly_ellipsoid_body"
    d.mkdir()
    np.savetxt(d / "fly1_trial1_light_Y.tsv", rng.random((3, 7)), delimiter="\t")
    np.savetxt(d / "fly1_trial1_light_x.tsv", rng.random(7))
    monkeypatch.setenv("NEUROLATENT_DATA", str(tmp_path))
    assert load_fly_ellipsoid_body().dff.shape == (7, 3)
    np.savetxt(d / "fly1_trial1_light_x.tsv", rng.random(6))
    with pytest.raises(RecordingFormatError, match="one heading per time bin"):
        load_fly_ellipsoid_body()


def _turner_evans_files(shared_data):
    files = sorted(glob.glob(str(shared_data / "turner_evans_2017" / "*.mat")))
    if not files:
        pytest.skip("turner_evans_2017 files are absent")
    return files


def test_turner_evans_both_trials(shared_data):
    for f in _turner_evans_files(shared_data):
        with warnings.catch_warnings():
            warnings.simplefilter("error", RecordingDataWarning)  # clean traces: nothing to warn about
            ds = read_turner_evans_2017(f)
        m = scipy.io.loadmat(f, squeeze_me=True, struct_as_record=False)
        for k in ("GROIaveMax", "GROIaveMean", "RROIaveMax", "RROIaveMean"):
            np.testing.assert_array_equal(ds[k].values, m[k].T.astype(np.float32))
            assert ds[k].dims == ("time", "neuron")
        assert ds.sizes == {"time": 750, "neuron": 16} and ds.attrs["n_planes"] == 7
        assert 11.3 < ds.attrs["fs"] < 11.5  # ~11.4 volumes per second (README)
        dt = np.diff(ds.time.values)
        assert dt.min() > 0.08 and dt.max() < 0.095  # 7 frames of 12.5-12.6 ms
        pos = m["positionDat"]
        # independent check of the heading: nearest behaviour sample, compared on the circle
        ok = ds.has_behaviour.values
        assert 700 < ok.sum() < 750 and np.isnan(ds.heading.values[~ok]).all()
        idx = np.abs(pos.t[None, :] - ds.time.values[ok][:, None]).argmin(1)
        nearest = np.deg2rad(pos.OffsetRot[idx])
        err = np.angle(np.exp(1j * (ds.heading.values[ok] - nearest)))
        # behaviour is sampled at ~120 Hz: interpolation and nearest sample differ by < 1 sample of turning
        assert np.median(np.abs(err)) < np.deg2rad(1.0) and np.abs(err).max() < np.deg2rad(20)


def test_turner_evans_errors(tmp_path, shared_data):
    files = _turner_evans_files(shared_data)
    with pytest.raises(RecordingNotFoundError, match="pass one trial"):
        read_turner_evans_2017(shared_data / "turner_evans_2017")
    p = tmp_path / "other.mat"
    scipy.io.savemat(p, {"x": np.ones(3)})
    with pytest.raises(RecordingFormatError, match="GROIaveMax"):
        read_turner_evans_2017(p)
    by_name = read_turner_evans_2017(Path(files[0]).name)  # bare name, found through the data roots
    assert by_name.sizes["time"] == 750


def test_ring_recording_matches_generative_model(seed):
    ds = make_ring_recording(n_neurons=12, n_time=4000, noise=0.3, seed=seed, kappa=2.0)
    clean = ring_tuning(ds.latent.values.astype(np.float64), ds.preferred_angle.values, 2.0)
    resid = ds.dff.values - clean
    # residuals are the Gaussian noise: std 0.3 within 3 % (n = 48000 samples), mean ~ 0
    assert resid.std() == pytest.approx(0.3, rel=0.03)
    assert abs(resid.mean()) < 0.01
    np.testing.assert_allclose(ds.preferred_angle.values, 2 * np.pi * np.arange(12) / 12)
    lat = ds.latent.values
    assert (lat >= 0).all() and (lat < 2 * np.pi + 1e-6).all()
    step = np.angle(np.exp(1j * np.diff(lat.astype(np.float64))))
    # smooth walk: per-frame steps are small (speed sd 1 rad/s at 10 Hz -> step sd ~0.1 rad)
    assert np.abs(step).max() < 0.6 and 0.05 < step.std() < 0.15
    assert ds.dff.dtype == np.float32 and ds.attrs["fs"] == 10.0


def test_ring_recording_seeding_and_decoding():
    a, b = make_ring_recording(seed=5), make_ring_recording(seed=5)
    assert a.identical(b) and not a.dff.equals(make_ring_recording(seed=6).dff)
    ds = make_ring_recording(n_neurons=16, n_time=500, noise=0.05, seed=1)
    # population-vector decoding recovers the latent within a few degrees at low noise
    pv = np.angle((ds.dff.values * np.exp(1j * ds.preferred_angle.values)).sum(1))
    err = np.angle(np.exp(1j * (pv - ds.latent.values)))
    assert np.sqrt(np.mean(err ** 2)) < np.deg2rad(5)
    with pytest.raises(ValueError):
        make_ring_recording(noise=-1)
