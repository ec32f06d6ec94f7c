"""Phase diagrams: grids, cache, Dask equals serial, static solutions, CLI."""
from __future__ import annotations

import argparse

import numpy as np
import pytest

from neurolatent.theory import GRU, GatedRNN, VanillaRNN, fixed_point_dmft, parse_grid, phase_diagram
from neurolatent.theory.cli import add_theory_parser
from neurolatent.theory.fixed_points import static_residual


class GatedFactory:
    """Picklable factory for Dask workers."""

    def __call__(self, g_h, alpha_r):
        return GatedRNN(g_h, 0.0, alpha_r)


def test_grid_parsing_and_errors():
    np.testing.assert_allclose(parse_grid("1:3:41")[[0, 20, 40]], [1.0, 2.0, 3.0])
    for bad in ("1:3:0", "a:b:c", []):
        with pytest.raises(ValueError):
            parse_grid(bad)
    with pytest.raises(ValueError, match="non-empty"):
        phase_diagram(GatedFactory(), {}, ["n_static"])
    with pytest.raises(ValueError, match="no points"):
        phase_diagram(GatedFactory(), {"g_h": [], "alpha_r": [1.0]}, ["n_static"])
    with pytest.raises(ValueError, match="quantities"):
        phase_diagram(GatedFactory(), {"g_h": [1.0], "alpha_r": [1.0]}, ["entropy"])


def test_zero_fp_line_and_cache(tmp_path):
    grid = {"g_h": "1:3:5", "alpha_r": "0:20:3"}
    ds = phase_diagram(GatedFactory(), grid, ["zero_fp_stable", "n_static"], cache_dir=tmp_path, progress=False)
    # zero FP stable iff g_h sigma_r(0) = g_h / 2 < 1 (exact); g_h = 2 is marginal (edge = 0)
    np.testing.assert_array_equal(ds.zero_fp_stable.sel(alpha_r=0.0).values, [1, 1, 0, 0, 0])
    assert len(list(tmp_path.glob("*.json"))) == 15
    again = phase_diagram(GatedFactory(), grid, ["zero_fp_stable", "n_static"], cache_dir=tmp_path, progress=False)
    assert again.equals(ds)
    ds.to_netcdf(tmp_path / "pd.nc", engine="h5netcdf")  # JSON-safe attrs round-trip


def test_discontinuous_static_solutions_at_large_alpha_r():
    # below g_h = 2 (zero FP stable) a pair of nonzero static solutions is born at a saddle-node
    assert len(fixed_point_dmft(GatedRNN(1.8, 0.0, 5.0), stability=False)) == 1
    sols = fixed_point_dmft(GatedRNN(1.8, 0.0, 30.0))
    assert len(sols) == 3 and sols[0].delta_h == 0 and sols[0].stable
    # the upper branch starts at a finite variance (discontinuous), far from 0
    assert sols[2].delta_h > 0.05
    # no nonzero solution for g_h < sqrt(2) however large alpha_r (<sigma_r^2> -> 1/2)
    assert len(fixed_point_dmft(GatedRNN(1.3, 0.0, 200.0), stability=False)) == 1


def test_small_delta_expansion_of_static_equation():
    # F(Δ) ≈ (g²/4 - 1)Δ + g⁴(α²/16 - 1/2)Δ²  (derived); check the Δ² coefficient at g_h = 2
    # (sign change at α_r = 2√2: the tricritical point of the notes)
    for a in (0.0, 1.0, 4.0):
        d = 1e-4
        F = static_residual(GatedRNN(2.0, 0.0, a), d)
        # O(Δ³) remainder: measured relative 0.1% (α=0) to 0.8% (α=4) at Δ = 1e-4
        assert F / d ** 2 == pytest.approx(16 * (a * a / 16 - 0.5), rel=0.02)


def test_scs_and_gru_static_solutions():
    sols = fixed_point_dmft(VanillaRNN(2.0))
    assert [s.delta_h > 0 for s in sols] == [False, True]
    assert static_residual(VanillaRNN(2.0), sols[1].delta_h) == pytest.approx(0, abs=1e-10)
    # GRU zero FP: slope of the static map at 0 is g_h^2 <r^2> = g_h^2/4 -> nonzero branch iff g_h > 2
    assert len(fixed_point_dmft(GRU(g_h=1.5), stability=False)) == 1
    assert len(fixed_point_dmft(GRU(g_h=3.0), stability=False)) == 2


@pytest.mark.slow
def test_dask_equals_serial():
    distributed = pytest.importorskip("distributed")
    grid = {"g_h": "1.5:2.5:3", "alpha_r": "0:20:3"}
    q = ["zero_fp_edge", "n_static", "delta0", "lambda_max", "converged"]
    serial = phase_diagram(GatedFactory(), grid, q, progress=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True) as cluster, \
            distributed.Client(cluster) as client:
        par = phase_diagram(GatedFactory(), grid, q, client=client)
    # same deterministic code on the same inputs: identical up to floating round-off; the
    # vectorised DMFT warm-starts each λ_max eigensolve from the previous point of its chunk
    # (ARPACK tol 1e-10), so chunking moves λ_max by up to ~1e-9
    for v in q:
        np.testing.assert_allclose(par[v].values, serial[v].values, rtol=1e-12 if v != "lambda_max" else 1e-8,
                                   atol=0 if v != "lambda_max" else 1e-10, equal_nan=True)


def _parse(argv):
    p = argparse.ArgumentParser(prog="neurolatent")
    add_theory_parser(p.add_subparsers(dest="command"))
    return p.parse_args(argv)


def test_cli_dmft_and_phase_diagram(tmp_path, capsys):
    args = _parse(["theory", "dmft", "--model", "gated", "--g-h", "3", "--alpha-r", "4", "--out", str(tmp_path / "d.nc")])
    assert args.func(args) == 0
    assert '"phase": "chaotic"' in capsys.readouterr().out
    args = _parse(["theory", "phase-diagram", "--model", "gated", "--g-h", "1:3:3", "--alpha-r", "0:20:3",
                   "--out", str(tmp_path / "pd.nc"), "--plot", str(tmp_path / "pd.png")])
    assert args.func(args) == 0
    assert (tmp_path / "pd.nc").exists() and (tmp_path / "pd.png").stat().st_size > 0


def test_cli_spectrum_and_lyapunov(tmp_path, capsys):
    args = _parse(["theory", "spectrum", "--model", "gated", "--g-h", "1.5", "--N", "60", "--state", "zero",
                   "--plot", str(tmp_path / "s.png")])
    assert args.func(args) == 0
    args = _parse(["theory", "lyapunov", "--model", "vanilla", "--g", "0.5", "--N", "20", "--T", "10", "--k", "3"])
    assert args.func(args) == 0
    assert "exponents" in capsys.readouterr().out
