"""Pruning core: masks (global / layer-wise), masks kept through training, schedule, curves, bad input."""
from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
import xarray as xr
from torch import nn

from neurolatent.methods.common import MLP, SmallCNN, make_teacher_classification, train
from neurolatent.methods.optim import FishLeg
from neurolatent.methods.sparsity import (
    FishLegSurgeon,
    MagnitudePruner,
    apply_masks,
    cubic_sparsity,
    get_masks,
    gradual_prune,
    prunable_layers,
    remove_masks,
    sparsity_curve,
    sparsity_report,
    to_torch_prune,
)


@pytest.fixture(scope="module")
def teacher():
    return make_teacher_classification(400, 8, 3, seed=0)


def _weights(net):
    return {k: m.weight.detach().clone() for k, m in prunable_layers(net).items()}


def test_global_magnitude_matches_a_numpy_threshold(seed):
    net = MLP(10, (20, 15), 4, seed=seed)
    w = _weights(net)
    masks = MagnitudePruner().prune(net, 0.7)
    allw = np.concatenate([v.abs().numpy().ravel() for v in w.values()])
    n_prune = int(round(0.7 * allw.size))
    thr = np.sort(allw)[n_prune - 1]  # continuous weights: no ties (probability 0)
    for k, v in w.items():
        np.testing.assert_array_equal(masks[k].numpy(), v.abs().numpy() > thr)
        # kept weights untouched, pruned ones zero
        torch.testing.assert_close(prunable_layers(net)[k].weight.detach(), v * masks[k])
    assert sparsity_report(net)["global"] == pytest.approx(n_prune / allw.size, abs=0)


def test_layerwise_prunes_every_layer_to_the_target(seed):
    net = SmallCNN(1, (4, 6), 3, seed=seed)
    MagnitudePruner().prune(net, 0.6, scope="layer")
    rep = sparsity_report(net)
    for k, m in prunable_layers(net).items():
        n = m.weight.numel()
        assert rep[k] == round(0.6 * n) / n  # exact count per layer (round(s n) pruned)


def test_masks_survive_training_copies_and_torch_prune(teacher, seed):
    net = MLP(8, (16,), 3, seed=seed)
    masks = MagnitudePruner().prune(net, 0.8)
    train(net, teacher, epochs=3, optimizer="sgd", lr=0.1, seed=seed)
    for k, m in prunable_layers(net).items():
        assert bool((m.weight[~masks[k]] == 0).all())  # zero after training
        assert bool((m.weight[masks[k]] != 0).all())   # the kept weights did train (nonzero)
    twin = copy.deepcopy(net)
    x = teacher.x_test
    torch.testing.assert_close(twin(x), net(x))
    train(twin, teacher, epochs=1, optimizer="adam", lr=1e-2, seed=seed)
    assert sparsity_report(twin)["global"] == round(0.8 * 176) / 176  # the copy's masks also hold (176 weights)
    before = net(x).detach()
    tp = to_torch_prune(copy.deepcopy(net))
    torch.testing.assert_close(tp(x), before)
    assert all(hasattr(m, "weight_orig") for m in prunable_layers(tp).values())
    dense = remove_masks(copy.deepcopy(net))
    torch.testing.assert_close(dense(x), before)
    assert all(bool(v.all()) for v in get_masks(dense).values())
    # removing the copy's masks leaves the original's enforcement in place
    with torch.no_grad():
        for m in prunable_layers(net).values():
            m.weight.add_(1.0)
    net(x)
    assert sparsity_report(net)["global"] == round(0.8 * 176) / 176
    assert all(bool((m.weight[~masks[k]] == 0).all()) for k, m in prunable_layers(net).items())


def test_gradual_pruning_follows_the_cubic_schedule(teacher, seed):
    # closed form of Zhu & Gupta's schedule, written out independently
    s_f, n, dt, t0 = 0.9, 4, 2, 1
    for t in range(12):
        frac = min(max(t - t0, 0) / (n * dt), 1.0)
        ref = s_f * (1 - (1 - frac) ** 3) if t >= t0 else 0.0
        assert cubic_sparsity(t, final=s_f, start=t0, n_steps=n, every=dt) == pytest.approx(ref, abs=1e-12)
    net = MLP(8, (32,), 3, seed=seed)
    h = gradual_prune(net, teacher, MagnitudePruner(), 0.9, epochs=10, start=t0, n_steps=n, every=dt, lr=1e-2)
    s = np.asarray(h["sparsity"])
    assert np.all(np.diff(s) >= -1e-12)  # masks are never undone
    assert s[-1] == pytest.approx(0.9, abs=1e-3)
    expected = [round(cubic_sparsity(t, final=s_f, start=t0, n_steps=n, every=dt) * 352) / 352 for t in range(10)]
    np.testing.assert_allclose(s, expected, atol=1e-9)  # exact counts: round(s_t * 352) of the 8*32 + 32*3 weights
    assert h["eval_accuracy"][-1] > 0.5  # 3 classes: chance ~0.33-0.45; pruned net still learns


def test_sparsity_curve_is_a_netcdf_safe_dataset(teacher, tmp_path, seed):
    net = MLP(8, (16,), 3, seed=seed)
    train(net, teacher, epochs=3, lr=1e-2, seed=seed)
    before = _weights(net)
    ds = sparsity_curve(net, teacher, "magnitude", [0.0, 0.5, 0.9])
    assert isinstance(ds, xr.Dataset) and ds.accuracy.dims == ("sparsity",)
    np.testing.assert_allclose(ds.measured_sparsity, [0.0, 0.5, 0.9], atol=1e-2)
    for k, v in _weights(net).items():  # the input model is left untouched
        torch.testing.assert_close(v, before[k])
    ds.to_netcdf(tmp_path / "c.nc")
    back = xr.load_dataset(tmp_path / "c.nc")
    xr.testing.assert_identical(back, ds)


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("bad", [-0.1, 1.0, 1.5, float("nan")])
def test_sparsity_outside_unit_interval_is_refused(bad):
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        MagnitudePruner().prune(nn.Linear(3, 3), bad)


def test_model_without_prunable_layers_names_the_types():
    model = nn.Sequential(nn.BatchNorm1d(3), nn.ReLU())
    with pytest.raises(ValueError, match="Linear.*Conv2d.*BatchNorm1d"):
        MagnitudePruner().prune(model, 0.5)


def test_bad_scope_and_method_are_refused(teacher):
    with pytest.raises(ValueError, match="scope"):
        MagnitudePruner().prune(nn.Linear(3, 3), 0.5, scope="row")
    with pytest.raises(TypeError, match="Pruner"):
        sparsity_curve(nn.Linear(8, 3), teacher, "obs", [0.5])
    with pytest.raises(KeyError, match="prunable"):
        apply_masks(nn.Linear(3, 3), {"bias": torch.ones(3, dtype=torch.bool)})


def test_unfitted_fishleg_is_an_error_not_a_magnitude_fallback():
    net = nn.Sequential(nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 3))
    fl = FishLeg(net, damping=0.1)
    w = net[0].weight.detach().clone()
    with pytest.raises(RuntimeError, match="not fitted"):
        FishLegSurgeon(fl).prune(net, 0.5)
    torch.testing.assert_close(net[0].weight.detach(), w)  # nothing was pruned
    with pytest.raises(ValueError, match="do not match"):
        fl.update_q(torch.randn(8, 4), steps=1)
        FishLegSurgeon(fl).prune(nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3)), 0.5)


def test_gradual_fishleg_surgeon_keeps_masks_under_fishleg_training(teacher, seed):
    """FishLeg updates layer.weight in place with Q-mixed gradients; the masks must still hold, and the
    surgeon refines (not re-fits) the optimiser's own Q between pruning steps."""
    net = MLP(8, (16,), 3, seed=seed)
    fl = FishLeg(net, lr=0.05, damping=0.1, aux_steps=1, warmup=5, seed=seed)
    surgeon = FishLegSurgeon(fl, x=teacher.x_train[:128], refine_steps=2)
    h = gradual_prune(net, teacher, surgeon, 0.8, epochs=5, n_steps=3, optimizer=fl)
    assert h["sparsity"][-1] == pytest.approx(round(0.8 * 176) / 176)
    for k, m in prunable_layers(net).items():
        assert bool((m.weight[~get_masks(net)[k]] == 0).all())
    assert len(fl.aux_history) > 5 + 3 * 2  # warm-up, training steps and the refinements all updated Q
    assert h["eval_accuracy"][-1] > 0.5  # 3 classes; the pruned network still learns


def test_masks_do_not_write_into_torch_func_passes(seed):
    """FishLeg's Fisher-vector products and the exact Fisher run the model under torch.func with
    substituted parameters; the mask hook must leave those alone (an in-place write there masked the
    caller's tangent through forward-mode AD, corrupting FishLeg's auxiliary loss). Reference: the same
    zeroed weights without any mask machinery."""
    from neurolatent.methods.optim import fisher_vector_product
    from neurolatent.methods.sparsity import fisher_blocks

    net = nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 3)).double()
    MagnitudePruner().prune(net, 0.5)
    plain = remove_masks(copy.deepcopy(net))
    x = torch.randn(16, 5, dtype=torch.float64)
    v = {k: torch.randn_like(p) for k, p in net.named_parameters()}
    v_copy = {k: t.clone() for k, t in v.items()}
    ref = fisher_vector_product(plain, x, v_copy)
    got = fisher_vector_product(net, x, v)
    for k in ref:
        torch.testing.assert_close(v[k], v_copy[k], rtol=0, atol=0)  # the caller's tangent is not masked in place
        torch.testing.assert_close(got[k], ref[k], rtol=1e-12, atol=1e-14)  # same float64 computation
    torch.testing.assert_close(fisher_blocks(net, x, block="full")[0], fisher_blocks(plain, x, block="full")[0])
