"""Argument parsing of ``neurolatent theory ...``: per-model parameter tables and their validation.

The tables mirror the dataclasses of :mod:`neurolatent.theory.models` (a test checks that names,
defaults and required parameters agree) so that ``--help`` and argument errors need no torch.
Every model parameter is a flag registered once (``--g-h`` belongs to two models); after parsing,
:func:`model_params` rejects a flag the chosen ``--model`` does not take and asks for a missing
required one, each as a one-line message.
"""
from __future__ import annotations

import argparse

__all__ = ["MODELS", "ALIASES", "REQUIRED", "add_theory_parser", "model_params", "transition_options", "UsageError",
           "HelpFormatter"]


class UsageError(ValueError):
    """A command-line usage error, reported as one line (exit status 2)."""


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Shows ``(default: ...)`` for options that have a default (not for None or False flags)."""

    def _get_help_string(self, action):
        if action.default is None or action.default is False or action.help is None:
            return action.help
        return super()._get_help_string(action)


#: Marks a parameter without a default (it must be given).
REQUIRED = object()

#: ``{model: {parameter: (default or REQUIRED, help)}}`` in the order of the dataclass fields.
MODELS: dict[str, dict[str, tuple]] = {
    "vanilla": {
        "g": (REQUIRED, "coupling gain, J_ij ~ N(0, g^2/N) (>= 0; chaos above g = 1)"),
        "tau": (1.0, "time constant (> 0)"),
    },
    "gated": {
        "g_h": (REQUIRED, "gain of the activation tanh(g_h x + beta_h) (>= 0)"),
        "alpha_z": (0.0, "sensitivity of the update gate z (>= 0)"),
        "alpha_r": (0.0, "sensitivity of the output gate r (>= 0)"),
        "beta_z": (0.0, "bias of the update gate z"),
        "beta_r": (0.0, "bias of the output gate r"),
        "beta_h": (0.0, "bias of the activation"),
        "tau_h": (1.0, "time constant of h (> 0)"),
        "tau_z": (1.0, "time constant of the z gate (> 0)"),
        "tau_r": (1.0, "time constant of the r gate (> 0)"),
        "gate_bias": ("subtract", "sign convention of the gate biases: subtract or add"),
    },
    "gru": {
        "g_z": (1.0, "gain of the update-gate weights (>= 0)"),
        "g_r": (1.0, "gain of the reset-gate weights (>= 0)"),
        "g_h": (1.0, "gain of the candidate weights (>= 0)"),
        "b_z": (0.0, "update-gate bias"),
        "b_r": (0.0, "reset-gate bias"),
        "b_h": (0.0, "candidate bias"),
        "update": ("new", "z weighs the new candidate (new) or the old state (old, PyTorch)"),
    },
    "lstm": {
        "g_i": (1.0, "gain of the input-gate weights (>= 0)"),
        "g_f": (1.0, "gain of the forget-gate weights (>= 0)"),
        "g_o": (1.0, "gain of the output-gate weights (>= 0)"),
        "g_g": (1.0, "gain of the candidate weights (>= 0)"),
        "b_i": (0.0, "input-gate bias"),
        "b_f": (0.0, "forget-gate bias (large keeps the gate open)"),
        "b_o": (0.0, "output-gate bias"),
        "b_g": (0.0, "candidate bias"),
    },
}
ALIASES = {"scs": "vanilla"}
_CHOICES = {"gate_bias": ("subtract", "add"), "update": ("new", "old")}
#: Which models each subcommand accepts (the DMFT solves the flows only).
_SUPPORTED = {"dmft": ("vanilla", "gated"), "gradients": ("vanilla", "gated"), "phase-diagram": ("vanilla", "gated", "gru", "lstm"),
              "spectrum": ("vanilla", "gated", "gru", "lstm"), "lyapunov": ("vanilla", "gated", "gru", "lstm")}


def _flag(name: str) -> str:
    return "--" + name.replace("_", "-")


def _all_params() -> dict[str, list[str]]:
    """``{parameter: [models that take it]}``."""
    out: dict[str, list[str]] = {}
    for model, params in MODELS.items():
        for name in params:
            out.setdefault(name, []).append(model)
    return out


def _param_help(name: str, models: list[str]) -> str:
    parts = []
    for m in models:
        default, text = MODELS[m][name]
        d = "required" if default is REQUIRED else f"default {default}"
        parts.append(f"{m}: {text}; {d}")
    return " | ".join(parts)


def _model_args(p: argparse.ArgumentParser, command: str, grid: bool) -> None:
    models = _SUPPORTED[command]
    p.add_argument("--model", default="gated", choices=sorted([*models, *(a for a, m in ALIASES.items() if m in models)]),
                   help="model family; each takes only its own parameters below")
    g = p.add_argument_group("model parameters", "numbers" + (", or start:stop:num for a grid axis" if grid else "")
                             + "; a parameter the chosen --model does not take is an error")
    for name, owners in _all_params().items():
        owners = [m for m in owners if m in models]
        if not owners:
            continue
        kw = {"choices": _CHOICES[name]} if name in _CHOICES else {}
        g.add_argument(_flag(name), dest=name, default=None, metavar=name.upper() if not kw else None,
                       help=_param_help(name, owners), **kw)


def _argv_flags(args) -> list[str]:
    return list(getattr(args, "argv", None) or [])


def model_params(args: argparse.Namespace, *, grid: bool = False) -> dict:
    """The parameters given for ``args.model``, converted; raises :class:`UsageError` for misuse.

    Numbers become floats; with ``grid=True`` a ``start:stop:num`` string is kept as is (a grid
    axis). A flag the model does not take, a missing required parameter or a non-number is an
    error naming the flag and what to do.
    """
    model = ALIASES.get(args.model, args.model)
    table = MODELS[model]
    command = f"theory {getattr(args, 'theory_command', '')}".strip()
    given = {n: getattr(args, n) for n in _all_params() if getattr(args, n, None) is not None}
    foreign = [n for n in given if n not in table]
    if foreign:
        owners = sorted({m for m, t in MODELS.items() for n in foreign if n in t})
        default = " (the default model)" if args.model == "gated" and "--model" not in _argv_flags(args) else ""
        flags = ", ".join(_flag(n) for n in foreign)
        valid = ", ".join(_flag(n) for n in table)
        raise UsageError(f"{flags} is not a parameter of --model {args.model}{default}; it belongs to "
                         f"--model {' or '.join(owners)}. --model {args.model} takes: {valid}")
    missing = [n for n, (d, _) in table.items() if d is REQUIRED and n not in given]
    if missing:
        raise UsageError(f"--model {args.model} needs {', '.join(_flag(n) for n in missing)} "
                         f"({table[missing[0]][1]}); e.g. neurolatent {command} --model {args.model} "
                         f"{_flag(missing[0])} 2")
    out = {}
    for name, value in given.items():
        if name in _CHOICES:
            out[name] = value
            continue
        if grid and ":" in str(value):
            parts = str(value).split(":")
            try:
                float(parts[0]), float(parts[1]), int(parts[2])
                if len(parts) != 3:
                    raise ValueError
            except (ValueError, IndexError):
                raise UsageError(f"{_flag(name)} {value!r}: a grid axis is start:stop:num, e.g. 1:3:41") from None
            out[name] = str(value)
            continue
        try:
            out[name] = float(value)
        except ValueError:
            hint = " or start:stop:num" if grid else ""
            raise UsageError(f"{_flag(name)} expects a number{hint}, got {value!r}") from None
    return out


def transition_options(args: argparse.Namespace) -> dict:
    """``alpha_r`` (list), ``g_h`` (list or None), ``alpha_z`` (and the sampling route's ``point_kwargs``
    when it is > 0) of ``theory transition``; :class:`UsageError` if malformed."""
    try:
        alpha_r = [float(a) for a in str(args.alpha_r).split(",") if a.strip()]
    except ValueError:
        raise UsageError(f"--alpha-r expects comma-separated numbers such as 1,4,8, got {args.alpha_r!r}") from None
    if not alpha_r or min(alpha_r) < 0:
        raise UsageError(f"--alpha-r needs at least one value >= 0, got {args.alpha_r!r}")
    g_h = None
    if args.g_h is not None:
        parts = str(args.g_h).split(":")
        try:
            if len(parts) != 3:
                raise ValueError
            start, stop, num = float(parts[0]), float(parts[1]), int(parts[2])
        except ValueError:
            raise UsageError(f"--g-h {args.g_h!r}: a grid is start:stop:num, e.g. 1.5:3:16") from None
        if num < 1 or start < 0:
            raise UsageError(f"--g-h {args.g_h!r}: needs num >= 1 and gains >= 0")
        g_h = [start + (stop - start) * i / max(num - 1, 1) for i in range(num)]
    if args.xtol <= 0:
        raise UsageError(f"--xtol must be > 0, got {args.xtol}")
    alpha_z = float(getattr(args, "alpha_z", 0.0))
    if not alpha_z >= 0:
        raise UsageError(f"--alpha-z must be >= 0, got {alpha_z}")
    out = {"alpha_r": alpha_r, "g_h": g_h, "alpha_z": alpha_z}
    if alpha_z > 0:
        n_paths = int(getattr(args, "n_paths", 500))
        if n_paths < 2:
            raise UsageError(f"--n-paths must be >= 2, got {n_paths}")
        out["point_kwargs"] = {"n_paths": n_paths}
    return out


def add_theory_parser(subparsers, handlers: dict | None = None) -> argparse.ArgumentParser:
    """Register ``theory`` with its subcommands (dmft, spectrum, phase-diagram, lyapunov, gradients, transition).

    Each subcommand's parser gets ``handler="theory.<name>"`` as a default (the handlers live in
    :mod:`neurolatent.theory.cli`); with ``handlers={"dmft": f, ...}`` also ``func=f``.
    """
    fmt = HelpFormatter
    theory = subparsers.add_parser("theory", help="gated-RNN mean-field theory, spectra, Lyapunov, phase diagrams",
                                   description="Gated-RNN theory. Models: vanilla (alias scs), gated, gru, lstm.")
    sub = theory.add_subparsers(dest="theory_command", metavar="SUBCOMMAND", required=True)
    p = sub.add_parser("dmft", help="solve the stationary DMFT (vanilla, gated)", formatter_class=fmt,
                       description="Stationary dynamical mean-field theory of a vanilla or gated RNN.")
    _model_args(p, "dmft", grid=False)
    p.add_argument("--out", help="write the correlations as netCDF (.nc)")
    p.add_argument("--plot", help="save an autocorrelation figure (.png)")
    p.add_argument("--allow-unconverged", action="store_true", help="print an unconverged result instead of failing")
    p.set_defaults(handler="theory.dmft", **({"func": handlers["dmft"]} if handlers else {}))
    p = sub.add_parser("spectrum", help="predicted vs empirical Jacobian spectrum", formatter_class=fmt,
                       description="Random-matrix prediction of the Jacobian spectrum against simulated networks.")
    _model_args(p, "spectrum", grid=False)
    p.add_argument("--N", type=int, default=300, help="network size of the simulation")
    p.add_argument("--seed", type=int, default=0, help="random seed of the network")
    p.add_argument("--state", default="attractor", choices=["attractor", "zero"], help="where the Jacobian is taken")
    p.add_argument("--plot", help="save the spectrum figure (.png)")
    p.set_defaults(handler="theory.spectrum", **({"func": handlers["spectrum"]} if handlers else {}))
    p = sub.add_parser("phase-diagram", help="quantities over a parameter grid (start:stop:num)", formatter_class=fmt,
                       description="Evaluate quantities over a grid of model parameters.")
    _model_args(p, "phase-diagram", grid=True)
    p.add_argument("--quantities", default="zero_fp_stable,n_static", help="comma-separated quantities")
    p.add_argument("--out", help="write the grid as netCDF (.nc)")
    p.add_argument("--plot", help="save the phase-diagram figure (.png)")
    p.add_argument("--cache-dir", help="cache each grid point's result here")
    p.add_argument("--dask-workers", type=int, default=0, help="run on a local Dask cluster with this many workers")
    p.set_defaults(handler="theory.phase-diagram", **({"func": handlers["phase-diagram"]} if handlers else {}))
    p = sub.add_parser("lyapunov", help="Lyapunov spectrum of simulated networks (QR)", formatter_class=fmt,
                       description="Lyapunov spectrum of simulated networks by QR re-orthonormalisation.")
    _model_args(p, "lyapunov", grid=False)
    p.add_argument("--N", type=int, default=200, help="network size")
    p.add_argument("--T", type=float, default=100.0, help="simulated time")
    p.add_argument("--k", type=int, default=None, help="number of exponents (default: all)")
    p.add_argument("--dt", type=float, default=0.1, help="integration step")
    p.add_argument("--seed", type=int, default=0, help="random seed of the network")
    p.add_argument("--plot", help="save the spectrum figure (.png)")
    p.set_defaults(handler="theory.lyapunov", **({"func": handlers["lyapunov"]} if handlers else {}))
    p = sub.add_parser("gradients", help="mean-field growth/decay of back-propagated gradients (vanilla, gated)",
                       formatter_class=fmt,
                       description="Adjoint (gradient) DMFT: the per-neuron squared norm of dL/dh(t - tau) over "
                                   "the lag tau and its exponential rate, the trainability counterpart of lambda_max.")
    _model_args(p, "gradients", grid=False)
    p.add_argument("--out", help="write the gradient-norm curve as netCDF (.nc)")
    p.add_argument("--plot", help="save the gradient-norm figure (.png)")
    p.add_argument("--allow-unconverged", action="store_true", help="print an unconverged result instead of failing")
    p.set_defaults(handler="theory.gradients", **({"func": handlers["gradients"]} if handlers else {}))
    p = sub.add_parser("transition", help="chaos line vs static (topological) line of the gated RNN",
                       formatter_class=fmt,
                       description="Both critical lines of the gated RNN on the (g_h, alpha_r) plane: "
                                   "where nonzero static solutions appear and where chaos sets in (DMFT), "
                                   "with the DMFT on an optional g_h grid.")
    p.add_argument("--alpha-r", default="1,4,8,16", help="comma-separated output-gate sensitivities alpha_r")
    p.add_argument("--g-h", default=None, help="grid of gains g_h as start:stop:num (default: lines only)")
    p.add_argument("--beta-r", type=float, default=0.0, help="output-gate bias beta_r")
    p.add_argument("--alpha-z", type=float, default=0.0,
                   help="update-gate sensitivity alpha_z (> 0: sampling DMFT, ~30 s to minutes per evaluation)")
    p.add_argument("--n-paths", type=int, default=500, help="Monte-Carlo paths of the sampling DMFT (alpha_z > 0)")
    p.add_argument("--xtol", type=float, default=0.01, help="bracket width of the chaos line in g_h")
    p.add_argument("--out", help="write the lines (and grid) as netCDF (.nc)")
    p.add_argument("--plot", help="save the transition figure (.png)")
    p.set_defaults(handler="theory.transition", **({"func": handlers["transition"]} if handlers else {}))
    return theory
