r"""Reasoning-modulated representations (Veličković, Bošnjak, Kipf, Lerchner, Hadsell, Pascanu &
Blundell 2021).

A *processor* :math:`P` is first trained on abundant abstract data -- true state transitions
:math:`s_t \to s_{t+1}` of the physics world (:mod:`.physics`) -- as
:math:`s_{t+1} \approx g(h + C(h))`, :math:`h = f(s_t)`, with a residual core :math:`C` acting in a
latent space of size ``latent_dim``. The core is then **frozen** inside a self-supervised
pixel pipeline: an encoder :math:`E` maps two consecutive frames to :math:`z_t` in that latent space,
the transition predicts :math:`\hat z_{t+1} = z_t + C(z_t)`, and a contrastive loss (in-batch
negatives, logits :math:`-\|\hat z_{t+1} - z_{t+1}'\|^2/\tau`, as in C-SWM) matches it to the
encoding :math:`z_{t+1}` of the next frames. The baseline is the same pipeline whose core is
trained from scratch.

* :class:`Processor`, :func:`pretrain_processor` -- the state-space model and its training;
* :func:`train_rmr` -- the pixel pipeline, with a frozen processor core or a trainable one;
* :func:`state_probe` -- ridge regression of the true state from :math:`z_t` and of the next state
  from :math:`\hat z_{t+1}` on held-out trajectories (:math:`R^2`).
"""
from __future__ import annotations

import copy

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..._utils import make_generator, resolve_device
from ..common import MLP, SmallCNN
from .physics import BouncingBalls, reflect_step

__all__ = ["Processor", "pretrain_processor", "RMRModel", "frame_pairs", "train_rmr", "state_probe"]


class Processor(nn.Module):
    r""":math:`s \mapsto g(f(s) + C(f(s)))`: state encoder :math:`f`, residual core :math:`C`, decoder :math:`g`.

    Parameters
    ----------
    state_dim, latent_dim, hidden : int
    seed, device, dtype
    """

    def __init__(self, state_dim: int, latent_dim: int = 32, hidden: int = 64, *, seed: int | None = 0,
                 device=None, dtype=None):
        super().__init__()
        s = lambda k: None if seed is None else int(seed) * 10 + k  # noqa: E731
        self.f = MLP(state_dim, (hidden,), latent_dim, seed=s(0), device=device, dtype=dtype)
        self.core = MLP(latent_dim, (hidden,), latent_dim, seed=s(1), device=device, dtype=dtype)
        self.g = MLP(latent_dim, (hidden,), state_dim, seed=s(2), device=device, dtype=dtype)

    def step_latent(self, h: torch.Tensor) -> torch.Tensor:
        """One latent step :math:`h + C(h)`."""
        return h + self.core(h)

    def forward(self, s: torch.Tensor) -> torch.Tensor:
        """Predicted next state ``(n, state_dim)``."""
        return self.g(self.step_latent(self.f(s)))


def pretrain_processor(state_dim: int, *, n_balls: int | None = None, dt: float = 0.3, radius: float = 0.1,
                       speed: float = 0.3, n_transitions: int = 20000, latent_dim: int = 32, hidden: int = 64,
                       epochs: int = 30, batch_size: int = 256, lr: float = 2e-3, seed: int = 0,
                       device=None, dtype: torch.dtype = torch.float32) -> tuple[Processor, dict[str, list]]:
    """Train a :class:`Processor` on ``n_transitions`` random states of the ball world and their exact
    next states (:func:`~neurolatent.methods.ssl.physics.reflect_step`), mean squared error.

    ``state_dim`` must be ``4 * n_balls``. Returns the processor and ``{"epoch", "mse"}``.
    """
    n_balls = n_balls if n_balls is not None else state_dim // 4
    if state_dim != 4 * n_balls:
        raise ValueError(f"state_dim must be 4 * n_balls (x, y, vx, vy per ball), got {state_dim} for {n_balls} balls")
    rng = np.random.default_rng(seed)
    pos = rng.uniform(radius, 1 - radius, size=(n_transitions, n_balls, 2))
    ang = rng.uniform(0, 2 * np.pi, size=(n_transitions, n_balls))
    sp = rng.uniform(speed / 2, speed, size=(n_transitions, n_balls))
    s0 = np.concatenate([pos, (sp * np.cos(ang))[..., None], (sp * np.sin(ang))[..., None]], -1)
    s1 = reflect_step(s0, dt, radius)
    dev = resolve_device(device)
    x = torch.as_tensor(s0.reshape(n_transitions, -1), dtype=dtype, device=dev)
    y = torch.as_tensor(s1.reshape(n_transitions, -1), dtype=dtype, device=dev)
    proc = Processor(state_dim, latent_dim, hidden, seed=seed, device=dev, dtype=dtype)
    opt = torch.optim.Adam(proc.parameters(), lr=lr)
    gen = make_generator(seed)
    hist: dict[str, list] = {"epoch": [], "mse": []}
    for epoch in range(epochs):
        order = torch.randperm(n_transitions, generator=gen).to(dev)
        total = 0.0
        for i in range(0, n_transitions, batch_size):
            idx = order[i:i + batch_size]
            opt.zero_grad(set_to_none=True)
            loss = F.mse_loss(proc(x[idx]), y[idx])
            loss.backward()
            opt.step()
            total += float(loss.detach()) * idx.numel()
        hist["epoch"].append(epoch)
        hist["mse"].append(total / n_transitions)
    return proc, hist


def frame_pairs(world: BouncingBalls) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Inputs of the pixel pipeline: ``x_t = (frame_{t-1}, frame_t)`` and ``x_{t+1}`` as 2-channel images
    ``(n, 2, size, size)`` for ``t = 1 .. n_steps - 2`` of every trajectory, with the true states
    ``s_t`` and ``s_{t+1}`` ``(n, state_dim)``."""
    f, s = world.frames, world.states
    if f.shape[1] < 3:
        raise ValueError(f"trajectories need at least 3 steps for (previous, current, next) frames, got {f.shape[1]}")
    x_t = torch.cat([f[:, :-2], f[:, 1:-1]], 2).flatten(0, 1)
    x_n = torch.cat([f[:, 1:-1], f[:, 2:]], 2).flatten(0, 1)
    return x_t, x_n, s[:, 1:-1].flatten(0, 1), s[:, 2:].flatten(0, 1)


class RMRModel(nn.Module):
    r"""Pixel encoder :math:`E` and the transition :math:`z \mapsto z + C(z)`; ``core`` is frozen when
    ``freeze_core``.

    The encoder is a :class:`~neurolatent.methods.common.SmallCNN` on the frame pair ``(n, 2, size, size)``
    with two coordinate channels appended (CoordConv, Liu et al. 2018), so that its global pooling can
    still report where the balls are.
    """

    def __init__(self, core: nn.Module, latent_dim: int, *, channels=(8, 16), freeze_core: bool = True,
                 seed: int | None = 0, device=None, dtype=None):
        super().__init__()
        self.cnn = SmallCNN(4, tuple(channels), latent_dim, seed=seed, device=device, dtype=dtype)
        self.core = core
        if freeze_core:
            for p in self.core.parameters():
                p.requires_grad_(False)

    def predict(self, z: torch.Tensor) -> torch.Tensor:
        """:math:`\\hat z_{t+1} = z_t + C(z_t)`."""
        return z + self.core(z)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """:math:`z_t = E(x_t)`, ``(n, latent_dim)``."""
        n, _, h, w = x.shape
        gy, gx = torch.meshgrid(torch.linspace(-1, 1, h, device=x.device, dtype=x.dtype),
                                torch.linspace(-1, 1, w, device=x.device, dtype=x.dtype), indexing="ij")
        return self.cnn(torch.cat([x, gx.expand(n, 1, h, w), gy.expand(n, 1, h, w)], 1))


def train_rmr(world: BouncingBalls, processor: Processor | None = None, *, latent_dim: int = 32, hidden: int = 64,
              channels: tuple[int, ...] = (8, 16),
              temperature: float = 1.0, epochs: int = 30, batch_size: int = 64, lr: float = 1e-3, seed: int = 0,
              device=None) -> tuple[RMRModel, dict[str, list]]:
    r"""Contrastive pixel-to-latent training with the processor's core frozen (``processor`` given) or a
    fresh, trainable core of the same shape (``processor=None``, the baseline; ``hidden`` is its width).

    Loss per batch: cross-entropy of the logits :math:`-\|\hat z_{t+1,i} - z_{t+1,j}\|^2/\tau` with
    target :math:`j = i`.

    Examples
    --------
    >>> from neurolatent.methods.ssl.physics import bouncing_balls
    >>> w = bouncing_balls(4, 6, size=12)
    >>> model, h = train_rmr(w, None, latent_dim=8, hidden=16, epochs=1)
    >>> len(h["loss"])
    1
    """
    if not isinstance(world, BouncingBalls):
        raise TypeError(f"world must be a BouncingBalls (bouncing_balls(...)), got {type(world).__name__}")
    if processor is not None:
        if processor.core.blocks[0].layer.in_features != latent_dim:
            raise ValueError(f"latent_dim={latent_dim} but the processor's core works in "
                             f"{processor.core.blocks[0].layer.in_features} dimensions; pass that latent_dim")
        core = copy.deepcopy(processor.core)
    else:
        core = MLP(latent_dim, (hidden,), latent_dim, seed=None if seed is None else seed + 17)
    dev = resolve_device(device, world.frames)
    x_t, x_n, _, _ = frame_pairs(world)
    x_t, x_n = x_t.to(dev), x_n.to(dev)
    model = RMRModel(core.to(device=dev, dtype=x_t.dtype), latent_dim, channels=channels,
                     freeze_core=processor is not None, seed=seed, device=dev, dtype=x_t.dtype)
    opt = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr)
    gen = make_generator(seed)
    n = x_t.shape[0]
    hist: dict[str, list] = {"epoch": [], "loss": []}
    for epoch in range(epochs):
        order = torch.randperm(n, generator=gen).to(dev)
        total, count = 0.0, 0
        for i in range(0, n, batch_size):
            idx = order[i:i + batch_size]
            if idx.numel() < 2:
                continue
            opt.zero_grad(set_to_none=True)
            pred = model.predict(model(x_t[idx]))
            logits = -torch.cdist(pred, model(x_n[idx])) ** 2 / temperature
            loss = F.cross_entropy(logits, torch.arange(idx.numel(), device=dev))
            loss.backward()
            opt.step()
            total += float(loss.detach()) * idx.numel()
            count += idx.numel()
        hist["epoch"].append(epoch)
        hist["loss"].append(total / max(count, 1))
    return model, hist


def _ridge_r2(ftr, ytr, fte, yte, l2=1e-3) -> float:
    mu, sd = ftr.mean(0), ftr.std(0).clamp_min(1e-8)
    a, b = (ftr - mu) / sd, (fte - mu) / sd
    ym = ytr.mean(0)
    w = torch.linalg.solve(a.T @ a + l2 * a.shape[0] * torch.eye(a.shape[1], dtype=a.dtype), a.T @ (ytr - ym))
    pred = b @ w + ym
    return float(1 - ((pred - yte) ** 2).sum() / ((yte - yte.mean(0)) ** 2).sum())


@torch.no_grad()
def state_probe(model: RMRModel, train_world: BouncingBalls, test_world: BouncingBalls, *,
                l2: float = 1e-3) -> dict[str, float]:
    r"""Linear read-out of the true state from frozen features (ridge, standardised, float64).

    Fitted on ``train_world``'s frames, scored on ``test_world``'s: ``state_r2`` (:math:`s_t` from
    :math:`z_t`) and ``next_state_r2`` (:math:`s_{t+1}` from :math:`\hat z_{t+1}`), each the pooled
    :math:`R^2 = 1 - \sum (\hat s - s)^2 / \sum (s - \bar s)^2` over all state coordinates.
    """
    model.eval()
    dev = next(model.parameters()).device
    feats = {}
    for name, w in (("train", train_world), ("test", test_world)):
        x_t, _, s_t, s_n = frame_pairs(w)
        z = model(x_t.to(dev))
        feats[name] = (z.double().cpu(), model.predict(z).double().cpu(), s_t.double().cpu(), s_n.double().cpu())
    model.train()
    (ztr, ptr, str_, ntr), (zte, pte, ste, nte) = feats["train"], feats["test"]
    return {"state_r2": _ridge_r2(ztr, str_, zte, ste, l2), "next_state_r2": _ridge_r2(ptr, ntr, pte, nte, l2)}
