"""Generic MATLAB ``.mat`` reader (v4/v5/v7 through :func:`scipy.io.loadmat`).

MATLAB v7.3 files are HDF5 files that scipy cannot read; they are detected (by the header text
``MATLAB 7.3`` or the HDF5 signature) and rejected with a
:class:`~neurolatent.io.errors.RecordingFormatError` that points to h5py.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import h5py
import scipy.io

from .errors import RecordingFormatError, RecordingNotFoundError

__all__ = ["read_matlab"]


def read_matlab(path: str | os.PathLike, **loadmat_kw: Any) -> dict[str, Any]:
    """Load the variables of a MATLAB v5 ``.mat`` file as a dict (MATLAB structs as attribute objects).

    Calls ``scipy.io.loadmat(path, squeeze_me=True, struct_as_record=False, **loadmat_kw)`` and
    drops the ``__header__``/``__version__``/``__globals__`` entries.

    Parameters
    ----------
    path : str or os.PathLike
        ``.mat`` file saved by MATLAB ``save`` with ``-v7`` or older.
    **loadmat_kw
        Passed to :func:`scipy.io.loadmat` (overriding the defaults above).

    Returns
    -------
    dict
        Variable name -> numpy array / ``scipy.io.matlab.mat_struct``.

    Raises
    ------
    RecordingNotFoundError
        The file does not exist.
    RecordingFormatError
        A MATLAB v7.3 (HDF5) file -- read it with ``h5py.File(path)`` or re-save it in MATLAB with
        ``save(name, '-v7')`` -- or a file scipy cannot parse.

    Examples
    --------
    >>> import tempfile, pathlib, numpy as np, scipy.io
    >>> from neurolatent.io import read_matlab
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "x.mat"
    >>> scipy.io.savemat(p, {"Y": np.arange(6.0).reshape(2, 3)})
    >>> read_matlab(p)["Y"].shape
    (2, 3)
    """
    path = Path(path)
    where = str(path)
    if not path.is_file():
        raise RecordingNotFoundError(f"MATLAB file {where!r} does not exist; check the path")
    with open(path, "rb") as fh:
        header = fh.read(128)
    if b"MATLAB 7.3" in header or h5py.is_hdf5(path):
        raise RecordingFormatError(
            f"{where!r} is a MATLAB v7.3 (HDF5) file, which scipy.io.loadmat cannot read; expected a v5/v7 "
            "MAT-file: open it with h5py (h5py.File(path, 'r'); arrays come transposed) or re-save it in "
            "MATLAB with save(filename, '-v7')"
        )
    kw = {"squeeze_me": True, "struct_as_record": False}
    kw.update(loadmat_kw)
    try:
        out = scipy.io.loadmat(path, **kw)
    except (ValueError, TypeError, OSError, NotImplementedError) as exc:
        raise RecordingFormatError(
            f"{where!r} could not be read as a MATLAB v5 MAT-file ({exc}); the file may be truncated or "
            "not a MAT-file: save it again from MATLAB with save(filename, '-v7')"
        ) from exc
    return {k: v for k, v in out.items() if not k.startswith("__")}
