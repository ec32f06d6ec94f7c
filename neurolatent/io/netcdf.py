"""netCDF-4 files (through h5netcdf): the package's own lossless storage for recordings.

The writer is atomic (temporary file in the same folder, then :func:`os.replace`), so a crash or
an error while writing never leaves a half-written file, and an existing file keeps its content.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from .._utils import atomic_path
from ._layout import to_jsonable
from .errors import RecordingFormatError, RecordingNotFoundError

__all__ = ["read_netcdf", "write_netcdf"]

# Attrs netCDF cannot hold (bool, None, dict, list of str, ...) are written as JSON strings and
# their names listed in this attribute, so read_netcdf can decode exactly those back.
_JSON_ATTRS = "_neurolatent_json_attrs"


def _netcdf_native(value: Any) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, (str, int, float, np.integer, np.floating)):
        return True
    if isinstance(value, np.ndarray) and value.ndim == 1 and value.dtype.kind in "iuf" and value.size > 0:
        return True
    return False


def _encode_attrs(attrs: dict[str, Any]) -> dict[str, Any]:
    out, encoded = {}, []
    for key, value in attrs.items():
        if key == _JSON_ATTRS:
            continue
        if _netcdf_native(value):
            out[key] = value
        else:
            out[key] = json.dumps(to_jsonable(value))
            encoded.append(key)
    if encoded:
        out[_JSON_ATTRS] = json.dumps(encoded)
    return out


def _decode_attrs(attrs: dict[str, Any]) -> dict[str, Any]:
    attrs = dict(attrs)
    encoded = json.loads(attrs.pop(_JSON_ATTRS, "[]"))
    for key in encoded:
        if key in attrs:
            attrs[key] = json.loads(attrs[key])
    for key, value in attrs.items():
        if isinstance(value, np.generic):  # numpy scalars back to plain Python numbers
            attrs[key] = value.item()
    return attrs


def write_netcdf(ds: xr.Dataset, path: str | os.PathLike) -> Path:
    """Write a recording Dataset to a netCDF-4 file, atomically.

    Attrs that netCDF cannot store natively (bool, None, dict, lists of strings) are stored as
    JSON and decoded again by :func:`read_netcdf`; boolean variables/coordinates are restored as
    bool by xarray's CF encoding. So ``read_netcdf(write_netcdf(ds, p))`` is identical to ``ds``
    (values, dtypes, coordinates and attrs). Nothing is left at ``path`` when writing fails.

    Parameters
    ----------
    ds : xarray.Dataset
        Typically the output of a ``neurolatent.io.read_*`` function or a preprocessing step.
    path : str or os.PathLike
        Destination file (conventionally ``.nc``); its folder must exist.

    Returns
    -------
    pathlib.Path
        The written path.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> from neurolatent.datasets import make_ring_recording
    >>> from neurolatent.io import read_netcdf, write_netcdf
    >>> ds = make_ring_recording(n_neurons=4, n_time=20)
    >>> p = write_netcdf(ds, pathlib.Path(tempfile.mkdtemp()) / "ring.nc")
    >>> read_netcdf(p).identical(ds)
    True
    """
    if not isinstance(ds, xr.Dataset):
        raise TypeError(f"write_netcdf expects an xarray.Dataset, got {type(ds).__name__}; "
                        "wrap a DataArray with da.to_dataset(name=...)")
    path = Path(path)
    out = ds.copy(deep=False)
    out.attrs = _encode_attrs(dict(ds.attrs))
    for name in list(out.variables):
        out[name].attrs = _encode_attrs(dict(ds[name].attrs))
    with atomic_path(path, suffix=".nc.tmp") as tmp:
        out.to_netcdf(tmp, engine="h5netcdf")
    return path


def read_netcdf(path: str | os.PathLike) -> xr.Dataset:
    """Read a netCDF file written by :func:`write_netcdf` (or any netCDF-4/HDF5 file xarray reads).

    The data are loaded into memory and the file is closed, so the file can be overwritten or
    deleted afterwards. Times are not decoded to datetimes: ``time`` stays float seconds.

    Parameters
    ----------
    path : str or os.PathLike
        A ``.nc`` file.

    Returns
    -------
    xarray.Dataset

    Raises
    ------
    RecordingNotFoundError
        ``path`` does not exist.
    RecordingFormatError
        The file is not readable as netCDF-4/HDF5 (e.g. truncated).

    Examples
    --------
    See :func:`write_netcdf`.
    """
    path = Path(path)
    if not path.is_file():
        raise RecordingNotFoundError(f"netCDF file {str(path)!r} does not exist; check the path")
    try:
        with xr.open_dataset(path, engine="h5netcdf", decode_times=False, decode_timedelta=False) as f:
            ds = f.load()
    except (OSError, ValueError) as exc:
        raise RecordingFormatError(
            f"{str(path)!r} could not be read as a netCDF-4 (HDF5) file ({exc}); the file may be "
            "truncated or corrupt: write it again with neurolatent.io.write_netcdf"
        ) from exc
    ds.attrs = _decode_attrs(ds.attrs)
    for name in list(ds.variables):
        ds[name].attrs = _decode_attrs(ds[name].attrs)
    ds.encoding = {}
    return ds
