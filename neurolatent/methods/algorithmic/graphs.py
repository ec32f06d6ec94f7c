"""Graph algorithms with hints: BFS, DFS, Bellman-Ford and Prim's minimum spanning tree.

Graphs are dense adjacency matrices drawn as Erdős–Rényi graphs; as in the CLRS samplers
(Veličković et al. 2022), each graph draws its edge probability from
``p in (0.1, 0.2, ..., 0.9)`` and weighted graphs carry uniform ``[0, 1)`` weights. Every graph
algorithm has the inputs ``pos`` (node scalar ``i / n``), ``A`` (edge scalar: the weights, or the
adjacency for unweighted graphs) and ``adj`` (edge mask), and a start node ``s`` (node mask_one)
where the algorithm has one. The outputs are predecessor pointers ``pi`` (a node that is a root or
unreached points to itself).

Hint frames follow the CLRS algorithms, except that DFS records a frame per discovery and per
finish rather than per edge inspection, to keep its trajectories ``O(n)`` long.
"""
from __future__ import annotations

import numpy as np

from .base import Algorithm, positions, register
from .specs import Feature, Spec

__all__ = ["ER_PROBABILITIES", "erdos_renyi", "BFS", "DFS", "BellmanFord", "Prim"]

ER_PROBABILITIES = (0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9)


def erdos_renyi(rng: np.random.Generator, n_nodes: int, p: float | None = None, *, directed: bool = False,
                weighted: bool = False) -> np.ndarray:
    """A dense Erdős–Rényi adjacency (no self-loops) with edge probability ``p``.

    Parameters
    ----------
    rng : numpy.random.Generator
    n_nodes : int
        Must be >= 1.
    p : float, optional
        Edge probability; default: drawn uniformly from :data:`ER_PROBABILITIES`.
    directed : bool
        If False the matrix is symmetric.
    weighted : bool
        If True, entries of present edges are uniform on ``[0, 1)`` (symmetric when undirected),
        else 1.

    Returns
    -------
    ndarray, shape (n_nodes, n_nodes), float64
        ``A[i, j] > 0`` iff the edge ``i -> j`` exists.

    Examples
    --------
    >>> A = erdos_renyi(np.random.default_rng(0), 5, 0.5)
    >>> bool((A == A.T).all()), A.shape
    (True, (5, 5))
    """
    if n_nodes < 1:
        raise ValueError(f"erdos_renyi: cannot build a graph with no nodes (n_nodes={n_nodes}); use n_nodes >= 1")
    if p is None:
        p = float(rng.choice(ER_PROBABILITIES))
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"erdos_renyi: p must be a probability in [0, 1], got {p}")
    edges = rng.random((n_nodes, n_nodes)) < p
    weights = rng.uniform(0.0, 1.0, (n_nodes, n_nodes)) if weighted else np.ones((n_nodes, n_nodes))
    if not directed:
        edges = np.triu(edges, 1)
        edges = edges | edges.T
        weights = np.triu(weights, 1)
        weights = weights + weights.T
    np.fill_diagonal(edges, False)
    # a zero weight would hide an edge behind A > 0: nudge it (probability ~0 anyway)
    return np.where(edges, np.maximum(weights, 1e-6), 0.0)


def _graph_features(start: bool, extra_hints: list[Feature], outputs: list[Feature]) -> Spec:
    inputs = [Feature("pos", "input", "node", "scalar")]
    if start:
        inputs.append(Feature("s", "input", "node", "mask_one"))
    inputs += [Feature("A", "input", "edge", "scalar"), Feature("adj", "input", "edge", "mask")]
    return Spec(inputs + extra_hints + outputs)


class _GraphAlgorithm(Algorithm):
    directed = False
    weighted = False
    has_start = True

    def sample(self, rng, n_nodes):
        A = erdos_renyi(rng, n_nodes, directed=self.directed, weighted=self.weighted)
        inputs = {"pos": positions(n_nodes), "A": A, "adj": (A > 0).astype(np.float64)}
        if self.has_start:
            inputs["s"] = np.int64(rng.integers(n_nodes))
        return inputs


class BFS(_GraphAlgorithm):
    """Breadth-first search from ``s`` on an undirected graph (all frontier nodes expand in parallel).

    Hints per level: ``reach_h`` (node mask, reached so far), ``pi_h`` (node pointer). A node
    reached at level ``d`` gets as predecessor the *smallest-index* neighbour reached at level
    ``d - 1`` (the CLRS tie rule). Output: ``pi``.
    """

    name = "bfs"
    spec = _graph_features(True, [Feature("reach_h", "hint", "node", "mask"), Feature("pi_h", "hint", "node", "pointer")],
                           [Feature("pi", "output", "node", "pointer")])

    def run(self, inputs):
        adj = inputs["adj"] > 0
        n, s = adj.shape[0], int(inputs["s"])
        reach = np.zeros(n)
        reach[s] = 1.0
        pi = np.arange(n)
        frames = [{"reach_h": reach.copy(), "pi_h": pi.copy()}]
        while True:
            prev = reach > 0
            new = ~prev & (adj & prev[:, None]).any(0)
            if not new.any():
                break
            for j in np.flatnonzero(new):
                pi[j] = int(np.flatnonzero(adj[:, j] & prev)[0])
            reach[new] = 1.0
            frames.append({"reach_h": reach.copy(), "pi_h": pi.copy()})
        return frames, {"pi": pi}


class DFS(_GraphAlgorithm):
    """Depth-first search over a directed graph, roots and neighbours in increasing index order.

    Hints: ``pi_h`` (node pointer), ``color`` (node categorical: 0 white, 1 grey, 2 black) and
    ``u`` (node mask_one, the node just discovered or finished). One frame per discovery and per
    finish (``2n + 1`` frames), coarser than CLRS's one frame per edge inspection. Output: ``pi``
    (roots point to themselves); equal to ``networkx.dfs_predecessors`` on the same graph.
    """

    name = "dfs"
    directed = True
    has_start = False
    spec = _graph_features(False, [Feature("pi_h", "hint", "node", "pointer"),
                                   Feature("color", "hint", "node", "categorical", 3),
                                   Feature("u", "hint", "node", "mask_one")],
                           [Feature("pi", "output", "node", "pointer")])

    def run(self, inputs):
        adj = inputs["adj"] > 0
        n = adj.shape[0]
        pi, color = np.arange(n), np.zeros(n, dtype=np.int64)
        frames = [{"pi_h": pi.copy(), "color": color.copy(), "u": np.int64(0)}]

        def push(u):
            frames.append({"pi_h": pi.copy(), "color": color.copy(), "u": np.int64(u)})

        for root in range(n):
            if color[root]:
                continue
            color[root] = 1
            push(root)
            stack = [(root, iter(np.flatnonzero(adj[root])))]
            while stack:
                u, neighbours = stack[-1]
                for v in neighbours:
                    if color[v] == 0:
                        pi[v], color[v] = u, 1
                        push(v)
                        stack.append((int(v), iter(np.flatnonzero(adj[v]))))
                        break
                else:
                    color[u] = 2
                    push(u)
                    stack.pop()
        return frames, {"pi": pi}


class BellmanFord(_GraphAlgorithm):
    """Bellman-Ford single-source shortest paths on an undirected weighted graph.

    Each frame relaxes every edge once, synchronously (``d' = min(d, min_u d_u + w_uv)``), until
    nothing changes. Hints: ``pi_h`` (node pointer), ``d`` (node scalar, distance; 0 where still
    infinite) and ``msk`` (node mask, distance known). Output: ``pi``, the shortest-path tree
    (unique almost surely with continuous weights).
    """

    name = "bellman_ford"
    weighted = True
    spec = _graph_features(True, [Feature("pi_h", "hint", "node", "pointer"), Feature("d", "hint", "node", "scalar"),
                                  Feature("msk", "hint", "node", "mask")],
                           [Feature("pi", "output", "node", "pointer")])

    def run(self, inputs):
        A = inputs["A"]
        n, s = A.shape[0], int(inputs["s"])
        d = np.full(n, np.inf)
        d[s] = 0.0
        pi = np.arange(n)

        def frame():
            known = np.isfinite(d)
            return {"pi_h": pi.copy(), "d": np.where(known, d, 0.0), "msk": known.astype(np.float64)}

        frames = [frame()]
        w = np.where(A > 0, A, np.inf)
        for _ in range(n):
            cand = d[:, None] + w  # cand[u, v] = d_u + w_uv
            best_u = np.argmin(cand, axis=0)
            best = cand[best_u, np.arange(n)]
            improved = best < d
            if not improved.any():
                break
            d = np.where(improved, best, d)
            pi = np.where(improved, best_u, pi)
            frames.append(frame())
        return frames, {"pi": pi}


class Prim(_GraphAlgorithm):
    """Prim's minimum spanning tree grown from ``s`` on an undirected weighted graph.

    One frame per extracted node. Hints: ``pi_h`` (node pointer), ``key`` (node scalar, best edge
    weight into the tree; 0 while infinite), ``mark`` (node mask, in the tree), ``in_queue`` (node
    mask, seen but not in the tree) and ``u`` (node mask_one, the node just added). Output: ``pi``,
    the tree of the component of ``s``; its weight equals the minimum spanning tree weight of that
    component.
    """

    name = "mst_prim"
    weighted = True
    spec = _graph_features(True, [Feature("pi_h", "hint", "node", "pointer"), Feature("key", "hint", "node", "scalar"),
                                  Feature("mark", "hint", "node", "mask"), Feature("in_queue", "hint", "node", "mask"),
                                  Feature("u", "hint", "node", "mask_one")],
                           [Feature("pi", "output", "node", "pointer")])

    def run(self, inputs):
        A = inputs["A"]
        n, s = A.shape[0], int(inputs["s"])
        key = np.full(n, np.inf)
        key[s] = 0.0
        pi, mark, in_queue = np.arange(n), np.zeros(n), np.zeros(n)
        in_queue[s] = 1.0

        def frame(u):
            return {"pi_h": pi.copy(), "key": np.where(np.isfinite(key), key, 0.0), "mark": mark.copy(),
                    "in_queue": in_queue.copy(), "u": np.int64(u)}

        frames = [frame(s)]
        while True:
            open_ = (in_queue > 0) & (mark == 0)
            if not open_.any():
                break
            u = int(np.flatnonzero(open_)[np.argmin(key[open_])])
            mark[u], in_queue[u] = 1.0, 0.0
            for v in np.flatnonzero(A[u] > 0):
                if not mark[v] and A[u, v] < key[v]:
                    key[v], pi[v], in_queue[v] = A[u, v], u, 1.0
            frames.append(frame(u))
        return frames, {"pi": pi}


for _cls in (BFS, DFS, BellmanFord, Prim):
    register(_cls())
