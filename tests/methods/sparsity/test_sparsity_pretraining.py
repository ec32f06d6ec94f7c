"""Pre-training before IMP (blurred inputs, rotation prediction): mechanics (quick)."""
from __future__ import annotations

import pytest
import torch

from neurolatent.methods.common import MLP, evaluate, load_digits, make_teacher_classification
from neurolatent.methods.sparsity import blur_images, imp, pretrain, prunable_layers, rotation_task


@pytest.fixture(scope="module")
def small_digits():
    d = load_digits(seed=0)
    return type(d)(d.x_train[:300], d.y_train[:300], d.x_test[:100], d.y_test[:100], 10, "digits-small")


def test_blur_is_block_mean_upsampled():
    gen = torch.Generator().manual_seed(0)
    x = torch.randn(5, 64, generator=gen, dtype=torch.float64)
    b = blur_images(x, (1, 8, 8), 2)
    assert b.shape == x.shape
    # independent reference: 2x2 block means by explicit reshaping (float64; exact up to rounding)
    blocks = x.reshape(5, 4, 2, 4, 2).mean(dim=(2, 4))
    # bilinear upsampling by 2 (align_corners=False) puts output pixels 3, 4 at source coordinates
    # 1.25, 1.75: weights (3/4, 1/4) and (1/4, 3/4), so their mean is that of source blocks 1 and 2;
    # and a constant image stays constant
    const = torch.full((1, 64), 3.0, dtype=torch.float64)
    torch.testing.assert_close(blur_images(const, (1, 8, 8), 2), const)
    torch.testing.assert_close(b.reshape(5, 8, 8)[:, 3:5, 3:5].mean(dim=(1, 2)),
                               blocks[:, 1:3, 1:3].mean(dim=(1, 2)), rtol=0, atol=1e-12)  # both average the centre 4x4
    with pytest.raises(ValueError, match="divid"):
        blur_images(x, (1, 8, 8), 3)


def test_rotation_task_labels_and_exact_rotations(small_digits):
    rt = rotation_task(small_digits, (1, 8, 8))
    n = small_digits.x_train.shape[0]
    assert rt.x_train.shape == (4 * n, 64) and rt.n_classes == 4
    assert rt.y_train.tolist() == [r for r in range(4) for _ in range(n)]
    img = small_digits.x_train.reshape(n, 8, 8)
    # 90 degrees counter-clockwise: new[i, j] = old[j, 7 - i] (independent index formula)
    ref = torch.stack([img[:, j, 7 - i] for i in range(8) for j in range(8)], dim=1)
    assert torch.equal(rt.x_train[n:2 * n], ref)
    assert torch.equal(rt.x_train[:n], small_digits.x_train)
    with pytest.raises(ValueError, match="image_shape"):
        rotation_task(small_digits)


def test_pretrain_blur_and_rotation(small_digits, seed):
    make = lambda: MLP(64, (16,), 10, seed=seed)  # noqa: E731
    init = make()
    blur = pretrain(make(), small_digits, "blur", epochs=2, image_shape=(1, 8, 8), seed=seed)
    rot = pretrain(make(), small_digits, "rotation", epochs=2, image_shape=(1, 8, 8), seed=seed)
    w0 = {k: m.weight for k, m in prunable_layers(init).items()}
    read = list(w0)[-1]
    for k, m in prunable_layers(blur).items():
        assert not torch.equal(m.weight, w0[k])  # every layer trained
    for k, m in prunable_layers(rot).items():
        if k == read:  # the rotation read-out is restored to its initial values
            assert torch.equal(m.weight, w0[k])
            assert torch.equal(m.bias, prunable_layers(init)[k].bias)
        else:
            assert not torch.equal(m.weight, w0[k])
    # the input model is untouched, and IMP rewinding to k = 0 rewinds to the pre-trained weights
    for k, m in prunable_layers(make()).items():
        assert torch.equal(m.weight, w0[k])
    res = imp(blur, small_digits, rounds=1, prune_fraction=0.5, rewind_epoch=0, epochs=2, seed=seed)
    for k, v in blur.state_dict().items():
        assert torch.equal(res.rewind_state[k], v)


def test_rotation_pretraining_learns_the_auxiliary_task(small_digits):
    rt = rotation_task(small_digits, (1, 8, 8))
    net = pretrain(MLP(64, (32,), 10, seed=0), small_digits, "rotation", epochs=5, image_shape=(1, 8, 8),
                   reset_readout=False)
    # chance is 0.25 (rotation labels 0..3, read from the first 4 of 10 logits); measured 0.805 on the
    # 400 rotated held-out digits, so > 0.6 shows the auxiliary task is learned with margin
    assert evaluate(net, rt.x_test, rt.y_test)["accuracy"] > 0.6


def test_pretrain_bad_input(small_digits):
    with pytest.raises(ValueError, match="kind must be one of"):
        pretrain(MLP(64, (8,), 10), small_digits, "jigsaw", image_shape=(1, 8, 8))
    with pytest.raises(ValueError, match="image_shape=.*flat digits"):
        pretrain(MLP(64, (8,), 10), small_digits, "blur")
    with pytest.raises(ValueError, match="at least 4 output logits"):
        t = make_teacher_classification(100, 16, 3, seed=0)
        pretrain(MLP(16, (8,), 3), t, "rotation", image_shape=(1, 4, 4))
    with pytest.raises(ValueError, match="epochs must be >= 1"):
        pretrain(MLP(64, (8,), 10), small_digits, "blur", epochs=0, image_shape=(1, 8, 8))
