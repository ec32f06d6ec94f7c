r"""Width and architecture sweeps of catastrophic forgetting (Mirzadeh et al. 2022).

:func:`forgetting_sweep` trains fresh MLPs of every width x depth x BatchNorm x seed combination on
a task stream with plain fine-tuning (:func:`~neurolatent.methods.continual.run`, ``"finetune"``)
and returns the accuracy matrices, the forgetting summaries and the mechanisms Mirzadeh et al.
measure, as one :class:`xarray.Dataset` over the grid:

* **relative weight change** of each task, :math:`\|\theta_k - \theta_{k-1}\| / \|\theta_{k-1}\|`
  over the weight matrices (biases and BatchNorm excluded), :math:`\theta_k` the weights after task
  :math:`k` (:math:`\theta_{-1}` the initialisation). Wide networks move less ("lazy" training) and
  forget less (Mirzadeh et al. 2022a, "Wide neural networks forget less catastrophically");
* **gradient cosine** between consecutive tasks: at the end of task :math:`k`,
  :math:`\cos(\nabla L_k, \nabla L_{k+1})` of the full-batch training-loss gradients of task
  :math:`k` and of the next task at the same weights; values near zero (orthogonal gradients) mean
  learning the next task interferes little with the last one;
* **fraction of active units**: the mean over hidden ReLU units and over the test inputs of the
  current task of :math:`\mathbf 1[h > 0]`, after each task.

Depth against width at a matched parameter count (Mirzadeh et al. 2022b, "Architecture matters in
continual learning"): with ``n_params=`` the width of every depth is solved so that the MLP has
about that many parameters, and a depth whose best integer width misses it by more than
``param_tolerance`` is an error.

With ``client=`` (a ``distributed.Client``) the grid points are sent in chunks with ``client.map``
and gathered, as :func:`neurolatent.theory.phase_diagram` does; the result equals the serial run.
"""
from __future__ import annotations

import itertools
import math
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
import xarray as xr
from tqdm.auto import tqdm

from ..._utils import map_chunks, resolve_device
from ..common.data import ClassificationData
from ..common.models import MLP
from .run import check_tasks, run

__all__ = ["forgetting_sweep", "mlp_parameter_count", "width_for_parameters"]


def mlp_parameter_count(in_features: int, width: int, depth: int, n_classes: int, *, batchnorm: bool = False) -> int:
    r"""Trainable parameters of a :class:`~neurolatent.methods.common.MLP` with ``depth`` hidden layers of ``width``.

    .. math:: P = (d_{in} + 1) w + (D - 1)(w + 1) w + (w + 1) K \;[+\, 2 D w \text{ with BatchNorm}].

    Examples
    --------
    >>> mlp_parameter_count(64, 100, 2, 10)
    17610
    """
    if width < 1 or depth < 1:
        raise ValueError(f"width and depth must be positive, got width={width}, depth={depth}")
    p = (in_features + 1) * width + (depth - 1) * (width + 1) * width + (width + 1) * n_classes
    return int(p + (2 * depth * width if batchnorm else 0))


def width_for_parameters(n_params: int, in_features: int, depth: int, n_classes: int, *,
                         batchnorm: bool = False, tolerance: float = 0.05) -> int:
    """The integer width whose ``depth``-layer MLP has the parameter count closest to ``n_params``.

    Raises
    ------
    ValueError
        No width comes within ``tolerance`` (relative) of ``n_params``: the count is smaller than
        a width-1 network of that depth, or the closest integer width misses it (small counts
        with deep networks move in coarse steps).

    Examples
    --------
    >>> w = width_for_parameters(17610, 64, 2, 10)
    >>> w, mlp_parameter_count(64, w, 2, 10)
    (100, 17610)
    """
    if n_params < 1:
        raise ValueError(f"n_params must be a positive parameter count, got {n_params}")
    # P(w) is increasing in w: solve the quadratic (D-1) w^2 + (d_in + D + K (+ 2D)) w + K = P, then round
    a = depth - 1
    b = in_features + 1 + (depth - 1) + n_classes + (2 * depth if batchnorm else 0)
    c = n_classes - n_params
    w_real = -c / b if a == 0 else (-b + math.sqrt(b * b - 4 * a * c)) / (2 * a)
    candidates = {max(1, int(math.floor(w_real))), max(1, int(math.ceil(w_real)))}
    best = min(candidates, key=lambda w: abs(mlp_parameter_count(in_features, w, depth, n_classes,
                                                                 batchnorm=batchnorm) - n_params))
    got = mlp_parameter_count(in_features, best, depth, n_classes, batchnorm=batchnorm)
    if abs(got - n_params) > tolerance * n_params:
        raise ValueError(
            f"no width matches n_params={n_params} at depth {depth}: the closest, width {best}, has {got} parameters "
            f"({100 * abs(got - n_params) / n_params:.1f}% off, tolerance {100 * tolerance:.1f}%). Ask for more "
            "parameters, fewer layers, or raise param_tolerance")
    return best


def _weights(net: MLP) -> list[torch.Tensor]:
    return [p.detach().clone() for n, p in net.named_parameters() if n.endswith("weight") and p.dim() > 1]


def _flat_grad(net: MLP, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    was = net.training
    net.eval()  # BatchNorm with its running statistics: the gradient of the function being evaluated
    try:
        net.zero_grad(set_to_none=True)
        F.cross_entropy(net(x), y).backward()
        g = torch.cat([p.grad.reshape(-1) for p in net.parameters() if p.grad is not None])
        net.zero_grad(set_to_none=True)
    finally:
        net.train(was)
    return g


@torch.no_grad()
def _active_fraction(net: MLP, x: torch.Tensor) -> float:
    was = net.training
    net.eval()
    try:
        fr, h = [], x
        for block in net.blocks[:-1]:
            h = block(h)
            fr.append(float((h > 0).double().mean()))
    finally:
        net.train(was)
    return float(np.mean(fr))


def _one_point(point: dict, tasks: list[ClassificationData], run_kwargs: dict) -> dict:
    """Train one network of the grid; return its accuracy matrix and mechanisms as NumPy arrays."""
    d_in = int(np.prod(tasks[0].input_shape))
    n_classes = max(t.n_classes for t in tasks)
    dev = tasks[0].x_train.device
    net = MLP(d_in, (point["width"],) * point["depth"], n_classes, batchnorm=point["batchnorm"],
              seed=point["seed"], device=dev, dtype=tasks[0].x_train.dtype)
    n_t = len(tasks)
    change, cosine, active = np.full(n_t, np.nan), np.full(n_t, np.nan), np.full(n_t, np.nan)
    prev = {"w": _weights(net)}

    def after_task(state: dict) -> None:
        k, model = state["task"], state["model"]
        w = _weights(model)
        num = math.sqrt(sum(float((a - b).pow(2).sum()) for a, b in zip(w, prev["w"])))
        den = math.sqrt(sum(float(b.pow(2).sum()) for b in prev["w"]))
        change[k], prev["w"] = num / den, w
        active[k] = _active_fraction(model, tasks[k].x_test)
        if k + 1 < n_t:
            g_old = _flat_grad(model, tasks[k].x_train, tasks[k].y_train)
            g_new = _flat_grad(model, tasks[k + 1].x_train, tasks[k + 1].y_train)
            cosine[k] = float(F.cosine_similarity(g_old, g_new, dim=0))

    res = run(net, tasks, "finetune", seed=point["seed"], progress=False, callback=after_task, **run_kwargs)
    return {"accuracy": res.accuracy.values, "loss": res.loss.values, "weight_change": change,
            "gradient_cosine": cosine, "active_fraction": active,
            "n_params": sum(p.numel() for p in net.parameters())}


def _chunk(points: list[dict], tasks: list[ClassificationData], run_kwargs: dict) -> list[dict]:
    return [_one_point(p, tasks, run_kwargs) for p in points]


def _as_list(name: str, values, kind) -> list:
    if values is None:
        return []
    if isinstance(values, (int, bool, np.integer)):
        values = [values]
    out = [kind(v) for v in values]
    if len(set(out)) != len(out):
        raise ValueError(f"{name} has repeated values {out}; give each grid value once")
    return out


def forgetting_sweep(tasks: Sequence[ClassificationData], *, widths: Sequence[int] | None = None,
                     depths: Sequence[int] = (1,), batchnorm: Sequence[bool] | bool = (False,),
                     seeds: Sequence[int] | int = (0,), n_params: int | None = None, param_tolerance: float = 0.05,
                     epochs: int = 1, lr: float = 1e-3, batch_size: int = 64, optimizer: str = "adam",
                     client=None, device: str | torch.device | None = None, progress: bool = True) -> xr.Dataset:
    r"""Forgetting of fine-tuned MLPs over a grid of widths, depths, BatchNorm and seeds.

    Parameters
    ----------
    tasks : list of ClassificationData
        The stream, e.g. ``permuted_tasks(load_digits(), 4)`` or ``rotated_tasks(..., angles)``;
        every grid point trains a fresh network on it in order.
    widths : sequence of int, optional
        Hidden widths (every hidden layer has the same width). Leave out with ``n_params``.
    depths : sequence of int
        Numbers of hidden layers.
    batchnorm : sequence of bool or bool
        With and/or without BatchNorm after each hidden linear map.
    seeds : sequence of int or int
        Seeds of the initialisation and the minibatch order; the Dataset keeps one entry per seed.
    n_params : int, optional
        Compare architectures at a matched parameter count: the width of each depth (and BatchNorm
        setting) is :func:`width_for_parameters`; the ``width`` dimension then has length one and
        the chosen widths are the variable ``width_used``.
    param_tolerance : float
        Relative mismatch of the parameter count allowed with ``n_params``.
    epochs, lr, batch_size, optimizer
        Training of each task (:func:`~neurolatent.methods.continual.run`).
    client : distributed.Client, optional
        Run the grid on a Dask cluster (chunks of points, ``client.map``); serial by default.
    device : str or torch.device, optional
        Where to train (default: where the tasks live).
    progress : bool
        A tqdm bar over the grid (serial runs).

    Returns
    -------
    xarray.Dataset
        Dims ``width``, ``depth``, ``batchnorm``, ``seed`` (the grid) and ``after_task``,
        ``on_task``. Variables: ``accuracy``, ``loss`` (grid, ``after_task``, ``on_task``);
        ``final_accuracy``, ``forgetting`` (grid, ``on_task``; :math:`f_j = \max_{l<T-1} R_{lj}
        - R_{T-1,j}`, NaN for the last task); ``average_accuracy``, ``average_forgetting``,
        ``n_params``, ``width_used`` (grid); ``weight_change``, ``gradient_cosine``,
        ``active_fraction`` (grid, ``after_task``; see the module notes); attributes: the training
        settings and the task names.

    Raises
    ------
    ValueError
        An empty grid (no widths, depths, BatchNorm settings or seeds), non-positive widths or
        depths, both or neither of ``widths`` and ``n_params``, or a parameter count no width
        can match.

    Examples
    --------
    >>> from neurolatent.methods.common import make_teacher_classification, permuted_tasks
    >>> tasks = permuted_tasks(make_teacher_classification(200, 6, 3, seed=0), 2)
    >>> ds = forgetting_sweep(tasks, widths=[4, 16], depths=[1], progress=False)
    >>> dict(ds.average_forgetting.sizes)
    {'width': 2, 'depth': 1, 'batchnorm': 1, 'seed': 1}
    """
    tasks = check_tasks(tasks)
    widths_l = _as_list("widths", widths, int)
    depths_l = _as_list("depths", depths, int)
    bn_l = _as_list("batchnorm", batchnorm, bool)
    seeds_l = _as_list("seeds", seeds, int)
    if (n_params is None) == (widths is None):
        raise ValueError("give exactly one of widths= (a width x depth grid) and n_params= (each depth at a matched "
                         f"parameter count); got widths={widths!r}, n_params={n_params!r}")
    empty = [n for n, v in (("widths", widths_l if n_params is None else [0]), ("depths", depths_l),
                            ("batchnorm", bn_l), ("seeds", seeds_l)) if not v]
    if empty:
        raise ValueError(f"the sweep grid is empty: {', '.join(empty)} has no values; give at least one of each")
    bad = [v for v in widths_l + depths_l if v < 1]
    if bad:
        raise ValueError(f"widths and depths must be positive integers, got {bad}")
    if epochs < 1:
        raise ValueError(f"epochs must be at least 1 per task, got {epochs}")
    dev = resolve_device(device, tasks[0].x_train)
    tasks = [t.to(dev) for t in tasks]
    d_in = int(np.prod(tasks[0].input_shape))
    n_classes = max(t.n_classes for t in tasks)
    matched = n_params is not None
    width_coord = [int(n_params)] if matched else widths_l
    points = []
    for w, d, bn, s in itertools.product(width_coord, depths_l, bn_l, seeds_l):
        width = width_for_parameters(int(n_params), d_in, d, n_classes, batchnorm=bn,
                                     tolerance=param_tolerance) if matched else w
        points.append({"width": width, "depth": d, "batchnorm": bn, "seed": s})
    run_kwargs = {"epochs": int(epochs), "lr": float(lr), "batch_size": int(batch_size), "optimizer": optimizer}
    if client is None:
        results = [_one_point(p, tasks, run_kwargs) for p in tqdm(points, desc="forgetting sweep",
                                                                  disable=not progress)]
    else:
        parts = map_chunks(client, _chunk, points, tasks=tasks, run_kwargs=run_kwargs)
        results = [r for part in parts for r in part]
    return _assemble(results, points, width_coord, depths_l, bn_l, seeds_l, tasks, matched, run_kwargs)


def _assemble(results, points, width_coord, depths, bns, seeds, tasks, matched, run_kwargs) -> xr.Dataset:
    from .metrics import summarise_accuracy

    grid = ("width", "depth", "batchnorm", "seed")
    shape = (len(width_coord), len(depths), len(bns), len(seeds))
    n_t = len(tasks)

    def stack(key, extra=()):
        return np.stack([np.asarray(r[key], dtype=np.float64) for r in results]).reshape(*shape, *extra)

    acc = stack("accuracy", (n_t, n_t))
    summaries = [summarise_accuracy(r["accuracy"]) for r in results]
    per = {k: np.stack([s[k].values for s in summaries]).reshape(*shape, *np.shape(summaries[0][k].values))
           for k in ("final_accuracy", "forgetting", "average_accuracy", "average_forgetting")}
    ds = xr.Dataset(
        {
            "accuracy": (grid + ("after_task", "on_task"), acc),
            "loss": (grid + ("after_task", "on_task"), stack("loss", (n_t, n_t))),
            "final_accuracy": (grid + ("on_task",), per["final_accuracy"]),
            "forgetting": (grid + ("on_task",), per["forgetting"]),
            "average_accuracy": (grid, per["average_accuracy"]),
            "average_forgetting": (grid, per["average_forgetting"]),
            "n_params": (grid, stack("n_params").astype(np.int64)),
            "width_used": (grid, np.array([p["width"] for p in points], dtype=np.int64).reshape(shape)),
            "weight_change": (grid + ("after_task",), stack("weight_change", (n_t,))),
            "gradient_cosine": (grid + ("after_task",), stack("gradient_cosine", (n_t,))),
            "active_fraction": (grid + ("after_task",), stack("active_fraction", (n_t,))),
        },
        coords={"width": np.asarray(width_coord, dtype=np.int64), "depth": np.asarray(depths, dtype=np.int64),
                "batchnorm": np.asarray(bns, dtype=bool), "seed": np.asarray(seeds, dtype=np.int64),
                "after_task": np.arange(n_t), "on_task": np.arange(n_t),
                "task_name": ("on_task", [t.name for t in tasks])},
    )
    ds["weight_change"].attrs["long_name"] = "relative change of the weight matrices during each task"
    ds["gradient_cosine"].attrs["long_name"] = ("cosine of the training-loss gradients of task k and task k+1 "
                                                "after task k")
    ds["active_fraction"].attrs["long_name"] = "fraction of hidden ReLU units active on the current task's test inputs"
    if matched:
        ds["width"].attrs["long_name"] = "target parameter count (widths matched per depth: see width_used)"
    ds.attrs.update({"method": "finetune", "matched_parameters": int(matched), **run_kwargs})
    return ds
