"""Real recordings (local path, ``$NEUROLATENT_DATA``, ``../shared/data``, download) and synthetic generators."""
from .fly import load_fly_ellipsoid_body
from .registry import DATASETS, load_dataset
from .synthetic import make_demo_recording, make_ring_recording, ring_tuning
from .synthetic_manifolds import make_manifold_recording
from .turner_evans import read_turner_evans_2017

__all__ = [
    "DATASETS",
    "load_dataset",
    "load_fly_ellipsoid_body",
    "read_turner_evans_2017",
    "make_ring_recording",
    "make_demo_recording",
    "make_manifold_recording",
    "ring_tuning",
]
