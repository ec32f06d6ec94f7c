"""Scratch-tensor reuse in the fused RBF moments: same values, no aliasing, loud failure on stale graphs."""
import pytest
import torch

from neurolatent.models._scratch import SCRATCH, ScratchPool
from neurolatent.models._sparse_gp import rbf_marginal_moments

F64 = torch.float64


def _inputs(seed=0, K=3, N=4, M=5, B=6):
    gen = torch.Generator().manual_seed(seed)
    sq = (torch.rand(K, M, B, generator=gen, dtype=F64) * 3).requires_grad_()
    inv_l2 = (torch.rand(N, generator=gen, dtype=F64) + 0.5).requires_grad_()
    alpha = torch.randn(N, M, generator=gen, dtype=F64).requires_grad_()
    A = torch.randn(N, M, M, generator=gen, dtype=F64)
    return sq, inv_l2, alpha, (A + A.transpose(-1, -2)).requires_grad_()


def _plain(sq, inv_l2, alpha, Q):
    E = torch.exp(-0.5 * sq.unsqueeze(1) * inv_l2[:, None, None])
    return torch.einsum("nm,knmb->knb", alpha, E), torch.einsum("knmb,nmp,knpb->knb", E, Q, E)


def test_pool_reuses_and_caps():
    pool = ScratchPool(max_bytes=10 * 8, per_key=1)
    cpu = torch.device("cpu")
    a = pool.take((2, 3), F64, cpu)
    pool.give(a)
    assert pool.take((2, 3), F64, cpu, avoid=a) is not a  # a caller still reads a: not handed out
    pool.give(a)
    assert pool.take((2, 3), F64, cpu) is a  # reused
    assert pool.take((2, 3), F64, cpu) is not a  # the free list is empty again
    pool.give(a)
    pool.give(a)  # given twice: held once
    assert pool.take((2, 3), F64, cpu) is a and pool.take((2, 3), F64, cpu) is not a
    pool.give(a)
    pool.give(torch.empty(2, 3, dtype=F64))  # per_key = 1: dropped
    pool.give(torch.empty(5, dtype=F64))  # 6 + 5 entries > 10: dropped
    assert pool._bytes == 6 * 8
    pool.clear()
    assert pool._bytes == 0 and pool.take((2, 3), F64, cpu) is not a


def test_interleaved_graphs_keep_their_own_buffers():
    """Two forwards before either backward (and one under no_grad) give each graph its own E."""
    x1, x2 = _inputs(0), _inputs(1)
    m1, q1 = rbf_marginal_moments(*x1)
    with torch.no_grad():
        rbf_marginal_moments(*_inputs(2))  # gives its E straight back: must not be one a graph holds
    m2, q2 = rbf_marginal_moments(*x2)
    g1 = torch.autograd.grad((m1 + q1 ** 2).sum(), x1)
    g2 = torch.autograd.grad((m2 + q2 ** 2).sum(), x2)
    for x, got in ((x1, g1), (x2, g2)):
        pm, pq = _plain(*x)
        ref = torch.autograd.grad((pm + pq ** 2).sum(), x)
        for a, b in zip(got, ref):
            # the same formulas contracted in another order: float64 round-off on O(1-10) entries
            torch.testing.assert_close(a, b, rtol=1e-11, atol=1e-11)


def test_retained_graph_after_reuse_fails_loudly():
    SCRATCH.clear()
    x = _inputs(0)
    m, q = rbf_marginal_moments(*x)
    loss = (m + q).sum()
    first = torch.autograd.grad(loss, x, retain_graph=True)
    again = torch.autograd.grad(loss, x, retain_graph=True)  # E not reused yet: still valid
    for a, b in zip(first, again):
        assert torch.equal(a, b)
    # same shapes, graphs kept alive: together they take every free tensor, the graph's E included
    live = [rbf_marginal_moments(*_inputs(s)) for s in (1, 2, 3, 4)]
    assert len(live) == 4
    with pytest.raises(RuntimeError, match="inplace"):
        torch.autograd.grad(loss, x)
    SCRATCH.clear()


def test_second_backward_of_a_retained_graph_is_exact():
    """The first backward gives E back; the second must not take it as a temporary while reading it."""
    x = _inputs(3)
    m, q = rbf_marginal_moments(*x)
    loss = (m * q).sum()
    grads = [torch.autograd.grad(loss, x, retain_graph=True) for _ in range(3)]
    for g in grads[1:]:
        for a, b in zip(grads[0], g):
            assert torch.equal(a, b)  # same operations on the same values: bitwise equal
    SCRATCH.clear()


def test_threads_sharing_the_pool_get_exact_gradients():
    """Fits in threads share SCRATCH: each backward must still see its own E (compared to a serial run)."""
    import threading

    xs = [_inputs(s, K=2, N=3, M=4, B=50) for s in range(4)]

    def grads(x):
        m, q = rbf_marginal_moments(*x)
        return torch.autograd.grad((m * q).sum(), x)

    ref = [grads(x) for x in xs]
    got = [None] * len(xs)

    def work(i):
        for _ in range(20):
            got[i] = grads(xs[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(xs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for r, g in zip(ref, got):
        for a, b in zip(r, g):
            assert torch.equal(a, b)  # same operations on the same values: bitwise equal
    SCRATCH.clear()


def test_a_fit_leaves_no_scratch_tensors_held():
    from neurolatent.datasets.synthetic_manifolds import make_manifold_recording
    from neurolatent.models import MGPLVM

    ds = make_manifold_recording("T1", n_neurons=5, n_time=40, noise=0.1, seed=0)
    m = MGPLVM("T1", seed=0, n_inducing=6)
    seen = []
    m.fit(ds["Y"], max_steps=3, progress=False, early_stopping=False,
          callback=lambda *a, **k: seen.append(SCRATCH._bytes))
    assert max(seen) > 0  # the steps reused scratch tensors
    assert SCRATCH._bytes == 0  # and the fit let them go
