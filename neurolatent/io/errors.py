"""Exceptions and warnings raised by :mod:`neurolatent.io` and :mod:`neurolatent.datasets`.

The hierarchy::

    Exception
    └── RecordingError                 base class: catch this to catch every reading failure
        ├── RecordingNotFoundError     (also a FileNotFoundError) path, folder or file missing
        ├── RecordingFormatError       (also a ValueError) file exists but is not the expected
        │                              layout: corrupt/truncated HDF5, missing key, shape mismatch,
        │                              MATLAB v7.3, NWB without an ``ophys`` module, ...
        └── FrameRateError             (also a ValueError) the frame rate is missing, not finite,
                                       or <= 0; pass ``fs=`` in Hz
    UserWarning
    └── RecordingDataWarning           the data were read but look suspicious: NaN/inf frames
                                       (reported by index, never dropped), all-zero ROIs,
                                       a placeholder frame rate

Because of the multiple inheritance, ``except FileNotFoundError`` and ``except ValueError``
written for ordinary Python code keep working.

Every message names the file, what was expected, and what to do.
"""
from __future__ import annotations

__all__ = [
    "RecordingError",
    "RecordingNotFoundError",
    "RecordingFormatError",
    "FrameRateError",
    "RecordingDataWarning",
]


class RecordingError(Exception):
    """Base class of every error raised while reading or writing a recording."""


class RecordingNotFoundError(RecordingError, FileNotFoundError):
    """The path (file or folder) of a recording, or a required file inside it, does not exist."""


class RecordingFormatError(RecordingError, ValueError):
    """The file exists but does not have the layout the reader expects (or is corrupt)."""


class FrameRateError(RecordingError, ValueError):
    """The frame rate could not be found in the files, or the given ``fs`` is not a positive number."""


class RecordingDataWarning(UserWarning):
    """Data were read but need attention: NaN/inf frames, all-zero ROIs, placeholder frame rate."""
