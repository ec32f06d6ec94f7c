r"""FishLeg: a learned, Kronecker-structured inverse Fisher (Garcia, Hennequin et al. 2023).

The Legendre dual of the damped Fisher quadratic gives an objective whose minimiser over a
parametric symmetric :math:`Q(\lambda)` is the inverse damped Fisher. With :math:`u` any random vector
with :math:`\mathbb E[u u^\top] = I`,

.. math:: \mathcal A(\lambda) = \mathbb E_u\Big[\tfrac12\, u^\top Q (F + \gamma I) Q u - u^\top Q u\Big]
          = \tfrac12 \operatorname{tr}\big(Q(F+\gamma I)Q\big) - \operatorname{tr} Q ,

minimised at :math:`Q = (F+\gamma I)^{-1}`. Its gradient needs only Fisher-vector products: with
:math:`v = Q u` and :math:`w = (F+\gamma I) v - u` held fixed, :math:`\nabla_\lambda \mathcal A = \nabla_\lambda
(w^\top Q(\lambda) u)` (Q symmetric), so one Fisher-vector product per auxiliary step suffices
(:func:`~neurolatent.methods.optim.natural_gradient.fisher_vector_product`: one forward- and one
reverse-mode pass).

Structure: block-diagonal over layers; for a ``Linear`` layer with gradient matrix
:math:`\nabla = [\nabla_W\ \nabla_b] \in \mathbb R^{d_\mathrm{out}\times(d_\mathrm{in}+1)}`
(a ``Conv2d`` with ``groups=1`` is the same with its weight read as the
:math:`C_\mathrm{out}\times(C_\mathrm{in} k_h k_w)` matrix acting on unfolded patches, as in the KFC
factors of Grosse & Martens 2016, "A Kronecker-factored approximate Fisher matrix for convolution layers"),

.. math:: Q_\ell(\nabla) = R R^\top\, \nabla\, L L^\top
          \quad\Longleftrightarrow\quad Q_\ell = (L L^\top) \otimes (R R^\top),

positive semi-definite by construction (definite while :math:`L, R` are invertible). The optimiser
then steps :math:`\Delta\theta = -\eta\, Q\, g`. The learned :math:`Q` is exposed (:meth:`FishLeg.inverse_fisher_product`,
:meth:`FishLeg.q_matrix`, :meth:`FishLeg.q_diagonal`) for the FishLeg-surgeon pruning family.
"""
from __future__ import annotations

import torch
from torch import nn

from ._base import (InputRecorder, check_nonneg, check_policy, check_positive, gradients_finite,
                    run_closure, split_layers)
from .natural_gradient import fisher_vector_product

__all__ = ["FishLeg"]


class FishLeg(torch.optim.Optimizer):
    r"""FishLeg optimiser with a Kronecker-factored :math:`Q(\lambda) \approx (F + \gamma I)^{-1}`.

    Each :meth:`step` takes ``aux_steps`` Adam steps on the auxiliary loss (module docstring) using
    Fisher-vector products at the current batch (recorded from the model's last training-mode
    forward pass), then applies :math:`\theta \leftarrow \theta - \eta\, Q g`.

    Parameters
    ----------
    model : nn.Module
        Network whose trainable parameters all sit in ``nn.Linear`` or ``nn.Conv2d`` (``groups=1``)
        layers (TypeError naming the layer type otherwise); outputs of shape ``(N, C)``. A conv weight
        of shape ``(C_out, C_in, k_h, k_w)`` is handled as the ``(C_out, C_in k_h k_w)`` matrix.
    lr : float
        Step size :math:`\eta`.
    damping : float
        :math:`\gamma > 0` (ValueError otherwise).
    aux_lr : float
        Adam learning rate of the Kronecker factors :math:`L, R`.
    aux_steps : int
        Auxiliary steps per optimiser step.
    warmup : int
        Extra auxiliary steps taken at the first :meth:`step` (on the first batch) before any parameter
        update, so that the first updates already use a fitted :math:`Q` (FishLeg's initial fit of Q).
    init_scale : float
        :math:`Q` starts at ``init_scale * I`` (``L = R = init_scale**0.25 I``).
    loss : {"cross_entropy", "mse"}
        Output Hessian defining the Fisher (see :func:`fisher_matrix`).
    momentum : float
        Heavy-ball momentum on :math:`Q g`.
    seed : int, optional
        Seed of the auxiliary probe vectors :math:`u \sim \mathcal N(0, I)`.
    nonfinite : {"skip", "raise"}
        Non-finite gradients: skip the step (Q untouched) with a ``RuntimeWarning``, or raise.

    Examples
    --------
    >>> _ = torch.manual_seed(0)
    >>> net = nn.Sequential(nn.Linear(4, 6), nn.Tanh(), nn.Linear(6, 3))
    >>> opt = FishLeg(net, lr=0.1, damping=0.1, seed=0)
    >>> x, y = torch.randn(32, 4), torch.randint(0, 3, (32,))
    >>> opt.zero_grad(); loss = nn.functional.cross_entropy(net(x), y); loss.backward(); opt.step()
    >>> opt.q_matrix(net[0]).shape
    torch.Size([30, 30])
    >>> cnn = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten(), nn.Linear(16, 3))  # on 4x4 images
    >>> FishLeg(cnn).q_matrix(cnn[0]).shape  # 4 x (1*3*3) weights + 4 biases
    torch.Size([40, 40])
    """

    def __init__(self, model: nn.Module, lr: float = 0.05, damping: float = 0.1, *, aux_lr: float = 0.01,
                 aux_steps: int = 1, warmup: int = 0, init_scale: float = 1.0, loss: str = "cross_entropy", momentum: float = 0.0,
                 seed: int | None = 0, nonfinite: str = "skip"):
        owner = "FishLeg"
        lr = check_positive(lr, "lr", owner)
        damping = check_positive(damping, "damping", owner)
        aux_lr = check_positive(aux_lr, "aux_lr", owner)
        init_scale = check_positive(init_scale, "init_scale", owner)
        check_nonneg(momentum, "momentum", owner, upper=1.0)
        if int(aux_steps) < 0 or int(warmup) < 0:
            raise ValueError(f"FishLeg: aux_steps and warmup must be >= 0, got {aux_steps!r}, {warmup!r}")
        if loss not in ("cross_entropy", "mse"):
            raise ValueError(f"FishLeg: loss must be 'cross_entropy' or 'mse', got {loss!r}")
        self.nonfinite = check_policy(nonfinite, owner)
        layers, _ = split_layers(model, owner, "raise", supported=(nn.Linear, nn.Conv2d))
        params = [p for m in layers for p in m.parameters(recurse=False)]
        super().__init__(params, dict(lr=lr, damping=damping, momentum=momentum))
        self.model, self.layers, self.loss, self.aux_steps = model, layers, loss, int(aux_steps)
        self._warmup_left = int(warmup)
        names = {id(p): k for k, p in model.named_parameters()}
        self._names = {m: (names[id(m.weight)], names[id(m.bias)] if m.bias is not None else None) for m in layers}
        ref = layers[0].weight
        s = init_scale ** 0.25
        self.factors: dict[nn.Module, tuple[torch.Tensor, torch.Tensor]] = {}
        for m in layers:
            d_out, d_in = self._matrix_shape(m)
            left = (s * torch.eye(d_in, dtype=ref.dtype, device=ref.device)).requires_grad_()
            right = (s * torch.eye(d_out, dtype=ref.dtype, device=ref.device)).requires_grad_()
            self.factors[m] = (left, right)
        self.aux_optimizer = torch.optim.Adam([t for lr_ in self.factors.values() for t in lr_], lr=aux_lr)
        self._gen = torch.Generator(device=ref.device)
        if seed is None:
            self._gen.seed()
        else:
            self._gen.manual_seed(int(seed))
        self.aux_history: list[float] = []
        self._inputs = InputRecorder(model)

    def remove_hooks(self) -> None:
        self._inputs.remove()

    # -- checkpointing ----------------------------------------------------------------------
    def state_dict(self) -> dict:
        """torch's optimiser state plus FishLeg's own: the factors ``L, R`` of Q, the auxiliary Adam state,
        the probe generator, the remaining warm-up steps and the auxiliary-loss history."""
        out = super().state_dict()
        out["fishleg"] = {
            "factors": [tuple(t.detach().clone() for t in self.factors[m]) for m in self.layers],
            "aux_optimizer": self.aux_optimizer.state_dict(),
            "generator": self._gen.get_state(),
            "warmup_left": self._warmup_left,
            "aux_history": list(self.aux_history),
        }
        return out

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore :meth:`state_dict`; the optimiser then continues exactly as the saved one would have."""
        state_dict = dict(state_dict)
        extra = state_dict.pop("fishleg", None)
        if extra is None:
            raise KeyError("FishLeg.load_state_dict: no 'fishleg' entry; pass a dict made by FishLeg.state_dict() "
                           "(plain torch optimiser states lack Q's factors)")
        if len(extra["factors"]) != len(self.layers):
            raise ValueError(f"FishLeg.load_state_dict: the state holds Q factors of {len(extra['factors'])} layers "
                             f"but this optimiser has {len(self.layers)}; build it on the same architecture")
        for m, saved in zip(self.layers, extra["factors"]):
            for t, v in zip(self.factors[m], saved):
                if t.shape != v.shape:
                    raise ValueError(f"FishLeg.load_state_dict: a Q factor of shape {tuple(v.shape)} does not fit "
                                     f"the layer's {tuple(t.shape)}; build the optimiser on the same architecture")
        super().load_state_dict(state_dict)
        with torch.no_grad():  # in place, so that the auxiliary Adam keeps pointing at the same tensors
            for m, saved in zip(self.layers, extra["factors"]):
                for t, v in zip(self.factors[m], saved):
                    t.copy_(v)
        self.aux_optimizer.load_state_dict(extra["aux_optimizer"])
        self._gen.set_state(extra["generator"])
        self._warmup_left = int(extra["warmup_left"])
        self.aux_history = list(extra["aux_history"])

    # -- Q ------------------------------------------------------------------------------------
    @staticmethod
    def _matrix_shape(m: nn.Module) -> tuple[int, int]:
        """``(d_out, d_in [+ 1 for the bias])`` of the layer's gradient matrix (conv: ``d_in = C_in k_h k_w``)."""
        return m.weight.shape[0], m.weight[0].numel() + (m.bias is not None)

    def _as_matrix(self, m: nn.Module, w: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
        w = w.reshape(w.shape[0], -1)  # a view; the identity for Linear weights
        return w if b is None else torch.cat([w, b[:, None]], 1)

    def _split(self, m: nn.Module, mat: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor | None]:
        if m.bias is None:
            return mat.reshape(m.weight.shape), None
        return mat[:, :-1].reshape(m.weight.shape), mat[:, -1]

    def _q_apply(self, m: nn.Module, mat: torch.Tensor) -> torch.Tensor:
        left, right = self.factors[m]
        return right @ (right.T @ mat @ left) @ left.T

    def inverse_fisher_product(self, grads: dict[nn.Module, tuple[torch.Tensor, torch.Tensor | None]]
                               ) -> dict[nn.Module, tuple[torch.Tensor, torch.Tensor | None]]:
        r""":math:`Q v` for per-layer ``(weight-shaped, bias-shaped)`` tangents (no autograd graph).

        Parameters
        ----------
        grads : dict
            Maps layers of this optimiser to ``(w, b)`` with ``w`` of the layer's weight shape (conv:
            ``(C_out, C_in, k_h, k_w)``) and ``b`` of its bias shape, or ``None`` for a bias-free layer.

        Returns
        -------
        dict
            The same layers mapped to :math:`Q_\ell [w\ b]`, split back into weight and bias shapes.
        """
        out = {}
        with torch.no_grad():
            for m, (w, b) in grads.items():
                out[m] = self._split(m, self._q_apply(m, self._as_matrix(m, w, b)))
        return out

    def q_matrix(self, layer: nn.Module) -> torch.Tensor:
        r"""Dense :math:`Q_\ell` of ``layer`` in the flat order ``[weight.flatten(), bias]`` (small layers only).

        ``weight.flatten()`` is row-major, so a conv weight ``(C_out, C_in, k_h, k_w)`` is flattened as its
        ``(C_out, C_in k_h k_w)`` matrix; the result is ``(P_l, P_l)`` with ``P_l`` the layer's parameter count.
        """
        if layer not in self.factors:
            raise KeyError(f"q_matrix: {type(layer).__name__} is not one of this optimiser's Linear/Conv2d layers")
        left, right = (t.detach() for t in self.factors[layer])
        # vec_row(R R^T X L L^T) = (R R^T kron (L L^T)^T) vec_row(X); L L^T is symmetric.
        q = torch.kron(right @ right.T, left @ left.T)
        if layer.bias is None:
            return q
        d_out, d_in = self._matrix_shape(layer)
        d_in -= 1
        idx = torch.arange(q.shape[0]).reshape(d_out, d_in + 1)
        order = torch.cat([idx[:, :d_in].reshape(-1), idx[:, d_in]])
        return q[order][:, order]

    def q_diagonal(self) -> dict[str, torch.Tensor]:
        r"""Diagonal of :math:`Q` per parameter name (shapes of the parameters), e.g. for pruning saliencies."""
        out = {}
        for m in self.layers:
            left, right = (t.detach() for t in self.factors[m])
            diag = torch.outer((right ** 2).sum(1), (left ** 2).sum(1))
            w, b = self._split(m, diag)
            wn, bn = self._names[m]
            out[wn] = w
            if bn is not None:
                out[bn] = b
        return out

    # -- auxiliary loss -----------------------------------------------------------------------
    def update_q(self, x: torch.Tensor | None = None, steps: int = 1) -> float:
        r"""Take ``steps`` auxiliary Adam steps on :math:`\mathcal A(\lambda)` at batch ``x``; return the last value."""
        x = self._inputs.x if x is None else x
        if x is None:
            raise RuntimeError("FishLeg: no batch recorded; run the model in training mode before update_q/step")
        gamma = self.param_groups[0]["damping"]
        value = float("nan")
        for _ in range(int(steps)):
            us = {m: torch.randn(*self._matrix_shape(m), generator=self._gen,
                                 dtype=m.weight.dtype, device=m.weight.device) for m in self.layers}
            with torch.no_grad():
                qu = {m: self._q_apply(m, us[m]) for m in self.layers}
                tangent = {}
                for m in self.layers:
                    w, b = self._split(m, qu[m])
                    wn, bn = self._names[m]
                    tangent[wn] = w
                    if bn is not None:
                        tangent[bn] = b
            with torch.enable_grad(), self._inputs.paused():
                fv = fisher_vector_product(self.model, x, tangent, loss=self.loss)
            with torch.no_grad():
                resid, val = {}, 0.0
                for m in self.layers:
                    wn, bn = self._names[m]
                    fq = self._as_matrix(m, fv[wn], fv[bn] if bn is not None else None) + gamma * qu[m]
                    resid[m] = fq - us[m]
                    val += float(0.5 * (qu[m] * fq).sum() - (us[m] * qu[m]).sum())
            self.aux_optimizer.zero_grad()
            with torch.enable_grad():
                surrogate = sum((resid[m] * self._q_apply(m, us[m])).sum() for m in self.layers)
                surrogate.backward()
            self.aux_optimizer.step()
            value = val
            self.aux_history.append(val)
        return value

    @torch.no_grad()
    def step(self, closure=None):
        loss = run_closure(closure)
        group = self.param_groups[0]
        named = [(self._names[m][0], m.weight) for m in self.layers]
        named += [(self._names[m][1], m.bias) for m in self.layers if m.bias is not None]
        if not gradients_finite(named, self.nonfinite, "FishLeg"):
            return loss
        n_aux = self.aux_steps + self._warmup_left
        self._warmup_left = 0
        if n_aux:
            self.update_q(steps=n_aux)
        for m in self.layers:
            if m.weight.grad is None:
                continue
            g = self._as_matrix(m, m.weight.grad, m.bias.grad if m.bias is not None else None)
            d = self._q_apply(m, g)
            if group["momentum"] > 0:
                st = self.state[m.weight]
                buf = st.get("fishleg_buffer")
                d = d if buf is None else buf.mul_(group["momentum"]).add_(d)
                st["fishleg_buffer"] = d
            w, b = self._split(m, d)
            m.weight.sub_(group["lr"] * w)
            if b is not None:
                m.bias.sub_(group["lr"] * b)
        return loss
