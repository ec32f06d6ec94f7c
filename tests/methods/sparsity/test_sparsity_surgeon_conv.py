"""The FishLeg surgeon on convolutional networks (SmallCNN on 8x8 digits): its compensation is -Q u with the
dense Q of every layer, conv layers included, and it prunes a trained SmallCNN end to end."""
from __future__ import annotations

import copy

import pytest
import torch

from neurolatent.methods.common import SmallCNN, evaluate, load_digits, train
from neurolatent.methods.optim import FishLeg
from neurolatent.methods.sparsity import FishLegSurgeon, inverse_fisher_cosine, sparsity_report


def _fitted(net, x, seed, steps=20):
    fl = FishLeg(net, damping=1e-2, aux_lr=0.02, seed=seed)
    fl.update_q(x, steps=steps)
    return fl


def test_surgeon_compensation_on_conv_layers_is_minus_q_u(seed):
    """One-shot call, float64: every layer moves by -Q_l u_l with u_q = w_q / Q_qq on the removed weights
    (Q_l dense from q_matrix, an independent path from the Kronecker products the surgeon uses)."""
    net = SmallCNN(1, (3, 4), 5, seed=seed, dtype=torch.float64)
    x = torch.randn(32, 1, 8, 8, dtype=torch.float64, generator=torch.Generator().manual_seed(seed))
    fl = _fitted(net, x, seed)
    before = copy.deepcopy(net)
    masks = FishLegSurgeon(fl).prune(net, 0.5, scope="layer")
    assert set(masks) == {"blocks.0.layer.weight", "blocks.1.layer.weight", "blocks.2.linear.weight"}
    olds = [m for m in before.modules() if isinstance(m, (torch.nn.Conv2d, torch.nn.Linear))]
    for (name, mask), layer, old in zip(masks.items(), fl.layers, olds):
        assert int((~mask).sum()) == round(0.5 * mask.numel()), name
        q = fl.q_matrix(layer)
        n_w = layer.weight.numel()
        theta = torch.cat([old.weight.detach().reshape(-1), old.bias.detach()])
        u = torch.zeros_like(theta)
        removed = ~mask.reshape(-1)
        u[:n_w][removed] = theta[:n_w][removed] / torch.diagonal(q)[:n_w][removed]
        expected = theta - q @ u
        expected[:n_w][removed] = 0.0
        got = torch.cat([(layer.weight * mask).detach().reshape(-1), layer.bias.detach()])
        # float64, same algebra by a dense matrix instead of two Kronecker factors: round-off only
        torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-12)


def test_surgeon_prunes_a_trained_small_cnn_on_digits():
    """End to end on 8x8 digit images: a SmallCNN (4, 8 channels) trained 3 epochs, Q fitted for 30 steps,
    pruned globally to 70 % by the FishLeg surgeon (10 sub-steps); the network stays finite and the
    report shows the requested sparsity. Accuracy claims are in the slow claim tests."""
    torch.manual_seed(0)
    d = load_digits(seed=0, image=True)
    net = SmallCNN(1, (4, 8), d.n_classes, seed=0)
    train(net, d, epochs=3, lr=3e-3, seed=0)
    fl = _fitted(net, d.x_train[:256], 0, steps=30)
    FishLegSurgeon(fl, n_steps=10).prune(net, 0.7)
    assert sparsity_report(net)["global"] == pytest.approx(0.7, abs=1 / 400)  # rounding of one weight in ~400
    assert torch.isfinite(net(d.x_test)).all()
    assert 0.0 <= evaluate(net, d.x_test, d.y_test)["accuracy"] <= 1.0
    cos = inverse_fisher_cosine(fl, net, d.x_train[:64], d.y_train[:64])
    assert -1.0 <= cos <= 1.0


def test_surgeon_on_conv_needs_a_fitted_q_and_matching_layers():
    net = SmallCNN(1, (2, 3), 3, seed=0)
    with pytest.raises(RuntimeError, match="not fitted"):
        FishLegSurgeon(FishLeg(net)).prune(net, 0.5)
    other = SmallCNN(1, (2, 4), 3, seed=0)
    fl = _fitted(other, torch.randn(8, 1, 8, 8), 0, steps=1)
    with pytest.raises(ValueError, match="Conv2d"):
        FishLegSurgeon(fl).prune(net, 0.5)
