"""Kronecker-factored RTRL: KF-RTRL (Mujika, Meier & Steger 2018) and OK(r) (Benzing et al. 2019).

Both keep the influence matrix as a sum of Kronecker products
:math:`G_t \\approx \\sum_{i=1}^r A_i \\otimes u_i^\\top` (:math:`A_i \\in \\mathbb R^{n \\times g n}`,
:math:`u_i \\in \\mathbb R^m`). One exact RTRL step maps it to ``r + 1`` terms,

.. math::

    J_t G_{t-1} + M_t = \\sum_{i=1}^r (J_t A_i) \\otimes u_i^\\top + D_t \\otimes a_t^\\top ,

which must be brought back to ``r`` terms *unbiasedly*. Identifying :math:`A \\otimes u^\\top` with
the outer product :math:`\\operatorname{vec}(A) u^\\top`, this is an unbiased rank reduction of an
``(n g n) x m`` matrix of rank ``r + 1``.

* **KF-RTRL** (``r = 1``): random signs :math:`s = \\pm 1`,
  :math:`A' = \\rho_0 J A + s \\rho_1 D`, :math:`u' = u / \\rho_0 + s\\, a / \\rho_1` with
  :math:`\\rho_0 = \\sqrt{\\|u\\| / \\|JA\\|}`, :math:`\\rho_1 = \\sqrt{\\|a\\| / \\|D\\|}`.
* **OK(r)** -- the optimal unbiased reduction (Benzing, Gauy, Mujika, Martinsson & Steger, ICML
  2019, Thm. 1), see :func:`optimal_rank_reduction`: from the SVD
  :math:`\\sum_{i} \\sigma_i \\, p_i q_i^\\top` of the ``r + 1``-term sum (computed from two thin QRs
  and the SVD of a small ``(r+1) x (r+1)`` matrix), keep the ``k`` largest terms exactly and replace
  the rest by a random rank-(r - k) matrix with the right mean and the least variance.

The cells of :mod:`.cells` are built so that :math:`M_t` is a *single* Kronecker product (all gates
read the same presynaptic vector :math:`a_t`), so the sum always has ``r + 1`` terms. A cell whose
:math:`M_t` needs two terms (a GRU whose reset gate multiplies :math:`h_{t-1}` before the candidate
weights) would give ``r + 2`` terms, which :func:`optimal_rank_reduction` also reduces optimally
(by its sampling construction).
"""
from __future__ import annotations

import torch

from .base import OnlineLearner

__all__ = ["KFRTRL", "OKRTRL", "optimal_rank_reduction"]

_EPS = 1e-12


def _keep_count(sigma: torch.Tensor, r: int):
    """``k`` (values kept exactly), ``s_k`` and the mask of the rest, per batch row (Thm. 1's split)."""
    K = sigma.shape[1]
    idx = torch.arange(K, device=sigma.device)
    suffix = sigma.flip(1).cumsum(1).flip(1)  # s_k = sum_{i >= k} sigma_i (0-based)
    feasible = ((r - idx) * sigma <= suffix * (1 + 1e-9)) & (idx < r)
    k = torch.argmax(feasible.to(torch.int8), dim=1)  # first feasible (k = r - 1 always is)
    s_k = suffix.gather(1, k[:, None])  # (B, 1)
    rest = idx[None, :] >= k[:, None]
    return k, s_k, rest


def _rotation_factor(sigma: torch.Tensor, r: int, signs: torch.Tensor) -> torch.Tensor:
    """``r + 1 -> r``: ``c (I - v v^T)`` on the rest, ``v_i = +-sqrt(1 - pi_i)``; see :func:`optimal_rank_reduction`."""
    K = sigma.shape[1]
    k, s_k, rest = _keep_count(sigma, r)
    q_rank = (r - k).to(sigma.dtype)[:, None]
    safe = s_k > _EPS
    w = torch.where(safe, 1 - q_rank * sigma / torch.where(safe, s_k, torch.ones_like(s_k)),
                    1.0 / (K - k).to(sigma.dtype)[:, None])
    w = torch.where(rest, w.clamp_min(0.0), torch.zeros_like(w))
    v = signs * w.sqrt()
    c = s_k / q_rank
    proj = torch.diag_embed(rest.to(sigma.dtype)) - v[:, :, None] * v[:, None, :]
    M = torch.diag_embed(torch.where(rest, torch.zeros_like(sigma), sigma)) + c[:, :, None] * proj
    evals, evecs = torch.linalg.eigh(M)  # ascending; M is PSD of rank r
    top = evals[:, K - r :].clamp_min(0.0)
    return evecs[:, :, K - r :] * top.sqrt()[:, None, :]


def _sampling_factor(sigma: torch.Tensor, r: int, u: torch.Tensor) -> torch.Tensor:
    """Any ``K > r``: keep ``r - k`` of the rest by systematic sampling with probabilities ``pi_i``."""
    B, K = sigma.shape
    k, s_k, rest = _keep_count(sigma, r)
    q_rank = (r - k).to(sigma.dtype)[:, None]
    safe = s_k > _EPS
    pi = torch.where(safe, q_rank * sigma / torch.where(safe, s_k, torch.ones_like(s_k)), q_rank / (K - k)[:, None])
    pi = torch.where(rest, pi.clamp(0.0, 1.0), torch.zeros_like(pi))
    upper = pi.cumsum(1)
    lower = upper - pi
    # index i is drawn when a point u + j (j integer) falls in [lower_i, upper_i): exactly r - k of them
    drawn = (torch.floor(upper - u[:, None]) - torch.floor(lower - u[:, None])) > 0.5
    keep = (~rest) | (rest & drawn)
    scale = torch.where(rest, (s_k / q_rank).expand(B, K), sigma)
    order = torch.argsort((~keep).to(torch.int8), dim=1, stable=True)[:, :r]  # the r kept indices
    T = torch.zeros(B, K, r, device=sigma.device, dtype=sigma.dtype)
    T.scatter_(1, order[:, None, :], scale.gather(1, order).sqrt()[:, None, :])
    return T


def optimal_rank_reduction(sigma: torch.Tensor, r: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Random factor of the minimum-variance unbiased rank-``r`` approximation of ``diag(sigma)``.

    For :math:`\\Sigma = \\operatorname{diag}(\\sigma_1 \\ge \\dots \\ge \\sigma_K \\ge 0)`, ``K > r``,
    returns a random ``K x r`` matrix ``T`` with :math:`\\mathbb E[T T^\\top] = \\Sigma` and the least
    :math:`\\mathbb E\\|T T^\\top - \\Sigma\\|_F^2` among unbiased approximations of rank ``r``
    (Benzing et al. 2019, Thm. 1). Let ``k`` be the smallest integer with
    :math:`(r - k)\\, \\sigma_{k+1} \\le s_k := \\sum_{i>k} \\sigma_i`: the ``k`` largest values are
    kept exactly and the rest is replaced by :math:`c\\,P` with :math:`c = s_k / (r - k)` and ``P`` a
    random orthogonal projector of rank ``r - k`` with :math:`\\mathbb E[P] =
    \\operatorname{diag}(\\pi_i)`, :math:`\\pi_i = (r - k)\\sigma_i / s_k \\le 1`. Any such ``P`` gives
    the mean :math:`\\Sigma` and, because :math:`\\|P\\|_F^2 = r - k`, the optimal variance
    :math:`s_k^2 / (r - k) - \\sum_{i>k} \\sigma_i^2`. Two constructions of ``P``:

    * ``K = r + 1`` (one new Kronecker term per step, the cells of :mod:`.cells`):
      :math:`P = I - v v^\\top`, :math:`v_i = \\pm\\sqrt{1 - \\pi_i}` with independent signs
      (:math:`\\sum_i v_i^2 = 1`, :math:`\\mathbb E[v v^\\top] = \\operatorname{diag}(1 - \\pi_i)`);
    * any ``K > r`` (e.g. ``r + 2`` terms when the immediate Jacobian is a sum of two Kronecker
      products): ``P`` projects on ``r - k`` coordinates drawn by systematic sampling with
      inclusion probabilities :math:`\\pi_i` (one uniform offset ``u``; index ``i`` is drawn when
      some ``u + j``, ``j`` integer, falls in :math:`[\\sum_{l<i}\\pi_l, \\sum_{l\\le i}\\pi_l)`).

    Parameters
    ----------
    sigma : torch.Tensor
        Singular values sorted in decreasing order, shape ``(B, K)``, ``K > r``.
    r : int
        Target rank (>= 1).
    generator : torch.Generator or None
        Source of the noise.

    Returns
    -------
    torch.Tensor
        ``T``, shape ``(B, K, r)``.

    Examples
    --------
    >>> import torch
    >>> T = optimal_rank_reduction(torch.tensor([[2.0, 1.0, 0.5]]), 2, torch.Generator().manual_seed(0))
    >>> T.shape
    torch.Size([1, 3, 2])
    """
    if not isinstance(r, int) or r < 1:
        raise ValueError(f"optimal_rank_reduction: r must be an integer >= 1, got {r!r}")
    if sigma.dim() != 2 or sigma.shape[1] <= r:
        raise ValueError(f"optimal_rank_reduction: sigma must have shape (B, K) with K > r = {r}, got {tuple(sigma.shape)}")
    B, K = sigma.shape
    if K == r + 1:
        signs = 2 * torch.randint(0, 2, (B, K), generator=generator, device=sigma.device).to(sigma.dtype) - 1
        return _rotation_factor(sigma, r, signs)
    return _sampling_factor(sigma, r, torch.rand(B, generator=generator, device=sigma.device, dtype=sigma.dtype))


class _KroneckerSum(OnlineLearner):
    """Shared state: ``A`` of shape ``(B, r, n, g n)`` and ``u`` of shape ``(B, r, m)``."""

    rank = 1
    _influence_names = ("A", "u")

    def _reset_influence(self, batch_size):
        g, n, m = self.cell.n_gates, self.cell.n_hidden, self.cell.n_features
        self.A = torch.zeros(batch_size, self.rank, n, g * n, device=self.device, dtype=self.dtype)
        self.u = torch.zeros(batch_size, self.rank, m, device=self.device, dtype=self.dtype)

    def _contract(self, c):
        cA = torch.einsum("bi,brip->brp", c, self.A)
        return torch.einsum("brp,brk->bpk", cA, self.u)


class KFRTRL(_KroneckerSum):
    """KF-RTRL: one Kronecker product, two terms merged with random signs (Mujika et al. 2018).

    Parameters are those of :class:`~neurolatent.methods.rtrl.OnlineLearner`.

    Examples
    --------
    >>> import torch
    >>> from neurolatent.methods.rtrl import GatedCell
    >>> learner = KFRTRL(GatedCell(2, 8, seed=0), torch.nn.Linear(8, 3), seed=1)
    >>> loss = learner.step(torch.randn(1, 2), torch.tensor([2]))
    >>> learner.gradient()["cell.weight"].shape
    torch.Size([16, 11])
    """

    def _propagate(self, jac):
        B = self.A.shape[0]
        JA = torch.einsum("bij,bjp->bip", jac.state, self.A[:, 0])
        u, a, D = self.u[:, 0], jac.inputs, jac.pre
        norm = lambda v: v.flatten(1).norm(dim=1)  # noqa: E731
        rho0 = torch.sqrt((norm(u) + _EPS) / (norm(JA) + _EPS))
        rho1 = torch.sqrt((norm(a) + _EPS) / (norm(D) + _EPS))
        s = self._signs(B)
        self.A = (rho0[:, None, None] * JA + (s * rho1)[:, None, None] * D)[:, None]
        self.u = (u / rho0[:, None] + (s / rho1)[:, None] * a)[:, None]


class OKRTRL(_KroneckerSum):
    """OK(r): the optimal rank-``r`` Kronecker-sum approximation of RTRL (Benzing et al. 2019).

    Parameters
    ----------
    cell, readout, loss, seed :
        As :class:`~neurolatent.methods.rtrl.OnlineLearner`.
    r : int
        Number of Kronecker terms kept (>= 1; the paper uses 1, 2, 4, 8). ``r >= min(n g n, m)``
        would be exact RTRL.

    Notes
    -----
    A step costs two thin QR decompositions of ``(n g n) x (r+1)`` and ``m x (r+1)`` matrices, an
    SVD and an eigendecomposition of ``(r+1) x (r+1)`` matrices and the products
    :math:`J_t A_i` (:math:`O(r g n^3)`), against :math:`O(g n^4)` for exact RTRL.

    Examples
    --------
    >>> import torch
    >>> from neurolatent.methods.rtrl import TanhCell
    >>> learner = OKRTRL(TanhCell(2, 8, seed=0), torch.nn.Linear(8, 3), r=2, seed=1)
    >>> loss = learner.step(torch.randn(1, 2), torch.tensor([2]))
    >>> learner.A.shape
    torch.Size([1, 2, 8, 8])
    """

    def __init__(self, cell, readout, *, r: int = 2, loss="cross_entropy", seed=0):
        if not isinstance(r, (int,)) or isinstance(r, bool) or r < 1:
            raise ValueError(f"OKRTRL: the rank r must be an integer >= 1 (the paper uses 1, 2, 4, 8), got {r!r}")
        self.rank = int(r)
        super().__init__(cell, readout, loss=loss, seed=seed)

    def _propagate(self, jac):
        B, r, n, gn = self.A.shape
        JA = torch.einsum("bij,brjp->brip", jac.state, self.A)
        P = torch.cat([JA.reshape(B, r, n * gn), jac.pre.reshape(B, 1, n * gn)], dim=1).mT  # (B, n gn, r+1)
        Q = torch.cat([self.u, jac.inputs[:, None]], dim=1).mT  # (B, m, r+1)
        Qp, Rp = torch.linalg.qr(P)
        Qq, Rq = torch.linalg.qr(Q)
        U, S, Vh = torch.linalg.svd(Rp @ Rq.mT, full_matrices=False)
        if S.shape[1] > r:
            T = optimal_rank_reduction(S, r, self.generator)  # (B, r+1, r)
        else:  # r >= min(n g n, m): the sum has rank <= r, keep it exactly (exact RTRL)
            T = torch.zeros(B, S.shape[1], r, device=self.device, dtype=self.dtype)
            T[:, :, : S.shape[1]] = torch.diag_embed(S.sqrt())
        left = Qp @ (U @ T)  # (B, n gn, r)
        right = Qq @ (Vh.mT @ T)  # (B, m, r)
        self.A = left.mT.reshape(B, r, n, gn)
        self.u = right.mT.contiguous()
