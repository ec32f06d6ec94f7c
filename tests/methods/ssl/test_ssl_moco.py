"""MoCo and the hard-negative band: float64 references, queue and momentum mechanics, bad input."""
from __future__ import annotations

import math

import pytest
import torch

from neurolatent.methods.ssl import HardNegativeCID, MoCo, make_encoder, pretrain

D64 = torch.float64


def unit(t):
    return t / t.norm(dim=1, keepdim=True)


def ref_moco(q, k, negatives, tau, band=None):
    """-log softmax of the positive among [positive, kept negatives], loops over samples."""
    q, k = unit(q), unit(k)
    total = 0.0
    for i in range(q.shape[0]):
        negs = negatives(i)
        sims = sorted((float(q[i] @ v) for v in negs), reverse=True)
        if band is not None:
            a = min(int(round(band[0] * len(sims))), len(sims) - 1)
            b = max(a + 1, min(len(sims), int(round(band[1] * len(sims)))))
            sims = sims[a:b]
        pos = float(q[i] @ k[i]) / tau
        total += -(pos - math.log(math.exp(pos) + sum(math.exp(s / tau) for s in sims)))
    return total / q.shape[0]


def batch(seed, n=5, d=3):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=g, dtype=D64), torch.randn(n, d, generator=g, dtype=D64), g


@pytest.mark.parametrize("band", [None, (0.0, 0.25), (0.25, 1.0), (0.1, 0.6)])
def test_moco_and_bands_match_reference(band):
    q, k, g = batch(0)
    queue = torch.randn(12, 3, generator=g, dtype=D64)
    loss = MoCo(12, temperature=0.3) if band is None else HardNegativeCID(band, 12, temperature=0.3)
    # empty queue: the other keys of the batch are the negatives
    ref = ref_moco(q, k, lambda i: [unit(k)[j] for j in range(5) if j != i], 0.3, band)
    assert abs(float(loss(q, k)) - ref) < 1e-10  # float64, summation order only
    loss.enqueue(queue)
    ref = ref_moco(q, k, lambda i: list(unit(queue)), 0.3, band)
    assert abs(float(loss(q, k)) - ref) < 1e-10


def test_full_band_is_moco_and_band_sizes():
    q, k, g = batch(1)
    queue = torch.randn(20, 3, generator=g, dtype=D64)
    a, b = MoCo(20), HardNegativeCID((0.0, 1.0), 20)
    a.enqueue(queue)
    b.enqueue(queue)
    assert torch.allclose(a(q, k), b(q, k), atol=1e-12)
    assert HardNegativeCID((0.0, 0.05), 1024).band_indices(1024) == (0, 51)  # hardest 5 %
    assert HardNegativeCID((0.05, 1.0), 1024).band_indices(1024) == (51, 1024)  # easiest 95 %
    assert HardNegativeCID((0.001, 1.0), 1024).band_indices(1024) == (1, 1024)  # drop the hardest 0.1 %
    assert HardNegativeCID((0.0, 0.001), 100).band_indices(100) == (0, 1)  # never empty
    with pytest.raises(ValueError, match="band must satisfy"):
        HardNegativeCID((0.5, 0.2))


def test_queue_is_fifo_and_momentum_update():
    loss = MoCo(4)
    keys = torch.eye(6, 3, dtype=D64) + torch.arange(6, dtype=D64)[:, None]
    loss.enqueue(keys[:3])
    loss.enqueue(keys[3:])
    assert loss.n_queued == 4
    # ring buffer of 4: slots 0, 1 were overwritten by keys 4, 5; slots 2, 3 hold keys 2, 3
    assert torch.allclose(loss.queue, unit(keys[[4, 5, 2, 3]]))
    enc = make_encoder((4,), rep_dim=3, proj_dim=0, hidden=(5,), seed=0, dtype=D64)
    loss = MoCo(8, momentum=0.75)
    loss.setup(enc, 20, 4)
    before = [p.clone() for p in loss.key_encoder.parameters()]
    with torch.no_grad():
        for p in enc.parameters():
            p.add_(1.0)
    loss.after_step(enc)
    for pk, old, pq in zip(loss.key_encoder.parameters(), before, enc.parameters()):
        assert torch.allclose(pk, 0.75 * old + 0.25 * pq)
        assert not pk.requires_grad


def test_moco_pretrain_fills_queue_and_checks_size():
    x = torch.randn(40, 1, 8, 8)
    enc = make_encoder((1, 8, 8), rep_dim=6, proj_dim=4, hidden=(16,), arch="mlp", seed=0)
    loss = MoCo(16, momentum=0.9)
    pretrain(enc, x, loss, "noise", epochs=1, batch_size=10, seed=0)
    assert loss.n_queued == 16 and loss.queue.shape == (16, 4)
    assert loss.trainable_parameters() == []  # the key encoder is never trained by the optimiser
    with pytest.raises(ValueError, match="queue_size=64 is larger than the dataset \\(40 samples\\)"):
        pretrain(enc, x, MoCo(64), None, epochs=1, batch_size=10)
    with pytest.raises(RuntimeError, match="setup"):
        MoCo(4).step_loss(enc, [x[:4], x[:4]])
    with pytest.raises(ValueError, match="batch of size 1"):
        MoCo(4)(torch.randn(1, 3), torch.randn(1, 3))
    with pytest.raises(ValueError, match="shapes"):
        MoCo(4)(torch.randn(3, 3), torch.randn(3, 2))
