"""Batches of recorded trajectories as tensors (padded over the hint-time axis), and as xarray.

Shapes (``B`` graphs of ``n`` nodes, ``T`` the longest trajectory in the batch): inputs and outputs
``(B, *value_shape)``, hints ``(B, T, *value_shape)``, where ``value_shape`` is ``(n,)`` for node
features, ``(n, n)`` for edge features and ``()`` for graph features and for ``mask_one`` features
(stored as the index of the marked node). A trajectory shorter than ``T`` repeats its last frame;
``lengths`` holds the true number of frames, and losses/metrics only count frames ``t < lengths``.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import xarray as xr

from ..._utils import resolve_device
from .base import Algorithm, Trajectory, get_algorithm
from .specs import Spec

__all__ = ["Batch", "sample_batch", "collate"]


@dataclass
class Batch:
    """Tensors of ``B`` recorded runs of one algorithm on graphs of ``n_nodes`` nodes.

    Attributes
    ----------
    algorithm : Algorithm
    inputs, hints, outputs : dict of str to Tensor
        Integer features (``mask_one``, ``pointer``, ``categorical``) are ``int64``; the others are
        floating point in the batch's dtype. Hints carry a time axis after the batch axis.
    lengths : Tensor (B,) int64
        Number of hint frames of each run.
    n_nodes : int
    """

    algorithm: Algorithm
    inputs: dict
    hints: dict
    outputs: dict
    lengths: torch.Tensor
    n_nodes: int

    @property
    def spec(self) -> Spec:
        """The algorithm's :class:`~.specs.Spec`."""
        return self.algorithm.spec

    @property
    def size(self) -> int:
        """Number of graphs ``B``."""
        return int(self.lengths.shape[0])

    @property
    def max_length(self) -> int:
        """``T``, the padded hint-time length."""
        return int(self.lengths.max())

    def to(self, device=None, dtype=None) -> "Batch":
        """A copy on ``device``; floating tensors cast to ``dtype`` if given."""
        def move(t):
            return t.to(device=device, dtype=dtype if (dtype is not None and t.is_floating_point()) else None)
        return Batch(self.algorithm, {k: move(v) for k, v in self.inputs.items()},
                     {k: move(v) for k, v in self.hints.items()}, {k: move(v) for k, v in self.outputs.items()},
                     self.lengths.to(device), self.n_nodes)

    def to_xarray(self) -> xr.Dataset:
        """The batch as an ``xarray.Dataset`` with dims ``graph``, ``time``, ``node``, ``node_to``.

        Each variable's attrs record its ``stage``, ``location`` and ``type`` (and ``n_classes``);
        ``length`` holds the trajectory lengths. JSON-safe attrs, so ``to_netcdf`` round-trips it.
        """
        data = {}
        for stage, values in (("input", self.inputs), ("hint", self.hints), ("output", self.outputs)):
            for f in self.spec.stage(stage):
                dims = ["graph"] + (["time"] if stage == "hint" else [])
                if f.type != "mask_one":
                    dims += {"node": ["node"], "edge": ["node", "node_to"], "graph": []}[f.location]
                attrs = {"stage": f.stage, "location": f.location, "type": f.type}
                if f.n_classes is not None:
                    attrs["n_classes"] = f.n_classes
                data[f.name] = xr.DataArray(values[f.name].detach().cpu().numpy(), dims=dims, attrs=attrs)
        data["length"] = xr.DataArray(self.lengths.cpu().numpy(), dims=["graph"])
        return xr.Dataset(data, attrs={"algorithm": self.algorithm.name, "n_nodes": self.n_nodes})


def collate(algorithm: Algorithm, trajectories: list[Trajectory], *, device=None,
            dtype: torch.dtype = torch.float32) -> Batch:
    """Stack trajectories of one algorithm and one size into a :class:`Batch` (pads hint time)."""
    if not trajectories:
        raise ValueError("collate: no trajectories given; pass at least one")
    sizes = {t.n_nodes for t in trajectories}
    if len(sizes) != 1:
        raise ValueError(f"collate: all trajectories of a batch need the same number of nodes, got {sorted(sizes)}")
    device = resolve_device(device)
    spec = algorithm.spec
    lengths = np.array([t.length for t in trajectories])
    T = int(lengths.max())

    def tensor(arr, feature):
        kind = torch.int64 if feature.integer else dtype
        return torch.as_tensor(np.asarray(arr), dtype=kind, device=device)

    def pad(h):
        return np.concatenate([h, np.repeat(h[-1:], T - h.shape[0], axis=0)]) if h.shape[0] < T else h

    inputs = {f.name: tensor(np.stack([t.inputs[f.name] for t in trajectories]), f) for f in spec.stage("input")}
    outputs = {f.name: tensor(np.stack([t.outputs[f.name] for t in trajectories]), f) for f in spec.stage("output")}
    hints = {f.name: tensor(np.stack([pad(t.hints[f.name]) for t in trajectories]), f) for f in spec.stage("hint")}
    return Batch(algorithm, inputs, hints, outputs, torch.as_tensor(lengths, device=device), sizes.pop())


def sample_batch(algorithm: str | Algorithm, batch_size: int, n_nodes: int, *, seed: int | None = 0,
                 rng: np.random.Generator | None = None, device=None, dtype: torch.dtype = torch.float32) -> Batch:
    """Sample ``batch_size`` random problems of ``n_nodes`` nodes and record the algorithm on each.

    Parameters
    ----------
    algorithm : str or Algorithm
        A name from :data:`~.base.ALGORITHMS` (``"bfs"``, ``"dfs"``, ``"bellman_ford"``,
        ``"mst_prim"``, ``"insertion_sort"``, ``"bubble_sort"``, ``"binary_search"``,
        ``"lcs_length"``, ``"naive_string_matcher"``) or an :class:`~.base.Algorithm`.
    batch_size, n_nodes : int
    seed : int, optional
        Seeds a fresh generator (ignored when ``rng`` is given).
    rng : numpy.random.Generator, optional
        Draw from this generator instead (successive batches of a training stream).
    device, dtype
        Where the tensors go and the floating dtype.

    Examples
    --------
    >>> b = sample_batch("bfs", 4, 8, seed=0)
    >>> b.inputs["adj"].shape, b.outputs["pi"].shape, b.hints["reach_h"].shape[:1]
    (torch.Size([4, 8, 8]), torch.Size([4, 8]), torch.Size([4]))
    """
    algo = get_algorithm(algorithm)
    n = algo.check_size(n_nodes)
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"sample_batch: batch_size must be a positive int, got {batch_size!r}")
    rng = np.random.default_rng(seed) if rng is None else rng
    return collate(algo, [algo.trajectory(rng, n) for _ in range(int(batch_size))], device=device, dtype=dtype)
