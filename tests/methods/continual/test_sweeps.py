"""forgetting_sweep: grid layout, matched parameter counts, mechanisms against references, errors, Dask."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from neurolatent.methods.common import MLP, make_teacher_classification, permuted_tasks
from neurolatent.methods.continual import run
from neurolatent.methods.continual.sweeps import forgetting_sweep, mlp_parameter_count, width_for_parameters


@pytest.fixture(scope="module")
def tasks():
    return permuted_tasks(make_teacher_classification(240, 6, 3, seed=0), 3, seed=1)


@pytest.fixture(scope="module")
def sweep(tasks):
    return forgetting_sweep(tasks, widths=[4, 12], depths=[1, 2], batchnorm=[False, True], seeds=[0],
                            epochs=1, progress=False)


def test_grid_layout_and_summaries(sweep, tasks):
    assert dict(sweep.accuracy.sizes) == {"width": 2, "depth": 2, "batchnorm": 2, "seed": 1, "after_task": 3,
                                         "on_task": 3}
    assert sweep.batchnorm.values.tolist() == [False, True]
    acc = sweep.accuracy.values
    assert np.all((acc >= 0) & (acc <= 1))
    # forgetting from the matrix itself: max over the rows before the last minus the last row
    ref = acc[..., :-1, :-1].max(-2) - acc[..., -1, :-1]
    np.testing.assert_allclose(sweep.forgetting.values[..., :-1], ref, atol=1e-12)  # same arithmetic
    assert np.isnan(sweep.forgetting.values[..., -1]).all()
    assert np.isnan(sweep.gradient_cosine.values[..., -1]).all()  # no next task after the last
    assert np.all(np.abs(sweep.gradient_cosine.values[..., :-1]) <= 1)
    for w, d, bn in [(4, 1, False), (12, 2, True)]:
        n = int(sweep.n_params.sel(width=w, depth=d, batchnorm=bn, seed=0))
        assert n == mlp_parameter_count(6, w, d, 3, batchnorm=bn)
        assert n == sum(p.numel() for p in MLP(6, (w,) * d, 3, batchnorm=bn).parameters())
    assert list(sweep.task_name.values) == [t.name for t in tasks]


def test_netcdf_round_trip(sweep, tmp_path):
    import xarray as xr

    sweep.to_netcdf(tmp_path / "sweep.nc")
    xr.testing.assert_identical(xr.load_dataset(tmp_path / "sweep.nc"), sweep)


def test_one_point_equals_run_and_the_mechanisms_by_hand(sweep, tasks):
    # the (width 12, depth 1, no BN, seed 0) point is run(MLP(..., seed=0), tasks, "finetune", seed=0)
    net = MLP(6, (12,), 3, seed=0)
    w_prev = [net.blocks[0].layer.weight.detach().clone(), net.blocks[1].linear.weight.detach().clone()]
    rec = {}

    def cb(state):
        m, k = state["model"], state["task"]
        w = [m.blocks[0].layer.weight.detach().clone(), m.blocks[1].linear.weight.detach().clone()]
        rec.setdefault("change", []).append(
            math.sqrt(sum(float((a - b).square().sum()) for a, b in zip(w, w_prev))) /
            math.sqrt(sum(float(b.square().sum()) for b in w_prev)))
        w_prev[:] = w
        with torch.no_grad():
            h = torch.relu(m.blocks[0].layer(tasks[k].x_test))
        rec.setdefault("active", []).append(float((h > 0).float().mean()))
        if k < 2:
            gs = []
            for t in (tasks[k], tasks[k + 1]):
                ps = list(m.parameters())
                gs.append(torch.cat([g.reshape(-1) for g in torch.autograd.grad(
                    F.cross_entropy(m(t.x_train), t.y_train), ps)]))
            rec.setdefault("cos", []).append(float(gs[0] @ gs[1] / (gs[0].norm() * gs[1].norm())))

    res = run(net, tasks, "finetune", epochs=1, seed=0, progress=False, callback=cb)
    pt = sweep.sel(width=12, depth=1, batchnorm=False, seed=0)
    np.testing.assert_array_equal(pt.accuracy.values, res.accuracy.values)  # the same seeded computation
    # float32 reductions in a different order: 1e-5 relative
    np.testing.assert_allclose(pt.weight_change.values, rec["change"], rtol=1e-5)
    np.testing.assert_allclose(pt.active_fraction.values, rec["active"], rtol=1e-6)
    np.testing.assert_allclose(pt.gradient_cosine.values[:2], rec["cos"], rtol=1e-4, atol=1e-6)


def test_matched_parameter_counts(tasks):
    for depth in (1, 2, 3, 5):
        w = width_for_parameters(5000, 64, depth, 10)
        n = mlp_parameter_count(64, w, depth, 10)
        # the best integer width: neighbours are no closer
        assert abs(n - 5000) <= min(abs(mlp_parameter_count(64, v, depth, 10) - 5000) for v in (w - 1, w + 1))
        assert abs(n - 5000) <= 0.05 * 5000
    ds = forgetting_sweep(tasks, n_params=400, depths=[1, 2], epochs=1, progress=False)
    assert ds.width.values.tolist() == [400]
    used = ds.width_used.squeeze().values
    assert np.all(np.abs(ds.n_params.values - 400) <= 0.05 * 400) and used[0] > used[1]
    with pytest.raises(ValueError, match="no width matches n_params=53 at depth 4"):
        forgetting_sweep(tasks, n_params=53, depths=[1, 4], progress=False)


def test_errors_name_the_input(tasks):
    with pytest.raises(ValueError, match="grid is empty: depths"):
        forgetting_sweep(tasks, widths=[4], depths=[], progress=False)
    with pytest.raises(ValueError, match="grid is empty: widths"):
        forgetting_sweep(tasks, widths=[], progress=False)
    with pytest.raises(ValueError, match="grid is empty: seeds"):
        forgetting_sweep(tasks, widths=[4], seeds=[], progress=False)
    with pytest.raises(ValueError, match="exactly one of widths"):
        forgetting_sweep(tasks, widths=[4], n_params=100, progress=False)
    with pytest.raises(ValueError, match="exactly one of widths"):
        forgetting_sweep(tasks, progress=False)
    with pytest.raises(ValueError, match="positive integers"):
        forgetting_sweep(tasks, widths=[0, 4], progress=False)
    with pytest.raises(ValueError, match="repeated"):
        forgetting_sweep(tasks, widths=[4, 4], progress=False)
    with pytest.raises(ValueError, match="tasks is empty"):
        forgetting_sweep([], widths=[4], progress=False)


@pytest.mark.slow
def test_dask_equals_serial(tasks):
    distributed = pytest.importorskip("distributed", reason="the Dask route needs distributed")
    kw = dict(widths=[4, 8], depths=[1, 2], seeds=[0], epochs=1, progress=False)
    serial = forgetting_sweep(tasks, **kw)
    # in-process workers: the client.map / gather route without paying for two fresh torch imports (~45 s here)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as c, \
            distributed.Client(c) as client:
        par = forgetting_sweep(tasks, client=client, **kw)
    # the same seeded computations, gathered in grid order: identical up to float32 round-off
    for v in ("accuracy", "weight_change", "gradient_cosine", "active_fraction", "n_params"):
        np.testing.assert_allclose(par[v].values, serial[v].values, rtol=1e-6, equal_nan=True)


# ----------------------------------------------------------------------------- claims (Mirzadeh et al. 2022)
@pytest.fixture(scope="module")
def rotated_studies():
    """Fine-tuning on rotated digits (0, 45, 90 degrees), SGD lr 0.05, 5 epochs per task, seeds 0-2:
    widths 16 and 256 at depth 1, and depths 1 and 4 at 20,000 parameters."""
    from neurolatent.methods.common import load_digits, rotated_tasks

    rot = rotated_tasks(load_digits(seed=0), [0, 45, 90], image_shape=(1, 8, 8))
    kw = dict(seeds=[0, 1, 2], epochs=5, lr=0.05, optimizer="sgd", progress=False)
    return (forgetting_sweep(rot, widths=[16, 256], depths=[1], **kw),
            forgetting_sweep(rot, n_params=20_000, depths=[1, 4], **kw))


@pytest.mark.slow
def test_wider_networks_move_less_and_forget_less(rotated_studies):
    by_width = rotated_studies[0].squeeze(["depth", "batchnorm"])
    change = by_width.weight_change.isel(after_task=slice(1, None)).mean("after_task")
    # measured relative weight change per task (tasks 1, 2; seeds 0-2): width 16 0.728 0.722 0.755,
    # width 256 0.542 0.541 0.544 (ratio ~0.74); asserted: below 0.85x, per seed
    assert np.all(change.sel(width=256).values < 0.85 * change.sel(width=16).values), change.values
    forg = by_width.average_forgetting
    # measured forgetting: width 16 0.638 0.708 0.688 (mean 0.678), width 256 0.600 0.622 0.630 (0.617);
    # lower for every seed, asserted on the seed mean (the paper's claim is about the average)
    assert float(forg.sel(width=256).mean()) < float(forg.sel(width=16).mean()), forg.values


@pytest.mark.slow
def test_depth_does_not_help_at_matched_parameters(rotated_studies):
    by_depth = rotated_studies[1].squeeze(["width", "batchnorm"])
    acc = by_depth.average_accuracy.mean("seed")
    # measured final average accuracy (seeds 0-2): depth 1 (width 267) 0.557 0.525 0.532 (mean 0.538),
    # depth 4 (width 70) 0.524 0.517 0.542 (0.528); its lower forgetting (0.56 vs 0.64) comes with less
    # learnt per task (0.90 vs 0.96). "Does not help": not better by more than 0.02 (seed spread ~0.02)
    assert float(acc.sel(depth=4)) <= float(acc.sel(depth=1)) + 0.02, acc.values


@pytest.mark.slow
@pytest.mark.xfail(strict=False, reason="on permuted digits forgetting is not monotone in width at this scale: "
                   "benchmarks/forgetting_width.py measured 0.571, 0.471, 0.478, 0.544 at widths 16, 64, 256, 1024 "
                   "(mean of seeds 0-2; the width-1024 net reaches a higher accuracy and loses more of it), while "
                   "the relative weight change does fall, 0.92 -> 0.47")
def test_forgetting_falls_with_width_on_permuted_digits():
    from neurolatent.methods.common import load_digits

    perm = permuted_tasks(load_digits(seed=0), 3, seed=0)
    ds = forgetting_sweep(perm, widths=[256, 1024], seeds=[0, 1, 2], epochs=5, lr=0.05, optimizer="sgd",
                          progress=False)
    forg = ds.average_forgetting.mean("seed").squeeze()
    assert float(forg.sel(width=1024)) < float(forg.sel(width=256)), forg.values
