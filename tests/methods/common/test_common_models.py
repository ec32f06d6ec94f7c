"""Small networks, permutation specs, the training loop, evaluation and CKA."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from neurolatent.methods.common import (
    MLP,
    SmallCNN,
    apply_permutation,
    disagreement,
    evaluate,
    linear_cka,
    load_digits,
    make_teacher_classification,
    representations,
    rescale_units,
    reset_batchnorm,
    train,
)

NETS = [
    ("mlp", lambda: MLP(6, (7, 5), 3, seed=0), (10, 6)),
    ("mlp-bn", lambda: MLP(6, (7, 5), 3, batchnorm=True, seed=0), (10, 6)),
    ("cnn2d-bn", lambda: SmallCNN(2, (4, 3), 3, batchnorm=True, seed=0), (10, 2, 8, 8)),
    ("cnn1d", lambda: SmallCNN(1, (4, 5, 3), 3, ndim=1, seed=0), (10, 1, 12)),
]


def _train_bn_stats(net, x):
    """Give BatchNorm non-trivial running statistics so permuting them matters."""
    net.train()
    with torch.no_grad():
        net(x * 3 + 1)
    return net.eval()


@pytest.mark.parametrize("name,make,shape", NETS, ids=[n[0] for n in NETS])
def test_permutation_spec_is_an_exact_symmetry(name, make, shape, seed):
    net = make()
    x = torch.randn(*shape)
    _train_bn_stats(net, x)
    spec = net.permutation_spec()
    sizes = spec.sizes(net.state_dict())
    gen = torch.Generator().manual_seed(seed)
    perms = {p: torch.randperm(n, generator=gen) for p, n in sizes.items()}
    twin = apply_permutation(net, perms)
    # same function up to float32 summation-order rounding (1e-5 relative to O(1) logits)
    assert torch.allclose(net(x), twin(x), atol=1e-5)
    # ... but different parameters, and every state entry is covered by the spec
    assert set(spec.axes) == set(net.state_dict())
    assert not torch.equal(net.blocks[0].layer.weight, twin.blocks[0].layer.weight)
    # a spec that forgot one axis (here: the read-out's input axis) breaks the function
    broken = dict(spec.axes)
    last = f"blocks.{net.n_blocks - 1}.linear.weight"
    broken[last] = (None, None)
    from neurolatent.methods.common import PermutationSpec

    bad = apply_permutation(net, perms, PermutationSpec(broken))
    assert not torch.allclose(net(x), bad(x), atol=1e-3)


def test_forward_to_and_from_compose():
    net = SmallCNN(1, (4, 6), 10, seed=0)
    x = torch.randn(3, 1, 8, 8)
    for k in range(net.n_blocks + 1):
        assert torch.allclose(net.forward_from(net.forward_to(x, k), k), net(x))
    assert net.forward_to(x, 1).shape == (3, 4, 4, 4)  # first block max-pools 8x8 -> 4x4
    with pytest.raises(IndexError, match="hidden layer"):
        net.layer_permutation(3)


def test_seeded_init_leaves_global_rng_alone():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = MLP(4, (8,), 2, seed=7)
    after = torch.rand(1)
    assert torch.equal(before, after)
    assert torch.equal(a.blocks[0].layer.weight, MLP(4, (8,), 2, seed=7).blocks[0].layer.weight)


def test_rescale_units_keeps_function():
    net = MLP(5, (6, 4), 3, seed=1)
    x = torch.randn(20, 5)
    twin = rescale_units(net, 2, torch.tensor([0.01, 3.0, 50.0, 1.0]))
    assert torch.allclose(net(x), twin(x), atol=1e-4)  # float32 with scales up to 50: ~1e-5 error
    h, h2 = net.forward_to(x, 2), twin.forward_to(x, 2)
    assert torch.allclose(h2, h * torch.tensor([0.01, 3.0, 50.0, 1.0]), atol=1e-5)
    with pytest.raises(ValueError, match="positive"):
        rescale_units(net, 1, -torch.ones(6))
    # BatchNorm (scales its affine parameters) and convolutions (scales whole channels)
    for other, x in [(MLP(5, (6, 4), 3, batchnorm=True, seed=1), torch.randn(20, 5)),
                     (SmallCNN(1, (4, 3), 3, batchnorm=True, seed=1), torch.randn(6, 1, 8, 8))]:
        _train_bn_stats(other, x)
        scale = torch.linspace(0.2, 5.0, other.forward_to(x, 1).shape[1])
        assert torch.allclose(other(x), rescale_units(other, 1, scale)(x), atol=1e-4)


def test_train_is_seeded_and_learns(seed):
    d = make_teacher_classification(600, 8, 3, seed=seed)
    h1 = train(MLP(8, (32,), 3, seed=0), d, epochs=15, lr=3e-3, seed=1)
    h2 = train(MLP(8, (32,), 3, seed=0), d, epochs=15, lr=3e-3, seed=1)
    assert h1["train_loss"] == h2["train_loss"]  # bitwise reproducible on CPU
    assert h1["train_loss"][-1] < 0.5 * h1["train_loss"][0]
    assert h1["eval_accuracy"][-1] > 0.75  # chance is ~1/3; a 32-unit MLP learns this teacher
    assert set(h1) >= {"epoch", "train_loss", "train_accuracy", "eval_loss", "eval_accuracy", "time"}


def test_train_callbacks_and_closure_optimisers():
    d = make_teacher_classification(300, 4, 2, seed=0)
    seen = []

    def stop_at_two(state):
        seen.append(state["epoch"])
        return state["epoch"] == 2

    h = train(MLP(4, (8,), 2, seed=0), d, epochs=10, callback=stop_at_two)
    assert seen == [0, 1, 2] and len(h["train_loss"]) == 3
    # L-BFGS needs the closure: the loop must pass it
    net = MLP(4, (8,), 2, seed=0)
    h = train(net, d, epochs=3, batch_size=300, optimizer=lambda p: torch.optim.LBFGS(p, lr=0.5, max_iter=5))
    assert h["train_loss"][-1] < h["train_loss"][0]
    with pytest.raises(ValueError, match="optimizer"):
        train(net, d, optimizer="nope")


def test_train_raises_on_nan_loss():
    d = make_teacher_classification(100, 4, 2, seed=0)
    bad = (d.x_train.clone(), d.y_train)
    bad[0][0, 0] = float("nan")
    with pytest.raises(FloatingPointError, match="NaN"):
        train(MLP(4, (8,), 2, seed=0), bad, epochs=1, batch_size=200)


def test_evaluate_against_manual_computation(seed):
    net = MLP(6, (5,), 4, seed=seed)
    x, y = torch.randn(30, 6), torch.randint(0, 4, (30,))
    ev = evaluate(net, x, y)
    logits = net(x).detach().double().numpy()
    logp = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    assert ev["loss"] == pytest.approx(-logp[np.arange(30), y.numpy()].mean(), rel=1e-5)  # float32 vs float64
    assert ev["accuracy"] == pytest.approx((logits.argmax(1) == y.numpy()).mean())
    assert disagreement(net, net, x) == 0.0


def test_reset_batchnorm_matches_data_statistics(seed):
    net = MLP(6, (5,), 3, batchnorm=True, seed=seed)
    x = torch.randn(200, 6) * 2 + 1
    reset_batchnorm(net, x, batch_size=50)
    pre = net.blocks[0].layer(x).detach().double().numpy()
    bn = net.blocks[0].norm
    # cumulative averaging over 4 equal batches: the mean is exact up to float32; the variance is the
    # average of per-batch unbiased variances, which differs from the pooled one by O(1/batch)
    assert np.allclose(bn.running_mean.numpy(), pre.mean(0), atol=1e-5)
    assert np.allclose(bn.running_var.numpy(), pre.var(0, ddof=1), rtol=0.1)
    assert bn.momentum == 0.1 and net.training  # momentum and train/eval mode restored


def test_linear_cka_against_hsic_gram_formula(rng):
    x = rng.standard_normal((40, 6))
    y = x @ rng.standard_normal((6, 3)) + 0.5 * rng.standard_normal((40, 3))
    h = np.eye(40) - 1 / 40
    k, l_ = h @ x @ x.T @ h, h @ y @ y.T @ h
    ref = np.trace(k @ l_) / np.sqrt(np.trace(k @ k) * np.trace(l_ @ l_))
    got = float(linear_cka(torch.as_tensor(x), torch.as_tensor(y)))
    assert got == pytest.approx(ref, rel=1e-10)  # float64 both ways
    q, _ = np.linalg.qr(rng.standard_normal((6, 6)))
    xt = torch.as_tensor(x)
    assert float(linear_cka(xt, 4 * xt @ torch.as_tensor(q) + 2)) == pytest.approx(1.0, abs=1e-12)
    # not invariant to rescaling single units
    assert float(linear_cka(xt, xt * torch.tensor([100.0, 1, 1, 1, 1, 1]))) < 0.9
    with pytest.raises(ValueError, match="samples"):
        linear_cka(xt, xt[:5])


def test_representations_follow_forward_to():
    d = load_digits(image=True)
    net = SmallCNN(1, (4, 6), 10, seed=0)
    reps = representations(net, d.x_test[:50])
    assert sorted(reps) == [1, 2]
    assert torch.allclose(reps[2], net.forward_to(d.x_test[:50], 2))
