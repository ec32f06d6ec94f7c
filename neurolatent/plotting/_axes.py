"""Axis conventions shared by the figures (private): which coordinates are angles, π ticks, unit labels.

Which latent coordinates are circular is asked of the :class:`~neurolatent.manifolds.Manifold` named
by the result's ``manifold`` attribute (torus factors are angles in radians; Euclidean, sphere and
SO(3) coordinates are not), never guessed from the coordinate names.
"""
from __future__ import annotations

import math

import numpy as np

from ..manifolds import Manifold, Product, Torus, get_manifold

#: Most curves one axis shows before the figure switches to small multiples (one panel per neuron).
MAX_COLOURS = 20


def neuron_colours(n: int) -> list:
    """``n <= 20`` distinguishable RGBA colours: tab10 up to 10, else tab20's dark then light shades.

    tab20 holds ten hues in dark/light pairs; taking the ten dark shades first keeps the first ten
    colours as distinct as tab10's and gives every further curve a new (hue, lightness) pair.
    """
    import matplotlib

    if n > MAX_COLOURS:
        raise ValueError(f"neuron_colours: at most {MAX_COLOURS} distinguishable colours, asked for {n}; "
                         "draw small multiples instead")
    if n <= 10:
        cmap = matplotlib.colormaps["tab10"]
        return [cmap(i) for i in range(n)]
    cmap = matplotlib.colormaps["tab20"]
    order = list(range(0, 20, 2)) + list(range(1, 20, 2))
    return [cmap(order[i]) for i in range(n)]


def manifold_of(ds) -> Manifold | None:
    """The manifold named by ``ds.attrs["manifold"]`` (None when absent or not a manifold spec)."""
    name = ds.attrs.get("manifold")
    if not name:
        return None
    try:
        return get_manifold(str(name))
    except ValueError:
        return None


def circular_coords(ds, coord_names) -> dict[str, bool]:
    """``{coordinate name: is an angle}`` for the latent coordinates ``coord_names`` of ``ds``.

    Asked of the manifold object (a :class:`Torus` factor's coordinates are angles). Without a
    manifold attribute, a coordinate counts as an angle when its own ``units`` attribute says
    ``rad``.
    """
    names = [str(c) for c in coord_names]
    man = manifold_of(ds)
    if man is not None and len(man.coord_names) == len(names):
        parts = man.parts if isinstance(man, Product) else [man]
        flags = [isinstance(p, Torus) for p in parts for _ in p.coord_names]
        return dict(zip(names, flags))
    return {c: str(ds[c].attrs.get("units", "")) in ("rad", "radian", "radians") if c in ds.coords else False
            for c in names}


def set_pi_ticks(axis, lim: tuple[float, float] = (-math.pi, math.pi), step: int = 1) -> None:
    """Ticks at multiples of ``step`` π/2 on a matplotlib ``Axis`` (``ax.xaxis``), labelled with π."""
    labels = {-4: "−2π", -3: "−3π/2", -2: "−π", -1: "−π/2", 0: "0", 1: "π/2", 2: "π", 3: "3π/2", 4: "2π"}
    lo, hi = lim
    ks = [k for k in range(-4, 5, step) if lo - 1e-9 <= k * math.pi / 2 <= hi + 1e-9]
    axis.set_ticks([k * math.pi / 2 for k in ks], [labels[k] for k in ks])


def coord_label(name: str, circular: bool, manifold: Manifold | None) -> str:
    """Axis label of a latent coordinate, with its unit."""
    if circular:
        return f"{name} (rad)"
    if manifold is not None and not isinstance(manifold, Product) and type(manifold).__name__ in ("Sphere", "SO3"):
        return f"{name} (unit-vector component)"
    return f"{name} (latent units)"


def time_label(ds) -> str:
    """``"time (s)"`` from the ``time`` coordinate's ``units`` attribute (seconds when absent)."""
    units = ds["time"].attrs.get("units", "s") if "time" in ds.coords else "s"
    return f"time ({units})"


def wrap(a: np.ndarray) -> np.ndarray:
    """Angles wrapped to ``[-π, π)``."""
    return (np.asarray(a, dtype=float) + math.pi) % (2 * math.pi) - math.pi


def looks_wrapped(series: np.ndarray) -> bool:
    """True when a 1-D series looks like a wrapped angle (possibly moved by a rigid alignment).

    Three signs together: it spans at most a 2π range, it has steps larger than 1.5π (the wraps,
    a jump across almost the whole range), and it is otherwise smooth (median step below π/4), so
    that noise filling the range is not mistaken for wraps.
    """
    s = np.asarray(series, dtype=float)
    s = s[np.isfinite(s)]
    if s.size < 3:
        return False
    steps = np.abs(np.diff(s))
    return bool(s.max() - s.min() <= 2 * math.pi * 1.02 and np.any(steps > 1.5 * math.pi)
                and np.median(steps) < math.pi / 4)
