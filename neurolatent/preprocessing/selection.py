"""Keep curated cells."""
from __future__ import annotations

import numpy as np
import xarray as xr

from ._common import finish

__all__ = ["select_cells"]


def select_cells(ds: xr.Dataset, *, by: str | None = None, min_prob: float | None = None) -> xr.Dataset:
    """Keep the ROIs labelled as cells.

    Parameters
    ----------
    ds : xarray.Dataset
    by : str, optional
        Boolean neuron coordinate to select on; default ``iscell`` (suite2p) if present, else
        ``accepted`` (CaImAn).
    min_prob : float, optional
        Additionally require ``iscell_prob >= min_prob`` (suite2p classifier probability).

    Returns
    -------
    xarray.Dataset
        The selected neurons (their original ``neuron`` indices are kept); provenance appended.

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> from neurolatent.preprocessing import select_cells
    >>> ds = xr.Dataset({"F": (("time", "neuron"), np.zeros((2, 3)))},
    ...                 coords={"neuron": [0, 1, 2], "iscell": ("neuron", [True, False, True])})
    >>> select_cells(ds).neuron.values.tolist()
    [0, 2]
    """
    if by is None:
        by = next((c for c in ("iscell", "accepted") if c in ds.coords), None)
        if by is None:
            raise ValueError("select_cells: the dataset has no 'iscell' (suite2p) or 'accepted' (CaImAn) "
                             "coordinate; pass by=<boolean neuron coordinate> or curate the ROIs first")
    if by not in ds.coords or ds[by].dims != ("neuron",):
        raise KeyError(f"select_cells: no neuron coordinate {by!r} (coordinates: {list(ds.coords)})")
    keep = np.asarray(ds[by].values, dtype=bool)
    if min_prob is not None:
        if "iscell_prob" not in ds.coords:
            raise KeyError("select_cells: min_prob needs the 'iscell_prob' coordinate (suite2p iscell.npy column 2)")
        keep &= np.asarray(ds["iscell_prob"].values) >= float(min_prob)
    new = ds.isel(neuron=np.flatnonzero(keep))
    return finish(new, ds, "select_cells", {"by": by, "min_prob": min_prob, "kept": int(keep.sum()),
                                             "of": int(keep.size)})
