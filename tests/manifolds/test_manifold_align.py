"""align_latents recovers known random isometries exactly (to round-off)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.stats
import torch

from neurolatent.manifolds import SO3, align_latents, get_manifold


def _wrap(a):
    return np.remainder(a + np.pi, 2 * np.pi) - np.pi


@pytest.mark.parametrize("d", [1, 2, 3])
def test_torus_recovers_signed_permutation_and_offset(d, rng):
    ref = rng.uniform(-np.pi, np.pi, size=(200, d))
    perm = rng.permutation(d)
    signs = rng.choice([-1.0, 1.0], size=d)
    offset = rng.uniform(-np.pi, np.pi, size=d)
    # est = isometry^{-1}(ref): est[:, perm[j]] = signs[j] * (ref[:, j] - offset[j])
    est = np.empty_like(ref)
    est[:, perm] = signs * _wrap(ref - offset)
    aligned, err, info = align_latents(est, ref, f"T{d}")
    assert err.max() < 1e-9  # exact up to round-off
    np.testing.assert_array_equal(info["permutation"], perm)
    np.testing.assert_array_equal(info["signs"], signs)
    assert info["median_error"] < 1e-9


def test_torus_without_reflection_and_noise(rng):
    ref = rng.uniform(-np.pi, np.pi, size=(500, 1))
    est = _wrap(-ref + 0.4 + 0.1 * rng.standard_normal(ref.shape))
    _, err_no, info_no = align_latents(est, ref, "T1", allow_reflection=False)
    _, err, info = align_latents(torch.from_numpy(est), ref, "T1")
    assert info["reflection"] and not info_no["reflection"]
    assert err.mean() < 0.1 < err_no.mean()  # noise sd 0.1: mean |N(0, 0.1)| = 0.08


@pytest.mark.parametrize("d", [1, 2, 3])
def test_sphere_recovers_orthogonal_transform(d, rng):
    m = get_manifold(f"S{d}")
    ref = m.random_uniform(100, generator=torch.Generator().manual_seed(1)).numpy()
    o = scipy.stats.ortho_group.rvs(d + 1, random_state=rng)  # any O(d+1), reflections included
    est = ref @ o  # est_t = O^T ref_t
    aligned, err, info = align_latents(est, ref, m)
    assert err.max() < 1e-7  # arccos-type distances lose half the digits at 0
    np.testing.assert_allclose(info["rotation"], o, atol=1e-10)
    rot = scipy.stats.special_ortho_group.rvs(d + 1, random_state=rng)
    _, err, info = align_latents(ref @ rot, ref, m, allow_reflection=False)
    assert err.max() < 1e-7 and not info["reflection"]


def test_so3_recovers_left_rotation_with_random_signs(rng):
    m = SO3()
    gen = torch.Generator().manual_seed(2)
    ref = m.random_uniform(100, generator=gen)
    r = m.random_uniform(1, generator=gen)[0]
    signs = torch.from_numpy(rng.choice([-1.0, 1.0], size=(100, 1)))
    est = signs * m.compose(m.inverse(r).expand(100, 4), ref)  # est_t = r^{-1} ref_t, random sign
    aligned, err, info = align_latents(est, ref.numpy(), "SO3")
    assert err.max() < 1e-7
    # aligned = a est b with a = r, b = identity (up to a joint sign: distance is sign-blind)
    assert m.distance(torch.from_numpy(info["left"]), r) < 1e-7
    assert m.distance(torch.from_numpy(info["right"]), m.identity(dtype=torch.float64)) < 1e-7
    assert not info["inverse"]


@pytest.mark.parametrize("inverse", [False, True])
def test_so3_recovers_any_isometry(inverse, rng):
    """The latents of an SO3 model are identified only up to g -> a g b and g -> a g^-1 b (the kernel
    sees distances only); a left-only search leaves ~1 rad of error on such an estimate."""
    m = SO3()
    gen = torch.Generator().manual_seed(3)
    ref = m.random_uniform(150, generator=gen)
    a, b = m.random_uniform(2, generator=gen)
    base = m.inverse(ref) if inverse else ref
    signs = torch.from_numpy(rng.choice([-1.0, 1.0], size=(150, 1)))
    est = signs * m.compose(m.compose(a.expand(150, 4), base), b.expand(150, 4))
    aligned, err, info = align_latents(est, ref.numpy(), "SO3")
    assert err.max() < 1e-7  # exact transform recovered; float64 round-off only
    assert info["inverse"] is inverse
    A, B, E = (torch.from_numpy(np.asarray(x)) for x in (info["left"], info["right"], est))
    mapped = m.compose(m.compose(A.expand(150, 4), m.inverse(E) if inverse else E), B.expand(150, 4))
    assert m.distance(mapped, torch.from_numpy(aligned)).max() < 1e-7  # the reported (a, b) is the map used
    if inverse:  # without reflections the inversion is out of reach: a real residual remains
        _, err2, info2 = align_latents(est, ref.numpy(), "SO3", allow_reflection=False)
        assert not info2["inverse"] and np.median(err2) > 0.3


@pytest.mark.parametrize("use_scale", [False, True])
def test_euclid_procrustes_translation_scale(use_scale, rng):
    ref = rng.standard_normal((100, 2)) * [3.0, 1.0]
    o = scipy.stats.ortho_group.rvs(2, random_state=rng)
    s = 2.5 if use_scale else 1.0
    est = ((ref - [1.0, -2.0]) @ o) / s  # est_t = O^T (ref_t - b) / s
    aligned, err, info = align_latents(est, ref, "R2", scale=use_scale)
    assert err.max() < 1e-9
    assert abs(info["scale"] - s) < 1e-9


def test_product_aligns_each_factor(rng):
    ref = np.column_stack([rng.uniform(-np.pi, np.pi, 80), rng.standard_normal(80)])
    est = np.column_stack([_wrap(-ref[:, 0] + 1.0), -ref[:, 1] + 3.0])
    aligned, err, info = align_latents(est, ref, "T1xR1")
    assert err.max() < 1e-9 and len(info["parts"]) == 2


def test_align_errors():
    with pytest.raises(ValueError, match=r"\(time, 3\)"):
        align_latents(np.zeros((5, 2)), np.zeros((5, 2)), "S2")
    with pytest.raises(ValueError, match="NaN"):
        align_latents(np.full((5, 1), np.nan), np.zeros((5, 1)), "T1")
    with pytest.raises(ValueError, match="must match"):
        align_latents(np.zeros((5, 1)), np.zeros((4, 1)), "T1")
    with pytest.raises(ValueError, match="accepted specs"):
        align_latents(np.zeros((5, 1)), np.zeros((5, 1)), "Q1")
    # 1-D input is accepted for one-dimensional manifolds
    _, err, _ = align_latents(np.linspace(-1, 1, 5), np.linspace(-1, 1, 5) + 0.5, "T1")
    assert err.max() < 1e-12 and math.isfinite(err.sum())
