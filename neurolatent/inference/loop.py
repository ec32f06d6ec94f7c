"""A small, generic optimisation loop: Adam, tqdm progress, callbacks, history, checkpoints.

The model supplies a ``step_fn()`` returning ``(objective, elbo)``: ``objective`` is the
differentiable quantity to MAXIMISE (it may differ from the ELBO during a burn-in) and
``elbo`` the honest bound recorded in the history.
"""
from __future__ import annotations

import json
import math
import signal
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from tqdm.auto import tqdm

from .._utils import atomic_path

__all__ = ["FitState", "History", "Checkpoint", "EarlyStopping", "FitInterrupted", "run_optimisation"]


@dataclass
class History:
    """What :func:`run_optimisation` records each step (plain lists, JSON/weights-only safe)."""

    step: list = field(default_factory=list)
    elbo: list = field(default_factory=list)
    seconds: list = field(default_factory=list)

    def append(self, step: int, elbo: float, seconds: float) -> None:
        self.step.append(int(step))
        self.elbo.append(float(elbo))
        self.seconds.append(float(seconds))

    def as_dict(self) -> dict:
        return {"step": list(self.step), "elbo": list(self.elbo), "seconds": list(self.seconds)}

    @classmethod
    def from_dict(cls, d: dict) -> "History":
        return cls(list(d.get("step", [])), list(d.get("elbo", [])), list(d.get("seconds", [])))


@dataclass
class FitState:
    """Handed to ``callback(state)`` after every step.

    Attributes
    ----------
    step : int
        Steps done so far (1 after the first).
    elbo : float
        The ELBO estimate of this step.
    model : object
        The model being fitted.
    history : History
    stop : bool
        Set to ``True`` (or return ``True`` from the callback) to end the fit after this step.
    """

    step: int
    elbo: float
    model: Any
    history: History
    stop: bool = False


@dataclass
class Checkpoint:
    """Save the fit every ``every`` steps to ``path`` (atomic) and resume from it if it exists.

    The file is a ``torch.save`` dict of tensors, numbers and lists only, loadable with
    ``torch.load(path, weights_only=True)``.
    """

    path: str | Path
    every: int = 100

    def __post_init__(self):
        self.path = Path(self.path)
        if int(self.every) < 1:
            raise ValueError(f"Checkpoint.every must be >= 1, got {self.every!r}")

    @classmethod
    def coerce(cls, spec) -> "Checkpoint | None":
        if spec is None or isinstance(spec, Checkpoint):
            return spec
        if isinstance(spec, (str, Path)):
            return cls(spec)
        raise TypeError(f"checkpoint must be None, a path or a Checkpoint, got {type(spec).__name__}")


@dataclass
class EarlyStopping:
    r"""Stop when the ELBO has plateaued relative to what the fit has gained so far.

    With :math:`m_t` the mean ELBO of the last ``window`` steps, :math:`m_0` its first value and
    :math:`b_t = \max_{s\le t} m_s` the best so far, a step *improves* when

    .. math:: m_t > b_{t-1} + \text{rel\_tol}\,(b_{t-1} - m_0) + \text{abs\_tol},

    and the fit stops after ``patience`` steps without an improvement, once at least
    ``min_steps`` were done. The threshold is a fraction of the ELBO gained since the start, so
    it does not depend on the size of the recording, the units of the data or where the ELBO's
    zero lies (an ELBO near 0 would make a tolerance relative to :math:`|\text{ELBO}|` vanish).
    In words, with the defaults: stop when 150 steps have gained less than 0.5 % of everything
    gained so far. On T1 fits (lr 0.02) of the demo ring, the fly ellipsoid body, the suite2p
    example and synthetic rings this stops at steps 485-1133 with under 1 % of the gain still to
    come and latents as close to the truth as after 1500 steps
    (``benchmarks/early_stopping_defaults.py``).

    Parameters
    ----------
    patience : int
        Steps without an improvement before stopping.
    window : int
        Steps averaged into :math:`m_t` (the ELBO of one step is a Monte-Carlo estimate).
    rel_tol : float
        Fraction of the gain so far that counts as an improvement.
    abs_tol : float
        Absolute improvement (nats) added to the threshold.
    min_steps : int
        Never stop before this many steps (the mGPLVM frees its latent spreads after a burn-in
        of 100 steps, and the ELBO jumps then).

    Attributes
    ----------
    stopped_at : int or None
        The step at which the criterion fired (``None`` until it does).

    Examples
    --------
    >>> es = EarlyStopping(patience=5, window=2, min_steps=10)
    >>> es.first_plateau([float(min(t, 20)) for t in range(100)])
    27
    """

    patience: int = 150
    window: int = 25
    rel_tol: float = 5e-3
    abs_tol: float = 0.0
    min_steps: int = 300
    stopped_at: int | None = field(default=None, init=False)
    _start: float = field(default=math.nan, init=False, repr=False)
    _best: float = field(default=-math.inf, init=False, repr=False)
    _since: int = field(default=0, init=False, repr=False)

    def __post_init__(self):
        for name in ("patience", "window"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"EarlyStopping.{name} must be >= 1, got {getattr(self, name)!r}")
        if not (float(self.rel_tol) >= 0 and float(self.abs_tol) >= 0):
            raise ValueError(f"EarlyStopping tolerances must be >= 0, got rel_tol={self.rel_tol!r}, "
                             f"abs_tol={self.abs_tol!r}")

    def reset(self) -> None:
        """Forget what was seen (to reuse the object for another fit)."""
        self.stopped_at, self._start, self._best, self._since = None, math.nan, -math.inf, 0

    def __call__(self, history: History) -> bool:
        n = len(history.elbo)
        if n < self.window:
            return False
        recent = sum(history.elbo[-self.window:]) / self.window
        if math.isnan(self._start):
            self._start = recent
        gain = max(self._best - self._start, 0.0) if math.isfinite(self._best) else 0.0
        if recent > self._best + self.rel_tol * gain + self.abs_tol:
            self._best, self._since = recent, 0
        else:
            self._since += 1
        if n >= self.min_steps and self._since >= self.patience:
            self.stopped_at = int(history.step[-1]) if history.step else n
            return True
        return False

    def first_plateau(self, elbo) -> int | None:
        """Replay the criterion on a whole ELBO trace: the step (1-based) it stops at, or ``None``.

        Tells whether a fit run without early stopping had converged by its end (a fresh copy of
        the criterion is used; ``self`` is unchanged).
        """
        probe = EarlyStopping(self.patience, self.window, self.rel_tol, self.abs_tol, self.min_steps)
        h = History()
        for i, e in enumerate(elbo, start=1):
            h.append(i, float(e), 0.0)
            if probe(h):
                return i
        return None


class FitInterrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT) ended a fit at a step boundary.

    Raised by :func:`run_optimisation` after the step in progress finished and, when the fit has a
    checkpoint, after the checkpoint was written at that step (so the fit can be resumed). It is a
    ``KeyboardInterrupt``, so code that does not know it still stops as on any Ctrl-C.

    Attributes
    ----------
    step : int
        Steps done.
    max_steps : int
    checkpoint : pathlib.Path or None
        Where the state at ``step`` was saved (``None`` without a checkpoint).
    desc : str
        What was being fitted (the progress-bar label).
    """

    def __init__(self, step: int, max_steps: int, checkpoint: Path | None, desc: str):
        self.step, self.max_steps, self.checkpoint, self.desc = int(step), int(max_steps), checkpoint, desc
        where = f"; state saved to {checkpoint}" if checkpoint is not None else ""
        super().__init__(f"{desc}: interrupted after step {step} of at most {max_steps}{where}")


class _SigintGate:
    """While active, the first SIGINT only sets ``requested`` (checked after each step); a second
    SIGINT raises ``KeyboardInterrupt`` at once. Installed only in the main thread and only over
    Python's default handler (a handler someone else installed is left alone); nested fits share it.
    """

    def __init__(self):
        self.requested = False
        self._depth = 0
        self._previous = None

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __enter__(self):
        if self._depth == 0:
            self.requested = False
            if (threading.current_thread() is threading.main_thread()
                    and signal.getsignal(signal.SIGINT) is signal.default_int_handler):
                self._previous = signal.signal(signal.SIGINT, self._handle)
        self._depth += 1
        return self

    def __exit__(self, *exc):
        self._depth -= 1
        if self._depth == 0 and self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None
        return False


_SIGINT = _SigintGate()


def _save_checkpoint(ckpt: Checkpoint, module, optimiser, history: History, step: int, extra: dict,
                     early_stopping=None, generators: dict | None = None) -> None:
    payload = {
        "model": module.state_dict(),
        "optimiser": optimiser.state_dict(),
        "history": history.as_dict(),
        "step": int(step),
        "extra": extra,
        # what a bit-identical resume needs besides the parameters: random streams, plateau detector
        "generators": {k: g.get_state() for k, g in (generators or {}).items()},
        "early_stopping": _stopper_state(early_stopping),
    }
    with atomic_path(ckpt.path) as tmp:
        torch.save(payload, tmp)


def _stopper_state(early_stopping) -> str:
    """The early-stopping object's attributes as JSON (numbers, bools, lists of them); "" if none."""
    if early_stopping is None:
        return ""
    state = {k: v for k, v in vars(early_stopping).items() if isinstance(v, (int, float, bool, list, tuple))}
    return json.dumps(state)


def _restore_checkpoint(state: dict, early_stopping=None, generators: dict | None = None) -> None:
    """Set the generators' states and the early-stopping attributes saved by :func:`_save_checkpoint`."""
    for k, g in (generators or {}).items():
        if k in state.get("generators", {}):
            g.set_state(state["generators"][k])
    saved = state.get("early_stopping", "")
    if early_stopping is not None and saved:
        for k, v in json.loads(saved).items():
            setattr(early_stopping, k, v)


def run_optimisation(
    step_fn: Callable[[int], tuple[torch.Tensor, float]],
    module: torch.nn.Module,
    params,
    *,
    max_steps: int,
    lr: float = 0.01,
    progress: bool = True,
    callback: Callable[[FitState], Any] | None = None,
    checkpoint=None,
    early_stopping: EarlyStopping | None = None,
    history: History | None = None,
    model=None,
    post_step: Callable[[], None] | None = None,
    extra_state: dict | None = None,
    desc: str = "fit",
    optimiser: torch.optim.Optimizer | None = None,
    generators: dict[str, torch.Generator] | None = None,
) -> History:
    """Maximise ``step_fn(step)[0]`` with Adam over ``params``.

    Parameters
    ----------
    step_fn : callable
        ``step_fn(step) -> (objective, elbo)``; ``objective`` is a differentiable scalar to
        maximise, ``elbo`` a float recorded in the history and shown in the progress bar.
    module : torch.nn.Module
        Whose ``state_dict`` goes into checkpoints (and is restored on resume).
    params : iterable of tensors or parameter groups
    max_steps : int
        Total number of steps (a resumed fit continues up to it).
    lr : float
    progress : bool
        Show a tqdm bar with the current ELBO.
    callback : callable, optional
        ``callback(FitState)`` each step; returning ``True`` or setting ``state.stop`` ends the fit.
    checkpoint : str, Path or Checkpoint, optional
        Where to save every ``k`` steps; an existing file there is resumed from.
    early_stopping : EarlyStopping, optional
        Ends the fit once the ELBO plateaus (its ``stopped_at`` then holds the step).
    history : History, optional
        Appended to (a fresh one by default).
    model : object, optional
        What ``FitState.model`` points to (defaults to ``module``).
    post_step : callable, optional
        Run after each optimiser step under ``torch.no_grad`` (e.g. projections onto a manifold).
    extra_state : dict, optional
        Small JSON-like dict stored in checkpoints.
    optimiser : torch.optim.Optimizer, optional
        Used instead of ``Adam(params, lr)`` (``params`` and ``lr`` are then ignored), e.g. a
        :class:`~neurolatent.inference.row_adam.RowSparseAdam` for per-time parameters.
    generators : dict of torch.Generator, optional
        The random streams ``step_fn`` draws from; their states go into checkpoints (with the
        early-stopping state) and are restored on resume, so a resumed fit is bit-identical.

    Returns
    -------
    History

    Raises
    ------
    FitInterrupted
        On Ctrl-C (SIGINT, main thread): the step in progress is finished, the checkpoint (if any)
        is written at it, and the fit ends; a second Ctrl-C aborts at once. A checkpoint records
        why its fit ended; resuming one that had converged by early stopping runs no more steps.
    """
    if int(max_steps) < 0:
        raise ValueError(f"max_steps must be >= 0, got {max_steps!r}")
    history = history if history is not None else History()
    ckpt = Checkpoint.coerce(checkpoint)
    optimiser = torch.optim.Adam(params, lr=lr) if optimiser is None else optimiser
    start = 0
    done = False
    if ckpt is not None and ckpt.path.exists():
        state = torch.load(ckpt.path, weights_only=True, map_location="cpu")
        module.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        resumed = History.from_dict(state["history"])
        history.step[:], history.elbo[:], history.seconds[:] = resumed.step, resumed.elbo, resumed.seconds
        start = int(state["step"])
        _restore_checkpoint(state, early_stopping, generators)
        # a fit that had converged stays converged: resuming it runs no further steps
        done = state.get("extra", {}).get("stop_reason") == "early_stopping"
        if done and early_stopping is not None:
            early_stopping.stopped_at = start
    t0 = time.perf_counter() - (history.seconds[-1] if history.seconds else 0.0)
    bar = tqdm(total=int(max_steps), initial=start, desc=desc, disable=not progress or done, leave=False)
    step, reason = start, "max_steps"

    def save(at, why):
        _save_checkpoint(ckpt, module, optimiser, history, at, {**(extra_state or {}), "stop_reason": why},
                         early_stopping, generators)

    try:
        with _SIGINT as gate:
            for step in range(start + 1, int(max_steps) + 1):
                if done:
                    step = start
                    break
                optimiser.zero_grad(set_to_none=True)
                objective, elbo = step_fn(step)
                if not torch.isfinite(objective):
                    raise FloatingPointError(
                        f"the objective became {objective.item()} at step {step}; try a smaller lr= "
                        "or dtype=torch.float64, and check the data for extreme values"
                    )
                (-objective).backward()
                optimiser.step()
                if post_step is not None:
                    with torch.no_grad():
                        post_step()
                history.append(step, elbo, time.perf_counter() - t0)
                bar.update(1)
                if progress:
                    bar.set_postfix(elbo=f"{elbo:.4g}")
                # the plateau detector is updated before any checkpoint is written, so the file holds
                # its state after this step (a resumed fit then makes the same decisions)
                plateau = early_stopping is not None and bool(early_stopping(history))
                if gate.requested:  # Ctrl-C: keep what this step produced, then stop
                    if ckpt is not None:
                        save(step, "interrupted")
                    raise FitInterrupted(step, int(max_steps), ckpt.path if ckpt is not None else None, desc)
                if ckpt is not None and step % int(ckpt.every) == 0:
                    save(step, "running")
                stop = False
                if callback is not None:
                    st = FitState(step=step, elbo=float(elbo), model=model if model is not None else module,
                                  history=history)
                    stop = bool(callback(st)) or st.stop
                    reason = "callback" if stop else reason
                if plateau:
                    stop, reason = True, "early_stopping"
                if stop:
                    break
    finally:
        bar.close()
    if ckpt is not None and step > start:
        save(step, reason)
    return history
