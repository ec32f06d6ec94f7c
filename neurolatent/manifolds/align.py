"""Align an estimated latent trajectory to a reference by the best global isometry."""
from __future__ import annotations

import itertools

import numpy as np
import torch

from ._functions import qconj, qmul
from .base import Manifold
from .euclid import Euclid
from .product import Product
from .so3 import SO3
from .sphere import Sphere
from .torus import Torus

__all__ = ["align_latents"]


def _to_numpy(x, what: str, manifold: Manifold) -> np.ndarray:
    if isinstance(x, torch.Tensor):
        x = x.detach().cpu().numpy()
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 1 and manifold.ambient_dim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[1] != manifold.ambient_dim:
        raise ValueError(f"{what} has shape {arr.shape} but align_latents expects (time, {manifold.ambient_dim}) "
                         f"points on {manifold.name} with coordinates {manifold.coord_names}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{what} contains NaN or infinite values; drop or fill those time points first")
    return arr


def _wrap(a: np.ndarray) -> np.ndarray:
    return np.remainder(a + np.pi, 2 * np.pi) - np.pi


def _align_torus(est, ref, allow_reflection):
    d = est.shape[1]
    signs = [1.0, -1.0] if allow_reflection else [1.0]
    # resultant[j, i, s]: mean of exp(i (ref_j - s est_i)); its angle is the best offset.
    res = {(j, i, s): np.mean(np.exp(1j * (ref[:, j] - s * est[:, i]))) for j in range(d) for i in range(d) for s in signs}
    best = None
    for perm in itertools.permutations(range(d)):
        for sg in itertools.product(signs, repeat=d):
            score = sum(abs(res[(j, perm[j], sg[j])]) for j in range(d))
            if best is None or score > best[0] + 1e-12:
                best = (score, perm, sg)
    _, perm, sg = best
    sg = np.asarray(sg)
    offset = np.array([np.angle(res[(j, perm[j], sg[j])]) for j in range(d)])
    aligned = _wrap(sg * est[:, list(perm)] + offset)
    return aligned, {"permutation": np.asarray(perm), "signs": sg, "offset": offset,
                     "reflection": bool(np.any(sg < 0))}


def _procrustes(est, ref, allow_reflection):
    """Orthogonal ``O`` maximising ``sum_t <ref_t, O est_t>`` (Kabsch / orthogonal Procrustes)."""
    u, s, vt = np.linalg.svd(est.T @ ref)
    o = vt.T @ u.T
    if not allow_reflection and np.linalg.det(o) < 0:
        vt[-1] *= -1
        s = s.copy()
        s[-1] *= -1
        o = vt.T @ u.T
    return o, s


def _align_sphere(est, ref, allow_reflection):
    o, _ = _procrustes(est, ref, allow_reflection)
    aligned = est @ o.T
    aligned /= np.linalg.norm(aligned, axis=1, keepdims=True)
    return aligned, {"rotation": o, "reflection": bool(np.linalg.det(o) < 0)}


def _qmat(p: np.ndarray, side: str) -> np.ndarray:
    """4 x 4 matrix of ``q -> p q`` (``side="left"``) or ``q -> q p`` (``"right"``)."""
    basis, pt = torch.eye(4, dtype=torch.float64), torch.from_numpy(p).expand(4, 4)
    return (qmul(pt, basis) if side == "left" else qmul(basis, pt)).numpy().T


def _left_right(w: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unit quaternions ``(a, b)`` with ``w q = a q b`` for ``w`` in SO(4) (unique up to a joint sign).

    ``w 1 = a b`` fixes ``b = a^{-1} (w 1)``; then ``(w q)(w 1)^{-1} = a q a^{-1}``, so ``a`` is the unit
    null vector of the linear conditions ``a e_k - c(e_k) a = 0`` over the basis ``e_k``.
    """
    w0 = w[:, 0]
    c = _qmat(qconj(torch.from_numpy(w0)).numpy(), "right") @ w                # q -> (w q) conj(w0)
    rows = np.concatenate([_qmat(np.eye(4)[k], "right") - _qmat(c[:, k], "left") for k in range(4)])
    a = np.linalg.svd(rows)[2][-1]
    b = qmul(qconj(torch.from_numpy(a)), torch.from_numpy(w0)).numpy()
    return a, b


def _align_so3(est, ref, allow_reflection, n_starts: int = 8):
    """Best isometry of SO(3): ``g -> a g b`` or (a reflection) ``g -> a g^{-1} b``.

    On unit quaternions these maps are the orthogonal maps of R^4 (``L_a R_b`` in SO(4), and with the
    conjugation ``q -> q-bar`` those of determinant -1), so we maximise the sign-invariant
    ``sum_t |<ref_t, W est_t>|`` over ``W`` in O(4) (SO(4) without reflections) by alternating the
    per-time signs and an orthogonal Procrustes step, from the identity, the best left rotation
    (Markley's eigenvector) and a few seeded random starts; each sweep cannot decrease the objective.
    """
    e, r = torch.from_numpy(est), torch.from_numpy(ref)
    m = qmul(r, qconj(e)).numpy()  # ref_t * est_t^{-1}: the left rotation taking est_t to ref_t
    q_left = np.linalg.eigh(m.T @ m)[1][:, -1]
    starts = [np.eye(4), _qmat(q_left, "left")]
    rng = np.random.default_rng(0)
    for _ in range(n_starts):
        g, _ = np.linalg.qr(rng.standard_normal((4, 4)))
        starts.append(g)
    if not allow_reflection:
        flip = np.diag([1.0, -1.0, -1.0, -1.0])
        starts = [w if np.linalg.det(w) > 0 else w @ flip for w in starts]
    best_val, best_w = -np.inf, None
    for w in starts:
        val = np.abs(np.einsum("ti,ij,tj->t", ref, w, est)).sum()
        for _ in range(200):
            s = np.sign(np.einsum("ti,ij,tj->t", ref, w, est))
            s[s == 0] = 1.0
            w, _ = _procrustes(est * s[:, None], ref, allow_reflection)
            new = np.abs(np.einsum("ti,ij,tj->t", ref, w, est)).sum()
            done = new <= val + 1e-12 * max(1.0, abs(val))
            val = max(val, new)
            if done:
                break
        if val > best_val + 1e-12:
            best_val, best_w = val, w
    w = best_w
    aligned = est @ w.T
    aligned /= np.linalg.norm(aligned, axis=1, keepdims=True)
    inverse = bool(np.linalg.det(w) < 0)
    a, b = _left_right(w @ np.diag([1.0, -1.0, -1.0, -1.0]) if inverse else w)
    return aligned, {"left": a, "right": b, "inverse": inverse, "isometry": w, "reflection": inverse}


def _align_euclid(est, ref, allow_reflection, scale):
    mu_e, mu_r = est.mean(0), ref.mean(0)
    ec, rc = est - mu_e, ref - mu_r
    o, s = _procrustes(ec, rc, allow_reflection)
    c = float(s.sum() / np.sum(ec * ec)) if scale and np.sum(ec * ec) > 0 else 1.0
    aligned = c * ec @ o.T + mu_r
    return aligned, {"rotation": o, "scale": c, "translation": mu_r - c * mu_e @ o.T,
                     "reflection": bool(np.linalg.det(o) < 0)}


def _align(est, ref, m, allow_reflection, scale):
    if isinstance(m, Torus):
        return _align_torus(est, ref, allow_reflection)
    if isinstance(m, Sphere):
        return _align_sphere(est, ref, allow_reflection)
    if isinstance(m, SO3):
        return _align_so3(est, ref, allow_reflection)
    if isinstance(m, Euclid):
        return _align_euclid(est, ref, allow_reflection, scale)
    if isinstance(m, Product):
        out, infos, c = [], [], 0
        for p in m.parts:
            a, info = _align(est[:, c:c + p.ambient_dim], ref[:, c:c + p.ambient_dim], p, allow_reflection, scale)
            out.append(a)
            infos.append(info)
            c += p.ambient_dim
        return np.concatenate(out, axis=1), {"parts": infos}
    raise TypeError(f"align_latents does not know how to align on {m!r}")


def align_latents(estimate, reference, manifold, *, allow_reflection: bool = True, scale: bool = False):
    r"""Align ``estimate`` to ``reference`` by the best global isometry of ``manifold``.

    * Tori :math:`T^d`: every axis permutation and per-axis reflection (the isometries of the
      flat square torus), each with the closed-form best offsets
      :math:`c_j = \arg \sum_t e^{i(\mathrm{ref}_{tj} - s_j\,\mathrm{est}_{t\pi(j)})}`;
      the combination with the largest total resultant length (i.e. the smallest
      :math:`\sum_t \sum_j 2(1 - \cos\Delta)`) wins.
    * Spheres: orthogonal Procrustes in ambient coordinates, :math:`O \in O(d+1)` (or
      :math:`SO(d+1)` when ``allow_reflection=False``) maximising :math:`\sum_t\langle
      \mathrm{ref}_t, O\,\mathrm{est}_t\rangle`.
    * SO3: every isometry of the bi-invariant metric, :math:`g \mapsto a\,g\,b` and (a
      "reflection") :math:`g \mapsto a\,g^{-1} b` -- the model's kernel depends only on distances,
      so the latents are identifiable only up to these. On unit quaternions they are the
      orthogonal maps :math:`W` of :math:`\mathbb R^4` (up to sign); :math:`W` maximises
      :math:`\sum_t |\langle \mathrm{ref}_t, W \mathrm{est}_t\rangle|`, found by alternating
      signs and Procrustes steps from several starts (one is the best left rotation).
    * Euclidean: orthogonal Procrustes plus translation, with an optional global scale.
    * Products: each factor separately.

    Parameters
    ----------
    estimate, reference : array-like
        ``(time, ambient_dim)`` points (numpy, torch or anything ``np.asarray`` accepts;
        ``(time,)`` for one-dimensional manifolds).
    manifold : str or Manifold
        The common manifold (spec strings as in :func:`get_manifold`).
    allow_reflection : bool
        Allow improper isometries: reflections on tori, spheres and Euclidean spaces, the
        inversion :math:`g \mapsto g^{-1}` on SO3.
    scale : bool
        Euclidean factors only: also fit a global scale (off by default).

    Returns
    -------
    aligned : numpy.ndarray
        ``(time, ambient_dim)`` aligned estimate.
    error : numpy.ndarray
        ``(time,)`` geodesic distance between the aligned estimate and the reference
        (radians on tori and spheres; half the rotation angle on SO3).
    info : dict
        The transform (``permutation``/``signs``/``offset``, ``rotation``, ``scale``,
        ``translation``, ``reflection``; on SO3 ``left``, ``right`` (quaternions ``a``, ``b``),
        ``inverse`` and the 4 x 4 ``isometry``; ``parts`` for products) and ``median_error``,
        ``mean_error``, ``rmse`` (floats).

    Examples
    --------
    >>> import numpy as np
    >>> ref = np.linspace(-3, 3, 50)[:, None]
    >>> est = np.remainder(-ref + 1.0 + np.pi, 2 * np.pi) - np.pi  # reflected and shifted
    >>> aligned, err, info = align_latents(est, ref, "T1")
    >>> bool(err.max() < 1e-9), info["reflection"]
    (True, True)
    """
    from . import get_manifold

    m = get_manifold(manifold)
    est = _to_numpy(estimate, "estimate", m)
    ref = _to_numpy(reference, "reference", m)
    if est.shape != ref.shape:
        raise ValueError(f"estimate has shape {est.shape} but reference has {ref.shape}; they must match (time, coord)")
    aligned, info = _align(est, ref, m, allow_reflection, scale)
    err = m.distance(torch.from_numpy(aligned), torch.from_numpy(ref)).numpy()
    info.update(median_error=float(np.median(err)), mean_error=float(np.mean(err)),
                rmse=float(np.sqrt(np.mean(err ** 2))))
    return aligned, err, info
