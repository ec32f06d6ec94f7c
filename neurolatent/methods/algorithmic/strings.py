"""String algorithms with hints: longest common subsequence (dynamic programme) and naive matching.

Two strings over an alphabet of :data:`ALPHABET` letters are one graph: node ``i`` holds a
character (``key``, node categorical) and ``string`` (node mask) says which string it belongs to,
as in CLRS (Veličković et al. 2022).
"""
from __future__ import annotations

import numpy as np

from .base import Algorithm, positions, register
from .specs import Feature, Spec

__all__ = ["ALPHABET", "LCSLength", "NaiveStringMatcher", "lcs_from_b"]

ALPHABET = 4
_STRING_INPUTS = [Feature("pos", "input", "node", "scalar"), Feature("string", "input", "node", "mask"),
                  Feature("key", "input", "node", "categorical", ALPHABET)]
DIAG, UP, LEFT = 0, 1, 2


class LCSLength(Algorithm):
    """The LCS-LENGTH dynamic programme (Cormen et al., ch. 15.4) on strings ``x`` and ``y``.

    ``x`` takes the first ``n // 2`` nodes, ``y`` the rest. The table ``b[i, j]`` (which neighbour
    the optimum of ``x[:i+1], y[:j+1]`` came from: 0 diagonal/match, 1 up, 2 left) lives on the
    edges ``(i, n_x + j)``; every other edge is ``-1`` (ignored). Hints, one frame per row of the
    table: ``b_h`` (edge categorical) and ``c_h`` (edge scalar, the LCS lengths so far). Output:
    ``b``; :func:`lcs_from_b` reads an LCS off it.
    """

    name = "lcs_length"
    min_nodes = 2
    spec = Spec(_STRING_INPUTS + [Feature("b_h", "hint", "edge", "categorical", 3), Feature("c_h", "hint", "edge", "scalar"),
                                  Feature("b", "output", "edge", "categorical", 3)])

    def sample(self, rng, n_nodes):
        n_x = n_nodes // 2
        string = np.r_[np.zeros(n_x), np.ones(n_nodes - n_x)]
        return {"pos": positions(n_nodes), "string": string, "key": rng.integers(0, ALPHABET, n_nodes)}

    def run(self, inputs):
        key, string = inputs["key"], inputs["string"]
        xs, ys = np.flatnonzero(string == 0), np.flatnonzero(string == 1)
        n = len(key)
        c = np.zeros((len(xs) + 1, len(ys) + 1))
        b = np.full((n, n), -1, dtype=np.int64)
        c_edge = np.zeros((n, n))
        frames = [{"b_h": b.copy(), "c_h": c_edge.copy()}]
        for i, xi in enumerate(xs, start=1):
            for j, yj in enumerate(ys, start=1):
                if key[xi] == key[yj]:
                    c[i, j], b[xi, yj] = c[i - 1, j - 1] + 1, DIAG
                elif c[i - 1, j] >= c[i, j - 1]:
                    c[i, j], b[xi, yj] = c[i - 1, j], UP
                else:
                    c[i, j], b[xi, yj] = c[i, j - 1], LEFT
                c_edge[xi, yj] = c[i, j]
            frames.append({"b_h": b.copy(), "c_h": c_edge.copy()})
        return frames, {"b": b}


def lcs_from_b(b, string, key) -> list[int]:
    """Read a longest common subsequence (as a list of characters) off an LCS table ``b``.

    Parameters
    ----------
    b : array (n, n) of int
        The ``b`` output of :class:`LCSLength` (true or predicted; predicted entries outside the
        ``x``-by-``y`` block are ignored).
    string, key : arrays (n,)
        The inputs of the same problem.
    """
    b, string, key = np.asarray(b), np.asarray(string), np.asarray(key)
    xs, ys = np.flatnonzero(string == 0), np.flatnonzero(string == 1)
    i, j, out = len(xs) - 1, len(ys) - 1, []
    while i >= 0 and j >= 0:
        arrow = b[xs[i], ys[j]]
        if arrow == DIAG:
            out.append(int(key[xs[i]]))
            i, j = i - 1, j - 1
        elif arrow == UP:
            i -= 1
        else:
            j -= 1
    return out[::-1]


class NaiveStringMatcher(Algorithm):
    """Naive string matching: the first shift at which the needle occurs in the haystack.

    The needle has ``m = max(1, n // 5)`` characters (the last ``m`` nodes, ``string = 1``), the
    haystack the first ``n - m``; the needle is planted at a random shift so a match always exists.
    One frame per character comparison (as CLRS). Hints: ``s`` (current shift), ``i`` (haystack
    node compared), ``j`` (needle node compared), all node mask_one. Output: ``match`` (node
    mask_one, the haystack node where the first match starts); equals ``str.find``.
    """

    name = "naive_string_matcher"
    min_nodes = 2
    spec = Spec(_STRING_INPUTS + [Feature("s", "hint", "node", "mask_one"), Feature("i", "hint", "node", "mask_one"),
                                  Feature("j", "hint", "node", "mask_one"),
                                  Feature("match", "output", "node", "mask_one")])

    def sample(self, rng, n_nodes):
        m = max(1, n_nodes // 5)
        h = n_nodes - m
        needle = rng.integers(0, ALPHABET, m)
        haystack = rng.integers(0, ALPHABET, h)
        at = int(rng.integers(0, h - m + 1))
        haystack[at:at + m] = needle
        return {"pos": positions(n_nodes), "string": np.r_[np.zeros(h), np.ones(m)],
                "key": np.r_[haystack, needle].astype(np.int64)}

    def run(self, inputs):
        key, string = inputs["key"], inputs["string"]
        hay, nee = np.flatnonzero(string == 0), np.flatnonzero(string == 1)
        h, m = len(hay), len(nee)
        frames = [{"s": np.int64(hay[0]), "i": np.int64(hay[0]), "j": np.int64(nee[0])}]
        match = None
        for shift in range(h - m + 1):
            for k in range(m):
                frames.append({"s": np.int64(hay[shift]), "i": np.int64(hay[shift + k]), "j": np.int64(nee[k])})
                if key[hay[shift + k]] != key[nee[k]]:
                    break
            else:
                match = shift
                break
        if match is None:
            raise ValueError("naive_string_matcher: the needle does not occur in the haystack; "
                             "the sampler plants it, so pass inputs that contain a match")
        return frames, {"match": np.int64(hay[match])}


for _cls in (LCSLength, NaiveStringMatcher):
    register(_cls())
