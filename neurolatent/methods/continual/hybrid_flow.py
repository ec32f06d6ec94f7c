r"""A normalizing flow with a Gaussian-mixture base, one component per (task, class) (Kirichenko et al. 2021).

The model of "Task-agnostic continual learning with hybrid probabilistic models" (HCL) maps an
input through an invertible flow :math:`z = f_\theta(x)` (:class:`~.flows.RealNVP`) and gives each
(task :math:`t`, class :math:`y`) pair a unit-covariance Gaussian component in latent space:

.. math::

    \log p_\theta(x \mid t, y) = \log \mathcal N\bigl(f_\theta(x);\ \mu_{t,y},\ I\bigr)
        + \log\bigl\lvert\det \partial f_\theta(x) / \partial x\bigr\rvert .

Classification is by exact likelihood with a uniform prior over the components seen so far:
:math:`p(y \mid x) \propto \sum_{t} p_\theta(x \mid t, y)` over the tasks in which class
:math:`y` has a component. The means are fixed, drawn once as :math:`\mu \sim \mathcal N(0,
\sigma_\mu^2 I)` from the model's seed when the component is created (as in the flow Gaussian
mixture of Izmailov et al. 2020 with fixed means), so a component never drifts and the classes
stay separated in latent space; only the flow learns. Samples of a component are
:math:`x = f_\theta^{-1}(\mu_{t,y} + \tau\varepsilon)`, :math:`\varepsilon \sim \mathcal N(0, I)`.
"""
from __future__ import annotations

import math

import torch
from torch import nn

from ..._utils import make_generator, resolve_device
from .flows import RealNVP

__all__ = ["HybridFlow"]

_LOG2PI = math.log(2 * math.pi)


class HybridFlow(nn.Module):
    r"""Flow :math:`f_\theta` plus fixed Gaussian components :math:`\mu_{t,y}` (one per task and class).

    Parameters
    ----------
    dim : int
        Input dimension :math:`D` (inputs of shape ``(n, D)``).
    n_classes : int
        Number of class labels ``0 ... n_classes-1`` (the width of :meth:`forward`'s output).
    n_couplings, hidden : int
        Size of the :class:`~neurolatent.methods.continual.RealNVP`.
    mean_scale : float
        :math:`\sigma_\mu`, the scale of the random component means (pairwise distances are about
        :math:`\sigma_\mu \sqrt{2D}`).
    seed : int
        Seeds the flow's weights and the component means.
    device, dtype
        Where and in which floating type the model lives.

    Attributes
    ----------
    means : Tensor, shape ``(K, D)``
        The component means, in order of creation.
    component_task, component_class : Tensor, shape ``(K,)``
        Task and class of each component.

    Examples
    --------
    >>> model = HybridFlow(4, 3, hidden=8, seed=0)
    >>> model.add_components(0, [0, 1])
    [0, 1]
    >>> x = torch.randn(5, 4)
    >>> model(x).shape, bool(torch.isinf(model(x)[:, 2]).all())  # class 2 has no component yet
    (torch.Size([5, 3]), True)
    """

    def __init__(self, dim: int, n_classes: int, *, n_couplings: int = 4, hidden: int = 64,
                 mean_scale: float = 1.0, seed: int = 0, device=None, dtype: torch.dtype = torch.float32):
        super().__init__()
        if int(n_classes) < 1:
            raise ValueError(f"n_classes must be at least 1, got {n_classes}")
        if not mean_scale > 0:
            raise ValueError(f"mean_scale must be positive, got {mean_scale}")
        dev = resolve_device(device)
        self.dim, self.n_classes, self.mean_scale, self.seed = int(dim), int(n_classes), float(mean_scale), int(seed)
        self.flow = RealNVP(self.dim, n_couplings, hidden, seed=seed, device=dev, dtype=dtype)
        self._mean_gen = make_generator(seed + 7919)
        self.register_buffer("means", torch.zeros(0, self.dim, device=dev, dtype=dtype))
        self.register_buffer("component_task", torch.zeros(0, dtype=torch.int64, device=dev))
        self.register_buffer("component_class", torch.zeros(0, dtype=torch.int64, device=dev))

    # -- components -------------------------------------------------------------------------------
    @property
    def n_components(self) -> int:
        """Number of components :math:`K` created so far."""
        return int(self.means.shape[0])

    def component(self, task: int, label: int) -> int | None:
        """Index of the component of ``(task, label)``, or ``None`` when it does not exist."""
        hit = ((self.component_task == int(task)) & (self.component_class == int(label))).nonzero()
        return int(hit[0, 0]) if hit.numel() else None

    def add_components(self, task: int, labels) -> list[int]:
        """Create the components of ``(task, y)`` for each ``y`` in ``labels`` that lacks one.

        Returns
        -------
        list of int
            The component index of each label, in the order given.
        """
        out = []
        for y in [int(v) for v in torch.as_tensor(labels).flatten().tolist()]:
            if not 0 <= y < self.n_classes:
                raise ValueError(f"label {y} is outside 0 ... {self.n_classes - 1}; build the HybridFlow with "
                                 f"n_classes >= {y + 1}")
            k = self.component(task, y)
            if k is None:
                mu = torch.randn(1, self.dim, generator=self._mean_gen, dtype=torch.float64) * self.mean_scale
                self.means = torch.cat([self.means, mu.to(self.means)])
                self.component_task = torch.cat([self.component_task, self.component_task.new_tensor([int(task)])])
                self.component_class = torch.cat([self.component_class, self.component_class.new_tensor([y])])
                k = self.n_components - 1
            out.append(k)
        return out

    def components_of(self, y: torch.Tensor, task: int) -> torch.Tensor:
        """Component indices of labels ``y`` (shape ``(n,)``) in ``task``; every pair must exist."""
        table = torch.full((self.n_classes,), -1, dtype=torch.int64, device=self.means.device)
        mine = (self.component_task == int(task)).nonzero().flatten()
        table[self.component_class[mine]] = mine
        idx = table[y.to(table.device)]
        if bool((idx < 0).any()):
            missing = sorted(set(y[idx < 0].tolist()))
            raise ValueError(f"classes {missing} have no component in task {task}; call add_components({task}, "
                             f"{missing}) first")
        return idx

    # -- densities --------------------------------------------------------------------------------
    def component_log_prob(self, x: torch.Tensor) -> torch.Tensor:
        r""":math:`\log p(x \mid t_k, y_k)` for every component :math:`k`, shape ``(n, K)``."""
        z, logdet = self.flow(x)
        return self.latent_log_prob(z) + logdet[:, None]

    def latent_log_prob(self, z: torch.Tensor) -> torch.Tensor:
        r""":math:`\log \mathcal N(z; \mu_k, I)` for every component, shape ``(n, K)``."""
        sq = (z[:, None, :] - self.means[None]).pow(2).sum(-1)
        return -0.5 * (sq + self.dim * _LOG2PI)

    def log_prob(self, x: torch.Tensor, y: torch.Tensor, task: int) -> torch.Tensor:
        r""":math:`\log p(x \mid t, y)` of each row with its label, shape ``(n,)``."""
        z, logdet = self.flow(x)
        mu = self.means[self.components_of(y, task)]
        return -0.5 * ((z - mu).pow(2).sum(-1) + self.dim * _LOG2PI) + logdet

    def task_log_prob(self, x: torch.Tensor, task: int) -> torch.Tensor:
        r""":math:`\log p(x \mid t) = \log \frac1{K_t}\sum_{k \in t} p(x \mid k)`, shape ``(n,)``.

        The task's :math:`K_t` components (one per class) are weighted equally.
        """
        mine = (self.component_task == int(task)).nonzero().flatten()
        if mine.numel() == 0:
            raise ValueError(f"task {task} has no components yet")
        lp = self.component_log_prob(x)[:, mine]
        return torch.logsumexp(lp, dim=1) - math.log(mine.numel())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        r"""Class log-likelihoods :math:`\log \frac1{T_y}\sum_t p(x \mid t, y)`, shape ``(n, n_classes)``.

        Classes without a component get :math:`-\infty`; ``forward(x).argmax(1)`` is the
        maximum-likelihood class (:meth:`predict`).
        """
        lp = self.component_log_prob(x)
        out = lp.new_full((x.shape[0], self.n_classes), -math.inf)
        for c in self.component_class.unique().tolist():
            cols = (self.component_class == c).nonzero().flatten()
            out[:, c] = torch.logsumexp(lp[:, cols], dim=1) - math.log(cols.numel())
        return out

    @torch.no_grad()
    def predict(self, x: torch.Tensor, batch_size: int = 1024) -> torch.Tensor:
        """Maximum-likelihood class of each row, shape ``(n,)`` (needs at least one component)."""
        if self.n_components == 0:
            raise ValueError("the model has no components yet: add_components(task, labels) before predicting")
        return torch.cat([self(x[i:i + batch_size]).argmax(1) for i in range(0, x.shape[0], batch_size)])

    @torch.no_grad()
    def sample(self, components: torch.Tensor, *, temperature: float = 1.0,
               generator: torch.Generator | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        r"""Draw :math:`x = f^{-1}(\mu_k + \tau \varepsilon)` for each component index in ``components``.

        Returns
        -------
        x, z : Tensor, shape ``(n, D)``
            The samples and their latent codes (``f(x) == z`` up to round-off).
        """
        components = torch.as_tensor(components, device=self.means.device)
        eps = torch.randn(components.shape[0], self.dim, generator=generator, device=generator.device
                          if generator is not None else "cpu", dtype=self.means.dtype).to(self.means.device)
        z = self.means[components] + float(temperature) * eps
        return self.flow.inverse(z), z

    def extra_repr(self) -> str:
        return f"dim={self.dim}, n_classes={self.n_classes}, components={self.n_components}"
