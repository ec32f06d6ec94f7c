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


def _align_so3(est, ref):
    e, r = torch.from_numpy(est), torch.from_numpy(ref)
    m = qmul(r, qconj(e)).numpy()  # ref_t * est_t^{-1}: the rotation taking est_t to ref_t
    # Maximise sum_t <q, m_t>^2 (sign invariant): the top eigenvector (Markley averaging).
    w, v = np.linalg.eigh(m.T @ m)
    q = v[:, -1]
    q = q if q[0] >= 0 else -q
    aligned = qmul(torch.from_numpy(q), e).numpy()
    return aligned, {"rotation": q}


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
        return _align_so3(est, ref)
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
    * SO3: the fixed rotation ``r`` applied on the left (``r * est_t``) maximising
      :math:`\sum_t \langle \mathrm{ref}_t, r\,\mathrm{est}_t\rangle^2`: the top eigenvector of
      :math:`\sum_t m_t m_t^T`, :math:`m_t = \mathrm{ref}_t\,\mathrm{est}_t^{-1}`.
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
        Allow improper isometries (reflections) on tori, spheres and Euclidean spaces.
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
        ``translation``, ``reflection``; ``parts`` for products) and ``median_error``,
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
