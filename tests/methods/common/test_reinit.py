"""Re-initialisation callbacks: exact updates, fresh draws from the initialisation law, schedules, errors."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from neurolatent.methods.common import MLP, make_teacher_classification, train
from neurolatent.methods.common.reinit import (
    LayerwiseReinit,
    ReinitLastLayers,
    ShrinkPerturb,
    network_layers,
    reinitialise,
)


@pytest.fixture(scope="module")
def data():
    return make_teacher_classification(200, 6, 3, seed=0)


def _params(net):
    return {k: v.detach().clone() for k, v in net.named_parameters()}


def test_network_layers_blocknet_and_generic():
    assert len(network_layers(MLP(4, (8, 8, 8), 3))) == 4
    seq = nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.BatchNorm1d(5), nn.Linear(5, 2))
    assert [type(m) for m in network_layers(seq)] == [nn.Linear, nn.BatchNorm1d, nn.Linear]
    with pytest.raises(ValueError, match="no parameters"):
        network_layers(nn.ReLU())


def test_shrink_perturb_is_the_affine_combination():
    net = MLP(6, (7,), 3, seed=0)
    before = _params(net)
    ShrinkPerturb(0.3, 0.0, every=1).apply(net, None, seed=0)
    for k, v in net.named_parameters():
        torch.testing.assert_close(v, 0.3 * before[k], rtol=0, atol=1e-7)  # float32 multiply, exact up to rounding
    # linearity in (shrink, perturb) with the same fresh draw: SP(l, g) = l theta + g * SP(0, 1)
    a, b = MLP(6, (7,), 3, seed=0), MLP(6, (7,), 3, seed=0)
    ShrinkPerturb(0.4, 0.25, every=1).apply(a, None, seed=5)
    ShrinkPerturb(0.0, 1.0, every=1).apply(b, None, seed=5)
    for k, v in a.named_parameters():
        torch.testing.assert_close(v, 0.4 * before[k] + 0.25 * dict(b.named_parameters())[k], rtol=0, atol=1e-6)


def test_full_reinit_draws_from_the_default_linear_law():
    # nn.Linear's default init: W ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (kaiming_uniform with a = sqrt 5)
    net = MLP(400, (300,), 3, seed=0, dtype=torch.float64)
    with torch.no_grad():
        net.blocks[0].layer.weight.fill_(7.0)
    ShrinkPerturb(0.0, 1.0, layers=[0], every=1).apply(net, None, seed=3)
    w = net.blocks[0].layer.weight.detach().numpy().ravel()
    bound = 1 / math.sqrt(400)
    assert np.abs(w).max() <= bound
    # variance of U(-a, a) is a^2/3; 120000 draws -> relative s.e. of the variance ~ sqrt(0.8/n) = 0.26%
    assert w.var() == pytest.approx(bound ** 2 / 3, rel=0.02)
    assert net.blocks[0].layer.weight.dtype == torch.float64


def test_reinit_last_layers_keeps_the_bottom_and_drops_optimizer_state(data):
    net = MLP(6, (8, 8), 3, seed=0)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    train(net, data, epochs=1, optimizer=opt)
    before = _params(net)
    assert len(opt.state) == len(before)
    ReinitLastLayers(1, every=1).apply(net, opt, seed=0)
    after = _params(net)
    for k in before:
        changed = not torch.equal(before[k], after[k])
        assert changed == k.startswith("blocks.2."), k
    kept = {id(p) for p in opt.state}
    assert all((id(p) in kept) != n.startswith("blocks.2.") for n, p in net.named_parameters())
    with pytest.raises(ValueError, match="only 3 layers"):
        ReinitLastLayers(4, every=1).apply(net, None, seed=0)


def test_reinitialise_resets_batchnorm_and_leaves_global_rng(data):
    net = MLP(6, (8,), 3, batchnorm=True, seed=0)
    train(net, data, epochs=1)
    assert not torch.allclose(net.blocks[0].norm.running_mean, torch.zeros(8))
    state = torch.random.get_rng_state()
    reinitialise(net, [0], seed=1)
    assert torch.equal(torch.random.get_rng_state(), state)
    torch.testing.assert_close(net.blocks[0].norm.running_mean, torch.zeros(8))
    torch.testing.assert_close(net.blocks[0].norm.running_var, torch.ones(8))
    # same seed, same draw; a different seed, a different one
    a, b, c = (MLP(6, (8,), 3, seed=0) for _ in range(3))
    reinitialise(a, [0], seed=2), reinitialise(b, [0], seed=2), reinitialise(c, [0], seed=3)
    assert torch.equal(a.blocks[0].layer.weight, b.blocks[0].layer.weight)
    assert not torch.equal(a.blocks[0].layer.weight, c.blocks[0].layer.weight)
    with pytest.raises(IndexError, match="outside the 2 layers"):
        reinitialise(a, [2])


def test_layerwise_stages_grow_from_the_bottom():
    net = MLP(6, (8, 8), 3, seed=0)
    cb = LayerwiseReinit(every=1)
    for stage, first_changed in ((1, 1), (2, 2)):
        before = _params(net)
        assert cb.apply(net, None, seed=stage)
        after = _params(net)
        for k in before:
            assert (not torch.equal(before[k], after[k])) == (int(k.split(".")[1]) >= first_changed), (stage, k)
    before = _params(net)
    assert cb.apply(net, None, seed=9) is False  # every layer but the read-out is kept: nothing left to do
    assert all(torch.equal(before[k], v) for k, v in _params(net).items())


def test_schedule_inside_train(data):
    sp = ShrinkPerturb(0.5, 0.1, every=2, stop=5, seed=0)
    last = ReinitLastLayers(1, every=3, start=3)
    lw = LayerwiseReinit(every=1)
    hist = train(MLP(6, (8, 8), 3, seed=0), data, epochs=7, callback=[sp, last, lw])
    assert len(hist["epoch"]) == 7  # the callbacks never stop training
    assert sp.events == [2, 4] and last.events == [3, 6] and lw.events == [1, 2]


def test_bad_arguments_name_the_input():
    with pytest.raises(ValueError, match="every"):
        ShrinkPerturb(every=0)
    with pytest.raises(ValueError, match="shrink"):
        ShrinkPerturb(1.5, every=1)
    with pytest.raises(ValueError, match="perturb"):
        ShrinkPerturb(0.5, -1, every=1)
    with pytest.raises(ValueError, match="k must"):
        ReinitLastLayers(0, every=1)
    with pytest.raises(IndexError, match="layer index 5 is outside the 2 layers"):
        ShrinkPerturb(layers=[5], every=1).apply(MLP(4, (3,), 2), None, seed=0)

    class NoReset(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(torch.ones(3))

    with pytest.raises(TypeError, match="reset_parameters"):
        reinitialise(NoReset(), [0])


# ----------------------------------------------------------------------------- claims (Zaidi et al. 2022)
def _flip(y, fraction, seed):
    """A ``fraction`` of the labels replaced by a different random class (seeded)."""
    rng = np.random.default_rng(seed)
    y = y.clone()
    m = torch.as_tensor(rng.random(len(y)) < fraction)
    y[m] = (y[m] + torch.as_tensor(rng.integers(1, 10, int(m.sum())))) % 10
    return y


def _schedule(name, epochs, seed):
    """The callback of method ``name``: a re-initialisation every sixth of the run, none in the last sixth."""
    every = max(round(epochs / 6), 1)
    if name == "sp":
        return ShrinkPerturb(0.4, 0.1, every=every, stop=epochs - every, seed=seed)
    if name == "last1":
        return ReinitLastLayers(1, every=every, stop=epochs - every, seed=seed)
    return None


@pytest.fixture(scope="module")
def noisy_and_clean_runs():
    """Final test accuracy of standard training and of shrink-and-perturb on digits, 3 seeds.

    MLP 64-128-128-10, Adam lr 3e-3, batch 128, 30 epochs; ShrinkPerturb(0.4, 0.1) every 5 epochs
    up to epoch 25. Labels clean or 40% flipped (test labels always clean). With noisy labels also
    ``last1``: ReinitLastLayers(1) on the same schedule.
    """
    from neurolatent.methods.common import load_digits

    d = load_digits(seed=0)
    out = {}
    for noise, names in ((0.0, ("std", "sp")), (0.4, ("std", "sp", "last1"))):
        for name in names:
            accs = []
            for s in range(3):
                cb = _schedule(name, 30, s)
                h = train(MLP(64, (128, 128), 10, seed=s), (d.x_train, _flip(d.y_train, noise, s)), epochs=30,
                          lr=3e-3, batch_size=128, seed=s, callback=cb, eval_data=(d.x_test, d.y_test))
                accs.append(h["eval_accuracy"][-1])
            out[noise, name] = np.array(accs)
    return out


@pytest.mark.slow
def test_shrink_perturb_helps_under_label_noise(noisy_and_clean_runs):
    std, sp = noisy_and_clean_runs[0.4, "std"], noisy_and_clean_runs[0.4, "sp"]
    # measured (seeds 0, 1, 2): std 0.795 0.822 0.837, sp 0.929 0.931 0.940 -> gains 0.09-0.13;
    # threshold 0.05 per seed, about half the smallest measured gain
    assert np.all(sp - std > 0.05), (std, sp)


@pytest.mark.slow
@pytest.mark.xfail(strict=False, reason="Zaidi et al.'s clean-label gain does not reproduce on digits at this scale: "
                   "measured std 0.980 0.978 0.982 vs shrink-perturb 0.944 0.953 0.947 (seeds 0-2); the 5 epochs "
                   "after the last shrink do not recover the full accuracy on this easy task")
def test_shrink_perturb_helps_without_noise(noisy_and_clean_runs):
    std, sp = noisy_and_clean_runs[0.0, "std"], noisy_and_clean_runs[0.0, "sp"]
    assert sp.mean() > std.mean(), (std, sp)


def _shift_augment(x, y):
    """The 8x8 digits and their four 1-pixel shifts (background-filled), stacked: 5x the data."""
    img, bg = x.reshape(-1, 8, 8), float(x.min())
    outs = [img]
    for dim, step in ((1, 1), (1, -1), (2, 1), (2, -1)):
        s = torch.roll(img, step, dims=dim)
        edge = 0 if step == 1 else -1
        if dim == 1:
            s[:, edge, :] = bg
        else:
            s[:, :, edge] = bg
        outs.append(s)
    return torch.cat(outs).reshape(-1, 64), y.repeat(5)


# weight decay of the reduced "tuned" runs: the value benchmarks/reinit.py's validation selection over
# {1e-4, 1e-3, 1e-2} (noisy held-out fifth) picks for most seeds; the test skips the selection to save ~10 s
TUNED_WD = 1e-4


@pytest.fixture(scope="module")
def noisy_tuned_runs():
    """Final test accuracy of standard training and shrink-and-perturb with weight decay + augmentation.

    Same net, optimiser, seeds, methods and 40% flipped labels as ``noisy_and_clean_runs``; the
    training set and its four 1-pixel shifts (5x the data), 10 epochs (the schedules scaled: a
    re-initialisation every 2 epochs up to epoch 8), Adam weight decay ``TUNED_WD``.
    """
    from neurolatent.methods.common import load_digits

    d = load_digits(seed=0)
    out = {"std": [], "sp": [], "last1": []}
    for s in range(3):
        x, y = _shift_augment(d.x_train, _flip(d.y_train, 0.4, s))
        for name in out:
            h = train(MLP(64, (128, 128), 10, seed=s), (x, y), epochs=10, lr=3e-3, weight_decay=TUNED_WD,
                      batch_size=128, seed=s, callback=_schedule(name, 10, s), eval_data=(d.x_test, d.y_test))
            out[name].append(h["eval_accuracy"][-1])
    return {k: np.array(v) for k, v in out.items()}


@pytest.mark.slow
def test_shrink_perturb_gain_shrinks_with_weight_decay_and_augmentation(noisy_and_clean_runs, noisy_tuned_runs):
    gain_untuned = noisy_and_clean_runs[0.4, "sp"] - noisy_and_clean_runs[0.4, "std"]
    gain_tuned = noisy_tuned_runs["sp"] - noisy_tuned_runs["std"]
    # measured (seeds 0, 1, 2): untuned gain 0.134 0.109 0.102 (std 0.795 0.822 0.837); tuned: std 0.949 0.922
    # 0.960, sp 0.935 0.918 0.958 -> gain -0.013 -0.004 -0.002, a drop of 0.147 0.114 0.105 per seed (the full
    # benchmark, with the wd selection and a held-out fifth: +0.115 -> -0.008). Margin 0.05 per seed, about
    # half the smallest measured drop: the seed-to-seed spread of a gain is ~0.02
    assert np.all(gain_tuned < gain_untuned - 0.05), (gain_untuned, gain_tuned, noisy_tuned_runs)


@pytest.mark.slow
def test_last_layer_gain_shrinks_with_weight_decay_and_augmentation(noisy_and_clean_runs, noisy_tuned_runs):
    gain_untuned = noisy_and_clean_runs[0.4, "last1"] - noisy_and_clean_runs[0.4, "std"]
    gain_tuned = noisy_tuned_runs["last1"] - noisy_tuned_runs["std"]
    # measured (seeds 0, 1, 2): untuned last1 0.924 0.920 0.889 -> gain 0.129 0.098 0.051; tuned last1 0.955
    # 0.922 0.971 -> gain 0.007 0.000 0.011, a drop of 0.122 0.098 0.040 (the full benchmark: +0.093 -> +0.015,
    # the read-out's gain shrinks but stays >= 0). Margin 0.02 per seed, half the smallest measured drop
    # (seed 2, whose untuned gain is the smallest)
    assert np.all(gain_tuned < gain_untuned - 0.02), (gain_untuned, gain_tuned, noisy_tuned_runs)
