"""Adam with lazy, row-sparse updates for per-item parameters (one row per time bin).

With minibatches over time bins, plain Adam keeps moving every row of a per-time parameter
(a latent mean per bin) through its momentum, also rows that were not in the batch and whose
gradient is exactly zero. For those parameters this optimiser touches only the rows of the
batch: their moments are updated, the step is applied, and the bias correction uses each
row's own count of updates, so a row sees the same Adam sequence as if the fit had only ever
looked at the batches containing it (the "lazy Adam" of sparse embeddings; Kingma & Ba, 2015,
*Adam: a method for stochastic optimization*, ICLR, for the update itself).
"""
from __future__ import annotations

import torch

__all__ = ["RowSparseAdam"]


class RowSparseAdam(torch.optim.Optimizer):
    r"""Adam whose ``row_sparse`` parameter groups are updated only at the rows in :attr:`rows`.

    For a row :math:`r` of a row-sparse parameter updated for the :math:`n_r`-th time:

    .. math::
        m_r \leftarrow \beta_1 m_r + (1-\beta_1) g_r, \quad
        v_r \leftarrow \beta_2 v_r + (1-\beta_2) g_r^2, \quad
        \theta_r \leftarrow \theta_r - \frac{\eta}{1-\beta_1^{n_r}}
        \frac{m_r}{\sqrt{v_r}/\sqrt{1-\beta_2^{n_r}} + \epsilon},

    and rows not in :attr:`rows` are left bit-for-bit unchanged (parameter and moments).
    Other groups are plain Adam (same formula with a global count). With every row in every
    step this is Adam.

    Parameters
    ----------
    params : iterable of tensors or dicts
        Parameter groups; a group with ``"row_sparse": True`` holds tensors whose first axis
        is the row axis (all of the same length). Such a group may name its rows with
        ``"row_key"`` (e.g. ``"time"``, ``"neuron"``), so that one optimiser updates time bins
        and neurons of different minibatches.
    lr : float
    betas : (float, float)
    eps : float

    Attributes
    ----------
    rows : torch.Tensor, dict or None
        Unique row indices (long) to update at the next :meth:`step`; ``None``: every row. A
        dict maps a group's ``row_key`` to its rows (a key that is missing or ``None``: every
        row of those groups).

    Examples
    --------
    >>> import torch
    >>> x = torch.nn.Parameter(torch.zeros(5, 2))
    >>> opt = RowSparseAdam([{"params": [x], "row_sparse": True}], lr=0.1)
    >>> x[[1, 3]].sum().backward()
    >>> opt.rows = torch.tensor([1, 3])
    >>> opt.step()
    >>> (x.detach().abs().sum(1) > 0).tolist()
    [False, True, False, True, False]
    """

    def __init__(self, params, lr: float = 1e-3, betas=(0.9, 0.999), eps: float = 1e-8):
        if not lr > 0:
            raise ValueError(f"lr must be > 0, got {lr!r}")
        super().__init__(params, {"lr": float(lr), "betas": tuple(betas), "eps": float(eps), "row_sparse": False,
                                  "row_key": None})
        self.rows = None

    @torch.no_grad()
    def step(self, closure=None):
        """One update (see the class docstring); returns ``closure()`` when given."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            b1, b2 = group["betas"]
            lr, eps = group["lr"], group["eps"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                st = self.state[p]
                if not st:
                    st["exp_avg"] = torch.zeros_like(p)
                    st["exp_avg_sq"] = torch.zeros_like(p)
                    count_shape = (p.shape[0],) if group["row_sparse"] else ()
                    st["step"] = torch.zeros(count_shape, dtype=p.dtype, device=p.device)
                rows = self.rows.get(group["row_key"]) if isinstance(self.rows, dict) else self.rows
                if group["row_sparse"] and rows is not None:
                    self._sparse_update(p, st, rows, lr, b1, b2, eps)
                else:
                    self._dense_update(p, st, lr, b1, b2, eps)
        return loss

    @staticmethod
    def _dense_update(p, st, lr, b1, b2, eps):
        g, m, v = p.grad, st["exp_avg"], st["exp_avg_sq"]
        st["step"] += 1
        n = st["step"]
        m.lerp_(g, 1 - b1)
        v.mul_(b2).addcmul_(g, g, value=1 - b2)
        shape = n.shape + (1,) * (p.ndim - n.ndim)
        bc1 = (1 - b1 ** n).view(shape)
        bc2 = (1 - b2 ** n).view(shape)
        p.sub_(lr / bc1 * m / ((v.sqrt() / bc2.sqrt()).add_(eps)))

    @staticmethod
    def _sparse_update(p, st, rows, lr, b1, b2, eps):
        rows = rows.to(device=p.device, dtype=torch.long)
        g, m, v = p.grad[rows], st["exp_avg"][rows], st["exp_avg_sq"][rows]
        n = st["step"][rows] + 1
        m.lerp_(g, 1 - b1)
        v.mul_(b2).addcmul_(g, g, value=1 - b2)
        shape = n.shape + (1,) * (p.ndim - 1)
        bc1 = (1 - b1 ** n).view(shape)
        bc2 = (1 - b2 ** n).view(shape)
        p[rows] = p[rows] - lr / bc1 * m / ((v.sqrt() / bc2.sqrt()).add_(eps))
        st["exp_avg"][rows] = m
        st["exp_avg_sq"][rows] = v
        st["step"][rows] = n
