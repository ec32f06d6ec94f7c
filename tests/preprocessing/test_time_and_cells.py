"""bin_time, select_cells and deconvolve."""
from __future__ import annotations

import importlib.util
import json
import sys

import numpy as np
import pytest
import scipy.stats
import xarray as xr

import neurolatent.io as nio
from neurolatent.datasets import make_ring_recording
from neurolatent.preprocessing import bin_time, deconvolve, select_cells


def test_bin_time_against_reshape_mean():
    ds = make_ring_recording(n_neurons=3, n_time=103, fs=10.0, seed=2)
    ds = ds.assign_coords(valid=("time", np.arange(103) != 7))
    out = bin_time(ds, 0.5)  # 5 frames per bin; 3 trailing frames dropped
    assert out.sizes["time"] == 20 and out.attrs["fs"] == pytest.approx(2.0, rel=1e-12)
    ref = ds.dff.values[:100].astype(np.float64).reshape(20, 5, 3).mean(1)
    np.testing.assert_allclose(out.dff.values, ref, rtol=1e-5)  # float32 storage
    np.testing.assert_allclose(out.time.values, ds.time.values[:100].reshape(20, 5).mean(1), rtol=1e-12)
    lat = ds.latent.values[:100].astype(np.float64).reshape(20, 5)
    circ = scipy.stats.circmean(lat, high=2 * np.pi, low=0, axis=1)
    np.testing.assert_allclose(np.angle(np.exp(1j * (out.latent.values - circ))), 0, atol=1e-5)
    assert out.valid.dtype == bool and not out.valid.values[1] and out.valid.values[[0, 2]].all()
    assert out.dff.dtype == np.float32 and out.time.dtype == np.float64
    last = json.loads(out.attrs["provenance"])[-1]
    assert last["step"] == "bin_time" and last["params"] == {"width_s": 0.5, "frames_per_bin": 5}


def test_bin_time_warnings_and_errors():
    ds = make_ring_recording(n_neurons=2, n_time=20, fs=10.0)
    with pytest.warns(UserWarning, match="using 3 frames"):
        bin_time(ds, 0.33)
    for bad in (0.01, -1.0, 10.0):
        with pytest.raises(ValueError):
            bin_time(ds, bad)


def test_select_cells_real(suite2p_plane0):
    ds = nio.read(suite2p_plane0, fs=30.0)
    iscell = np.load(suite2p_plane0 / "iscell.npy")
    out = select_cells(ds)
    np.testing.assert_array_equal(out.neuron.values, np.flatnonzero(iscell[:, 0] > 0.5))
    strict = select_cells(ds, min_prob=0.98)
    np.testing.assert_array_equal(strict.neuron.values, np.flatnonzero((iscell[:, 0] > 0.5) & (iscell[:, 1] >= 0.98)))
    assert json.loads(strict.attrs["provenance"])[-1]["params"]["kept"] == strict.sizes["neuron"]


def test_select_cells_accepted_and_missing():
    ds = make_ring_recording(n_neurons=4, n_time=5)
    with pytest.raises(ValueError, match="iscell"):
        select_cells(ds)
    ds = ds.assign_coords(accepted=("neuron", [True, True, False, True]))
    assert select_cells(ds).neuron.values.tolist() == [0, 1, 3]


def _ar1_recording(rng, n_time=600, n_neuron=3, g=0.9, noise=0.02):
    S = (rng.random((n_time, n_neuron)) < 0.03) * rng.uniform(0.5, 1.5, (n_time, n_neuron))
    C = np.zeros_like(S)
    for t in range(n_time):
        C[t] = (g * C[t - 1] if t else 0) + S[t]
    Y = C + 0.2 + noise * rng.standard_normal(C.shape)
    ds = xr.Dataset({"F": (("time", "neuron"), Y.astype(np.float32))}, attrs={"fs": 10.0})
    return ds, S, C


def test_deconvolve_recovers_spikes(rng):
    pytest.importorskip("oasis", reason="oasis-deconv (extra 'deconv') is not installed")
    ds, S, C = _ar1_recording(rng)
    tau_d = -1 / (10.0 * np.log(0.9))  # decay 0.9 per frame at 10 Hz
    out = deconvolve(ds, tau_d=tau_d, sn=0.02)  # true noise level given
    np.testing.assert_allclose(out.oasis_g.values, 0.9, rtol=1e-9)
    for j in range(S.shape[1]):
        # noise 0.02 vs spikes >= 0.5: near-exact recovery (measured r = 0.9997-0.9999 with seed 0)
        assert np.corrcoef(out.oasis_s.values[:, j], S[:, j])[0, 1] > 0.99
    resid = ds.F.values - out.oasis_c.values - out.oasis_b.values
    np.testing.assert_allclose(resid.std(0), 0.02, rtol=0.1)  # the constraint |y - c - b|^2 = sn^2 T
    np.testing.assert_allclose(out.oasis_b.values, 0.2, atol=0.02)  # true baseline 0.2
    # noise estimated by OASIS (PSD), the default: it overestimates sn here, recovery is still good
    # (measured r = 0.979-0.989)
    auto = deconvolve(ds, tau_d=tau_d)
    for j in range(S.shape[1]):
        assert np.corrcoef(auto.oasis_s.values[:, j], S[:, j])[0, 1] > 0.95
    assert json.loads(out.attrs["provenance"])[-1]["params"]["method"] == "OASIS"


def test_deconvolve_errors(rng, monkeypatch):
    ds, _, _ = _ar1_recording(rng, n_time=50)
    if importlib.util.find_spec("oasis") is not None:
        bad = ds.copy(deep=True)
        bad["F"][3, 0] = np.nan
        with pytest.raises(ValueError, match="interpolate"):
            deconvolve(bad)
    monkeypatch.setitem(sys.modules, "oasis", None)
    monkeypatch.setitem(sys.modules, "oasis.functions", None)
    with pytest.raises(ImportError, match=r"pip install 'neurolatent\[deconv\]'"):
        deconvolve(ds)
