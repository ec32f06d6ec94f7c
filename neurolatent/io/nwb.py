"""Read ROI fluorescence from NWB files (``processing/ophys``) with pynwb (optional extra ``nwb``)."""
from __future__ import annotations

import json
import os
import warnings
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import xarray as xr

from ._layout import build_dataset, check_fs
from .errors import RecordingDataWarning, RecordingFormatError, RecordingNotFoundError

__all__ = ["read_nwb"]


def _import_pynwb():
    try:
        import pynwb  # optional dependency, imported only when an NWB file is read
    except ImportError as exc:
        raise ImportError(
            "reading NWB files needs pynwb, which is not installed: pip install 'neurolatent[nwb]'"
        ) from exc
    return pynwb


def _collect_series(ophys, pynwb) -> list[tuple[str, str, Any]]:
    """(interface name, series name, RoiResponseSeries) for Fluorescence/DfOverF containers in ophys."""
    found = []
    for iname, iface in ophys.data_interfaces.items():
        if isinstance(iface, (pynwb.ophys.Fluorescence, pynwb.ophys.DfOverF)):
            for sname, s in iface.roi_response_series.items():
                found.append((iname, sname, s))
        elif isinstance(iface, pynwb.ophys.RoiResponseSeries):
            found.append(("", iname, iface))
    return found


def _timestamps(s) -> np.ndarray | None:
    ts = s.timestamps
    if ts is None:
        return None
    if hasattr(ts, "timestamps"):  # timestamps linked from another TimeSeries
        ts = ts.timestamps
    return np.asarray(ts[:], dtype=np.float64)


def _roi_info(s, where: str) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """ROI ids (from the linked PlaneSegmentation) and mask centroids when image masks are stored."""
    if s.rois is None:
        return None, {}
    region = np.asarray(s.rois.data[:], dtype=np.int64)
    table = s.rois.table
    ids = np.asarray(table.id.data[:])[region]
    coords: dict[str, np.ndarray] = {}
    if "image_mask" in table.colnames:
        masks = np.asarray(table["image_mask"].data[:], dtype=np.float64)[region]  # (roi, y, x[, z])
        mass = masks.reshape(len(region), -1).sum(axis=1)
        for axis, name in zip(range(1, masks.ndim), ("roi_y", "roi_x", "roi_z")):
            shape = [1] * masks.ndim
            shape[axis] = masks.shape[axis]
            grid = np.arange(masks.shape[axis], dtype=np.float64).reshape(shape)
            with np.errstate(invalid="ignore", divide="ignore"):
                coords[name] = (masks * grid).reshape(len(region), -1).sum(axis=1) / mass
    return ids, coords


def _oriented(s, key: str, where: str) -> tuple[np.ndarray, np.ndarray, float]:
    """Data as (time, roi) with its times (s) and rate (Hz); checks which axis is time."""
    data = np.asarray(s.data[:])
    if data.ndim == 1:
        data = data[:, None]
    if data.ndim != 2:
        raise RecordingFormatError(f"{where}: series {key!r} has data of shape {data.shape}; expected (time, roi)")
    n_rois = len(s.rois.data) if s.rois is not None else None
    ts = _timestamps(s)
    n_time = ts.size if ts is not None else None
    if n_time is not None:
        time_first = data.shape[0] == n_time
        transposed = not time_first and data.shape[1] == n_time
    else:
        time_first = n_rois is None or data.shape[1] == n_rois
        transposed = not time_first and data.shape[0] == n_rois
    if transposed:
        warnings.warn(f"{where}: series {key!r} is stored as (roi, time) {data.shape}, against the NWB "
                      "convention (time first); it was transposed", RecordingDataWarning, stacklevel=4)
        data = data.T
    elif not time_first:
        raise RecordingFormatError(
            f"{where}: series {key!r} has data of shape {data.shape} matching neither "
            f"{n_time} timestamps nor {n_rois} ROIs; expected (time, roi): fix the file's data or rois"
        )
    if n_rois is not None and data.shape[1] != n_rois:
        raise RecordingFormatError(f"{where}: series {key!r} has {data.shape[1]} columns but links {n_rois} ROIs")
    conversion = float(s.conversion) if s.conversion is not None else 1.0
    offset = float(getattr(s, "offset", 0.0) or 0.0)
    data = data.astype(np.float64) * conversion + offset if (conversion != 1.0 or offset != 0.0) else data
    if ts is not None:
        if ts.size > 1:
            fs = 1.0 / float(np.median(np.diff(ts)))
        elif s.rate is not None:
            fs = float(s.rate)
        else:
            raise RecordingFormatError(f"{where}: series {key!r} has a single timestamp and no rate")
        return data, ts, fs
    fs = check_fs(s.rate, f"{where} (series {key!r} rate)")
    start = float(s.starting_time or 0.0)
    return data, start + np.arange(data.shape[0], dtype=np.float64) / fs, fs


def read_nwb(path: str | os.PathLike, *, series: str | Sequence[str] | None = None) -> xr.Dataset:
    """Read ``RoiResponseSeries`` from ``processing/ophys`` of an NWB file into the standard Dataset.

    Every :class:`pynwb.ophys.RoiResponseSeries` inside a ``Fluorescence`` or ``DfOverF``
    container of the ``ophys`` processing module becomes a ``(time, neuron)`` float32 variable named
    after the series (``<container>_<series>`` when two containers use the same series name).
    Values are ``data * conversion + offset`` (NWB's rule). Time comes from ``timestamps`` or
    ``starting_time + k / rate``; the time axis is the one whose length matches the timestamps
    (or, with a rate, the other axis matches the number of ROIs); a series stored ``(roi, time)``
    is transposed with a :class:`~neurolatent.io.errors.RecordingDataWarning`. ``neuron`` holds
    the ROI ids of the linked ``PlaneSegmentation``; with ``image_mask`` columns, ``roi_y`` /
    ``roi_x`` are mask-weighted centroids.

    Parameters
    ----------
    path : str or os.PathLike
        ``.nwb`` file.
    series : str or list of str, optional
        Which series to read, by variable name, series name or ``"<container>/<series>"``.
        By default all of them; they must then share timestamps and ROIs.

    Returns
    -------
    xarray.Dataset

    Raises
    ------
    ImportError
        pynwb is missing (``pip install 'neurolatent[nwb]'``).
    RecordingNotFoundError, RecordingFormatError
        Missing file; unreadable/corrupt file; no ``ophys`` module; no ROI series; unknown
        ``series``; series with different time bases or ROIs read together.

    Warns
    -----
    RecordingDataWarning
        NaN/inf values (the frame indices are listed; frames are kept, never dropped); ROIs whose
        fluorescence is zero at every frame (kept; drop them or use ``select_cells``); a series stored (roi, time), which is transposed.

    Examples
    --------
    >>> import tempfile, pathlib, datetime, numpy as np, pynwb
    >>> from pynwb.ophys import OpticalChannel, ImageSegmentation, Fluorescence
    >>> from neurolatent.io import read_nwb
    >>> nwb = pynwb.NWBFile(session_description="demo", identifier="id0",
    ...                     session_start_time=datetime.datetime(2020, 1, 1, tzinfo=datetime.timezone.utc))
    >>> ch = OpticalChannel(name="ch", description="green", emission_lambda=510.0)
    >>> plane = nwb.create_imaging_plane(name="plane", optical_channel=ch, description="", excitation_lambda=920.0,
    ...     device=nwb.create_device(name="scope"), imaging_rate=30.0, indicator="GCaMP6f", location="V1")
    >>> mod = nwb.create_processing_module(name="ophys", description="ophys")
    >>> seg = ImageSegmentation(); _ = mod.add(seg)
    >>> ps = seg.create_plane_segmentation(name="ps", description="", imaging_plane=plane)
    >>> for _ in range(3): ps.add_roi(image_mask=np.ones((4, 4)))
    >>> rois = ps.create_roi_table_region(description="all", region=[0, 1, 2])
    >>> fl = Fluorescence(); _ = mod.add(fl)
    >>> _ = fl.create_roi_response_series(name="F", data=np.ones((10, 3)), rois=rois, unit="a.u.", rate=30.0)
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "demo.nwb"
    >>> with pynwb.NWBHDF5IO(str(p), "w") as io: io.write(nwb)
    >>> read_nwb(p).F.shape
    (10, 3)
    """
    path = Path(path)
    where = str(path)
    if not path.is_file():
        raise RecordingNotFoundError(f"NWB file {where!r} does not exist; check the path")
    pynwb = _import_pynwb()
    try:
        io = pynwb.NWBHDF5IO(where, "r", load_namespaces=True)
        nwb = io.read()
    except Exception as exc:  # h5py/hdmf raise many types for truncated or non-NWB files
        raise RecordingFormatError(
            f"{where!r} could not be read as an NWB file ({type(exc).__name__}: {exc}); the file may be "
            "truncated, corrupt or not NWB: validate it with `python -m pynwb.validate` or export it again"
        ) from exc
    try:
        if "ophys" not in nwb.processing:
            raise RecordingFormatError(
                f"{where!r} has no 'ophys' processing module (modules: {sorted(nwb.processing)}); expected "
                "Fluorescence/DfOverF RoiResponseSeries under processing/ophys: add them when exporting "
                "or read the series with pynwb directly"
            )
        found = _collect_series(nwb.processing["ophys"], pynwb)
        if not found:
            raise RecordingFormatError(f"{where!r}: processing/ophys holds no RoiResponseSeries in Fluorescence "
                                       "or DfOverF; nothing to read")
        counts: dict[str, int] = {}
        for _, sname, _ in found:
            counts[sname] = counts.get(sname, 0) + 1
        named = [(f"{i}_{n}" if counts[n] > 1 and i else n, i, n, s) for i, n, s in found]
        if series is not None:
            wanted = [series] if isinstance(series, str) else list(series)
            chosen = []
            for w in wanted:
                hits = [x for x in named if w in (x[0], x[2], f"{x[1]}/{x[2]}")]
                if len(hits) != 1:
                    avail = [f"{i}/{n}" if i else n for _, i, n, _ in named]
                    raise RecordingFormatError(f"{where!r}: series={w!r} matches {len(hits)} series; "
                                               f"available: {avail}")
                chosen.append(hits[0])
            named = chosen
        traces, times, fs, ids, coords, paths, units = {}, None, None, None, {}, {}, {}
        for var, iname, sname, s in named:
            data, ts, rate = _oriented(s, f"{iname}/{sname}" if iname else sname, where)
            rid, rcoords = _roi_info(s, where)
            if rid is None:
                rid = np.arange(data.shape[1], dtype=np.int64)
            if times is None:
                times, fs, ids, coords = ts, rate, rid, rcoords
            elif ts.shape != times.shape or not np.allclose(ts, times) or not np.array_equal(rid, ids):
                avail = [f"{i}/{n}" if i else n for _, i, n, _ in named]
                raise RecordingFormatError(
                    f"{where!r}: series {var!r} has different timestamps or ROIs from {next(iter(traces))!r}; "
                    f"read them separately with series= (one of {avail})"
                )
            traces[var] = data
            paths[var] = f"processing/ophys/{iname}/{sname}" if iname else f"processing/ophys/{sname}"
            units[var] = str(s.unit)
        version = getattr(io, "nwb_version", None)
        if isinstance(version, tuple):
            version = version[0]
        attrs: dict[str, Any] = {
            "fs_origin": "timestamps" if named[0][3].timestamps is not None else "rate",
            "nwb_series": json.dumps(paths),
            "nwb_units": json.dumps(units),
            "identifier": str(nwb.identifier),
            "session_description": str(nwb.session_description),
            "session_start_time": nwb.session_start_time.isoformat() if nwb.session_start_time else "",
        }
    finally:
        io.close()
    return build_dataset(
        traces, time=times, neuron=np.asarray(ids), fs=fs,
        source=f"NWB {version}" if version else "NWB", source_path=where, neuron_coords=coords,
        attrs=attrs, step="read_nwb", params={"path": where, "series": series},
    )
