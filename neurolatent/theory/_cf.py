"""CF-style metadata for the theory module's xarray outputs (``units``, ``long_name``, provenance).

Time in the theory models is measured in the unit in which the model's time constants are given
(``tau`` for :class:`VanillaRNN`, ``tau_h``/``tau_z``/``tau_r`` for :class:`GatedRNN`; the
defaults are 1): lags carry ``units = "tau"`` and rates ``units = "1/tau"``. States, gains and
correlations are dimensionless (``units = "1"``, the CF convention). Attributes are restricted to
str, int and float so that ``to_netcdf`` (netCDF4 or h5netcdf) round-trips them; the model's
parameters are stored both as one ``param_<name>`` attribute each and as a JSON string
``model_params``.
"""
from __future__ import annotations

import dataclasses
import json

import xarray as xr

from .._version import __version__

# name -> (units, long_name)
VARIABLES = {
    "tau": ("tau", "time lag in units of the model time constant"),
    "C": ("1", "stationary autocorrelation of the main state variable (x for SCS, h for the gated RNN)"),
    "C_phi": ("1", "autocorrelation of the activation phi(h)"),
    "C_r": ("1", "autocorrelation of the output-gate variable r"),
    "C_z": ("1", "autocorrelation of the update-gate variable z"),
    "C_sigma_r": ("1", "autocorrelation of the output gate sigma_r(r)"),
    "zero_fp_edge": ("1/tau", "rightmost real edge of the Jacobian support at the zero fixed point "
                     "(flows; spectral radius for maps, dimensionless)"),
    "zero_fp_stable": ("1", "zero fixed point linearly stable (1) or not (0)"),
    "n_static": ("1", "number of nonzero static mean-field solutions"),
    "delta0": ("1", "DMFT variance Delta_0 of the main state variable"),
    "lambda_max": ("1/tau", "mean-field maximal Lyapunov exponent"),
    "phase_code": ("1", "phase code (see the phase_codes attribute)"),
    "converged": ("1", "DMFT converged (1) or not (0; its values are NaN)"),
    "residual": ("1", "final relative residual of the DMFT iteration"),
    "n_iter": ("1", "DMFT iterations"),
    # model parameters as grid coordinates
    "g": ("1", "gain of the random coupling (SCS)"),
    "g_h": ("1", "gain of the activation phi(h) = tanh(g_h h + beta_h)"),
    "alpha_z": ("1", "update-gate sensitivity alpha_z"),
    "alpha_r": ("1", "output-gate sensitivity alpha_r"),
    "beta_z": ("1", "update-gate bias beta_z"),
    "beta_r": ("1", "output-gate bias beta_r"),
    "beta_h": ("1", "activation bias beta_h"),
    "tau_h": ("tau", "time constant of h"),
    "tau_z": ("tau", "time constant of the update gate z"),
    "tau_r": ("tau", "time constant of the output gate r"),
    "g_z": ("1", "gain of the update-gate weights"), "g_r": ("1", "gain of the reset-gate weights"),
    "b_z": ("1", "update-gate bias"), "b_r": ("1", "reset-gate bias"), "b_h": ("1", "candidate bias"),
}


def json_safe(value):
    """``value`` as a netCDF-storable attribute: bool -> int, None -> "none", other -> str."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float, str)):
        return value
    if value is None:
        return "none"
    return str(value)


def model_attrs(model, skip=()) -> dict:
    """Model family, parameters (``param_<name>`` and JSON ``model_params``) and package version."""
    params = {k: v for k, v in dataclasses.asdict(model).items() if k not in skip}
    attrs = {"model_family": type(model).__name__, "model_params": json.dumps(params, sort_keys=True),
             "neurolatent_version": __version__}
    attrs.update({f"param_{k}": json_safe(v) for k, v in params.items()})
    return attrs


def annotate(ds: xr.Dataset, table: dict | None = None, **attrs) -> xr.Dataset:
    """Set ``units``/``long_name`` on every variable and coordinate of ``ds`` (in place, returned).

    The one place where the theory module describes its xarray outputs: :meth:`DMFTResult.to_dataset`,
    :func:`phase_diagram`, :func:`gradient_dmft`'s and :func:`gradient_rate_sweep`'s datasets,
    :func:`transition_diagram`, :func:`transient_lifetimes` and the GRU fixed-point diagram all call it.

    Parameters
    ----------
    ds : xarray.Dataset
    table : dict, optional
        ``name -> (units, long_name)`` or ``(units, long_name, extra_attrs_dict)`` for the names
        particular to one output; looked up before the shared :data:`VARIABLES`. Names in neither
        get ``units = "1"`` and their name as ``long_name``. Attributes already on a variable win.
    **attrs
        Dataset attributes to add (e.g. ``**model_attrs(model)``).

    Every dataset attribute is then made netCDF-storable with :func:`json_safe`.

    Examples
    --------
    >>> import numpy as np
    >>> ds = annotate(xr.Dataset({"rate": ("g_h", np.zeros(2))}, coords={"g_h": [1.0, 2.0]}),
    ...               {"rate": ("1/tau", "gradient-norm rate")}, eps=0.1)
    >>> ds.rate.attrs["units"], ds.g_h.attrs["long_name"][:4], ds.attrs["eps"]
    ('1/tau', 'gain', 0.1)
    """
    table = table or {}
    for name in list(ds.variables):
        entry = table.get(str(name)) or VARIABLES.get(str(name)) or ("1", str(name))
        if len(entry) not in (2, 3):
            raise ValueError(f"metadata table entry for {name!r} must be (units, long_name[, extra]), got {entry!r}")
        ds[name].attrs.setdefault("units", entry[0])
        ds[name].attrs.setdefault("long_name", entry[1])
        for k, v in (entry[2] if len(entry) == 3 else {}).items():
            ds[name].attrs.setdefault(k, v)
    ds.attrs.update(attrs)
    for k, v in list(ds.attrs.items()):
        ds.attrs[k] = json_safe(v)
    return ds
