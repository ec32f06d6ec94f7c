"""Phase diagrams over parameter grids, serial or on a Dask cluster, with an on-disk cache.

:func:`phase_diagram` evaluates ``quantities`` at every point of a parameter grid and returns an
``xarray.Dataset`` with one dimension per grid parameter. Quantities:

``zero_fp_stable`` / ``zero_fp_edge``
    Predicted rightmost edge of the zero-fixed-point Jacobian support and its sign (cheap).
``n_static``
    Number of nonzero static mean-field solutions (:func:`fixed_point_dmft`; the topological
    complexity line is where it jumps from 0).
``delta0`` / ``lambda_max`` / ``phase`` / ``converged`` / ``residual``
    From :func:`dmft` (``on_fail="return"``: a point that does not converge is *flagged*
    ``converged = 0`` with its residual and NaN values, never dropped or silently trusted).

For grids of constant-update-gate :class:`GatedRNN` models (``alpha_z = 0``) the DMFT quantities
are solved for all points at once by :func:`~neurolatent.theory.dmft_grid.dmft_grid`
(``vectorize=True``, the default; equal to the per-point route within 1e-3, tested), which is what
makes a 50 × 50 diagram of ``lambda_max`` and ``delta0`` affordable (``benchmarks/theory_speed.py
--grid50``). Every variable and coordinate carries CF ``units``/``long_name`` and the Dataset the
model family, its fixed parameters and the package version as attributes.

Each point's result is cached as JSON under ``cache_dir`` keyed by a SHA-256 of the model, the
quantities, the DMFT options and ``neurolatent.__version__``, written atomically. With
``client=`` (a ``distributed.Client``) the points are mapped with ``client.map`` and gathered;
the result is identical to the serial run (tested with a 2-worker LocalCluster).
"""
from __future__ import annotations

import dataclasses
import hashlib
import itertools
import json
import math
from pathlib import Path

import numpy as np
import xarray as xr
from tqdm.auto import tqdm

from .._utils import atomic_path, map_chunks
from .._version import __version__
from .dmft import dmft
from .fixed_points import fixed_point_dmft
from .spectrum import jacobian_spectrum

__all__ = ["phase_diagram", "parse_grid", "QUANTITIES"]

QUANTITIES = ("zero_fp_edge", "zero_fp_stable", "n_static", "delta0", "lambda_max", "phase_code",
              "converged", "residual")
_PHASES = {"quiescent": 0, "critical": 1, "static": 2, "chaotic": 3}


def parse_grid(spec) -> np.ndarray:
    """``"1:3:41"`` -> 41 points from 1 to 3; ``"0.5"`` -> one point; a list -> array.

    Examples
    --------
    >>> parse_grid("1:3:5")
    array([1. , 1.5, 2. , 2.5, 3. ])
    """
    if isinstance(spec, str):
        parts = spec.split(":")
        try:
            if len(parts) == 3:
                arr = np.linspace(float(parts[0]), float(parts[1]), int(parts[2]))
            elif len(parts) == 1:
                arr = np.array([float(parts[0])])
            else:
                raise ValueError
        except ValueError:
            raise ValueError(f"grid spec {spec!r} is not 'start:stop:num' or a number") from None
    else:
        arr = np.atleast_1d(np.asarray(spec, dtype=float))
    if arr.size == 0:
        raise ValueError(f"grid {spec!r} has no points; give at least one value (e.g. '1:3:41')")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"grid {spec!r} contains non-finite values")
    return arr


def _evaluate(model, quantities, dmft_kwargs) -> dict:
    out = {}
    if {"zero_fp_edge", "zero_fp_stable"} & set(quantities):
        p = jacobian_spectrum(model, samples="zero", n_angles=8)
        edge = p.spectral_radius if model.kind == "map" else p.real_edges[1]
        out["zero_fp_edge"] = float(edge)
        out["zero_fp_stable"] = float(edge < (1.0 if model.kind == "map" else 0.0))
    if "n_static" in quantities:
        out["n_static"] = float(sum(s.delta_h > 0 for s in fixed_point_dmft(model, stability=False)))
    if {"delta0", "lambda_max", "phase_code", "converged", "residual"} & set(quantities):
        res = dmft(model, on_fail="return", **dmft_kwargs)
        ok = bool(res.converged)  # a non-converged point is flagged and NaN, never a result
        out.update(delta0=res.delta0 if ok else math.nan, lambda_max=res.lambda_max if ok else math.nan,
                   phase_code=float(_PHASES[res.phase]) if ok else math.nan,
                   converged=float(ok), residual=res.residual)
    return {q: float(out[q]) for q in quantities}


def _key(model, quantities, dmft_kwargs) -> str:
    blob = json.dumps({"model": type(model).__name__, "params": dataclasses.asdict(model),
                       "quantities": list(quantities), "dmft": dmft_kwargs, "version": __version__},
                      sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:32]


def _point(model, quantities, dmft_kwargs, cache_dir):
    if cache_dir is not None:
        f = Path(cache_dir) / f"{_key(model, quantities, dmft_kwargs)}.json"
        if f.exists():
            return json.loads(f.read_text())["values"]
    vals = _evaluate(model, quantities, dmft_kwargs)
    if cache_dir is not None:
        with atomic_path(f) as tmp:
            tmp.write_text(json.dumps({"model": repr(model), "version": __version__,
                                       "values": {k: (None if math.isnan(v) else v) for k, v in vals.items()}}))
    return vals


def _chunk(models, quantities, dmft_kwargs, cache_dir):
    return [_point(m, quantities, dmft_kwargs, cache_dir) for m in models]


_DMFT_Q = {"delta0", "lambda_max", "phase_code", "converged", "residual"}


def _vectorizable(models, quantities, dmft_kwargs) -> bool:
    from .models import GatedRNN
    if not (_DMFT_Q & set(quantities)) or set(dmft_kwargs) - {"dt", "tau_max", "tol", "max_iter", "init_variance"}:
        return False
    if dmft_kwargs.get("method", "auto") not in ("auto", "gaussian"):
        return False
    ok = all(isinstance(m, GatedRNN) and m.alpha_z == 0 for m in models)
    key = lambda m: (m.beta_h, m.gate_offset("r"), m.tau_h, m.tau_r)  # noqa: E731
    return ok and len({key(m) for m in models}) == 1


def _grid_dmft(models, quantities, dmft_kwargs, client):
    """DMFT quantities of all points by :func:`dmft_grid` (chunks on ``client`` when given)."""
    from .dmft_grid import dmft_grid
    kw = dict(dmft_kwargs)
    if "dt" not in kw or "tau_max" not in kw:  # the per-point defaults: finest dt, longest window
        from .dmft import _gated_grid
        grids = [_gated_grid(m, kw.get("dt"), kw.get("tau_max"), m.gate_at_zero("z")) for m in models]
        kw.setdefault("dt", min(g[1] for g in grids))
        kw.setdefault("tau_max", max(g[0][-1] for g in grids))
    if client is None:
        parts = [dmft_grid(models, **kw)]
    else:
        parts = map_chunks(client, dmft_grid, models, **kw)
    cat = lambda k: np.concatenate([p[k] for p in parts])  # noqa: E731
    phase = cat("phase")
    vals = {"delta0": cat("delta0"), "lambda_max": cat("lambda_max"), "converged": cat("converged").astype(float),
            "residual": cat("residual"),
            "phase_code": np.array([float(_PHASES[x]) if x in _PHASES else np.nan for x in phase])}
    return [{q: float(vals[q][i]) for q in quantities if q in vals} for i in range(len(models))]


def phase_diagram(model_factory, grid: dict, quantities=("zero_fp_stable", "n_static"), client=None,
                  cache_dir=None, dmft_kwargs: dict | None = None, progress: bool = True,
                  vectorize: bool = True) -> xr.Dataset:
    """Evaluate ``quantities`` of ``model_factory(**point)`` over the product ``grid``.

    Parameters
    ----------
    model_factory : callable
        ``model_factory(**{name: value})`` -> model (e.g. ``lambda g_h, alpha_r: GatedRNN(g_h, 0, alpha_r)``).
    grid : dict of str -> array-like or "start:stop:num"
        One coordinate per parameter; every combination is evaluated.
    quantities : sequence of str
        Subset of :data:`QUANTITIES`.
    client : distributed.Client, optional
        Evaluate on a Dask cluster; default serial.
    cache_dir : path, optional
        Folder of per-point JSON results (created if missing).
    dmft_kwargs : dict, optional
        Passed to :func:`dmft`.
    vectorize : bool
        Solve the DMFT quantities of all points at once with :func:`dmft_grid` where it applies
        (every model a :class:`GatedRNN` with ``alpha_z = 0`` (the points with ``alpha_r = 0`` too,
        which the per-point route reduces exactly to SCS), with a
        common ``beta_h``, ``beta_r``, ``tau_h``, ``tau_r``; ``dmft_kwargs`` among dt, tau_max,
        tol, max_iter, init_variance). Equal to the per-point route within 1e-3 relative in Δ₀
        and 1e-3 absolute in λ_max (tested); non-converged points are NaN with ``converged = 0``.
        The per-point cache is not used for these quantities.

    Returns
    -------
    xarray.Dataset
        One variable per quantity with dims = grid names. Every variable and coordinate carries
        CF ``units``/``long_name``; ``attrs`` hold the model family, its fixed parameters
        (``model_params`` JSON and ``param_<name>``), the grid parameter names, the DMFT options
        and the package version (all str/int/float, so ``to_netcdf`` round-trips them).

    Examples
    --------
    >>> from neurolatent.theory import GatedRNN
    >>> ds = phase_diagram(lambda g_h: GatedRNN(g_h), {"g_h": "1:3:3"}, ["zero_fp_stable"], progress=False)
    >>> ds.zero_fp_stable.values.tolist()   # stable iff g_h sigma_r(0) = g_h / 2 < 1
    [1.0, 0.0, 0.0]
    """
    if not isinstance(grid, dict) or not grid:
        raise ValueError("grid must be a non-empty dict of parameter name -> values")
    coords = {k: parse_grid(v) for k, v in grid.items()}
    quantities = list(quantities)
    bad = [q for q in quantities if q not in QUANTITIES]
    if bad or not quantities:
        raise ValueError(f"unknown or no quantities {bad}; choose from {QUANTITIES}")
    dmft_kwargs = dict(dmft_kwargs or {})
    if cache_dir is not None:
        Path(cache_dir).mkdir(parents=True, exist_ok=True)
    names = list(coords)
    points = list(itertools.product(*(coords[n] for n in names)))
    models = [model_factory(**dict(zip(names, map(float, p)))) for p in points]
    if vectorize and _vectorizable(models, quantities, dmft_kwargs):
        rest = [q for q in quantities if q not in _DMFT_Q]
        vec = _grid_dmft(models, [q for q in quantities if q in _DMFT_Q], dmft_kwargs, client)
        if rest:
            other = [_point(m, rest, dmft_kwargs, cache_dir) for m in tqdm(models, disable=not progress,
                                                                          desc="phase diagram")]
            vec = [{**a, **b} for a, b in zip(vec, other)]
        results = vec
    elif client is None:
        results = [_point(m, quantities, dmft_kwargs, cache_dir) for m in tqdm(models, disable=not progress,
                                                                               desc="phase diagram")]
    else:
        # chunks of points per task: one task per point costs more in scheduling than a cheap
        # point costs to evaluate (measured: 1681 single-point tasks were slower than serial)
        parts = map_chunks(client, _chunk, models, per_worker=8, quantities=quantities, dmft_kwargs=dmft_kwargs,
                           cache_dir=None if cache_dir is None else str(cache_dir))
        results = [r for part in parts for r in part]
    shape = tuple(len(coords[n]) for n in names)
    data = {q: (names, np.array([np.nan if r[q] is None else r[q] for r in results]).reshape(shape))
            for q in quantities}
    attrs = {"neurolatent_version": __version__, "model": type(models[0]).__name__,
             "phase_codes": json.dumps(_PHASES), "grid_parameters": json.dumps(names),
             "dmft_kwargs": json.dumps(dmft_kwargs, sort_keys=True, default=str)}
    return _describe(xr.Dataset(data, coords=coords, attrs=attrs), models, names)


def _describe(ds: xr.Dataset, models, names) -> xr.Dataset:
    """CF units/long_name on every variable and coordinate; the fixed model parameters as attrs."""
    from ._cf import annotate, model_attrs

    varying = {k for k in names}
    first = dataclasses.asdict(models[0])
    varying |= {k for m in models[1:] for k, v in dataclasses.asdict(m).items() if v != first[k]}
    ds.attrs.update(model_attrs(models[0], skip=varying))
    ds.attrs["varying_parameters"] = json.dumps(sorted(varying))
    return annotate(ds)
