"""dF/F with a running-percentile (or constant-percentile) baseline."""
from __future__ import annotations

import warnings

import numpy as np
import scipy.ndimage
import xarray as xr

from ..io.errors import RecordingDataWarning
from ._common import finish, frame_rate, pick_var

__all__ = ["dff", "baseline_window"]


def baseline_window(window_s: float, fs: float) -> int:
    """Window length in frames: ``round(window_s * fs)``, plus one if even (odd, so it is centred), at least 1."""
    w = max(1, int(round(float(window_s) * fs)))
    return w if w % 2 == 1 else w + 1


def dff(ds: xr.Dataset, *, baseline: str = "percentile", window_s: float = 60.0, q: float = 8.0,
        var: str | None = None, out: str = "dff") -> xr.Dataset:
    r"""Relative fluorescence change :math:`\Delta F/F = (F - F_0) / F_0` per ROI.

    The baseline :math:`F_0` is defined exactly in the Notes.

    Parameters
    ----------
    ds : xarray.Dataset
    baseline : {"percentile", "constant"}
    window_s : float
        Running-window length in seconds (``"percentile"`` only); uses ``attrs["fs"]``.
    q : float
        Percentile in [0, 100]; 8 by default (a low percentile tracks the resting fluorescence).
    var : str, optional
        Input variable; default ``F_corrected`` if present, else ``F``, else the only trace.
    out : str
        Output variable name (float32).

    Returns
    -------
    xarray.Dataset
        New Dataset with ``out`` added; provenance (including the window in frames) appended.

    Notes
    -----
    ``"percentile"`` (default): a running order statistic. With :math:`w` = ``round(window_s * fs)``
    frames, plus one when even (:func:`baseline_window`) and :math:`h = (w-1)/2`,
    :math:`F_0[t]` is the :math:`r`-th smallest value (0-based, :math:`r = \lfloor w\,q/100 \rfloor`,
    :math:`r = w - 1` when ``q == 100``) of :math:`F[t-h], \dots, F[t+h]`, where frames beyond the
    ends repeat the first/last value. This is exactly
    ``scipy.ndimage.percentile_filter(F, q, size=(w, 1), mode="nearest")``.

    ``"constant"``: :math:`F_0` = the ``q``-th percentile of the whole trace
    (``numpy.nanpercentile``: linear interpolation, NaN frames ignored).

    NaN/inf frames (kept by the readers) are linearly interpolated in time for computing
    :math:`F_0` only; the output stays NaN at those frames.

    Where :math:`F_0 \le 0` the ratio is undefined: those entries are NaN and a
    :class:`~neurolatent.io.errors.RecordingDataWarning` names the ROIs (subtract less neuropil or
    use raw ``F``).

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> from neurolatent.preprocessing import dff
    >>> F = np.full((20, 1), 100.0); F[10] = 150.0
    >>> ds = xr.Dataset({"F": (("time", "neuron"), F.astype(np.float32))}, attrs={"fs": 1.0})
    >>> round(float(dff(ds, window_s=9).dff[10, 0]), 3)
    0.5
    """
    if baseline not in ("percentile", "constant"):
        raise ValueError(f"dff: baseline must be 'percentile' or 'constant', got {baseline!r}")
    if not 0 <= q <= 100:
        raise ValueError(f"dff: q must be a percentile in [0, 100], got {q}")
    name = pick_var(ds, var, ("F_corrected", "F"), "dff")
    da = ds[name].transpose("time", "neuron")
    F = da.values.astype(np.float64)
    params = {"baseline": baseline, "q": float(q), "var": name, "out": out}
    bad_in = ~np.isfinite(F)
    if bad_in.any():  # the baseline is computed on a copy with NaN/inf frames interpolated in time
        F_base = F.copy()
        t = np.arange(F.shape[0])
        for j in np.flatnonzero(bad_in.any(axis=0)):
            ok = ~bad_in[:, j]
            F_base[:, j] = np.interp(t, t[ok], F[ok, j]) if ok.any() else np.nan
    else:
        F_base = F
    if baseline == "percentile":
        if not window_s > 0:
            raise ValueError(f"dff: window_s must be > 0 seconds, got {window_s}")
        w = baseline_window(window_s, frame_rate(ds))
        F0 = scipy.ndimage.percentile_filter(F_base, q, size=(w, 1), mode="nearest")
        params.update(window_s=float(window_s), window_frames=w)
    else:
        F0 = np.broadcast_to(np.nanpercentile(F_base, q, axis=0), F.shape)
    bad = ~(F0 > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(bad, np.nan, (F - F0) / np.where(bad, 1.0, F0))
    if bad.any():
        rois = ds["neuron"].values[bad.any(axis=0)] if "neuron" in ds.coords else np.flatnonzero(bad.any(axis=0))
        warnings.warn(f"dff: the baseline of {name!r} is <= 0 for ROI(s) {rois.tolist()[:20]}; dF/F is set to NaN "
                      "there: use a smaller neuropil coefficient or the raw F", RecordingDataWarning, stacklevel=2)
    new = ds.assign({out: (("time", "neuron"), ratio.astype(np.float32))})
    return finish(new, ds, "dff", params)
