r"""Exact natural gradient / exact Gauss-Newton on small networks, through ``torch.func``.

For a network :math:`f_\theta: \mathbb R^{d} \to \mathbb R^{C}` and a batch :math:`x_{1..N}`, let
:math:`J_n = \partial f_\theta(x_n)/\partial\theta \in \mathbb R^{C\times P}` and :math:`H_n` the Hessian of
the per-sample loss with respect to the outputs. The generalised Gauss-Newton matrix

.. math:: F = \frac1N \sum_n J_n^\top H_n J_n

equals the Fisher information for softmax cross-entropy (:math:`H_n = \operatorname{diag} p_n - p_n p_n^\top`,
the model's own predictive distribution, no labels needed) and the Gauss-Newton matrix for the squared
error :math:`\tfrac12\lVert f - t\rVert^2` (:math:`H_n = I`). With :math:`H_n = S_n S_n^\top`
(:math:`S_n = \operatorname{diag}\sqrt{p_n} - p_n\sqrt{p_n}^\top` for softmax) and the stacked
:math:`\hat J = [S_n^\top J_n]_n \in \mathbb R^{NC\times P}`, the damped step is

.. math:: \Delta\theta = -\eta\,(F + \lambda I)^{-1} g
          = -\frac{\eta}{\lambda}\Big(g - \hat J^\top (N\lambda I + \hat J\hat J^\top)^{-1}\hat J g\Big),

the second (Woodbury) form being used when :math:`NC < P`. Everything is computed in float64 and cast
back. This is exact and therefore only for small networks (the Jacobian has :math:`NCP` entries).
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import nn
from torch.func import functional_call, jacrev, jvp, vjp, vmap

from ._base import InputRecorder, check_nonneg, check_policy, check_positive, gradients_finite, run_closure

__all__ = ["ExactNaturalGradient", "fisher_matrix", "fisher_vector_product", "flat_grad"]

_LOSSES = ("cross_entropy", "mse")


def _check_loss(loss: str, owner: str) -> str:
    if loss not in _LOSSES:
        raise ValueError(f"{owner}: loss must be one of {_LOSSES}, got {loss!r}")
    return loss


def _trainable(model: nn.Module) -> dict[str, torch.Tensor]:
    return {k: p for k, p in model.named_parameters() if p.requires_grad}


def _output_sqrt(out: torch.Tensor, loss: str) -> Callable[[torch.Tensor], torch.Tensor]:
    """Map ``v`` of shape ``(N, C, ...)`` to :math:`S_n^\\top v_n` (the output-Hessian square root)."""
    if loss == "mse":
        return lambda v: v
    p = torch.softmax(out.detach(), dim=-1)
    sq = p.sqrt()

    def apply(v: torch.Tensor) -> torch.Tensor:
        shape = (p.shape[0], p.shape[1]) + (1,) * (v.dim() - 2)
        pv = (p.reshape(shape) * v).sum(1, keepdim=True)
        return sq.reshape(shape) * v - sq.reshape(shape) * pv

    return apply


def _output_hessian(out: torch.Tensor, loss: str) -> Callable[[torch.Tensor], torch.Tensor]:
    if loss == "mse":
        return lambda v: v
    p = torch.softmax(out.detach(), dim=-1)
    return lambda v: p * v - p * (p * v).sum(-1, keepdim=True)


def _scaled_jacobian(model: nn.Module, x: torch.Tensor, loss: str,
                     params: dict[str, torch.Tensor]) -> torch.Tensor:
    """:math:`\\hat J` of shape ``(N*C, P)`` in the parameters' order of ``params``."""
    detached = {k: v.detach() for k, v in params.items()}
    with torch.no_grad():
        out = functional_call(model, detached, (x,))
    if out.dim() != 2:
        raise ValueError(f"exact natural gradient needs outputs of shape (N, C), got {tuple(out.shape)}")
    # Per-sample Jacobians (vmap over samples of a one-sample jacrev): N*C one-sample backward passes
    # instead of N*C passes through the whole batch. Assumes no cross-sample coupling (no BatchNorm).
    one = lambda ps, xi: functional_call(model, ps, (xi.unsqueeze(0),)).squeeze(0)  # noqa: E731
    jac = vmap(jacrev(one), in_dims=(None, 0))(detached, x)
    flat = torch.cat([jac[k].reshape(out.shape[0], out.shape[1], -1) for k in params], dim=2)
    return _output_sqrt(out, loss)(flat).reshape(out.shape[0] * out.shape[1], -1)


def fisher_matrix(model: nn.Module, x: torch.Tensor, *, loss: str = "cross_entropy",
                  dtype: torch.dtype = torch.float64) -> torch.Tensor:
    r"""The exact Fisher / Gauss-Newton matrix :math:`F = \frac1N\sum_n J_n^\top H_n J_n` of ``model`` at ``x``.

    Parameters
    ----------
    model : nn.Module
        Outputs of shape ``(N, C)``; its trainable parameters define the order of the rows/columns
        (``model.named_parameters()`` order, each flattened row-major).
    x : Tensor, shape ``(N, ...)``
    loss : {"cross_entropy", "mse"}
    dtype : torch.dtype
        Type of the returned matrix.

    Returns
    -------
    Tensor, shape ``(P, P)``

    Examples
    --------
    >>> net = nn.Linear(3, 2)
    >>> fisher_matrix(net, torch.randn(5, 3)).shape
    torch.Size([8, 8])
    """
    _check_loss(loss, "fisher_matrix")
    jh = _scaled_jacobian(model, x, loss, _trainable(model)).to(dtype)
    return jh.T @ jh / x.shape[0]


def fisher_vector_product(model: nn.Module, x: torch.Tensor, vector: dict[str, torch.Tensor], *,
                          loss: str = "cross_entropy") -> dict[str, torch.Tensor]:
    r""":math:`F v` without forming :math:`F`: one forward-mode and one reverse-mode pass.

    ``vector`` maps (some of) the trainable parameter names to tangents of the same shapes; the
    product is taken with the Fisher restricted to those parameters and returned in the same form.
    """
    _check_loss(loss, "fisher_vector_product")
    params = {k: v.detach() for k, v in model.named_parameters() if k in vector}
    missing = set(vector) - set(params)
    if missing:
        raise KeyError(f"fisher_vector_product: {sorted(missing)} are not parameters of the model")
    fn = lambda ps: functional_call(model, ps, (x,))  # noqa: E731
    tangent = {k: vector[k].to(params[k]) for k in params}
    out, jv = jvp(fn, (params,), (tangent,))
    hjv = _output_hessian(out, loss)(jv) / x.shape[0]
    _, pull = vjp(fn, params)
    return pull(hjv)[0]


def flat_grad(params: list[torch.Tensor]) -> torch.Tensor:
    return torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in params])


class ExactNaturalGradient(torch.optim.Optimizer):
    r"""Damped exact natural-gradient (softmax CE) or Gauss-Newton (MSE) step per minibatch.

    :math:`\Delta\theta = -\eta (F + \lambda I)^{-1} g` with the exact :math:`F` of the current batch
    (module docstring). The batch is the input of the model's most recent training-mode forward pass
    (recorded by a forward hook that ignores the optimiser's own re-runs), so the usual ``opt.step(closure)`` / ``loss.backward(); opt.step()``
    loop works unchanged.

    Parameters
    ----------
    model : nn.Module
        A small network with outputs ``(N, C)`` (any layer types; no BatchNorm in training mode).
    lr : float
        Step size :math:`\eta` (1 is the full Gauss-Newton step).
    damping : float
        :math:`\lambda > 0`.
    loss : {"cross_entropy", "mse"}
        Which output Hessian :math:`H_n` defines :math:`F` (``"mse"``: :math:`\tfrac12\lVert f-t\rVert^2`
        summed over outputs, averaged over the batch).
    momentum : float
        Heavy-ball momentum on the preconditioned direction.
    nonfinite : {"skip", "raise"}
        Non-finite gradients: skip with a ``RuntimeWarning`` or raise ``FloatingPointError``.

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> net = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3))
    >>> opt = ExactNaturalGradient(net, lr=0.2, damping=0.1)
    >>> x, y = torch.randn(8, 4), torch.randint(0, 3, (8,))
    >>> opt.zero_grad(); loss = nn.functional.cross_entropy(net(x), y); loss.backward(); opt.step()
    >>> nn.functional.cross_entropy(net(x), y).item() < loss.item()
    True
    """

    def __init__(self, model: nn.Module, lr: float = 1.0, damping: float = 1e-3, *, loss: str = "cross_entropy",
                 momentum: float = 0.0, nonfinite: str = "skip"):
        owner = type(self).__name__
        if not isinstance(model, nn.Module):
            raise TypeError(f"{owner} needs the model (an nn.Module), got {type(model).__name__}")
        lr = check_positive(lr, "lr", owner)
        damping = check_positive(damping, "damping", owner)
        check_nonneg(momentum, "momentum", owner, upper=1.0)
        self.loss = _check_loss(loss, owner)
        self.nonfinite = check_policy(nonfinite, owner)
        self.model = model
        self.named = _trainable(model)
        super().__init__(list(self.named.values()), dict(lr=lr, damping=damping, momentum=momentum))
        self._inputs = InputRecorder(model)

    def remove_hooks(self) -> None:
        self._inputs.remove()

    def direction(self, x: torch.Tensor, grad: torch.Tensor, damping: float) -> torch.Tensor:
        r""":math:`(F + \lambda I)^{-1} g` for the batch ``x`` and flat gradient ``grad`` (float64 inside)."""
        with self._inputs.paused():  # the re-runs below are the optimiser's, not a new batch
            jh = _scaled_jacobian(self.model, x, self.loss, self.named).to(torch.float64)
        g = grad.to(torch.float64)
        n = x.shape[0]
        if jh.shape[0] < jh.shape[1]:  # Woodbury: an (NC x NC) system instead of (P x P)
            k = jh @ jh.T
            k.diagonal().add_(n * damping)
            d = (g - jh.T @ torch.linalg.solve(k, jh @ g)) / damping
        else:
            f = jh.T @ jh / n
            f.diagonal().add_(damping)
            d = torch.linalg.solve(f, g)
        return d.to(grad.dtype)

    @torch.no_grad()
    def step(self, closure=None):
        loss = run_closure(closure)
        group = self.param_groups[0]
        params = group["params"]
        if not gradients_finite(list(self.named.items()), self.nonfinite, type(self).__name__):
            return loss
        if self._inputs.x is None:
            raise RuntimeError(f"{type(self).__name__}: no batch recorded; run the model in training mode "
                               "(model.train()) with gradients enabled before step()")
        with torch.enable_grad():
            d = self.direction(self._inputs.x, flat_grad(params), group["damping"])
        if group["momentum"] > 0:
            buf = self.state["_global"].get("buf")
            d = d if buf is None else buf.mul_(group["momentum"]).add_(d)
            self.state["_global"]["buf"] = d
        i = 0
        for p in params:
            p.add_(d[i:i + p.numel()].view_as(p), alpha=-group["lr"])
            i += p.numel()
        return loss
