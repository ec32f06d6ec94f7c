"""``neurolatent.io.read``: one entry point that dispatches on what the path is."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import h5py
import xarray as xr

from .caiman import read_caiman
from .errors import FrameRateError, RecordingFormatError, RecordingNotFoundError
from .netcdf import read_netcdf
from .nwb import read_nwb
from .suite2p import _plane_folders, read_suite2p

__all__ = ["read"]

_NETCDF = {".nc", ".nc4", ".netcdf", ".cdf"}
_HDF5 = {".hdf5", ".h5", ".hdf"}


def _hdf5_kind(path: Path) -> str | None:
    """'caiman' / 'nwb' / 'netcdf' from the content of an HDF5 file (None if undecidable)."""
    try:
        with h5py.File(path, "r") as f:
            if "estimates" in f:
                return "caiman"
            if "nwb_version" in f.attrs or ("general" in f and "acquisition" in f):
                return "nwb"
            if "_NCProperties" in f.attrs or any("DIMENSION_LIST" in f[k].attrs for k in f if isinstance(f[k], h5py.Dataset)):
                return "netcdf"
    except OSError:
        return None
    return None


def read(path: str | os.PathLike, **kw: Any) -> xr.Dataset:
    """Read a calcium-imaging recording into the standard ``(time, neuron)`` Dataset.

    Dispatch on ``path``:

    - a folder holding ``F.npy``, or a parent of ``plane0``, ``plane1``, ... (or of ``suite2p/``),
      or ``F.npy`` itself -> :func:`read_suite2p`;
    - ``.nc`` (netCDF) -> :func:`read_netcdf`;
    - ``.nwb`` -> :func:`read_nwb`;
    - ``.hdf5``/``.h5`` -> :func:`read_caiman` when it holds ``/estimates``, :func:`read_nwb` when
      it is an NWB file.

    Parameters
    ----------
    path : str or os.PathLike
    **kw
        Passed to the reader (``fs=``, ``plane=``, ``cells_only=`` for suite2p; ``fs=`` for CaImAn;
        ``series=`` for NWB).

    Returns
    -------
    xarray.Dataset

    Raises
    ------
    RecordingNotFoundError
        ``path`` does not exist.
    RecordingFormatError
        The path is none of the formats above (the message lists them).
    FrameRateError
        ``fs=`` given for a netCDF or NWB file (they store their own timing).

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np
    >>> import neurolatent as nl
    >>> d = pathlib.Path(tempfile.mkdtemp()) / "suite2p"; (d / "plane0").mkdir(parents=True)
    >>> np.save(d / "plane0" / "F.npy", np.ones((2, 5), dtype=np.float32))
    >>> nl.io.read(d, fs=10.0).sizes["time"]
    5
    """
    path = Path(path)
    where = str(path)
    if not path.exists():
        raise RecordingNotFoundError(
            f"recording {where!r} does not exist; expected a suite2p folder, a CaImAn .hdf5, an .nwb or a .nc file"
        )
    if path.is_dir() or path.name == "F.npy":
        if path.is_dir() and not (path / "F.npy").is_file() and not _plane_folders(path):
            raise RecordingFormatError(
                f"{where!r} is a folder without F.npy or plane0/, plane1/, ... subfolders; expected a suite2p "
                "output folder (e.g. .../suite2p/plane0 or .../suite2p); for other formats pass the file itself"
            )
        return read_suite2p(path, **kw)
    suffix = path.suffix.lower()
    if "fs" in kw and (suffix in _NETCDF or suffix == ".nwb"):
        raise FrameRateError(f"{where!r}: fs= applies to suite2p and CaImAn recordings; netCDF and NWB files store "
                        "their own timing (resample with neurolatent.preprocessing.bin_time instead)")
    if suffix in _NETCDF:
        if kw:
            raise TypeError(f"read_netcdf takes no options, got {sorted(kw)}")
        return read_netcdf(path)
    if suffix == ".nwb":
        return read_nwb(path, **kw)
    if suffix in _HDF5:
        kind = _hdf5_kind(path)
        if kind == "nwb":
            return read_nwb(path, **kw)
        if kind == "netcdf":
            return read_netcdf(path)
        return read_caiman(path, **kw)  # also reports truncated/corrupt HDF5 with a clear message
    if suffix == ".mat":
        raise RecordingFormatError(
            f"{where!r}: MATLAB files have no standard recording layout; load the variables with "
            "neurolatent.io.read_matlab, or a dataset loader such as "
            "neurolatent.datasets.read_turner_evans_2017"
        )
    raise RecordingFormatError(
        f"{where!r}: unrecognised recording format {suffix or '(no extension)'!r}; expected a suite2p folder, "
        "a CaImAn .hdf5, an .nwb file or a .nc file written by neurolatent.io.write_netcdf"
    )
