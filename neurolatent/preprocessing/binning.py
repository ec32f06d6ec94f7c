"""Non-overlapping time bins."""
from __future__ import annotations

import warnings

import numpy as np
import xarray as xr

from ._common import finish, frame_rate

__all__ = ["bin_time"]


def bin_time(ds: xr.Dataset, width_s: float) -> xr.Dataset:
    r"""Average consecutive frames in non-overlapping bins of ``n = round(width_s * fs)`` frames.

    Every variable with a ``time`` dim is averaged over each bin; variables marked circular
    (``attrs["circular"]`` true, e.g. ``heading``) get the circular mean
    :math:`\arg \sum_k e^{i\theta_k}` wrapped to [0, 2 pi). The ``time`` coordinate becomes the mean
    frame time of each bin (its centre), other numeric time coordinates are averaged, boolean ones
    are True only if True for every frame of the bin. A trailing incomplete bin is dropped.
    ``attrs["fs"]`` becomes ``fs / n``. When ``n / fs`` differs from ``width_s`` (the width is not a
    whole number of frames) a warning gives the width actually used.

    Parameters
    ----------
    ds : xarray.Dataset
    width_s : float
        Bin width in seconds (>= one frame).

    Returns
    -------
    xarray.Dataset

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> from neurolatent.preprocessing import bin_time
    >>> ds = xr.Dataset({"F": (("time", "neuron"), np.arange(6.0)[:, None])},
    ...                 coords={"time": np.arange(6) / 2.0}, attrs={"fs": 2.0})
    >>> b = bin_time(ds, 1.0)
    >>> b.F.values.ravel().tolist(), b.time.values.tolist(), b.attrs["fs"]
    ([0.5, 2.5, 4.5], [0.25, 1.25, 2.25], 1.0)
    """
    fs = frame_rate(ds)
    if not width_s > 0:
        raise ValueError(f"bin_time: width_s must be > 0 seconds, got {width_s}")
    n = int(round(float(width_s) * fs))
    if n < 1:
        raise ValueError(f"bin_time: width_s={width_s} s is shorter than one frame (1/fs = {1 / fs:g} s)")
    n_bins = ds.sizes["time"] // n
    if n_bins < 1:
        raise ValueError(f"bin_time: {ds.sizes['time']} frames are fewer than one bin of {n} frames")
    if abs(n / fs - width_s) > 1e-9 * max(1.0, width_s):
        warnings.warn(f"bin_time: {width_s} s is not a whole number of frames at {fs:g} Hz; "
                      f"using {n} frames = {n / fs:g} s", UserWarning, stacklevel=2)
    coord_func = {c: ("min" if ds[c].dtype == bool else "mean")
                  for c in ds.coords if "time" in ds[c].dims}
    binned = ds.coarsen(time=n, boundary="trim", coord_func=coord_func).mean(keep_attrs=True)
    for name, da in ds.data_vars.items():
        if "time" not in da.dims:
            continue
        if da.attrs.get("circular"):
            ax = da.dims.index("time")
            x = np.moveaxis(da.values[tuple(slice(0, n_bins * n) if d == "time" else slice(None)
                                            for d in da.dims)].astype(np.float64), ax, 0)
            x = x.reshape(n_bins, n, *x.shape[1:])
            ok = np.isfinite(x)  # circular mean of the finite samples; NaN where a bin has none (no warning)
            count = ok.sum(axis=1)
            z = np.where(ok, np.exp(1j * np.where(ok, x, 0.0)), 0.0).sum(axis=1) / np.maximum(count, 1)
            ang = np.where(count > 0, np.mod(np.angle(z), 2 * np.pi), np.nan)
            binned[name] = (da.dims, np.moveaxis(ang, 0, ax).astype(da.dtype), da.attrs)
        else:
            binned[name] = binned[name].astype(da.dtype)
    for c in coord_func:
        binned.coords[c] = binned[c].astype(ds[c].dtype)
    return finish(binned, ds, "bin_time", {"width_s": float(width_s), "frames_per_bin": n}, attrs={"fs": fs / n})
