"""NCL pieces: nearest Kronecker product, KFAC factors of the RNN, the Kronecker penalty and the
preconditioned step against explicit (small) Kronecker matrices, cognitive tasks, subspace overlap."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from neurolatent.methods.continual import (
    COGNITIVE_TASKS,
    NCL,
    OWM,
    KFACLaplace,
    KroneckerPreconditionedSGD,
    RNNClassifier,
    activity_subspace,
    cognitive_task,
    cognitive_tasks,
    nearest_kronecker,
    row_sequences,
    run,
    subspace_overlap,
)


def _spd(n, gen):
    m = torch.randn(n, n, generator=gen, dtype=torch.float64)
    return m @ m.T + 0.1 * torch.eye(n, dtype=torch.float64)


def test_nearest_kronecker_matches_the_svd_of_the_rearranged_matrix():
    gen = torch.Generator().manual_seed(0)
    terms = [(_spd(3, gen), _spd(4, gen)) for _ in range(3)]
    a, g = nearest_kronecker(terms, iters=500)
    # reference (Van Loan & Pitsianis): rank-one SVD of sum_j vec(A_j) vec(G_j)^T
    r = sum(torch.outer(aj.flatten(), gj.flatten()) for aj, gj in terms)
    u, s, vh = torch.linalg.svd(r)
    best = s[0] * torch.kron(u[:, 0].reshape(3, 3), vh[0].reshape(4, 4))
    torch.testing.assert_close(torch.kron(a, g), best, rtol=1e-8, atol=1e-10)  # float64 power iteration
    total = sum(torch.kron(aj, gj) for aj, gj in terms)
    # and it is at least as close as the naive (sum A) x (sum G) / k
    naive = torch.kron(sum(t[0] for t in terms), sum(t[1] for t in terms)) / 3
    assert (torch.kron(a, g) - total).norm() <= (naive - total).norm() + 1e-12
    # symmetric positive definite factors for SPD terms
    assert torch.linalg.eigvalsh(a).min() > 0 and torch.linalg.eigvalsh(g).min() > 0


def test_rnn_kfac_factors_follow_their_definition():
    net = RNNClassifier(3, 5, 4, seed=0, dtype=torch.float64)
    x = torch.randn(6, 7, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    fac = net.kfac_factors(x, generator=torch.Generator().manual_seed(2), batch_size=4)
    a_cell, g_cell, names = fac["cell"]
    assert names == ("cell.weight", "cell.bias") and a_cell.shape == (9, 9) and g_cell.shape == (5, 5)
    # A: mean over trials and steps of [x_t; h_{t-1}; 1][...]^T
    h = torch.cat([torch.zeros(6, 1, 5, dtype=torch.float64), net.hidden_states(x)[:, :-1]], 1)
    a = torch.cat([x, h, torch.ones(6, 7, 1, dtype=torch.float64)], -1).reshape(-1, 9)
    torch.testing.assert_close(a_cell, a.T @ a / a.shape[0], rtol=1e-10, atol=1e-12)
    # G of the read-out: E[(p - e_y)(p - e_y)^T] with the same sampled labels (chunks of 4 and 2)
    gen = torch.Generator().manual_seed(2)
    logits = net(x)
    p = F.softmax(logits, -1).detach()
    ys = [torch.multinomial(p[i:i + 4], 1, generator=gen).squeeze(1) for i in (0, 4)]
    r = p - F.one_hot(torch.cat(ys), 4).double()
    torch.testing.assert_close(fac["readout"][1], r.T @ r / 6, rtol=1e-10, atol=1e-12)
    # the cell's G: T * E_t[g g^T] means sum over t of the per-sample gradient outer products; its
    # trace equals sum_t E||dl/dz_t||^2, checked against autograd on the sampled labels
    z_grads = []
    gen = torch.Generator().manual_seed(2)
    for i in (0, 4):
        xb = x[i:i + 4]
        hs, acts, pre = net._run(xb, record=True)
        lg = net.readout(hs[:, -1])
        y = torch.multinomial(F.softmax(lg, -1).detach(), 1, generator=gen).squeeze(1)
        grads = torch.autograd.grad(F.cross_entropy(lg, y, reduction="sum"), pre)
        z_grads.append(torch.stack(grads, 1))
    zg = torch.cat(z_grads)  # (n, T, hidden)
    torch.testing.assert_close(torch.trace(g_cell), zg.pow(2).sum() / 6, rtol=1e-10, atol=1e-12)


def _fitted_ncl(method_cls, **kw):
    net = RNNClassifier(3, 4, 3, seed=0, dtype=torch.float64)
    x = torch.randn(20, 5, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    y = torch.randint(0, 3, (20,), generator=torch.Generator().manual_seed(1))
    method = method_cls(strength=5.0, **kw)
    method.end_task(net, x, y, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():  # move away from the anchor
        for p in net.parameters():
            p.add_(0.1 * torch.randn(p.shape, dtype=p.dtype, generator=torch.Generator().manual_seed(4)))
    return net, x, y, method


def test_kfac_penalty_is_the_explicit_kronecker_quadratic_form():
    net, _, _, method = _fitted_ncl(KFACLaplace)
    total = 0.0
    for layer, (a, g) in method.factors.items():
        d = method._wb(net, method.layers[layer]) - method.anchor[layer]
        v = d.T.reshape(-1)  # column-stacking vec
        total += float((v @ torch.kron(a, g) @ v).detach())
    assert float(method.penalty(net).detach()) == pytest.approx(0.5 * total, rel=1e-10)  # float64


def test_preconditioned_step_is_inverse_kronecker_times_gradient():
    net, x, y, method = _fitted_ncl(NCL, ncl_lr=0.1)
    before = {n: p.detach().clone() for n, p in net.named_parameters()}
    opt = method.build_optimizer(net, "adam", lr=123.0)
    assert isinstance(opt, KroneckerPreconditionedSGD) and opt.param_groups[0]["lr"] == 0.1

    def closure():
        opt.zero_grad()
        loss = F.cross_entropy(net(x), y) + method.penalty(net)
        loss.backward()
        return loss

    closure()
    grads = {n: p.grad.detach().clone() for n, p in net.named_parameters()}
    opt.step(closure)
    for layer, (a, g) in method.factors.items():
        wn, bn = method.layers[layer]
        gm = torch.cat([grads[wn], grads[bn][:, None]], 1)
        step = torch.linalg.solve(torch.kron(a, g), gm.T.reshape(-1)).reshape(gm.shape[1], gm.shape[0]).T
        moved = torch.cat([net.get_parameter(wn).detach() - before[wn],
                           (net.get_parameter(bn).detach() - before[bn])[:, None]], 1)
        torch.testing.assert_close(moved, -0.1 * step, rtol=1e-8, atol=1e-12)  # float64 solve vs factor inverses


def test_ncl_trains_the_first_task_with_the_runner_optimiser():
    method = NCL()
    net = RNNClassifier(3, 4, 3, seed=0)
    assert isinstance(method.build_optimizer(net, "adam", lr=1e-3), torch.optim.Adam)


def test_ncl_needs_kfac_factors():
    from neurolatent.methods.common import MLP, make_teacher_classification, permuted_tasks
    tasks = permuted_tasks(make_teacher_classification(100, 4, 3, seed=0), 2)
    with pytest.raises(TypeError, match="kfac_factors"):
        run(MLP(4, (8,), 3, seed=0), tasks, "ncl", epochs=1, progress=False)


@pytest.mark.parametrize("name", COGNITIVE_TASKS)
def test_cognitive_tasks_have_the_documented_layout(name):
    d = cognitive_task(name, 64, 32, n_steps=20, noise=0.0, seed=0)
    assert d.x_train.shape == (64, 20, 10) and d.y_test.shape == (32,)
    assert int(d.y_train.min()) >= 0 and int(d.y_train.max()) < 8
    x = d.x_train
    assert torch.all(x[:, :16, 0] == 1) and torch.all(x[:, 16:, 0] == 0)  # fixation off in the response period
    rule = x[:, :, 5:].mean((0, 1))
    assert int(rule.argmax()) == COGNITIVE_TASKS.index(name) and float(rule.sum()) == pytest.approx(1.0)
    assert torch.all(x[:, 16:, 1:5] == 0)  # no stimulus during the response
    if name == "delaygo":  # the label is the stimulus angle (noise-free inputs)
        ang = torch.atan2(x[:, 5, 2], x[:, 5, 1]) % (2 * np.pi)
        assert torch.equal(torch.round(ang / (2 * np.pi / 8)).long() % 8, d.y_train)
    if name == "ctxdm2":
        assert torch.equal((x[:, 5, 3] < 0).long() * 4, d.y_train)


def test_cognitive_tasks_bad_input_and_seeding():
    with pytest.raises(ValueError, match="unknown cognitive task 'go'.*'delaygo'"):
        cognitive_task("go")
    a, b = cognitive_tasks(("dms",), 8, 8, seed=1), cognitive_tasks(("dms",), 8, 8, seed=1)
    assert torch.equal(a[0].x_train, b[0].x_train)


def test_subspace_overlap_limits():
    gen = torch.Generator().manual_seed(0)
    q = torch.linalg.qr(torch.randn(50, 5, generator=gen, dtype=torch.float64))[0]
    r = torch.linalg.qr(torch.randn(50, 5, generator=gen, dtype=torch.float64))[0]
    assert subspace_overlap(q, q) == pytest.approx(1.0)
    # random 5-dim subspaces of R^50: expected overlap d/N = 0.1 (sd ~ 0.04 here)
    assert subspace_overlap(q, r) < 0.3
    net = RNNClassifier(3, 16, 2, seed=0)
    u = activity_subspace(net, torch.randn(8, 10, 3, generator=gen), dim=4)
    assert u.shape == (16, 4)
    with pytest.raises(ValueError, match="same shape"):
        subspace_overlap(q, r[:, :3])


@pytest.mark.parametrize("method", ["kfac", "ncl", "owm"])
def test_kfac_and_ncl_run_on_a_cognitive_stream(method):
    tasks = cognitive_tasks(("delaygo", "ctxdm1"), 64, 32, seed=0)
    res = run(RNNClassifier(10, 16, 8, seed=0), tasks, method, epochs=1, lr=3e-3, progress=False)
    assert res.accuracy.shape == (2, 2) and res.attrs["method"] == method
    assert np.isfinite(res.accuracy.values).all()


def test_row_sequences_of_permuted_digits_train_an_rnn():
    from neurolatent.methods.common import load_digits, permuted_tasks
    flat = permuted_tasks(load_digits(seed=0), 2, seed=0)
    seq = row_sequences(flat)
    assert seq[1].x_train.shape == (1348, 8, 8)
    assert torch.equal(seq[1].x_train.reshape(1348, 64), flat[1].x_train)  # rows in reading order
    res = run(RNNClassifier(8, 32, 10, seed=0), seq, "ewc", epochs=2, lr=1e-2, progress=False)
    # the first task is learnt well above chance (0.1) after two epochs; measured 0.75-0.8
    assert float(res.accuracy[0, 0]) > 0.4
    with pytest.raises(ValueError, match="do not split into 7 rows"):
        row_sequences(flat, n_rows=7)


def test_owm_projects_gradients_off_earlier_inputs():
    # with a huge 1/alpha, a projected read-out step G (I + C/alpha)^{-1} is orthogonal to the read-out
    # inputs [h_T; 1] of the earlier task's trials (they span the range of C)
    net, x, y, _ = _fitted_ncl(KFACLaplace)
    method = OWM(strength=1e6, max_samples=len(x))
    method.end_task(net, x, y, generator=torch.Generator().manual_seed(3))
    assert method.penalty(net) is None
    assert isinstance(method.build_optimizer(net, "adam", lr=1.0), KroneckerPreconditionedSGD)
    h = net.hidden_states(x)[:, -1]
    a_read = torch.cat([h, torch.ones(h.shape[0], 1, dtype=h.dtype)], 1)
    grad = torch.randn(3, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(6))
    step = grad @ torch.linalg.inv(method.factors["readout"][0])
    # relative size 1e-3: the residual is O(alpha / smallest nonzero eigenvalue of C) ~ 1e-5 here
    assert float((step @ a_read.T).abs().max()) < 1e-3 * float((grad @ a_read.T).abs().max())
