"""Every xarray result of nl.methods.infotheory survives to_netcdf / open_dataset."""
from __future__ import annotations

import numpy as np
import xarray as xr

import neurolatent.methods.infotheory as it


def test_results_roundtrip_netcdf(tmp_path):
    S = np.array([[2.0, 0.3, 0.8], [0.3, 1.0, 0.2], [0.8, 0.2, 1.5]])
    Sx, Sxy, Sy = S[:2, :2], S[:2, 2:], S[2:, 2:]
    p = np.array([[0.4, 0.1], [0.1, 0.4]])
    results = {
        "spectrum": it.gaussian_ib_spectrum(Sx, Sxy, Sy),
        "curve": it.gaussian_ib_curve(Sx, Sxy, Sy, [1.5, 3.0], "renyi", 0.5),
        "ib": it.ib_curve(p, [1.0, 3.0], n_clusters=2, max_iter=2000),
        "onset": it.ib_onset(p),
        "pred": it.ib_onset_prediction(p, [1.0, 3.0]),
        "ridge": it.ridge_information([0.5, 1.0], [0.1], d=20, n_draws=1),
        "eff": it.ridge_efficiency(10, 20, 0.25, [0.01, 0.1], n_draws=1),
        "dd": it.double_descent_curve(20, [10, 20, 30], [10, np.inf], n_draws=1),
        "mu": it.smallest_nonzero_eigenvalue(20, [10, 20], n_draws=1),
    }
    for name, ds in results.items():
        path = tmp_path / f"{name}.nc"
        ds.to_netcdf(path, engine="h5netcdf")
        back = xr.open_dataset(path, engine="h5netcdf").load()
        xr.testing.assert_allclose(back, ds)
