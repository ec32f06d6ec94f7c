"""The message-passing network: E(3) symmetries, permutations, padding and input checks."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.spatial.transform import Rotation

from neurolatent.methods.molecular import MolecularNet, add_noise, pairwise_geometry


@pytest.fixture(scope="module")
def batch():
    gen = torch.Generator().manual_seed(0)
    numbers = torch.tensor([[6, 8, 1, 1, 1, 1, 0], [7, 6, 1, 1, 1, 1, 1]])
    positions = 1.2 * torch.randn(2, 7, 3, generator=gen, dtype=torch.float64)
    positions[0, 6] = 0.0
    return numbers, positions


@pytest.fixture(scope="module")
def net():
    torch.manual_seed(0)
    return MolecularNet(hidden=16, n_layers=2, n_rbf=12, dtype=torch.float64)


def test_rotation_translation(net, batch):
    # float64 throughout: invariance/equivariance hold to rounding, 1e-10 leaves ~1e5 ulps of slack.
    numbers, r = batch
    out = net(numbers, r)
    for seed in range(3):
        rot = torch.as_tensor(Rotation.random(random_state=seed).as_matrix())
        shift = torch.tensor([1.5, -0.3, 2.0], dtype=torch.float64)
        r2 = r @ rot.T + shift
        r2[0, 6] = 0.0  # padding stays wherever it is
        out2 = net(numbers, r2)
        torch.testing.assert_close(out2["property"], out["property"], atol=1e-10, rtol=0)
        torch.testing.assert_close(out2["features"], out["features"], atol=1e-10, rtol=0)
        torch.testing.assert_close(out2["noise"], out["noise"] @ rot.T, atol=1e-10, rtol=0)
    reflected = net(numbers, r * torch.tensor([-1.0, 1.0, 1.0], dtype=torch.float64))
    torch.testing.assert_close(reflected["noise"], out["noise"] * torch.tensor([-1.0, 1.0, 1.0], dtype=torch.float64),
                               atol=1e-10, rtol=0)


def test_permutation_and_padding(net, batch):
    numbers, r = batch
    out = net(numbers, r)
    perm = torch.tensor([3, 0, 5, 1, 6, 2, 4])
    outp = net(numbers[1:, perm], r[1:, perm])
    torch.testing.assert_close(outp["property"], out["property"][1:], atol=1e-10, rtol=0)
    torch.testing.assert_close(outp["noise"][0], out["noise"][1, perm], atol=1e-10, rtol=0)
    # more padding, with garbage coordinates, changes nothing for the real atoms
    pad_n = torch.cat([numbers[:1], torch.zeros(1, 3, dtype=torch.long)], 1)
    pad_r = torch.cat([r[:1], 50 * torch.ones(1, 3, 3, dtype=torch.float64)], 1)
    outpad = net(pad_n, pad_r)
    torch.testing.assert_close(outpad["property"], out["property"][:1], atol=1e-10, rtol=0)
    assert float(outpad["noise"][0, 6:].detach().abs().max()) == 0.0


def test_noise_head_gradient_is_finite(net, batch):
    numbers, r = batch
    r = r.clone().requires_grad_(True)
    out = net(numbers, r)
    (out["property"].sum() + out["noise"].pow(2).sum()).backward()
    assert torch.isfinite(r.grad).all()


def test_pairwise_geometry_matches_cdist(batch):
    numbers, r = batch
    diff, dist, pair = pairwise_geometry(r, numbers > 0, cutoff=2.0)
    ref = torch.cdist(r, r)
    assert torch.allclose(dist[pair], ref[pair]) and bool((ref[pair] < 2.0).all())
    assert not bool(pair.diagonal(dim1=1, dim2=2).any()) and not bool(pair[0, 6].any())
    torch.testing.assert_close(diff[1, 2, 4], r[1, 2] - r[1, 4])


def test_add_noise_statistics():
    # 200k draws: sample std within 1% of sigma (4 standard errors ~ 0.6%); padding untouched.
    pos = torch.zeros(1000, 70, 3)
    mask = torch.ones(1000, 70, dtype=torch.bool)
    mask[:, 60:] = False
    noisy, eps = add_noise(pos, mask, 0.1, generator=torch.Generator().manual_seed(1))
    assert float(noisy[:, :60].std()) == pytest.approx(0.1, rel=0.01)
    assert float(eps[:, 60:].abs().max()) == 0.0 and float(noisy[:, 60:].abs().max()) == 0.0
    with pytest.raises(ValueError, match="sigma"):
        add_noise(pos, mask, 0.0)


def test_bad_inputs(net, batch):
    numbers, r = batch
    with pytest.raises(ValueError, match="positions"):
        net(numbers, r[:, :3])
    with pytest.raises(ValueError, match="atomic numbers"):
        net(numbers + 10, r)
    with pytest.raises(ValueError, match="no atoms"):
        net(numbers[:, :0], r[:, :0])
    with pytest.raises(ValueError, match="hidden"):
        MolecularNet(hidden=0)


def test_dtype_and_device_arguments():
    before = torch.get_default_dtype()
    m = MolecularNet(hidden=8, n_layers=1, dtype=torch.float64, device="cpu")
    assert all(p.dtype == torch.float64 for p in m.parameters()) and torch.get_default_dtype() == before
    assert np.isclose(float(m.property_scale), 1.0)
