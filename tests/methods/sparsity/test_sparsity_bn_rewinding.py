"""BatchNorm-only training and IMP with rewinding: mechanics (quick)."""
from __future__ import annotations

import copy

import pytest
import torch
from torch import nn

from neurolatent.methods.common import MLP, make_teacher_classification, train
from neurolatent.methods.sparsity import (
    MagnitudePruner,
    freeze_all_but_batchnorm,
    gamma_near_zero,
    get_masks,
    imp,
    perturb_weights,
    prunable_layers,
    random_parameter_subset,
)


@pytest.fixture(scope="module")
def teacher():
    return make_teacher_classification(300, 8, 3, seed=0)


def test_batchnorm_only_trains_only_gamma_and_beta(teacher, seed):
    net = MLP(8, (16, 16), 3, batchnorm=True, seed=seed)
    init = copy.deepcopy(net.state_dict())
    params = freeze_all_but_batchnorm(net)
    assert sum(p.numel() for p in params) == 2 * (16 + 16)
    train(net, teacher, params=params, epochs=2, lr=1e-2, seed=seed)
    for k, v in net.state_dict().items():
        if ".norm." in k and k.endswith(("weight", "bias")):
            assert not torch.equal(v, init[k]), k  # gamma, beta moved
        elif ".norm." not in k:
            assert torch.equal(v, init[k]), k  # every weight and bias still at initialisation


def test_random_subset_trains_exactly_n_entries(teacher, seed):
    net = MLP(8, (16, 16), 3, batchnorm=True, seed=seed)
    init = {k: v.clone() for k, v in net.named_parameters()}
    params = random_parameter_subset(net, 40, seed=seed)
    train(net, teacher, params=params, epochs=2, lr=1e-2, seed=seed)  # Adam, no weight decay
    changed = sum(int((p.detach() != init[k]).sum()) for k, p in net.named_parameters())
    assert changed == 40  # all chosen entries move (probability-one under Adam), nothing else
    for k, p in net.named_parameters():
        if ".norm." in k:
            assert torch.equal(p.detach(), init[k])
    with pytest.raises(ValueError, match="n must lie"):
        random_parameter_subset(MLP(8, (4,), 3, batchnorm=True), 10 ** 6)


def test_no_batchnorm_is_a_clear_error():
    with pytest.raises(ValueError, match="no affine BatchNorm.*batchnorm=True"):
        freeze_all_but_batchnorm(MLP(4, (4,), 2))
    net = MLP(4, (8,), 2, batchnorm=True, seed=0)
    with torch.no_grad():
        net.blocks[0].norm.weight[:2] = 0.01
    assert gamma_near_zero(net, 0.05) == 2 / 8


def test_imp_sparsity_and_rewind_point(teacher, seed):
    make = lambda: MLP(8, (16,), 3, seed=seed)  # noqa: E731
    res0 = imp(make(), teacher, rounds=2, prune_fraction=0.5, rewind_epoch=0, epochs=3, seed=seed)
    assert res0.sparsity == [0.0, pytest.approx(0.5, abs=0.01), pytest.approx(0.75, abs=0.01)]
    for k, v in make().state_dict().items():  # k = 0 rewinds to the initialisation itself
        assert torch.equal(res0.rewind_state[k], v)
    res2 = imp(make(), teacher, rounds=1, prune_fraction=0.5, rewind_epoch=2, epochs=3, seed=seed)
    ref = make()
    train(ref, teacher, epochs=2, seed=seed)  # the same recipe stopped after 2 epochs
    for k, v in ref.state_dict().items():
        torch.testing.assert_close(res2.rewind_state[k], v, rtol=0, atol=0)
    # the final network keeps its mask
    for name, m in prunable_layers(res2.model).items():
        assert bool((m.weight[~res2.masks[name]] == 0).all())
    with pytest.raises(ValueError, match="rewind_epoch"):
        imp(make(), teacher, rounds=1, rewind_epoch=3, epochs=3)


def test_perturbations_keep_what_they_promise(seed):
    net, fresh = MLP(6, (10,), 3, seed=seed), MLP(6, (10,), 3, seed=seed + 1)
    masks = MagnitudePruner().prune(copy.deepcopy(net), 0.5)
    w = {k: m.weight.detach().clone() for k, m in prunable_layers(net).items()}
    fw = {k: m.weight.detach().clone() for k, m in prunable_layers(fresh).items()}
    a = perturb_weights(copy.deepcopy(net), "reinit_keep_signs", init=fresh)
    b = perturb_weights(copy.deepcopy(net), "random_signs", seed=seed)
    c = perturb_weights(copy.deepcopy(net), "shuffle", masks=masks, seed=seed)
    for k in w:
        wa, wb, wc = (prunable_layers(x)[k].weight.detach() for x in (a, b, c))
        assert torch.equal(torch.sign(wa), torch.sign(w[k])) and torch.equal(wa.abs(), fw[k].abs())
        assert torch.equal(wb.abs(), w[k].abs()) and 0.2 < float((torch.sign(wb) != torch.sign(w[k])).float().mean()) < 0.8
        kept = masks[k]
        assert torch.equal(wc[~kept], w[k][~kept])  # pruned positions untouched
        assert torch.equal(wc[kept].sort().values, w[k][kept].sort().values)  # same values, permuted
        assert not torch.equal(wc[kept], w[k][kept])
    with pytest.raises(ValueError, match="perturbation must be one of"):
        perturb_weights(net, "flip")
    with pytest.raises(ValueError, match="init="):
        perturb_weights(net, "reinit")
    assert all(bool(v.all()) for v in get_masks(net).values())
