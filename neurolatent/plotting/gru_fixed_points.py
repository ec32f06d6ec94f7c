"""Figures for the GRU fixed-point phase diagram (:func:`neurolatent.theory.gru_fixed_point_diagram`).

Every function takes an optional ``ax`` and returns it, so figures compose.

Examples
--------
>>> from neurolatent.theory import GRU
>>> from neurolatent.theory.gru_fixed_points import gru_fixed_point_diagram
>>> ds = gru_fixed_point_diagram(GRU(g_h=2.5), {"b_r": [-2.0, 0.0, 2.0], "g_r": [1.0, 8.0]})
>>> ax = plot_gru_phase_diagram(ds)
"""
from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import BoundaryNorm, ListedColormap
from matplotlib.patches import Patch

__all__ = ["plot_gru_phase_diagram", "plot_gru_slow_modes", "gru_fixed_point_figure"]

_COLOURS = ("#4c72b0", "#dd8452", "#c44e52", "#55a868")  # one per phase code (categorical)


def _ax(ax):
    return plt.subplots(figsize=(5.5, 4.2))[1] if ax is None else ax


def _title(ds, extra=""):
    keys = [k for k in ds.attrs if k.startswith("param_") and k != "param_update"]
    params = ", ".join(f"{k[6:]}={ds.attrs[k]:g}" for k in keys)
    return f"GRU fixed points ({params}{', update=' + ds.attrs['param_update'] if 'param_update' in ds.attrs else ''})" + extra


def plot_gru_phase_diagram(ds, ax=None, found=None):
    """Phase codes of the diagram as categorical colours, with the number of static solutions
    written in each cell and, optionally, numerical results as markers.

    Parameters
    ----------
    ds : xarray.Dataset
        Output of :func:`gru_fixed_point_diagram` (two parameter dims).
    found : list of (x, y, n_nonzero_found, any_stable), optional
        Numerical fixed-point counts at parameter points: open circle = only zero found,
        filled = nonzero fixed points found (labelled with their number).
    """
    from ..theory.gru_fixed_points import PHASES

    ax = _ax(ax)
    d0, d1 = [d for d in ds.phase.dims]
    x, y = ds[d1].values, ds[d0].values
    cmap = ListedColormap(_COLOURS)
    ax.pcolormesh(x, y, ds.phase.values, cmap=cmap, norm=BoundaryNorm(np.arange(-0.5, 4.5), 4), shading="nearest")
    if len(x) * len(y) <= 400:
        for i in range(len(y)):
            for j in range(len(x)):
                ax.text(x[j], y[i], str(int(ds.n_solutions.values[i, j])), ha="center", va="center", fontsize=7,
                        color="w")
    if found:
        for fx, fy, n, st in found:
            ax.plot(fx, fy, "o", mfc=("k" if n else "none"), mec="k", ms=7)
            if n:
                ax.annotate(str(n), (fx, fy), textcoords="offset points", xytext=(5, 5), fontsize=8)
    present = sorted(set(np.unique(ds.phase.values).tolist()))
    ax.legend(handles=[Patch(color=_COLOURS[k], label=PHASES[k]) for k in present], fontsize=7, loc="upper left")
    ax.set(xlabel=ds[d1].attrs.get("long_name", d1), ylabel=ds[d0].attrs.get("long_name", d0))
    ax.set_title(_title(ds), fontsize=8)
    return ax


def plot_gru_slow_modes(b_z, predicted, measured=None, ax=None, label="", eps=None):
    """Fraction of Jacobian eigenvalues within ``eps`` of 1 against the update-gate bias ``b_z``:
    prediction (line) and measured at found fixed points (markers)."""
    ax = _ax(ax)
    ax.plot(b_z, predicted, "-", label=f"predicted {label}".strip())
    if measured is not None:
        ax.plot(b_z, measured, "o", mfc="none", label=f"measured {label}".strip())
    ax.set(xlabel="update-gate bias b_z", ylabel=f"fraction of |λ-1| < {eps}" if eps else "slow-mode fraction",
           ylim=(-0.02, 1.02))
    ax.legend(fontsize=8)
    return ax


def gru_fixed_point_figure(ds, slow=None, found=None, path=None):
    """Phase diagram (left) and, if ``slow`` is given, the slow-mode fractions (right).

    Parameters
    ----------
    ds : xarray.Dataset
        From :func:`gru_fixed_point_diagram`.
    slow : dict, optional
        ``{"b_z": (K,), "predicted": (K,) or (K, M), "measured": (K,) or (K, M), "eps": float}``.
    found : list, optional
        Passed to :func:`plot_gru_phase_diagram`.
    path : str or Path, optional
        Where to save the PNG (written atomically).

    Returns
    -------
    matplotlib.figure.Figure
    """
    from .._utils import atomic_path

    n = 2 if slow is not None else 1
    fig, axes = plt.subplots(1, n, figsize=(5.5 * n, 4.4), squeeze=False)
    plot_gru_phase_diagram(ds, ax=axes[0, 0], found=found)
    if slow is not None:
        plot_gru_slow_modes(slow["b_z"], slow["predicted"], slow.get("measured"), ax=axes[0, 1], eps=slow.get("eps"))
        axes[0, 1].set_title("update gate: eigenvalues piling up at λ = 1", fontsize=8)
    fig.tight_layout()
    if path is not None:
        with atomic_path(path, suffix=".png") as tmp:
            fig.savefig(tmp, dpi=120)
    return fig
