r"""Gaussian information bottleneck: closed forms (Chechik et al. 2005) and the generalised
Rényi-α / Jeffreys versions (after Ngampruetikorn & Schwab, "Generalized information bottleneck
for Gaussian variables", 2023).

Setting. :math:`(X, Y)` jointly Gaussian, zero mean, with blocks :math:`\Sigma_x, \Sigma_{xy},
\Sigma_y`; encoders are linear-Gaussian, :math:`T = AX + \xi`, :math:`\xi \sim N(0, I)`. The IB
Lagrangian is :math:`\mathcal L = I(X;T) - \beta I(T;Y)` (nats).

Chechik et al. Let :math:`\lambda_1 \le \lambda_2 \le \dots` be the eigenvalues of
:math:`\Sigma_{x|y}\Sigma_x^{-1}` (all in [0, 1]) with left eigenvectors :math:`v_i`
(:math:`v_i^\top\Sigma_{x|y}\Sigma_x^{-1} = \lambda_i v_i^\top`), :math:`r_i = v_i^\top\Sigma_x v_i`.
The optimal encoder is :math:`A = \mathrm{diag}(\alpha_i) V^\top` with

.. math:: \alpha_i^2 = \frac{\beta(1-\lambda_i) - 1}{\lambda_i r_i}\ \text{ for }
   \beta > \beta_{c,i} = \frac{1}{1-\lambda_i},\qquad \alpha_i = 0\ \text{otherwise},

so component *i* switches on at the critical :math:`\beta_{c,i}` (a structural transition).

Generalisation (derived here; the paper's own formulas were not available to us). Replace both
mutual informations by a dependence measure :math:`D(U;V) = \mathrm{Div}(p_{UV}\,\|\,p_U p_V)`:
Rényi-α, :math:`D_\alpha(P\|Q) = \frac{1}{\alpha-1}\log\int p^\alpha q^{1-\alpha}`, or Jeffreys,
:math:`J = KL(P\|Q) + KL(Q\|P)`. Both are additive over independent blocks and invariant under
invertible maps of each variable. The canonical coordinates :math:`u_i = v_i^\top X` are
independent, and so are their Y-predictable parts (:math:`v_i^\top\Sigma_{xy}\Sigma_y^{-1}\Sigma_{yx}v_j
= (1-\lambda_i)r_i\delta_{ij}`), so for :math:`A = \mathrm{diag}(\alpha_i)V^\top` the problem splits
into scalar problems in the squared correlation :math:`q_i = \rho^2(u_i, T_i) = s_i/(1+s_i)`,
:math:`s_i = \alpha_i^2 r_i`, with :math:`\rho^2(T_i, Y) = (1-\lambda_i)q_i`:

.. math:: \min_{0\le q<q_{\max}}\ f(q) - \beta f\big((1-\lambda_i) q\big), \qquad
   f_{\rm MI}(q) = -\tfrac12\log(1-q),\quad f_J(q) = \frac{q}{1-q},\quad
   f_\alpha(q) = -\tfrac12\log(1-q) + \frac{\log(1-(1-\alpha)^2 q)}{2(1-\alpha)} ,

(:math:`f_\alpha` is the Rényi information of a bivariate Gaussian with correlation
:math:`\rho^2 = q`). Every :math:`f` has :math:`f(0)=0`, :math:`f'(0)>0`, so :math:`q=0` stops being
optimal exactly when :math:`\beta(1-\lambda_i) > 1`: **the critical β's are the same for all three
measures**. Stationarity gives closed forms for MI (:math:`s = (\beta(1-\lambda)-1)/\lambda`,
Chechik's result) and Jeffreys (:math:`q = (c-1)/(c-1+\lambda)`, :math:`c = \sqrt{\beta(1-\lambda)}`);
for Rényi it is a cubic, solved numerically (bracketed root of :math:`h'(q)`). At
:math:`\alpha = 2`, :math:`f_2 = 2 f_{\rm MI}`: the Rényi-2 problem is exactly the original one. That the optimum
over *all* A lies in this diagonal family is checked numerically (:func:`optimize_gaussian_encoder`
finds no better unstructured encoder in the tests).
"""
from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.optimize
import torch
import xarray as xr

__all__ = [
    "gaussian_ib_spectrum",
    "gaussian_ib_encoder",
    "gaussian_ib_curve",
    "gaussian_dependence",
    "encoder_information",
    "optimize_gaussian_encoder",
    "gaussian_renyi_divergence",
    "gaussian_jeffreys_divergence",
    "optimal_correlation",
    "optimal_relevance",
]

MEASURES = ("mi", "renyi", "jeffreys")


def _check_measure(measure: str, alpha: float) -> None:
    if measure not in MEASURES:
        raise ValueError(f"measure must be one of {MEASURES}, got {measure!r}")
    if measure == "renyi" and (not np.isfinite(alpha) or alpha <= 0 or alpha == 1):
        raise ValueError(f"alpha must be positive and != 1 for the Rényi measure (alpha -> 1 is "
                         f"measure='mi'), got {alpha!r}")


def _as_np_cov(S, name):
    S = np.asarray(S.detach().cpu() if isinstance(S, torch.Tensor) else S, dtype=np.float64)
    if S.ndim != 2:
        raise ValueError(f"{name} must be a 2-D matrix, got shape {S.shape}")
    if not np.isfinite(S).all():
        raise ValueError(f"{name} contains non-finite entries; pass a finite covariance matrix")
    return S


# --------------------------------------------------------------------------- divergences (torch)
def gaussian_renyi_divergence(S1: torch.Tensor, S2: torch.Tensor, alpha: float) -> torch.Tensor:
    r"""Rényi-α divergence :math:`D_\alpha(N(0,S_1)\,\|\,N(0,S_2))` in nats (differentiable).

    .. math:: D_\alpha = \frac{1}{\alpha-1}\Big[-\frac{\alpha}{2}\log|S_1| - \frac{1-\alpha}{2}\log|S_2|
       - \frac12\log\big|\alpha S_1^{-1} + (1-\alpha)S_2^{-1}\big|\Big],

    finite when :math:`\alpha S_1^{-1} + (1-\alpha)S_2^{-1}` is positive definite.

    Examples
    --------
    >>> import torch
    >>> S1 = torch.tensor([[1.0, 0.5], [0.5, 1.0]], dtype=torch.float64)
    >>> float(gaussian_renyi_divergence(S1, torch.eye(2, dtype=torch.float64), 0.999999)) # ~ KL
    0.14384...
    """
    M = alpha * torch.linalg.inv(S1) + (1 - alpha) * torch.linalg.inv(S2)
    return (-alpha / 2 * torch.logdet(S1) - (1 - alpha) / 2 * torch.logdet(S2)
            - 0.5 * torch.logdet(M)) / (alpha - 1)


def gaussian_jeffreys_divergence(S1: torch.Tensor, S2: torch.Tensor) -> torch.Tensor:
    r"""Jeffreys divergence :math:`KL(P\|Q) + KL(Q\|P) = \tfrac12[\mathrm{tr}(S_2^{-1}S_1) +
    \mathrm{tr}(S_1^{-1}S_2)] - d` for zero-mean Gaussians (nats)."""
    d = S1.shape[-1]
    return 0.5 * (torch.linalg.solve(S2, S1).diagonal().sum() + torch.linalg.solve(S1, S2).diagonal().sum()) - d


def gaussian_dependence(S_joint: torch.Tensor, k: int, measure: str = "mi", alpha: float = 0.5) -> torch.Tensor:
    r"""Dependence between the first ``k`` and the remaining coordinates of :math:`N(0, S)`:
    divergence of the joint from the product of its marginals (MI, Rényi-α or Jeffreys)."""
    _check_measure(measure, alpha)
    S_prod = torch.block_diag(S_joint[:k, :k], S_joint[k:, k:])
    if measure == "mi":
        return 0.5 * (torch.logdet(S_prod) - torch.logdet(S_joint))
    if measure == "jeffreys":
        return gaussian_jeffreys_divergence(S_joint, S_prod)
    return gaussian_renyi_divergence(S_joint, S_prod, alpha)


def encoder_information(A, Sigma_x, Sigma_xy, Sigma_y, measure: str = "mi", alpha: float = 0.5):
    r"""Dependences :math:`D(X;T)` and :math:`D(T;Y)` of the encoder :math:`T = AX + \xi`.

    Joint covariances: :math:`\mathrm{Cov}(X,T) = [[\Sigma_x, \Sigma_x A^\top],[A\Sigma_x, A\Sigma_xA^\top + I]]`,
    :math:`\mathrm{Cov}(T,Y) = [[A\Sigma_xA^\top + I, A\Sigma_{xy}],[\Sigma_{yx}A^\top, \Sigma_y]]`.
    Torch in, torch out (differentiable in ``A``).
    """
    Sx, Sxy, Sy = (torch.as_tensor(s, dtype=A.dtype, device=A.device) for s in (Sigma_x, Sigma_xy, Sigma_y))
    St = A @ Sx @ A.mT + torch.eye(A.shape[0], dtype=A.dtype, device=A.device)
    SXT = torch.cat([torch.cat([Sx, Sx @ A.mT], 1), torch.cat([A @ Sx, St], 1)], 0)
    STY = torch.cat([torch.cat([St, A @ Sxy], 1), torch.cat([Sxy.mT @ A.mT, Sy], 1)], 0)
    k = A.shape[0]
    return gaussian_dependence(SXT, Sx.shape[0], measure, alpha), gaussian_dependence(STY, k, measure, alpha)


# --------------------------------------------------------------------------- closed forms
def gaussian_ib_spectrum(Sigma_x, Sigma_xy, Sigma_y) -> xr.Dataset:
    r"""Eigen-structure of :math:`\Sigma_{x|y}\Sigma_x^{-1}` and the critical trade-offs.

    Returns
    -------
    xarray.Dataset over ``component`` (ascending :math:`\lambda`): ``lam`` (:math:`\lambda_i`),
    ``beta_c`` (:math:`1/(1-\lambda_i)`, inf when :math:`\lambda_i = 1`), ``r``
    (:math:`v_i^\top\Sigma_x v_i`) and ``V`` (dims ``x, component``; columns are :math:`v_i`).

    Examples
    --------
    >>> import numpy as np
    >>> ds = gaussian_ib_spectrum(np.eye(2), np.diag([0.8, 0.5]), np.eye(2))
    >>> np.round(ds.beta_c.values, 4).tolist()      # lambda = 1 - 0.8**2, 1 - 0.5**2
    [1.5625, 4.0]
    """
    Sx = _as_np_cov(Sigma_x, "Sigma_x")
    Sxy = _as_np_cov(Sigma_xy, "Sigma_xy")
    Sy = _as_np_cov(Sigma_y, "Sigma_y")
    if Sxy.shape != (Sx.shape[0], Sy.shape[0]):
        raise ValueError(f"Sigma_xy must have shape ({Sx.shape[0]}, {Sy.shape[0]}) = (dim X, dim Y), got {Sxy.shape}")
    S_cond = Sx - Sxy @ np.linalg.solve(Sy, Sxy.T)
    # left eigenvectors of S_cond Sx^-1  <=>  generalised symmetric problem S_cond v = lam Sx v
    lam, V = scipy.linalg.eigh(S_cond, Sx)
    lam = np.clip(lam, 0.0, 1.0)
    r = np.einsum("ij,ik,kj->j", V, Sx, V)
    with np.errstate(divide="ignore"):
        beta_c = np.where(lam < 1, 1.0 / (1.0 - lam), np.inf)
    comp = np.arange(len(lam))
    return xr.Dataset({"lam": ("component", lam), "beta_c": ("component", beta_c), "r": ("component", r),
                       "V": (("x", "component"), V)}, coords={"component": comp},
                      attrs={"description": "eigenvalues of Sigma_{x|y} Sigma_x^{-1} and IB critical betas"})


def _f(q, measure, alpha):
    if measure == "mi":
        return -0.5 * np.log1p(-q)
    if measure == "jeffreys":
        return q / (1 - q)
    c = 1 - alpha
    return -0.5 * np.log1p(-q) + np.log1p(-c * c * q) / (2 * c)


def _fprime(q, measure, alpha):
    if measure == "mi":
        return 0.5 / (1 - q)
    if measure == "jeffreys":
        return 1 / (1 - q) ** 2
    c = 1 - alpha
    return 0.5 / (1 - q) - c / (2 * (1 - c * c * q))


def optimal_correlation(lam: float, beta: float, measure: str = "mi", alpha: float = 0.5) -> float:
    r"""Optimal squared correlation :math:`q^* = \rho^2(u_i, T_i)` of one canonical component."""
    kappa = 1.0 - lam
    if beta * kappa <= 1.0 or kappa <= 0:
        return 0.0
    if lam <= 0:
        return 1.0            # noiseless component: infinite SNR is optimal
    if measure == "mi":
        return (beta * kappa - 1) / ((beta - 1) * kappa)
    if measure == "jeffreys":
        c = np.sqrt(beta * kappa)
        return (c - 1) / (c - 1 + lam)
    qmax = min(1.0, 1.0 / (1 - alpha) ** 2)
    dh = lambda q: _fprime(q, measure, alpha) - beta * kappa * _fprime(kappa * q, measure, alpha)  # noqa: E731
    # bracket sign changes of h' on a grid dense near both ends (q* -> 0 at onset, -> qmax at large beta)
    grid = qmax * np.unique(np.concatenate([np.logspace(-13, 0, 300), 1 - np.logspace(-14, 0, 300)]))
    grid = grid[(grid > 0) & (grid < qmax)]
    vals = np.array([dh(q) for q in grid])
    roots = [scipy.optimize.brentq(dh, grid[i], grid[i + 1], xtol=1e-15, rtol=1e-14)
             for i in np.nonzero(np.sign(vals[:-1]) != np.sign(vals[1:]))[0]]
    if not roots:
        return 0.0
    h = [(_f(q, measure, alpha) - beta * _f(kappa * q, measure, alpha)) for q in roots]
    return float(roots[int(np.argmin(h))])


def gaussian_ib_encoder(Sigma_x, Sigma_xy, Sigma_y, beta: float, measure: str = "mi",
                        alpha: float = 0.5) -> np.ndarray:
    r"""Optimal linear encoder :math:`A` (rows = canonical components, ascending :math:`\lambda`).

    Row *i* is :math:`\alpha_i v_i^\top` with :math:`\alpha_i^2 r_i = s_i = q_i/(1-q_i)` from
    :func:`optimal_correlation`; inactive components (:math:`\beta \le \beta_{c,i}`) are zero rows.

    Examples
    --------
    >>> import numpy as np
    >>> A = gaussian_ib_encoder(np.eye(2), np.diag([0.8, 0.5]), np.eye(2), beta=2.0)
    >>> np.round(A, 4)          # only the first component (beta_c = 4 > 2 for the second)
    array([[0.8819, 0.    ],
           [0.    , 0.    ]])
    """
    _check_measure(measure, alpha)
    sp = gaussian_ib_spectrum(Sigma_x, Sigma_xy, Sigma_y)
    lam, r, V = sp.lam.values, sp.r.values, sp.V.values
    q = np.array([optimal_correlation(l_, beta, measure, alpha) for l_ in lam])
    s = np.where(q < 1, q / np.where(q < 1, 1 - q, 1), np.inf)
    a = np.sqrt(s / r)
    return a[:, None] * V.T


def gaussian_ib_curve(Sigma_x, Sigma_xy, Sigma_y, betas, measure: str = "mi", alpha: float = 0.5) -> xr.Dataset:
    r"""Optimal encoders of the (generalised) Gaussian IB over a sweep of :math:`\beta`.

    Returns
    -------
    xarray.Dataset with dims ``beta`` and ``component``: ``snr`` (:math:`s_i = \alpha_i^2 r_i`),
    ``I_xt``, ``I_ty`` (the *original* mutual informations of the encoder, nats),
    ``D_xt``, ``D_ty`` (the chosen measure), ``ib_objective`` (:math:`I_{xt} - \beta I_{ty}`, the
    original IB Lagrangian evaluated at this encoder) and ``beta_c`` (dim ``component``).
    """
    _check_measure(measure, alpha)
    betas = np.atleast_1d(np.asarray(betas, dtype=np.float64))
    sp = gaussian_ib_spectrum(Sigma_x, Sigma_xy, Sigma_y)
    lam = sp.lam.values
    q = np.array([[optimal_correlation(l_, b, measure, alpha) for l_ in lam] for b in betas])
    kappa = 1 - lam
    # per-component closed forms (component blocks are independent): MI and chosen measure
    I_xt = _f(q, "mi", alpha).sum(1)
    I_ty = _f(kappa * q, "mi", alpha).sum(1)
    D_xt = _f(q, measure, alpha).sum(1)
    D_ty = _f(kappa * q, measure, alpha).sum(1)
    with np.errstate(divide="ignore", invalid="ignore"):
        snr = np.where(q < 1, q / (1 - q), np.inf)
    return xr.Dataset(
        {"snr": (("beta", "component"), snr), "I_xt": ("beta", I_xt), "I_ty": ("beta", I_ty),
         "D_xt": ("beta", D_xt), "D_ty": ("beta", D_ty), "ib_objective": ("beta", I_xt - betas * I_ty),
         "beta_c": ("component", sp.beta_c.values), "lam": ("component", lam)},
        coords={"beta": betas, "component": sp.component.values},
        attrs={"measure": measure, "alpha": float(alpha) if measure == "renyi" else float("nan"),
               "units": "nats"})


def optimize_gaussian_encoder(Sigma_x, Sigma_xy, Sigma_y, beta: float, measure: str = "mi",
                              alpha: float = 0.5, n_components: int | None = None, init=None,
                              seed: int | None = 0, max_iter: int = 500) -> tuple[np.ndarray, float]:
    r"""Numerically minimise :math:`D(X;T) - \beta D(T;Y)` over an unstructured encoder ``A``.

    L-BFGS on all entries of ``A`` (shape ``(n_components, dim X)``) through the differentiable
    Gaussian divergences, float64 on CPU. It is the independent check of the closed forms and
    of the claim that optimal generalised encoders are diagonal in the canonical basis.

    Returns
    -------
    A : ndarray, value : float (the objective at ``A``).
    """
    _check_measure(measure, alpha)
    Sx = torch.as_tensor(_as_np_cov(Sigma_x, "Sigma_x"))
    k = n_components or Sx.shape[0]
    gen = torch.Generator().manual_seed(0 if seed is None else seed)
    A0 = torch.as_tensor(init, dtype=torch.float64) if init is not None else \
        0.5 * torch.randn(k, Sx.shape[0], dtype=torch.float64, generator=gen)
    A = A0.clone().requires_grad_()
    opt = torch.optim.LBFGS([A], lr=1, max_iter=max_iter, line_search_fn="strong_wolfe",
                            tolerance_grad=1e-11, tolerance_change=1e-14)

    def objective():
        dxt, dty = encoder_information(A, Sigma_x, Sigma_xy, Sigma_y, measure, alpha)
        return dxt - beta * dty

    def closure():
        opt.zero_grad()
        val = objective()
        if not torch.isfinite(val):      # Rényi with alpha > 1 can leave its domain: push back
            val = torch.tensor(1e6, dtype=torch.float64) + 0 * A.sum()
        val.backward()
        return val

    for _ in range(3):
        opt.step(closure)
    with torch.no_grad():
        return A.detach().numpy(), float(objective())


def optimal_relevance(Sigma_x, Sigma_xy, Sigma_y, I_xt) -> np.ndarray:
    r"""The Gaussian IB curve: the largest :math:`I(T;Y)` reachable with compression :math:`I(X;T)`.

    Inverts the monotone map :math:`\beta \mapsto I(X;T)` of the optimal encoders by bracketed root
    finding (no interpolation), so encoders of other objectives can be scored exactly against it:
    ``optimal_relevance(..., I_xt) - I_ty`` is their loss of relevant information at equal compression.
    """
    sp = gaussian_ib_spectrum(Sigma_x, Sigma_xy, Sigma_y)
    lam = sp.lam.values
    lam = lam[lam < 1]

    def ixt(beta):
        q = np.array([optimal_correlation(l_, beta) for l_ in lam])
        return _f(q, "mi", 0.5).sum(), _f((1 - lam) * q, "mi", 0.5).sum()

    out = []
    b0 = 1.0 / (1.0 - lam.min())
    for target in np.atleast_1d(np.asarray(I_xt, dtype=np.float64)):
        if target <= 0:
            out.append(0.0)
            continue
        hi = 2 * b0
        while ixt(hi)[0] < target:
            hi *= 2
        beta = scipy.optimize.brentq(lambda b: ixt(b)[0] - target, b0, hi, xtol=1e-14, rtol=1e-13)
        out.append(ixt(beta)[1])
    return np.array(out)
