"""Sparse (inducing-point) GP algebra of the mGPLVM, one neuron per batch element.

Everything here is a pure function of tensors and a batched GPyTorch kernel (batch shape
``(N,)``, one GP per neuron), with ``M`` inducing points ``Z`` shared by the neurons and the
whitened parameterisation of Hensman et al. (2015), *MCMC for variationally sparse Gaussian
processes* (NeurIPS):

.. math::
    u_n = L_{zz,n} w_n, \\qquad q(w_n) = \\mathcal N(m_n, S_n S_n^\\top), \\qquad
    p(w_n) = \\mathcal N(0, I),

so :math:`q(f_n(x)) = \\mathcal N(c_n + a^\\top m_n,\\ k(x,x) - a^\\top a + a^\\top S S^\\top a)` with
:math:`a = L_{zz}^{-1} k_{zx}`, and :math:`\\mathrm{KL}[q(u)\\|p(u)] = \\mathrm{KL}[q(w)\\|p(w)]`.
The collapsed bound is Titsias (2009), *Variational learning of inducing variables in sparse
Gaussian processes* (AISTATS).

Shapes: ``Z`` (M, amb); latent samples ``g`` (K, B, amb) (K Monte-Carlo samples of B time
bins); ``q_mu`` (N, M); ``q_sqrt`` (N, M, M) (lower triangle used); ``mean_const`` (N,).
"""
from __future__ import annotations

import gpytorch
import torch

from ..kernels import ManifoldRBFKernel
from ._scratch import SCRATCH

__all__ = ["kernel_dense", "kernel_diag", "set_kernel_hypers", "kzz_cholesky", "whitened_cross",
           "svgp_marginals", "rbf_marginal_moments",
           "rbf_marginal_moments_compiled", "kl_whitened", "optimal_qu", "collapsed_bound"]

JITTER = 1e-5  # relative to the mean prior variance of the inducing points


def kernel_dense(kernel, x1: torch.Tensor, x2: torch.Tensor) -> torch.Tensor:
    """Evaluate a (batched) GPyTorch kernel to a dense tensor without the lazy wrapper."""
    out = kernel.forward(x1, x2)
    return out.to_dense() if hasattr(out, "to_dense") else out


def _constant_diagonal(kernel) -> bool:
    """True when ``kernel`` is ``ScaleKernel(base)`` with a stationary base (``base(x, x) = base(0)``)."""
    return isinstance(kernel, gpytorch.kernels.ScaleKernel) and bool(getattr(kernel.base_kernel, "is_stationary",
                                                                             False))


def kernel_diag(kernel, g: torch.Tensor, neurons=None) -> torch.Tensor:
    """:math:`k_n(g, g)` for g (K, B, amb) -> (K, N_sel, B).

    A scaled stationary kernel has the constant diagonal ``outputscale * base(x, x)``, read at one
    point (no pass over the B points); any other kernel is asked for its diagonal.
    """
    if _constant_diagonal(kernel):
        x0 = g.reshape(-1, g.shape[-1])[:1]
        s = kernel.outputscale * kernel_dense(kernel.base_kernel, x0, x0).reshape(-1)  # (N,)
        s = s if neurons is None else s[neurons]
        return s.view(1, -1, 1).expand(g.shape[0], -1, g.shape[1])
    out = kernel.forward(g.unsqueeze(-3), g.unsqueeze(-3), diag=True)
    out = out.to_dense() if hasattr(out, "to_dense") else out
    return out if neurons is None else out[:, neurons]


def set_kernel_hypers(kernel, *, outputscale: torch.Tensor, lengthscale: float) -> None:
    """Set the per-neuron output scale (N,) and, where the base kernel has one, every lengthscale."""
    kernel.outputscale = outputscale.to(kernel.raw_outputscale)
    base = getattr(kernel, "base_kernel", None)
    if base is not None and getattr(base, "has_lengthscale", False):
        base.lengthscale = torch.full_like(base.lengthscale, float(lengthscale))


def kzz_cholesky(kernel, Z: torch.Tensor, jitter: float = JITTER) -> torch.Tensor:
    """Cholesky factor of :math:`K_{zz} + (\\epsilon\\,\\overline{\\mathrm{diag}} + 10^{-8}) I`, (N, M, M)."""
    Kzz = kernel_dense(kernel, Z, Z)
    eye = torch.eye(Z.shape[-2], dtype=Kzz.dtype, device=Kzz.device)
    return torch.linalg.cholesky(Kzz + jitter * Kzz.diagonal(dim1=-2, dim2=-1).mean(-1)[..., None, None] * eye
                                 + 1e-8 * eye)


def whitened_cross(kernel, Z: torch.Tensor, g: torch.Tensor, Lz: torch.Tensor) -> torch.Tensor:
    """:math:`A = L_{zz}^{-1} K_{zx}` for points g (K, B, amb) -> (K, N, M, B)."""
    Kzx = kernel_dense(kernel, Z, g.unsqueeze(-3))  # (K, N, M, B)
    return torch.linalg.solve_triangular(Lz, Kzx, upper=False)


def svgp_marginals(kernel, Z, q_mu, q_sqrt, mean_const, g, neurons=None, Lz=None, fused: bool | str = True,
                   moments_dtype: torch.dtype | None = None):
    """Mean and variance of :math:`f_n(g)` under q(u): g (K, B, amb) -> two (K, B, N_sel) tensors.

    With :math:`a = K_{zx}`, :math:`\\alpha = L^{-T} m` and
    :math:`Q = L^{-T}(S S^T - I) L^{-1}` (both (N, M, ...) and cheap), the whitened SVGP
    marginals are :math:`\\mu = c + a^T\\alpha` and :math:`v = k(x,x) + a^T Q a`, so only
    products with the big (K, N, M, B) tensor :math:`a` remain (no triangular solve on it). For
    ``ScaleKernel`` the output scale :math:`s` is folded into :math:`\\alpha` and :math:`Q` (tiny)
    instead of multiplying the big tensor by it. With an RBF base kernel on a manifold
    (:class:`~neurolatent.kernels.ManifoldRBFKernel`) and ``fused=True`` the kernel, mean and
    variance are one custom autograd function (:func:`rbf_marginal_moments`), which makes
    about half the passes over the big tensor of the autograd graph of the same formulas.
    ``fused="compile"`` evaluates the same formulas with ``torch.compile`` instead
    (:func:`rbf_marginal_moments_compiled`): faster per call, after a one-off compilation.
    ``moments_dtype`` (e.g. ``torch.float32`` in a float64 model): the fused moments, the one pass
    over the big tensor, are computed in that dtype from inputs cast to it and cast back (the
    small matrices, the kernel diagonal and the sum ``k(x,x) + a^T Q a`` stay in the model's dtype).
    """
    Lz = kzz_cholesky(kernel, Z) if Lz is None else Lz
    S = torch.tril(q_sqrt)
    qm, c = q_mu, mean_const
    if neurons is not None:
        Lz, S, qm, c = Lz[neurons], S[neurons], qm[neurons], c[neurons]
    eye = torch.eye(Z.shape[-2], dtype=Z.dtype, device=Z.device)
    Linv = torch.linalg.solve_triangular(Lz, eye.expand_as(Lz), upper=False)  # (N, M, M)
    alpha = (Linv.transpose(-1, -2) @ qm.unsqueeze(-1)).squeeze(-1)  # (N, M)
    Q = Linv.transpose(-1, -2) @ (S @ S.transpose(-1, -2) - eye) @ Linv  # (N, M, M)
    scaled = isinstance(kernel, gpytorch.kernels.ScaleKernel)
    if scaled:
        osc = kernel.outputscale if neurons is None else kernel.outputscale[neurons]
        alpha, Q = alpha * osc[:, None], Q * (osc ** 2)[:, None, None]
    base = kernel.base_kernel if scaled else kernel
    # (the fused path has one lengthscale per neuron: ARD lengthscales (N, 1, C > 1) take the general one)
    if fused and isinstance(base, ManifoldRBFKernel) and base.active_dims is None and base.lengthscale.shape[-1] == 1:
        # k(x, x) = s exp(0) = s exactly (the distance of a point to itself is set to 0): no kernel call
        kdiag = osc.view(1, -1, 1) if scaled else torch.ones((), dtype=Z.dtype, device=Z.device)
        sq = base.manifold.pairwise_sq_dist(Z, g)  # (K, M, B): shared by the neurons
        ell = base.lengthscale.reshape(-1)  # (N,) or (1,)
        ell = ell if neurons is None or ell.numel() == 1 else ell[neurons]
        inv_l2 = (1.0 / (ell * ell)).expand(alpha.shape[0])
        moments = rbf_marginal_moments_compiled if fused == "compile" else rbf_marginal_moments
        if moments_dtype is not None and moments_dtype != sq.dtype:
            mean, quad = moments(*(x.to(moments_dtype) for x in (sq, inv_l2, alpha, Q)))
            mean, quad = mean.to(sq.dtype), quad.to(sq.dtype)
        else:
            mean, quad = moments(sq, inv_l2, alpha, Q)  # (K, N_sel, B) each
        var = kdiag + quad
        return mean.transpose(-1, -2) + c, var.clamp_min(1e-10).transpose(-1, -2)
    kdiag = kernel_diag(kernel, g, neurons)  # (K, N_sel, B)
    Kzx = kernel_dense(base, Z, g.unsqueeze(-3))  # (K, N_all or 1, M, B)
    if neurons is not None and Kzx.shape[-3] > 1:
        Kzx = Kzx[:, neurons]
    mean = (alpha.unsqueeze(-2) @ Kzx).squeeze(-2).transpose(-1, -2) + c  # (K, B, N)
    var = kdiag + (Kzx * (Q @ Kzx)).sum(-2)
    return mean, var.clamp_min(1e-10).transpose(-1, -2)


class _RBFMoments(torch.autograd.Function):
    """Forward and backward of :func:`rbf_marginal_moments` with few passes over (K, N, M, B)."""

    @staticmethod
    def forward(ctx, sq, inv_l2, alpha, Q):
        K, M, B = sq.shape
        N = inv_l2.shape[0]
        E = SCRATCH.take((K, N, M, B), sq.dtype, sq.device)  # written whole before it is read
        torch.mul(sq.unsqueeze(1), (-0.5 * inv_l2)[:, None, None], out=E)
        E.exp_()
        W = torch.cat([alpha.unsqueeze(-2), Q], -2)  # (N, 1 + M, M): one product gives both moments
        P = SCRATCH.take((K, N, 1 + M, B), sq.dtype, sq.device)
        torch.matmul(W, E, out=P)  # (K, N, 1 + M, B)
        mean = P[:, :, 0].clone()
        quad = P[:, :, 1:].mul_(E).sum(2)
        SCRATCH.give(P)
        if any(ctx.needs_input_grad):
            ctx.save_for_backward(sq, inv_l2, alpha, Q, E)
        else:
            SCRATCH.give(E)
        return mean, quad

    @staticmethod
    def backward(ctx, g_mean, g_quad):
        # every contraction is a (batched) matrix product on views of E: no permuted copies
        sq, inv_l2, alpha, Q, E = ctx.saved_tensors
        K, N, M, B = E.shape
        g_mean, g_quad = g_mean.contiguous(), g_quad.contiguous()
        d_alpha = (E @ g_mean.unsqueeze(-1)).squeeze(-1).sum(0)  # (N, M)
        # [E diag(g_quad); g_mean] (K, N, M + 1, B): one product [2Q, alpha] @ it gives dL/dE below
        EGx = SCRATCH.take((K, N, M + 1, B), E.dtype, E.device)
        EG = EGx[:, :, :M]
        torch.mul(E, g_quad.unsqueeze(2), out=EG)  # E diag(g_quad)
        EGx[:, :, M] = g_mean
        d_Q = (EG @ E.transpose(-1, -2)).sum(0)  # (N, M, M)
        # dL/dE = alpha g_mean^T (mean) + (Q + Q^T) E diag(g_quad) = 2 Q E diag(g_quad) (quadratic form)
        G = SCRATCH.take(E.shape, E.dtype, E.device, avoid=E)
        torch.matmul(torch.cat([2 * Q, alpha.unsqueeze(-1)], -1), EGx, out=G)
        SCRATCH.give(EGx)
        dz = G.mul_(E).view(K, N, M * B)  # dL/dz with E = exp(z), z = -sq inv_l2 / 2
        d_sq = d_inv = None
        if ctx.needs_input_grad[0]:
            d_sq = (-0.5 * inv_l2).view(1, 1, N).matmul(dz).view(K, M, B)
        if ctx.needs_input_grad[1]:
            d_inv = (dz @ sq.reshape(K, M * B, 1)).sum(0).view(N) * -0.5
        SCRATCH.give(G)
        SCRATCH.give(E)  # a later forward's in-place write makes a retained graph's reuse of E fail loudly
        return d_sq, d_inv, d_alpha, d_Q


def rbf_marginal_moments(sq: torch.Tensor, inv_l2: torch.Tensor, alpha: torch.Tensor, Q: torch.Tensor):
    """:math:`\\sum_m \\alpha_{nm} E_{knmb}` and :math:`\\sum_{mm'} E_{knmb} Q_{nmm'} E_{knm'b}` with
    :math:`E_{knmb} = \\exp(-\\tfrac12 \\rho_{kmb} / \\ell_n^2)`.

    The SVGP mean and variance terms for an RBF kernel on squared distances ``sq``
    (K, M, B) = :math:`\\rho(z_m, g_{kb})` with per-neuron ``inv_l2`` (N,) = :math:`1/\\ell_n^2`,
    ``alpha`` (N, M) and a symmetric ``Q`` (N, M, M). Returns two (K, N, B) tensors. A custom
    autograd function: one exp and one batched product ``[alpha; Q] @ E`` forward, and a backward
    that reuses ``E`` and makes ``dL/dE`` in one product ``[2Q, alpha] @ [E diag(g_quad); g_mean]``
    (checked against finite differences in the tests). Its large (K, N, M, B) temporaries and the
    saved ``E`` come from a free list of scratch tensors (:mod:`neurolatent.models._scratch`)
    instead of fresh allocations, whose page faults cost a third of its time at the default fly
    step's shapes.
    """
    return _RBFMoments.apply(sq, inv_l2, alpha, Q)


def _rbf_moments_formulas(sq, inv_l2, alpha, Q):
    E = torch.exp(sq.unsqueeze(1) * (-0.5 * inv_l2)[:, None, None])  # (K, N, M, B)
    return (alpha.unsqueeze(-2) @ E).squeeze(-2), (E * (Q @ E)).sum(2)


_COMPILED = {}  # the torch.compile'd formulas, made on first use (compiling is slow: not at import)


def rbf_marginal_moments_compiled(sq: torch.Tensor, inv_l2: torch.Tensor, alpha: torch.Tensor, Q: torch.Tensor):
    """:func:`rbf_marginal_moments` by ``torch.compile`` of its plain formulas (autograd backward).

    The inductor backend fuses the element-wise passes of the forward and the backward into
    generated loops around the batched products. On one CPU thread at the default fly step's shapes
    (K, N, M, B) = (5, 16, 15, 500) the forward + backward alone took 0.68x the CPU time of the
    custom autograd function (5.7 vs 8.5 ms, float64), yet a whole default fly step was slower with
    it (0.87x, ``benchmarks/mgplvm_speed.py``: the compiled call's overhead eats the gain at that
    size). At the long-recording shape (5, 500, 15, 1000) the forward + backward took 0.81x the
    custom function's CPU time (791 vs 981 ms). The first call compiles C++ (20 s to minutes;
    cached on disk by torch for later processes) and a new shape may compile again. An option
    for large (n_mc, N, M, B) tensors, not the default. Needs a C++ compiler on the CPU (Triton
    on CUDA), as ``torch.compile`` does.
    """
    fn = _COMPILED.get("moments")
    if fn is None:
        fn = _COMPILED["moments"] = torch.compile(_rbf_moments_formulas, dynamic=None)
    return fn(sq, inv_l2, alpha, Q)


def kl_whitened(q_mu: torch.Tensor, q_sqrt: torch.Tensor) -> torch.Tensor:
    """:math:`\\sum_n \\mathrm{KL}(\\mathcal N(m_n, S_n S_n^T)\\,\\|\\,\\mathcal N(0, I))` (scalar)."""
    S = torch.tril(q_sqrt)
    M = q_mu.shape[-1]
    logdet = torch.log(S.diagonal(dim1=-2, dim2=-1).abs().clamp_min(1e-20)).sum(-1)
    return 0.5 * ((S * S).sum((-1, -2)) + (q_mu ** 2).sum(-1) - M - 2 * logdet).sum()


def optimal_qu(A: torch.Tensor, target: torch.Tensor, mean_const: torch.Tensor, noise: torch.Tensor):
    """Titsias' optimal whitened q(u) for inputs with cross-covariances A (S, N, M, T).

    With :math:`\\Psi_1 = \\mathbb E[A]`, :math:`\\Psi_2 = \\mathbb E[A A^T]` over the S samples:
    :math:`P = I + \\Psi_2/\\sigma^2`, :math:`m = P^{-1}\\Psi_1 (y - c)/\\sigma^2`,
    :math:`S S^T = P^{-1}`. Returns ``(q_mu (N, M), q_sqrt (N, M, M))``.
    """
    s2 = noise.view(-1, 1, 1)
    eye = torch.eye(A.shape[-2], dtype=A.dtype, device=A.device)
    P = eye + (A @ A.transpose(-1, -2)).mean(0) / s2
    LP = torch.linalg.cholesky(P)
    r = (target - mean_const).T.unsqueeze(-1)  # (N, T, 1)
    q_mu = torch.cholesky_solve(A.mean(0) @ r / s2, LP).squeeze(-1)
    q_sqrt = torch.linalg.cholesky(torch.cholesky_inverse(LP) + 1e-8 * eye)
    return q_mu, q_sqrt


def collapsed_bound(kernel, Z, g, Y, mean_const, noise_var, Lz=None):
    """Titsias' collapsed bound per latent sample, summed over neurons: ``(bound (K,), A (K, N, M, T))``.

    Per sample and neuron (batched), with :math:`A = L_{zz}^{-1}K_{zx}/\\sigma`,
    :math:`L_B = \\mathrm{chol}(I + AA^T)`, :math:`c = L_B^{-1} A r/\\sigma`, :math:`r = y - c_n`:
    :math:`\\log\\mathcal N(r; 0, Q + \\sigma^2 I) - \\mathrm{tr}(K - Q)/2\\sigma^2 =
    -\\tfrac T2\\log 2\\pi\\sigma^2 - \\sum\\log\\mathrm{diag}L_B - \\tfrac{\\|r\\|^2}{2\\sigma^2}
    + \\tfrac{\\|c\\|^2}2 - \\tfrac{\\sum_t k(x_t,x_t)}{2\\sigma^2} + \\tfrac{\\mathrm{tr}(AA^T)}2`.
    ``A`` is returned scaled by :math:`1/\\sigma` and detached.
    """
    s2 = noise_var  # (N,)
    Lz = kzz_cholesky(kernel, Z) if Lz is None else Lz
    A = whitened_cross(kernel, Z, g, Lz) / torch.sqrt(s2)[:, None, None]
    AAT = A @ A.transpose(-1, -2)
    LB = torch.linalg.cholesky(AAT + torch.eye(Z.shape[-2], dtype=Z.dtype, device=Z.device))
    r = (Y - mean_const).T  # (N, T)
    c = torch.linalg.solve_triangular(LB, (A @ r.unsqueeze(-1)) / torch.sqrt(s2)[:, None, None], upper=False)
    kdiag = kernel_diag(kernel, g).sum(-1)  # (K, N)
    T = Y.shape[0]
    bound = (-0.5 * T * torch.log(2 * torch.pi * s2) - torch.log(LB.diagonal(dim1=-2, dim2=-1)).sum(-1)
             - (r * r).sum(-1) / (2 * s2) + 0.5 * (c * c).sum((-1, -2)) - kdiag / (2 * s2)
             + 0.5 * AAT.diagonal(dim1=-2, dim2=-1).sum(-1))
    return bound.sum(-1), A.detach()
