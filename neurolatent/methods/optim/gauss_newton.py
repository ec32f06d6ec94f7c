r"""Exact Gauss-Newton for squared error without forming the Jacobian (layer-wise Gram form).

For a network whose trainable parameters all sit in ``nn.Linear`` layers and that treats the samples
of a batch independently, the Jacobian of the outputs :math:`f \in \mathbb R^{NC}` with respect to a
layer's weight :math:`[W\ b] \in \mathbb R^{d\times(h+1)}` has rows
:math:`\partial f_{nc}/\partial [W\ b] = \beta_{nc}\, a_n^\top`, where :math:`a_n = [x_n; 1]` is the layer's
input for sample :math:`n` and :math:`\beta_{nc} = \partial f_{nc}/\partial s_n \in \mathbb R^{d}` the
back-propagated sensitivity of output :math:`c` to the layer's pre-activation :math:`s_n`. Hence the
empirical neural-tangent kernel of the batch is a sum of layer-wise Gram products

.. math:: K_{(n,c),(m,c')} = (J J^\top)_{(n,c),(m,c')} = \sum_\ell (a^\ell_n \cdot a^\ell_m)\,
          (\beta^\ell_{nc} \cdot \beta^\ell_{mc'}),

which costs :math:`C` backward passes of the batch (one per output) and no :math:`NC\times P` Jacobian.
For the loss :math:`\tfrac1{2N}\sum_n\lVert f_n - t_n\rVert^2` with gradient :math:`g = J^\top r / N`, the
damped Gauss-Newton step is, by the Woodbury identity,

.. math:: \Delta\theta = -\eta\,(J^\top J/N + \lambda I)^{-1} g = -\eta\, J^\top (K + N\lambda I)^{-1} r
          \;\xrightarrow{\lambda\to 0}\; -\eta\, J^{+} r \quad(\text{J of full row rank}),

and :math:`J^\top \alpha` is assembled per layer as :math:`\Delta [W\ b] = \sum_{n,c}\alpha_{nc}\beta_{nc} a_n^\top`.
The residual enters as the gradient of the loss with respect to the network's outputs,
:math:`e = \partial\mathcal L/\partial f = r/N`, recorded by a hook during the usual ``loss.backward()``, so
:math:`\Delta\theta = -\eta\,J^\top (K + N\lambda I)^{-1} N e` with no :math:`1/\lambda` cancellation. It is the
update of :class:`~neurolatent.methods.optim.natural_gradient.ExactNaturalGradient` with ``loss="mse"``
(equal to float64 round-off, tested) at the cost of :math:`C` backward passes plus
:math:`O(L N^2 (h + C d) + (NC)^3)` arithmetic, instead of :math:`NC` per-sample backward passes and an
:math:`NC\times P` Jacobian. For other losses it is the Gauss-Newton step with an identity output
Hessian, i.e. the minimum-norm parameter step that moves the outputs by :math:`-\eta N e` to first order.
"""
from __future__ import annotations

import torch
from torch import nn

from ._base import (InputRecorder, check_nonneg, check_policy, check_positive, gradients_finite, run_closure,
                    split_layers)

__all__ = ["GaussNewton", "gauss_newton_kernel"]


def _layer_factors(model: nn.Module, layers: list[nn.Linear], x: torch.Tensor
                   ) -> tuple[torch.Tensor, list[torch.Tensor], list[torch.Tensor]]:
    """Outputs ``(N, C)``, per-layer inputs ``a`` ``(N, h[+1])`` and sensitivities ``beta`` ``(C, N, d)``.

    All in float64. Runs one forward pass of ``x`` and ``C`` backward passes (one per output).
    """
    inputs: dict[nn.Module, torch.Tensor] = {}
    outputs: dict[nn.Module, torch.Tensor] = {}

    def hook(mod, inp, out):
        if inp[0].dim() != 2:
            raise ValueError(f"GaussNewton: Linear layers must see inputs of shape (N, features), got "
                             f"{tuple(inp[0].shape)}; flatten the extra axes before the layer")
        inputs[mod], outputs[mod] = inp[0].detach(), out

    handles = [m.register_forward_hook(hook) for m in layers]
    try:
        with torch.enable_grad():
            out = model(x)
    finally:
        for h in handles:
            h.remove()
    if out.dim() != 2:
        raise ValueError(f"GaussNewton needs outputs of shape (N, C), got {tuple(out.shape)}")
    missing = [type(m).__name__ for m in layers if m not in outputs]
    if missing:
        raise RuntimeError("GaussNewton: some Linear layers were not used in the forward pass; freeze their "
                           "parameters (requires_grad=False) or remove them")
    outs = [outputs[m] for m in layers]
    n, c = out.shape
    betas = [torch.empty(c, n, m.out_features, dtype=torch.float64, device=out.device) for m in layers]
    for k in range(c):
        # Samples do not interact, so the gradient of sum_n f_nk w.r.t. s_n is beta_{nk} for every n at once.
        with torch.enable_grad():
            grads = torch.autograd.grad(out[:, k].sum(), outs, retain_graph=k < c - 1, allow_unused=True)
        for b, g in zip(betas, grads):
            b[k] = 0.0 if g is None else g.to(torch.float64)
    acts = []
    for m in layers:
        a = inputs[m].to(torch.float64)
        if m.bias is not None:
            a = torch.cat([a, a.new_ones(a.shape[0], 1)], 1)
        acts.append(a)
    return out.detach(), acts, betas


def gauss_newton_kernel(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    r"""The batch's empirical NTK :math:`K = J J^\top`, shape ``(N*C, N*C)`` (row ``n*C + c``), float64.

    ``model``'s trainable parameters must all sit in ``nn.Linear`` layers (TypeError otherwise) and the
    samples must not interact (no BatchNorm in training mode).

    Examples
    --------
    >>> net = nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 2))
    >>> gauss_newton_kernel(net, torch.randn(4, 3)).shape
    torch.Size([8, 8])
    """
    layers, _ = split_layers(model, "gauss_newton_kernel", "raise", supported=(nn.Linear,))
    out, acts, betas = _layer_factors(model, layers, x)
    return _kernel(acts, betas)


def _kernel(acts: list[torch.Tensor], betas: list[torch.Tensor]) -> torch.Tensor:
    c, n = betas[0].shape[:2]
    k = torch.zeros(n, c, n, c, dtype=torch.float64, device=acts[0].device)
    for a, b in zip(acts, betas):
        k += (a @ a.T)[:, None, :, None] * torch.einsum("cnd,emd->ncme", b, b)
    return k.reshape(n * c, n * c)


class GaussNewton(torch.optim.Optimizer):
    r"""Exact damped Gauss-Newton step for one-hot squared error, from layer-wise Gram matrices.

    :math:`\Delta\theta = -\eta\,J^\top (K + N\lambda I)^{-1} r` (module docstring): with ``lr = 1`` and
    :math:`\lambda\to 0` each step fits the current minibatch of the linearised network exactly (the
    minimum-norm, Moore-Penrose step :math:`-J^{+} r`). Train with
    :func:`~neurolatent.methods.optim.reversible.onehot_mse` (or any
    :math:`\tfrac1{2N}\sum_n\lVert f_n - t_n\rVert^2`); the batch is the input of the model's most recent
    training-mode forward pass.

    Parameters
    ----------
    model : nn.Module
        Every module owning trainable parameters must be ``nn.Linear`` (TypeError naming the layer type
        otherwise); outputs ``(N, C)``; samples must not interact.
    lr : float
        :math:`\eta > 0` (1 is the full step).
    damping : float
        :math:`\lambda > 0`.
    momentum : float
        Heavy-ball momentum on the step direction, in ``[0, 1)``.
    nonfinite : {"skip", "raise"}
        Non-finite gradients: skip the step with a ``RuntimeWarning`` or raise ``FloatingPointError``.

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> net = nn.Sequential(nn.Linear(4, 32), nn.Tanh(), nn.Linear(32, 3))
    >>> opt = GaussNewton(net, lr=1.0, damping=1e-8)
    >>> x, t = torch.randn(6, 4), torch.randn(6, 3)
    >>> for _ in range(4):  # Gauss-Newton iterations on one batch: quadratic convergence once close
    ...     opt.zero_grad(); loss = 0.5 * ((net(x) - t) ** 2).sum(1).mean(); loss.backward(); opt.step()
    >>> bool(0.5 * ((net(x) - t) ** 2).sum(1).mean() < 1e-4)
    True
    """

    def __init__(self, model: nn.Module, lr: float = 1.0, damping: float = 1e-6, *, momentum: float = 0.0,
                 nonfinite: str = "skip"):
        owner = type(self).__name__
        lr = check_positive(lr, "lr", owner)
        damping = check_positive(damping, "damping", owner)
        check_nonneg(momentum, "momentum", owner, upper=1.0)
        self.nonfinite = check_policy(nonfinite, owner)
        layers, _ = split_layers(model, owner, "raise", supported=(nn.Linear,))
        params = [p for m in layers for p in m.parameters(recurse=False) if p.requires_grad]
        super().__init__(params, dict(lr=lr, damping=damping, momentum=momentum))
        for m in layers:
            if not m.weight.requires_grad or (m.bias is not None and not m.bias.requires_grad):
                raise ValueError(f"{owner}: freeze whole Linear layers (weight and bias together), not one of them")
        self.model, self.layers = model, layers
        self._recorder = InputRecorder(model, output_grad=True)

    def remove_hooks(self) -> None:
        self._recorder.remove()

    def direction(self, x: torch.Tensor, out_grad: torch.Tensor, damping: float) -> list[torch.Tensor]:
        r""":math:`J^\top (K + N\lambda I)^{-1} N e` per layer as ``(d, h[+1])`` matrices (float64).

        ``out_grad`` is :math:`e = \partial\mathcal L/\partial f`, shape ``(N, C)`` (``r / N`` for
        :func:`onehot_mse`); the result equals :math:`(J^\top J/N + \lambda I)^{-1} J^\top e`.
        """
        with self._recorder.paused():  # the re-run below must not overwrite the recorded batch
            _, acts, betas = _layer_factors(self.model, self.layers, x)
        c, n = betas[0].shape[:2]
        if tuple(out_grad.shape) != (n, c):
            raise ValueError(f"GaussNewton: the output gradient has shape {tuple(out_grad.shape)}, expected {(n, c)}")
        k = _kernel(acts, betas)
        k.diagonal().add_(n * damping)
        alpha = torch.linalg.solve(k, n * out_grad.to(torch.float64).reshape(-1)).reshape(n, c)
        return [torch.einsum("nc,cnd,nh->dh", alpha, b, a) for a, b in zip(acts, betas)]

    @torch.no_grad()
    def step(self, closure=None):
        loss = run_closure(closure)
        group = self.param_groups[0]
        named = [(f"{type(m).__name__}#{i}.{k}", p) for i, m in enumerate(self.layers)
                 for k, p in m.named_parameters(recurse=False)]
        if not gradients_finite(named, self.nonfinite, type(self).__name__):
            return loss
        rec = self._recorder
        if rec.x is None or rec.out_grad is None:
            raise RuntimeError(f"{type(self).__name__}: no batch recorded; run the model in training mode "
                               "(model.train()) and back-propagate the loss before step()")
        dirs = self.direction(rec.x, rec.out_grad, group["damping"])
        rec.out_grad = None  # a step needs a fresh backward pass
        for m, d in zip(self.layers, dirs):
            d = d.to(m.weight.dtype)  # buffers in the parameters' type, as torch's state_dict expects
            if group["momentum"] > 0:
                st = self.state[m.weight]
                buf = st.get("gn_buffer")
                d = d if buf is None else buf.mul_(group["momentum"]).add_(d)
                st["gn_buffer"] = d
            w = d[:, : m.in_features] if m.bias is not None else d
            m.weight.sub_(group["lr"] * w)
            if m.bias is not None:
                m.bias.sub_(group["lr"] * d[:, -1])
        return loss
