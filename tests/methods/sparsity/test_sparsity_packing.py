"""PackNet with Powerpropagation (a mask per task at fixed capacity): mechanics (quick)."""
from __future__ import annotations

import copy

import pytest
import torch

from neurolatent.methods.common import MLP, evaluate, make_teacher_classification, permuted_tasks
from neurolatent.methods.sparsity import pack_tasks, powerpropagate, prunable_layers, remove_powerprop, task_network


@pytest.fixture(scope="module")
def stream():
    return permuted_tasks(make_teacher_classification(400, 8, 3, seed=0), 3, seed=0)


@pytest.mark.parametrize("alpha", [1.0, 2.0])
def test_earlier_tasks_are_frozen_bit_identically(stream, seed, alpha):
    views = []

    def keep(state):
        views.append({k: v.clone() for k, v in task_network(state["model"], state["owners"], 0).state_dict().items()})

    res = pack_tasks(MLP(8, (32,), 3, seed=seed), stream, alpha=alpha, capacity=0.3, epochs=3, finetune_epochs=1,
                     seed=seed, callback=keep)
    assert len(views) == 3
    for later in views[1:]:  # task 0's network after tasks 1 and 2: every weight and bias unchanged
        for k, v in views[0].items():
            assert torch.equal(later[k], v), k
    acc = res.results.accuracy.values
    assert acc[1, 0] == acc[0, 0] == acc[2, 0]  # same network, same data: exactly the same accuracy
    assert acc[2, 1] == acc[1, 1]
    assert float(res.results.average_forgetting) == 0.0
    # the final views are those the accuracy matrix used
    for j, task in enumerate(stream):
        assert evaluate(task_network(res.model, res.owners, j), task.x_test, task.y_test)["accuracy"] == acc[2, j]


def test_ownership_is_disjoint_at_fixed_capacity(stream, seed):
    res = pack_tasks(MLP(8, (32,), 3, seed=seed), stream, alpha=2.0, capacity=0.25, epochs=2, seed=seed)
    total = sum(o.numel() for o in res.owners.values())
    counts = [sum(int((o == t).sum()) for o in res.owners.values()) for t in range(3)]
    # round(0.25 * P) entries per task (P = 8*32 + 32*3 = 352 -> 88), disjoint by construction of the int labels
    assert counts == [88, 88, 88] and total == 352
    assert res.results.share.values.tolist() == [c / total for c in counts]
    # task 0's view keeps exactly its own entries non-zero (a trained weight is zero with probability 0)
    view = task_network(res.model, res.owners, 0)
    for k, m in prunable_layers(view).items():
        assert torch.equal(m.weight != 0, res.owners[k] == 0), k
    # task 2's view holds the entries of tasks 0-2 and nothing else (the 25 % never assigned are zero)
    view2 = task_network(res.model, res.owners, 2)
    for k, m in prunable_layers(view2).items():
        assert torch.equal(m.weight != 0, res.owners[k] >= 0), k


def test_remove_powerprop_on_a_copy_leaves_the_original_intact(seed):
    net = powerpropagate(MLP(5, (4,), 2, seed=seed), 3.0)
    x = torch.randn(6, 5, generator=torch.Generator().manual_seed(seed))
    y0 = net(x)
    plain = remove_powerprop(copy.deepcopy(net))
    torch.testing.assert_close(plain(x), y0, rtol=0, atol=0)  # folding does not change the function
    assert not hasattr(plain.blocks[0].layer, "parametrizations")
    torch.testing.assert_close(net(x), y0, rtol=0, atol=0)  # the original still computes (and is parametrised)
    assert hasattr(net.blocks[0].layer, "parametrizations")


def test_pack_tasks_bad_input(stream):
    with pytest.raises(ValueError, match="capacity \\* len\\(tasks\\) <= 1"):
        pack_tasks(MLP(8, (8,), 3), stream, capacity=0.5)
    with pytest.raises(ValueError, match="BatchNorm"):
        pack_tasks(MLP(8, (8,), 3, batchnorm=True), stream)
    with pytest.raises(ValueError, match="alpha must be finite and > 0"):
        pack_tasks(MLP(8, (8,), 3), stream, alpha=0.0)
    with pytest.raises(ValueError, match="non-empty sequence"):
        pack_tasks(MLP(8, (8,), 3), [])
    decaying = lambda params: torch.optim.AdamW(params, lr=1e-3, weight_decay=0.1)  # noqa: E731
    with pytest.raises(RuntimeError, match="moved frozen weights"):
        pack_tasks(MLP(8, (8,), 3, seed=0), stream, capacity=0.3, epochs=1, optimizer=decaying)
