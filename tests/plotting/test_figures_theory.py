"""Theory figures: parameters in the titles, categorical colour maps for 0/1 and coded quantities."""
from __future__ import annotations

import json

import matplotlib
import numpy as np
import pytest
import xarray as xr

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.colors import ListedColormap  # noqa: E402

from neurolatent.plotting.theory import (model_title, plot_autocorrelation, plot_lyapunov_spectrum,  # noqa: E402
                                         plot_phase_diagram, plot_spectrum)
from neurolatent.theory import GatedRNN, VanillaRNN, dmft, jacobian_spectrum, phase_diagram  # noqa: E402


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


class _Factory:
    def __call__(self, g_h, alpha_r):
        return GatedRNN(g_h, 0.0, alpha_r)


@pytest.fixture(scope="module")
def pd_static():
    """A real (small) phase diagram over (g_h, alpha_r) with the cheap quantities."""
    return phase_diagram(_Factory(), {"g_h": "1:3:4", "alpha_r": "0:30:3"}, ["zero_fp_stable", "n_static"],
                         progress=False)


def _mesh(ax):
    (mesh,) = [c for c in ax.collections if isinstance(c, matplotlib.collections.QuadMesh)]
    return mesh


def test_model_title_lists_non_default_parameters():
    assert model_title(GatedRNN(3.0, alpha_z=5.0)) == "GatedRNN(g_h=3, alpha_z=5)"
    assert model_title(VanillaRNN(2.0)) == "VanillaRNN(g=2)"
    assert model_title(GatedRNN(3.0), exclude=("g_h",)) == "GatedRNN (other parameters at their defaults)"


def test_stability_map_is_categorical(pd_static):
    vals = pd_static["zero_fp_stable"].values
    assert set(np.unique(vals)) == {0.0, 1.0}  # the grid crosses the instability line
    ax = plot_phase_diagram(pd_static, "zero_fp_stable", model=GatedRNN(1.0, alpha_z=0.5))
    mesh = _mesh(ax)
    assert isinstance(mesh.cmap, ListedColormap) and mesh.cmap.N == 2
    cbar = mesh.colorbar
    assert [t.get_text() for t in cbar.ax.get_yticklabels()] == ["unstable", "stable"]
    # stable points blue, unstable red: the colours of the drawn cells follow the values
    rgba = mesh.to_rgba(mesh.get_array())
    stable = np.asarray(mesh.get_array()) == 1
    assert np.allclose(rgba[stable][:, :3], matplotlib.colors.to_rgb("#4477AA"))
    assert np.allclose(rgba[~stable][:, :3], matplotlib.colors.to_rgb("#EE6677"))
    title = ax.get_title()
    assert "GatedRNN(alpha_z=0.5)" in title and "g_h" in title and "alpha_r" in title


def test_counts_and_phase_codes_are_categorical(pd_static):
    ax = plot_phase_diagram(pd_static, "n_static")
    mesh = _mesh(ax)
    n = int(np.nanmax(pd_static["n_static"].values)) + 1
    assert isinstance(mesh.cmap, ListedColormap) and mesh.cmap.N == n
    codes = {"quiescent": 0, "critical": 1, "static": 2, "chaotic": 3}
    ds = xr.Dataset({"phase_code": (("g_h", "alpha_r"), np.array([[0.0, 2.0], [3.0, 3.0]]))},
                    coords={"g_h": [1.0, 2.0], "alpha_r": [0.0, 10.0]},
                    attrs={"model": "GatedRNN", "phase_codes": json.dumps(codes)})
    mesh = _mesh(plot_phase_diagram(ds, "phase_code"))
    assert [t.get_text() for t in mesh.colorbar.ax.get_yticklabels()] == list(codes)
    assert "GatedRNN" in plt.gca().get_title()


def test_continuous_quantity_keeps_viridis_and_readable_lines():
    g = np.linspace(1.0, 3.0, 5)
    a = np.linspace(0.0, 30.0, 4)
    lam = (g - 2.0)[:, None] + 0 * a[None, :]  # crosses zero at g_h = 2
    ds = xr.Dataset({"lambda_max": (("g_h", "alpha_r"), lam)}, coords={"g_h": g, "alpha_r": a},
                    attrs={"model": "GatedRNN", "model_params": json.dumps({"alpha_z": 0.0, "g_h": 9.0})})
    ax = plot_phase_diagram(ds)
    assert _mesh(ax).cmap.name == "viridis"
    contours = [c for c in ax.collections if isinstance(c, matplotlib.contour.ContourSet)]
    assert contours and all(c.get_path_effects() for c in contours)  # a white halo behind every line
    assert "GatedRNN (alpha_z=0)" in ax.get_title()  # fixed parameters, not the grid axes
    assert "λ_max = 0" in [t.get_text() for t in ax.get_legend().get_texts()]


def test_autocorrelation_and_spectrum_titles():
    res = dmft(VanillaRNN(2.0))
    ax = plot_autocorrelation(res)
    assert ax.get_title().splitlines()[0] == "VanillaRNN(g=2)" and "λ_max" in ax.get_title()
    m = VanillaRNN(1.5)
    ax = plot_spectrum(jacobian_spectrum(m, samples="zero", n_angles=16), np.array([0.1 + 0.2j, -1.0]), model=m)
    assert ax.get_title().startswith("VanillaRNN(g=1.5)")


def test_lyapunov_title():
    class _Res:  # the two fields the figure reads from a LyapunovResult
        exponents = np.array([[0.3, 0.0, -0.5], [0.25, -0.1, -0.6]])

    ax = plot_lyapunov_spectrum(_Res(), model=GatedRNN(3.0, alpha_r=4.0))
    assert ax.get_title().startswith("GatedRNN(g_h=3, alpha_r=4)") and "λ_1 = 0.3" in ax.get_title()
    assert ax.get_ylabel() == "λ_i (1 / time unit)"
