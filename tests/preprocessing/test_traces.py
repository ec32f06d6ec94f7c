"""neuropil_correct, dff, zscore checked against independent float64 references."""
from __future__ import annotations

import json

import numpy as np
import pytest
import scipy.stats
import xarray as xr

import neurolatent.io as nio
from neurolatent.io import RecordingDataWarning
from neurolatent.preprocessing import baseline_window, dff, neuropil_correct, zscore


def _recording(rng, n_time=200, n_neuron=4, fs=10.0, **attrs):
    F = 100 + 10 * rng.random((n_time, n_neuron))
    Fneu = 20 + 5 * rng.random((n_time, n_neuron))
    return xr.Dataset(
        {"F": (("time", "neuron"), F.astype(np.float32)), "Fneu": (("time", "neuron"), Fneu.astype(np.float32))},
        coords={"time": np.arange(n_time) / fs, "neuron": np.arange(n_neuron)},
        attrs={"fs": fs, "provenance": json.dumps([{"step": "read"}]), **attrs},
    )


def test_neuropil_correct(rng):
    ds = _recording(rng, neucoeff=0.5)
    out = neuropil_correct(ds)
    ref = ds.F.values.astype(np.float64) - 0.5 * ds.Fneu.values.astype(np.float64)
    np.testing.assert_allclose(out.F_corrected.values, ref, rtol=1e-6)  # float32 storage
    assert out.F_corrected.dtype == np.float32 and "F_corrected" not in ds  # input untouched
    steps = json.loads(out.attrs["provenance"])
    assert [s["step"] for s in steps] == ["read", "neuropil_correct"] and steps[-1]["params"]["coef"] == 0.5
    del ds.attrs["neucoeff"]
    assert json.loads(neuropil_correct(ds).attrs["provenance"])[-1]["params"]["coef"] == 0.7
    np.testing.assert_allclose(neuropil_correct(ds, 0.0).F_corrected.values, ds.F.values)
    with pytest.raises(ValueError, match="coef"):
        neuropil_correct(ds, -1)
    with pytest.raises(KeyError, match="Fneu"):
        neuropil_correct(ds.drop_vars("Fneu"))


def _naive_running_percentile(F, q, w):
    """Reference for the documented baseline: r-th order statistic of the edge-padded centred window."""
    h = (w - 1) // 2
    r = w - 1 if q == 100 else int(np.floor(w * q / 100))
    pad = np.pad(F, ((h, h), (0, 0)), mode="edge")
    out = np.empty_like(F)
    for t in range(F.shape[0]):
        out[t] = np.sort(pad[t:t + w], axis=0)[r]
    return out


@pytest.mark.parametrize("q,window_s", [(8, 3.0), (50, 2.0), (0, 1.0), (100, 0.5), (20, 100.0)])
def test_dff_running_percentile_matches_definition(rng, q, window_s):
    ds = _recording(rng, n_time=120)
    out = dff(ds, q=q, window_s=window_s)
    w = baseline_window(window_s, 10.0)
    assert w % 2 == 1 and abs(w - window_s * 10) <= 1
    F = ds.F.values.astype(np.float64)
    F0 = _naive_running_percentile(F, q, w)
    np.testing.assert_allclose(out.dff.values, (F - F0) / F0, rtol=1e-5, atol=1e-7)  # float32 output
    assert json.loads(out.attrs["provenance"])[-1]["params"]["window_frames"] == w


def test_dff_constant_baseline_and_default_var(rng):
    ds = neuropil_correct(_recording(rng))
    out = dff(ds, baseline="constant", q=10)
    Fc = ds.F_corrected.values.astype(np.float64)
    F0 = np.percentile(Fc, 10, axis=0)
    np.testing.assert_allclose(out.dff.values, (Fc - F0) / F0, rtol=1e-5, atol=1e-7)
    assert json.loads(out.attrs["provenance"])[-1]["params"]["var"] == "F_corrected"


def test_dff_nonpositive_baseline_is_nan_with_warning(rng):
    ds = _recording(rng)
    ds["F"][:, 2] = -1.0
    with pytest.warns(RecordingDataWarning, match=r"ROI\(s\) \[2\]"):
        out = dff(ds)
    assert np.isnan(out.dff.values[:, 2]).all() and np.isfinite(out.dff.values[:, [0, 1, 3]]).all()


def test_dff_bad_arguments(rng):
    ds = _recording(rng)
    for kw in ({"baseline": "mean"}, {"q": 101}, {"window_s": 0}):
        with pytest.raises(ValueError):
            dff(ds, **kw)


def test_dff_on_real_suite2p(suite2p_plane0):
    ds = nio.read(suite2p_plane0, fs=30.0)
    out = dff(neuropil_correct(ds), window_s=10.0)
    assert out.dff.shape == (864, 23) and out.dff.dtype == np.float32
    steps = [s["step"] for s in json.loads(out.attrs["provenance"])]
    assert steps == ["read_suite2p", "neuropil_correct", "dff"]


def test_zscore_against_scipy(rng):
    ds = _recording(rng)
    out = zscore(ds)
    for name in ("F", "Fneu"):
        ref = scipy.stats.zscore(ds[name].values.astype(np.float64), axis=0, ddof=0)
        np.testing.assert_allclose(out[name].values, ref, rtol=1e-5, atol=1e-5)  # float32 data
    ds["F"][:, 1] = 5.0
    ds["F"][3, 0] = np.nan
    with pytest.warns(RecordingDataWarning, match="constant"):
        out = zscore(ds, "F")
    assert (out.F.values[:, 1] == 0).all()
    assert np.isnan(out.F.values[3, 0])
    x = np.delete(ds.F.values[:, 0].astype(np.float64), 3)
    np.testing.assert_allclose(np.delete(out.F.values[:, 0], 3), (x - x.mean()) / x.std(), rtol=1e-5, atol=1e-5)
    np.testing.assert_array_equal(out.Fneu.values, ds.Fneu.values)  # only 'F' was asked


def test_dff_with_nan_frames_keeps_them_and_uses_interpolated_baseline(rng):
    ds = _recording(rng, n_time=80)
    ds["F"][10, 1] = np.nan
    out = dff(ds, window_s=2.0)
    assert np.isnan(out.dff.values[10, 1]) and np.isfinite(np.delete(out.dff.values, 10, axis=0)).all()
    F = ds.F.values.astype(np.float64)
    F[10, 1] = 0.5 * (F[9, 1] + F[11, 1])  # reference: linear interpolation of the missing frame
    F0 = _naive_running_percentile(F, 8, baseline_window(2.0, 10.0))
    ref = (F - F0) / F0
    ref[10, 1] = np.nan
    np.testing.assert_allclose(out.dff.values, ref, rtol=1e-5, atol=1e-7)
