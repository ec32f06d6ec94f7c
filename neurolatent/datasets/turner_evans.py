"""Single trials of Turner-Evans et al. (2017, eLife): two-colour ellipsoid-body imaging + heading."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import xarray as xr

from ..io._layout import build_dataset
from ..io.errors import RecordingFormatError, RecordingNotFoundError
from ..io.matlab import read_matlab
from ._paths import resolve_dataset_dir

__all__ = ["read_turner_evans_2017"]

_NAME = "turner_evans_2017"
_CHANNELS = ("GROIaveMax", "GROIaveMean", "RROIaveMax", "RROIaveMean")
_SAMPLE_RATE = 1e4  # tFrameGrab / tVR are sample indices of the 10 kHz acquisition clock


def is_turner_evans_2017(path: str | os.PathLike) -> bool:
    """Whether ``path`` is a MATLAB v5 file with the variables of a Turner-Evans et al. (2017) trial.

    Reads only the file's variable directory (``scipy.io.whosmat``); ``False`` for other ``.mat``
    layouts, MATLAB v7.3 (HDF5) files and unreadable paths.
    """
    import scipy.io

    try:
        names = {n for n, _, _ in scipy.io.whosmat(str(path))}
    except (OSError, ValueError, NotImplementedError, TypeError):
        return False
    return set(_CHANNELS) | {"positionDat"} <= names


def read_turner_evans_2017(path: str | os.PathLike) -> xr.Dataset:
    """Read one trial ``.mat`` file of Turner-Evans et al. (2017) into a ``(time, neuron)`` Dataset.

    Volume times (s) follow the recipe of the data README:
    :math:`t_i = t_0 + (\\mathrm{tFrameGrab}[i\\,n_p] - \\mathrm{tVR}[0]) / 10^4`, with
    :math:`n_p` = ``len(tFrameGrab) // n_volumes`` imaging planes per volume (7 here, ~11.4 volumes/s)
    and :math:`t_0` = ``positionDat.t[0]``, i.e. on the behaviour clock ``positionDat.t``.

    ``heading`` is ``positionDat.OffsetRot`` (degrees) converted to radians, unwrapped, linearly
    interpolated at the volume times and wrapped to [0, 2 pi). Volumes acquired before the first or
    after the last behaviour sample get ``NaN`` heading and ``has_behaviour = False`` (not dropped).

    Parameters
    ----------
    path : str or os.PathLike
        One ``.mat`` trial file (MATLAB v5), e.g. ``Fly1_9day_6fx37F06_jRGC1ax60D05_1x_00001.mat``. A bare
        file name that does not exist in the working folder is looked up in
        ``$NEUROLATENT_DATA/turner_evans_2017/`` and ``../shared/data/turner_evans_2017/``.

    Returns
    -------
    xarray.Dataset
        ``GROIaveMax``, ``GROIaveMean`` (green: GCaMP6f in P-EN1, line 37F06), ``RROIaveMax``,
        ``RROIaveMean`` (red: jRGECO1a in E-PG, line 60D05), each (time, neuron=16) float32;
        ``heading`` (time,) radians; coordinate ``has_behaviour`` (time,) bool; attrs ``fs``
        (mean volume rate, Hz) and ``n_planes``.

    Raises
    ------
    RecordingNotFoundError, RecordingFormatError
        Missing file; MATLAB v7.3; missing variables or inconsistent frame-grab counts.

    Examples
    --------
    >>> from neurolatent.datasets import read_turner_evans_2017
    >>> ds = read_turner_evans_2017("Fly1_9day_6fx37F06_jRGC1ax60D05_1x_00001.mat")  # doctest: +SKIP
    >>> round(ds.attrs["fs"], 1)  # doctest: +SKIP
    11.4
    """
    path = Path(path)
    if not path.exists() and path.name == str(path):  # a bare file name: look in the data roots
        path = resolve_dataset_dir(_NAME, [path.name], download=False) / path.name
    where = str(path)
    if path.is_dir():
        mats = sorted(p.name for p in path.glob("*.mat"))
        raise RecordingNotFoundError(f"{where!r} is a folder; pass one trial .mat file (found: {mats})")
    m = read_matlab(path)
    missing = [k for k in (*_CHANNELS, "positionDat") if k not in m]
    if missing:
        raise RecordingFormatError(f"{where!r} lacks {missing}; expected the Turner-Evans 2017 trial layout "
                                   f"({', '.join(_CHANNELS)}, positionDat)")
    traces = {k: np.atleast_2d(np.asarray(m[k], dtype=np.float64)) for k in _CHANNELS}
    shapes = {v.shape for v in traces.values()}
    if len(shapes) != 1:
        raise RecordingFormatError(f"{where!r}: channel arrays have different shapes {shapes}")
    n_rois, n_vol = traces[_CHANNELS[0]].shape
    pos = m["positionDat"]
    try:
        t = np.asarray(pos.t, dtype=np.float64).ravel()
        rot = np.asarray(pos.OffsetRot, dtype=np.float64).ravel()
        grab = np.asarray(pos.tFrameGrab, dtype=np.float64).ravel()
        vr0 = float(np.ravel(pos.tVR)[0])
    except AttributeError as exc:
        raise RecordingFormatError(f"{where!r}: positionDat lacks a field ({exc}); expected t, OffsetRot, "
                                   "tFrameGrab and tVR") from exc
    n_planes = grab.size // n_vol
    if n_planes < 1:
        raise RecordingFormatError(f"{where!r}: {grab.size} frame grabs for {n_vol} volumes; expected at least one per volume")
    vol_t = t[0] + (grab[np.arange(n_vol) * n_planes] - vr0) / _SAMPLE_RATE
    inside = (vol_t >= t[0]) & (vol_t <= t[-1])
    unwrapped = np.unwrap(np.deg2rad(rot))
    heading = np.where(inside, np.mod(np.interp(vol_t, t, unwrapped), 2 * np.pi), np.nan)
    fs = (n_vol - 1) / float(vol_t[-1] - vol_t[0])  # mean volume rate over the trial
    return build_dataset(
        {k: v.T for k, v in traces.items()},
        time=vol_t,
        neuron=np.arange(n_rois, dtype=np.int64),
        fs=fs,
        source="Turner-Evans et al. 2017 (eLife 6:e23496), MATLAB v5 trial",
        source_path=where,
        time_vars={"heading": heading},
        time_coords={"has_behaviour": inside},
        attrs={
            "fs_origin": "mean rate of the reconstructed volume times",
            "n_planes": int(n_planes),
            "green_channel": "GCaMP6f in P-EN1 neurons (line 37F06)",
            "red_channel": "jRGECO1a in E-PG neurons (line 60D05)",
            "heading_units": "rad",
            "time_recipe": "t[0] + (tFrameGrab[i * n_planes] - tVR[0]) / 1e4",
        },
        step="read_turner_evans_2017",
        params={"path": where},
    ).assign(heading=lambda d: d.heading.assign_attrs(units="rad", circular=1))
