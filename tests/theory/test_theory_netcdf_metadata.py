"""Theory xarray outputs are self-describing: CF units/long_name and model provenance survive netCDF."""
from __future__ import annotations

import json

import numpy as np
import pytest
import xarray as xr

from neurolatent import __version__
from neurolatent.theory import GatedRNN, VanillaRNN, dmft, phase_diagram


def _roundtrip(ds, path):
    ds.to_netcdf(path, engine="h5netcdf")
    return xr.load_dataset(path, engine="h5netcdf")


def _check_described(ds):
    for name in ds.variables:
        assert isinstance(ds[name].attrs.get("units"), str), name
        assert isinstance(ds[name].attrs.get("long_name"), str) and ds[name].attrs["long_name"], name


@pytest.mark.parametrize("model", [VanillaRNN(2.0), GatedRNN(3.0, 0.0, 4.0, beta_r=0.5, tau_r=2.0)])
def test_dmft_dataset_roundtrips_units_and_model(tmp_path, model):
    res = dmft(model)
    ds = res.to_dataset()
    back = _roundtrip(ds, tmp_path / "d.nc")
    _check_described(back)
    assert back.tau.attrs["units"] == "tau" and back.attrs["lambda_units"] == "1/tau"
    assert back.attrs["model_family"] == type(model).__name__
    assert back.attrs["neurolatent_version"] == __version__
    params = json.loads(back.attrs["model_params"])
    # the stored parameters rebuild the same model (exact: JSON floats round-trip)
    assert type(model)(**params) == model
    for k, v in params.items():
        assert back.attrs[f"param_{k}"] == v
    assert back.attrs["delta0"] == res.delta0 and back.attrs["converged"] == 1
    np.testing.assert_array_equal(back.C.values, res.autocorrelation)
    for k in ds.attrs:
        assert k in back.attrs, k


def test_phase_diagram_dataset_roundtrips(tmp_path):
    ds = phase_diagram(lambda g_h, alpha_r: GatedRNN(g_h, 0.5, alpha_r, beta_z=0.25),
                       {"g_h": "1:3:3", "alpha_r": [0.0, 5.0]}, ["zero_fp_edge", "zero_fp_stable", "n_static"],
                       progress=False)
    back = _roundtrip(ds, tmp_path / "p.nc")
    _check_described(back)
    assert back.zero_fp_edge.attrs["units"] == "1/tau" and back.g_h.attrs["units"] == "1"
    assert back.attrs["model_family"] == "GatedRNN"
    fixed = json.loads(back.attrs["model_params"])
    assert "g_h" not in fixed and "alpha_r" not in fixed          # grid parameters are coordinates
    assert fixed["alpha_z"] == 0.5 and back.attrs["param_beta_z"] == 0.25
    assert json.loads(back.attrs["grid_parameters"]) == ["g_h", "alpha_r"]
    np.testing.assert_array_equal(back.zero_fp_edge.values, ds.zero_fp_edge.values)
