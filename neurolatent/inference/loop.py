"""A small, generic optimisation loop: Adam, tqdm progress, callbacks, history, checkpoints.

The model supplies a ``step_fn()`` returning ``(objective, elbo)``: ``objective`` is the
differentiable quantity to MAXIMISE (it may differ from the ELBO during a burn-in) and
``elbo`` the honest bound recorded in the history.
"""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import torch
from tqdm.auto import tqdm

from .._utils import atomic_path

__all__ = ["FitState", "History", "Checkpoint", "EarlyStopping", "run_optimisation"]


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
    """Stop when the ELBO has plateaued.

    Compares the mean ELBO of the last ``window`` steps with the best such mean seen; stops
    after ``patience`` steps without an improvement larger than
    ``rel_tol * |best| + abs_tol``. Checks only after ``min_steps``.
    """

    patience: int = 100
    window: int = 20
    rel_tol: float = 1e-4
    abs_tol: float = 1e-3
    min_steps: int = 200
    _best: float = field(default=-math.inf, init=False, repr=False)
    _since: int = field(default=0, init=False, repr=False)

    def __call__(self, history: History) -> bool:
        n = len(history.elbo)
        if n < max(self.window, 1):
            return False
        recent = sum(history.elbo[-self.window:]) / self.window
        if recent > self._best + self.rel_tol * abs(self._best if math.isfinite(self._best) else 0) + self.abs_tol:
            self._best, self._since = recent, 0
        else:
            self._since += 1
        return n >= self.min_steps and self._since >= self.patience


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
    """
    if int(max_steps) < 0:
        raise ValueError(f"max_steps must be >= 0, got {max_steps!r}")
    history = history if history is not None else History()
    ckpt = Checkpoint.coerce(checkpoint)
    optimiser = torch.optim.Adam(params, lr=lr) if optimiser is None else optimiser
    start = 0
    if ckpt is not None and ckpt.path.exists():
        state = torch.load(ckpt.path, weights_only=True, map_location="cpu")
        module.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        resumed = History.from_dict(state["history"])
        history.step[:], history.elbo[:], history.seconds[:] = resumed.step, resumed.elbo, resumed.seconds
        start = int(state["step"])
        _restore_checkpoint(state, early_stopping, generators)
    t0 = time.perf_counter() - (history.seconds[-1] if history.seconds else 0.0)
    bar = tqdm(total=int(max_steps), initial=start, desc=desc, disable=not progress, leave=False)
    step = start
    try:
        for step in range(start + 1, int(max_steps) + 1):
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
            # the plateau detector is updated before a checkpoint is written, so the file holds its
            # state after this step (a resumed fit then makes the same decisions)
            stop = early_stopping is not None and bool(early_stopping(history))
            if ckpt is not None and step % int(ckpt.every) == 0:
                _save_checkpoint(ckpt, module, optimiser, history, step, extra_state or {}, early_stopping, generators)
            if callback is not None:
                st = FitState(step=step, elbo=float(elbo), model=model if model is not None else module, history=history)
                stop = bool(callback(st)) or st.stop or stop
            if stop:
                break
    finally:
        bar.close()
    if ckpt is not None and step > start:
        _save_checkpoint(ckpt, module, optimiser, history, step, extra_state or {}, early_stopping, generators)
    return history
