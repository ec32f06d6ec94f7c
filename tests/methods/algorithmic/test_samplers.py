"""Samplers against independent references: networkx, ``sorted``, ``bisect``, brute force, ``str.find``."""
from __future__ import annotations

import bisect
import itertools

import numpy as np
import pytest
import torch

from neurolatent.methods.algorithmic import (
    ALGORITHMS,
    Feature,
    Spec,
    erdos_renyi,
    get_algorithm,
    lcs_from_b,
    sample_batch,
)
from neurolatent.methods.algorithmic.base import pred_to_order

nx = pytest.importorskip("networkx", reason="networkx (extra `methods`) is the graph reference")

SIZES = (1, 2, 5, 12, 20)
N_GRAPHS = 15  # per size: 75 random problems per algorithm, a few hundred ms each test


def _problems(name, seed=0):
    algo = get_algorithm(name)
    rng = np.random.default_rng(seed)
    for n in SIZES:
        if n < algo.min_nodes:
            continue
        for _ in range(N_GRAPHS):
            yield algo.trajectory(rng, n)


def _graph(A, directed):
    G = nx.DiGraph() if directed else nx.Graph()
    G.add_nodes_from(range(A.shape[0]))
    for i, j in zip(*np.nonzero(A)):  # row-major: neighbours inserted in increasing index order
        if directed or i < j:
            G.add_edge(int(i), int(j), weight=float(A[i, j]))
    return G


def test_bfs_distances_and_predecessors_match_networkx():
    for tr in _problems("bfs"):
        G, s, pi = _graph(tr.inputs["A"], False), int(tr.inputs["s"]), tr.outputs["pi"]
        dist = nx.single_source_shortest_path_length(G, s)
        for j in range(tr.n_nodes):
            if j == s or j not in dist:
                assert pi[j] == j
            else:  # the smallest-index neighbour one level closer (CLRS tie rule)
                expect = min(i for i in G.neighbors(j) if dist.get(i) == dist[j] - 1)
                assert pi[j] == expect
        assert tr.hints["reach_h"][-1].sum() == len(dist)
        assert tr.length == max(dist.values()) + 1  # one frame per BFS level


def test_dfs_predecessors_match_networkx():
    for tr in _problems("dfs"):
        G = _graph(tr.inputs["A"], True)
        preds = nx.dfs_predecessors(G)
        expect = np.array([preds.get(j, j) for j in range(tr.n_nodes)])
        np.testing.assert_array_equal(tr.outputs["pi"], expect)
        assert tr.length == 2 * tr.n_nodes + 1
        assert (tr.hints["color"][-1] == 2).all()


def test_bellman_ford_tree_matches_dijkstra():
    for tr in _problems("bellman_ford"):
        G, s, pi = _graph(tr.inputs["A"], False), int(tr.inputs["s"]), tr.outputs["pi"]
        preds, dist = nx.dijkstra_predecessor_and_distance(G, s)
        for j in range(tr.n_nodes):
            expect = preds[j][0] if preds.get(j) else j  # unique with continuous weights
            assert pi[j] == expect
        known = tr.hints["msk"][-1] > 0
        d = tr.hints["d"][-1]
        for j, dj in dist.items():
            assert known[j]
            assert d[j] == pytest.approx(dj, rel=1e-12)  # same float sums up to association order


def test_prim_tree_is_the_minimum_spanning_tree_of_the_start_component():
    for tr in _problems("mst_prim"):
        A, s, pi = tr.inputs["A"], int(tr.inputs["s"]), tr.outputs["pi"]
        G = _graph(A, False)
        comp = G.subgraph(nx.node_connected_component(G, s))
        mst = nx.minimum_spanning_tree(comp)
        ours = {frozenset((j, int(pi[j]))) for j in range(tr.n_nodes) if pi[j] != j}
        assert ours == {frozenset(e) for e in mst.edges()}  # unique MST: distinct continuous weights
        weight = sum(A[j, pi[j]] for j in range(tr.n_nodes) if pi[j] != j)
        assert weight == pytest.approx(mst.size(weight="weight"), rel=1e-12)


@pytest.mark.parametrize("name", ["insertion_sort", "bubble_sort"])
def test_sorts_match_sorted(name):
    for tr in _problems(name):
        key = tr.inputs["key"]
        order = pred_to_order(tr.outputs["pred"])
        assert [key[i] for i in order] == sorted(key)
        np.testing.assert_array_equal(tr.hints["pred_h"][-1], tr.outputs["pred"])


def test_binary_search_matches_bisect():
    for tr in _problems("binary_search"):
        key, target = list(tr.inputs["key"]), float(tr.inputs["target"])
        assert tr.outputs["return"] == min(bisect.bisect_left(key, target), len(key) - 1)
        assert tr.length <= int(np.ceil(np.log2(len(key)))) + 1


def _lcs_brute_force(x, y):
    for k in range(min(len(x), len(y)), 0, -1):
        subs = set(itertools.combinations(x, k))
        if any(c in subs for c in itertools.combinations(y, k)):
            return k
    return 0


def _is_subsequence(sub, s):
    it = iter(s)
    return all(ch in it for ch in sub)


def test_lcs_table_gives_a_longest_common_subsequence():
    for tr in _problems("lcs_length"):
        key, string = tr.inputs["key"], tr.inputs["string"]
        x, y = list(key[string == 0]), list(key[string == 1])
        lcs = lcs_from_b(tr.outputs["b"], string, key)
        assert len(lcs) == _lcs_brute_force(x, y)
        assert _is_subsequence(lcs, x) and _is_subsequence(lcs, y)
        block = np.zeros_like(tr.outputs["b"], dtype=bool)
        block[np.ix_(string == 0, string == 1)] = True
        assert (tr.outputs["b"][block] >= 0).all() and (tr.outputs["b"][~block] == -1).all()


def test_naive_string_matcher_matches_str_find():
    for tr in _problems("naive_string_matcher"):
        key, string = tr.inputs["key"], tr.inputs["string"]
        hay = "".join("abcd"[c] for c in key[string == 0])
        needle = "".join("abcd"[c] for c in key[string == 1])
        assert int(tr.outputs["match"]) == hay.find(needle) >= 0


def test_unknown_algorithm_lists_the_known_ones():
    with pytest.raises(ValueError, match="known algorithms: .*bfs.*"):
        sample_batch("quicksort", 2, 8)


@pytest.mark.parametrize("name", sorted(ALGORITHMS))
def test_graphs_with_no_nodes_raise(name):
    with pytest.raises(ValueError, match="no nodes"):
        sample_batch(name, 2, 0)


def test_erdos_renyi_edge_density_and_symmetry():
    rng = np.random.default_rng(0)
    A = erdos_renyi(rng, 200, 0.3)
    assert (A == A.T).all() and (np.diag(A) == 0).all()
    # 19900 Bernoulli(0.3) pairs: sd of the density 0.0032, 5 sd tolerance
    assert abs((A > 0).sum() / (200 * 199) - 0.3) < 0.017
    with pytest.raises(ValueError, match="no nodes"):
        erdos_renyi(rng, 0)


def test_batch_shapes_padding_dtype_and_xarray_roundtrip(tmp_path):
    b = sample_batch("bfs", 6, 10, seed=3, dtype=torch.float64)
    T = b.max_length
    assert b.inputs["A"].dtype == torch.float64 and b.outputs["pi"].dtype == torch.int64
    assert b.hints["reach_h"].shape == (6, T, 10) and b.hints["pi_h"].shape == (6, T, 10)
    for g in range(6):  # padding repeats the last real frame
        L = int(b.lengths[g])
        assert torch.equal(b.hints["pi_h"][g, L - 1:], b.hints["pi_h"][g, L - 1].expand(T - L + 1, 10))
    assert torch.equal(b.hints["pi_h"][torch.arange(6), b.lengths - 1], b.outputs["pi"])
    ds = b.to_xarray()
    assert ds["pi"].attrs == {"stage": "output", "location": "node", "type": "pointer"}
    path = tmp_path / "bfs.nc"
    ds.to_netcdf(path)
    import xarray as xr
    back = xr.load_dataset(path)
    np.testing.assert_array_equal(back["A"].values, ds["A"].values)
    assert back.attrs["algorithm"] == "bfs"


def test_same_seed_same_batch():
    a, b = sample_batch("dfs", 3, 9, seed=7), sample_batch("dfs", 3, 9, seed=7)
    assert all(torch.equal(a.hints[k], b.hints[k]) for k in a.hints)


def test_spec_validation_messages():
    with pytest.raises(ValueError, match="edge feature cannot have type 'pointer'"):
        Feature("x", "input", "edge", "pointer")
    with pytest.raises(ValueError, match="n_classes is required"):
        Feature("c", "hint", "node", "categorical")
    with pytest.raises(ValueError, match="at least one output"):
        Spec([Feature("x", "input", "node", "scalar")])
