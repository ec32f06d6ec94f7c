"""Matplotlib figures used by the CLI, the tutorials and the docs."""
from __future__ import annotations

from .mgplvm import plot_cv, plot_elbo, plot_latents, plot_tuning_curves

__all__ = ["plot_latents", "plot_tuning_curves", "plot_cv", "plot_elbo"]
