"""The fit loop shared by the models: Adam, progress bar, callbacks, history, checkpoints,
early stopping."""
from __future__ import annotations

from .loop import Checkpoint, EarlyStopping, FitInterrupted, FitState, History, run_optimisation

__all__ = ["Checkpoint", "EarlyStopping", "FitInterrupted", "FitState", "History", "run_optimisation"]
