"""Recordings in and out: suite2p, CaImAn, NWB, MATLAB and netCDF -> :class:`xarray.Dataset`.

Every reader returns the same layout (see :mod:`neurolatent.io._layout`): dims
``("time", "neuron")``, ``time`` in seconds, ``neuron`` = original ROI index, float32 traces,
attrs ``fs``/``source``/``source_path``/``provenance``; :func:`write_netcdf` and
:func:`read_netcdf` round-trip it losslessly. Errors are the classes in
:mod:`neurolatent.io.errors`.
"""
from .caiman import read_caiman
from .errors import (
    FrameRateError,
    RecordingDataWarning,
    RecordingError,
    RecordingFormatError,
    RecordingNotFoundError,
)
from .matlab import read_matlab
from .netcdf import read_netcdf, write_netcdf
from .nwb import read_nwb
from .read import read
from .suite2p import read_suite2p
from .summary import summarize

__all__ = [
    "read",
    "read_suite2p",
    "read_caiman",
    "read_nwb",
    "read_netcdf",
    "write_netcdf",
    "read_matlab",
    "summarize",
    "RecordingError",
    "RecordingNotFoundError",
    "RecordingFormatError",
    "FrameRateError",
    "RecordingDataWarning",
]
