"""CF-style metadata of ``fit.nc``: ``units``/``long_name`` of every variable and coordinate.

:func:`neurolatent.fit_pipeline.fit_recording` builds the results Dataset and calls
:func:`annotate_latents`, :func:`annotate_tuning`, :func:`annotate_elbo`, :func:`annotate_cv`
and :func:`annotate_data` on its parts, so that the file explains itself to anyone who opens it
(``ncdump -h fit.nc``, ``xarray.open_dataset``). Units follow the CF conventions: ``"s"``,
``"rad"``, ``"1"`` (dimensionless); the ELBO and log-likelihoods are in nats.
"""
from __future__ import annotations

import numpy as np
import xarray as xr

from .manifolds import Euclid, Product, Torus

__all__ = ["annotate_latents", "annotate_tuning", "annotate_elbo", "annotate_cv", "annotate_data",
           "coordinate_units"]


def coordinate_units(manifold, n_coord: int, n_tangent: int) -> tuple[list[str], list[str]]:
    """Units of a manifold's coordinates and of its tangent directions (posterior std).

    Torus angles are radians; Euclidean latents are dimensionless (their scale is set by the
    prior); spheres and SO(3) use unit-vector / unit-quaternion coordinates (dimensionless) and
    their tangent spreads are geodesic angles (radians). Products concatenate their factors.
    """
    parts = manifold.parts if isinstance(manifold, Product) else [manifold]
    coord, tangent = [], []
    for p in parts:
        if isinstance(p, Torus):
            coord += ["rad"] * p.dim
            tangent += ["rad"] * p.dim
        elif isinstance(p, Euclid):
            coord += ["1"] * p.dim
            tangent += ["1"] * p.dim
        else:  # embedded (sphere, SO3): unit-norm ambient coordinates, geodesic tangent spreads
            coord += ["1"] * p.ambient_dim
            tangent += ["rad"] * p.dim
    if len(coord) != n_coord:
        coord = ["1"] * n_coord
    if len(tangent) != n_tangent:
        tangent = ["1"] * n_tangent
    return coord, tangent


def _units(var: xr.DataArray, per_coord: list[str]) -> None:
    if len(set(per_coord)) == 1:
        var.attrs["units"] = per_coord[0]
    else:  # a product of a torus and a Euclidean space: say which coordinate has which unit
        var.attrs["units"] = "1"
        var.attrs["coordinate_units"] = ", ".join(per_coord)


def annotate_latents(lat: xr.Dataset, manifold) -> xr.Dataset:
    """``mean``/``lower``/``upper`` (time, coord) and ``std`` (time, tangent) of ``model.latents()``."""
    lat = lat.copy()
    name = manifold.name
    coord_u, tangent_u = coordinate_units(manifold, lat.sizes.get("coord", 0), lat.sizes.get("tangent", 0))
    texts = {"mean": f"posterior mean of the latent on {name}",
             "lower": f"lower end of the posterior's central 95% interval of the latent on {name}",
             "upper": f"upper end of the posterior's central 95% interval of the latent on {name}",
             "std": f"posterior standard deviation of the latent on {name} along each tangent direction"}
    for v in lat.data_vars:
        lat[v].attrs["long_name"] = texts.get(v, f"{v} of the latent posterior on {name}")
        _units(lat[v], tangent_u if "tangent" in lat[v].dims else coord_u)
    if "coord" in lat.coords:
        lat["coord"].attrs.update(long_name=f"coordinate of {name}", units="1")
    if "tangent" in lat.coords:
        lat["tangent"].attrs.update(long_name=f"tangent direction of {name} (posterior spread)", units="1")
    return lat


def annotate_tuning(tc: xr.Dataset, manifold, y_units: str) -> xr.Dataset:
    """Tuning curves (neuron, grid...): mean and std of E[y | g], grid coordinates with units."""
    tc = tc.copy()
    for v in tc.data_vars:
        what = "mean" if v == "mean" else ("standard deviation" if v == "std" else v)
        tc[v].attrs.update(long_name=f"tuning curve on {manifold.name}: posterior {what} of E[activity | latent]",
                           units=y_units)
    coord_u, _ = coordinate_units(manifold, manifold.ambient_dim, manifold.dim)
    names = list(manifold.coord_names)
    for c in tc.coords:
        if c == "neuron":
            continue
        unit = coord_u[names.index(c)] if c in names and len(coord_u) == len(names) else "1"
        tc[c].attrs.update(long_name=f"grid over {manifold.name}: coordinate {c}", units=unit)
    return tc


def annotate_elbo(elbo: np.ndarray, name: str, stop: dict) -> xr.Dataset:
    """``elbo_<name>`` (step_<name>) with a 1-based step coordinate and the stopping record."""
    steps = np.arange(1, len(elbo) + 1)
    da = xr.DataArray(np.asarray(elbo, dtype=float), dims=(f"step_{name}",),
                      coords={f"step_{name}": steps},
                      attrs={"long_name": f"ELBO of the {name} fit at each optimisation step (Monte-Carlo estimate)",
                             "units": "nats", **stop})
    da[f"step_{name}"].attrs.update(long_name=f"optimisation step of the {name} fit", units="1")
    return da.to_dataset(name=f"elbo_{name}")


def annotate_cv(cv: xr.Dataset, y_units: str) -> xr.Dataset:
    """The cross-validation table (manifold, fold) of :func:`compare_manifolds`, renamed ``cv_*``."""
    cv = cv.rename({v: f"cv_{v}" for v in cv.data_vars}).drop_attrs()
    texts = {"cv_log_likelihood": ("held-out log predictive density per scored entry "
                                   "(latents inferred from the other half of the neurons)", "nats"),
             "cv_mse": ("held-out mean squared error per scored entry", f"({y_units})^2" if y_units != "1" else "1"),
             "cv_elbo": ("final training ELBO per training time bin", "nats")}
    for v in cv.data_vars:
        long_name, units = texts.get(v, (v, "1"))
        cv[v].attrs.update(long_name=long_name, units=units)
    cv["manifold"].attrs.update(long_name="latent manifold of the cross-validated model")
    cv["fold"].attrs.update(long_name="cross-validation fold (random split of the time bins)", units="1")
    return cv


def annotate_data(ds: xr.Dataset, y_units: str) -> xr.Dataset:
    """The modelled data ``Y`` and the shared ``time``/``neuron`` coordinates."""
    ds = ds.copy()
    ds["Y"].attrs.update(long_name="modelled activity (after the preprocessing recorded in the attributes)",
                         units=y_units)
    ds["time"].attrs.update(standard_name="time", long_name="time since the start of the recording", units="s")
    ds["neuron"].attrs.update(long_name="neuron (ROI) label", units="1")
    if "trial" in ds.dims:
        _annotate_trials(ds)
    return ds


def _annotate_trials(ds: xr.Dataset) -> None:
    """``trial``, ``n_bins`` and ``trial_time`` of a joint fit; ``time`` is a clock only when shared.

    ``MGPLVM.latents()`` indexes ``time`` by the longest trial's time stamps when every trial's
    stamps are a prefix of them, else by the bin index (then dimensionless).
    """
    ds["Y"].attrs["long_name"] += "; one row per trial, NaN past a trial's end"
    ds["trial"].attrs.update(long_name="trial (one recording of the joint fit; label = file stem)", units="1")
    ds["n_bins"].attrs.update(long_name="time bins in each trial", units="1")
    ds["trial_time"].attrs.update(long_name="time stamp of each bin on its own trial's clock (NaN past its end)",
                                  units="s")
    stamps, n = np.asarray(ds["trial_time"].values, dtype=float), np.asarray(ds["n_bins"].values)
    longest = stamps[int(np.argmax(n)), :int(n.max())]
    if np.array_equal(np.asarray(ds["time"].values, dtype=float)[:longest.size], longest):
        ds["time"].attrs.update(long_name="time since the start of each trial (the trials share this clock)")
    else:
        ds["time"].attrs.update(standard_name="", long_name="bin index within each trial (the trials' clocks differ; "
                                "see trial_time)", units="1")
        del ds["time"].attrs["standard_name"]
