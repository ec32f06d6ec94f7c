"""The ``neurolatent`` console script: its argument parser and entry point.

This is a separate top-level package so that ``neurolatent --help`` and argument errors answer
at once: importing anything inside ``neurolatent`` runs ``neurolatent/__init__.py``, which loads
torch, GPyTorch and xarray (about two seconds). Here only the standard library is imported; after
the arguments are parsed and checked, :func:`main` hands them to :func:`neurolatent.cli.run`,
where the commands live.

``neurolatent info <recording> | --dataset NAME``
    Summarise a recording or a ``fit.nc``.
``neurolatent convert <recording> <out.nc>``
    Read a recording and write it as netCDF (atomically).
``neurolatent fit <recording> [<recording> ...] | --dataset NAME --manifold T1 [--manifold R1 ...] --out results/``
    Fit mGPLVMs (early stopping by default), cross-validate several manifolds, write ``fit.nc``
    and figures; Ctrl-C stops at a step boundary and ``--resume`` continues. Several recordings
    are fitted jointly as trials labelled by their file stems.
``neurolatent demo``
    Fit a ring (T1) to the small sample shipped in ``data/`` and write the figures.
``neurolatent theory ...``
    Gated-RNN mean-field theory: DMFT, Jacobian spectra, Lyapunov spectra, phase diagrams.
"""
from __future__ import annotations

import argparse
import os
import sys

from .theory import HelpFormatter, UsageError, add_theory_parser, model_params, transition_options

__all__ = ["main", "build_parser", "check_args", "DATASETS", "UsageError"]

#: Datasets ``--dataset`` accepts (``neurolatent.datasets.DATASETS`` holds the loaders; a test
#: checks that the two lists agree).
DATASETS = {
    "demo-ring": "the synthetic ring recording of `neurolatent demo` (16 neurons x 300 bins, 10 Hz)",
    "fly-ellipsoid-body": "Drosophila E-PG compass neurons, 16 ROIs x 500 bins with heading "
                          "(Turner-Evans et al. 2020; local copy, $NEUROLATENT_DATA or downloaded once)",
}


#: The defaults of ``neurolatent.inference.EarlyStopping`` shown in ``--help`` (a test checks them).
EARLY_STOPPING_DEFAULTS = {"patience": 150, "rel_tol": 0.005}


class _VersionAction(argparse.Action):
    """``--version``: imports the package only when asked (the version lives in ``neurolatent``)."""

    def __init__(self, option_strings, dest=argparse.SUPPRESS, default=argparse.SUPPRESS, help=None):
        super().__init__(option_strings, dest=dest, default=default, nargs=0, help=help)

    def __call__(self, parser, namespace, values, option_string=None):
        from neurolatent._version import __version__

        print(f"neurolatent {__version__}")
        parser.exit()


def _positive(kind):
    def convert(text):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a {kind.__name__}, got {text!r}") from None
        if not value > 0:
            raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
        return value

    convert.__name__ = f"positive {kind.__name__}"
    return convert


def _source_args(p: argparse.ArgumentParser, what: str, *, several: bool = False) -> None:
    if several:
        p.add_argument("recording", nargs="*", metavar="RECORDING",
                       help=f"{what}: a suite2p plane folder (or its parent), CaImAn .hdf5, .nwb or .nc; several "
                            "recordings of the same neurons are fitted jointly as trials (shared tuning curves, one "
                            "latent path per trial; each trial is labelled by its file stem)")
    else:
        p.add_argument("recording", nargs="?",
                       help=f"{what}: a suite2p plane folder (or its parent), CaImAn .hdf5, .nwb or .nc")
    p.add_argument("--dataset", choices=sorted(DATASETS), metavar="NAME",
                   help="a bundled or cached dataset instead of a file: "
                        + "; ".join(f"{k} ({v})" for k, v in DATASETS.items()))
    p.add_argument("--fs", type=_positive(float), default=None,
                   help="frame rate in Hz (overrides the file's; suite2p often stores a placeholder)")
    p.add_argument("--cells-only", action="store_true",
                   help="keep only the ROIs curated as cells (suite2p iscell, CaImAn accepted)")


def _fit_args(p: argparse.ArgumentParser, *, max_steps: int) -> None:
    g = p.add_argument_group("preprocessing")
    g.add_argument("--dff", action="store_true", help="compute dF/F (60 s baseline window; needs a true --fs)")
    g.add_argument("--bin-s", type=_positive(float), default=None, help="average frames into bins of this many seconds")
    g.add_argument("--zscore", action="store_true", help="z-score each neuron")
    g.add_argument("--variable", default=None, metavar="NAME",
                   help="the (time, neuron) variable to model (default: the first of Y, dff, spikes, counts, F)")
    g = p.add_argument_group("model and optimisation")
    g.add_argument("--likelihood", default="gaussian", choices=["gaussian", "poisson", "negbinom"],
                   help="observation model")
    g.add_argument("--max-steps", type=_positive(int), default=max_steps,
                   help="upper bound on optimisation steps (the fit stops earlier once the ELBO plateaus)")
    g.add_argument("--no-early-stopping", action="store_true", help="always run --max-steps steps")
    g.add_argument("--patience", type=_positive(int), default=None,
                   help="early stopping: steps without a significant ELBO gain before stopping "
                        f"(default: {EARLY_STOPPING_DEFAULTS['patience']})")
    g.add_argument("--tol", type=_positive(float), default=None,
                   help="early stopping: a gain is significant above this fraction of the ELBO gained so far "
                        f"(default: {EARLY_STOPPING_DEFAULTS['rel_tol']})")
    g.add_argument("--lr", type=_positive(float), default=0.02, help="Adam learning rate")
    g.add_argument("--neuron-batch-size", type=_positive(int), default=None, metavar="N",
                   help="neurons per optimisation step (random minibatch, unbiased bound; each step costs about "
                        "N / neurons of a full one; default: all neurons)")
    g.add_argument("--seed", type=int, default=0, help="random seed")
    g.add_argument("--device", default=None, help="torch device, e.g. cpu, cuda, cuda:1 (default: cpu)")
    g.add_argument("--quiet", action="store_true", help="no progress bars")
    g.add_argument("--resume", action="store_true",
                   help="continue an interrupted fit from the checkpoints in --out")


def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of the ``neurolatent`` command (standard library only)."""
    fmt = HelpFormatter
    parser = argparse.ArgumentParser(
        prog="neurolatent",
        description="Manifold latent-variable models (mGPLVM) for neural recordings, and gated-RNN theory.",
    )
    parser.add_argument("--version", action=_VersionAction, help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    p = sub.add_parser("info", help="summarise a recording (suite2p, CaImAn, NWB, netCDF) or a fit.nc",
                       formatter_class=fmt)
    _source_args(p, "recording or fit.nc")
    p.set_defaults(handler="info")

    p = sub.add_parser("convert", help="convert a recording to netCDF", formatter_class=fmt)
    p.add_argument("recording", help="suite2p plane folder (or its parent), CaImAn .hdf5, .nwb or .nc")
    p.add_argument("out", help="output netCDF file (.nc)")
    p.add_argument("--fs", type=_positive(float), default=None, help="frame rate in Hz (overrides the file's)")
    p.add_argument("--cells-only", action="store_true", help="keep only the ROIs curated as cells")
    p.set_defaults(handler="convert")

    p = sub.add_parser("fit", help="fit mGPLVMs to a recording and cross-validate manifolds", formatter_class=fmt,
                       description="Fit mGPLVMs (early stopping by default) and write fit.nc plus figures. "
                                   "Ctrl-C stops at the next step and keeps a checkpoint; --resume continues.")
    _source_args(p, "recording", several=True)
    p.add_argument("--manifold", action="append", metavar="SPEC",
                   help="latent manifold: R1, R2, T1, T2, S2, S3, SO3, T1xR1; repeat to compare (default: T1)")
    p.add_argument("--out", default="results", help="output folder")
    g = p.add_argument_group("cross-validation (two or more --manifold)")
    g.add_argument("--folds", type=int, default=3, help="time folds (>= 2)")
    g.add_argument("--cv-steps", type=_positive(int), default=None,
                   help="upper bound on steps per fold fit and held-out inference "
                        "(default: compare_manifolds's, with early stopping)")
    g.add_argument("--cv-workers", type=int, default=0,
                   help="run the folds on a local Dask cluster with this many worker processes (needs dask)")
    _fit_args(p, max_steps=2000)
    p.set_defaults(handler="fit")

    p = sub.add_parser("demo", help="fit a ring to the shipped sample and write figures", formatter_class=fmt)
    p.add_argument("--out", default="neurolatent_demo", help="output folder")
    _fit_args(p, max_steps=2000)
    p.set_defaults(handler="demo")

    add_theory_parser(sub)
    return parser


def _stem(path: str) -> str:
    """The trial label of a recording path: its file (or folder) name without the extension."""
    return os.path.splitext(os.path.basename(os.path.normpath(path)))[0]


def check_args(args: argparse.Namespace) -> None:
    """Checks that need no data and no heavy import; raises :class:`UsageError` (one line)."""
    if args.command == "fit":  # several paths are trials: args.recordings; args.recording is the first (or None)
        args.recordings = list(args.recording or [])
        args.recording = args.recordings[0] if args.recordings else None
        stems: dict[str, str] = {}
        for path in args.recordings:
            stem = _stem(path)
            if stem in stems:
                raise UsageError(f"{stems[stem]} and {path} would both be trial {stem!r} (trials are labelled by "
                                 "file stem); rename one of them")
            stems[stem] = path
    if args.command in ("info", "fit"):
        if (args.recording is None) == (args.dataset is None):
            raise UsageError("give either a recording path or --dataset NAME "
                             f"(datasets: {', '.join(sorted(DATASETS))})")
        if args.dataset is not None and args.fs is not None:
            raise UsageError(f"--fs applies to recordings read from files; --dataset {args.dataset} has its own timing")
    if args.command == "fit":
        specs = args.manifold or ["T1"]
        dup = sorted({s for s in specs if specs.count(s) > 1})
        if dup:
            raise UsageError(f"--manifold {dup[0]} is given twice; each manifold once")
        if len(specs) > 1 and args.folds < 2:
            raise UsageError(f"--folds {args.folds}: cross-validating {len(specs)} manifolds needs --folds >= 2")
        if args.cv_workers < 0:
            raise UsageError(f"--cv-workers must be >= 0, got {args.cv_workers}")
    if args.command in ("fit", "demo") and args.no_early_stopping and (args.patience or args.tol):
        raise UsageError("--patience/--tol set early stopping, which --no-early-stopping turns off; drop one")
    if args.command == "theory" and args.theory_command == "transition":
        transition_options(args)
    elif args.command == "theory":
        model_params(args, grid=args.theory_command == "phase-diagram")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``neurolatent`` console script; returns the exit status.

    Exit status 0 on success, 2 for a usage or input error (one line on stderr), 130 when a fit
    was interrupted with Ctrl-C (its progress is kept for ``--resume``).
    """
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    args.argv = argv
    if getattr(args, "handler", None) is None:
        parser.print_help()
        return 0
    name = args.command if args.command != "theory" else f"theory {args.theory_command}"
    try:
        check_args(args)
    except UsageError as exc:
        print(f"neurolatent {name}: error: {exc}", file=sys.stderr)
        return 2
    from neurolatent.cli import run

    return run(args)
