r"""RLLC: Retrospective Learning Law Correction (Szegedy, Czifra & Kőrösi-Szabó 2024).

An optimiser with memory :math:`k` keeps :math:`k` vectors :math:`m_1..m_k` in parameter space
(SGD has none, momentum one, Adam two). Here they follow *linear* update rules — exponential moving
averages of the gradient with decays :math:`\beta_i` (the real, diagonal case of the paper's
Jordan-block propagators; :math:`\beta = 0` stores the current gradient):

.. math:: m_i \leftarrow \beta_i m_i + (1-\beta_i)\, g_t, \qquad M_t = [m_1 \cdots m_k] \in \mathbb R^{P\times k}.

The step is a linear combination of the memory with a *learning law* :math:`L \in \mathbb R^k`,

.. math:: \theta_{t+1} = \theta_t - c_1 M_t L_t ,

and :math:`L` is corrected *retrospectively*: the gradient :math:`g_{t+1}` measured after the step tells
how the step should have been, so it is expressed in the memory that made the step and added to the law,

.. math:: L_{t+1} = L_t + c_2\, M_t^{+} g_{t+1}, \qquad
          M^{+} = (M^\top M + \epsilon\,\bar s\, I)^{-1} M^\top ,\quad \bar s = \operatorname{tr}(M^\top M)/k,

a pseudo-inverse regularised relative to the memory's scale (so :math:`L` is invariant to rescaling
the loss). If the last step was too short, :math:`g_{t+1}` still points along :math:`M_t L_t` and the law
grows; if it overshot, the law shrinks — a :math:`k`-dimensional generalisation of hypergradient
step-size adaptation. ``max_law`` (optional) clips :math:`\lVert L\rVert_\infty` as a safeguard; the tests
check that :math:`L` stays bounded without it.
"""
from __future__ import annotations

from typing import Iterable, Sequence

import torch

from ._base import check_nonneg, check_policy, check_positive, gradients_finite, named_params_of, run_closure

__all__ = ["RLLC"]


class RLLC(torch.optim.Optimizer):
    r"""Linear-memory optimiser with a retrospectively corrected learning law (module docstring).

    Parameters
    ----------
    params : iterable of Tensor
        Parameters to optimise (one group; the memory spans all of them jointly).
    lr : float
        :math:`c_1`, the scale of the step :math:`c_1 M L`.
    law_lr : float
        :math:`c_2`, the step of the law correction :math:`L \leftarrow L + c_2 M^+ g`.
    betas : sequence of float
        Decays :math:`\beta_i \in [0, 1)` of the :math:`k = ` ``len(betas)`` memory units (k = 2..4 in
        the paper); default ``(0.0, 0.9, 0.99)``.
    law_init : sequence of float, optional
        Initial law :math:`L_0`; default :math:`(1, 0, \ldots, 0)`, i.e. the first step is SGD on
        unit 1 with rate :math:`c_1`.
    eps : float
        Relative ridge :math:`\epsilon > 0` of the pseudo-inverse.
    max_law : float, optional
        Clip :math:`\lVert L\rVert_\infty` to this value (off by default).
    nonfinite : {"skip", "raise"}
        Non-finite gradients: skip the step (memory and law untouched) with a ``RuntimeWarning``, or
        raise ``FloatingPointError``.

    Attributes
    ----------
    law : Tensor, shape ``(k,)``
        The current learning law :math:`L` (float64).
    law_history : list of Tensor
        :math:`L` after every step.

    Examples
    --------
    >>> w = torch.nn.Parameter(torch.tensor([3.0, -2.0]))
    >>> opt = RLLC([w], lr=0.1, law_lr=0.1, betas=(0.0, 0.9))
    >>> for _ in range(50):
    ...     opt.zero_grad(); (w ** 2).sum().backward(); opt.step()
    >>> bool(w.abs().max() < 0.1)
    True
    """

    def __init__(self, params: Iterable[torch.Tensor], lr: float = 0.05, law_lr: float = 0.05, *,
                 betas: Sequence[float] = (0.0, 0.9, 0.99), law_init: Sequence[float] | None = None,
                 eps: float = 1e-3, max_law: float | None = None, nonfinite: str = "skip"):
        owner = "RLLC"
        lr = check_positive(lr, "lr", owner)
        law_lr = check_nonneg(law_lr, "law_lr", owner)
        eps = check_positive(eps, "eps", owner)
        betas = [check_nonneg(b, "each of betas", owner, upper=1.0) for b in betas]
        if not betas:
            raise ValueError("RLLC: betas must hold at least one decay (k >= 1 memory units)")
        k = len(betas)
        law = [1.0] + [0.0] * (k - 1) if law_init is None else [float(v) for v in law_init]
        if len(law) != k:
            raise ValueError(f"RLLC: law_init has {len(law)} entries but there are k={k} memory units (len(betas))")
        if max_law is not None:
            max_law = check_positive(max_law, "max_law", owner)
        self.nonfinite = check_policy(nonfinite, owner)
        super().__init__(params, dict(lr=lr, law_lr=law_lr))
        if len(self.param_groups) != 1:
            raise ValueError("RLLC: pass one parameter group (the memory spans all parameters jointly)")
        self.betas = torch.tensor(betas, dtype=torch.float64)
        self.eps, self.max_law = eps, max_law
        self.law = torch.tensor(law, dtype=torch.float64)
        self.law_history: list[torch.Tensor] = []
        self._has_memory = False

    def _gram(self, params: list[torch.Tensor], g_too: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
        """:math:`M^\\top M` (k x k) and :math:`M^\\top g` (k), accumulated over parameters in float64."""
        k = self.betas.numel()
        gram = torch.zeros(k, k, dtype=torch.float64)
        mg = torch.zeros(k, dtype=torch.float64) if g_too else None
        for p in params:
            if p.grad is None or "memory" not in self.state[p]:  # a parameter seen for the first time
                continue
            m = self.state[p]["memory"].reshape(k, -1).to(torch.float64)
            gram += (m @ m.T).cpu()
            if g_too:
                mg += (m @ p.grad.reshape(-1).to(torch.float64)).cpu()
        return gram, mg

    def state_dict(self) -> dict:
        """torch's optimiser state (the memory units) plus the learning law and its history."""
        out = super().state_dict()
        out["rllc"] = {"law": self.law.clone(), "law_history": [v.clone() for v in self.law_history],
                       "has_memory": self._has_memory, "betas": self.betas.clone()}
        return out

    def load_state_dict(self, state_dict: dict) -> None:
        """Restore :meth:`state_dict`; the optimiser then continues exactly as the saved one would have."""
        state_dict = dict(state_dict)
        extra = state_dict.pop("rllc", None)
        if extra is None:
            raise KeyError("RLLC.load_state_dict: no 'rllc' entry; pass a dict made by RLLC.state_dict()")
        if extra["betas"].numel() != self.betas.numel():
            raise ValueError(f"RLLC.load_state_dict: the state has k={extra['betas'].numel()} memory units but this "
                             f"optimiser has k={self.betas.numel()}; pass the same betas")
        super().load_state_dict(state_dict)
        self.law = extra["law"].to(torch.float64).clone()
        self.law_history = [v.clone() for v in extra["law_history"]]
        self._has_memory = bool(extra["has_memory"])
        self.betas = extra["betas"].to(torch.float64).clone()

    @torch.no_grad()
    def step(self, closure=None):
        loss = run_closure(closure)
        group = self.param_groups[0]
        params = [p for p in group["params"] if p.grad is not None]
        if not gradients_finite(named_params_of(params), self.nonfinite, "RLLC"):
            return loss
        k = self.betas.numel()
        # 1. retrospective correction of the law with the memory that made the previous step
        if self._has_memory and group["law_lr"] > 0:
            gram, mg = self._gram(params, g_too=True)
            ridge = self.eps * max(float(torch.trace(gram)) / k, torch.finfo(torch.float64).tiny)
            coef = torch.linalg.solve(gram + ridge * torch.eye(k, dtype=torch.float64), mg)
            self.law = self.law + group["law_lr"] * coef
            if self.max_law is not None:
                self.law = self.law.clamp(-self.max_law, self.max_law)
        # 2. linear memory update and 3. the step theta <- theta - c1 M L
        for p in params:
            st = self.state[p]
            if "memory" not in st:
                st["memory"] = p.grad.unsqueeze(0).repeat(k, *([1] * p.dim())).clone()
            else:
                b = self.betas.to(p.grad).reshape(k, *([1] * p.dim()))
                st["memory"].mul_(b).add_((1 - b) * p.grad.unsqueeze(0))
            law = self.law.to(p.grad).reshape(k, *([1] * p.dim()))
            p.sub_(group["lr"] * (law * st["memory"]).sum(0))
        self._has_memory = True
        self.law_history.append(self.law.clone())
        return loss
