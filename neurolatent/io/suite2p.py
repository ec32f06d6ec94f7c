"""Read suite2p output folders (``suite2p/plane0``, or the parent holding ``plane0``, ``plane1``...)."""
from __future__ import annotations

import json
import os
import re
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from ._layout import build_dataset, check_fs, frame_times, to_jsonable
from .errors import FrameRateError, RecordingDataWarning, RecordingFormatError, RecordingNotFoundError

__all__ = ["read_suite2p"]

_TRACES = ("F", "Fneu", "spks", "F_chan2", "Fneu_chan2")
# Frame-rate values that are almost certainly not the real acquisition rate.
_SUSPECT_FS = {
    1.0: "a placeholder (1.0 Hz)",
    10.0: "suite2p's default (10.0 Hz), which is used when fs is not set",
}
# Where suite2p versions keep the frame rate: classic ``ops.npy``; suite2p >= 1.0 splits ops into
# ``db.npy`` (recording) and ``settings.npy`` (pipeline), and writes ``reg_outputs.npy``.
_FS_FILES = ("ops.npy", "settings.npy", "db.npy", "reg_outputs.npy")
_PLANE_RE = re.compile(r"^plane(\d+)$")


def _load_pickled_dict(file: Path) -> dict | None:
    """Load a pickled dict saved with ``np.save`` (suite2p's ops/settings/db); None if absent."""
    if not file.is_file():
        return None
    try:
        obj = np.load(file, allow_pickle=True)  # trusted: only files inside the folder the user named
    except (OSError, ValueError, EOFError) as exc:
        raise RecordingFormatError(
            f"{str(file)!r} could not be loaded ({exc}); expected a dict saved by suite2p with np.save; "
            "the file may be truncated: re-run or re-export suite2p"
        ) from exc
    if isinstance(obj, np.ndarray) and obj.dtype == object and obj.shape == ():
        obj = obj.item()
    return obj if isinstance(obj, dict) else None


def _load_array(file: Path, *, pickle: bool = False) -> np.ndarray:
    try:
        return np.load(file, allow_pickle=pickle)
    except (OSError, ValueError, EOFError) as exc:
        raise RecordingFormatError(
            f"{str(file)!r} could not be loaded as a numpy .npy array ({exc}); "
            "the file may be truncated or corrupt: copy it again or re-run suite2p"
        ) from exc


def _find_fs(folder: Path, dicts: dict[str, dict | None]) -> tuple[float | None, str | None]:
    """Look for ``fs`` at the top level (or one level down) of suite2p's pickled dicts."""
    for name in _FS_FILES:
        d = dicts.get(name)
        if d is None:
            continue
        if "fs" in d and d["fs"] is not None:
            return d["fs"], f"{name}['fs']"
        for key, sub in d.items():
            if isinstance(sub, dict) and sub.get("fs") is not None:
                return sub["fs"], f"{name}[{key!r}]['fs']"
    return None, None


def _read_plane(folder: Path, plane: int) -> dict[str, Any]:
    """Everything of one plane folder as numpy arrays (ROI-major, like suite2p stores them)."""
    where = str(folder)
    f_file = folder / "F.npy"
    if not f_file.is_file():
        raise RecordingFormatError(
            f"{where!r} has no F.npy; expected a suite2p plane folder (F.npy, Fneu.npy, spks.npy, "
            "iscell.npy, stat.npy, ops.npy) or its parent holding plane0, plane1, ...: "
            "point to the folder suite2p wrote (usually .../suite2p/plane0)"
        )
    traces: dict[str, np.ndarray] = {}
    F = _load_array(f_file)
    if F.ndim != 2:
        raise RecordingFormatError(f"{str(f_file)!r} has shape {F.shape}; expected (n_rois, n_frames)")
    traces["F"] = F
    for name in _TRACES[1:]:
        file = folder / f"{name}.npy"
        if file.is_file():
            arr = _load_array(file)
            if arr.shape != F.shape:
                raise RecordingFormatError(
                    f"{str(file)!r} has shape {arr.shape} but F.npy has shape {F.shape}; every trace file "
                    "of a plane must be (n_rois, n_frames): the folder mixes outputs of different runs, "
                    "re-run suite2p or remove the stale file"
                )
            traces[name] = arr
    n_rois = F.shape[0]
    coords: dict[str, np.ndarray] = {}
    iscell_file = folder / "iscell.npy"
    if iscell_file.is_file():
        iscell = _load_array(iscell_file)
        iscell = iscell.reshape(iscell.shape[0], -1)  # (n,) or (n, 2): label[, probability]
        if iscell.shape[0] != n_rois:
            raise RecordingFormatError(
                f"{str(iscell_file)!r} has {iscell.shape[0]} rows but F.npy has {n_rois} ROIs; "
                "they must match: re-export the curation from the suite2p GUI"
            )
        coords["iscell"] = iscell[:, 0] > 0.5
        if iscell.shape[1] > 1:
            coords["iscell_prob"] = iscell[:, 1].astype(np.float64)
    stat_file = folder / "stat.npy"
    if stat_file.is_file():
        stat = _load_array(stat_file, pickle=True)  # pickled list of dicts; trusted folder only
        if len(stat) != n_rois:
            raise RecordingFormatError(
                f"{str(stat_file)!r} describes {len(stat)} ROIs but F.npy has {n_rois}; they must match"
            )
        roi_y, roi_x, npix = np.empty(n_rois), np.empty(n_rois), np.empty(n_rois, dtype=np.int64)
        for i, s in enumerate(stat):
            ypix, xpix = np.asarray(s.get("ypix", [])), np.asarray(s.get("xpix", []))
            med = s.get("med")
            if med is None:
                med = (np.median(ypix), np.median(xpix)) if ypix.size else (np.nan, np.nan)
            roi_y[i], roi_x[i] = float(med[0]), float(med[1])
            npix[i] = int(s.get("npix", ypix.size))
        coords.update(roi_y=roi_y, roi_x=roi_x, npix=npix)
    dicts = {name: _load_pickled_dict(folder / name) for name in _FS_FILES}
    fs, origin = _find_fs(folder, dicts)
    return {"folder": folder, "plane": plane, "traces": traces, "coords": coords, "fs": fs,
            "fs_origin": origin, "ops": dicts.get("ops.npy") or dicts.get("settings.npy") or {}}


def _plane_folders(path: Path) -> list[tuple[int, Path]]:
    found = []
    for base in (path, path / "suite2p"):
        if base.is_dir():
            for child in base.iterdir():
                m = _PLANE_RE.match(child.name)
                if m and child.is_dir() and (child / "F.npy").is_file():
                    found.append((int(m.group(1)), child))
        if found:
            break
    return sorted(found)


def _scalar_ops(ops: dict) -> dict[str, Any]:
    """The small, JSON-safe entries of ops (numbers, strings, short lists): kept as metadata."""
    keep = {}
    for k, v in ops.items():
        if isinstance(v, (bool, int, float, str, np.generic)) or v is None:
            keep[str(k)] = to_jsonable(v)
        elif isinstance(v, (list, tuple)) and len(v) <= 16 and all(isinstance(e, (int, float, str)) for e in v):
            keep[str(k)] = to_jsonable(v)
    return keep


def read_suite2p(
    path: str | os.PathLike, *, fs: float | None = None, plane: int | None = None, cells_only: bool = False
) -> xr.Dataset:
    """Read a suite2p output folder into the standard recording Dataset.

    Reads ``F.npy``, ``Fneu.npy``, ``spks.npy`` (and ``F_chan2.npy``/``Fneu_chan2.npy`` when present)
    as ``(time, neuron)`` float32 variables, ``iscell.npy`` as coordinates ``iscell`` (bool, the
    curated label) and ``iscell_prob`` (classifier probability), ``stat.npy`` as ``roi_y``,
    ``roi_x`` (the ROI's median pixel, ``stat["med"]``) and ``npix``.

    The frame rate is taken, in order, from: the ``fs`` argument; ``ops.npy['fs']``;
    ``settings.npy``/``db.npy``/``reg_outputs.npy`` (newer suite2p). A value of 1.0 (placeholder) or
    10.0 (suite2p's default) gives a :class:`~neurolatent.io.errors.RecordingDataWarning` that says
    to pass ``fs=``; if no frame rate is found a :class:`~neurolatent.io.errors.FrameRateError`
    (a ``ValueError``) asks for ``fs=``.

    .. warning::
       ``stat.npy``, ``ops.npy``, ``settings.npy`` and ``db.npy`` are Python pickles, and loading a
       pickle can run code. They are loaded (``allow_pickle=True``) only from the folder you name
       here (or its ``planeN`` subfolders): only read folders you trust.

    Parameters
    ----------
    path : str or os.PathLike
        A plane folder (holding ``F.npy``), the ``F.npy`` file itself, or a parent folder holding
        ``plane0``, ``plane1``, ... (or a ``suite2p`` folder that does). The ``combined`` folder is
        ignored: planes are concatenated here instead.
    fs : float, optional
        Frame rate in Hz (per plane, i.e. volume rate for multi-plane data). Wins over the files.
    plane : int, optional
        With a parent folder, read only ``plane<plane>``. By default all planes are read and their
        ROIs concatenated (frames truncated to the shortest plane, with a warning).
    cells_only : bool
        Keep only ROIs curated as cells (``iscell``); needs ``iscell.npy``.

    Returns
    -------
    xarray.Dataset
        dims ``(time, neuron)``; ``neuron`` = the ROI index within its plane for a single plane,
        or the running index over the concatenated planes (what suite2p's ``combined`` folder
        uses); coordinates ``plane`` and ``roi`` (index within the plane) always; attrs ``fs``,
        ``fs_origin``, ``source``, ``source_path``, ``neucoeff`` (when recorded), ``n_rois_total``,
        ``suite2p_ops`` (JSON of the scalar ops entries) and ``provenance``.

    Raises
    ------
    RecordingNotFoundError
        ``path`` does not exist.
    RecordingFormatError
        No ``F.npy``; trace files of different shapes; ``iscell``/``stat`` not matching ``F``.
    FrameRateError
        ``fs`` <= 0 or not finite, or no frame rate anywhere and no ``fs``.

    Warns
    -----
    RecordingDataWarning
        NaN/inf values (the frame indices are listed; frames are kept, never dropped); ROIs whose
        fluorescence is zero at every frame (kept; drop them or use ``select_cells``); a placeholder (1.0) or default (10.0) frame rate.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np
    >>> from neurolatent.io import read_suite2p
    >>> d = pathlib.Path(tempfile.mkdtemp()) / "plane0"; d.mkdir()
    >>> F = np.arange(12, dtype=np.float32).reshape(3, 4) + 1  # 3 ROIs x 4 frames
    >>> np.save(d / "F.npy", F); np.save(d / "Fneu.npy", 0.5 * F)
    >>> np.save(d / "iscell.npy", np.array([[1, 0.9], [0, 0.2], [1, 0.8]]))
    >>> ds = read_suite2p(d, fs=30.0, cells_only=True)
    >>> ds.sizes["time"], ds.sizes["neuron"], ds.neuron.values.tolist()
    (4, 2, [0, 2])
    >>> bool((ds.F.values == F[[0, 2]].T).all())
    True
    """
    path = Path(path)
    if not path.exists():
        raise RecordingNotFoundError(
            f"suite2p folder {str(path)!r} does not exist; pass the folder suite2p wrote "
            "(e.g. .../suite2p/plane0) or its parent"
        )
    if path.is_file():
        if path.name != "F.npy":
            raise RecordingFormatError(
                f"{str(path)!r} is a file; read_suite2p expects a suite2p folder (holding F.npy) or F.npy itself"
            )
        path = path.parent
    where = str(path)
    if fs is not None:
        fs = check_fs(fs, where)
    if (path / "F.npy").is_file():
        m = _PLANE_RE.match(path.name)
        index = int(m.group(1)) if m else 0
        if plane is not None and m and index != int(plane):
            raise RecordingFormatError(f"{where!r} is plane {index} but plane={plane} was asked; drop plane= "
                                       "or point to the parent folder")
        planes = [_read_plane(path, index)]
    else:
        found = _plane_folders(path)
        if not found:
            _read_plane(path, 0)  # raises the 'no F.npy' error with the full explanation
        if plane is not None:
            found = [(i, p) for i, p in found if i == int(plane)]
            if not found:
                avail = [i for i, _ in _plane_folders(path)]
                raise RecordingNotFoundError(f"{where!r} has no plane{plane} with F.npy; available planes: {avail}")
        planes = [_read_plane(p, i) for i, p in found]
    return _assemble(planes, path, fs=fs, cells_only=cells_only, plane_arg=plane)


def _assemble(planes: list[dict], path: Path, *, fs: float | None, cells_only: bool, plane_arg) -> xr.Dataset:
    where = str(path)
    if fs is not None:
        fs_value, origin = fs, "argument fs="
    else:
        fs_value, origin = planes[0]["fs"], planes[0]["fs_origin"]
        if fs_value is None:
            raise FrameRateError(
                f"{where!r}: no frame rate found (looked for 'fs' in {', '.join(_FS_FILES)}); "
                "pass the imaging rate in Hz, e.g. read_suite2p(path, fs=30.0)"
            )
        fs_value = check_fs(fs_value, f"{where} ({origin})")
        others = {float(p["fs"]) for p in planes if p["fs"] is not None}
        if len(others) > 1:
            raise RecordingFormatError(f"{where!r}: planes disagree on the frame rate ({sorted(others)} Hz); "
                                       "pass fs= explicitly or read one plane with plane=")
        if fs_value in _SUSPECT_FS:
            warnings.warn(
                f"{where}: the frame rate in {origin} is {fs_value:g} Hz, {_SUSPECT_FS[fs_value]}; times in "
                "seconds will be wrong unless this is really the imaging rate: pass the true rate, "
                "e.g. read_suite2p(path, fs=30.0) or nl.io.read(path, fs=30.0)",
                RecordingDataWarning,
                stacklevel=3,
            )
    n_frames = [p["traces"]["F"].shape[1] for p in planes]
    n_time = min(n_frames)
    if len(set(n_frames)) > 1:
        warnings.warn(f"{where}: planes have different numbers of frames {n_frames}; all are truncated "
                      f"to the shortest ({n_time})", RecordingDataWarning, stacklevel=3)
    names = [n for n in _TRACES if all(n in p["traces"] for p in planes)]
    traces = {n: np.concatenate([p["traces"][n][:, :n_time] for p in planes], axis=0).T for n in names}
    coord_names = [c for c in planes[0]["coords"] if all(c in p["coords"] for p in planes)]
    coords = {c: np.concatenate([p["coords"][c] for p in planes]) for c in coord_names}
    coords["plane"] = np.concatenate([np.full(p["traces"]["F"].shape[0], p["plane"], dtype=np.int64) for p in planes])
    coords["roi"] = np.concatenate([np.arange(p["traces"]["F"].shape[0], dtype=np.int64) for p in planes])
    n_total = coords["roi"].size
    neuron = coords["roi"].copy() if len(planes) == 1 else np.arange(n_total, dtype=np.int64)
    if cells_only:
        if "iscell" not in coords:
            raise RecordingFormatError(f"{where!r}: cells_only=True needs iscell.npy in every plane folder; "
                                       "curate the ROIs in the suite2p GUI or use cells_only=False")
        keep = coords["iscell"]
        traces = {n: a[:, keep] for n, a in traces.items()}
        coords = {c: a[keep] for c, a in coords.items()}
        neuron = neuron[keep]
    ops = planes[0]["ops"]
    version = ops.get("suite2p_version")
    attrs: dict[str, Any] = {
        "fs_origin": origin,
        **({"fs_note": f"suspect: {_SUSPECT_FS[fs_value]}; pass fs="} if fs is None and fs_value in _SUSPECT_FS else {}),
        "n_rois_total": int(n_total),
        "planes": [int(p["plane"]) for p in planes],
        "suite2p_ops": json.dumps(_scalar_ops(ops)),
    }
    if ops.get("neucoeff") is not None:
        attrs["neucoeff"] = float(ops["neucoeff"])
    return build_dataset(
        traces,
        time=frame_times(n_time, fs_value),
        neuron=neuron,
        fs=fs_value,
        source=f"suite2p {version}" if version else "suite2p",
        source_path=where,
        neuron_coords=coords,
        attrs=attrs,
        step="read_suite2p",
        zero_check=("F", "F_chan2"),
        params={"path": where, "fs": fs, "plane": plane_arg, "cells_only": cells_only},
    )
