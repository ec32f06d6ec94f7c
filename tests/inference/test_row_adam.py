"""RowSparseAdam: equals torch's Adam with every row, lazy per-row updates otherwise."""
import torch

from neurolatent.inference.row_adam import RowSparseAdam


def _quadratic_grad(x, A):
    return (x @ A) - 1.0


def test_all_rows_is_adam():
    gen = torch.Generator().manual_seed(0)
    A = torch.randn(3, 3, generator=gen, dtype=torch.float64)
    A = A @ A.T + torch.eye(3, dtype=torch.float64)
    x0 = torch.randn(7, 3, generator=gen, dtype=torch.float64)
    a = torch.nn.Parameter(x0.clone())
    b = torch.nn.Parameter(x0.clone())
    c = torch.nn.Parameter(x0.clone())
    ref = torch.optim.Adam([a], lr=0.05)
    sparse = RowSparseAdam([{"params": [b], "row_sparse": True}], lr=0.05)
    dense = RowSparseAdam([c], lr=0.05)
    for _ in range(30):
        for p, opt in ((a, ref), (b, sparse), (c, dense)):
            p.grad = _quadratic_grad(p.detach(), A)
            opt.step()
        sparse.rows = torch.arange(7) if sparse.rows is None else None  # alternate: all rows given / None
    # same formula, different operation order -> equal to round-off (float64: 1e-12 over 30 steps)
    torch.testing.assert_close(b.detach(), a.detach(), rtol=0, atol=1e-12)
    torch.testing.assert_close(c.detach(), a.detach(), rtol=0, atol=1e-12)


def test_rows_outside_are_untouched_and_each_row_sees_its_own_adam():
    gen = torch.Generator().manual_seed(1)
    x0 = torch.randn(6, 2, generator=gen, dtype=torch.float64)
    x = torch.nn.Parameter(x0.clone())
    opt = RowSparseAdam([{"params": [x], "row_sparse": True}], lr=0.1)
    schedule = [[0, 2], [2, 4], [0, 2, 5], [1]]
    for rows in schedule:
        g = torch.zeros_like(x)
        r = torch.tensor(rows)
        g[r] = x.detach()[r] * 2 - 0.5  # the gradient is non-zero only in the batch, as with indexing
        before = x.detach().clone()
        x.grad = g
        opt.rows = r
        opt.step()
        out = torch.ones(6, dtype=torch.bool)
        out[r] = False
        assert torch.equal(x.detach()[out], before[out])  # exactly unchanged outside the batch
    # reference: a row updated k times equals a fresh Adam run only on the steps it was in
    for row in range(6):
        y = torch.nn.Parameter(x0[row].clone())
        ref = torch.optim.Adam([y], lr=0.1)
        for rows in schedule:
            if row in rows:
                y.grad = y.detach() * 2 - 0.5
                ref.step()
        torch.testing.assert_close(x.detach()[row], y.detach(), rtol=0, atol=1e-12)
    assert opt.state[x]["step"].tolist() == [2, 1, 3, 0, 1, 1]


def test_row_keys_update_each_group_at_its_own_rows():
    # a "time" group and a "neuron" group stepped at different rows; a key left out (None) is dense
    t = torch.nn.Parameter(torch.zeros(6, 2, dtype=torch.float64))
    n = torch.nn.Parameter(torch.zeros(4, dtype=torch.float64))
    d = torch.nn.Parameter(torch.zeros(3, dtype=torch.float64))
    opt = RowSparseAdam([{"params": [d]}, {"params": [t], "row_sparse": True, "row_key": "time"},
                         {"params": [n], "row_sparse": True, "row_key": "neuron"}], lr=0.1)
    (t.sum() + n.sum() + d.sum()).backward()
    opt.rows = {"time": torch.tensor([0, 5]), "neuron": torch.tensor([2])}
    opt.step()
    assert (t.detach().abs().sum(1) > 0).tolist() == [True, False, False, False, False, True]
    assert (n.detach() != 0).tolist() == [False, False, True, False]
    assert bool((d.detach() != 0).all())
    opt.rows = {"time": None}  # neuron key missing: every row of both groups
    opt.step()
    assert bool((t.detach() != 0).all()) and bool((n.detach() != 0).all())
