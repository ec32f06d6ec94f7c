"""Build and check the standard recording :class:`xarray.Dataset` every reader returns.

The layout (the contract the rest of the package relies on):

- dims ``("time", "neuron")`` for every per-ROI trace; data variables are ``float32``;
- coordinate ``time`` (float64, seconds), built from the frame rate or stored timestamps;
- coordinate ``neuron`` = the original ROI index (or id) in the source file;
- per-ROI metadata as extra ``neuron`` coordinates (``iscell`` bool, ``roi_y``, ...);
- attrs ``fs`` (Hz, float), ``source`` (format and tool version when known), ``source_path``,
  ``provenance`` (a JSON list of the steps that produced the Dataset), plus tool-specific attrs.
  Every attr is a ``str``, ``int`` or ``float``: anything nested (dict, list, bool, None) is
  stored as a JSON string, so :func:`neurolatent.io.write_netcdf` ->
  :func:`neurolatent.io.read_netcdf` returns an identical Dataset.
"""
from __future__ import annotations

import json
import math
import warnings
from typing import Any, Mapping

import numpy as np
import xarray as xr

from .._version import __version__
from .errors import FrameRateError, RecordingDataWarning, RecordingFormatError

__all__ = ["check_fs", "to_jsonable", "clean_attrs", "build_dataset", "append_provenance", "frame_times"]

_MAX_LISTED = 20  # how many offending indices a warning lists before "..."


def check_fs(fs: Any, where: str) -> float:
    """Return ``fs`` as a positive finite float, else raise :class:`FrameRateError` naming ``where``."""
    try:
        value = float(fs)
    except (TypeError, ValueError):
        raise FrameRateError(
            f"{where}: the frame rate fs={fs!r} is not a number; pass fs= as the imaging rate in Hz, e.g. fs=30.0"
        ) from None
    if not math.isfinite(value) or value <= 0:
        raise FrameRateError(
            f"{where}: the frame rate must be a positive finite number of Hz, got fs={fs!r}; "
            "pass the imaging rate (frames or volumes per second), e.g. fs=30.0"
        )
    return value


def frame_times(n_time: int, fs: float, start: float = 0.0) -> np.ndarray:
    """Times in seconds of ``n_time`` evenly spaced frames: ``start + k / fs`` (float64)."""
    return float(start) + np.arange(n_time, dtype=np.float64) / float(fs)


def to_jsonable(obj: Any) -> Any:
    """Recursively turn numpy scalars/arrays, tuples and paths into JSON-serialisable Python objects."""
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, np.bool_):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, np.floating):
        return float(obj)
    if isinstance(obj, bytes):
        return obj.decode("utf-8", errors="replace")
    if obj is None or isinstance(obj, (bool, int, float, str)):
        return obj
    return str(obj)


def clean_attrs(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """Attrs safe for netCDF: str/int/float kept, numpy scalars made Python, the rest JSON strings."""
    out: dict[str, Any] = {}
    for key, value in attrs.items():
        if isinstance(value, (bool, np.bool_)) or value is None:
            out[str(key)] = json.dumps(to_jsonable(value))
        elif isinstance(value, (str, int, float)):
            out[str(key)] = value
        elif isinstance(value, np.integer):
            out[str(key)] = int(value)
        elif isinstance(value, np.floating):
            out[str(key)] = float(value)
        else:
            out[str(key)] = json.dumps(to_jsonable(value))
    return out


def _warn_bad_values(name: str, data: np.ndarray, where: str, time_axis: int = 0) -> None:
    """Warn (never drop) when frames of ``data`` contain NaN or inf; name the frame indices."""
    bad = ~np.isfinite(data)
    if not bad.any():
        return
    other = tuple(a for a in range(data.ndim) if a != time_axis)
    frames = np.flatnonzero(bad.any(axis=other) if other else bad)
    shown = ", ".join(str(i) for i in frames[:_MAX_LISTED]) + (", ..." if frames.size > _MAX_LISTED else "")
    warnings.warn(
        f"{where}: variable {name!r} has NaN or inf values in {frames.size} frame(s) "
        f"(time indices {shown}); they are kept as they are, not dropped: mask or interpolate them "
        "(e.g. ds.interpolate_na('time')) before fitting a model",
        RecordingDataWarning,
        stacklevel=4,
    )


def _warn_zero_rois(name: str, data: np.ndarray, neuron: np.ndarray, where: str) -> None:
    """Warn when whole ROI traces are exactly zero (e.g. suite2p ROIs that lost all their pixels)."""
    if data.size == 0:
        return
    zero = np.all(data == 0, axis=0)
    if not zero.any():
        return
    ids = np.asarray(neuron)[zero]
    shown = ", ".join(str(i) for i in ids[:_MAX_LISTED]) + (", ..." if ids.size > _MAX_LISTED else "")
    warnings.warn(
        f"{where}: variable {name!r} is zero at every frame for {ids.size} ROI(s) (neuron {shown}); "
        "they carry no signal and make dF/F undefined: drop them with "
        f"ds.drop_sel(neuron=[{shown}]) or keep curated cells with neurolatent.preprocessing.select_cells",
        RecordingDataWarning,
        stacklevel=4,
    )


def build_dataset(
    traces: Mapping[str, np.ndarray],
    *,
    time: np.ndarray,
    neuron: np.ndarray,
    fs: float,
    source: str,
    source_path: str,
    neuron_coords: Mapping[str, np.ndarray] | None = None,
    time_vars: Mapping[str, np.ndarray] | None = None,
    time_coords: Mapping[str, np.ndarray] | None = None,
    attrs: Mapping[str, Any] | None = None,
    step: str | None = None,
    params: Mapping[str, Any] | None = None,
    check: bool = True,
    zero_check: tuple[str, ...] | None = None,
) -> xr.Dataset:
    """Assemble the standard recording Dataset from ``(time, neuron)`` arrays.

    Parameters
    ----------
    traces : mapping of name -> array, shape (n_time, n_neuron)
        Per-ROI traces; stored as float32 with dims ``("time", "neuron")``.
    time : array, shape (n_time,)
        Frame times in seconds (stored as float64).
    neuron : array, shape (n_neuron,)
        Original ROI indices or ids.
    fs : float
        Frame rate in Hz (checked to be positive and finite).
    source, source_path : str
        Format/tool (with version when known) and the path that was read.
    neuron_coords, time_coords : mapping, optional
        Extra coordinates along ``neuron`` / ``time``; dtypes are kept.
    time_vars : mapping, optional
        Extra float32 data variables with dim ``("time",)`` (e.g. ``heading``).
    attrs : mapping, optional
        Further attrs; nested values are JSON-encoded by :func:`clean_attrs`.
    step, params : optional
        Name and parameters of the reader, recorded as the first ``provenance`` entry.
    check : bool
        Warn (:class:`~neurolatent.io.errors.RecordingDataWarning`) about NaN/inf frames and all-zero ROIs.
    zero_check : tuple of str, optional
        Traces checked for all-zero ROIs (default: all). Deconvolved traces such as ``spks`` are
        legitimately zero for silent ROIs, so readers list only the fluorescence traces.
    """
    where = str(source_path)
    time = np.asarray(time, dtype=np.float64)
    neuron = np.asarray(neuron)
    n_time, n_neuron = time.size, neuron.size
    data_vars: dict[str, Any] = {}
    for name, arr in traces.items():
        arr = np.asarray(arr)
        if arr.shape != (n_time, n_neuron):
            raise RecordingFormatError(
                f"{where}: variable {name!r} has shape {arr.shape}, expected (time, neuron) = "
                f"({n_time}, {n_neuron}) like the other traces; the file may be incomplete or mixed "
                "from different runs: re-export it"
            )
        if check:
            _warn_bad_values(name, arr, where)
            if zero_check is None or name in zero_check:
                _warn_zero_rois(name, arr, neuron, where)
        data_vars[name] = (("time", "neuron"), arr.astype(np.float32, copy=False))
    for name, arr in (time_vars or {}).items():
        arr = np.asarray(arr)
        if arr.shape != (n_time,):
            raise RecordingFormatError(f"{where}: variable {name!r} has shape {arr.shape}, expected ({n_time},)")
        data_vars[name] = (("time",), arr.astype(np.float32, copy=False))
    coords: dict[str, Any] = {
        "time": ("time", time, {"units": "s", "long_name": "frame time"}),
        "neuron": ("neuron", neuron, {"long_name": "original ROI index in the source"}),
    }
    for name, arr in (neuron_coords or {}).items():
        coords[name] = ("neuron", np.asarray(arr))
    for name, arr in (time_coords or {}).items():
        coords[name] = ("time", np.asarray(arr))
    provenance = [
        {"step": step or "read", "params": to_jsonable(dict(params or {})), "neurolatent": __version__}
    ]
    all_attrs = {"fs": check_fs(fs, where), "source": str(source), "source_path": where}
    all_attrs.update(attrs or {})
    all_attrs["provenance"] = provenance
    return xr.Dataset(data_vars, coords=coords, attrs=clean_attrs(all_attrs))


def append_provenance(ds: xr.Dataset, step: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """Return ``ds.attrs`` with ``{step, params, neurolatent}`` appended to the JSON ``provenance`` list."""
    attrs = dict(ds.attrs)
    try:
        history = json.loads(attrs.get("provenance", "[]"))
        if not isinstance(history, list):
            history = [history]
    except (TypeError, ValueError):
        history = [{"step": "unknown", "params": {"provenance": str(attrs.get("provenance"))}}]
    history.append({"step": step, "params": to_jsonable(dict(params)), "neurolatent": __version__})
    attrs["provenance"] = json.dumps(history)
    return clean_attrs(attrs)
