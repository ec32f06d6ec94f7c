"""mGPLVM figures: built from real (short) fits on T1, T2, R1, R2, S2, checked for the properties a reader needs.

The fits are 3 optimisation steps long: the figures' axes, units and colours are what is tested, not
the quality of the fit.
"""
from __future__ import annotations

import math

import matplotlib
import numpy as np
import pytest
import torch
import xarray as xr

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.colors import to_rgb  # noqa: E402

from neurolatent.models import MGPLVM  # noqa: E402
from neurolatent.plotting import plot_elbo, plot_latents, plot_tuning_curves  # noqa: E402
from neurolatent.plotting._axes import looks_wrapped, neuron_colours  # noqa: E402

MANIFOLDS = ["T1", "T2", "R1", "R2", "S2"]
T, N = 60, 16


@pytest.fixture(scope="module")
def heading():
    """A slowly turning heading, wrapped to [-π, π): two full turns over the recording."""
    return (np.linspace(0, 4 * math.pi, T) + math.pi) % (2 * math.pi) - math.pi


@pytest.fixture(scope="module")
def fits(heading):
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    Y = np.cos(heading[:, None] - np.linspace(0, 2 * math.pi, N)) + 0.1 * rng.standard_normal((T, N))
    out = {}
    for man in MANIFOLDS:
        out[man] = MGPLVM(man, seed=0, n_inducing=6).fit(Y, max_steps=3, burnin=1, progress=False)
    return out


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _srgb_to_lab(rgb) -> np.ndarray:
    """CIELAB (D65) of an sRGB colour in [0, 1] (the standard sRGB -> XYZ -> Lab formulas)."""
    c = np.asarray(rgb, dtype=float)
    c = np.where(c > 0.04045, ((c + 0.055) / 1.055) ** 2.4, c / 12.92)
    m = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
    xyz = m @ c / np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > 0.008856, np.cbrt(xyz), 7.787 * xyz + 16 / 116)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def _has_pi(labels) -> bool:
    return any("π" in t.get_text() for t in labels)


def _lines_ydata(ax):
    return [np.asarray(line.get_ydata(), dtype=float) for line in ax.get_lines() if len(line.get_ydata()) > 2]


@pytest.mark.parametrize("man", MANIFOLDS)
def test_latent_figure_units(fits, heading, man):
    lat = fits[man].latents()
    ref = heading if man in ("T1", "R1") else None
    fig = plot_latents(lat, reference=ref, reference_label="heading")
    axes = fig.axes
    assert axes[-1].get_xlabel() == "time (s)"
    for ax, c in zip(axes, lat["coord"].values):
        if man.startswith("T"):
            assert ax.get_ylabel() == f"{c} (rad)"
            assert _has_pi(ax.get_yticklabels())
            assert ax.get_ylim() == pytest.approx((-math.pi, math.pi))
        else:
            assert "(rad)" not in ax.get_ylabel() and not _has_pi(ax.get_yticklabels())
            assert ax.get_ylabel().startswith(str(c))


def test_no_wrapped_overlay_on_euclidean_latent(fits, heading):
    """R1 with a wrapped heading: no drawn line has the 2π jumps; the heading is shown unwrapped."""
    assert looks_wrapped(heading)  # the reference really is wrapped
    fig = plot_latents(fits["R1"].latents(), reference=heading, reference_label="heading")
    ax = fig.axes[0]
    labels = [line.get_label() for line in ax.get_lines()]
    assert "heading, unwrapped" in labels and "heading" not in labels
    for y in _lines_ydata(ax):
        assert not looks_wrapped(y)
        assert np.max(np.abs(np.diff(y))) < math.pi  # the unwrapped heading moves smoothly
    fig = plot_latents(fits["R1"].latents(), reference=heading, circular_on_euclidean="omit")
    assert [line.get_label() for line in fig.axes[0].get_lines()] == ["posterior mean"]


def test_circular_reference_from_dataarray_units(fits, heading):
    """A DataArray reference with units rad counts as circular even when it has no wrap yet."""
    short = xr.DataArray(np.linspace(-1.0, 1.0, T), dims="time", attrs={"units": "rad"})
    fig = plot_latents(fits["R1"].latents(), reference=short, reference_label="heading")
    assert "heading, unwrapped" in [line.get_label() for line in fig.axes[0].get_lines()]
    fig = plot_latents(fits["T1"].latents(), reference=heading, reference_label="heading")
    (ref_line,) = [line for line in fig.axes[0].get_lines() if line.get_label() == "heading"]
    y = np.asarray(ref_line.get_ydata())
    assert y.min() >= -math.pi and y.max() < math.pi  # wrapped dots on the circular axis


def test_euclidean_reference_kept_on_euclidean_latent(fits):
    """A smooth Euclidean reference (no wraps) is drawn as it is over R1."""
    ref = np.linspace(-3.0, 3.0, T)
    assert not looks_wrapped(ref)
    fig = plot_latents(fits["R1"].latents(), reference=ref, reference_label="truth")
    (line,) = [ln for ln in fig.axes[0].get_lines() if ln.get_label() == "truth"]
    np.testing.assert_array_equal(line.get_ydata(), ref)


def test_time_units_from_coordinate_or_argument(fits):
    lat = fits["T1"].latents()
    lat["time"].attrs["units"] = "frame"
    assert plot_latents(lat).axes[-1].get_xlabel() == "time (frame)"
    assert plot_latents(lat, time_units="min").axes[-1].get_xlabel() == "time (min)"


def test_reference_shape_error(fits):
    with pytest.raises(ValueError, match="reference must have shape"):
        plot_latents(fits["T1"].latents(), reference=np.zeros(T + 1))


@pytest.mark.parametrize("man", MANIFOLDS)
def test_tuning_figure_builds_with_units(fits, man):
    tc = fits[man].tuning_curves(12)
    fig = plot_tuning_curves(tc, units="ΔF/F")
    text = [ax.get_ylabel() for ax in fig.axes] + [fig.get_supylabel() if hasattr(fig, "get_supylabel") else ""]
    text += [t.get_text() for t in fig.texts]
    assert any("E[y | latent] (ΔF/F)" in s for s in text)
    if man == "T1":
        ax = fig.axes[0]
        assert _has_pi(ax.get_xticklabels()) and ax.get_xlabel() == "theta (rad)"
    if man == "T2":
        panels = fig.axes[:N]  # then the colour bar
        for ax in panels:  # ticks at -π, 0, π on both circular axes (labels only on the outer panels)
            np.testing.assert_allclose(ax.get_xticks(), [-math.pi, 0, math.pi])
            np.testing.assert_allclose(ax.get_yticks(), [-math.pi, 0, math.pi])
        assert _has_pi(panels[0].get_yticklabels()) and _has_pi(panels[-1].get_xticklabels())
        assert "theta1 (rad)" in [t.get_text() for t in fig.texts]
    if man == "R1":
        assert not _has_pi(fig.axes[0].get_xticklabels()) and fig.axes[0].get_xlabel() == "x0 (latent units)"


def test_sixteen_neurons_have_distinct_colours(fits):
    tc = fits["T1"].tuning_curves(12)
    fig = plot_tuning_curves(tc, max_neurons=16)
    ax = fig.axes[0]
    colours = [to_rgb(line.get_color()) for line in ax.get_lines()]
    assert len(colours) == 16 and len(set(colours)) == 16
    # distinguishable, not merely different: CIE76 colour difference > 10 for every pair (2.3 is the
    # just-noticeable difference; > 10 is "clearly different at a glance"); tab20's closest pair is ~16.6
    lab = np.array([_srgb_to_lab(c) for c in colours])
    gaps = np.linalg.norm(lab[:, None, :] - lab[None, :, :], axis=-1) + 1e3 * np.eye(16)
    assert gaps.min() > 10.0
    assert len(ax.get_legend().get_texts()) == 16


def test_many_neurons_become_small_multiples(fits):
    tc = fits["T1"].tuning_curves(12)
    big = xr.concat([tc.assign_coords(neuron=tc["neuron"].values + 100 * k) for k in range(2)], "neuron")
    fig = plot_tuning_curves(big, max_neurons=32)
    drawn = [ax for ax in fig.axes if ax.get_lines()]
    assert len(drawn) == 32  # one panel per neuron


def test_neuron_colours_limit():
    assert len(set(neuron_colours(20))) == 20
    with pytest.raises(ValueError, match="small multiples"):
        neuron_colours(21)


def test_count_units_default(fits):
    tc = fits["T1"].tuning_curves(12)
    assert plot_tuning_curves(tc).axes[0].get_ylabel() == "E[y | latent] (data units)"
    tc.attrs["likelihood"] = "poisson"
    assert plot_tuning_curves(tc).axes[0].get_ylabel() == "E[y | latent] (counts / bin)"


def test_elbo_marks_early_stop(fits):
    m = fits["T1"]
    ax = plot_elbo(m.elbo_history, max_steps=100).axes[0]
    assert ax.get_ylabel() == "ELBO (nats)"
    stops = [ln for ln in ax.get_lines() if ln.get_label().startswith("early stop")]
    assert len(stops) == 1 and stops[0].get_xdata()[0] == len(m.elbo_history)
    # a full-length run gets no marker; an explicit step or a history attribute gets one
    ax = plot_elbo(m.elbo_history, max_steps=len(m.elbo_history)).axes[0]
    assert not [ln for ln in ax.get_lines() if ln.get_label().startswith("early stop")]
    hist = m.history
    ax = plot_elbo(hist, stopped_at=2).axes[0]
    assert [ln.get_xdata()[0] for ln in ax.get_lines() if ln.get_label().startswith("early stop")] == [2]
