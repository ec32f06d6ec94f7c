"""Initialisation of the mGPLVM latents from a PCA of the data, mapped onto the manifold.

Why PCA: on a ring recording (e.g. the fly compass) the first two principal components are,
up to a rotation and scaling, the cosine and sine of the bump phase, so ``atan2(PC2, PC1)``
is already close to the latent angle and the fit only refines it. The same idea generalises
factor by factor, asking each factor (:class:`~neurolatent.manifolds.Manifold` object, the
parts of a :class:`~neurolatent.manifolds.Product` in order) for its own map:

=====================  ===============  ==============================================
factor                 PCs used         map onto the factor
=====================  ===============  ==============================================
:class:`Torus` (d)     2d               one angle ``atan2(PC_{2i+1}, PC_{2i})`` per pair
any other manifold     ``ambient_dim``  its ``projection`` of the PCs (Euclid: unit-variance
                                        PCs, matching the N(0, I) prior; spheres and SO(3):
                                        PCs normalised per time point; a user's own
                                        manifold: whatever its projection does)
=====================  ===============  ==============================================

Products (``"T1xR1"``) use consecutive blocks of PCs, one per factor.

For ``Td`` with d >= 2 the 2d leading PCs span (cos, sin) of every angle, but PCs of equal
variance come out in an arbitrary rotation of that subspace, so pairing PC1 with PC2 mixes
the angles. :func:`demix_circles` first finds the rotation of the (whitened) block under which
each pair traces a circle (minimal variance of each pair's squared radius), then reads the angles.
"""
from __future__ import annotations

import numpy as np
import torch

from ..manifolds import Manifold, Product, Torus, get_manifold

__all__ = ["pca_init", "farthest_point_indices", "factors"]


def factors(manifold: Manifold) -> tuple[Manifold, ...]:
    """The factors of a product (``Product.parts``), or ``(manifold,)``."""
    return tuple(manifold.parts) if isinstance(manifold, Product) else (manifold,)


def _n_pcs(part: Manifold) -> int:
    return 2 * part.dim if isinstance(part, Torus) else part.ambient_dim


def pca_init(Y: np.ndarray, manifold, rng: np.random.Generator, noise: float = 0.0) -> np.ndarray:
    """Initial latent points (time, ambient_dim) from a PCA of ``Y`` (time, neuron).

    Parameters
    ----------
    Y : ndarray (T, N)
    manifold : Manifold or str
        The latent space (a spec string is turned into its :class:`Manifold`).
    rng : numpy Generator
        Used to pad with random directions when N is smaller than the PCs needed, and for
        ``noise``.
    noise : float
        Std of Gaussian jitter added to the PCs (relative to their scale).

    Returns
    -------
    ndarray (T, ambient_dim), on the manifold.

    Examples
    --------
    >>> import numpy as np
    >>> th = np.linspace(0, 2 * np.pi, 50, endpoint=False)
    >>> Y = np.stack([np.cos(th - p) for p in np.linspace(0, 6, 8)], 1)
    >>> z = pca_init(Y, "T1", np.random.default_rng(0))
    >>> z.shape
    (50, 1)
    """
    parts = factors(get_manifold(manifold))
    need = sum(_n_pcs(p) for p in parts)
    Yc = Y - Y.mean(0, keepdims=True)
    sd = Yc.std(0, keepdims=True)
    Yc = Yc / np.where(sd > 0, sd, 1.0)
    U, S, _ = np.linalg.svd(Yc, full_matrices=False)
    pcs = U * S  # (T, min(T, N))
    pcs = pcs / np.maximum(pcs.std(0, keepdims=True), 1e-12)
    if pcs.shape[1] < need:
        pad = rng.standard_normal((Y.shape[0], need - pcs.shape[1]))
        pcs = np.concatenate([pcs, pad], 1)
    pcs = pcs[:, :need]
    if noise > 0:
        pcs = pcs + noise * rng.standard_normal(pcs.shape)
    out, j = [], 0
    for part in parts:
        block = pcs[:, j:j + _n_pcs(part)]
        j += _n_pcs(part)
        if isinstance(part, Torus):
            if part.dim > 1:
                block = demix_circles(block, part.dim, rng)
            out.append(np.arctan2(block[:, 1::2], block[:, 0::2]))
        else:
            out.append(part.projection(torch.as_tensor(block, dtype=torch.float64)).numpy())
    return np.concatenate(out, 1)


def demix_circles(block: np.ndarray, d: int, rng: np.random.Generator, n_restarts: int = 8,
                  n_steps: int = 300) -> np.ndarray:
    """Rotate ``block`` (T, 2d) so that each column pair (2j, 2j+1) lies on a circle.

    Minimises :math:`\\sum_j \\mathrm{Var}_t(u_{t,2j}^2 + u_{t,2j+1}^2)` over rotations
    :math:`R = \\exp(A - A^T)` of the whitened block (Adam, a few random restarts; the problem
    is 2d x 2d, so this costs milliseconds).
    """
    X = torch.as_tensor(block - block.mean(0), dtype=torch.float64)
    X = X / X.std(0).clamp_min(1e-12)
    with torch.enable_grad():  # callers may run under no_grad
        return _demix(X, d, rng, n_restarts, n_steps)


def _demix(X, d, rng, n_restarts, n_steps):
    best, best_loss = None, np.inf
    for _ in range(int(n_restarts)):
        A = torch.nn.Parameter(torch.as_tensor(rng.normal(scale=1.0, size=(2 * d, 2 * d)), dtype=torch.float64))
        opt = torch.optim.Adam([A], lr=0.05)
        for _ in range(int(n_steps)):
            opt.zero_grad()
            U = X @ torch.linalg.matrix_exp(A - A.T)
            r2 = U[:, 0::2] ** 2 + U[:, 1::2] ** 2
            loss = r2.var(0).sum()
            loss.backward()
            opt.step()
        if loss.item() < best_loss:
            best_loss = loss.item()
            best = (X @ torch.linalg.matrix_exp(A - A.T)).detach().numpy()
    return best


def farthest_point_indices(points: torch.Tensor, manifold, m: int, generator: torch.Generator) -> torch.Tensor:
    """Greedy farthest-point sampling of ``m`` indices among ``points`` (T, ambient).

    Spreads the inducing points over the region the latents cover; O(m T) distance
    evaluations, done once.
    """
    T = points.shape[0]
    m = min(int(m), T)
    first = int(torch.randint(T, (1,), generator=generator, device=generator.device).item())
    idx = [first]
    d2 = manifold.pairwise_sq_dist(points, points[first:first + 1]).squeeze(-1)
    for _ in range(m - 1):
        nxt = int(torch.argmax(d2).item())
        idx.append(nxt)
        d2 = torch.minimum(d2, manifold.pairwise_sq_dist(points, points[nxt:nxt + 1]).squeeze(-1))
    return torch.tensor(idx, device=points.device)
