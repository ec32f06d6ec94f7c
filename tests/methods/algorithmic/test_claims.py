"""The family's claims at test scale (the full table is in benchmarks/algorithmic.py).

Recipe shared by the tests: EncodeProcessDecode (hidden 16), Adam (lr 1e-2), batch 8, a fixed training set of
200 trajectories at 16 nodes, teacher forcing 0.5, seed 0; scores are the CLRS output metric with
the model's own hints fed back, on fresh seeded problems.
"""
from __future__ import annotations

import pytest
import torch

from neurolatent.methods.algorithmic import EncodeProcessDecode, evaluate_model, fit, get_algorithm


def _trained(name, *, use_hints=True, steps=50, lr=1e-2, hidden=16, batch_size=8, seed=0):
    algo = get_algorithm(name)
    torch.manual_seed(seed)
    model = EncodeProcessDecode(algo.spec, hidden=hidden, use_hints=use_hints)
    fit(model, algo, n_nodes=16, steps=steps, batch_size=batch_size, n_train=200, lr=lr, teacher_forcing=0.5, seed=seed)
    return model


@pytest.fixture(scope="module")
def bfs_model():
    torch.set_num_threads(1)
    return _trained("bfs")


def test_bfs_in_distribution_node_accuracy_at_least_95_percent(bfs_model):
    res = evaluate_model(bfs_model, "bfs", n_nodes=16, n_samples=64, seed=11)
    # claim: >= 95 % of predecessor pointers right at the training size; measured 0.988 (hidden 16,
    # 50 steps of batch 8); an untrained model scores ~0.1
    assert res["pi"] >= 0.95, res


def test_bfs_generalises_to_four_times_larger_graphs(bfs_model):
    res = evaluate_model(bfs_model, "bfs", n_nodes=64, n_samples=32, seed=12)
    # CLRS: BFS is among the algorithms an MPNN executes out of distribution (99.7 % in the paper);
    # measured here 0.984 at 64 nodes after training at 16; 0.9 leaves room for seed noise
    assert res["pi"] >= 0.9, res


@pytest.mark.slow
def test_hints_speed_up_learning_bfs(bfs_model):
    no_hints = _trained("bfs", use_hints=False)
    with_h = evaluate_model(bfs_model, "bfs", n_nodes=16, n_samples=64, seed=11)["pi"]
    without = evaluate_model(no_hints, "bfs", n_nodes=16, n_samples=64, seed=11)["pi"]
    # at an equal, small budget (50 steps) the per-step hint supervision makes BFS learnable sooner;
    # measured 0.988 with hints vs 0.749 without (at 150 steps of batch 16 both reach 0.98+, see
    # benchmarks/algorithmic.py)
    assert with_h >= without + 0.1, (with_h, without)


@pytest.mark.slow
def test_binary_search_has_an_out_of_distribution_gap():
    model = _trained("binary_search", use_hints=False, steps=100, batch_size=16)
    ind = evaluate_model(model, "binary_search", n_nodes=16, n_samples=32, seed=13)["return"]
    ood = evaluate_model(model, "binary_search", n_nodes=64, n_samples=32, seed=14)["return"]
    print(f"binary search: in-distribution {ind:.3f}, out-of-distribution {ood:.3f}")
    # the benchmark's headline phenomenon: a clear drop from 16 to 64 nodes; measured here 0.72 vs
    # 0.09 (seed 0; 0.59 vs 0.00 with 500 training problems, seeds 0 and 1); insertion sort shows it
    # too (0.52 vs 0.05 in benchmarks/algorithmic.py) but needs more training than a test can afford
    assert ind - ood >= 0.3, (ind, ood)
