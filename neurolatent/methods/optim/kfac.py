r"""KFAC and FOOF: Kronecker-factored curvature from layer statistics (Martens & Grosse 2015; Benzing 2022).

For a layer with weight :math:`W \in \mathbb R^{d_\mathrm{out}\times d_\mathrm{in}}` (the bias is
appended as a last input column, :math:`a = [x; 1]`), per-sample inputs :math:`a_n` and
back-propagated output gradients :math:`g_n = N\,\partial \ell / \partial s_n` of the pre-activations
:math:`s_n = W a_n` (the factor :math:`N` undoes the ``mean`` over the batch), KFAC approximates the
layer's Fisher block by :math:`F \approx A \otimes G` with

.. math:: A = \tfrac1N \textstyle\sum_n a_n a_n^\top, \qquad G = \tfrac1N \textstyle\sum_n g_n g_n^\top,

both kept as exponential moving averages. With the gradient matrix :math:`\nabla_W`,

* **KFAC** uses factored Tikhonov damping :math:`\gamma = \sqrt\lambda`,
  :math:`\pi = \sqrt{(\operatorname{tr}A/d_A)/(\operatorname{tr}G/d_G)}`:

  .. math:: \Delta W = -\eta\,(G + \gamma\pi^{-1} I)^{-1}\,\nabla_W\,(A + \gamma\pi I)^{-1}.

* **FOOF** ("first-order optimiser on neurons", Benzing 2022) keeps only the input factor,
  i.e. it is gradient descent on the neurons' pre-activations solved by least squares:

  .. math:: \Delta W = -\eta\,\nabla_W\,(A + \lambda I)^{-1}
            \;=\; -\eta\,G_b^\top X_b\,(X_b^\top X_b + N\lambda I)^{-1}\cdot N ,

  with :math:`X_b` the ``(N, d_in)`` batch of inputs and :math:`G_b` the ``(N, d_out)`` output gradients.

Convolutions (``Conv2d`` with ``groups=1``) use the KFC factors of Grosse & Martens (2016): the
unfolded patches play the role of :math:`a` (averaged over batch and positions) and :math:`G` sums over
positions. By default (``fisher="empirical"``) :math:`G` comes from the gradients of the training loss
that the closure (or the caller) back-propagates. With ``fisher="sampled"`` (classification logits
only) :meth:`KFAC.step` re-runs the recorded batch and back-propagates the cross-entropy of labels
*sampled from the model*, :math:`\hat y_n \sim \mathrm{softmax}(f(x_n))`, so that
:math:`\mathbb E[G]` is the true-Fisher factor of Martens & Grosse (one extra forward/backward pass).
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ._base import (attach_forward_hook, check_nonneg, check_policy, check_positive, gradients_finite,
                    in_functorch_transform, run_closure, split_layers)

__all__ = ["KFAC", "FOOF"]


def _layer_input(mod: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """Rows ``a_n`` (with a trailing 1 for the bias): ``(N, d_in[+1])`` or ``(N*L, C*kh*kw[+1])``."""
    if isinstance(mod, nn.Conv2d):
        if isinstance(mod.padding, str):
            raise TypeError(f"Conv2d with padding={mod.padding!r} is not supported by KFAC/FOOF; use integer padding")
        cols = F.unfold(x, mod.kernel_size, dilation=mod.dilation, padding=mod.padding, stride=mod.stride)
        x = cols.transpose(1, 2).reshape(-1, cols.shape[1])
    else:
        x = x.reshape(-1, x.shape[-1])
    if mod.bias is not None:
        x = torch.cat([x, x.new_ones(x.shape[0], 1)], 1)
    return x


def _out_grad(mod: nn.Module, g: torch.Tensor) -> torch.Tensor:
    if isinstance(mod, nn.Conv2d):
        return g.permute(0, 2, 3, 1).reshape(-1, g.shape[1])
    return g.reshape(-1, g.shape[-1])


class KFAC(torch.optim.Optimizer):
    r"""Kronecker-factored approximate curvature (KFAC) as a :class:`torch.optim.Optimizer`.

    The optimiser registers a forward hook on every ``nn.Linear`` / ``nn.Conv2d`` of ``model``
    that records the layer input and the gradient reaching its output during the next backward pass;
    :meth:`step` turns them into the factors :math:`A, G` and applies
    :math:`\Delta W = -\eta (G+\gamma\pi^{-1}I)^{-1}\nabla_W(A+\gamma\pi I)^{-1}` (module docstring).

    Parameters
    ----------
    model : nn.Module
        The network. Every module owning trainable parameters must be ``Linear`` or ``Conv2d``
        (``groups=1``); others raise a ``TypeError`` naming the layer type unless ``unsupported="sgd"``.
    lr : float
        Step size :math:`\eta`.
    damping : float
        Tikhonov damping :math:`\lambda > 0` (ValueError otherwise).
    momentum : float
        Heavy-ball momentum on the preconditioned update, in ``[0, 1)``.
    weight_decay : float
        L2 coefficient added to the gradient before preconditioning.
    stat_decay : float
        EMA factor of :math:`A` and :math:`G` in ``[0, 1)`` (0: current batch only).
    update_freq : int
        Recompute the factor inverses every ``update_freq`` steps.
    fisher : {"empirical", "sampled"}
        Source of the output gradients in :math:`G` (module docstring); unused by FOOF.
    seed : int, optional
        Seed of the sampled labels (``fisher="sampled"``).
    unsupported : {"raise", "sgd"}
        What to do with parameters outside supported layers.
    nonfinite : {"skip", "raise"}
        Non-finite gradients: skip the step with a ``RuntimeWarning`` (statistics untouched) or raise
        ``FloatingPointError``.

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> net = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
    >>> opt = KFAC(net, lr=0.1, damping=1e-2)
    >>> x, y = torch.randn(16, 4), torch.randint(0, 3, (16,))
    >>> def closure():
    ...     opt.zero_grad()
    ...     loss = F.cross_entropy(net(x), y)
    ...     loss.backward()
    ...     return loss
    >>> loss0 = opt.step(closure).item()
    >>> F.cross_entropy(net(x), y).item() < loss0
    True
    """

    _use_g = True
    _name = "KFAC"

    def __init__(self, model: nn.Module, lr: float = 0.1, damping: float = 1e-2, *, momentum: float = 0.0,
                 weight_decay: float = 0.0, stat_decay: float = 0.95, update_freq: int = 1,
                 fisher: str = "empirical", seed: int | None = 0, unsupported: str = "raise",
                 nonfinite: str = "skip"):
        owner = self._name
        lr = check_positive(lr, "lr", owner)
        damping = check_positive(damping, "damping", owner)
        check_nonneg(momentum, "momentum", owner, upper=1.0)
        check_nonneg(weight_decay, "weight_decay", owner)
        check_nonneg(stat_decay, "stat_decay", owner, upper=1.0)
        if int(update_freq) < 1:
            raise ValueError(f"{owner}: update_freq must be an integer >= 1, got {update_freq!r}")
        self.nonfinite = check_policy(nonfinite, owner)
        if fisher not in ("empirical", "sampled"):
            raise ValueError(f"{owner}: fisher must be 'empirical' or 'sampled', got {fisher!r}")
        layers, rest = split_layers(model, owner, unsupported)
        params = [p for m in layers for p in m.parameters(recurse=False) if p.requires_grad] + rest
        super().__init__(params, dict(lr=lr, damping=damping, momentum=momentum, weight_decay=weight_decay))
        self.model, self.layers, self.rest = model, layers, rest
        self.stat_decay, self.update_freq = float(stat_decay), int(update_freq)
        self._captured: dict[nn.Module, dict[str, torch.Tensor]] = {m: {} for m in layers}
        self._factors: dict[nn.Module, dict[str, torch.Tensor]] = {m: {} for m in layers}
        self._steps = 0
        self._handles = [attach_forward_hook(self, m, "_forward_hook") for m in layers]
        self.fisher = fisher if self._use_g else "empirical"
        self._x: torch.Tensor | None = None
        if self.fisher == "sampled":
            self._gen = torch.Generator(device=layers[0].weight.device)
            if seed is None:
                self._gen.seed()
            else:
                self._gen.manual_seed(int(seed))
            self._handles.append(attach_forward_hook(self, model, "_record_input", pre=True))

    def _record_input(self, mod: nn.Module, inputs: tuple) -> None:
        if mod is self.model and mod.training and torch.is_grad_enabled() and not in_functorch_transform():
            self._x = inputs[0].detach()

    def _sampled_output_grads(self) -> None:
        """Re-run the recorded batch and back-propagate CE of model-sampled labels into the hooks."""
        if self._x is None:
            raise RuntimeError(f"{self._name}: fisher='sampled' needs a training-mode forward pass before step()")
        with torch.enable_grad():
            logits = self.model(self._x)
            if logits.dim() != 2:
                raise ValueError(f"{self._name}: fisher='sampled' needs logits of shape (N, C), got {tuple(logits.shape)}")
            probs = torch.softmax(logits.detach(), 1)
            labels = torch.multinomial(probs, 1, generator=self._gen).squeeze(1)
            loss = F.cross_entropy(logits, labels)
            weights = [m.weight for m in self.layers]
            torch.autograd.grad(loss, weights)  # result unused: the output hooks record G's gradients

    # -- hooks ------------------------------------------------------------------------------
    def _forward_hook(self, mod: nn.Module, inputs: tuple, output: torch.Tensor) -> None:
        store = self._captured.get(mod)
        if store is None or not (mod.training and torch.is_grad_enabled() and output.requires_grad) \
                or in_functorch_transform():
            return
        store["a"] = inputs[0].detach()
        store["n"] = torch.tensor(inputs[0].shape[0])

        def grab(g: torch.Tensor) -> None:
            store["g"] = g.detach()

        output.register_hook(grab)

    def remove_hooks(self) -> None:
        """Detach the forward hooks from the model (the optimiser cannot step afterwards)."""
        for h in self._handles:
            h.remove()
        self._handles = []

    # -- checkpointing ----------------------------------------------------------------------
    def state_dict(self) -> dict:
        """torch's optimiser state plus the curvature: per-layer factors ``A, G`` (and their damped inverses),
        the step counter (which decides when inverses are refreshed) and the sampled-Fisher generator."""
        out = super().state_dict()
        out["curvature"] = {
            "factors": [{k: v.detach().clone() for k, v in self._factors[m].items()} for m in self.layers],
            "steps": self._steps,
            "generator": self._gen.get_state() if self.fisher == "sampled" else None,
        }
        return out

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore :meth:`state_dict`; the optimiser then continues exactly as the saved one would have."""
        state_dict = dict(state_dict)
        curv = state_dict.pop("curvature", None)
        if curv is None:
            raise KeyError(f"{self._name}.load_state_dict: no 'curvature' entry; pass a dict made by "
                           f"{self._name}.state_dict() (plain torch optimiser states lack the Kronecker factors)")
        if len(curv["factors"]) != len(self.layers):
            raise ValueError(f"{self._name}.load_state_dict: the state holds factors of {len(curv['factors'])} layers "
                             f"but this optimiser has {len(self.layers)}; build it on the same architecture")
        super().load_state_dict(state_dict)
        for m, fac in zip(self.layers, curv["factors"]):
            self._factors[m] = {k: v.to(device=m.weight.device, dtype=m.weight.dtype).clone() for k, v in fac.items()}
            self._captured[m].clear()
        self._steps = int(curv["steps"])
        if self.fisher == "sampled" and curv.get("generator") is not None:
            self._gen.set_state(curv["generator"])

    # -- statistics -------------------------------------------------------------------------
    def _update_factors(self, mod: nn.Module) -> bool:
        store = self._captured[mod]
        if "a" not in store or "g" not in store:
            return False
        n = int(store["n"])
        a = _layer_input(mod, store["a"])
        fac = self._factors[mod]
        A = a.T @ a / a.shape[0]
        new = {"A": A}
        if self._use_g:
            g = _out_grad(mod, store["g"]) * n  # undo the batch mean of the loss
            new["G"] = g.T @ g / n
        d = self.stat_decay if fac else 0.0
        for k, v in new.items():
            fac[k] = d * fac[k] + (1 - d) * v if k in fac else v
        store.clear()
        return True

    def _invert(self, mod: nn.Module, damping: float) -> None:
        fac = self._factors[mod]
        A = fac["A"]
        eye_a = torch.eye(A.shape[0], dtype=A.dtype, device=A.device)
        if not self._use_g:
            fac["A_inv"] = torch.linalg.inv(A + damping * eye_a)
            return
        G = fac["G"]
        eye_g = torch.eye(G.shape[0], dtype=G.dtype, device=G.device)
        gamma = damping ** 0.5
        ta, tg = torch.trace(A) / A.shape[0], torch.trace(G) / G.shape[0]
        pi = torch.sqrt(ta / tg) if float(tg) > 0 and float(ta) > 0 else A.new_ones(())
        fac["A_inv"] = torch.linalg.inv(A + gamma * pi * eye_a)
        fac["G_inv"] = torch.linalg.inv(G + gamma / pi * eye_g)

    def _precondition(self, mod: nn.Module, grad_mat: torch.Tensor) -> torch.Tensor:
        fac = self._factors[mod]
        out = grad_mat @ fac["A_inv"]
        if self._use_g:
            out = fac["G_inv"] @ out
        return out

    # -- step -------------------------------------------------------------------------------
    @torch.no_grad()
    def step(self, closure=None):
        """One update; ``closure`` (optional) zeroes grads, computes the loss, back-propagates, returns it."""
        loss = run_closure(closure)
        group = self.param_groups[0]
        lr, damping, mom, wd = group["lr"], group["damping"], group["momentum"], group["weight_decay"]
        if not gradients_finite([(f"{type(m).__name__}#{i}", p) for i, m in enumerate(self.layers)
                                 for p in m.parameters(recurse=False)] + [("other", p) for p in self.rest],
                                self.nonfinite, self._name):
            for m in self.layers:
                self._captured[m].clear()
            return loss
        if self.fisher == "sampled":
            self._sampled_output_grads()
        refresh = self._steps % self.update_freq == 0
        for mod in self.layers:
            w, b = mod.weight, mod.bias
            if w.grad is None:
                continue
            self._update_factors(mod)
            if not self._factors[mod]:
                raise RuntimeError(f"{self._name}: no activations were recorded for {type(mod).__name__}; "
                                   "run a forward and backward pass in training mode before step()")
            if refresh or "A_inv" not in self._factors[mod]:
                self._invert(mod, damping)
            gw = w.grad.reshape(w.shape[0], -1) + wd * w.reshape(w.shape[0], -1)
            if b is not None:
                gw = torch.cat([gw, (b.grad + wd * b)[:, None]], 1)
            upd = self._precondition(mod, gw)
            self._apply(w, upd[:, : gw.shape[1] - (b is not None)].reshape(w.shape), lr, mom)
            if b is not None:
                self._apply(b, upd[:, -1], lr, mom)
        for p in self.rest:
            if p.grad is not None:
                self._apply(p, p.grad + wd * p, lr, mom)
        self._steps += 1
        return loss

    def _apply(self, p: torch.Tensor, direction: torch.Tensor, lr: float, mom: float) -> None:
        if mom > 0:
            st = self.state[p]
            buf = st.get("momentum_buffer")
            buf = direction.clone() if buf is None else buf.mul_(mom).add_(direction)
            st["momentum_buffer"] = buf
            direction = buf
        p.add_(direction, alpha=-lr)


class FOOF(KFAC):
    r"""FOOF (Benzing 2022): KFAC's input factor only, :math:`\Delta W = -\eta\nabla_W (A+\lambda I)^{-1}`.

    Equivalent to taking a gradient step on each layer's *pre-activations* and finding the smallest
    weight change that realises it by damped least squares on the batch inputs. Same arguments as
    :class:`KFAC`; ``damping`` is added to :math:`A` undivided.

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> net = nn.Sequential(nn.Linear(4, 8), nn.Tanh(), nn.Linear(8, 3))
    >>> opt = FOOF(net, lr=0.1, damping=1e-2)
    >>> x, y = torch.randn(16, 4), torch.randint(0, 3, (16,))
    >>> opt.zero_grad(); F.cross_entropy(net(x), y).backward(); opt.step()
    """

    _use_g = False
    _name = "FOOF"
