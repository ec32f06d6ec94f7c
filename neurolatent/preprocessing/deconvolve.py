"""Spike inference with OASIS (optional: ``pip install 'neurolatent[deconv]'``, GPL-licensed)."""
from __future__ import annotations

from typing import Any

import numpy as np
import xarray as xr

from ._common import finish, frame_rate, pick_var

__all__ = ["deconvolve"]


def _import_oasis():
    try:
        from oasis.functions import deconvolve as oasis_deconvolve  # GPL: optional, imported lazily
    except ImportError as exc:
        raise ImportError(
            "deconvolve needs OASIS (package oasis-deconv, GPL-licensed), which is not installed: "
            "pip install 'neurolatent[deconv]'"
        ) from exc
    return oasis_deconvolve


def deconvolve(ds: xr.Dataset, var: str | None = None, *, penalty: int = 1, progress: bool = False,
               **oasis_kw: Any) -> xr.Dataset:
    r"""Infer spikes of each ROI with OASIS (Friedrich, Zhou & Paninski 2017).

    For each trace :math:`y` OASIS fits an AR(p) calcium model :math:`c_t = g\,c_{t-1} + s_t`,
    :math:`s_t \ge 0`, :math:`y_t = b + c_t + \epsilon_t`, solving
    :math:`\min \|s\|_q` s.t. :math:`\|c + b - y\|^2 \le \sigma^2 T` (``penalty`` = q = 1 convex,
    0 for the L0 variant); see :func:`oasis.functions.deconvolve`.

    Parameters
    ----------
    ds : xarray.Dataset
    var : str, optional
        Trace to deconvolve; default ``dff``, then ``F_corrected``, then ``F``.
    penalty : int
        1 (L1) or 0 (L0).
    progress : bool
        Show a tqdm bar over ROIs.
    **oasis_kw
        Passed to :func:`oasis.functions.deconvolve`, e.g. ``tau_d=`` (decay time, s; the frame
        rate is then taken from ``attrs["fs"]``), ``sn=`` (noise std).

    Returns
    -------
    xarray.Dataset
        With ``oasis_c`` (denoised calcium) and ``oasis_s`` (spike amplitudes), float32
        ``(time, neuron)``, and neuron coordinates ``oasis_b`` (baseline), ``oasis_g`` (first AR
        coefficient).

    Raises
    ------
    ImportError
        oasis-deconv is not installed.
    ValueError
        The trace has NaN/inf frames (interpolate them first).

    Examples
    --------
    >>> import numpy as np, xarray as xr
    >>> from neurolatent.preprocessing import deconvolve
    >>> s = np.zeros(300); s[[50, 150, 250]] = 1.0
    >>> c = np.zeros(300)
    >>> for t in range(1, 300): c[t] = 0.9 * c[t - 1] + s[t]
    >>> ds = xr.Dataset({"F": (("time", "neuron"), c[:, None] + 0.01)}, attrs={"fs": 10.0})
    >>> out = deconvolve(ds, tau_d=-1 / (10.0 * np.log(0.9)), sn=0.01)  # decay 0.9 per frame at 10 Hz
    >>> sorted(np.argsort(out.oasis_s.values[:, 0])[-3:].tolist())
    [50, 150, 250]
    """
    oasis_deconvolve = _import_oasis()
    if oasis_kw.get("tau_d") is not None and "framerate" not in oasis_kw:
        oasis_kw["framerate"] = frame_rate(ds)
    name = pick_var(ds, var, ("dff", "F_corrected", "F"), "deconvolve")
    Y = ds[name].transpose("time", "neuron").values.astype(np.float64)
    if not np.isfinite(Y).all():
        raise ValueError(f"deconvolve: {name!r} has NaN/inf frames; OASIS needs finite traces: fill them first, "
                         "e.g. ds.interpolate_na('time')")
    C, S = np.empty_like(Y), np.empty_like(Y)
    b, g = np.empty(Y.shape[1]), np.empty(Y.shape[1])
    columns = range(Y.shape[1])
    if progress:
        from tqdm.auto import tqdm

        columns = tqdm(columns, desc="OASIS", unit="ROI")
    for j in columns:
        res = oasis_deconvolve(Y[:, j], penalty=penalty, **oasis_kw)
        C[:, j], S[:, j], b[j], g[j] = res[0], res[1], float(res[2]), float(np.ravel(res[3])[0])
    new = ds.assign(
        oasis_c=(("time", "neuron"), C.astype(np.float32)),
        oasis_s=(("time", "neuron"), S.astype(np.float32)),
    ).assign_coords(oasis_b=("neuron", b), oasis_g=("neuron", g))
    return finish(new, ds, "deconvolve", {"var": name, "penalty": penalty, "method": "OASIS",
                                           **{k: v for k, v in oasis_kw.items()}})
