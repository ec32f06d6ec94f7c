r"""Redundancy of an embedding matrix ``Z`` of shape ``(n, d)``: pairwise and higher-order measures.

Following Zollikofer et al. 2024 ("Beyond pairwise correlations: higher-order redundancies in
self-supervised representation learning"), with :math:`C` the correlation matrix of the
coordinates:

* :func:`average_abs_correlation` -- :math:`\frac{1}{d(d-1)}\sum_{i\ne j}|C_{ij}|`;
* :func:`pairwise_redundancy` -- :math:`\frac{1}{d(d-1)}\sum_{i\ne j}C_{ij}^2` (the normalised
  redundancy-reduction term of Barlow Twins);
* :func:`linear_predictability` -- the mean :math:`R^2` of predicting each coordinate linearly
  from all the others, in closed form :math:`R_i^2 = 1 - 1/(C^{-1})_{ii}`;
* :func:`nonlinear_predictability` -- the same with a small MLP predictor (:class:`MaskedPredictor`),
  scored on held-out rows.

:func:`redundancy_report` computes all four. Inputs may be tensors or NumPy arrays; constant
coordinates (zero variance) carry no information and are left out (their per-coordinate values are
``nan``).
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from ..._utils import make_generator, resolve_device

__all__ = [
    "correlation_matrix", "average_abs_correlation", "pairwise_redundancy", "linear_predictability",
    "nonlinear_predictability", "redundancy_report", "MaskedPredictor",
]


def _as_matrix(z, where: str) -> torch.Tensor:
    z = torch.as_tensor(np.asarray(z) if not isinstance(z, torch.Tensor) else z).detach()
    if z.dim() != 2 or z.shape[0] < 3 or z.shape[1] < 2:
        raise ValueError(f"{where}: expected an embedding matrix (n, d) with n >= 3 samples and d >= 2 "
                         f"coordinates, got shape {tuple(z.shape)}")
    if not bool(torch.isfinite(z).all()):
        raise ValueError(f"{where}: the embedding matrix contains NaN or inf; check the encoder's output")
    return z.to(torch.float64)


def _live(z: torch.Tensor) -> torch.Tensor:
    """Boolean mask of the non-constant coordinates."""
    return z.std(0) > 1e-12 * z.abs().max().clamp_min(1e-300)


def correlation_matrix(z) -> torch.Tensor:
    """Pearson correlations ``(d', d')`` between the ``d'`` non-constant coordinates of ``z``, float64."""
    z = _as_matrix(z, "correlation_matrix")
    z = z[:, _live(z)]
    zc = z - z.mean(0)
    zs = zc / zc.norm(dim=0)
    return zs.T @ zs


def _offdiag(c: torch.Tensor) -> torch.Tensor:
    d = c.shape[0]
    if d < 2:
        raise ValueError("fewer than two non-constant coordinates: redundancy is undefined")
    return c[~torch.eye(d, dtype=torch.bool, device=c.device)]


def average_abs_correlation(z) -> float:
    r""":math:`\frac{1}{d(d-1)}\sum_{i\ne j}|C_{ij}|`, the mean absolute off-diagonal correlation.

    Examples
    --------
    >>> z = torch.randn(500, 2, dtype=torch.float64)
    >>> round(average_abs_correlation(torch.stack([z[:, 0], z[:, 0]], 1)), 6)
    1.0
    """
    return float(_offdiag(correlation_matrix(z)).abs().mean())


def pairwise_redundancy(z) -> float:
    r""":math:`\frac{1}{d(d-1)}\sum_{i\ne j}C_{ij}^2`, the mean squared off-diagonal correlation."""
    return float((_offdiag(correlation_matrix(z)) ** 2).mean())


def linear_predictability(z, *, per_dim: bool = False):
    r"""In-sample :math:`R^2` of the least-squares prediction (with intercept) of each coordinate from the others.

    For standardised coordinates the normal equations give :math:`R_i^2 = 1 - 1/(C^{-1})_{ii}`
    (the diagonal of the inverse correlation matrix is the variance inflation factor). Exactly
    collinear coordinates have :math:`R^2 = 1` (eigenvalues of :math:`C` are floored at ``1e-12``).

    Parameters
    ----------
    z : (n, d) tensor or array
    per_dim : bool
        Return the ``d`` values (``nan`` for constant coordinates) instead of their mean.

    Examples
    --------
    >>> g = torch.Generator().manual_seed(0)
    >>> a = torch.randn(1000, 2, generator=g, dtype=torch.float64)
    >>> z = torch.stack([a[:, 0], a[:, 1], a[:, 0] + a[:, 1]], 1)
    >>> round(linear_predictability(z), 6)
    1.0
    """
    zz = _as_matrix(z, "linear_predictability")
    live = _live(zz)
    c = correlation_matrix(zz)
    evals, evecs = torch.linalg.eigh(c)
    inv_diag = (evecs ** 2 / evals.clamp_min(1e-12)).sum(1)
    r2 = (1 - 1 / inv_diag).clamp(0.0, 1.0)
    if not per_dim:
        return float(r2.mean())
    out = torch.full((zz.shape[1],), float("nan"), dtype=torch.float64)
    out[live] = r2
    return out.numpy()


class MaskedPredictor(nn.Module):
    r"""Predicts every coordinate of ``z`` from the others with one shared MLP.

    Coordinate :math:`i` is predicted as :math:`g([z \odot (1 - e_i),\; e_i])` with :math:`e_i` the
    :math:`i`-th unit vector (the masked input and which coordinate is asked for);
    :math:`g = W_2\,\mathrm{relu}(W_1 \cdot + b_1) + b_2`. The first layer is evaluated for all
    :math:`d` masks at once as :math:`W_z z - W_{z,:i} z_i + W_{e,:i} + b_1` (cost
    :math:`O(n d h)`, not :math:`O(n d^2 h)`).

    Parameters
    ----------
    dim, hidden : int
    seed : int, optional
    device, dtype

    Examples
    --------
    >>> MaskedPredictor(4, 8, seed=0)(torch.randn(5, 4)).shape
    torch.Size([5, 4])
    """

    def __init__(self, dim: int, hidden: int = 64, *, seed: int | None = 0,
                 device: str | torch.device | None = None, dtype: torch.dtype | None = None):
        super().__init__()
        if dim < 2:
            raise ValueError(f"MaskedPredictor needs at least 2 coordinates, got dim={dim}")
        with torch.random.fork_rng(devices=[]):
            if seed is not None:
                torch.manual_seed(int(seed))
            self.first = nn.Linear(2 * dim, hidden)
            self.hidden = nn.Linear(hidden, hidden)
            self.out = nn.Linear(hidden, 1)
        self.dim = int(dim)
        self.to(device=resolve_device(device), dtype=dtype)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if z.dim() != 2 or z.shape[1] != self.dim:
            raise ValueError(f"MaskedPredictor: expected (n, {self.dim}) embeddings, got {tuple(z.shape)}")
        wz, we = self.first.weight[:, : self.dim], self.first.weight[:, self.dim:]  # (h, d) each
        pre = (z @ wz.T)[:, None, :] - z[:, :, None] * wz.T[None] + we.T[None] + self.first.bias
        h = torch.relu(self.hidden(torch.relu(pre)))
        return self.out(h).squeeze(-1)


def nonlinear_predictability(z, *, hidden: int = 64, steps: int = 300, lr: float = 3e-3,
                             test_fraction: float = 0.3, seed: int = 0, per_dim: bool = False,
                             device: str | torch.device | None = None):
    r"""Held-out :math:`R^2` of predicting each coordinate from the others with a small MLP.

    The rows of ``z`` are split (``test_fraction`` held out), coordinates standardised with the
    training statistics, a :class:`MaskedPredictor` fitted by full-batch Adam for ``steps`` steps on
    the mean squared error, and :math:`R_i^2 = 1 - \mathrm{MSE}_i / \mathrm{Var}_i` evaluated on the
    held-out rows (can be slightly negative for unpredictable coordinates).

    Returns
    -------
    float, or ndarray of shape ``(d,)`` with ``per_dim``
    """
    zz = _as_matrix(z, "nonlinear_predictability")
    live = _live(zz)
    zl = zz[:, live]
    dev = resolve_device(device)
    gen = make_generator(seed)
    perm = torch.randperm(zl.shape[0], generator=gen)
    n_test = max(2, int(round(test_fraction * zl.shape[0])))
    te, tr = perm[:n_test], perm[n_test:]
    mu, sd = zl[tr].mean(0), zl[tr].std(0).clamp_min(1e-12)
    ztr = ((zl[tr] - mu) / sd).float().to(dev)
    zte = ((zl[te] - mu) / sd).float().to(dev)
    pred = MaskedPredictor(zl.shape[1], hidden, seed=seed, device=dev)
    opt = torch.optim.Adam(pred.parameters(), lr=lr)
    with torch.enable_grad():
        for _ in range(int(steps)):
            opt.zero_grad(set_to_none=True)
            loss = ((pred(ztr) - ztr) ** 2).mean()
            loss.backward()
            opt.step()
    with torch.no_grad():
        mse = ((pred(zte) - zte) ** 2).mean(0).double().cpu()
        var = zte.double().cpu().var(0, unbiased=False).clamp_min(1e-12)
    r2 = 1 - mse / var
    if not per_dim:
        return float(r2.mean())
    out = torch.full((zz.shape[1],), float("nan"), dtype=torch.float64)
    out[live] = r2
    return out.numpy()


def redundancy_report(z, *, nonlinear: bool = True, seed: int = 0) -> dict[str, float]:
    """All four measures of ``z``: ``average_abs_correlation``, ``pairwise_redundancy``,
    ``linear_predictability`` and (with ``nonlinear``) ``nonlinear_predictability``."""
    out = {"average_abs_correlation": average_abs_correlation(z), "pairwise_redundancy": pairwise_redundancy(z),
           "linear_predictability": linear_predictability(z)}
    if nonlinear:
        out["nonlinear_predictability"] = nonlinear_predictability(z, seed=seed)
    return out
