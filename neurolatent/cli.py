"""The commands of the ``neurolatent`` console script.

The parser and the entry point live in the light ``neurolatent_cli`` package (standard library
only, so that ``neurolatent --help`` and argument errors answer at once); once the arguments are
parsed and checked, it calls :func:`run`, which dispatches to the commands here.

``neurolatent info <recording> | --dataset NAME``
    Summarise a recording (any format :func:`neurolatent.io.read` reads) or a ``fit.nc``.
``neurolatent convert <recording> <out.nc>``
    Read a recording and write it as netCDF (atomically).
``neurolatent fit <recording> [<recording> ...] | --dataset NAME --manifold T1 [--manifold R1 ...] --out results/``
    Fit mGPLVMs (early stopping by default; ``--max-steps`` is an upper bound), cross-validate
    when several manifolds are given, write ``fit.nc`` and figures. Several recordings of the same
    neurons are fitted jointly as trials (label = file stem): ``fit.nc`` gets a ``trial`` dim and
    there is one latent figure per trial. Ctrl-C stops at a step
    boundary, keeps a checkpoint in ``--out`` and exits with status 130; ``--resume`` continues.
``neurolatent demo``
    Fit a ring (T1) to the small sample shipped in ``data/`` and write the figures.
``neurolatent theory ...``
    Gated-RNN mean-field theory: DMFT, Jacobian spectra, Lyapunov spectra, phase diagrams.
"""
from __future__ import annotations

import argparse
import shlex
import sys
import warnings
from pathlib import Path

from neurolatent_cli import build_parser, main

__all__ = ["main", "build_parser", "run", "HANDLERS"]

#: Where ``neurolatent demo`` looks for its sample (the repository's ``data/`` folder).
DEMO_DATA = Path(__file__).resolve().parents[1] / "data" / "demo_ring.nc"


class CLIError(Exception):
    """An error the command line reports as one line, without a traceback."""


def _is_placeholder_rate(ds) -> bool:
    return str(ds.attrs.get("fs_note", "")).startswith("suspect")


def _read_path(path, kwargs: dict):
    """``io.read(path, **kwargs)``, or the Turner-Evans et al. (2017) loader for one of its trial ``.mat`` files."""
    from . import io

    if Path(path).suffix.lower() == ".mat" and Path(path).is_file():
        from .datasets.turner_evans import is_turner_evans_2017, read_turner_evans_2017

        if is_turner_evans_2017(path):
            if kwargs:
                raise CLIError(f"--fs does not apply to {str(path)!r}: the Turner-Evans "
                               "trial file stores its volume times (drop --fs)")
            return read_turner_evans_2017(path)
    return io.read(path, **kwargs)


def _read_source(args: argparse.Namespace, command: str):
    """The recording of ``args`` (a path or ``--dataset``), with warnings as one-line notes.

    A frame rate that the file stores as a placeholder is reported once, as a suggestion to pass
    ``--fs`` (the reader's own warning, written for Python users, is not shown).
    """
    from . import io
    from .datasets import load_dataset
    from .io.errors import RecordingDataWarning

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if getattr(args, "dataset", None):
            ds = load_dataset(args.dataset)
        else:
            kwargs = {"fs": args.fs} if getattr(args, "fs", None) is not None else {}
            ds = _read_path(args.recording, kwargs)
    placeholder = _is_placeholder_rate(ds) and getattr(args, "fs", None) is None
    for w in caught:
        if placeholder and issubclass(w.category, RecordingDataWarning) and "frame rate" in str(w.message):
            continue
        print(f"neurolatent {command}: warning: {w.message}", file=sys.stderr)
    if placeholder:
        print(f"neurolatent {command}: note: the frame rate stored in {ds.attrs.get('fs_origin', 'the file')} is "
              f"{float(ds.attrs['fs']):g} Hz, a placeholder; pass the imaging rate with --fs (e.g. --fs 30) "
              "so that times are in seconds", file=sys.stderr)
    if getattr(args, "cells_only", False):
        from .preprocessing import select_cells

        n = ds.sizes["neuron"]
        ds = select_cells(ds)
        print(f"neurolatent {command}: --cells-only kept {ds.sizes['neuron']} of {n} ROIs", file=sys.stderr)
    return ds, placeholder


def _cmd_info(args: argparse.Namespace) -> int:
    from . import io

    ds, _ = _read_source(args, "info")
    print(io.summarize(ds))
    return 0


def _cmd_convert(args: argparse.Namespace) -> int:
    from . import io

    out = Path(args.out)
    if out.suffix != ".nc":
        raise CLIError(f"output {str(out)!r} should end in .nc (netCDF); pass e.g. recording.nc")
    ds, _ = _read_source(args, "convert")
    io.write_netcdf(ds, out)
    print(f"wrote {out} ({ds.sizes['time']} frames x {ds.sizes['neuron']} neurons)")
    return 0


def _early_stopping(args: argparse.Namespace):
    from .inference import EarlyStopping

    if args.no_early_stopping:
        return False
    kw = {}
    if args.patience is not None:
        kw["patience"] = args.patience
    if args.tol is not None:
        kw["rel_tol"] = args.tol
    return EarlyStopping(**kw) if kw else True


def _fit_kwargs(args: argparse.Namespace) -> dict:
    argv = getattr(args, "argv", None)
    return dict(
        likelihood=args.likelihood,
        dff=args.dff,
        bin_s=args.bin_s,
        zscore=args.zscore,
        variable=getattr(args, "variable", None),
        max_steps=args.max_steps,
        early_stopping=_early_stopping(args),
        seed=args.seed,
        lr=args.lr,
        neuron_batch_size=getattr(args, "neuron_batch_size", None),
        device=args.device,
        resume=args.resume,
        progress=not args.quiet,
        history=None if argv is None else "neurolatent " + " ".join(shlex.quote(a) for a in argv),
    )


def _report(paths: dict, args: argparse.Namespace) -> None:
    import xarray as xr

    with xr.open_dataset(paths["fit"], engine="h5netcdf") as fit:
        for v in fit.data_vars:
            if not v.startswith("elbo_"):
                continue
            a, name = fit[v].attrs, v[len("elbo_"):]
            if a.get("stop_reason") == "early_stopping":
                print(f"{name}: converged, the ELBO plateaued at step {a['stop_step']} (of at most {args.max_steps})")
            elif int(a.get("converged", 0)):
                print(f"{name}: ran all {a['stop_step']} steps; the ELBO had plateaued")
            else:
                print(f"{name}: ran all {a['stop_step']} steps and the ELBO was still rising: not converged; "
                      "raise --max-steps")
    for name, path in paths.items():
        print(f"{name}: {path}")


def _fit(source, manifolds, args: argparse.Namespace, **extra) -> int:
    from .fit_pipeline import fit_recording

    paths = fit_recording(source, manifolds, out_dir=args.out, **_fit_kwargs(args), **extra)
    _report(paths, args)
    return 0


def _read_trials(args: argparse.Namespace) -> tuple[dict, bool]:
    """Every recording of ``args.recordings`` as ``{file stem: Dataset}``, checked to share their neurons."""
    from neurolatent_cli import _stem

    trials, placeholder, counts = {}, False, {}
    for path in args.recordings:
        one = argparse.Namespace(**{**vars(args), "recording": path})
        ds, ph = _read_source(one, "fit")
        if ds.attrs.get("source_path", "-") in ("-", ""):  # e.g. a netCDF whose recording was made in memory
            ds = ds.assign_attrs(source_path=str(path))
        trials[_stem(path)] = ds
        placeholder |= ph
        counts[path] = int(ds.sizes.get("neuron", 0))
    if len(set(counts.values())) > 1:
        listing = ", ".join(f"{p} has {n}" for p, n in counts.items())
        raise CLIError(f"the recordings have different neuron counts ({listing}); trials share their tuning curves, "
                       "so every file must hold the same neurons (fit them one at a time, or use --cells-only only "
                       "when it keeps the same ROIs in each)")
    return trials, placeholder


def _cmd_fit(args: argparse.Namespace) -> int:
    manifolds = args.manifold or ["T1"]
    if len(getattr(args, "recordings", None) or []) > 1:
        ds, placeholder = _read_trials(args)
    else:
        ds, placeholder = _read_source(args, "fit")
    if args.dff and placeholder:
        raise CLIError("--dff needs the true frame rate (its baseline window is 60 s), and this recording stores a "
                       "placeholder; pass the imaging rate with --fs, e.g. --fs 30")
    client = None
    if args.cv_workers and len(manifolds) > 1:
        try:
            from distributed import Client, LocalCluster
        except ImportError:
            raise CLIError('--cv-workers needs dask: pip install "dask[distributed]"') from None
        client = Client(LocalCluster(n_workers=args.cv_workers, threads_per_worker=1))
    try:
        return _fit(ds, manifolds, args, folds=args.folds, cv_steps=args.cv_steps, client=client)
    finally:
        if client is not None:
            client.close()


def _cmd_demo(args: argparse.Namespace) -> int:
    if DEMO_DATA.exists():
        source = DEMO_DATA
    else:  # installed without the repository: regenerate the same sample in memory
        from .datasets import make_demo_recording

        print(f"{DEMO_DATA} not found; generating the demo ring recording in memory", file=sys.stderr)
        source = make_demo_recording()
    print(f"neurolatent demo: fitting a ring (T1) to {source if isinstance(source, Path) else 'the demo sample'}")
    return _fit(source, ["T1"], args)


def _theory(name):
    def handler(args):
        from .theory.cli import HANDLERS as theory_handlers

        return theory_handlers[name](args)

    return handler


#: ``{handler name set by the parser: command}``.
HANDLERS = {"info": _cmd_info, "convert": _cmd_convert, "fit": _cmd_fit, "demo": _cmd_demo,
            **{f"theory.{n}": _theory(n) for n in ("dmft", "spectrum", "phase-diagram", "lyapunov", "gradients",
                                                  "transition")}}


def _interrupted(exc, args) -> None:
    from .inference import FitInterrupted

    cmd = f"neurolatent {args.command}"
    if isinstance(exc, FitInterrupted) and exc.checkpoint is not None:
        print(f"{cmd}: interrupted: {exc.desc} stopped at step {exc.step} (not converged); its state is saved in "
              f"{exc.checkpoint}; run the same command with --resume to continue", file=sys.stderr)
    elif isinstance(exc, FitInterrupted) and args.command == "fit":
        print(f"{cmd}: interrupted during cross-validation ({exc.desc}, step {exc.step}); the manifold fits are "
              f"kept in {args.out}; run the same command with --resume to redo only the cross-validation",
              file=sys.stderr)
    else:
        print(f"{cmd}: interrupted", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    """Run the command ``args`` (parsed and checked by ``neurolatent_cli``); returns the exit status.

    Input errors print one line and return 2; Ctrl-C returns 130 after saying what was kept.
    """
    from ._utils import DeviceUnavailableError
    from .io.errors import RecordingError

    name = args.command if args.command != "theory" else f"theory {args.theory_command}"
    try:
        return int(HANDLERS[args.handler](args) or 0)
    except KeyboardInterrupt as exc:
        _interrupted(exc, args)
        return 130
    except (CLIError, RecordingError, FileNotFoundError, FileExistsError, ValueError, KeyError, ImportError,
            DeviceUnavailableError, FloatingPointError) as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else exc
        print(f"neurolatent {name}: error: {msg}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
