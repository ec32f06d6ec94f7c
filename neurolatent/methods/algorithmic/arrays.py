"""Array algorithms with hints: insertion sort, bubble sort and binary search.

An array of ``n`` keys is a graph of ``n`` nodes (node ``i`` holds ``key[i]``, uniform on
``[0, 1)``, and ``pos[i] = i / n``), as in CLRS (Veličković et al. 2022). A sorted order is the
pointer ``pred``: each node points to the node holding the next-smaller key, the smallest to itself.
"""
from __future__ import annotations

import numpy as np

from .base import Algorithm, order_to_pred, positions, register
from .specs import Feature, Spec

__all__ = ["InsertionSort", "BubbleSort", "BinarySearch"]

_SORT_INPUTS = [Feature("pos", "input", "node", "scalar"), Feature("key", "input", "node", "scalar")]


class _Sort(Algorithm):
    min_nodes = 1

    def sample(self, rng, n_nodes):
        return {"pos": positions(n_nodes), "key": rng.uniform(0.0, 1.0, n_nodes)}


class InsertionSort(_Sort):
    """Insertion sort; one frame per outer iteration (as CLRS).

    Hints: ``pred_h`` (node pointer, the current arrangement as a chain), ``i`` (node mask_one, where
    the element was inserted) and ``j`` (node mask_one, the node at the end of the sorted prefix).
    Output: ``pred``, the sorted order.
    """

    name = "insertion_sort"
    spec = Spec(_SORT_INPUTS + [Feature("pred_h", "hint", "node", "pointer"), Feature("i", "hint", "node", "mask_one"),
                                Feature("j", "hint", "node", "mask_one"), Feature("pred", "output", "node", "pointer")])

    def run(self, inputs):
        key = inputs["key"]
        order = list(range(len(key)))  # order[k] = node at array position k
        frames = [{"pred_h": order_to_pred(order), "i": np.int64(0), "j": np.int64(0)}]
        for j in range(1, len(order)):
            node = order[j]
            i = j - 1
            while i >= 0 and key[order[i]] > key[node]:
                order[i + 1] = order[i]
                i -= 1
            order[i + 1] = node
            frames.append({"pred_h": order_to_pred(order), "i": np.int64(order[i + 1]), "j": np.int64(order[j])})
        return frames, {"pred": order_to_pred(order)}


class BubbleSort(_Sort):
    """Bubble sort (``n - 1`` passes, no early exit); one frame per *pass*.

    CLRS records a frame per comparison (``O(n^2)`` frames); here a frame per pass keeps the
    trajectory ``O(n)`` long so that evaluation at 64 nodes stays cheap. Hints: ``pred_h`` (node
    pointer) and ``i`` (node mask_one, the node that settled at the end of the pass). Output: ``pred``.
    """

    name = "bubble_sort"
    spec = Spec(_SORT_INPUTS + [Feature("pred_h", "hint", "node", "pointer"), Feature("i", "hint", "node", "mask_one"),
                                Feature("pred", "output", "node", "pointer")])

    def run(self, inputs):
        key = inputs["key"]
        n = len(key)
        order = list(range(n))
        frames = [{"pred_h": order_to_pred(order), "i": np.int64(order[-1])}]
        for p in range(n - 1):
            for k in range(n - 1 - p):
                if key[order[k]] > key[order[k + 1]]:
                    order[k], order[k + 1] = order[k + 1], order[k]
            frames.append({"pred_h": order_to_pred(order), "i": np.int64(order[n - 1 - p])})
        return frames, {"pred": order_to_pred(order)}


class BinarySearch(Algorithm):
    """Binary search of ``target`` in sorted keys (CLRS's variant, always returning an index).

    Returns the first index ``i`` with ``key[i] >= target``, or ``n - 1`` if there is none, i.e.
    ``min(bisect_left(key, target), n - 1)``. Inputs: ``pos``, ``key`` (sorted, node scalar),
    ``target`` (graph scalar). Hints per halving: ``low``, ``high``, ``mid`` (node mask_one). Output:
    ``return`` (node mask_one).
    """

    name = "binary_search"
    spec = Spec(_SORT_INPUTS + [Feature("target", "input", "graph", "scalar"),
                                Feature("low", "hint", "node", "mask_one"), Feature("high", "hint", "node", "mask_one"),
                                Feature("mid", "hint", "node", "mask_one"), Feature("return", "output", "node", "mask_one")])

    def sample(self, rng, n_nodes):
        return {"pos": positions(n_nodes), "key": np.sort(rng.uniform(0.0, 1.0, n_nodes)),
                "target": np.float64(rng.uniform(0.0, 1.0))}

    def run(self, inputs):
        key, target = inputs["key"], float(inputs["target"])
        low, high = 0, len(key) - 1
        frames = [{"low": np.int64(low), "high": np.int64(high), "mid": np.int64((low + high) // 2)}]
        while low < high:
            mid = (low + high) // 2
            if target <= key[mid]:
                high = mid
            else:
                low = mid + 1
            frames.append({"low": np.int64(low), "high": np.int64(high), "mid": np.int64((low + high) // 2)})
        return frames, {"return": np.int64(low)}


for _cls in (InsertionSort, BubbleSort, BinarySearch):
    register(_cls())
