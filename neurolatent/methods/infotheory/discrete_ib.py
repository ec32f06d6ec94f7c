r"""Discrete information bottleneck: Blahut--Arimoto with annealing, and the learning onset.

IB (Tishby, Pereira & Bialek 1999): for a joint :math:`p(x, y)` find :math:`p(t|x)` minimising
:math:`I(X;T) - \beta I(T;Y)`. Stationary points satisfy the self-consistent equations iterated
by :func:`blahut_arimoto`:

.. math:: p(t|x) \propto p(t)\exp\big(-\beta\,KL[p(y|x)\,\|\,p(y|t)]\big),\quad
   p(t) = \sum_x p(x)p(t|x),\quad p(y|t) = \sum_x p(y|x)p(x|t).

Learning onset (after Ngampruetikorn & Schwab, "Perturbation theory for the information
bottleneck", 2021; the derivation below is ours). Perturb the trivial encoder,
:math:`p(t|x) = p(t)(1 + \varepsilon h_t(x))` with :math:`\sum_t p(t)h_t = 0`. With
:math:`g_t(y) = E[h_t(X)|Y=y]` and :math:`(1+u)\log(1+u) = u + u^2/2 - u^3/6 + u^4/12 - \dots`,

.. math:: I(X;T) = \sum_t p(t)\Big[\tfrac{\varepsilon^2}{2}E h_t^2 - \tfrac{\varepsilon^3}{6}E h_t^3
   + \tfrac{\varepsilon^4}{12}E h_t^4\Big] + O(\varepsilon^5),

and the same for :math:`I(T;Y)` with :math:`g_t` in place of :math:`h_t`. The quadratic term of
the Lagrangian is :math:`\tfrac{\varepsilon^2}{2}\sum_t p(t)(E h_t^2 - \beta E g_t^2)`, so the
trivial solution loses stability when :math:`\beta \max_h E[g^2]/E[h^2] = 1`, i.e. at

.. math:: \beta_c = 1/\rho_m^2,

:math:`\rho_m` the second singular value of :math:`Q_{xy} = p(x,y)/\sqrt{p(x)p(y)}` (the maximal
correlation), with the perturbation along :math:`h(x) = u_2(x)/\sqrt{p(x)}` (the linearised IB
operator's leading non-trivial eigenvector). Leading behaviour above onset: for the symmetric
binary split (:math:`h_{1,2} = \pm h`, :math:`p(t) = 1/2`) the cubic terms cancel and, with
:math:`e = \varepsilon^2`, :math:`\mathcal L = \tfrac e2(1 - \beta\rho_m^2) + \tfrac{e^2}{12}(E h^4 - \beta E g^4)`,
minimised at

.. math:: e^*(\beta) = \frac{3(\beta\rho_m^2 - 1)}{E h^4 - \beta E g^4},\qquad
   I(X;T) \approx \tfrac{e^*}{2} + \tfrac{e^{*2}}{12}E h^4,\quad
   I(T;Y) \approx \tfrac{e^*\rho_m^2}{2} + \tfrac{e^{*2}}{12}E g^4,

so :math:`I(X;T)` grows linearly in :math:`\beta - \beta_c` with slope
:math:`\tfrac32\rho_m^2/(E h^4 - \beta_c E g^4)` and :math:`dI(T;Y)/dI(X;T) \to \rho_m^2 = 1/\beta_c`
(the maximum relevant information per bit). Tilting :math:`h` away from :math:`u_2` changes
:math:`\mathcal L` only at :math:`O(e^3)`. When the cubic coefficient
:math:`E h^3 - \beta_c E g^3` is non-zero, unequal cluster weights make the cubic term negative and
the onset is discontinuous (a jump at :math:`\beta_c` under annealing); the quartic prediction then
does not apply (``ib_onset(...).continuous`` reports which case holds).
"""
from __future__ import annotations

import numpy as np
import xarray as xr
from tqdm.auto import tqdm

__all__ = ["blahut_arimoto", "ib_curve", "ib_onset", "ib_onset_prediction", "mutual_information"]


def _check_joint(p_xy) -> np.ndarray:
    p = np.asarray(p_xy, dtype=np.float64)
    if p.ndim != 2:
        raise ValueError(f"p_xy must be a 2-D joint probability table (x, y), got shape {p.shape}")
    if not np.isfinite(p).all() or (p < 0).any():
        raise ValueError("p_xy must have finite, non-negative entries; fix the table before calling")
    total = p.sum()
    if not np.isclose(total, 1.0, atol=1e-8):
        raise ValueError(f"p_xy must sum to 1, sums to {total:.6g}; divide it by its sum first")
    if (p.sum(1) == 0).any() or (p.sum(0) == 0).any():
        raise ValueError("p_xy has an all-zero row or column (a value of x or y with probability 0); drop it")
    return p


def _xlogy(x, y):
    out = np.zeros_like(x)
    m = x > 0
    out[m] = x[m] * np.log(y[m])
    return out


def mutual_information(p_xy) -> float:
    """Mutual information (nats) of a joint probability table."""
    p = _check_joint(p_xy)
    return float(_xlogy(p, p / np.outer(p.sum(1), p.sum(0))).sum())


def _informations(enc, px, py_x, py):
    pt = px @ enc
    joint_xt = px[:, None] * enc
    I_xt = _xlogy(joint_xt, enc / np.where(pt > 0, pt, 1)[None, :]).sum()
    joint_ty = joint_xt.T @ py_x
    I_ty = _xlogy(joint_ty, joint_ty / np.outer(np.where(pt > 0, pt, 1), py)).sum()
    return max(float(I_xt), 0.0), max(float(I_ty), 0.0)


def blahut_arimoto(p_xy, beta: float, n_clusters: int | None = None, init=None, seed: int | None = 0,
                   max_iter: int = 20000, tol: float = 1e-13):
    r"""Iterate the IB self-consistent equations at one :math:`\beta` (module docstring).

    Parameters
    ----------
    p_xy : array, shape (nx, ny)
    beta : float
    n_clusters : int, optional
        Cardinality of T (default nx).
    init : array, shape (nx, n_clusters), optional
        Starting encoder :math:`p(t|x)` (rows sum to 1); random when omitted.
    max_iter, tol : stop when the encoder changes by less than ``tol`` (max abs).

    Returns
    -------
    encoder : ndarray (nx, n_clusters); n_iter : int
    """
    p = _check_joint(p_xy)
    px, py = p.sum(1), p.sum(0)
    py_x = p / px[:, None]
    nt = n_clusters or p.shape[0]
    rng = np.random.default_rng(seed)
    enc = rng.dirichlet(np.ones(nt), size=p.shape[0]) if init is None else np.array(init, dtype=np.float64)
    log_py_x = np.log(np.where(py_x > 0, py_x, 1.0))
    neg_ent = (py_x * log_py_x).sum(1)                 # sum_y p(y|x) log p(y|x)
    for it in range(1, max_iter + 1):
        pt = px @ enc
        py_t = (enc * px[:, None]).T @ py_x / np.where(pt > 0, pt, 1)[:, None]
        kl = neg_ent[:, None] - py_x @ np.log(np.clip(py_t, 1e-300, None)).T
        logits = np.log(np.clip(pt, 1e-300, None))[None, :] - beta * kl
        logits -= logits.max(1, keepdims=True)
        new = np.exp(logits)
        new /= new.sum(1, keepdims=True)
        delta = np.abs(new - enc).max()
        enc = new
        if delta < tol:
            break
    return enc, it


def ib_curve(p_xy, betas, n_clusters: int | None = None, perturb: float = 1e-3, seed: int | None = 0,
             max_iter: int = 20000, tol: float = 1e-13, progress: bool = False, callback=None) -> xr.Dataset:
    r"""Annealed IB solutions over increasing :math:`\beta` (deterministic annealing).

    Starts from the trivial encoder at the smallest :math:`\beta`; at each new :math:`\beta` the
    previous encoder is multiplied by :math:`1 + \mathrm{perturb}\cdot\mathcal U(-1,1)` noise and
    re-iterated, so a solution that has become unstable can leave it. Returns an
    :class:`xarray.Dataset` over ``beta`` with ``I_xt``, ``I_ty`` (nats), ``n_iter`` and the
    ``encoder`` (dims ``beta, x, t``). ``callback(beta, encoder)`` runs after each step.
    """
    p = _check_joint(p_xy)
    betas = np.sort(np.atleast_1d(np.asarray(betas, dtype=np.float64)))
    nt = n_clusters or p.shape[0]
    px, py = p.sum(1), p.sum(0)
    py_x = p / px[:, None]
    rng = np.random.default_rng(seed)
    enc = np.full((p.shape[0], nt), 1.0 / nt)
    I_xt, I_ty, iters, encs = [], [], [], []
    for b in tqdm(betas, disable=not progress, desc="IB annealing"):
        init = enc * (1 + perturb * rng.uniform(-1, 1, size=enc.shape))
        init /= init.sum(1, keepdims=True)
        enc, it = blahut_arimoto(p, b, nt, init=init, max_iter=max_iter, tol=tol)
        ix, iy = _informations(enc, px, py_x, py)
        I_xt.append(ix)
        I_ty.append(iy)
        iters.append(it)
        encs.append(enc)
        if callback is not None:
            callback(b, enc)
    return xr.Dataset({"I_xt": ("beta", I_xt), "I_ty": ("beta", I_ty), "n_iter": ("beta", iters),
                       "encoder": (("beta", "x", "t"), np.stack(encs))},
                      coords={"beta": betas}, attrs={"units": "nats", "perturb": perturb})


def ib_onset(p_xy) -> xr.Dataset:
    r"""Perturbation theory of the learning onset (module docstring).

    Returns
    -------
    xarray.Dataset with scalars ``beta_c`` (:math:`1/\rho_m^2`), ``rho2``, ``Eh4``, ``Eg4``,
    ``cubic`` (:math:`E h^3 - \beta_c E g^3`), ``slope`` (:math:`dI(X;T)/d\beta` at onset for the
    continuous case), ``continuous`` (1 = continuous onset, 0 = jump; int8 so that netCDF can
    store it), and the eigenfunctions ``h`` (dim ``x``), ``g`` (dim ``y``).

    Examples
    --------
    >>> import numpy as np
    >>> e = 0.1                                       # binary symmetric channel, uniform input
    >>> p = np.array([[1 - e, e], [e, 1 - e]]) / 2
    >>> round(float(ib_onset(p).beta_c), 6)           # 1 / (1 - 2e)^2
    1.5625
    """
    p = _check_joint(p_xy)
    px, py = p.sum(1), p.sum(0)
    Q = p / np.sqrt(np.outer(px, py))
    U, s, Vt = np.linalg.svd(Q)
    if len(s) < 2 or s[1] <= 1e-14:
        raise ValueError("X and Y are independent (maximal correlation 0): the IB never learns (beta_c = inf)")
    rho2 = s[1] ** 2
    h = U[:, 1] / np.sqrt(px)
    g = (p / py[None, :]).T @ h                       # E[h(X) | Y = y]
    if (px * h ** 3).sum() < 0:                       # fix the sign convention: E h^3 >= 0
        h, g = -h, -g
    Eh3, Eg3 = (px * h ** 3).sum(), (py * g ** 3).sum()
    Eh4, Eg4 = (px * h ** 4).sum(), (py * g ** 4).sum()
    beta_c = 1.0 / rho2
    cubic = Eh3 - beta_c * Eg3
    quartic = Eh4 - beta_c * Eg4
    continuous = bool(abs(cubic) < 1e-8 * max(1.0, Eh4) and quartic > 0)
    return xr.Dataset({"beta_c": beta_c, "rho2": rho2, "Eh4": Eh4, "Eg4": Eg4, "cubic": cubic,
                       "quartic": quartic, "slope": 1.5 * rho2 / quartic if quartic > 0 else np.nan,
                       "continuous": np.int8(continuous), "h": ("x", h), "g": ("y", g)},
                      attrs={"units": "nats"})


def ib_onset_prediction(p_xy, betas) -> xr.Dataset:
    r"""Leading-order :math:`I(X;T)`, :math:`I(T;Y)` just above onset (symmetric binary branch).

    Zero for :math:`\beta \le \beta_c`; above, :math:`e^*(\beta)` from the quartic expansion
    (module docstring). Valid for ``ib_onset(p).continuous``; returns NaN above onset otherwise.
    """
    on = ib_onset(p_xy)
    betas = np.atleast_1d(np.asarray(betas, dtype=np.float64))
    rho2, Eh4, Eg4 = float(on.rho2), float(on.Eh4), float(on.Eg4)
    with np.errstate(divide="ignore", invalid="ignore"):
        e = np.where(betas * rho2 > 1, 3 * (betas * rho2 - 1) / (Eh4 - betas * Eg4), 0.0)
    if not bool(on.continuous):
        e = np.where(betas * rho2 > 1, np.nan, e)
    return xr.Dataset({"I_xt": ("beta", e / 2 + e ** 2 * Eh4 / 12), "I_ty": ("beta", e * rho2 / 2 + e ** 2 * Eg4 / 12),
                       "epsilon2": ("beta", e)}, coords={"beta": betas},
                      attrs={"beta_c": float(on.beta_c), "units": "nats"})
