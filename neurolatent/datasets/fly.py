"""Drosophila ellipsoid-body (E-PG) recording used for the mGPLVM paper's ring experiment."""
from __future__ import annotations

import os

import numpy as np
import xarray as xr

from ..io._layout import build_dataset
from ..io.errors import RecordingFormatError
from ._paths import resolve_dataset_dir

__all__ = ["load_fly_ellipsoid_body"]

_NAME = "fly_ellipsoid_body"
_FILES = ("fly1_trial1_light_Y.tsv", "fly1_trial1_light_x.tsv")
#: Nominal bin width: the files do not record the bin duration, so time is the bin index * 1 s.
NOMINAL_DT = 1.0


def load_fly_ellipsoid_body(path: str | os.PathLike | None = None) -> xr.Dataset:
    """16 E-PG ROIs x 500 time bins of dF/F with the fly's heading (Turner-Evans et al. 2020, fly 1).

    The exact matrix of the Drosophila experiment in Jensen et al. (NeurIPS 2020, mGPLVM): ROIs are
    ordered around the ellipsoid-body ring; dF/F values and headings are as in the files.

    Parameters
    ----------
    path : str or os.PathLike, optional
        Folder holding ``fly1_trial1_light_Y.tsv`` and ``fly1_trial1_light_x.tsv`` (or a data root
        holding ``fly_ellipsoid_body/``). Default: ``$NEUROLATENT_DATA``, then ``../shared/data``
        beside the repository, then a download of the authors' public copy (pinned to a commit,
        SHA-256 checked) into the user cache through pooch; see :mod:`neurolatent.datasets._paths`.

    Returns
    -------
    xarray.Dataset
        ``dff`` (time: 500, neuron: 16) float32 and ``heading`` (time,) float32 in radians,
        [0, 2 pi). The bins are evenly spaced but their duration is not stored: ``time`` is the bin
        index times a nominal 1 s (``attrs["fs"] = 1.0``, explained in ``attrs["fs_note"]``).

    Raises
    ------
    RecordingNotFoundError
        Files not found locally and the download failed or is switched off (the message says where
        to get them).
    RecordingFormatError
        The files do not have the documented shapes.

    Examples
    --------
    >>> from neurolatent.datasets import load_fly_ellipsoid_body
    >>> ds = load_fly_ellipsoid_body()  # doctest: +SKIP
    >>> ds.dff.shape  # doctest: +SKIP
    (500, 16)
    """
    folder = resolve_dataset_dir(_NAME, _FILES, path)
    y_file, x_file = folder / _FILES[0], folder / _FILES[1]
    try:
        Y = np.loadtxt(y_file, delimiter="\t", ndmin=2)
        x = np.loadtxt(x_file, ndmin=1)
    except ValueError as exc:
        raise RecordingFormatError(f"{str(folder)!r}: could not parse the TSV files ({exc}); expected "
                                   "tab-separated numbers without a header") from exc
    if Y.ndim != 2 or x.ndim != 1 or Y.shape[1] != x.size:
        raise RecordingFormatError(
            f"{str(y_file)!r} has shape {Y.shape} and {str(x_file)!r} has {x.size} values; expected "
            "(ROIs, time bins) and one heading per time bin"
        )
    n_time = x.size
    return build_dataset(
        {"dff": Y.T},
        time=np.arange(n_time, dtype=np.float64) * NOMINAL_DT,
        neuron=np.arange(Y.shape[0], dtype=np.int64),
        fs=1.0 / NOMINAL_DT,
        source="Turner-Evans et al. 2020 E-PG imaging, as used by Jensen et al. 2020 (mGPLVM); TSV",
        source_path=str(folder),
        time_vars={"heading": np.mod(x, 2 * np.pi)},
        attrs={
            "fs_origin": "nominal 1 s bins",
            "fs_note": "bins are evenly spaced but their duration is not recorded; time = bin index * 1 s (nominal)",
            "neuron_order": "ROIs ordered around the ellipsoid-body ring",
            "heading_units": "rad",
            "doi": "10.25378/janelia.12490325.v1",
        },
        step="load_fly_ellipsoid_body",
        params={"path": str(folder)},
    ).assign(heading=lambda d: d.heading.assign_attrs(units="rad", circular=1))
