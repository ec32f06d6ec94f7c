"""``neurolatent theory dmft|spectrum|phase-diagram|lyapunov``: the command handlers.

The parser (per-model parameter tables with help and defaults, and their validation) lives in
the light ``neurolatent_cli.theory`` so that ``--help`` imports no torch; :func:`add_theory_parser`
registers it with these handlers as ``func`` (for programs that build their own parser).
A parameter the chosen ``--model`` does not take, or a missing required one, is a one-line error.

Examples (shell)::

    neurolatent theory dmft --model gated --g-h 3 --alpha-z 0 --alpha-r 4
    neurolatent theory spectrum --model gru --g-h 2 --b-z -4 --N 300 --plot spec.png
    neurolatent theory phase-diagram --model gated --g-h 1:3:41 --alpha-r 0:20:41 --out pd.nc --plot pd.png
    neurolatent theory lyapunov --model vanilla --g 2 --N 200 --T 100 --k 20
"""
from __future__ import annotations

import argparse
import json

import numpy as np

from neurolatent_cli.theory import add_theory_parser as _add_parser
from neurolatent_cli.theory import model_params, transition_options

__all__ = ["add_theory_parser", "HANDLERS"]


def _save_plot(ax, path) -> None:
    """Write a figure atomically (format from the file name's suffix, PNG by default)."""
    from pathlib import Path

    import matplotlib.pyplot as plt

    from .._utils import atomic_path

    fmt = Path(path).suffix.lstrip(".").lower() or "png"
    with atomic_path(path, suffix=f".{fmt}") as tmp:
        ax.figure.savefig(tmp, format=fmt, dpi=110)
    plt.close(ax.figure)


def _build(args, override=None):
    from .models import model_from_name

    params = model_params(args)
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
        _save_plot(plot_autocorrelation(res), args.plot)
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
        _save_plot(plot_spectrum(pred, ev, model=model), args.plot)
    return 0


def _cmd_phase(args):
    from .phase_diagram import phase_diagram

    grid, fixed = {}, {}
    for name, v in model_params(args, grid=True).items():
        if isinstance(v, str) and ":" in v:
            grid[name] = v
        else:
            fixed[name] = v
    if not grid:
        raise ValueError("phase-diagram needs at least one grid parameter such as --g-h 1:3:41")
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
        # a model at the grid's first point: its non-grid parameters name the figure
        first = factory(**{k: float(ds[k].values[0]) for k in grid})
        _save_plot(plot_phase_diagram(ds, model=first), args.plot)
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

    model = _build(args)
    res = lyapunov_spectrum(model, args.N, args.T, k=args.k, dt=args.dt, seeds=args.seed)
    print(json.dumps({"exponents": res.mean.tolist(), "mean_trace": res.mean_trace.tolist()}, indent=2))
    if args.plot:
        from ..plotting.theory import plot_lyapunov_spectrum
        _save_plot(plot_lyapunov_spectrum(res, model=model), args.plot)
    return 0


def _write_nc(ds, path) -> None:
    from .._utils import atomic_path
    with atomic_path(path, suffix=".nc") as tmp:
        ds.to_netcdf(tmp, engine="h5netcdf")


def _cmd_gradients(args):
    from .gradients import gradient_dmft

    res = gradient_dmft(_build(args), on_fail="return" if args.allow_unconverged else "raise")
    print(json.dumps({"rate": res.rate, "rate_asymptotic": res.rate_asymptotic, "lambda_max": res.lambda_max,
                      "converged": bool(res.converged), "residual": res.residual, "method": res.method}, indent=2))
    if args.out:
        _write_nc(res.to_dataset(), args.out)
    if args.plot:
        from ..plotting.gradients import plot_gradient_norm
        _save_plot(plot_gradient_norm(res), args.plot)
    return 0


def _cmd_transition(args):
    from .transition import transition_diagram

    ds = transition_diagram(beta_r=args.beta_r, xtol=args.xtol, **transition_options(args))
    lines = {float(a): {"g_static": float(ds["g_static"].sel(alpha_r=a)), "g_chaos": float(ds["g_chaos"].sel(alpha_r=a))}
             for a in ds["alpha_r"].values}
    print(json.dumps({"lines": lines}, indent=2))
    if args.out:
        _write_nc(ds, args.out)
    if args.plot:
        from ..plotting.transition import plot_transition
        _save_plot(plot_transition(ds), args.plot)
    return 0


#: ``{subcommand: handler(args) -> exit status}``.
HANDLERS = {"dmft": _cmd_dmft, "spectrum": _cmd_spectrum, "phase-diagram": _cmd_phase, "lyapunov": _cmd_lyapunov,
            "gradients": _cmd_gradients, "transition": _cmd_transition}


def add_theory_parser(subparsers) -> argparse.ArgumentParser:
    """Register ``theory`` with its four subcommands on an argparse ``subparsers`` object.

    Each subcommand's ``func`` default is its handler: ``args.func(args)`` runs it.
    """
    return _add_parser(subparsers, handlers=HANDLERS)
