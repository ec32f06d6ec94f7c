"""Latent-variable models: the manifold GPLVM (:class:`MGPLVM`) and model comparison."""
from __future__ import annotations

from .crossval import compare_manifolds, cv_splits, trial_cv_splits
from .mgplvm import MGPLVM

__all__ = ["MGPLVM", "compare_manifolds", "cv_splits", "trial_cv_splits"]
