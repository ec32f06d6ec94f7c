"""Read CaImAn results saved with ``cnmf.save("results.hdf5")`` -- without needing CaImAn.

CaImAn writes a plain HDF5 file: ``/estimates/{C,S,YrA,F_dff,...}`` as ``(components, frames)``
arrays, ``/estimates/A`` as a scipy CSC sparse matrix split into ``data``, ``indices``,
``indptr`` and ``shape`` (pixels x components, pixels in Fortran order of the field of view),
``/estimates/idx_components`` (accepted components), ``/params/data/fr`` (frame rate) and
``/params/data/dims``. A Python ``None`` is stored as the string ``'NoneType'``.
"""
from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import scipy.sparse
import xarray as xr

from ._layout import build_dataset, check_fs, frame_times
from .errors import FrameRateError, RecordingDataWarning, RecordingFormatError, RecordingNotFoundError

__all__ = ["read_caiman"]

_TRACES = ("C", "S", "YrA", "F_dff")
_CAIMAN_DEFAULT_FR = 30.0  # CNMFParams default for data.fr, used when the user never set it


def _is_none(value: Any) -> bool:
    """CaImAn stores ``None`` as the string 'NoneType' (bytes or str, possibly in a 0-d array)."""
    if isinstance(value, np.ndarray) and value.dtype.kind in "OSU" and value.size == 1:
        value = value.reshape(()).item()
    if isinstance(value, bytes):
        value = value.decode("utf-8", errors="replace")
    return isinstance(value, str) and value == "NoneType"


def _get(group: h5py.Group, key: str, where: str) -> Any:
    """Dataset ``key`` of ``group`` as numpy (None when absent or 'NoneType')."""
    if key not in group:
        return None
    obj = group[key]
    if not isinstance(obj, h5py.Dataset):
        return obj
    try:
        value = obj[()]
    except (OSError, RuntimeError) as exc:
        raise RecordingFormatError(
            f"{where}: could not read /{obj.name.lstrip('/')} ({exc}); the HDF5 file is truncated or corrupt: "
            "save the CaImAn results again with cnmf.save('results.hdf5')"
        ) from exc
    return None if _is_none(value) else value


def _centres(A_group: h5py.Group, dims: tuple[int, ...] | None, n_comp: int, where: str) -> dict[str, np.ndarray]:
    """ROI centres (weighted centroid of each spatial footprint) and pixel counts from CSC ``A``."""
    parts = {k: _get(A_group, k, where) for k in ("data", "indices", "indptr", "shape")}
    if any(v is None for v in parts.values()):
        warnings.warn(f"{where}: /estimates/A is not a CSC sparse group (data/indices/indptr/shape); "
                      "ROI centres are not available", RecordingDataWarning, stacklevel=4)
        return {}
    shape = tuple(int(s) for s in np.ravel(parts["shape"]))
    A = scipy.sparse.csc_matrix((parts["data"], parts["indices"], parts["indptr"]), shape=shape)
    if A.shape[1] != n_comp:
        raise RecordingFormatError(f"{where}: /estimates/A has {A.shape[1]} components but C has {n_comp}; "
                                   "they must match: save the results again")
    out = {"npix": np.diff(A.indptr).astype(np.int64)}
    if dims is None or int(np.prod(dims)) != A.shape[0]:
        warnings.warn(f"{where}: field-of-view dims {dims} do not match the {A.shape[0]} pixels of "
                      "/estimates/A; ROI centres are not available", RecordingDataWarning, stacklevel=4)
        return out
    pix = np.arange(A.shape[0])
    # CaImAn flattens the field of view in Fortran order: pixel p = y + d1 * (x + d2 * z).
    names = ("roi_y", "roi_x", "roi_z")[: len(dims)]
    grid = np.unravel_index(pix, dims, order="F")
    mass = np.asarray(A.sum(axis=0)).ravel()
    with np.errstate(invalid="ignore", divide="ignore"):
        for name, g in zip(names, grid):
            out[name] = np.asarray(A.T @ g.astype(np.float64)).ravel() / mass
    return out


def read_caiman(path: str | os.PathLike, *, fs: float | None = None) -> xr.Dataset:
    """Read a CaImAn ``.hdf5`` results file into the standard recording Dataset.

    Data variables (``(time, neuron)`` float32, when present): ``C`` (denoised calcium), ``S``
    (deconvolved activity), ``YrA`` (residuals), ``F_dff`` (skipped when CaImAn stored ``None``,
    i.e. the string ``'NoneType'``). Neuron coordinates: ``accepted`` (bool, from
    ``idx_components``; absent when CaImAn did not evaluate components), ``npix`` and ``roi_y``,
    ``roi_x`` (and ``roi_z`` in 3-D): the footprint-weighted centroid
    :math:`\\bar y_k = \\sum_p A_{pk} y_p / \\sum_p A_{pk}` of each column of ``A``.

    Frame rate: the ``fs`` argument wins, else ``/params/data/fr``; CaImAn's default (30 Hz)
    gives a :class:`~neurolatent.io.errors.RecordingDataWarning`. CaImAn itself is not needed.

    Parameters
    ----------
    path : str or os.PathLike
        ``.hdf5`` file written by ``cnmf.save``.
    fs : float, optional
        Frame rate in Hz.

    Returns
    -------
    xarray.Dataset

    Raises
    ------
    RecordingNotFoundError, RecordingFormatError, FrameRateError
        Missing file; not HDF5 / truncated / no ``/estimates/C``; no usable frame rate.

    Warns
    -----
    RecordingDataWarning
        NaN/inf values (the frame indices are listed; frames are kept, never dropped); ROIs whose
        fluorescence is zero at every frame (kept; drop them or use ``select_cells``); CaImAn's default frame rate (30 Hz) or 1.0.

    Examples
    --------
    >>> import tempfile, pathlib, h5py, numpy as np
    >>> from neurolatent.io import read_caiman
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "results.hdf5"
    >>> with h5py.File(p, "w") as f:
    ...     f["estimates/C"] = np.ones((2, 5)); f["estimates/F_dff"] = "NoneType"
    ...     f["params/data/fr"] = 15.0
    >>> ds = read_caiman(p)
    >>> list(ds.data_vars), ds.attrs["fs"]
    (['C'], 15.0)
    """
    path = Path(path)
    where = str(path)
    if not path.is_file():
        raise RecordingNotFoundError(f"CaImAn file {where!r} does not exist; pass the .hdf5 written by cnmf.save")
    if fs is not None:
        fs = check_fs(fs, where)
    try:
        f = h5py.File(path, "r")
    except OSError as exc:
        raise RecordingFormatError(
            f"{where!r} could not be opened as HDF5 ({exc}); expected a CaImAn results file written by "
            "cnmf.save('results.hdf5'); the file may be truncated or corrupt: copy or save it again"
        ) from exc
    with f:
        if "estimates" not in f or "C" not in f["estimates"]:
            raise RecordingFormatError(
                f"{where!r} has no /estimates/C; expected a CaImAn results file (cnmf.save) with "
                f"/estimates/C, /estimates/A, ... (top-level keys found: {sorted(f.keys())})"
            )
        est = f["estimates"]
        C = _get(est, "C", where)
        if C is None or np.ndim(C) != 2:
            raise RecordingFormatError(f"{where}: /estimates/C is {C!r:.60}; expected a (components, frames) array")
        traces = {}
        for name in _TRACES:
            arr = _get(est, name, where)
            if arr is None:
                continue
            arr = np.asarray(arr)
            if arr.shape != C.shape:
                raise RecordingFormatError(f"{where}: /estimates/{name} has shape {arr.shape} but C has {C.shape}; "
                                           "expected (components, frames) for both: save the results again")
            traces[name] = arr.T
        n_comp, n_time = C.shape
        pdata = f["params/data"] if "params/data" in f else None
        dims = None
        for grp, key in ((pdata, "dims"), (est, "dims"), (f, "dims")):
            if grp is not None and _get(grp, key, where) is not None:
                dims = tuple(int(d) for d in np.ravel(_get(grp, key, where)))
                break
        coords: dict[str, np.ndarray] = {}
        if "A" in est and isinstance(est["A"], h5py.Group):
            coords.update(_centres(est["A"], dims, n_comp, where))
        idx = _get(est, "idx_components", where)
        if idx is not None:
            coords["accepted"] = np.isin(np.arange(n_comp), np.ravel(idx).astype(np.int64))
        fr = _get(pdata, "fr", where) if pdata is not None else None
        decay = _get(pdata, "decay_time", where) if pdata is not None else None
    if fs is not None:
        fs_value, origin = fs, "argument fs="
    elif fr is not None:
        fs_value, origin = check_fs(np.ravel(fr)[0], f"{where} (/params/data/fr)"), "/params/data/fr"
        if fs_value in (1.0, _CAIMAN_DEFAULT_FR):
            warnings.warn(
                f"{where}: the frame rate /params/data/fr is {fs_value:g} Hz, "
                + ("a placeholder" if fs_value == 1.0 else "CaImAn's default, used when it was never set")
                + "; if the imaging rate was different pass it, e.g. read_caiman(path, fs=15.0)",
                RecordingDataWarning, stacklevel=2,
            )
    else:
        raise FrameRateError(f"{where!r} has no /params/data/fr; pass the imaging rate in Hz, "
                             "e.g. read_caiman(path, fs=15.0)")
    attrs: dict[str, Any] = {"fs_origin": origin, "n_rois_total": int(n_comp)}
    if fs is None and fs_value in (1.0, _CAIMAN_DEFAULT_FR):
        attrs["fs_note"] = "suspect: placeholder or CaImAn default; pass fs="
    if dims is not None:
        attrs["fov_dims"] = json.dumps(list(dims))
    if decay is not None:
        attrs["decay_time"] = float(np.ravel(decay)[0])
    return build_dataset(
        traces, time=frame_times(n_time, fs_value), neuron=np.arange(n_comp, dtype=np.int64), fs=fs_value,
        source="CaImAn", source_path=where, neuron_coords=coords, attrs=attrs,
        step="read_caiman", params={"path": where, "fs": fs}, zero_check=("C",),
    )
