"""Datasets by name, for ``neurolatent fit --dataset NAME`` and ``neurolatent info --dataset NAME``."""
from __future__ import annotations

import xarray as xr

from .fly import load_fly_ellipsoid_body
from .synthetic import make_demo_recording

__all__ = ["DATASETS", "load_dataset"]

#: ``{name: loader}``; every loader takes no argument and returns a recording Dataset.
DATASETS = {
    "demo-ring": make_demo_recording,
    "fly-ellipsoid-body": load_fly_ellipsoid_body,
}


def load_dataset(name: str) -> xr.Dataset:
    """The bundled or cached dataset called ``name`` (see :data:`DATASETS`).

    ``"demo-ring"`` is generated in memory (the sample of ``neurolatent demo``);
    ``"fly-ellipsoid-body"`` is read from a local copy (``$NEUROLATENT_DATA``, ``../shared/data``,
    the user cache) or downloaded once (see :func:`load_fly_ellipsoid_body`).

    Examples
    --------
    >>> load_dataset("demo-ring").sizes["neuron"]
    16
    """
    try:
        loader = DATASETS[name]
    except KeyError:
        raise ValueError(f"unknown dataset {name!r}; choose one of {sorted(DATASETS)}") from None
    ds = loader()
    ds.attrs.setdefault("dataset", name)
    return ds
