"""The algorithm interface of the samplers, a trajectory record and the registry of known algorithms.

An :class:`Algorithm` draws a random problem of a given size and *runs* the classical algorithm on
it, recording the inputs, one hint frame per step of its execution and the outputs
(:class:`Trajectory`), with values laid out as its :class:`~.specs.Spec` says. Algorithms are found
by name through :func:`get_algorithm` (the one place a name becomes an object).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .specs import Spec

__all__ = ["Trajectory", "Algorithm", "ALGORITHMS", "get_algorithm", "register"]


@dataclass
class Trajectory:
    """One recorded run of an algorithm on one problem (numpy arrays, no batch axis).

    Attributes
    ----------
    inputs, outputs : dict of str to ndarray
        One array per input/output feature, shaped as :meth:`Feature.value_shape`.
    hints : dict of str to ndarray
        One array per hint feature with a leading time axis of length :attr:`length`.
    n_nodes : int
    """

    inputs: dict
    hints: dict
    outputs: dict
    n_nodes: int

    @property
    def length(self) -> int:
        """Number of hint frames (the initial state plus one per recorded step); at least 1."""
        return int(next(iter(self.hints.values())).shape[0]) if self.hints else 1


class Algorithm:
    """Base class of the samplers: draw a problem of ``n`` nodes, run the algorithm, record it.

    Subclasses set :attr:`name`, :attr:`spec` and implement :meth:`sample` (draw a random problem)
    and :meth:`run` (execute the algorithm on a problem); :meth:`trajectory` calls both and checks
    the result against the spec.

    Attributes
    ----------
    name : str
    spec : Spec
    min_nodes : int
        Smallest size the algorithm is defined for.
    """

    name: str = ""
    spec: Spec
    min_nodes: int = 1

    def sample(self, rng: np.random.Generator, n_nodes: int) -> dict:
        """Draw a random problem: the dictionary of input arrays."""
        raise NotImplementedError

    def run(self, inputs: dict) -> tuple[list[dict], dict]:
        """Execute the algorithm on ``inputs``; return (list of hint frames, outputs)."""
        raise NotImplementedError

    def check_size(self, n_nodes) -> int:
        """Validate ``n_nodes``; return it as an int (clear error for empty graphs)."""
        if isinstance(n_nodes, bool) or not isinstance(n_nodes, (int, np.integer)):
            raise TypeError(f"n_nodes must be an int, got {type(n_nodes).__name__}")
        if n_nodes < self.min_nodes:
            what = "a graph with no nodes" if n_nodes <= 0 else f"{n_nodes} node(s)"
            raise ValueError(f"{self.name}: cannot sample {what}; n_nodes must be >= {self.min_nodes}")
        return int(n_nodes)

    def trajectory(self, rng: np.random.Generator, n_nodes: int) -> Trajectory:
        """Sample a problem with ``n_nodes`` nodes and record the algorithm's run on it."""
        n = self.check_size(n_nodes)
        inputs = self.sample(rng, n)
        return self.record(inputs)

    def record(self, inputs: dict) -> Trajectory:
        """Run the algorithm on given ``inputs`` and stack its hint frames into a :class:`Trajectory`."""
        n = int(np.asarray(inputs["pos"]).shape[0])
        frames, outputs = self.run(inputs)
        hints = {f.name: np.stack([np.asarray(fr[f.name]) for fr in frames]) for f in self.spec.stage("hint")}
        traj = Trajectory(inputs={k: np.asarray(v) for k, v in inputs.items()}, hints=hints,
                          outputs={k: np.asarray(v) for k, v in outputs.items()}, n_nodes=n)
        for stage, values in (("input", traj.inputs), ("output", traj.outputs)):
            for f in self.spec.stage(stage):
                if values[f.name].shape != f.value_shape(n):
                    raise AssertionError(f"{self.name}: {stage} {f.name!r} has shape {values[f.name].shape}, "
                                         f"spec says {f.value_shape(n)}")
        return traj

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r})"


ALGORITHMS: dict[str, Algorithm] = {}


def register(algorithm: Algorithm) -> Algorithm:
    """Add an :class:`Algorithm` instance to :data:`ALGORITHMS` under its name; return it."""
    if not isinstance(algorithm, Algorithm):
        raise TypeError(f"register expects an Algorithm instance, got {type(algorithm).__name__}")
    ALGORITHMS[algorithm.name] = algorithm
    return algorithm


def get_algorithm(algorithm: str | Algorithm) -> Algorithm:
    """The :class:`Algorithm` for a name (or the object itself, so user subclasses work).

    Examples
    --------
    >>> get_algorithm("bfs").name
    'bfs'
    """
    if isinstance(algorithm, Algorithm):
        return algorithm
    if isinstance(algorithm, str) and algorithm in ALGORITHMS:
        return ALGORITHMS[algorithm]
    raise ValueError(f"unknown algorithm {algorithm!r}; known algorithms: {sorted(ALGORITHMS)} "
                     "(or pass an Algorithm instance)")


def positions(n: int) -> np.ndarray:
    """CLRS's ``pos`` input: node ``i`` carries ``i / n`` (breaks ties by index)."""
    return np.arange(n, dtype=np.float64) / n


def order_to_pred(order) -> np.ndarray:
    """Pointer ``pred[order[k]] = order[k-1]`` (the first element points to itself)."""
    order = np.asarray(order)
    pred = np.empty(len(order), dtype=np.int64)
    pred[order[0]] = order[0]
    pred[order[1:]] = order[:-1]
    return pred


def pred_to_order(pred) -> list[int]:
    """Inverse of :func:`order_to_pred` (for valid chains); raises if ``pred`` is not one chain."""
    pred = np.asarray(pred)
    heads = [i for i in range(len(pred)) if pred[i] == i]
    if len(heads) != 1:
        raise ValueError(f"pred has {len(heads)} self-pointing heads, expected 1")
    nxt = {int(p): i for i, p in enumerate(pred) if p != i}
    order = [heads[0]]
    while order[-1] in nxt and len(order) <= len(pred):
        order.append(nxt[order[-1]])
    if len(order) != len(pred):
        raise ValueError("pred does not form a single chain over all nodes")
    return order
