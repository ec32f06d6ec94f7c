"""The ``neurolatent`` command.

``neurolatent info <recording>``
    Summarise a recording (any format :func:`neurolatent.io.read` reads).
``neurolatent convert <recording> <out.nc>``
    Read a recording and write it as netCDF (atomically).
``neurolatent fit <recording> --manifold T1 [--manifold R1 ...] --out results/``
    Fit mGPLVMs, cross-validate when several manifolds are given, write ``fit.nc`` and figures.
``neurolatent demo``
    Fit a ring (T1) to the small sample shipped in ``data/`` and write the figures.
``neurolatent theory ...``
    Gated-RNN mean-field theory: DMFT, Jacobian spectra, Lyapunov spectra, phase diagrams.

Heavy modules (torch, gpytorch) are imported inside each command so that ``--help`` stays fast.
"""
from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

from ._version import __version__

__all__ = ["main", "build_parser"]

#: Where ``neurolatent demo`` looks for its sample (the repository's ``data/`` folder).
DEMO_DATA = Path(__file__).resolve().parents[1] / "data" / "demo_ring.nc"


class CLIError(Exception):
    """An error the command line reports as one line, without a traceback."""


def _read_recording(args: argparse.Namespace):
    from . import io

    kwargs = {}
    if getattr(args, "fs", None) is not None:
        kwargs["fs"] = args.fs
    return io.read(args.recording, **kwargs)


def _cmd_info(args: argparse.Namespace) -> int:
    from . import io

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ds = _read_recording(args)
    print(io.summarize(ds))
    for w in caught:
        print(f"warning: {w.message}", file=sys.stderr)
    return 0


def _cmd_convert(args: argparse.Namespace) -> int:
    from . import io

    ds = _read_recording(args)
    out = Path(args.out)
    if out.suffix != ".nc":
        raise CLIError(f"output {str(out)!r} should end in .nc (netCDF); pass e.g. recording.nc")
    io.write_netcdf(ds, out)
    print(f"wrote {out} ({ds.sizes['time']} frames x {ds.sizes['neuron']} neurons)")
    return 0


def _fit_kwargs(args: argparse.Namespace) -> dict:
    return dict(
        likelihood=args.likelihood,
        dff=args.dff,
        bin_s=args.bin_s,
        zscore=args.zscore,
        max_steps=args.max_steps,
        seed=args.seed,
        progress=not args.quiet,
    )


def _report_outputs(outputs: dict) -> None:
    for name, path in outputs.items():
        print(f"{name}: {path}")


def _cmd_fit(args: argparse.Namespace) -> int:
    from .fit_pipeline import fit_recording

    manifolds = args.manifold or ["T1"]
    source = args.recording
    if getattr(args, "fs", None) is not None:
        source = _read_recording(args)
    outputs = fit_recording(source, manifolds, out_dir=args.out, folds=args.folds, cv_steps=args.cv_steps,
                            **_fit_kwargs(args))
    _report_outputs(outputs)
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    from .fit_pipeline import fit_recording

    if DEMO_DATA.exists():
        source = DEMO_DATA
    else:  # installed without the repository: regenerate the same sample in memory
        from .datasets import make_demo_recording

        print(f"{DEMO_DATA} not found; generating the demo ring recording in memory", file=sys.stderr)
        source = make_demo_recording()
    print(f"neurolatent demo: fitting a ring (T1) to {source if isinstance(source, Path) else 'the demo sample'}")
    outputs = fit_recording(source, ["T1"], out_dir=args.out, **_fit_kwargs(args))
    _report_outputs(outputs)
    return 0


def _add_fit_options(p: argparse.ArgumentParser, *, max_steps: int) -> None:
    p.add_argument("--likelihood", default="gaussian", choices=["gaussian", "poisson", "negbinom"],
                   help="observation model (default: gaussian)")
    p.add_argument("--dff", action="store_true", help="compute dF/F before fitting")
    p.add_argument("--bin-s", type=float, default=None, help="bin frames into windows of this many seconds")
    p.add_argument("--zscore", action="store_true", help="z-score each neuron before fitting")
    p.add_argument("--max-steps", type=int, default=max_steps, help=f"optimisation steps (default {max_steps})")
    p.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of the ``neurolatent`` command (also used to document it)."""
    parser = argparse.ArgumentParser(
        prog="neurolatent",
        description="Manifold latent-variable models (mGPLVM) for neural recordings, and gated-RNN theory.",
    )
    parser.add_argument("--version", action="version", version=f"neurolatent {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("info", help="summarise a recording (suite2p, CaImAn, NWB, netCDF)")
    p.add_argument("recording", help="suite2p plane folder (or its parent), CaImAn .hdf5, .nwb or .nc")
    p.add_argument("--fs", type=float, default=None, help="frame rate in Hz (overrides the file's)")
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser("convert", help="convert a recording to netCDF")
    p.add_argument("recording", help="suite2p plane folder (or its parent), CaImAn .hdf5, .nwb or .nc")
    p.add_argument("out", help="output netCDF file (.nc)")
    p.add_argument("--fs", type=float, default=None, help="frame rate in Hz (overrides the file's)")
    p.set_defaults(func=_cmd_convert)

    p = sub.add_parser("fit", help="fit mGPLVMs to a recording and cross-validate manifolds")
    p.add_argument("recording", help="any recording `neurolatent info` reads")
    p.add_argument("--manifold", action="append", metavar="SPEC",
                   help="latent manifold: R1, R2, T1, T2, S2, S3, SO3, T1xR1; repeat to compare (default T1)")
    p.add_argument("--out", default="results", help="output folder (default ./results)")
    p.add_argument("--fs", type=float, default=None, help="frame rate in Hz (overrides the file's)")
    p.add_argument("--folds", type=int, default=3, help="cross-validation folds with several manifolds (default 3)")
    p.add_argument("--cv-steps", type=int, default=None,
                   help="steps per cross-validation fit and held-out inference (default: --max-steps)")
    _add_fit_options(p, max_steps=1500)
    p.set_defaults(func=_cmd_fit)

    p = sub.add_parser("demo", help="fit a ring to the shipped sample and write figures")
    p.add_argument("--out", default="neurolatent_demo", help="output folder (default ./neurolatent_demo)")
    _add_fit_options(p, max_steps=200)
    p.set_defaults(func=_cmd_demo)

    from .theory.cli import add_theory_parser

    add_theory_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``neurolatent`` console script; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "func", None) is None:
        parser.print_help()
        return 0
    from .io.errors import RecordingError

    try:
        return int(args.func(args) or 0)
    except (CLIError, RecordingError, FileNotFoundError, ValueError, ImportError) as exc:
        print(f"neurolatent {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
