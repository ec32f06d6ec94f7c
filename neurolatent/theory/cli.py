"""``neurolatent theory dmft|spectrum|phase-diagram|lyapunov`` subcommands (argparse).

The top-level CLI calls :func:`add_theory_parser` with its ``subparsers`` object; every
subcommand sets ``func`` to a handler taking the parsed ``args``.

Examples (shell)::

    neurolatent theory dmft --model gated --g-h 3 --alpha-z 0 --alpha-r 4
    neurolatent theory spectrum --model gru --g-h 2 --b-z -4 --N 300 --plot spec.png
    neurolatent theory phase-diagram --model gated --g-h 1:3:41 --alpha-r 0:20:41 --out pd.nc --plot pd.png
    neurolatent theory lyapunov --model vanilla --g 2 --N 200 --T 100 --k 20
"""
from __future__ import annotations

import argparse
import dataclasses
import json

import numpy as np

from .models import _NAMES

__all__ = ["add_theory_parser"]

_PARAMS = sorted({f.name for cls in set(_NAMES.values()) for f in dataclasses.fields(cls)})


def _model_args(p):
    p.add_argument("--model", default="gated", choices=sorted(_NAMES), help="model family")
    for name in _PARAMS:
        p.add_argument("--" + name.replace("_", "-"), dest=name, default=None,
                       help=f"model parameter {name} (a number; for phase-diagram also start:stop:num)")


def _build(args, override=None):
    from .models import model_from_name

    cls = _NAMES[args.model]
    valid = {f.name for f in dataclasses.fields(cls)}
    params = {}
    for name in valid:
        v = getattr(args, name, None)
        if v is not None:
            params[name] = v if name in ("gate_bias", "update") else float(v)
    params.update(override or {})
    return model_from_name(args.model, **params)


def _cmd_dmft(args):
    from .dmft import dmft

    res = dmft(_build(args), on_fail="return" if args.allow_unconverged else "raise")
    summary = {"delta0": res.delta0, "lambda_max": res.lambda_max, "phase": res.phase,
               "converged": res.converged, "residual": res.residual, "method": res.method}
    print(json.dumps(summary, indent=2))
    if args.out:
        from .._utils import atomic_path
        with atomic_path(args.out, suffix=".nc") as tmp:
            res.to_dataset().to_netcdf(tmp, engine="h5netcdf")
    if args.plot:
        from ..plotting.theory import plot_autocorrelation
        plot_autocorrelation(res).figure.savefig(args.plot)
    return 0


def _cmd_spectrum(args):
    from .spectrum import empirical_spectrum, jacobian_spectrum

    model = _build(args)
    pred = jacobian_spectrum(model)
    emp = empirical_spectrum(model, args.N, seeds=args.seed, state=args.state)
    ev = emp.eigenvalues.ravel()
    print(json.dumps({"predicted_real_edges": list(pred.real_edges), "predicted_radius": pred.spectral_radius,
                      "predicted_slow_fraction": pred.slow_fraction,
                      "empirical_real_edges": [float(ev.real.min()), float(ev.real.max())],
                      "fraction_inside": float(np.mean(pred.contains(ev)))}, indent=2))
    if args.plot:
        from ..plotting.theory import plot_spectrum
        plot_spectrum(pred, ev).figure.savefig(args.plot)
    return 0


def _cmd_phase(args):
    from .phase_diagram import phase_diagram

    grid, fixed = {}, {}
    for name in _PARAMS:
        v = getattr(args, name, None)
        if v is None or name in ("gate_bias", "update"):
            continue
        if ":" in str(v):
            grid[name] = v
        else:
            fixed[name] = float(v)
    if not grid:
        raise SystemExit("phase-diagram needs at least one grid parameter such as --g-h 1:3:41")
    client = None
    if args.dask_workers:
        from distributed import Client, LocalCluster
        client = Client(LocalCluster(n_workers=args.dask_workers, threads_per_worker=1))
    factory = _Factory(args, fixed)
    ds = phase_diagram(factory, grid, args.quantities.split(","), client=client, cache_dir=args.cache_dir)
    if client is not None:
        client.close()
    if args.out:
        from .._utils import atomic_path
        with atomic_path(args.out, suffix=".nc") as tmp:
            ds.to_netcdf(tmp, engine="h5netcdf")
    if args.plot:
        from ..plotting.theory import plot_phase_diagram
        plot_phase_diagram(ds).figure.savefig(args.plot)
    print(ds)
    return 0


class _Factory:
    """Picklable model factory (for Dask workers)."""

    def __init__(self, args, fixed):
        self.model, self.fixed = args.model, fixed

    def __call__(self, **point):
        from .models import model_from_name
        return model_from_name(self.model, **{**self.fixed, **point})


def _cmd_lyapunov(args):
    from .lyapunov import lyapunov_spectrum

    res = lyapunov_spectrum(_build(args), args.N, args.T, k=args.k, dt=args.dt, seeds=args.seed)
    print(json.dumps({"exponents": res.mean.tolist(), "mean_trace": res.mean_trace.tolist()}, indent=2))
    if args.plot:
        from ..plotting.theory import plot_lyapunov_spectrum
        plot_lyapunov_spectrum(res).figure.savefig(args.plot)
    return 0


def add_theory_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``theory`` with its four subcommands on an argparse ``subparsers`` object."""
    theory = subparsers.add_parser("theory", help="gated-RNN mean-field theory, spectra, Lyapunov, phase diagrams")
    sub = theory.add_subparsers(dest="theory_command", required=True)
    p = sub.add_parser("dmft", help="solve the stationary DMFT")
    _model_args(p)
    p.add_argument("--out", help="write the correlations as netCDF")
    p.add_argument("--plot", help="save an autocorrelation figure")
    p.add_argument("--allow-unconverged", action="store_true", help="print an unconverged result instead of failing")
    p.set_defaults(func=_cmd_dmft)
    p = sub.add_parser("spectrum", help="predicted vs empirical Jacobian spectrum")
    _model_args(p)
    p.add_argument("--N", type=int, default=300)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--state", default="attractor", choices=["attractor", "zero"])
    p.add_argument("--plot")
    p.set_defaults(func=_cmd_spectrum)
    p = sub.add_parser("phase-diagram", help="quantities over a parameter grid (start:stop:num)")
    _model_args(p)
    p.add_argument("--quantities", default="zero_fp_stable,n_static")
    p.add_argument("--out")
    p.add_argument("--plot")
    p.add_argument("--cache-dir")
    p.add_argument("--dask-workers", type=int, default=0, help="run on a local Dask cluster with this many workers")
    p.set_defaults(func=_cmd_phase)
    p = sub.add_parser("lyapunov", help="Lyapunov spectrum of simulated networks (QR)")
    _model_args(p)
    p.add_argument("--N", type=int, default=200)
    p.add_argument("--T", type=float, default=100.0)
    p.add_argument("--k", type=int, default=None)
    p.add_argument("--dt", type=float, default=0.1)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--plot")
    p.set_defaults(func=_cmd_lyapunov)
    return theory
