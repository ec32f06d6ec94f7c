"""fit_recording end to end (tiny), the plotting helpers, and the synthetic generator."""
import json

import matplotlib
import numpy as np
import pytest
import torch
import xarray as xr

from neurolatent.datasets.synthetic_manifolds import make_manifold_recording
from neurolatent.fit_pipeline import fit_recording
from neurolatent.models import MGPLVM
from neurolatent.plotting import plot_cv, plot_elbo, plot_latents, plot_tuning_curves

matplotlib.use("Agg")


def test_fit_recording_writes_netcdf_and_pngs(tmp_path):
    ds = make_manifold_recording("T1", n_neurons=6, n_time=40, seed=0)
    src = tmp_path / "rec.nc"
    ds.to_netcdf(src, engine="h5netcdf")
    out = fit_recording(src, ["T1", "R1"], out_dir=tmp_path / "res", max_steps=8, progress=False, folds=2,
                        cv_steps=5, n_inducing=5)
    for key in ("fit", "latents_T1", "tuning_T1", "latents_R1", "cv", "model_T1"):
        assert out[key].exists() and out[key].stat().st_size > 0, key
    assert out["cv"].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    res = xr.open_dataset(out["fit"], engine="h5netcdf")
    assert res["latent_mean_T1"].dims == ("time", "coord_T1")
    assert res["tuning_mean_R1"].dims == ("neuron", "x_R1") or res["tuning_mean_R1"].dims[0] == "neuron"
    assert res["cv_log_likelihood"].dims == ("manifold", "fold")
    assert json.loads(res.attrs["manifolds"]) == ["T1", "R1"]
    np.testing.assert_allclose(res["Y"].values, ds["Y"].values)
    res.close()
    assert MGPLVM.load(out["model_T1"]).n_neurons == 6
    with pytest.raises(ValueError, match="unknown manifold"):
        fit_recording(ds, "Z3", out_dir=tmp_path / "bad", max_steps=1, progress=False)


def test_plots_return_figures():
    ds = make_manifold_recording("T2", n_neurons=5, n_time=30, seed=1)
    m = MGPLVM("T2", seed=0, n_inducing=6).fit(ds["Y"], max_steps=3, progress=False, early_stopping=False)
    lat = m.latents()
    fig = plot_latents(lat, reference=ds["latent"].values)
    assert len(fig.axes) == 2
    assert plot_tuning_curves(m.tuning_curves(6)).axes
    assert plot_elbo(m.elbo_history).axes
    m1 = MGPLVM("T1", seed=0, n_inducing=5).fit(ds["Y"], max_steps=2, progress=False, early_stopping=False)
    assert plot_tuning_curves(m1.tuning_curves(10)).axes
    s3 = MGPLVM("S3", seed=0, n_inducing=5).fit(ds["Y"], max_steps=2, progress=False, early_stopping=False)
    assert plot_tuning_curves(s3.tuning_curves(10)).axes and plot_latents(s3.latents()).axes
    cv = xr.Dataset({"log_likelihood": (("manifold", "fold"), np.array([[1.0, 1.2], [0.5, 0.4]])),
                     "mse": (("manifold", "fold"), np.array([[0.1, 0.2], [0.3, 0.4]]))},
                    coords={"manifold": ["T1", "R1"], "fold": [0, 1]})
    fig = plot_cv(cv)
    assert "T1" in fig.axes[0].get_title()
    import matplotlib.pyplot as plt

    plt.close("all")


@pytest.mark.parametrize("spec", ["T1", "T2", "R2", "S2", "S3", "SO3", "T1xR1"])
def test_generator_shapes_and_latents_on_manifold(spec):
    from neurolatent.manifolds import get_manifold

    m = get_manifold(spec)
    ds = make_manifold_recording(spec, n_neurons=7, n_time=25, seed=4)
    assert ds["Y"].dims == ("time", "neuron") and ds["Y"].shape == (25, 7)
    assert ds["latent"].shape == (25, m.ambient_dim)
    assert bool(m.belongs(torch.as_tensor(ds["latent"].values)).all())
    again = make_manifold_recording(spec, n_neurons=7, n_time=25, seed=4)
    xr.testing.assert_identical(ds, again)  # seeded


def test_generator_poisson_counts_and_errors():
    ds = make_manifold_recording("T1", n_neurons=5, n_time=200, likelihood="poisson", seed=0, trajectory="iid")
    y = ds["Y"].values
    assert np.all(y >= 0) and np.all(y == np.round(y))
    # mean rate over uniform latents: r0 + r_max E[exp(-(1-cos)/w^2)] (w = 0.7), by numerical average
    th = np.linspace(-np.pi, np.pi, 100001)
    expected = 0.5 + 8.0 * np.mean(np.exp(-2 * (1 - np.cos(th)) / (2 * 0.49)))
    assert y.mean() == pytest.approx(expected, rel=0.1)  # 1000 counts of mean ~3: sd of mean ~2-5%
    with pytest.raises(ValueError, match="likelihood"):
        make_manifold_recording("T1", likelihood="bernoulli")


def test_reference_is_moved_into_the_latent_frame():
    from neurolatent.fit_pipeline import _reference
    from neurolatent.manifolds import Torus

    rng = np.random.default_rng(0)
    truth = rng.uniform(-np.pi, np.pi, 40)
    fitted = np.angle(np.exp(1j * (-truth + 1.0)))  # a reflected, rotated copy of the truth
    ds = xr.Dataset({"latent": ("time", truth)})
    lat = xr.Dataset({"mean": (("time", "coord"), fitted[:, None])})
    ref, name = _reference(ds, lat, Torus(1))
    assert name == "latent"
    # exact isometry, so the aligned reference equals the fitted latent up to float round-off
    np.testing.assert_allclose(np.angle(np.exp(1j * (ref[:, 0] - fitted))), 0, atol=1e-9)
    # a reference with the wrong number of coordinates is ignored
    ref2, name2 = _reference(xr.Dataset({"latent": (("time", "c"), np.zeros((40, 2)))}), lat, Torus(1))
    assert ref2 is None and name2 == ""
